"""Database: async engine, sessions, migrations at start."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from companion.db import sqlite
from companion.db.sqlite import sqlite_file

T = TypeVar("T")

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def sync_url(url: str) -> str:
    """The same database through a synchronous driver, for Alembic."""
    u = make_url(url)
    driver = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql+psycopg"}
    return u.set(drivername=driver.get(u.drivername, u.drivername)).render_as_string(
        hide_password=False
    )


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["sqlalchemy_url"] = sync_url(url)
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema to the newest revision (blocking; call in a thread).

    SQLite DDL is not transactional: two processes migrating a new file at once would collide,
    so they take turns on a lock file beside the database. A SQLite file is checked first (a
    damaged one raises `DatabaseDamaged`: never start over silently), and copied before a
    migration changes it.
    """
    path = sqlite_file(url)
    if path is None:
        command.upgrade(alembic_config(url), "head")
        return
    damage = sqlite.check(path)
    if damage is not None:
        raise sqlite.DatabaseDamaged(damage, sqlite.list_backups(sqlite.backups_dir(path)))
    lock_path = path.with_suffix(".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        _lock_file(lock)
        config = alembic_config(url)
        current = sqlite.current_revision(path)
        if (
            current is not None
            and current != ScriptDirectory.from_config(config).get_current_head()
        ):
            copy = sqlite.backup(path, "before-migration")
            log.info("database copied before migrating from %s: %s", current, copy)
        command.upgrade(config, "head")


def _lock_file(handle) -> None:  # type: ignore[no-untyped-def]
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file is closed


class Database:
    """The async engine and a session factory; SQLite gets WAL and a busy timeout."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url, connect_args=self._connect_args(url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader: Engine | None = None
        self._read_pool: ThreadPoolExecutor | None = None
        u = make_url(url)
        # a database the sync driver cannot share (in memory, or not SQLite) is read the async way
        self._reads_in_thread = (
            u.get_backend_name() == "sqlite" and bool(u.database) and u.database != ":memory:"
        )

    @staticmethod
    def _connect_args(url: str) -> dict[str, object]:
        return {"timeout": 30} if url.startswith("sqlite") else {}

    async def migrate(self) -> None:
        await asyncio.to_thread(upgrade, self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run `fn` with a synchronous, read-only session in one worker thread.

        Through the async driver every statement (and begin, fetch, close) is a hop between the
        event loop and the driver's thread, so a read of several statements waits behind whatever
        else the loop is doing, once per hop. A snapshot read that is polled while a job runs
        (`GET /status`) takes one hop this way. SQLite in WAL mode lets it read beside the
        writers; a database the sync driver cannot share (in memory) goes the async way.
        """
        if not self._reads_in_thread:
            async with self.session() as s:
                return await s.run_sync(fn)
        if self._reader is None:
            self._reader = create_engine(sync_url(self.url), connect_args={"timeout": 30})
            event.listen(self._reader, "connect", _sqlite_pragmas)
            self._read_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="db-read")
        reader = self._reader

        def run() -> T:
            with Session(reader) as s:
                return fn(s)

        return await asyncio.get_running_loop().run_in_executor(self._read_pool, run)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()
            self._reader = None
        if self._read_pool is not None:
            self._read_pool.shutdown(wait=False)
            self._read_pool = None


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets `recore-connector pair` write while `serve` reads; FKs are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
