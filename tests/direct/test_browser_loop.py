"""The store's browser on its own thread and loop, seen from the companion's API: it answers while
the browser's loop is busy with a listing, and a shutdown in the middle of a page ends cleanly.

Ordering, not timing: the Yahoo sandbox holds 出品する (`hold_submits`) so the listing is known to
be at that page, and the browser's loop is held busy by a call that blocks its thread (as a long
page parse would) until the test lets it go."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from companion.keys import STORE
from tests.direct.conftest import Sandboxes, Wired, WiredFactory


async def held_submit(sb: Sandboxes) -> None:
    async with asyncio.timeout(90):
        while not (await sb.yahoo_faults())["held_submits"]:  # noqa: ASYNC110 - another server
            await asyncio.sleep(0.05)


async def start_listing_held_at_submit(wired: Wired) -> str:
    await wired.sb.yahoo_faults(hold_submits=True)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202, body
    await held_submit(wired.sb)  # 出品する is at the store, its page loading
    return body["job_id"]


async def test_the_api_answers_while_the_browser_loop_is_busy(make_wired: WiredFactory) -> None:
    wired = await make_wired(listings=1)
    job_id = await start_listing_held_at_submit(wired)
    store = wired.client.app[STORE]

    busy, release = threading.Event(), threading.Event()

    async def block_the_browser_thread() -> bool:
        busy.set()
        # returns whether the test let it go (it cannot, if the API shares this loop)
        return release.wait(60)

    blocker = asyncio.create_task(store.on_browser_loop(block_the_browser_thread))
    await asyncio.to_thread(busy.wait, 60)
    # the browser's loop is blocked and its page is loading: the API answers all the same
    status = await wired.get("/api/v1/status")
    assert [j["id"] for j in status["running_jobs"]] == [job_id]
    job = await wired.get(f"/api/v1/jobs/{job_id}")
    assert job["state"] == "running"
    release.set()
    assert await blocker is True, "the API answered only after the browser's loop was free"

    await wired.sb.yahoo_faults(hold_submits=False)
    job = await wired.wait_job(job_id)
    assert job["state"] == "succeeded", job
    assert (await wired.sb.yahoo_state())["duplicates"] == {}


async def test_shutdown_while_a_page_is_loading_ends_cleanly(
    make_wired: WiredFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The companion stops while 出品する is loading: the listing's work on the browser loop is
    cancelled and ends (its page closed), Chromium closes, the thread ends, nothing is logged as
    an error, and the job is resumed by the next start without listing twice."""
    caplog.set_level(logging.WARNING)
    wired = await make_wired(listings=1)
    job_id = await start_listing_held_at_submit(wired)
    store = wired.client.app[STORE]
    session = await store.browser()
    thread = store.browser_loop._thread
    assert session.running and thread is not None and thread.is_alive()

    async with asyncio.timeout(60):  # a hang here is the failure
        await wired.client.close()
    assert not session.running  # Chromium closed
    assert not thread.is_alive() and not store.browser_loop.running
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert problems == [], [r.getMessage() for r in problems]

    # the store finishes the 出品する it was given; the next start finds it listed
    await wired.sb.yahoo_faults(hold_submits=False)
    again = await make_wired(listings=0)
    job: dict[str, Any] = await again.wait_job(job_id)
    async with asyncio.timeout(60):
        while job["state"] in ("queued", "running"):  # resumed after its start
            await asyncio.sleep(0.05)
            job = await again.get(f"/api/v1/jobs/{job_id}")
    assert job["state"] == "succeeded", job
    yahoo = await again.sb.yahoo_state()
    assert yahoo["duplicates"] == {}
    assert yahoo["listing_counts"][job["items"][0]["key"]] == 1
