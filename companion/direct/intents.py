"""Durable submit intents: nothing doubled when the companion dies while the store still works.

Before every press that changes the store (出品する, 出品開始, 早期終了, an edit's
「フォルダに保存する」) an intent is written and committed: what, for which item, when. When the
answer is known it is resolved. A companion killed between the two leaves the intent open, and the
store may still finish that request after the restart (a slow 出品する completed ten seconds later
was listed twice before this). So an item with an open intent is **uncertain** (確認中): it is not
pressed again until the store has been read again *after* the grace period, counted from the
press, longer than the store may take to finish a request. Then the store says what happened: the
press went through (recorded as done), or it did not (pressed again).

The grace period is `Config.submit_grace_seconds` (`RECORE_CONNECTOR_SUBMIT_GRACE_SECONDS`).
Measured: the Yahoo sandbox answers 出品する in well under a second. Assumed for the real store:
no request runs longer than its front end's 60 s timeout; the default, 120 s, doubles that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from companion.db import Database
from companion.db.models import SubmitIntent, utcnow

DONE = "done"  # the store shows the change
FAILED = "failed"  # the store refused it (its own words were shown)
NOT_DONE = "not_done"  # after the grace period the store does not show it

CHECKING_JA = "確認中"


@dataclass(frozen=True)
class OpenIntent:
    id: int
    subject: str
    action: str
    pressed: str
    pressed_at: datetime


class Intents:
    def __init__(self, db: Database, grace_seconds: float) -> None:
        self.db = db
        self.grace_seconds = grace_seconds

    async def record(
        self,
        subject: str,
        action: str,
        pressed: str,
        *,
        listing_id: int | None = None,
        task_id: str | None = None,
        job_id: str | None = None,
    ) -> int:
        """Written and committed before the press; returns its id."""
        async with self.db.session() as s, s.begin():
            row = SubmitIntent(
                subject=subject[:64],
                action=action,
                pressed=pressed,
                listing_id=listing_id,
                task_id=task_id,
                job_id=job_id,
                pressed_at=utcnow(),
            )
            s.add(row)
            await s.flush()
            return row.id

    async def resolve(self, intent_id: int | None, outcome: str) -> None:
        if intent_id is None:
            return
        async with self.db.session() as s, s.begin():
            row = await s.get(SubmitIntent, intent_id)
            if row is not None and row.resolved_at is None:
                row.outcome, row.resolved_at = outcome, utcnow()

    async def resolve_all(self, subject: str, action: str, outcome: str) -> None:
        """Every open intent of this item and action (the store has said what happened)."""
        async with self.db.session() as s, s.begin():
            rows = await s.scalars(
                select(SubmitIntent).where(
                    SubmitIntent.subject == subject[:64],
                    SubmitIntent.action == action,
                    SubmitIntent.resolved_at.is_(None),
                )
            )
            now = utcnow()
            for row in rows:
                row.outcome, row.resolved_at = outcome, now

    async def open(self, subject: str, action: str) -> OpenIntent | None:
        """The newest unresolved intent for this item and action (left by a crash)."""
        async with self.db.session() as s:
            row = await s.scalar(
                select(SubmitIntent)
                .where(
                    SubmitIntent.subject == subject[:64],
                    SubmitIntent.action == action,
                    SubmitIntent.resolved_at.is_(None),
                )
                .order_by(SubmitIntent.id.desc())
                .limit(1)
            )
        if row is None:
            return None
        return OpenIntent(row.id, row.subject, row.action, row.pressed, row.pressed_at)

    def seconds_left(self, intent: OpenIntent) -> float:
        """How long until the store must have finished that press. A press time ahead of now
        means the clock was set back since: the whole grace period is waited again."""
        elapsed = (utcnow() - intent.pressed_at).total_seconds()
        if elapsed < 0:
            return self.grace_seconds
        return max(0.0, self.grace_seconds - elapsed)
