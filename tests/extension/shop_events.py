"""Things that happen in a shop, written into a running companion's database by the companion's
own code, from another process (the extension tests drive Chromium with Playwright's sync API and
cannot run an event loop of their own): `python -m tests.extension.shop_events DATA_DIR WHAT`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from companion.db import Database, sqlite_url
from companion.jobs import JobRunner
from tests.alerts.conftest import a_sale, block_an_early_end, pause_a_job


class _App(dict):  # what the helpers read: app[DB], app[JOBS]
    pass


async def main(data_dir: Path, what: list[str]) -> None:
    from companion.keys import DB, JOBS

    db = Database(sqlite_url(data_dir / "companion.sqlite3"))
    app = _App()
    app[DB] = db
    app[JOBS] = JobRunner(db)
    try:
        for step in what:
            kind, _, arg = step.partition("=")
            if kind == "pause":
                await pause_a_job(app)  # type: ignore[arg-type]
            elif kind == "blocked":
                listing_id, number, auction = arg.split(",")
                await block_an_early_end(app, int(listing_id), number, auction)  # type: ignore[arg-type]
            elif kind == "sale":
                order, number, auction = arg.split(",")
                await a_sale(app, order, number, auction, "保留中")  # type: ignore[arg-type]
            else:
                raise SystemExit(f"unknown step {step}")
    finally:
        await app[JOBS].close()
        await db.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2:]))
