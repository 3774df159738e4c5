"""The durable alert queue: every alert reaches each chosen channel once, however long it is down.

Write side — `enqueue(session, entries)` is a history listener: inside the transaction that writes
new history entries, one `AlertDelivery` per (entry, channel that is on and wants that kind), keyed
`<history key>:<channel>`, so nothing is queued twice; the recorder wakes the queue after
its commit. Entries older than `ALERT_WINDOW` (a
history caught up after a long stop) are history only, not news.

Delivery side — `AlertQueue.run()` sends due deliveries in order, one channel at a time each,
channels side by side, never in the way of a sync or a listing (its own task and connections).
A delivery is `sent` only after the channel said yes; the retry key keeps LINE and mail from
doubling a message whose answer was lost. Failures (`channels.ChannelError`):
down → exponential backoff with jitter, the whole channel waits; rate → the wait the channel asks
for; auth/config → retried slowly until staff fix the setting (a successful テスト送信 retries at
once); rejected → given up (`failed`). A channel switched off drops its pending deliveries. After
`MAX_AGE` a delivery that never got through is given up too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.alerts.channels import Alert, AlertEndpoints, ChannelError, send
from companion.alerts.config import CHANNEL_LABELS, CHANNELS, AlertConfig
from companion.db import Database
from companion.db.models import AlertDelivery, HistoryEntry, iso, utcnow
from companion.history import KINDS, local_zone
from companion.recore.outbox import RetryPolicy, delivery_loop

log = logging.getLogger(__name__)

PENDING, SENT, FAILED, DROPPED = "pending", "sent", "failed", "dropped"
ALERT_WINDOW = timedelta(hours=6)
MAX_AGE = timedelta(hours=24)


@dataclass
class QueueOptions:
    policy: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(
            base=5.0, max_delay=600.0, unauthorized_delay=600.0, idle=30.0
        )
    )


def render(entry: HistoryEntry) -> tuple[str, str]:
    """Title and text of an alert: what happened, the item, the auction, when."""
    label = KINDS.get(entry.kind, (entry.kind, entry.kind))[0]
    lines = [entry.message]
    if entry.management_number:
        lines.append(f"管理番号: {entry.management_number}")
    if entry.auction_id:
        lines.append(f"オークション: {entry.auction_id}")
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=utcnow().tzinfo)
    lines.append(f"日時: {at.astimezone(local_zone()).strftime('%Y-%m-%d %H:%M')}")
    return f"【ReCORE Connector】{label}", "\n".join(lines)


class AlertQueue:
    def __init__(
        self,
        db: Database,
        config: AlertConfig,
        endpoints: AlertEndpoints,
        options: QueueOptions | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.endpoints = endpoints
        self.policy = (options or QueueOptions()).policy
        self.http: aiohttp.ClientSession | None = None
        self._held_until: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._test_lock = asyncio.Lock()

    async def start(self) -> None:
        self.http = aiohttp.ClientSession()

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()

    def wake(self) -> None:
        self._wake.set()

    # -- write side ------------------------------------------------------------------------------
    async def enqueue(self, s: AsyncSession, entries: list[HistoryEntry]) -> None:
        now = utcnow()
        rows: list[AlertDelivery] = []
        for entry in entries:
            at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=now.tzinfo)
            if now - at > ALERT_WINDOW:
                continue
            for channel in CHANNELS:
                if not self.config.enabled(channel) or entry.kind not in self.config.kinds(channel):
                    continue
                title, body = render(entry)
                rows.append(
                    AlertDelivery(
                        key=f"{entry.key}:{channel}"[:240],
                        channel=channel,
                        kind=entry.kind,
                        title=title,
                        body=body,
                        retry_key=str(uuid.uuid4()),
                        state=PENDING,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        if not rows:
            return
        existing = set(
            (
                await s.scalars(
                    select(AlertDelivery.key).where(AlertDelivery.key.in_([r.key for r in rows]))
                )
            ).all()
        )
        s.add_all([r for r in rows if r.key not in existing])

    # -- delivery side -----------------------------------------------------------------------------
    def held_for(self, channel: str) -> float:
        return max(0.0, self._held_until.get(channel, 0.0) - time.monotonic())

    def _hold(self, channel: str, seconds: float) -> None:
        self._held_until[channel] = max(
            self._held_until.get(channel, 0.0), time.monotonic() + seconds
        )

    async def deliver_now(self) -> dict[str, int]:
        """One pass: every channel's due deliveries, oldest first, until one fails."""
        async with self._pass_lock:
            counts = {"sent": 0, "retried": 0, "failed": 0, "dropped": 0}
            await self._drop_and_expire(counts)
            results = await asyncio.gather(
                *(self._channel_pass(c) for c in CHANNELS if not self.held_for(c))
            )
            for result in results:
                for key, value in result.items():
                    counts[key] += value
            return counts

    async def _drop_and_expire(self, counts: dict[str, int]) -> None:
        now = utcnow()
        off = [c for c in CHANNELS if not self.config.enabled(c)]
        async with self.db.session() as s, s.begin():
            if off:
                counts["dropped"] += (
                    await s.execute(
                        update(AlertDelivery)
                        .where(AlertDelivery.state == PENDING, AlertDelivery.channel.in_(off))
                        .values(state=DROPPED, last_error="送信がオフにされたため送りませんでした")
                    )
                ).rowcount
            counts["failed"] += (
                await s.execute(
                    update(AlertDelivery)
                    .where(AlertDelivery.state == PENDING, AlertDelivery.created_at < now - MAX_AGE)
                    .values(state=FAILED)
                )
            ).rowcount

    async def _channel_pass(self, channel: str) -> dict[str, int]:
        counts = {"sent": 0, "retried": 0, "failed": 0}
        async with self.db.session() as s:
            due = list(
                (
                    await s.scalars(
                        select(AlertDelivery)
                        .where(
                            AlertDelivery.state == PENDING,
                            AlertDelivery.channel == channel,
                            AlertDelivery.next_attempt_at <= utcnow(),
                        )
                        .order_by(AlertDelivery.id)
                        .limit(50)
                    )
                ).all()
            )
        if not due:
            return counts
        config = self.config.channel(channel)
        secret = await self.config.secret(channel)
        for delivery in due:
            if not self.config.enabled(channel):
                break
            try:
                await self._send(channel, config, secret, delivery)
            except ChannelError as exc:
                if exc.sort == "rejected":
                    await self._set(delivery, state=FAILED, error=exc.ja)
                    counts["failed"] += 1
                    continue
                delay = self._delay(exc, delivery.attempts + 1)
                self._hold(channel, delay)
                await self._set(delivery, error=exc.ja, delay=delay, count=exc.sort != "rate")
                log.info("alert %s (%s): %s; retry in %.0fs", delivery.id, channel, exc.en, delay)
                counts["retried"] += 1
                break  # the rest of this channel waits: in order, and no hammering
            except Exception:
                log.exception("alert %s (%s): unexpected error", delivery.id, channel)
                delay = self.policy.delay(delivery.attempts + 1)
                self._hold(channel, delay)
                await self._set(
                    delivery, error="予期しないエラー（ログを確認してください）", delay=delay
                )
                counts["retried"] += 1
                break
            else:
                await self._set(delivery, state=SENT)
                counts["sent"] += 1
        return counts

    def _delay(self, exc: ChannelError, attempts: int) -> float:
        if exc.sort == "rate":
            return min(max(exc.retry_after or 0.0, 1.0), 3600.0)
        if exc.sort in ("auth", "config"):
            return self.policy.unauthorized_delay
        return self.policy.delay(attempts)

    async def _send(
        self, channel: str, config: dict[str, Any], secret: str | None, delivery: AlertDelivery
    ) -> None:
        assert self.http is not None, "start() first"
        alert = Alert(delivery.title, delivery.body, delivery.retry_key)
        await send(channel, self.http, self.endpoints, config, secret, alert)

    async def _set(
        self,
        delivery: AlertDelivery,
        *,
        state: str | None = None,
        error: str | None = None,
        delay: float | None = None,
        count: bool = True,
    ) -> None:
        async with self.db.session() as s, s.begin():
            row = await s.get(AlertDelivery, delivery.id)
            if row is None or row.state != PENDING:
                return
            if count:
                row.attempts += 1
            if state is not None:
                row.state = state
            if state == SENT:
                row.sent_at = utcnow()
                row.last_error = None
            elif error is not None:
                row.last_error = error[:1000]
            if delay is not None:
                row.next_attempt_at = utcnow() + timedelta(seconds=delay)

    async def run(self) -> None:
        """The delivery loop (cancel it to stop)."""
        await delivery_loop("alerts", self.deliver_now, self.next_due_in, self._wake, self.policy)

    async def next_due_in(self) -> float | None:
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(AlertDelivery.channel, func.min(AlertDelivery.next_attempt_at))
                    .where(AlertDelivery.state == PENDING)
                    .group_by(AlertDelivery.channel)
                )
            ).all()
        if not rows:
            return None
        now = utcnow()
        waits = []
        for channel, earliest in rows:
            earliest = earliest if earliest.tzinfo else earliest.replace(tzinfo=now.tzinfo)
            waits.append(max((earliest - now).total_seconds(), self.held_for(channel), 0.0))
        return min(waits)

    # -- テスト送信 and status ------------------------------------------------------------------------
    async def test_send(self, channel: str) -> dict[str, Any]:
        """Send a test message now with the saved settings; say in Japanese what went wrong."""
        label = CHANNEL_LABELS[channel]
        missing = self.config.missing(channel)
        if missing:
            from companion.alerts.config import LABELS

            names = "・".join(LABELS.get(m, m) for m in missing)
            return {
                "ok": False,
                "error": {
                    "code": "CHANNEL_INCOMPLETE",
                    "message": f"{label}の設定が足りません（{names}）。入力して保存してから送ってください。",
                    "message_en": f"{channel}: missing {', '.join(missing)}",
                },
            }
        now = utcnow().astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")
        alert = Alert(
            "【ReCORE Connector】テスト送信",
            f"ReCORE Connector からのテストメッセージです（{now}）。\n"
            "このメッセージが届いていれば、通知の設定は正しくできています。",
            str(uuid.uuid4()),
        )
        async with self._test_lock:
            try:
                await self._send(
                    channel, self.config.channel(channel), await self.config.secret(channel), alert
                )
            except ChannelError as exc:
                log.info("test alert on %s failed: %s", channel, exc.en)
                return {"ok": False, "error": exc.as_dict()}
        log.info("test alert on %s sent", channel)
        # staff fixed it: what waited for the fix goes now
        self._held_until.pop(channel, None)
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(AlertDelivery)
                .where(AlertDelivery.state == PENDING, AlertDelivery.channel == channel)
                .values(next_attempt_at=utcnow())
            )
        self.wake()
        return {
            "ok": True,
            "message": f"{label}にテストメッセージを送りました。届いたか確認してください。",
            "message_en": f"test message sent on {channel}",
        }

    async def status(self) -> dict[str, Any]:
        async with self.db.session() as s:
            counts = (
                await s.execute(
                    select(AlertDelivery.channel, AlertDelivery.state, func.count()).group_by(
                        AlertDelivery.channel, AlertDelivery.state
                    )
                )
            ).all()
            out: dict[str, Any] = {}
            for channel in CHANNELS:
                last_error = await s.scalar(
                    select(AlertDelivery.last_error)
                    .where(
                        AlertDelivery.channel == channel,
                        AlertDelivery.last_error.is_not(None),
                        AlertDelivery.state.in_((PENDING, FAILED)),
                    )
                    .order_by(AlertDelivery.id.desc())
                    .limit(1)
                )
                last_sent = await s.scalar(
                    select(func.max(AlertDelivery.sent_at)).where(AlertDelivery.channel == channel)
                )
                out[channel] = {
                    "pending": 0,
                    "sent": 0,
                    "failed": 0,
                    "last_error": last_error,
                    "last_sent_at": iso(
                        last_sent
                        if last_sent is None or last_sent.tzinfo
                        else last_sent.replace(tzinfo=utcnow().tzinfo)
                    ),
                }
        for channel, state, number in counts:
            if channel in out and state in out[channel]:
                out[channel][state] = number
        return out
