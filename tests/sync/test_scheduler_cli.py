"""Auto-sync scheduling (interval, persisted next run, joining a running sync) and the CLI."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from companion.cli import main as cli_main
from companion.db.models import utcnow
from companion.keys import JOBS, SETTINGS
from companion.sync.service import iso, next_run, parse_iso
from tests.conftest import pair_client


async def test_next_run_follows_the_interval_setting(make_hub: Any) -> None:
    hub = await make_hub(workers=True)
    auth = {"Authorization": f"Bearer {await pair_client(hub.client)}"}
    resp = await hub.client.put(
        "/api/v1/settings", json={"sync_interval_minutes": 15}, headers=auth
    )
    assert resp.status == 200
    # stored before the answer: the popup shows the next run as soon as it says 保存しました
    sync = (await hub.status())["sync"]
    assert sync["interval_minutes"] == 15
    due = parse_iso(sync["next_run_at"])
    assert due is not None
    ahead = (due - utcnow()).total_seconds()
    assert 14 * 60 < ahead <= 15 * 60 + 60  # 15 min plus at most a minute of jitter

    await hub.client.put("/api/v1/settings", json={"sync_interval_minutes": 0}, headers=auth)
    assert (await hub.status())["sync"]["next_run_at"] is None


async def test_the_new_interval_is_stored_when_the_settings_answer(make_hub: Any) -> None:
    """No work left running after the answer: the next read sees the new plan, whatever runs
    first (the interval's reschedule used to run in the background after the answer)."""
    hub = await make_hub(workers=True)
    for minutes in (5, 0, 60, 0):
        await hub.app[SETTINGS].update({"sync_interval_minutes": minutes})
        planned = (await hub.sync.state()).get("next_run_at")
        assert (planned is not None) == bool(minutes), (minutes, planned)


async def test_a_due_sync_runs_by_itself_and_is_rescheduled(make_hub: Any) -> None:
    hub = await make_hub(workers=True)
    await hub.app[SETTINGS].update({"sync_interval_minutes": 60})
    await asyncio.sleep(0.1)
    # as if the planned time had come
    await hub.sync.update_state(next_run_at=iso(utcnow() - timedelta(seconds=1)))
    hub.sync._wake.set()
    job: dict[str, Any] | None = None
    for _ in range(300):
        jobs = await hub.app[JOBS].list(kind="sync")
        if jobs and jobs[0]["state"] not in ("queued", "running"):
            job = jobs[0]
            break
        await asyncio.sleep(0.05)
    assert job is not None and job["params"]["reason"] == "auto"
    assert job["state"] == "succeeded", job
    sync = (await hub.status())["sync"]
    assert sync["last_result"] == "succeeded"
    due = parse_iso(sync["next_run_at"])
    assert due is not None and (due - utcnow()) > timedelta(minutes=59)


async def test_sync_started_during_a_sync_joins_it(hub: Any) -> None:
    first = await hub.sync.submit("manual")
    second = await hub.sync.submit("manual")
    assert first == second
    await hub.app[JOBS].wait(first)
    third = await hub.sync.submit("manual")
    assert third != first
    await hub.app[JOBS].wait(third)


def test_next_run_is_off_at_zero() -> None:
    now = utcnow()
    assert next_run(now, 0) is None
    due = next_run(now, 5)
    assert due is not None and timedelta(minutes=5) <= due - now <= timedelta(minutes=5, seconds=15)


async def test_cli_sync_once_prints_a_summary(
    hub: Any, data_dir: Any, database: str, capsys: Any, monkeypatch: Any
) -> None:
    # a first sync in the companion takes in ReCORE's 26 CREATE tasks (the CLI paces ReCORE at
    # its real 5 rps, which would make this test slow, not better)
    await hub.run_sync()
    order = next(o for o in hub.world.orders.values() if o.store_status == "未処理")
    await hub.yahoo_post(f"/_sandbox/orders/{order.order_id}/status", {"store_status": "入金済み"})
    # the companion is closed first, so the CLI owns the database and the browser profile as a
    # real second process would; the settings are in the data dir, where the store is is given
    # on the command line (never a stored setting)
    await hub.client.close()
    monkeypatch.setenv("RECORE_CONNECTOR_DATABASE_URL", database)
    store = hub.yurl("").rstrip("/")
    code = await asyncio.to_thread(
        cli_main, ["sync", "--once", "--data-dir", str(data_dir), "--yahoo-base-url", store]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "注文一覧の読み取り" in out and "result: succeeded" in out
    assert "upserts=1 " in out
    state = await hub.recore_state()
    mine = next(o for o in state["orders"] if o["mall_order_id"] == order.order_id)
    assert mine["status"] == "UNSHIPPED"


async def test_in_the_full_app_sync_shares_the_direct_listings_browser(make_hub: Any) -> None:
    from companion.keys import STORE

    hub = await make_hub(all_features=True)
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    assert (await hub.app[STORE].browser()).logins == 1  # the one store session's
