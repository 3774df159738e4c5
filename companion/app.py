"""The companion's aiohttp application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from companion import routes
from companion.config import Config
from companion.db import Database
from companion.events import Events
from companion.jobs import JobRunner
from companion.keys import CONFIG, DB, EVENTS, JOBS, PAIRING, SETTINGS, STORE, TABLES
from companion.middlewares import MIDDLEWARES
from companion.pairing import Pairing
from companion.secretbox import SecretBox
from companion.settings import SettingsStore
from companion.store_session import STORE_OPTIONS, StoreSession
from companion.tables import TablesStore

log = logging.getLogger(__name__)

# Feature modules: each has `setup(app)` that adds its routes, job kinds and cleanup contexts.
FEATURES: list[str] = [
    "companion.tables",
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
    await app[SETTINGS].redact_stored_secrets()
    app[TABLES] = TablesStore(db)
    app[EVENTS] = Events(db)
    pairing = Pairing(db)
    await pairing.load()
    app[PAIRING] = pairing
    app[JOBS] = JobRunner(db)
    store = StoreSession(config, app[SETTINGS], app.get(STORE_OPTIONS))
    await store.start()
    app[STORE] = store
    yield
    await store.close()
    await db.close()


async def jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    # after every feature registered its job kinds (their setup ran before startup)
    await app[JOBS].recover()
    yield
    await app[JOBS].close()


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
