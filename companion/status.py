"""`GET /api/v1/status`: what staff and the popup need at a glance.

The popup polls this every few seconds while jobs run, so its database part is one synchronous
read (`Database.read`) of a few statements (every count in one, the settings it needs, the
running jobs, the latest errors, the presses without an outcome, unknown tasks, refused early
ends, the writes waiting for 実行), taken again only after something was committed
(`Database.read_cached`): an idle companion answers from memory. What passes with time alone
(確認中 after 10 s, the 7-day window of refused early ends, the outbox's age) is worked out when
answering, and the services' in-memory parts are read each time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from aiohttp import web
from sqlalchemy import Result, Row, Select, func, select
from sqlalchemy.orm import Session

from companion import __version__, confirmations
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
from companion.keys import CLUSTER, CONFIG, CONFIRMATIONS, DB, RECORE, STORE
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
_SETTINGS = select(Setting.__table__).where(
    Setting.key.in_(("_sync", "sync_interval_minutes", *confirmations.SETTING_KEYS))
)
_RUNNING_JOBS = select(Job.__table__).where(Job.state.in_(ACTIVE_STATES)).order_by(Job.created_at)
# presses made without a known outcome for a while: those items are 確認中 (companion.direct.intents)
CHECKING_AFTER_SECONDS = 10
_CHECKING = (
    select(SubmitIntent.__table__)
    .where(SubmitIntent.resolved_at.is_(None))
    .order_by(SubmitIntent.id)
    .limit(20)
)
_LAST_ERRORS = (
    select(EventLog.__table__)
    .where(EventLog.level == "error")
    .order_by(EventLog.id.desc())
    .limit(5)
)
# Tasks of a type no handler takes: kept open, shown with their raw type and data
_UNKNOWN_TASKS = (
    select(RecoreTask.__table__)
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


def _rows(s: Session, statement: Select[Any]) -> Result[Any]:
    """Rows, not ORM objects: the columns by name at a quarter less cost (a /status read while
    a job runs is taken again at most polls, see `build_status`)."""
    return s.connection().execute(statement)


# A row kept with the time it is shown by: times pass while a snapshot is kept (`_shown`)
Timed = tuple[datetime, dict[str, Any]]


def _blocked(s: Session) -> list[Timed]:
    rows = _rows(
        s,
        select(HistoryEntry.__table__)
        .where(
            HistoryEntry.kind == "early_end_blocked",
            # the window is applied again when answering: this read may be kept a while
            HistoryEntry.at >= utcnow() - BLOCKED_WINDOW,
            _STILL_LISTED,
        )
        .order_by(HistoryEntry.id.desc())
        .limit(20),
    )
    out: dict[str | None, Timed] = {}
    for row in rows:  # newest first: one line per item
        at = _aware(row.at)
        assert at is not None  # a history entry always has its time
        out.setdefault(
            row.management_number,
            (
                at,
                {
                    "id": row.id,
                    "at": iso(at),
                    "management_number": row.management_number,
                    "auction_id": row.auction_id,
                    "message": row.message,
                    "message_en": row.message_en,
                },
            ),
        )
    return list(out.values())


def _task_dict(task: RecoreTask | Row[Any]) -> dict[str, Any]:
    return {
        "id": task.id,
        "type": task.type,
        "data": task.data or {},
        "received_at": iso(task.received_at),
        "message": task.message,
    }


class Snapshot(NamedTuple):
    """What /status reads from the database, kept while nothing is committed
    (`Database.read_cached`): shared between requests, never changed."""

    figures: Any
    settings: dict[str, Any]
    jobs: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    unresolved: list[Timed]  # presses without a known outcome (確認中 after a while)
    unknown: list[dict[str, Any]]
    blocked: list[Timed]
    waiting: confirmations.Waiting


def _snapshot(s: Session) -> Snapshot:
    return Snapshot(
        figures=s.execute(_FIGURES).one(),
        settings={row.key: row.value for row in _rows(s, _SETTINGS)},
        jobs=[job_dict(j) for j in _rows(s, _RUNNING_JOBS)],
        errors=[event_dict(e) for e in _rows(s, _LAST_ERRORS)],
        unresolved=[
            (i.pressed_at, {"key": i.subject, "pressed": i.pressed, "since": iso(i.pressed_at)})
            for i in _rows(s, _CHECKING)
        ],
        unknown=[_task_dict(t) for t in _rows(s, _UNKNOWN_TASKS)],
        blocked=_blocked(s),
        waiting=confirmations.read_waiting(s),
    )


def _shown(
    rows: list[Timed], before: datetime, after: datetime | None = None
) -> list[dict[str, Any]]:
    """The rows whose time is in the window now."""
    return [row for at, row in rows if at <= before and (after is None or at >= after)]


async def build_status(app: web.Application) -> dict[str, Any]:
    snap = await app[DB].read_cached(_snapshot)
    figures, settings = snap.figures, snap.settings
    now = utcnow()
    oldest = _aware(figures.outbox_oldest)
    sync_state = settings.get("_sync") or {}
    interval = settings.get("sync_interval_minutes")
    return {
        "version": __version__,
        "running_jobs": snap.jobs,
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
            else max(0.0, round((now - oldest).total_seconds(), 1)),
            "last_error": figures.outbox_last_error,
            "max_attempts": figures.outbox_attempts or 0,
            "next_attempt_at": iso(_aware(figures.outbox_next)),
        },
        "recore": {**_recore_part(app, figures.open_tasks), "unknown_tasks": snap.unknown},
        "last_errors": snap.errors,
        # sold at the register, but Yahoo refused 早期終了: staff must act now (popup, badge)
        "early_end_blocked": _shown(snap.blocked, now, now - BLOCKED_WINDOW),
        # the shop's facts file (data dir): none, applied or refused with its line
        "facts": _facts_part(app),
        # which PC leads (runs the syncs, the outbox and the task poll) on a shared database
        "cluster": app[CLUSTER].status(),
        # items whose press (出品する, 早期終了 …) has no known outcome yet: 確認中
        "checking": _shown(snap.unresolved, now - timedelta(seconds=CHECKING_AFTER_SECONDS)),
        # 確認モード: the writes waiting for staff's 実行 (companion.confirmations)
        "confirmations": _confirmations_part(app, settings, snap.waiting),
    }


def _confirmations_part(
    app: web.Application, settings: dict[str, Any], waiting: confirmations.Waiting
) -> dict[str, Any] | None:
    if app.get(CONFIRMATIONS) is None:
        return None
    enabled, required = confirmations.mode_of(settings, app[CONFIG].confirm_first_writes)
    return confirmations.report_of(enabled, required, waiting)


def _recore_part(app: web.Application, open_tasks: int) -> dict[str, Any]:
    service = app.get(RECORE)
    if service is None:
        return {"configured": False, "missing": [], "missing_keys": [], "workers": False}
    return {**service.configuration(), "poll": service.gateway.status(), "open_tasks": open_tasks}


def _facts_part(app: web.Application) -> dict[str, Any]:
    store = app.get(STORE)
    shop = store.shop_facts if store is not None else None
    return {"state": "none"} if shop is None else shop.describe()
