"""The durable outbox: every result bound for ReCORE, delivered once, in order, never dropped.

Write side — `enqueue(session, …)` adds the message INSIDE the caller's transaction, so a state
change and the report about it commit together (or not at all). The idempotency key makes a
second enqueue of the same change a no-op; task reports use `task_report_key(task_id)`, so a task
is never reported twice, whichever handler tries. Helpers: `enqueue_task_succeeded`,
`enqueue_task_failed`, `enqueue_order_upsert`. After the commit, call `Outbox.wake()`.

Delivery side — `Outbox` sends, per `ordering_key`, the oldest pending message first (so one
listing's or one order's messages arrive in the order they were made), paced by the client's
token buckets. Timeouts, 5xx and network errors are retried with exponential backoff and jitter;
a 429 waits its `Retry-After`; a 401/403 waits for staff to fix the key (an event says so). A
4xx rejection becomes state `rejected` with ReCORE's error kept and an event for staff; nothing is
deleted. A message is `delivered` only after a 2xx. It is all in the database, so a restart (or
another PC's companion taking over) resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from companion.cluster import mutex
from companion.db import Database
from companion.db.models import OutboxMessage, RecoreTask, utcnow
from companion.events import Events
from companion.recore.client import (
    OP_ORDER_UPSERT,
    OP_TASK_FAILED,
    OP_TASK_SUCCEEDED,
    RecoreClient,
    RecoreRateLimited,
    RecoreRejected,
    RecoreUnauthorized,
    RecoreUnavailable,
    failed_body,
)

log = logging.getLogger(__name__)

PENDING = "pending"
DELIVERED = "delivered"
REJECTED = "rejected"
AWAITING = "awaiting"  # held for staff's 実行 (確認モード, companion.confirmations)
EVENT_SOURCE = "recore"


# ---- write side ---------------------------------------------------------------------------------
def task_report_key(task_id: str) -> str:
    """One report per task, succeeded or failed: the second one is a no-op."""
    return f"task-report:{task_id}"


def listing_key(ec_inventory_id: int | str) -> str:
    return f"inventory:{ec_inventory_id}"


def order_key(mall_order_id: str) -> str:
    return f"order:{mall_order_id}"


def message_row(
    operation: str,
    target: str,
    body: dict[str, Any],
    ordering_key: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One outbox row, as every writer stores it."""
    if operation not in (OP_TASK_SUCCEEDED, OP_TASK_FAILED, OP_ORDER_UPSERT):
        raise ValueError(f"unknown outbox operation {operation!r}")
    now = now or utcnow()
    return {
        "idempotency_key": idempotency_key[:200],
        "ordering_key": ordering_key[:100],
        "operation": operation,
        "target": str(target)[:100],
        "body": body,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def order_upsert_row(
    mall_order_id: str, body: dict[str, Any], change_key: str, now: datetime | None = None
) -> dict[str, Any]:
    """`change_key` names this version of the order (e.g. a hash of the body)."""
    return message_row(
        OP_ORDER_UPSERT,
        mall_order_id,
        body,
        order_key(mall_order_id),
        f"order-upsert:{mall_order_id}:{change_key}",
        now,
    )


def _insert_ignoring_duplicates(session: AsyncSession) -> Any | None:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING where the database has it: safe even
    when two writers race on one key."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect not in ("sqlite", "postgresql"):
        return None
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    return insert(OutboxMessage).on_conflict_do_nothing(index_elements=["idempotency_key"])


async def _add_if_new(session: AsyncSession, row: dict[str, Any]) -> bool:
    exists = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == row["idempotency_key"])
    )
    if exists is not None:
        return False
    session.add(OutboxMessage(**row))
    await session.flush()
    return True


async def enqueue_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Add rows in the caller's transaction, in one statement (a first sync may bring thousands
    of orders); an idempotency key already there is skipped."""
    if not rows:
        return
    stmt = _insert_ignoring_duplicates(session)
    if stmt is None:
        for row in rows:
            await _add_if_new(session, row)
        return
    await session.execute(stmt, rows)


async def enqueue(
    session: AsyncSession,
    operation: str,
    target: str,
    body: dict[str, Any],
    ordering_key: str,
    idempotency_key: str,
) -> bool:
    """Add a message in the caller's transaction; False when the idempotency key already exists."""
    row = message_row(operation, target, body, ordering_key, idempotency_key)
    stmt = _insert_ignoring_duplicates(session)
    if stmt is None:
        return await _add_if_new(session, row)
    result = await session.execute(stmt.values(**row))
    return bool(result.rowcount)


async def enqueue_task_succeeded(
    session: AsyncSession, task_id: str, body: dict[str, Any], ordering_key: str
) -> bool:
    added = await enqueue(
        session, OP_TASK_SUCCEEDED, task_id, body, ordering_key, task_report_key(task_id)
    )
    await _mark_task(session, task_id, "reporting", None)
    return added


async def enqueue_task_failed(
    session: AsyncSession,
    task_id: str,
    message: str,
    detail: dict[str, Any] | None,
    ordering_key: str,
) -> bool:
    body = failed_body(message, detail)
    added = await enqueue(
        session, OP_TASK_FAILED, task_id, body, ordering_key, task_report_key(task_id)
    )
    await _mark_task(session, task_id, "reporting", body["message"])
    return added


async def enqueue_order_upsert(
    session: AsyncSession, mall_order_id: str, body: dict[str, Any], change_key: str
) -> bool:
    """`change_key` names this version of the order (e.g. a hash of the body)."""
    row = order_upsert_row(mall_order_id, body, change_key)
    return await enqueue(
        session, row["operation"], row["target"], body, row["ordering_key"], row["idempotency_key"]
    )


async def _mark_task(session: AsyncSession, task_id: str, state: str, message: str | None) -> None:
    task = await session.get(RecoreTask, task_id)
    if task is not None and task.state not in ("reported", "rejected"):
        task.state = state
        if message is not None:
            task.message = message


# ---- delivery side ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: base·factor^(attempt-1), capped, times 1±jitter."""

    base: float = 2.0
    factor: float = 2.0
    max_delay: float = 300.0
    jitter: float = 0.25
    unauthorized_delay: float = 300.0  # a wrong key needs staff; do not hammer ReCORE meanwhile
    idle: float = 30.0  # longest sleep of the loop when nothing is due

    @property
    def longest_wait(self) -> float:
        """No message ever waits longer than this for its next attempt. A `next_attempt_at`
        further ahead than that can only come from the PC's clock being set back since it was
        written: such a message is due at once (a clock step never stalls delivery)."""
        return max(self.max_delay, self.unauthorized_delay) * (1 + self.jitter)

    def delay(self, attempts: int) -> float:
        raw = min(self.max_delay, self.base * self.factor ** max(0, attempts - 1))
        return max(0.0, raw * (1 + random.uniform(-self.jitter, self.jitter)))


@dataclass
class DeliveryResult:
    delivered: int = 0
    rejected: int = 0
    retried: int = 0


class Outbox:
    """Delivers pending messages; `client` is swapped by the service when settings change."""

    def __init__(
        self,
        db: Database,
        client: RecoreClient | None = None,
        *,
        events: Events | None = None,
        policy: RetryPolicy | None = None,
        concurrency: int = 4,
        batch: int = 100,
    ) -> None:
        self.db = db
        self._client = client
        # ReCORE unreachable (or the key refused): hold every delivery until then, so that an
        # outage costs one request per backoff step rather than one per pending message.
        self._hold_until = 0.0
        self.events = events
        self.policy = policy or RetryPolicy()
        self.concurrency = concurrency
        self.batch = batch
        self._wake = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._auth_reported = False
        # another PC's companion leads and delivers: a wake-up is passed on to it
        self.forward_wake: Callable[[], None] | None = None
        # asked before each delivery; False holds the message for staff (companion.confirmations)
        self.gate: Callable[[OutboxMessage], Awaitable[bool]] | None = None

    @property
    def client(self) -> RecoreClient | None:
        return self._client

    @client.setter
    def client(self, client: RecoreClient | None) -> None:
        self._client = client
        self._hold_until = 0.0  # new settings: try at once
        self._auth_reported = False

    def _hold(self, delay: float) -> None:
        self._hold_until = max(self._hold_until, time.monotonic() + delay)

    def held_for(self) -> float:
        return max(0.0, self._hold_until - time.monotonic())

    def wake(self, *, forward: bool = True) -> None:
        """Something was enqueued (after its commit): deliver without waiting for the timer."""
        self._wake.set()
        if forward and self.forward_wake is not None:
            self.forward_wake()

    async def _due_heads(self) -> list[OutboxMessage]:
        """The oldest pending message of each ordering key, if it is due (or its time is
        impossibly far ahead: the clock was set back)."""
        now = utcnow()
        latest_sane = now + timedelta(seconds=self.policy.longest_wait)
        async with self.db.session() as s:
            heads = (
                select(func.min(OutboxMessage.id))
                .where(OutboxMessage.state.in_((PENDING, AWAITING)))  # a held head keeps its place
                .group_by(OutboxMessage.ordering_key)
            ).scalar_subquery()
            rows = await s.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(heads),
                    OutboxMessage.state == PENDING,
                    (OutboxMessage.next_attempt_at <= now)
                    | (OutboxMessage.next_attempt_at > latest_sane),
                )
                .order_by(OutboxMessage.id)
                .limit(self.batch)
            )
            return list(rows.all())

    async def deliver_now(self) -> DeliveryResult:
        """One pass over the due heads (repeats while a pass delivers something)."""
        total = DeliveryResult()
        # two passes at once could send one message twice: one at a time, across companions too
        async with self._pass_lock, mutex(self.db, "recore:outbox"):
            while self.client is not None and not self.held_for():
                result = await self._pass()
                total.delivered += result.delivered
                total.rejected += result.rejected
                total.retried += result.retried
                if not (result.delivered or result.rejected):
                    break
        return total

    async def _pass(self) -> DeliveryResult:
        result = DeliveryResult()
        heads = await self._due_heads()
        if not heads:
            return result
        stop = asyncio.Event()  # ReCORE unreachable: the rest of this pass waits for the next one
        sem = asyncio.Semaphore(self.concurrency)

        async def one(msg: OutboxMessage) -> None:
            async with sem:
                if stop.is_set():
                    return
                outcome = await self._deliver(msg)
                if outcome == "delivered":
                    result.delivered += 1
                elif outcome == "rejected":
                    result.rejected += 1
                elif outcome == "held":
                    pass  # waits for staff's 実行
                else:
                    result.retried += 1
                    if outcome == "unreachable":
                        stop.set()

        # Task reports first: an order that ends a listing must not reach ReCORE before the
        # report that the listing is on Yahoo (a 即決 between a listing and the next sync makes
        # both in one sync), or the report would reopen the ended listing.
        reports = [m for m in heads if m.operation != OP_ORDER_UPSERT]
        await asyncio.gather(*(one(m) for m in reports))
        await asyncio.gather(*(one(m) for m in heads if m.operation == OP_ORDER_UPSERT))
        return result

    async def _deliver(self, msg: OutboxMessage) -> str:
        client = self.client
        if client is None:
            return "unreachable"
        if self.gate is not None and not await self.gate(msg):
            return "held"
        try:
            await client.deliver(msg.operation, msg.target, msg.body)
        except RecoreRateLimited as exc:
            wait = min(exc.retry_after, self.policy.max_delay)  # never beyond the longest wait
            await self._retry_at(msg, wait, exc.message_en, count=False)
            return "retry"
        except RecoreUnavailable as exc:
            hint = min(exc.retry_after or 0.0, self.policy.max_delay)  # a 503's Retry-After
            delay = max(self.policy.delay(msg.attempts + 1), hint)
            self._hold(delay)
            await self._retry_at(msg, delay, exc.message_en)
            log.info("outbox %s (%s): %s; retry in %.1fs", msg.id, msg.operation, exc, delay)
            return "unreachable"
        except RecoreUnauthorized as exc:
            self._hold(self.policy.unauthorized_delay)
            await self._retry_at(msg, self.policy.unauthorized_delay, exc.message_en)
            if not self._auth_reported and self.events is not None:
                self._auth_reported = True
                await self.events.error(EVENT_SOURCE, exc.message, exc.message_en)
            return "unreachable"
        except RecoreRejected as exc:
            await self._reject(msg, exc)
            return "rejected"
        except Exception as exc:
            # a bug must not kill the loop nor lose the message: keep it pending, back off
            log.exception("outbox %s: unexpected error", msg.id)
            await self._retry_at(
                msg, self.policy.delay(msg.attempts + 1), f"unexpected {type(exc).__name__}"
            )
            return "retry"
        self._auth_reported = False
        await self._delivered(msg)
        return "delivered"

    async def _retry_at(
        self, msg: OutboxMessage, delay: float, error: str, count: bool = True
    ) -> None:
        async with self.db.session() as s, s.begin():
            row = await s.get(OutboxMessage, msg.id)
            if row is None or row.state != PENDING:
                return
            if count:
                row.attempts += 1
            row.next_attempt_at = utcnow() + timedelta(seconds=delay)
            row.last_error = error[:1000]

    async def _delivered(self, msg: OutboxMessage) -> None:
        async with self.db.session() as s, s.begin():
            row = await s.get(OutboxMessage, msg.id)
            if row is None:
                return
            row.state = DELIVERED
            row.attempts += 1
            row.delivered_at = utcnow()
            row.last_error = None
            if row.operation in (OP_TASK_SUCCEEDED, OP_TASK_FAILED):
                task = await s.get(RecoreTask, row.target)
                if task is not None:
                    task.state = "reported"
                    task.reported_at = row.delivered_at
                    # the last step of a task's path, measured in real use (history shows it too)
                    seen = task.received_at
                    if seen is not None and seen.tzinfo is None:
                        seen = seen.replace(tzinfo=UTC)
                    log.info(
                        "task %s (%s) reported to ReCORE %.1f s after the poll saw it",
                        task.id,
                        task.type,
                        (row.delivered_at - seen).total_seconds() if seen else -1.0,
                    )

    async def _reject(self, msg: OutboxMessage, exc: RecoreRejected) -> None:
        what = _describe(msg)
        async with self.db.session() as s, s.begin():
            row = await s.get(OutboxMessage, msg.id)
            if row is None:
                return
            row.state = REJECTED
            row.attempts += 1
            row.last_error = f"{exc.message_en} | {exc.message}"[:1000]
            if row.operation in (OP_TASK_SUCCEEDED, OP_TASK_FAILED):
                task = await s.get(RecoreTask, row.target)
                if task is not None:
                    task.state = "rejected"
                    task.message = exc.message[:1000]
        log.warning("outbox %s rejected: %s: %s", msg.id, what[1], exc.message_en)
        if self.events is not None:
            await self.events.error(
                EVENT_SOURCE, f"{what[0]}: {exc.message}", f"{what[1]}: {exc.message_en}"
            )

    async def next_due_in(self) -> float | None:
        """Seconds until the earliest pending head is due (0 if now), None when nothing is pending."""
        async with self.db.session() as s:
            earliest: datetime | None = await s.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.state == PENDING
                )
            )
        if earliest is None:
            return None
        ahead = (earliest - utcnow()).total_seconds()
        if ahead > self.policy.longest_wait:
            ahead = 0.0  # written before the clock was set back: due now (see _due_heads)
        return max(0.0, ahead, self.held_for())

    async def pending_count(self) -> int:
        async with self.db.session() as s:
            return int(
                await s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.state == PENDING)
                )
                or 0
            )

    async def drain(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109 - CLI/tests API
        """Deliver until nothing is pending or `timeout` passes; returns how many are left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self.deliver_now()
            wait = await self.next_due_in()
            if wait is None:
                return 0
            left = deadline - loop.time()
            if left <= 0 or self.client is None:
                return await self.pending_count()
            await asyncio.sleep(min(max(wait, 0.01), left))

    async def run(self) -> None:
        """The delivery loop (cancel it to stop). Sleeps until the next message is due or woken."""
        await delivery_loop("outbox", self.deliver_now, self.next_due_in, self._wake, self.policy)


async def delivery_loop(
    name: str,
    deliver_now: Callable[[], Awaitable[object]],
    next_due_in: Callable[[], Awaitable[float | None]],
    wake: asyncio.Event,
    policy: RetryPolicy,
) -> None:
    """A durable queue's loop (the outbox's, the alerts'): deliver what is due, then sleep until
    the next is due, `wake` is set or `policy.idle` has passed. A failed pass is logged and tried
    again after `policy.base`; cancel the loop to stop it."""
    while True:
        wake.clear()
        try:
            await deliver_now()
            wait = await next_due_in()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: a delivery pass failed", name)
            wait = policy.base
        sleep = policy.idle if wait is None else min(max(wait, 0.05), policy.idle)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=sleep)


async def requeue_rejected(db: Database, ids: list[int] | None = None) -> int:
    """Send rejected messages again (after staff fixed the cause in ReCORE); returns how many."""
    async with db.session() as s, s.begin():
        query = select(OutboxMessage).where(OutboxMessage.state == REJECTED)
        if ids is not None:
            query = query.where(OutboxMessage.id.in_(ids))
        rows = (await s.scalars(query)).all()
        for row in rows:
            row.state = PENDING
            row.next_attempt_at = utcnow()
            if row.operation in (OP_TASK_SUCCEEDED, OP_TASK_FAILED):
                task = await s.get(RecoreTask, row.target)
                if task is not None and task.state == "rejected":
                    task.state = "reporting"
    return len(rows)


def _describe(msg: OutboxMessage) -> tuple[str, str]:
    """What a message is, for staff (ja) and logs (en)."""
    if msg.operation == OP_ORDER_UPSERT:
        return f"受注 {msg.target} の送信", f"order upsert {msg.target}"
    kind = "成功" if msg.operation == OP_TASK_SUCCEEDED else "失敗"
    return f"タスク {msg.target} の{kind}報告", f"task {msg.target} {msg.operation}"
