"""Database: async engine, sessions, migrations at start."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from companion.db import sqlite
from companion.db.location import NetworkShareRefused, network_share
from companion.db.sqlite import sqlite_file
from companion.logs import redact, scrub

T = TypeVar("T")

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# On a shared database (PostgreSQL) the other PCs' commits are not seen as they happen: a cached
# read (`Database.read_cached`) is taken again at least this often
OTHER_PCS_SECONDS = 2.0
_connection_numbers = itertools.count(1)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


# Drivers: aiosqlite for SQLite; for PostgreSQL asyncpg in the event loop (it runs on Windows'
# default Proactor loop, which Playwright needs and psycopg's async mode cannot use) and psycopg 3
# for the synchronous side (Alembic, the worker-thread reads of `Database.read`).
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _with_driver(url: str, drivers: dict[str, str]) -> URL:
    u = make_url(url.replace("postgres://", "postgresql://", 1))
    u = u.set(drivername=drivers.get(u.get_backend_name(), u.drivername))
    if u.get_backend_name() == "postgresql":
        # the TLS switch is `sslmode` for libpq (psycopg) and `ssl` for asyncpg: accept either
        query = dict(u.query)
        mode = query.pop("sslmode", None) or query.pop("ssl", None)
        if mode is not None:
            query["ssl" if u.drivername.endswith("asyncpg") else "sslmode"] = mode
        u = u.set(query=query)
    return u


def async_url(url: str) -> str:
    """The URL the companion's async engine uses (`postgresql://…` → asyncpg)."""
    return _with_driver(url, ASYNC_DRIVERS).render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same database through a synchronous driver, for Alembic and worker-thread reads."""
    return _with_driver(url, SYNC_DRIVERS).render_as_string(hide_password=False)


def backend(url: str) -> str:
    """`sqlite` or `postgresql`."""
    return make_url(url.replace("postgres://", "postgresql://", 1)).get_backend_name()


class DatabaseUnreachable(Exception):
    """The shared PostgreSQL database does not answer (at start); `ja` for staff, `en` for logs."""

    def __init__(self, url: str, error: BaseException) -> None:
        u = make_url(url)
        where = f"{u.username or ''}@{u.host or u.query.get('host') or 'localhost'}/{u.database}"
        reason = scrub((str(error).strip().splitlines() or [type(error).__name__])[-1])
        self.ja = (
            f"データベース（PostgreSQL: {where}）に接続できないため、起動しません。"
            "サーバーが動いているか、ネットワーク、RECORE_CONNECTOR_DATABASE_URL とパスワード"
            "（~/.pgpass）を確認してください。"
        )
        self.en = f"cannot connect to the PostgreSQL database {where}: {reason}"
        super().__init__(self.en)


def refuse_network_share(url: str) -> None:
    """A SQLite file on a network share is refused (`NetworkShareRefused`): see `location`."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return
    what = network_share(u.database)
    if what is not None:
        raise NetworkShareRefused(u.database, what)


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["sqlalchemy_url"] = sync_url(url)
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema to the newest revision (blocking; call in a thread).

    A SQLite file on a network share is refused (`NetworkShareRefused`); a PostgreSQL server that
    does not answer raises `DatabaseUnreachable`. SQLite DDL is not transactional: two processes migrating a new file at once would collide,
    so they take turns on a lock file beside the database. A SQLite file is checked first (a
    damaged one raises `DatabaseDamaged`: never start over silently), and copied before a
    migration changes it.
    """
    refuse_network_share(url)
    path = sqlite_file(url)
    if path is None:
        # a shared database (PostgreSQL): its server keeps it whole and backed up, not us
        try:
            command.upgrade(alembic_config(url), "head")
        except (OperationalError, OSError) as exc:
            raise DatabaseUnreachable(url, exc) from exc
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
    """The async engine and a session factory; SQLite gets WAL and a busy timeout.

    `url` may name SQLite (the default, one PC) or PostgreSQL (`postgresql://…`, several PCs
    sharing one database); either is normalised to its async driver.
    """

    def __init__(self, url: str) -> None:
        refuse_network_share(url)
        self.url = async_url(url)
        self.backend = backend(url)
        redact(make_url(self.url).password)  # a password in the URL never reaches a log line
        self.engine: AsyncEngine = create_async_engine(self.url, **self._engine_args())
        if self.backend == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader: Engine | None = None
        self._read_pool: ThreadPoolExecutor | None = None
        self._commits = 0  # this process's commits (PostgreSQL's change mark)
        self._cached: dict[Callable[[Session], object], tuple[Hashable, object]] = {}
        if self.backend == "postgresql":
            event.listen(self.engine.sync_engine, "commit", self._committed)
        u = make_url(self.url)
        # a database the sync driver cannot share (SQLite in memory) is read the async way
        self._reads_in_thread = self.backend == "postgresql" or (
            bool(u.database) and u.database != ":memory:"
        )

    @property
    def shared(self) -> bool:
        """Several companions (PCs) may use this database at once."""
        return self.backend == "postgresql"

    def _engine_args(self) -> dict[str, object]:
        if self.backend == "sqlite":
            return {"connect_args": {"timeout": 30}}
        # a server restart or a dropped link: a dead pooled connection is replaced, not used
        return {"pool_pre_ping": True}

    async def migrate(self) -> None:
        await asyncio.to_thread(upgrade, self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run `fn` with a synchronous, read-only session: on a SQLite file right here, on
        PostgreSQL in one worker thread.

        Through the async driver every statement (and begin, fetch, close) is a hop between the
        event loop and the driver's thread, so a read of several statements waits behind whatever
        else the loop is doing, once per hop. A snapshot read that is polled while a job runs
        (`GET /status`) takes no hop on SQLite: its few statements on a local file cost about a
        millisecond, less than waking another thread and the loop again on a loaded two-core PC
        (p99 9 ms here against 112 ms through a thread), and the loop itself is free for it since
        the store's browser has its own (`companion.browser_loop`). SQLite in WAL mode lets it
        read beside the writers without waiting. PostgreSQL answers over the network, so its
        reads take one hop to a worker thread. A database the sync driver cannot share (SQLite
        in memory) goes the async way.
        """
        if not self._reads_in_thread:
            async with self.session() as s:
                return await s.run_sync(fn)
        if self._reader is None:
            if self.backend == "sqlite":
                self._reader = create_engine(sync_url(self.url), connect_args={"timeout": 30})
                event.listen(self._reader, "connect", _sqlite_pragmas)
            else:
                self._reader = create_engine(
                    sync_url(self.url), pool_size=2, max_overflow=0, pool_pre_ping=True
                )
                self._read_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="db-read")
        reader = self._reader

        def run() -> T:
            with Session(reader) as s:
                return fn(s)

        if self._read_pool is None:
            return run()
        return await asyncio.get_running_loop().run_in_executor(self._read_pool, run)

    async def read_cached(self, fn: Callable[[Session], T]) -> T:
        """`read(fn)`, or `fn`'s last result while nothing was committed since it was read.

        For what is polled far more often than the database changes (`GET /status`): an idle
        companion answers from memory. Committed means by any connection: SQLite tells it
        (`PRAGMA data_version`, one cheap statement), so another process's writes count too; on
        PostgreSQL this process counts its own commits, and other PCs' are seen within
        `OTHER_PCS_SECONDS`. The result is shared between callers: never change it.
        """

        def cached(s: Session) -> T:
            mark = self._change_mark(s)
            last = self._cached.get(fn)
            if mark is not None and last is not None and last[0] == mark:
                return cast(T, last[1])
            value = fn(s)
            if mark is not None:
                self._cached[fn] = (mark, value)
            return value

        return await self.read(cached)

    def _committed(self, _connection: object) -> None:
        self._commits += 1

    def _change_mark(self, s: Session) -> Hashable | None:
        """A value that differs after any commit since it was last taken; None: cannot tell."""
        if self.backend == "postgresql":
            return (self._commits, int(time.monotonic() // OTHER_PCS_SECONDS))
        if not self._reads_in_thread:
            return None  # SQLite in memory: the reads share the writers' connection
        connection = s.connection()
        # data_version counts other connections' commits, per connection: which one asked
        record = connection.connection  # the pool's record, kept with the DBAPI connection
        number = record.info.setdefault("change_mark", next(_connection_numbers))
        return (number, connection.exec_driver_sql("PRAGMA data_version").scalar())

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
