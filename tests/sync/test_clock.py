"""The shop PC's clock set back and forward by days while the companion runs (and while it is
stopped). The companion is a real subprocess whose clock is moved by libfaketime (only its wall
clock: the monotonic clock goes on, as on a real PC); both sandboxes keep the true time.

Results bound for ReCORE are delivered within their normal backoff, and the auto-sync plan stays
within one interval of the PC's clock: a step back never leaves them days away, a step forward
runs an overdue sync once, not a storm.
"""

from __future__ import annotations

import glob
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from companion.demo import sandbox_settings
from companion.sync.service import parse_iso
from tests.companion_process import CompanionProcess, until
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INTERVAL = 5  # minutes, the shortest auto-sync interval
LIBFAKETIME = sorted(
    glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    + glob.glob("/usr/lib/faketime/libfaketime.so.1")
)


class Clock:
    """The companion's wall clock, as an offset from the true time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.days = 0
        self.set(0)

    def set(self, days: int) -> None:
        self.days = days
        self.path.write_text(f"{days:+d}d\n")

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(days=self.days)


async def test_clock_steps_neither_stall_nor_storm(
    yahoo_server: TestServer, recore_server: TestServer, tmp_path: Path
) -> None:
    if not LIBFAKETIME:
        pytest.skip("libfaketime is not installed (Debian: apt-get install libfaketime)")
    clock = Clock(tmp_path / "clock")
    yurl = str(yahoo_server.make_url("")).rstrip("/")
    comp = CompanionProcess(
        tmp_path / "companion",
        free_port(),
        tmp_path / "companion.log",
        yurl,
        env={
            "LD_PRELOAD": LIBFAKETIME[0],
            "FAKETIME_TIMESTAMP_FILE": str(clock.path),
            "FAKETIME_CACHE_DURATION": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        },
        # the companion's own clock only: Chromium (started by it) keeps the real one
        prelude="import os; os.environ.pop('LD_PRELOAD', None)",
    )
    rurl = str(recore_server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:

        async def api(method: str, path: str, body: Any = None) -> tuple[int, Any, Any]:
            async with http.request(
                method, f"{comp.base}/api/v1{path}", json=body, headers=auth
            ) as resp:
                return resp.status, await resp.json(), resp.headers

        async def status() -> dict[str, Any]:
            code, body, _ = await api("GET", "/status")
            assert code == 200, body
            return body

        async def companion_clock_is(days: int) -> bool:
            _, _, headers = await api("GET", "/status")
            moved = parsedate_to_datetime(headers["Date"]) - datetime.now(UTC)
            return abs(moved - timedelta(days=days)) < timedelta(minutes=1)

        async def recore(path: str, body: dict[str, Any]) -> Any:
            async with http.post(f"{rurl}{path}", json=body) as resp:
                assert resp.status < 300, await resp.text()
                return await resp.json()

        def planned_within_an_interval(sync: dict[str, Any]) -> bool:
            due = parse_iso(sync["next_run_at"])
            ahead = None if due is None else (due - clock.now()).total_seconds()
            return ahead is not None and -60 < ahead <= INTERVAL * 60 + 90

        comp.start()
        try:
            await comp.ready(http)
            auth = await comp.pair(http)
            # an item ReCORE must hear is refused (its buyout price is below its start price)
            bad = {"start_price": 1000, "buyout_price": 500}
            created = await recore(
                "/_sandbox/listings",
                {"items": [{"mall_attributes": bad, "image_count": 1, "image_kb": 8}]},
            )
            bad_id = created["listings"][0]["id"]
            settings = sandbox_settings(recore_server.app, yahoo_server.app, rurl)
            code, body, _ = await api(
                "PUT", "/settings", settings | {"sync_interval_minutes": INTERVAL}
            )
            assert code == 200, body

            async def pending() -> bool:
                return bad_id in {i["id"] for i in (await api("GET", "/pending"))[1]["items"]}

            await until(pending, 90)

            # ReCORE fails every request: the reports of the rejected items wait in the outbox
            await recore("/_sandbox/faults", {"error_5xx": 100_000})
            code, batch, _ = await api("POST", "/batches", {"source": "pending"})
            assert code == 201 and batch["errors"], batch

            async def tried() -> bool:
                outbox = (await status())["outbox"]
                return outbox["pending"] > 0 and outbox["max_attempts"] >= 1

            await until(tried, 30)

            # the clock goes back three days while they wait; ReCORE comes back
            clock.set(-3)
            await until(lambda: companion_clock_is(-3), 10)  # libfaketime reads it each second
            await recore("/_sandbox/faults", {"reset": True})

            async def delivered() -> bool:
                return (await status())["outbox"]["pending"] == 0

            await until(delivered, 90)  # the backoff is seconds; without a cap, three days

            # the auto-sync shown follows the PC's clock (the wait itself is on the monotonic one)
            async def plan_follows() -> bool:
                return planned_within_an_interval((await status())["sync"])

            await until(plan_follows, 40)

            # set back again while stopped: the plan kept on disk is re-made at the start
            comp.stop()
            clock.set(-6)
            comp.start()
            await comp.ready(http)
            await until(plan_follows, 20)

            # set forward six days while stopped: the overdue auto-sync runs once, at once
            comp.stop()
            clock.set(0)
            comp.start()
            await comp.ready(http)

            async def auto_syncs_done() -> list[dict[str, Any]]:
                jobs = (await api("GET", "/jobs?kind=sync&limit=100"))[1]["jobs"]
                autos = [j for j in jobs if j["params"].get("reason") == "auto"]
                return [j for j in autos if j["state"] not in ("queued", "running")]

            done = await until(auto_syncs_done, 120)
            assert len(done) == 1, done
            assert done[0]["state"] == "succeeded", done
            await until(plan_follows, 20)
            assert len(await auto_syncs_done()) == 1  # no storm of catch-up runs
        finally:
            comp.stop()
