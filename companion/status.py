"""`GET /api/v1/status`: what staff and the popup need at a glance.

The popup polls this every few seconds while jobs run, so it is read in one worker thread hop
(`Database.read`) with four statements (every count in one, the settings it needs, the running
jobs, the latest errors), plus what the services hold in memory. Nothing here waits behind the
event loop between statements, so a busy loop (Chromium driving a listing) delays it once at most.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from companion import __version__
from companion.db.models import (
    AuctionSnapshot,
    EventLog,
    Job,
    ListingRecord,
    OutboxMessage,
    RecoreTask,
    Setting,
    iso,
    utcnow,
)
from companion.events import event_dict
from companion.jobs import ACTIVE_STATES, job_dict
from companion.keys import CLUSTER, DB, RECORE
from companion.settings import FIELDS

LISTING_STATES = {
    "pending": "waiting",
    "processing": "processing",
    "listed": "listed",
    "errors": "error",
    "ended": "ended",
}


def _count(model: Any, *where: Any) -> Any:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes from aggregate functions
    return None if value is None or value.tzinfo else value.replace(tzinfo=UTC)


_PENDING_OUTBOX = OutboxMessage.state == "pending"
# The statements are built once: building them costs more than running them on a small database.
_FIGURES = select(
    *(
        _count(ListingRecord, ListingRecord.state == state).label(name)
        for name, state in LISTING_STATES.items()
    ),
    _count(AuctionSnapshot, AuctionSnapshot.state == "selling", AuctionSnapshot.bids > 0).label(
        "bidding"
    ),
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
_LAST_ERRORS = (
    select(EventLog).where(EventLog.level == "error").order_by(EventLog.id.desc()).limit(5)
)


def _snapshot(s: Session) -> tuple[Any, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """What /status reads from the database (runs in a worker thread, see `Database.read`)."""
    figures = s.execute(_FIGURES).one()
    settings = {row.key: row.value for row in s.scalars(_SETTINGS)}
    jobs = [job_dict(j) for j in s.scalars(_RUNNING_JOBS)]
    errors = [event_dict(e) for e in s.scalars(_LAST_ERRORS)]
    return figures, settings, jobs, errors


async def build_status(app: web.Application) -> dict[str, Any]:
    figures, settings, jobs, errors = await app[DB].read(_snapshot)
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
        },
        "counts": {name: getattr(figures, name) or 0 for name in [*LISTING_STATES, "bidding"]},
        "outbox": {
            "pending": figures.outbox_pending,
            "rejected": figures.outbox_rejected,
            "oldest_age_seconds": None
            if oldest is None
            else round((utcnow() - oldest).total_seconds(), 1),
            "last_error": figures.outbox_last_error,
            "max_attempts": figures.outbox_attempts or 0,
            "next_attempt_at": iso(_aware(figures.outbox_next)),
        },
        "recore": _recore_part(app, figures.open_tasks),
        "last_errors": errors,
        # which PC leads (runs the syncs, the outbox and the task poll) on a shared database
        "cluster": app[CLUSTER].status(),
    }


def _recore_part(app: web.Application, open_tasks: int) -> dict[str, Any]:
    service = app.get(RECORE)
    if service is None:
        return {"configured": False, "missing": [], "missing_keys": [], "workers": False}
    return {**service.configuration(), "poll": service.gateway.status(), "open_tasks": open_tasks}
