"""`GET /api/v1/status`: what staff and the popup need at a glance, in few cheap queries."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from companion import __version__
from companion.db.models import AuctionSnapshot, ListingRecord, OutboxMessage, utcnow
from companion.keys import DB, EVENTS, JOBS, SETTINGS


async def outbox_summary(app: web.Application) -> dict[str, Any]:
    async with app[DB].session() as s:
        pending, oldest = (
            await s.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.state == "pending"
                )
            )
        ).one()
        rejected = await s.scalar(select(func.count()).where(OutboxMessage.state == "rejected"))
        last_error = await s.scalar(
            select(OutboxMessage.last_error)
            .where(OutboxMessage.last_error.is_not(None), OutboxMessage.state != "delivered")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    oldest_age = None
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=utcnow().tzinfo)
        oldest_age = round((utcnow() - oldest).total_seconds(), 1)
    return {
        "pending": pending,
        "rejected": rejected,
        "oldest_age_seconds": oldest_age,
        "last_error": last_error,
    }


async def listing_counts(app: web.Application) -> dict[str, int]:
    async with app[DB].session() as s:
        rows = (
            await s.execute(select(ListingRecord.state, func.count()).group_by(ListingRecord.state))
        ).all()
        bidding = await s.scalar(
            select(func.count()).where(AuctionSnapshot.state == "selling", AuctionSnapshot.bids > 0)
        )
    by_state = {state: count for state, count in rows}
    return {
        "pending": by_state.get("waiting", 0),
        "processing": by_state.get("processing", 0),
        "listed": by_state.get("listed", 0),
        "errors": by_state.get("error", 0),
        "ended": by_state.get("ended", 0),
        "bidding": bidding or 0,
    }


async def build_status(app: web.Application) -> dict[str, Any]:
    from companion.recore.service import recore_status

    settings = app[SETTINGS]
    sync_state = await settings.get_internal("sync", {}) or {}
    recore = await recore_status(app)
    outbox = {**recore.pop("outbox", {}), **await outbox_summary(app)}
    return {
        "version": __version__,
        "running_jobs": await app[JOBS].active(),
        "sync": {
            "interval_minutes": await settings.get("sync_interval_minutes"),
            "last_run_at": sync_state.get("last_run_at"),
            "last_result": sync_state.get("last_result"),
            "next_run_at": sync_state.get("next_run_at"),
            "last_error": sync_state.get("last_error"),
        },
        "counts": await listing_counts(app),
        "outbox": outbox,
        "recore": recore,
        "last_errors": await app[EVENTS].latest(5),
    }
