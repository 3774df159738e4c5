"""Urgent store work: requests that must not queue behind a long read.

An item sold at the shop's register ends its auction (早期終了) through the same store session that
a full sync or a direct listing may be using to read hundreds of pages. Those reads are queued on a
limit of requests at a time; an urgent request (marked with `urgent()`, which follows the task it
was entered in through every await) takes a lane of its own on top of that limit, so it waits for
no page, only for other urgent requests. The long read simply goes on with its next page after it.
Only the order of requests changes: what each one does, and what is written, does not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar

_URGENT: ContextVar[bool] = ContextVar("store_urgent", default=False)


@contextlib.contextmanager
def urgent() -> Iterator[None]:
    """Store requests made inside (by this task and the tasks it starts) go first."""
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


def is_urgent() -> bool:
    return _URGENT.get()


class PriorityLimiter:
    """At most `limit` requests at a time, plus `reserved` lanes only urgent requests may use.
    Waiting ordinary requests let every waiting urgent one go first. A slot freed is handed to
    the next waiter directly (no crowd of waiters woken for each of a sync's hundreds of pages)."""

    def __init__(self, limit: int, reserved: int = 1) -> None:
        self.limit = max(1, limit)
        self.reserved = max(0, reserved)
        self.in_use = 0
        self.urgent_served = 0  # urgent requests let through (logs and tests)
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Ordinary requests queued."""
        return len(self._ordinary)

    @property
    def urgent_waiting(self) -> int:
        return len(self._urgent)

    def _may_take(self, first: bool) -> bool:
        if first:
            return self.in_use < self.limit + self.reserved
        return self.in_use < self.limit and not self._urgent

    def _hand_on(self) -> None:
        """Give free slots to the waiters: urgent ones first, then ordinary ones in order."""
        while True:
            if self._urgent and self._may_take(True):
                queue, first = self._urgent, True
            elif self._ordinary and self._may_take(False):
                queue, first = self._ordinary, False
            else:
                return
            waiter = queue.popleft()
            if waiter.done():  # cancelled while it waited
                continue
            self.in_use += 1
            if first:
                self.urgent_served += 1
            waiter.set_result(None)

    async def _take(self, first: bool) -> None:
        queue = self._urgent if first else self._ordinary
        if not queue and self._may_take(first):
            self.in_use += 1
            if first:
                self.urgent_served += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._give_back()  # handed a slot in the same instant: not used
            else:
                with contextlib.suppress(ValueError):
                    queue.remove(waiter)
            raise

    def _give_back(self) -> None:
        self.in_use -= 1
        self._hand_on()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._take(is_urgent())
        try:
            yield
        finally:
            self._give_back()
