"""履歴: what happened to each item, job and message to ReCORE, kept 30 days, with CSV export.

The history is written by one observer, `HistoryRecorder`, from the records the companion keeps
anyway and never loses: the outbox (everything ReCORE is told), the jobs (with their per-item
results) and the staff events. Each pass reads what is new since its cursors and adds one
`HistoryEntry` per thing that happened, keyed so that a second pass (or a second process) adds
nothing twice. No feature has to call it, and a crash between a change and its history row only
delays the row to the next pass.

Whether ReCORE accepted what it was told is not copied: an entry names its outbox message
(`recore_key`) and the message's state is read when the history is shown, so it is always current.

Listeners (the alert queue) get the new entries inside the same transaction, so an alert is queued
exactly when its history row is written.

Routes: `GET /api/v1/history` (JSON, filters), `GET /api/v1/history?format=csv` (UTF-8 with BOM,
for Excel), `GET /api/v1/notifications?after=ID` (the Chrome notifications' feed).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.db import Database
from companion.db.models import (
    AlertDelivery,
    EventLog,
    HistoryEntry,
    Job,
    JobItem,
    ListingRecord,
    OrderSnapshot,
    OutboxMessage,
    RecoreTask,
    SubmitIntent,
    iso,
    utcnow,
)
from companion.inputs import MAX_ID, query_int
from companion.keys import CONFIG, DB, HISTORY, SETTINGS
from companion.middlewares import API, error_response
from companion.recore import client as rc
from companion.settings import SettingsStore

log = logging.getLogger(__name__)

CURSOR_KEY = "history_cursor"  # internal setting: how far the recorder has read
STUCK_KEY = "recore_stuck"  # internal setting: the open "messages to ReCORE stuck" episode
DEFAULT_RETENTION_DAYS = 30
DEFAULT_STUCK_MINUTES = 30

# kind → (Japanese, English). The first six are the ones staff can be alerted about.
KINDS: dict[str, tuple[str, str]] = {
    "job_failed": ("処理の失敗", "job failed"),
    "job_paused": ("一時停止", "job paused"),
    "early_end_blocked": ("早期終了できず", "early end refused"),
    "recore_stuck": ("ReCOREへの送信の停滞", "messages to ReCORE stuck"),
    "won": ("落札", "won"),
    "paid": ("入金", "paid"),
    "job_done": ("処理の完了", "job finished"),
    "listed": ("出品", "listed"),
    "listing_failed": ("出品エラー", "listing failed"),
    "listing_updated": ("出品内容の変更", "listing updated"),
    "early_end": ("早期終了", "ended early"),
    "order_updated": ("受注の更新", "order updated"),
    "order_shipped": ("発送", "shipped"),
    "order_cancelled": ("キャンセル", "cancelled"),
    "task": ("ReCOREのタスク", "ReCORE task"),
    "notice": ("お知らせ", "notice"),
}
RESULTS: dict[str, tuple[str, str]] = {
    "ok": ("成功", "ok"),
    "failed": ("失敗", "failed"),
    "warning": ("要対応", "needs attention"),
    "info": ("情報", "info"),
}
RECORE_OPERATIONS: dict[str, tuple[str, str]] = {
    rc.OP_TASK_SUCCEEDED: ("タスク完了の報告", "task succeeded"),
    rc.OP_TASK_FAILED: ("タスク失敗の報告", "task failed"),
    rc.OP_ORDER_UPSERT: ("受注の登録・更新", "order upsert"),
}
RECORE_STATES: dict[str, tuple[str, str]] = {
    "pending": ("送信待ち", "waiting to be sent"),
    "delivered": ("受付済み", "accepted"),
    "rejected": ("拒否", "refused"),
}
JOB_KINDS: dict[str, tuple[str, str]] = {
    "direct_listing": ("直接出品", "direct listing"),
    "sync": ("同期", "sync"),
}
TASK_KINDS: dict[str, tuple[str, str]] = {  # task type → (kind when it succeeded, when it failed)
    rc.CREATE_INVENTORY: ("listed", "listing_failed"),
    rc.UPDATE_INVENTORY: ("listing_updated", "listing_updated"),
    rc.UPDATE_INVENTORY_PRICE: ("listing_updated", "listing_updated"),
    rc.UPDATE_INVENTORY_QUANTITY: ("listing_updated", "listing_updated"),
    rc.DELETE_INVENTORY: ("early_end", "early_end_blocked"),
    rc.SHIP_ORDER: ("order_shipped", "order_shipped"),
    rc.CANCEL_ORDER: ("order_cancelled", "order_cancelled"),
}
_STATUS_JA = {v: k.value for k, v in rc.ORDER_STATUS_TO_RECORE.items()}  # ORDERED → 保留中 …
_NUMBER_IN_TEXT = re.compile(r"管理番号\s*([0-9A-Za-z][0-9A-Za-z_\-]*)")
_AUCTION_IN_TEXT = re.compile(r"オークション(?:ID)?\s*([A-Za-z]?\d{5,})")


@dataclass
class NewEntry:
    """A history row before it is written."""

    key: str
    at: datetime
    kind: str
    result: str
    message: str
    message_en: str
    management_number: str | None = None
    auction_id: str | None = None
    job_id: str | None = None
    recore_key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def row(self) -> HistoryEntry:
        return HistoryEntry(
            key=self.key[:200],
            at=self.at,
            kind=self.kind,
            result=self.result,
            management_number=(self.management_number or None) and self.management_number[:64],
            auction_id=(self.auction_id or None) and self.auction_id[:32],
            job_id=self.job_id,
            message=self.message,
            message_en=self.message_en,
            recore_key=self.recore_key,
            data=self.data,
        )


Listener = Callable[[AsyncSession, list[HistoryEntry]], Awaitable[None]]


@dataclass
class HistoryOptions:
    interval: float = 5.0  # seconds between passes of the recorder
    batch: int = 500  # source rows per transaction
    retention_days: int | None = None  # None: the alert settings' value (default 30)


HISTORY_OPTIONS = web.AppKey("history_options", HistoryOptions)
HISTORY_TASK: web.AppKey[asyncio.Task[None]] = web.AppKey("history_task")


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates and some drivers hand back naive UTC: make every time aware."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def sale_steps(task: RecoreTask, press: SubmitIntent | None) -> dict[str, Any]:
    """A sale at the register, step by step (measured in real use): issued by ReCORE, seen by the
    task poll, 早期終了 pressed, Yahoo's answer; when ReCORE accepted the report is the entry's
    `recore.delivered_at`. `seconds`: from the poll seeing the task to Yahoo's answer."""
    seen = _aware(task.received_at)
    answered = _aware(press.resolved_at) if press is not None else None
    return {
        "issued_at": iso(_aware(task.issued_at)),
        "seen_at": iso(seen),
        "started_at": iso(_aware(press.pressed_at)) if press is not None else None,
        "ended_at": iso(answered),
        "seconds": round((answered - seen).total_seconds(), 1) if answered and seen else None,
    }


def _first_line(order_body: dict[str, Any]) -> dict[str, Any]:
    goods = order_body.get("goods")
    return goods[0] if isinstance(goods, list) and goods and isinstance(goods[0], dict) else {}


def _yen(value: Any) -> str:
    return f"{value:,}円" if isinstance(value, int) and not isinstance(value, bool) else ""


class HistoryRecorder:
    """Reads the outbox, jobs and events since its cursors and writes history entries."""

    def __init__(
        self,
        db: Database,
        settings: SettingsStore,
        options: HistoryOptions | None = None,
        *,
        stuck_minutes: Callable[[], int] = lambda: DEFAULT_STUCK_MINUTES,
        retention_days: Callable[[], int] = lambda: DEFAULT_RETENTION_DAYS,
    ) -> None:
        self.db = db
        self.settings = settings
        self.options = options or HistoryOptions()
        self.stuck_minutes = stuck_minutes
        self.retention_days = retention_days
        self.listeners: list[Listener] = []
        self.committed: list[Callable[[], None]] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._last_prune: datetime | None = None

    def on_new(self, listener: Listener, committed: Callable[[], None] | None = None) -> None:
        """`listener` runs inside the transaction that writes new entries; `committed` after it."""
        self.listeners.append(listener)
        if committed is not None:
            self.committed.append(committed)

    def wake(self) -> None:
        self._wake.set()

    # -- one pass -----------------------------------------------------------------------------------
    async def catch_up(self) -> int:
        """Read everything new; returns how many entries were added."""
        async with self._lock:  # two passes at once would read the same cursors
            cursor = dict(await self.settings.get_internal(CURSOR_KEY, {}) or {})
            added = 0
            while True:
                entries, moved, more = await self._read(cursor)
                added += await self._write(entries)
                if (
                    moved != cursor
                ):  # a quiet pass writes nothing (the shop PC's disk, SQLite's lock)
                    await self.settings.set_internal(CURSOR_KEY, moved)
                    cursor = moved
                if not more:
                    break
            added += await self._write(await self._stuck())
            return added

    async def _read(self, cursor: dict[str, Any]) -> tuple[list[NewEntry], dict[str, Any], bool]:
        cursor = dict(cursor)
        limit = self.options.batch
        async with self.db.session() as s:
            outbox = list(
                (
                    await s.scalars(
                        select(OutboxMessage)
                        .where(OutboxMessage.id > int(cursor.get("outbox", 0)))
                        .order_by(OutboxMessage.id)
                        .limit(limit)
                    )
                ).all()
            )
            events = list(
                (
                    await s.scalars(
                        select(EventLog)
                        .where(EventLog.id > int(cursor.get("events", 0)))
                        .order_by(EventLog.id)
                        .limit(limit)
                    )
                ).all()
            )
            # jobs have no growing id: read by change time, a little overlap, keys dedupe
            since = _parse_iso(cursor.get("jobs_at"))
            query = select(Job).where(Job.state.in_(("succeeded", "partial", "failed", "paused")))
            if since is not None:
                query = query.where(Job.updated_at >= since - timedelta(seconds=2))
            jobs = list((await s.scalars(query.order_by(Job.updated_at).limit(limit))).all())
            entries = await self._from_outbox(s, outbox)
            entries += [self._from_event(e) for e in events]
            entries += await self._from_jobs(s, jobs)
        if outbox:
            cursor["outbox"] = outbox[-1].id
        if events:
            cursor["events"] = events[-1].id
        if jobs:
            cursor["jobs_at"] = iso(_aware(jobs[-1].updated_at))
        more = len(outbox) == limit or len(events) == limit
        return entries, cursor, more

    async def _write(self, entries: list[NewEntry]) -> int:
        # the first pass of an existing installation reads old records: beyond the retention
        # period they are not history any more
        cutoff = utcnow() - timedelta(days=self.options.retention_days or self.retention_days())
        entries = [e for e in entries if e.at >= cutoff]
        if not entries:
            return 0
        async with self.db.session() as s, s.begin():
            keys = [e.key[:200] for e in entries]
            existing: set[str] = set()
            for start in range(0, len(keys), 500):
                existing |= set(
                    (
                        await s.scalars(
                            select(HistoryEntry.key).where(
                                HistoryEntry.key.in_(keys[start : start + 500])
                            )
                        )
                    ).all()
                )
            rows: list[HistoryEntry] = []
            for entry in entries:
                if entry.key[:200] in existing:
                    continue
                existing.add(entry.key[:200])
                rows.append(entry.row())
            if not rows:
                return 0
            s.add_all(rows)
            await s.flush()
            for listener in self.listeners:
                await listener(s, rows)
        for committed in self.committed:
            committed()
        return len(rows)

    # -- outbox: what ReCORE was told -----------------------------------------------------------
    async def _from_outbox(self, s: AsyncSession, rows: list[OutboxMessage]) -> list[NewEntry]:
        if not rows:
            return []
        task_ids = {r.target for r in rows if r.operation != rc.OP_ORDER_UPSERT}
        tasks = {
            t.id: t
            for t in (await s.scalars(select(RecoreTask).where(RecoreTask.id.in_(task_ids)))).all()
        }
        inventory_ids = {t.ec_inventory_id for t in tasks.values() if t.ec_inventory_id}
        listings = {
            r.id: r
            for r in (
                await s.scalars(select(ListingRecord).where(ListingRecord.id.in_(inventory_ids)))
            ).all()
        }
        order_ids = {t.mall_order_id for t in tasks.values() if t.mall_order_id}
        orders = {
            o.mall_order_id: o
            for o in (
                await s.scalars(
                    select(OrderSnapshot).where(OrderSnapshot.mall_order_id.in_(order_ids))
                )
            ).all()
        }
        last_status = await self._statuses_before(s, rows)
        presses = await self._presses(s, tasks)
        out: list[NewEntry] = []
        for msg in rows:
            at = _aware(msg.created_at) or utcnow()
            if msg.operation == rc.OP_ORDER_UPSERT:
                out += self._order_entries(msg, at, last_status)
                continue
            task = tasks.get(msg.target)
            entry = self._task_entry(msg, at, task, listings, orders)
            if task is not None and task.type == rc.DELETE_INVENTORY:
                entry.data["steps"] = sale_steps(task, presses.get(task.id))
            out.append(entry)
        return out

    @staticmethod
    async def _presses(s: AsyncSession, tasks: dict[str, RecoreTask]) -> dict[str, SubmitIntent]:
        """The 早期終了 press of each register sale among `tasks` (the newest, if pressed again)."""
        ids = [t.id for t in tasks.values() if t.type == rc.DELETE_INVENTORY]
        if not ids:
            return {}
        rows = await s.scalars(
            select(SubmitIntent)
            .where(SubmitIntent.task_id.in_(ids), SubmitIntent.action == "end")
            .order_by(SubmitIntent.id)
        )
        return {row.task_id: row for row in rows if row.task_id is not None}

    async def _statuses_before(
        self, s: AsyncSession, rows: list[OutboxMessage]
    ) -> dict[str, str | None]:
        """Each order's ReCORE status as last sent before these messages (won vs. paid)."""
        first = rows[0].id
        targets = {r.target for r in rows if r.operation == rc.OP_ORDER_UPSERT}
        status: dict[str, str | None] = {}
        if not targets:
            return status
        latest = (
            select(func.max(OutboxMessage.id))
            .where(
                OutboxMessage.operation == rc.OP_ORDER_UPSERT,
                OutboxMessage.target.in_(targets),
                OutboxMessage.id < first,
            )
            .group_by(OutboxMessage.target)
        ).scalar_subquery()
        for msg in (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(latest)))
        ).all():
            status[msg.target] = msg.body.get("status") if isinstance(msg.body, dict) else None
        return status

    def _order_entries(
        self, msg: OutboxMessage, at: datetime, last_status: dict[str, str | None]
    ) -> list[NewEntry]:
        body = msg.body if isinstance(msg.body, dict) else {}
        line = _first_line(body)
        number = line.get("mall_item_code") if isinstance(line.get("mall_item_code"), str) else None
        auction = line.get("mall_item_id") if isinstance(line.get("mall_item_id"), str) else None
        status = body.get("status")
        status_ja = _STATUS_JA.get(status, str(status))
        before = last_status.get(msg.target)
        last_status[msg.target] = status
        first_time = before is None
        order = msg.target
        price = _yen(line.get("unit_price"))
        what = f"管理番号 {number}・オークション {auction}" + (f"・{price}" if price else "")
        common = {
            "management_number": number,
            "auction_id": auction,
            "recore_key": msg.idempotency_key,
            "data": {
                "order_id": order,
                "status": status_ja,
                "store_status": body.get("sub_status"),
            },
        }
        out: list[NewEntry] = []
        pending, unshipped = (
            rc.ORDER_STATUS_TO_RECORE[s] for s in (rc.OrderStatus.PENDING, rc.OrderStatus.UNSHIPPED)
        )
        if first_time and status in (pending, unshipped):
            out.append(
                NewEntry(
                    f"outbox:{msg.id}:won",
                    at,
                    "won",
                    "ok",
                    f"落札されました（{what}、受注 {order}）。ReCOREへ受注を送ります。",
                    f"won: {number} ({auction}), order {order}",
                    **common,
                )
            )
        if status == unshipped and before != unshipped:
            out.append(
                NewEntry(
                    f"outbox:{msg.id}:paid",
                    at,
                    "paid",
                    "ok",
                    f"入金されました（{what}、受注 {order}）。ReCOREの受注を「未出荷」にします。",
                    f"paid: {number} ({auction}), order {order}",
                    **common,
                )
            )
        if not out:
            store = body.get("sub_status") or "—"
            out.append(
                NewEntry(
                    f"outbox:{msg.id}",
                    at,
                    "order_updated",
                    "info",
                    f"受注 {order}（{what}）をReCOREで「{status_ja}」にします（ヤフオク: {store}）。",
                    f"order {order} ({number}) → {status}",
                    **common,
                )
            )
        return out

    def _task_entry(
        self,
        msg: OutboxMessage,
        at: datetime,
        task: RecoreTask | None,
        listings: dict[int, ListingRecord],
        orders: dict[str, OrderSnapshot],
    ) -> NewEntry:
        body = msg.body if isinstance(msg.body, dict) else {}
        task_type = task.type if task is not None else ""
        ok = msg.operation == rc.OP_TASK_SUCCEEDED
        kind = TASK_KINDS.get(task_type, ("task", "task"))[0 if ok else 1]
        listing = listings.get(task.ec_inventory_id or 0) if task is not None else None
        order = orders.get(task.mall_order_id or "") if task is not None else None
        number = (listing.management_number if listing else None) or (
            order.management_number if order else None
        )
        auction = (
            body.get("mall_product_code")
            if isinstance(body.get("mall_product_code"), str)
            else None
        )
        auction = (
            auction
            or (listing.auction_id if listing else None)
            or (order.auction_id if order else None)
        )
        order_id = task.mall_order_id if task is not None else None
        if ok:
            message = {
                "listed": f"ヤフオクに出品しました（オークション {auction}）。",
                "listing_updated": "出品内容の変更をヤフオクに反映しました。",
                "early_end": f"店頭販売などのため、オークション {auction} を早期終了しました。",
                "order_shipped": f"受注 {order_id} の発送をヤフオクに反映しました。",
                "order_cancelled": f"受注 {order_id} をヤフオクでキャンセルしました。",
            }.get(kind, f"ReCOREのタスク（{task_type or '?'}）を処理しました。")
            message_en = f"{task_type or 'task'} {msg.target} succeeded"
        else:
            reason = str(body.get("message") or "")
            message = reason or f"ReCOREのタスク（{task_type or '?'}）を処理できませんでした。"
            message_en = f"{task_type or 'task'} {msg.target} failed"
        return NewEntry(
            f"outbox:{msg.id}",
            at,
            kind,
            "ok" if ok else ("warning" if kind == "early_end_blocked" else "failed"),
            message,
            message_en,
            management_number=number,
            auction_id=auction,
            recore_key=msg.idempotency_key,
            data={"task_id": msg.target, "task_type": task_type, "order_id": order_id},
        )

    # -- events and jobs ----------------------------------------------------------------------------
    @staticmethod
    def _from_event(event: EventLog) -> NewEntry:
        number = _NUMBER_IN_TEXT.search(event.message)
        auction = _AUCTION_IN_TEXT.search(event.message)
        result = {"error": "failed", "warning": "warning"}.get(event.level, "info")
        return NewEntry(
            f"event:{event.id}",
            _aware(event.at) or utcnow(),
            "notice",
            result,
            event.message,
            event.message_en,
            management_number=number.group(1) if number else None,
            auction_id=auction.group(1) if auction else None,
            data={"source": event.source},
        )

    async def _from_jobs(self, s: AsyncSession, jobs: list[Job]) -> list[NewEntry]:
        out: list[NewEntry] = []
        for job in jobs:
            run = iso(_aware(job.started_at)) or iso(_aware(job.created_at))
            at = _aware(job.finished_at or job.updated_at) or utcnow()
            label, label_en = JOB_KINDS.get(job.kind, (job.kind, job.kind))
            error = job.error or {}
            counts = f"{job.progress_done}/{job.progress_total}"
            if job.state == "paused":
                kind, result = "job_paused", "warning"
                message = f"{label}を一時停止しました。{error.get('message') or ''}".strip()
            elif job.state in ("partial", "failed"):
                kind, result = "job_failed", "failed"
                items = (
                    await s.scalars(
                        select(JobItem).where(JobItem.job_id == job.id, JobItem.state == "failed")
                    )
                ).all()
                what = "一部失敗" if job.state == "partial" else "失敗"
                detail = error.get("message") or (f"失敗 {len(items)}件" if items else "")
                message = f"{label}が{what}で終わりました（{counts}）。{detail}".strip()
                if job.kind == "direct_listing":
                    out += [self._from_item(job, item, run) for item in items]
            else:
                kind, result = "job_done", "ok"
                message = f"{label}が終わりました（{counts}）。"
            out.append(
                NewEntry(
                    f"job:{job.id}:{job.state}:{run}",
                    at,
                    kind,
                    result,
                    message,
                    f"{label_en} {job.state}: {error.get('message_en') or counts}",
                    job_id=job.id,
                    data={
                        "job_kind": job.kind,
                        "state": job.state,
                        "code": error.get("code"),
                        "done": job.progress_done,
                        "total": job.progress_total,
                    },
                )
            )
        return out

    @staticmethod
    def _from_item(job: Job, item: JobItem, run: str | None) -> NewEntry:
        data = item.data if isinstance(item.data, dict) else {}
        number = None if item.key.startswith("#") else item.key
        return NewEntry(
            f"job-item:{item.id}:{run}",
            _aware(item.updated_at) or utcnow(),
            "listing_failed",
            "failed",
            item.message or "出品できませんでした。",
            f"direct listing of {item.key} failed",
            management_number=number,
            auction_id=data.get("auction_id") if isinstance(data.get("auction_id"), str) else None,
            job_id=job.id,
            data={"job_kind": job.kind},
        )

    # -- messages to ReCORE that do not leave -------------------------------------------------------
    async def _stuck(self) -> list[NewEntry]:
        minutes = self.stuck_minutes()
        now = utcnow()
        async with self.db.session() as s:
            oldest = await s.scalar(
                select(OutboxMessage)
                .where(OutboxMessage.state == "pending")
                .order_by(OutboxMessage.id)
                .limit(1)
            )
            pending = await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.state == "pending")
            )
        episode = await self.settings.get_internal(STUCK_KEY)
        created = _aware(oldest.created_at) if oldest is not None else None
        stuck = minutes > 0 and created is not None and now - created >= timedelta(minutes=minutes)
        if not stuck:
            if episode:
                await self.settings.set_internal(STUCK_KEY, None)
            return []
        if episode:
            return []  # told once per episode, until everything older than the limit has left
        assert oldest is not None
        await self.settings.set_internal(STUCK_KEY, {"since": iso(now), "first_id": oldest.id})
        error = (
            f"最後のエラー: {oldest.last_error}" if oldest.last_error else "エラーはまだありません"
        )
        return [
            NewEntry(
                f"stuck:{oldest.id}:{iso(now)}",
                now,
                "recore_stuck",
                "warning",
                f"ReCOREへの送信が{minutes}分以上止まっています（未送信 {pending}件、{error}）。"
                "ReCOREの稼働状況と、設定画面のAPIキーを確認してください。送信は自動で続けます。",
                f"{pending} messages to ReCORE pending for more than {minutes} minutes",
                data={"pending": pending, "minutes": minutes},
            )
        ]

    # -- retention ------------------------------------------------------------------------------------
    async def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what is older than the retention period: history rows, sent alerts, staff events
        and finished jobs (with their items). Pending work is never deleted."""
        days = self.options.retention_days or self.retention_days()
        cutoff = (now or utcnow()) - timedelta(days=days)
        async with self.db.session() as s, s.begin():
            counts = {
                "history": (
                    await s.execute(delete(HistoryEntry).where(HistoryEntry.at < cutoff))
                ).rowcount,
                "alerts": (
                    await s.execute(
                        delete(AlertDelivery).where(
                            AlertDelivery.created_at < cutoff, AlertDelivery.state != "pending"
                        )
                    )
                ).rowcount,
                "events": (await s.execute(delete(EventLog).where(EventLog.at < cutoff))).rowcount,
            }
            old_jobs = select(Job.id).where(
                Job.state.in_(("succeeded", "partial", "failed")), Job.finished_at < cutoff
            )
            await s.execute(delete(JobItem).where(JobItem.job_id.in_(old_jobs)))
            counts["jobs"] = (
                await s.execute(
                    delete(Job).where(
                        Job.state.in_(("succeeded", "partial", "failed")), Job.finished_at < cutoff
                    )
                )
            ).rowcount
        if any(counts.values()):
            log.info("history: pruned rows older than %d days: %s", days, counts)
        self._last_prune = now or utcnow()
        return counts

    async def run(self) -> None:
        """The recorder's loop: a pass every few seconds (or when woken), pruning once a day."""
        while True:
            self._wake.clear()
            try:
                await self.catch_up()
                if self._last_prune is None or utcnow() - self._last_prune > timedelta(days=1):
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("history: a pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.options.interval)


# ---- reading -----------------------------------------------------------------------------------------
class FilterError(Exception):
    def __init__(self, fields: dict[str, tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{k}: {en}" for k, (_ja, en) in fields.items()))
        self.fields = fields


@dataclass
class HistoryFilter:
    start: datetime | None = None
    end: datetime | None = None
    management_number: str | None = None
    kinds: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    job_id: str | None = None

    def where(self) -> list[Any]:
        clauses: list[Any] = []
        if self.start is not None:
            clauses.append(HistoryEntry.at >= self.start)
        if self.end is not None:
            clauses.append(HistoryEntry.at < self.end)
        if self.management_number:
            clauses.append(HistoryEntry.management_number == self.management_number)
        if self.kinds:
            clauses.append(HistoryEntry.kind.in_(self.kinds))
        if self.results:
            clauses.append(HistoryEntry.result.in_(self.results))
        if self.job_id:
            clauses.append(HistoryEntry.job_id == self.job_id)
        return clauses


def local_zone() -> Any:
    """The shop PC's time zone: dates staff pick and the CSV's times are in it."""
    return datetime.now().astimezone().tzinfo


def _day(value: str, field_name: str, label: str) -> datetime:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise FilterError(
            {field_name: (f"{label}は 2026-11-24 の形で入力してください", "must be YYYY-MM-DD")}
        ) from None
    return datetime(day.year, day.month, day.day, tzinfo=local_zone())


def parse_filter(query: Any) -> HistoryFilter:
    """The query string's filters; a wrong one is a 400 naming the field, never a 500."""
    errors: dict[str, tuple[str, str]] = {}
    out = HistoryFilter()
    try:
        if query.get("from"):
            out.start = _day(query["from"], "from", "開始日")
        if query.get("to"):
            out.end = _day(query["to"], "to", "終了日") + timedelta(days=1)
    except FilterError as exc:
        errors |= exc.fields
    number = (query.get("management_number") or "").strip()
    if len(number) > 64:
        errors["management_number"] = (
            "管理番号が長すぎます（64文字まで）",
            "at most 64 characters",
        )
    out.management_number = number or None
    kinds = tuple(k for k in (query.get("kind") or "").split(",") if k)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        errors["kind"] = (
            f"種類「{unknown[0][:40]}」はありません",
            f"unknown kind {unknown[0][:40]!r}",
        )
    out.kinds = kinds
    results = tuple(r for r in (query.get("result") or "").split(",") if r)
    if any(r not in RESULTS for r in results):
        errors["result"] = ("結果は 成功・失敗・要対応・情報 から選んでください", "unknown result")
    out.results = results
    job = (query.get("job_id") or "").strip()
    out.job_id = job[:32] or None
    if out.start and out.end and out.start >= out.end:
        errors["to"] = ("終了日は開始日より後にしてください", "to must not be before from")
    if errors:
        raise FilterError(errors)
    return out


def entry_dict(entry: HistoryEntry, message: OutboxMessage | None) -> dict[str, Any]:
    kind = KINDS.get(entry.kind, (entry.kind, entry.kind))
    result = RESULTS.get(entry.result, (entry.result, entry.result))
    recore: dict[str, Any] | None = None
    if entry.recore_key:
        operation = message.operation if message is not None else None
        state = message.state if message is not None else None
        recore = {
            "operation": operation,
            "operation_label": RECORE_OPERATIONS.get(operation or "", ("", ""))[0] or None,
            "state": state,
            "state_label": RECORE_STATES.get(state or "", ("不明（整理済み）", "unknown"))[0],
            "error": message.last_error if message is not None and state != "delivered" else None,
            "delivered_at": iso(_aware(message.delivered_at)) if message is not None else None,
        }
    return {
        "id": entry.id,
        "at": iso(_aware(entry.at)),
        "kind": entry.kind,
        "kind_label": kind[0],
        "result": entry.result,
        "result_label": result[0],
        "management_number": entry.management_number,
        "auction_id": entry.auction_id,
        "job_id": entry.job_id,
        "message": entry.message,
        "message_en": entry.message_en,
        "recore": recore,
        "data": entry.data,
    }


async def _with_messages(
    s: AsyncSession, rows: Iterable[HistoryEntry]
) -> list[tuple[HistoryEntry, OutboxMessage | None]]:
    rows = list(rows)
    keys = {r.recore_key for r in rows if r.recore_key}
    messages = (
        {
            m.idempotency_key: m
            for m in (
                await s.scalars(
                    select(OutboxMessage).where(OutboxMessage.idempotency_key.in_(keys))
                )
            ).all()
        }
        if keys
        else {}
    )
    return [(r, messages.get(r.recore_key or "")) for r in rows]


async def query_history(
    db: Database, flt: HistoryFilter, *, limit: int = 100, before_id: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Newest first; `before_id` pages on. Returns (entries, total matching the filter)."""
    where = flt.where()
    async with db.session() as s:
        total = await s.scalar(select(func.count()).select_from(HistoryEntry).where(*where))
        query = select(HistoryEntry).where(*where)
        if before_id is not None:
            query = query.where(HistoryEntry.id < before_id)
        rows = (await s.scalars(query.order_by(HistoryEntry.id.desc()).limit(limit))).all()
        pairs = await _with_messages(s, rows)
    return [entry_dict(r, m) for r, m in pairs], int(total or 0)


CSV_HEADER = [
    "日時",
    "種類",
    "結果",
    "管理番号",
    "オークションID",
    "内容",
    "ReCOREへの連絡",
    "ReCOREの受付",
    "ReCOREのエラー",
]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Excel runs a cell that starts like a formula: keep it text
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_row(entry: dict[str, Any], zone: Any) -> list[str]:
    at = _parse_iso(entry["at"])
    recore = entry.get("recore") or {}
    return [
        _cell(at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if at else ""),
        _cell(entry["kind_label"]),
        _cell(entry["result_label"]),
        _cell(entry["management_number"]),
        _cell(entry["auction_id"]),
        _cell(entry["message"]),
        _cell(recore.get("operation_label")),
        _cell(recore.get("state_label")),
        _cell(recore.get("error")),
    ]


async def stream_csv(db: Database, flt: HistoryFilter, response: web.StreamResponse) -> None:
    """Oldest first, in pages of 1,000 rows: memory stays flat however long the period."""
    zone = local_zone()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    await response.write(("\ufeff" + buffer.getvalue()).encode("utf-8"))
    after = 0
    while True:
        async with db.session() as s:
            rows = (
                await s.scalars(
                    select(HistoryEntry)
                    .where(*flt.where(), HistoryEntry.id > after)
                    .order_by(HistoryEntry.id)
                    .limit(1000)
                )
            ).all()
            pairs = await _with_messages(s, rows)
        if not rows:
            break
        after = rows[-1].id
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for row, message in pairs:
            writer.writerow(csv_row(entry_dict(row, message), zone))
        await response.write(buffer.getvalue().encode("utf-8"))


# ---- HTTP ---------------------------------------------------------------------------------------------
routes = web.RouteTableDef()


@routes.get(f"{API}/history")
async def get_history(request: web.Request) -> web.StreamResponse:
    try:
        flt = parse_filter(request.query)
    except FilterError as exc:
        return error_response(
            400,
            "VALIDATION_FAILED",
            "履歴の絞り込み条件に誤りがあります",
            f"invalid history filter: {exc}",
            fields={k: ja for k, (ja, _en) in exc.fields.items()},
            fields_en={k: en for k, (_ja, en) in exc.fields.items()},
        )
    db = request.app[DB]
    recorder = request.app.get(HISTORY)
    if recorder is not None:
        await recorder.catch_up()  # what happened a second ago is in the answer
    if request.query.get("format") == "csv":
        stamp = datetime.now(local_zone()).strftime("%Y%m%d_%H%M")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="recore_history_{stamp}.csv"',
                "Cache-Control": "no-store",
            }
        )
        await response.prepare(request)
        await stream_csv(db, flt, response)
        await response.write_eof()
        return response
    limit = query_int(request, "limit", 100, lo=1, hi=500)
    before_id = query_int(request, "before_id", None, lo=1, hi=MAX_ID)
    entries, total = await query_history(db, flt, limit=limit, before_id=before_id)
    return web.json_response(
        {
            "entries": entries,
            "total": total,
            "kinds": {k: v[0] for k, v in KINDS.items()},
            "results": {k: v[0] for k, v in RESULTS.items()},
        }
    )


NOTIFY_WINDOW = timedelta(hours=24)  # older entries are history, not news


@routes.get(f"{API}/notifications")
async def get_notifications(request: web.Request) -> web.Response:
    """The Chrome notifications' feed: entries after `after` of the kinds chosen for Chrome.
    Without `after`, only the newest id (a new browser starts from now)."""
    from companion.alerts.service import chrome_kinds

    after = query_int(request, "after", None, lo=0, hi=MAX_ID)
    db = request.app[DB]
    recorder = request.app.get(HISTORY)
    if recorder is not None:
        await recorder.catch_up()
    async with db.session() as s:
        latest = int(await s.scalar(select(func.max(HistoryEntry.id))) or 0)
        if after is None:
            return web.json_response({"latest_id": latest, "entries": []})
        kinds = await chrome_kinds(request.app)
        rows = (
            await s.scalars(
                select(HistoryEntry)
                .where(
                    HistoryEntry.id > after,
                    HistoryEntry.kind.in_(kinds),
                    HistoryEntry.at >= utcnow() - NOTIFY_WINDOW,
                )
                .order_by(HistoryEntry.id)
                .limit(20)
            )
        ).all()
        pairs = await _with_messages(s, rows)
    return web.json_response({"latest_id": latest, "entries": [entry_dict(r, m) for r, m in pairs]})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    task_key = HISTORY_TASK

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        from companion.alerts.service import configured_value

        app[HISTORY] = HistoryRecorder(
            app[DB],
            app[SETTINGS],
            app.get(HISTORY_OPTIONS),
            stuck_minutes=lambda: configured_value(app, "recore_stuck_minutes"),
            retention_days=lambda: configured_value(app, "history_retention_days"),
        )
        yield
        task = app.get(task_key)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def start(app: web.Application) -> None:
        # after every cleanup context: the alert queue listens before the first pass
        if app[CONFIG].workers:
            app[task_key] = asyncio.create_task(app[HISTORY].run(), name="history-recorder")

    app.cleanup_ctx.append(ctx)
    app.on_startup.append(start)
