"""The companion's aiohttp application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from companion import routes
from companion.cluster import Cluster
from companion.config import Config
from companion.db import Database
from companion.events import Events
from companion.jobs import JobRunner
from companion.keys import CLUSTER, CONFIG, DB, EVENTS, JOBS, PAIRING, SETTINGS
from companion.middlewares import MIDDLEWARES
from companion.pairing import Pairing
from companion.secretbox import SecretBox, SecretBoxError
from companion.settings import SettingsStore

log = logging.getLogger(__name__)

# Feature modules: each has `setup(app)` that adds its routes, job kinds and cleanup contexts.
FEATURES: list[str] = [
    "companion.recore.service",
    "companion.listing.batches",
    "companion.direct.service",
    "companion.sync.service",
]


async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    config.ensure_dirs()
    db = Database(config.db_url)
    await db.migrate()
    app[DB] = db
    app[SETTINGS] = SettingsStore(db, SecretBox.load(config.data_dir))
    try:
        await app[SETTINGS].redact_stored_secrets()
    except SecretBoxError as exc:
        await db.close()
        raise SecretsUnreadable(config.data_dir) from exc
    app[EVENTS] = Events(db)
    pairing = Pairing(db)
    await pairing.load()
    app[PAIRING] = pairing
    cluster = Cluster(db, campaign=config.workers)
    await cluster.start()
    cluster.share_settings(app[SETTINGS])
    app[CLUSTER] = cluster
    app[JOBS] = JobRunner(db, cluster)
    yield
    await cluster.close()
    await db.close()


async def jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    # after every feature registered its job kinds and its leadership callbacks (their setup ran
    # before startup): jobs left behind are recovered, then this companion may lead
    await app[JOBS].recover()
    await app[CLUSTER].start_campaign()
    yield
    await app[CLUSTER].resign()
    await app[JOBS].close()


class SecretsUnreadable(Exception):
    """The stored secrets were encrypted with another key: on a database shared by several PCs,
    every PC needs the first one's `secret.key`."""

    def __init__(self, data_dir: object) -> None:
        self.ja = (
            "データベースに保存されたパスワードなどを、このPCの鍵で読めません。"
            "複数のPCで1つのデータベースを使う場合は、最初のPCのデータフォルダーにある secret.key を、"
            f"このPCのデータフォルダー（{data_dir}）にコピーしてから起動してください。"
        )
        self.en = (
            "the secrets in the database were encrypted with another key: copy secret.key from "
            f"the first PC's data dir into {data_dir} (docs/operations.md, several PCs)"
        )
        super().__init__(self.en)


def create_app(
    config: Config, *, features: list[Callable[[web.Application], None]] | None = None
) -> web.Application:
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=2 * 1024 * 1024)
    app[CONFIG] = config
    app.cleanup_ctx.append(storage_ctx)
    app.add_routes(routes.routes)
    for setup in features if features is not None else _default_features():
        setup(app)
    app.cleanup_ctx.append(jobs_ctx)
    return app


def _default_features() -> list[Callable[[web.Application], None]]:
    import importlib

    return [importlib.import_module(name).setup for name in FEATURES]
