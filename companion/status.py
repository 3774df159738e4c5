"""`GET /api/v1/status`: what staff and the popup need at a glance.

The popup polls this every few seconds while jobs run, so it is read in one worker thread hop
(`Database.read`) with a few statements (every count in one, the settings it needs, the running
jobs, the latest errors, the items 確認中, unknown tasks, refused early ends), plus what the
services hold in memory. Nothing here waits behind the event loop between statements, so a busy
loop (Chromium driving a listing) delays it once at most.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from companion import __version__
from companion.db.models import (
    AuctionSnapshot,
    EventLog,
    HistoryEntry,
    Job,
    ListingRecord,
    OutboxMessage,
    RecoreTask,
    Setting,
    SubmitIntent,
    iso,
    utcnow,
)
from companion.events import event_dict
from companion.jobs import ACTIVE_STATES, job_dict
from companion.keys import CLUSTER, CONFIRMATIONS, DB, RECORE, STORE
from companion.settings import FIELDS, QUICK_CHECK_MINUTES

LISTING_STATES = {
    "pending": "waiting",
    "held": "held",  # 情報不足
    "processing": "processing",
    "registered": "registered",
    "listed": "listed",
    "errors": "error",
    "ended": "ended",
}


def _count(model: Any, *where: Any) -> Any:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


def _aware(value: datetime | None) -> datetime | None:
    # SQLite may hand back naive datetimes from aggregate functions; aware ones are kept
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_PENDING_OUTBOX = OutboxMessage.state == "pending"
# The statements are built once: building them costs more than running them on a small database.
_FIGURES = select(
    *(
        _count(ListingRecord, ListingRecord.state == state).label(name)
        for name, state in LISTING_STATES.items()
    ),
    # 入札中 counts the shop's own listings, like every other number on that line: the store
    # may sell things that never came from ReCORE
    select(func.count())
    .select_from(ListingRecord)
    .join(AuctionSnapshot, AuctionSnapshot.auction_id == ListingRecord.auction_id)
    .where(
        ListingRecord.state == "listed",
        AuctionSnapshot.state == "selling",
        AuctionSnapshot.bids > 0,
    )
    .scalar_subquery()
    .label("bidding"),
    _count(OutboxMessage, _PENDING_OUTBOX).label("outbox_pending"),
    _count(OutboxMessage, OutboxMessage.state == "rejected").label("outbox_rejected"),
    select(func.min(OutboxMessage.created_at))
    .where(_PENDING_OUTBOX)
    .scalar_subquery()
    .label("outbox_oldest"),
    select(func.min(OutboxMessage.next_attempt_at))
    .where(_PENDING_OUTBOX)
    .scalar_subquery()
    .label("outbox_next"),
    select(func.max(OutboxMessage.attempts))
    .where(_PENDING_OUTBOX)
    .scalar_subquery()
    .label("outbox_attempts"),
    select(OutboxMessage.last_error)
    .where(OutboxMessage.last_error.is_not(None), OutboxMessage.state != "delivered")
    .order_by(OutboxMessage.id.desc())
    .limit(1)
    .scalar_subquery()
    .label("outbox_last_error"),
    _count(RecoreTask, RecoreTask.state.in_(("new", "handled"))).label("open_tasks"),
)
_SETTINGS = select(Setting).where(Setting.key.in_(("_sync", "sync_interval_minutes")))
_RUNNING_JOBS = select(Job).where(Job.state.in_(ACTIVE_STATES)).order_by(Job.created_at)
# presses made without a known outcome for a while: those items are 確認中 (companion.direct.intents)
CHECKING_AFTER_SECONDS = 10
_CHECKING = (
    select(SubmitIntent)
    .where(SubmitIntent.resolved_at.is_(None))
    .order_by(SubmitIntent.id)
    .limit(20)
)
_LAST_ERRORS = (
    select(EventLog).where(EventLog.level == "error").order_by(EventLog.id.desc()).limit(5)
)
# Tasks of a type no handler takes: kept open, shown with their raw type and data
_UNKNOWN_TASKS = (
    select(RecoreTask)
    .where(RecoreTask.state == "unknown")
    .order_by(RecoreTask.received_at)
    .limit(20)
)


# Register sales whose 早期終了 Yahoo refused (bids, or already won): shown at the top of the popup
# and counted by the badge while the item is still on Yahoo here (staff end it in the store, the
# next sync sees it ended and the line goes).
BLOCKED_WINDOW = timedelta(days=7)
_STILL_LISTED = (
    select(ListingRecord.id)
    .where(
        ListingRecord.management_number == HistoryEntry.management_number,
        ListingRecord.state == "listed",
    )
    .exists()
)


def _blocked(s: Session) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(HistoryEntry)
        .where(
            HistoryEntry.kind == "early_end_blocked",
            HistoryEntry.at >= utcnow() - BLOCKED_WINDOW,
            _STILL_LISTED,
        )
        .order_by(HistoryEntry.id.desc())
        .limit(20)
    )
    out: dict[str | None, dict[str, Any]] = {}
    for row in rows:  # newest first: one line per item
        out.setdefault(
            row.management_number,
            {
                "id": row.id,
                "at": iso(_aware(row.at)),
                "management_number": row.management_number,
                "auction_id": row.auction_id,
                "message": row.message,
                "message_en": row.message_en,
            },
        )
    return list(out.values())


def _task_dict(task: RecoreTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "type": task.type,
        "data": task.data or {},
        "received_at": iso(task.received_at),
        "message": task.message,
    }


def _snapshot(s: Session) -> tuple[Any, ...]:
    """What /status reads from the database (runs in a worker thread, see `Database.read`)."""
    figures = s.execute(_FIGURES).one()
    settings = {row.key: row.value for row in s.scalars(_SETTINGS)}
    jobs = [job_dict(j) for j in s.scalars(_RUNNING_JOBS)]
    errors = [event_dict(e) for e in s.scalars(_LAST_ERRORS)]
    since = utcnow() - timedelta(seconds=CHECKING_AFTER_SECONDS)
    checking = [
        {"key": i.subject, "pressed": i.pressed, "since": iso(i.pressed_at)}
        for i in s.scalars(_CHECKING)
        if i.pressed_at <= since
    ]
    unknown = [_task_dict(t) for t in s.scalars(_UNKNOWN_TASKS)]
    return figures, settings, jobs, errors, checking, unknown, _blocked(s)


async def build_status(app: web.Application) -> dict[str, Any]:
    figures, settings, jobs, errors, checking, unknown, blocked = await app[DB].read(_snapshot)
    oldest = _aware(figures.outbox_oldest)
    sync_state = settings.get("_sync") or {}
    interval = settings.get("sync_interval_minutes")
    return {
        "version": __version__,
        "running_jobs": jobs,
        "sync": {
            "interval_minutes": FIELDS["sync_interval_minutes"].default
            if interval is None
            else interval,
            "last_run_at": sync_state.get("last_run_at"),
            "last_result": sync_state.get("last_result"),
            "next_run_at": sync_state.get("next_run_at"),
            "last_error": sync_state.get("last_error"),
            # full | light (出品中's first page only: the quick check is on), see docs/sync.md
            "last_sync_kind": (sync_state.get("last_summary") or {}).get("sync_kind"),
            # the quick check (interval 1分): when it last ran, and when the next full sync is
            "quick_check": interval == QUICK_CHECK_MINUTES,
            "last_quick_at": sync_state.get("last_quick_at"),
            "last_quick_result": sync_state.get("last_quick_result"),
            "last_quick_error": sync_state.get("last_quick_error"),
            "next_full_at": sync_state.get("next_full_at"),
        },
        "counts": {name: getattr(figures, name) or 0 for name in [*LISTING_STATES, "bidding"]},
        "outbox": {
            "pending": figures.outbox_pending,
            "rejected": figures.outbox_rejected,
            # never negative, even when the PC's clock was set back since it was written
            "oldest_age_seconds": None
            if oldest is None
            else max(0.0, round((utcnow() - oldest).total_seconds(), 1)),
            "last_error": figures.outbox_last_error,
            "max_attempts": figures.outbox_attempts or 0,
            "next_attempt_at": iso(_aware(figures.outbox_next)),
        },
        "recore": {**_recore_part(app, figures.open_tasks), "unknown_tasks": unknown},
        "last_errors": errors,
        # sold at the register, but Yahoo refused 早期終了: staff must act now (popup, badge)
        "early_end_blocked": blocked,
        # the shop's facts file (data dir): none, applied or refused with its line
        "facts": _facts_part(app),
        # which PC leads (runs the syncs, the outbox and the task poll) on a shared database
        "cluster": app[CLUSTER].status(),
        # items whose press (出品する, 早期終了 …) has no known outcome yet: 確認中
        "checking": checking,
        # 確認モード: the writes waiting for staff's 実行 (companion.confirmations)
        "confirmations": await _confirmations_part(app),
    }


async def _confirmations_part(app: web.Application) -> dict[str, Any] | None:
    gate = app.get(CONFIRMATIONS)
    return None if gate is None else await gate.report()


def _recore_part(app: web.Application, open_tasks: int) -> dict[str, Any]:
    service = app.get(RECORE)
    if service is None:
        return {"configured": False, "missing": [], "missing_keys": [], "workers": False}
    return {**service.configuration(), "poll": service.gateway.status(), "open_tasks": open_tasks}


def _facts_part(app: web.Application) -> dict[str, Any]:
    store = app.get(STORE)
    shop = store.shop_facts if store is not None else None
    return {"state": "none"} if shop is None else shop.describe()
