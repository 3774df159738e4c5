"""`Database.read`: a read in one worker thread sees what the async sessions committed."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from companion.db import Database
from companion.db.models import Setting


async def test_read_runs_in_a_worker_thread_and_sees_committed_rows(database: str) -> None:
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
        assert thread != threading.main_thread().name

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
