"""The store session's request limit: urgent requests (a sale at the register) pass the queued
pages of a long read, ordinary ones keep their order, a cancelled waiter gives its turn on."""

from __future__ import annotations

import asyncio

from scrapers.priority import PriorityLimiter, urgent


async def settle() -> None:
    for _ in range(20):  # let every ready task run up to its next wait
        await asyncio.sleep(0)


async def test_urgent_requests_go_between_queued_pages_and_cancelled_ones_leave_the_line() -> None:
    limiter = PriorityLimiter(2)
    served: list[str] = []
    release = asyncio.Event()

    async def request(name: str, *, hold: bool = False) -> None:
        async with limiter.slot():
            served.append(name)
            if hold:
                await release.wait()

    async def urgent_request(name: str) -> None:
        with urgent():
            await request(name)

    pages = [asyncio.create_task(request(f"page{i}", hold=i < 2)) for i in range(6)]
    await settle()
    assert (limiter.in_use, limiter.waiting) == (2, 4)  # two pages in flight, four in line

    sale = asyncio.create_task(urgent_request("sale"))
    await settle()
    assert served == ["page0", "page1", "sale"]  # its own lane: it waited for no page
    assert limiter.urgent_served == 1

    pages[3].cancel()
    release.set()
    await asyncio.gather(*pages, sale, return_exceptions=True)
    assert served == ["page0", "page1", "sale", "page2", "page4", "page5"]
    assert (limiter.in_use, limiter.waiting, limiter.urgent_waiting) == (0, 0, 0)
