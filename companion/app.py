"""The companion's aiohttp application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from companion import routes
from companion.cluster import Cluster
from companion.config import Config
from companion.db import Database, sqlite
from companion.db.sqlite import sqlite_file
from companion.events import Events
from companion.jobs import JobRunner
from companion.keys import CLUSTER, CONFIG, DB, DISK, EVENTS, JOBS, PAIRING, SETTINGS, STORE, TABLES
from companion.middlewares import EXTENSION_SCHEME, MIDDLEWARES, error_response, host_middleware
from companion.pairing import Pairing
from companion.resources import DiskGuard, resume_when_resources_return
from companion.secretbox import SecretBox, SecretBoxError
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
    "companion.confirmations",  # after the outbox, direct listing and sync: it holds their writes
    "companion.history",  # before alerts: the alert queue listens to the history recorder
    "companion.alerts.service",
    "companion.diagnose.service",  # 「接続診断」 (read only)
    "companion.support_bundle",
]


async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    config.ensure_dirs()
    disk = DiskGuard(
        config.data_dir,
        reserve_bytes=config.disk_reserve_bytes,
        min_free_bytes=config.min_free_bytes,
        also=database.parent if (database := sqlite_file(config.db_url)) else None,
    )
    app[DISK] = disk
    db = Database(config.db_url)
    await db.migrate()  # a damaged SQLite file raises DatabaseDamaged here: nothing starts over
    await asyncio.to_thread(disk.ensure_reserve)
    app[DB] = db
    box = SecretBox.load(config.data_dir)
    app[SETTINGS] = SettingsStore(db, box, yahoo_base_url=config.yahoo_base_url)
    try:
        await app[SETTINGS].prepare_stored_secrets()
    except SecretBoxError as exc:
        await db.close()
        raise SecretsUnreadable(config.data_dir) from exc
    copies = None
    if (database := sqlite_file(config.db_url)) is not None:
        copies = asyncio.create_task(keep_daily_copies(database), name="daily-copy")
    app[TABLES] = TablesStore(db)
    app[EVENTS] = Events(db)
    pairing = Pairing(db, box)
    await pairing.load()
    app[PAIRING] = pairing
    cluster = Cluster(db, campaign=config.workers)
    await cluster.start()
    cluster.share_settings(app[SETTINGS])
    app[CLUSTER] = cluster
    app[JOBS] = JobRunner(db, config.run_dir, cluster=cluster, on_local_problem=disk.problem_seen)
    store = StoreSession(config, app[SETTINGS], app.get(STORE_OPTIONS))
    await store.start()
    if store.shop_facts is not None and store.shop_facts.state == "refused":
        # staff see it among the last errors (popup), IT in the log and in the diagnosis
        await app[EVENTS].error(
            "facts", store.shop_facts.message_ja, f"facts file refused: {store.shop_facts.reason}"
        )
    app[STORE] = store
    yield
    await store.close()
    await cluster.close()
    if copies is not None:
        copies.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await copies
    await db.close()


async def keep_daily_copies(database: Path) -> None:
    """A copy of the database a day (a few kept, see companion.db.sqlite), the first at start."""
    while True:
        try:
            if await asyncio.to_thread(sqlite.daily_backup_due, database):
                copy = await asyncio.to_thread(sqlite.backup, database, "daily")
                log.info("daily copy of the database: %s", copy)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a full disk, say: tried again at the next round
            log.warning("daily copy of the database failed: %s", exc)
        await asyncio.sleep(3600)


async def jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    # after every feature registered its job kinds and its leadership callbacks (their setup ran
    # before startup): jobs left behind are recovered, then this companion may lead
    jobs = app[JOBS]
    await jobs.recover()
    watcher = None
    if app[CONFIG].workers:
        watcher = asyncio.create_task(
            resume_when_resources_return(jobs, app[DISK], app[CONFIG].resource_check_seconds),
            name="resource-watch",
        )
    await app[CLUSTER].start_campaign()
    yield
    await app[CLUSTER].resign()
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    await jobs.close()


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


def create_damaged_app(config: Config, damaged: sqlite.DatabaseDamaged) -> web.Application:
    """What `serve` runs when the database is damaged: every request gets the Japanese message
    that says what happened, what was kept and how to restore (the popup shows it), instead of
    an exit that a restart-on-failure service would repeat for ever. Once the file is sound again
    (`recore-connector restore`), the process starts itself over as the real companion."""

    async def answer(request: web.Request) -> web.StreamResponse:
        # no CORS here: the extension's worker may call 127.0.0.1 (host permission), a page not
        origin = request.headers.get("Origin")
        if origin is not None and not origin.startswith(EXTENSION_SCHEME):
            return error_response(
                403, "ORIGIN_NOT_ALLOWED", "この接続元からは利用できません", "Origin not allowed"
            )
        return error_response(503, "DATABASE_DAMAGED", damaged.message, damaged.message_en)

    app = web.Application(middlewares=[host_middleware])
    app.router.add_route("*", "/{tail:.*}", answer)  # every path, /health included

    async def watch(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_restart_when_sound(damaged.damage.path))
        yield
        task.cancel()

    app.cleanup_ctx.append(watch)
    return app


def _sound(database: Path) -> bool:
    return database.exists() and sqlite.check(database) is None


async def _restart_when_sound(database: Path) -> None:
    while True:
        await asyncio.sleep(2)
        if await asyncio.to_thread(_sound, database):
            log.warning("the database is sound again: starting the companion over")
            logging.shutdown()
            # the same command line; the listening socket closes with this process image
            os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606
