"""The pause between 出品する presses holds across every page (one Pacer per companion)."""

from __future__ import annotations

import asyncio

from companion.direct.service import Pacer


async def test_presses_from_several_pages_are_spaced() -> None:
    pacer = Pacer(0.1)
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def press() -> None:
        await pacer.wait()
        times.append(loop.time())

    await asyncio.gather(*(press() for _ in range(3)))
    times.sort()
    # sleeps never end early: each press waits at least the interval after the one before
    assert all(b - a >= 0.1 - 1e-3 for a, b in zip(times, times[1:], strict=False))
