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
    Waiting ordinary requests let every waiting urgent one go first."""

    def __init__(self, limit: int, reserved: int = 1) -> None:
        self.limit = max(1, limit)
        self.reserved = max(0, reserved)
        self.in_use = 0
        self.urgent_waiting = 0
        self.waiting = 0  # ordinary requests queued
        self.urgent_served = 0  # urgent requests let through (logs and tests)
        self._changed = asyncio.Condition()

    def _urgent_may_go(self) -> bool:
        return self.in_use < self.limit + self.reserved

    def _ordinary_may_go(self) -> bool:
        return self.in_use < self.limit and self.urgent_waiting == 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        first = is_urgent()
        async with self._changed:
            if first:
                self.urgent_waiting += 1
                try:
                    await self._changed.wait_for(self._urgent_may_go)
                finally:
                    self.urgent_waiting -= 1
                self.urgent_served += 1
            else:
                self.waiting += 1
                try:
                    await self._changed.wait_for(self._ordinary_may_go)
                finally:
                    self.waiting -= 1
            self.in_use += 1
        try:
            yield
        finally:
            async with self._changed:
                self.in_use -= 1
                self._changed.notify_all()
