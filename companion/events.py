"""Staff-facing errors and notices: stored for `GET /status`, logged in English."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Row, select

from companion.db import Database
from companion.db.models import EventLog, iso

log = logging.getLogger("companion.events")


class Events:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, level: str, source: str, message: str, message_en: str) -> None:
        getattr(log, "error" if level == "error" else "info")("[%s] %s", source, message_en)
        async with self._db.session() as s, s.begin():
            s.add(EventLog(level=level, source=source, message=message, message_en=message_en))

    async def error(self, source: str, message: str, message_en: str) -> None:
        await self.record("error", source, message, message_en)

    async def latest(self, limit: int = 5, level: str = "error") -> list[dict[str, Any]]:
        async with self._db.session() as s:
            rows = (
                await s.scalars(
                    select(EventLog)
                    .where(EventLog.level == level)
                    .order_by(EventLog.id.desc())
                    .limit(limit)
                )
            ).all()
        return [event_dict(r) for r in rows]


def event_dict(event: EventLog | Row[Any]) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "source": event.source,
        "message": event.message,
        "message_en": event.message_en,
    }
