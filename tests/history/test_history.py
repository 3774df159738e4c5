"""履歴: a day of demo work, exported to CSV and read back row by row; filters; pruning; the
Chrome notifications' feed."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from companion.db.models import EventLog, HistoryEntry, Job, OutboxMessage, utcnow
from companion.history import CSV_HEADER, local_zone
from companion.keys import DB, HISTORY
from tests.alerts.conftest import a_sale, block_an_early_end, pause_a_job
from tests.conftest import pair_client
from tests.sync.conftest import Hub
from tests.sync.helpers import list_on_yahoo, listing, waiting_listing_ids


async def get_json(client: Any, path: str, auth: dict[str, str], status: int = 200) -> Any:
    resp = await client.get(path, headers=auth)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_a_day_of_demo_work_exported_to_csv_reads_back_row_by_row(
    history_hub: Hub,
) -> None:
    hub = history_hub
    auth = {"Authorization": f"Bearer {await pair_client(hub.client)}"}
    await hub.run_sync()
    first, second = (await waiting_listing_ids(hub))[:2]
    await list_on_yahoo(hub, first)
    await list_on_yahoo(hub, second)
    await hub.run_sync()
    won, kept = await listing(hub, first), await listing(hub, second)
    # one is won and paid; the other has a bid and sells over the counter (cannot be ended)
    await hub.yahoo_post("/_sandbox/bid", {"auction_id": kept.auction_id})
    await hub.yahoo_post("/_sandbox/bid", {"auction_id": won.auction_id, "bidder": "bidder_7"})
    ended = await hub.yahoo_post("/_sandbox/end", {"auction_id": won.auction_id})
    order_id = ended["order"]["order_id"]
    await hub.recore_post(f"/_sandbox/listings/{second}/sell-in-store")
    await hub.run_sync()
    await hub.yahoo_post(f"/_sandbox/orders/{order_id}/status", {"store_status": "入金済み"})
    await hub.run_sync()

    data = await get_json(hub.client, "/api/v1/history?limit=500", auth)
    entries = data["entries"]
    assert data["total"] == len(entries) > 10

    def of(number: str, kind: str) -> dict[str, Any]:
        return next(e for e in entries if e["management_number"] == number and e["kind"] == kind)

    listed = of(won.management_number, "listed")
    assert listed["auction_id"] == won.auction_id
    assert (
        listed["recore"]["state"] == "delivered" and listed["recore"]["state_label"] == "受付済み"
    )
    assert of(won.management_number, "won")["data"]["order_id"] == order_id
    paid = of(won.management_number, "paid")
    assert "入金されました" in paid["message"] and paid["recore"]["state"] == "delivered"
    blocked = of(kept.management_number, "early_end_blocked")
    assert "入札があるため" in blocked["message"] and blocked["auction_id"] == kept.auction_id
    assert blocked["recore"]["operation_label"] == "タスク失敗の報告"
    assert sum(1 for e in entries if e["kind"] == "job_done") == 4  # the four syncs

    # 「CSVで保存」: UTF-8 with BOM (Excel opens it as Japanese), one row per entry, oldest first
    resp = await hub.client.get("/api/v1/history?format=csv", headers=auth)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="recore_history_' in resp.headers["Content-Disposition"]
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == CSV_HEADER
    assert len(rows) == len(entries) + 1
    zone = local_zone()
    for row, entry in zip(rows[1:], reversed(entries), strict=True):
        at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).astimezone(zone)
        recore = entry["recore"] or {}
        assert row == [
            at.strftime("%Y-%m-%d %H:%M:%S"),
            entry["kind_label"],
            entry["result_label"],
            entry["management_number"] or "",
            entry["auction_id"] or "",
            entry["message"],
            recore.get("operation_label") or "",
            recore.get("state_label") or "",
            recore.get("error") or "",
        ]
    assert [won.management_number, won.auction_id] in [r[3:5] for r in rows if r[1] == "落札"]

    # filters: 管理番号, kind, result, dates (the shop's own days)
    mine = await get_json(
        hub.client, f"/api/v1/history?management_number={won.management_number}", auth
    )
    assert {e["kind"] for e in mine["entries"]} >= {"listed", "won", "paid"}
    assert all(e["management_number"] == won.management_number for e in mine["entries"])
    sales = await get_json(hub.client, "/api/v1/history?kind=won,paid&limit=500", auth)
    assert sales["entries"] and {e["kind"] for e in sales["entries"]} <= {"won", "paid"}
    warnings = await get_json(hub.client, "/api/v1/history?result=warning", auth)
    assert blocked["id"] in [e["id"] for e in warnings["entries"]]
    today = datetime.now(zone).date()
    same_day = await get_json(hub.client, f"/api/v1/history?from={today}&to={today}", auth)
    assert same_day["total"] == data["total"]
    before = await get_json(hub.client, f"/api/v1/history?to={today - timedelta(days=1)}", auth)
    assert before["total"] == 0
    resp = await hub.client.get(
        f"/api/v1/history?format=csv&management_number={kept.management_number}", headers=auth
    )
    kept_rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))[1:]
    assert kept_rows and all(r[3] == kept.management_number for r in kept_rows)


async def test_bad_filters_are_a_400_naming_the_field(companion: Any, auth: dict[str, str]) -> None:
    for path in ("/api/v1/history", "/api/v1/history?format=csv", "/api/v1/notifications"):
        assert (await companion.get(path)).status == 401  # the token, as everywhere
    body = await get_json(
        companion, "/api/v1/history?from=2026-13-01&kind=sold&result=maybe", auth, 400
    )
    fields = body["error"]["fields"]
    assert "開始日は 2026-11-24 の形で" in fields["from"]
    assert "種類「sold」はありません" in fields["kind"]
    assert "結果は" in fields["result"]
    body = await get_json(companion, "/api/v1/history?from=2026-11-20&to=2026-11-10", auth, 400)
    assert "終了日は開始日より後" in body["error"]["fields"]["to"]


async def test_each_thing_is_recorded_once(companion: Any, auth: dict[str, str]) -> None:
    app = companion.app
    await pause_a_job(app)
    await block_an_early_end(app, 7, "A-0007", "x100000007")
    await a_sale(app, "order-7", "A-0070", "x100000070", "未出荷")  # first seen already paid
    recorder = app[HISTORY]
    await recorder.catch_up()
    await recorder.catch_up()
    await app[HISTORY].settings.set_internal("history_cursor", {})  # read everything again
    await recorder.catch_up()
    data = await get_json(companion, "/api/v1/history", auth)
    kinds = sorted(e["kind"] for e in data["entries"])
    assert kinds == ["early_end_blocked", "job_paused", "paid", "won"]
    paused = next(e for e in data["entries"] if e["kind"] == "job_paused")
    assert "SMS認証" in paused["message"] and paused["result_label"] == "要対応"
    sale = next(e for e in data["entries"] if e["kind"] == "won")
    assert sale["recore"]["state_label"] == "送信待ち"  # ReCORE has not been told yet


async def test_old_rows_are_pruned_after_the_retention_period(
    companion: Any, auth: dict[str, str]
) -> None:
    app = companion.app
    now = utcnow()
    async with app[DB].session() as s, s.begin():
        s.add(
            EventLog(
                level="error",
                source="sync",
                message="古いお知らせ",
                message_en="old",
                at=now - timedelta(days=31),
            )
        )
        s.add(
            EventLog(
                level="error",
                source="sync",
                message="新しいお知らせ",
                message_en="new",
                at=now - timedelta(days=29),
            )
        )
        s.add(
            Job(
                id="old-job",
                kind="sync",
                state="succeeded",
                params={},
                created_at=now - timedelta(days=40),
                finished_at=now - timedelta(days=40),
            )
        )
        s.add(
            Job(
                id="old-paused",
                kind="direct_listing",
                state="paused",
                params={},
                created_at=now - timedelta(days=40),
            )
        )
    await a_sale(app, "order-old", "A-0100", "x100000100", "保留中")
    async with app[DB].session() as s, s.begin():
        message = await s.scalar(select(OutboxMessage))
        assert message is not None
        message.created_at = now - timedelta(days=45)  # still pending: never pruned
    await app[HISTORY].catch_up()
    counts = await app[HISTORY].prune()
    # the old notice, the old sale and the old sync were never history: older than the period
    assert counts["history"] == 0
    data = await get_json(companion, "/api/v1/history", auth)
    left = sorted((e["kind"], e["message"][:8]) for e in data["entries"])
    # the paused job and the stuck message are today's news, whatever their age
    assert [k for k, _ in left] == ["job_paused", "notice", "recore_stuck"]
    assert ("notice", "新しいお知らせ") in left
    async with app[DB].session() as s:
        assert await s.get(Job, "old-job") is None
        assert await s.get(Job, "old-paused") is not None  # waiting for staff: kept
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        assert await s.scalar(select(func.count()).select_from(EventLog)) == 1
    # a shorter period is a setting
    resp = await companion.put("/api/v1/alerts", json={"history_retention_days": 7}, headers=auth)
    assert resp.status == 200
    async with app[DB].session() as s, s.begin():
        entry = await s.scalar(select(HistoryEntry).where(HistoryEntry.kind == "notice"))
        assert entry is not None
        entry.at = now - timedelta(days=8)
    assert (await app[HISTORY].prune())["history"] == 1


async def test_notifications_feed_starts_now_and_gives_each_entry_once(
    companion: Any, auth: dict[str, str]
) -> None:
    app = companion.app
    await a_sale(app, "order-5", "A-0005", "x100000005", "保留中")  # won: not a Chrome kind
    start = await get_json(companion, "/api/v1/notifications", auth)
    assert start["entries"] == []  # a new browser starts from now
    after = start["latest_id"]
    await pause_a_job(app)
    await block_an_early_end(app, 9, "A-0009", "x100000009")
    feed = await get_json(companion, f"/api/v1/notifications?after={after}", auth)
    assert sorted(e["kind"] for e in feed["entries"]) == ["early_end_blocked", "job_paused"]
    again = await get_json(companion, f"/api/v1/notifications?after={feed['latest_id']}", auth)
    assert again["entries"] == []
    # staff choose 落札 for Chrome too
    await companion.put("/api/v1/alerts", json={"chrome": {"kinds": ["won"]}}, headers=auth)
    await a_sale(app, "order-6", "A-0006", "x100000006", "保留中")
    feed = await get_json(companion, f"/api/v1/notifications?after={feed['latest_id']}", auth)
    assert [(e["kind"], e["management_number"]) for e in feed["entries"]] == [("won", "A-0006")]
