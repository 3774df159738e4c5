"""`Database.read`: a read (on the loop for a SQLite file, in one worker thread for PostgreSQL)
sees what the async sessions committed; `Database.read_cached` too, from memory in between."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from companion.db import OTHER_PCS_SECONDS, Database
from companion.db.models import Setting


async def test_read_sees_committed_rows_and_runs_where_it_costs_least(database: str) -> None:
    db = Database(database)
    await db.migrate()
    try:
        async with db.session() as s, s.begin():
            s.add(Setting(key="sync_interval_minutes", value=15))

        def read(s: Session) -> tuple[dict[str, object], str]:
            rows = {r.key: r.value for r in s.scalars(select(Setting))}
            return rows, threading.current_thread().name

        rows, thread = await db.read(read)
        assert rows == {"sync_interval_minutes": 15}
        # SQLite's file is read right on the loop; PostgreSQL's network round trips in a thread
        on_loop = thread == threading.current_thread().name
        assert on_loop is (db.backend == "sqlite")

        # a write after the first read is seen by the next one (no stale snapshot kept)
        async with db.session() as s, s.begin():
            (await s.get(Setting, "sync_interval_minutes")).value = 30  # type: ignore[union-attr]
        rows, _ = await db.read(read)
        assert rows == {"sync_interval_minutes": 30}
    finally:
        await db.close()


@asynccontextmanager
async def database_in_memory() -> AsyncIterator[Database]:
    """SQLite in memory, with the tables, on its one connection."""
    db = Database("sqlite+aiosqlite:///:memory:")
    try:
        async with db.session() as s:
            await s.run_sync(lambda ss: Setting.metadata.create_all(ss.connection()))
        yield db
    finally:
        await db.close()


def setting_keys(s: Session) -> list[str]:
    return [r.key for r in s.scalars(select(Setting))]


async def test_read_of_a_database_in_memory_goes_through_the_async_session() -> None:
    async with database_in_memory() as db:
        async with db.session() as s, s.begin():
            s.add(Setting(key="yahoo_id", value="shop"))
        # a second connection to ":memory:" would be another, empty database
        assert await db.read(setting_keys) == ["yahoo_id"]


async def test_a_cached_read_is_taken_again_after_any_commit_from_anywhere(database: str) -> None:
    """`read_cached` answers from memory while nothing was committed, and reads again after a
    commit by this process or by another one (another PC on PostgreSQL, a command on SQLite)."""
    db, other = Database(database), Database(database)
    await db.migrate()
    calls: list[int] = []

    def interval(s: Session) -> object:
        calls.append(1)
        row = s.get(Setting, "sync_interval_minutes")
        return None if row is None else row.value

    async def set_interval(through: Database, value: int) -> None:
        async with through.session() as s, s.begin():
            await s.merge(Setting(key="sync_interval_minutes", value=value))

    try:
        assert await db.read_cached(interval) is None
        assert await db.read_cached(interval) is None
        assert len(calls) == 1  # nothing committed: answered from memory

        await set_interval(db, 15)
        assert await db.read_cached(interval) == 15
        assert len(calls) == 2

        await set_interval(other, 30)  # another connection, as another process or PC would
        if db.backend == "sqlite":  # SQLite tells at once
            assert await db.read_cached(interval) == 30
            assert len(calls) == 3
        else:  # PostgreSQL: other PCs' commits are seen within OTHER_PCS_SECONDS
            async with asyncio.timeout(3 * OTHER_PCS_SECONDS):
                while await db.read_cached(interval) != 30:  # noqa: ASYNC110 - another PC
                    await asyncio.sleep(0.1)
    finally:
        await other.close()
        await db.close()


async def test_a_cached_read_of_a_database_in_memory_is_always_taken_again() -> None:
    async with database_in_memory() as db:
        assert await db.read_cached(setting_keys) == []
        async with db.session() as s, s.begin():
            s.add(Setting(key="yahoo_id", value="shop"))
        # one connection for reads and writes: SQLite cannot tell it of its own commits
        assert await db.read_cached(setting_keys) == ["yahoo_id"]
