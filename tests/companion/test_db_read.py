"""`Database.read`: a read (on the loop for a SQLite file, in one worker thread for PostgreSQL)
sees what the async sessions committed."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from companion.db import Database
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


async def test_read_of_a_database_in_memory_goes_through_the_async_session() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    try:
        async with db.session() as s:
            await s.run_sync(lambda ss: Setting.metadata.create_all(ss.connection()))
            s.add(Setting(key="yahoo_id", value="shop"))
            await s.commit()
        # a second connection to ":memory:" would be another, empty database
        got = await db.read(lambda s: [r.key for r in s.scalars(select(Setting))])
        assert got == ["yahoo_id"]
    finally:
        await db.close()
