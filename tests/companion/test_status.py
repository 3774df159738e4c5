"""`GET /api/v1/status`: what the popup shows at a glance."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from companion.db.models import OutboxMessage, utcnow
from companion.keys import DB


async def test_status_says_how_long_the_oldest_result_has_waited(
    companion: TestClient, auth: dict[str, str]
) -> None:
    now = utcnow()
    async with companion.app[DB].session() as s, s.begin():
        s.add(
            OutboxMessage(
                idempotency_key="order-upsert:Y-1:a",
                ordering_key="order:Y-1",
                operation="order_upsert",
                target="Y-1",
                body={},
                created_at=now - timedelta(minutes=10),
                next_attempt_at=now + timedelta(seconds=30),
                attempts=3,
                last_error="HTTP 503",
            )
        )
    resp = await companion.get("/api/v1/status", headers=auth)
    assert resp.status == 200
    outbox = (await resp.json())["outbox"]
    assert outbox["pending"] == 1
    assert 600 <= outbox["oldest_age_seconds"] < 660
    assert outbox["next_attempt_at"] is not None and outbox["next_attempt_at"].endswith("Z")
    assert outbox["max_attempts"] == 3


async def test_status_with_nothing_waiting_has_no_age(
    companion: TestClient, auth: dict[str, str]
) -> None:
    outbox = (await (await companion.get("/api/v1/status", headers=auth)).json())["outbox"]
    assert outbox["pending"] == 0
    assert outbox["oldest_age_seconds"] is None and outbox["next_attempt_at"] is None
