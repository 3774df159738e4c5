"""The boundary between the companion's loop and the store's browser loop (no browser needed):
work runs on the browser's thread, errors and cancellation cross as if it ran on the caller's
loop, callbacks go home, and closing ends the thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from companion.browser_loop import BrowserLoop, BrowserLoopClosed
from scrapers.errors import LayoutChanged, SessionExpired


class PageLike:
    """Stands for a page object: verbs, a flag, an `async with`, another object it hands out."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.entered = False
        self.closed_after_cancel = False
        self.started = threading.Event()
        self.confirm_first = True

    async def open(self) -> str:
        self.threads.append(threading.current_thread().name)
        await asyncio.sleep(0)
        return "opened"

    async def fail(self, exc: BaseException) -> None:
        raise exc

    async def hang(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that needs its loop (closing a page)
            self.closed_after_cancel = True

    async def child(self) -> PageLike:
        return PageLike()

    async def read_pages(self, on_page: object) -> list[str]:
        assert callable(on_page)
        return [on_page(n) for n in range(3)]

    async def __aenter__(self) -> PageLike:
        self.entered = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.entered = False


@pytest.fixture
async def browser_loop() -> AsyncIterator[BrowserLoop]:
    loop = BrowserLoop()
    yield loop
    await loop.close()


async def test_verbs_run_on_the_browser_thread_and_errors_keep_their_kind(
    browser_loop: BrowserLoop,
) -> None:
    page = browser_loop.make(PageLike)
    assert await page.open() == "opened"
    assert page.threads == ["store-browser"]
    page.confirm_first = False  # plain attributes are the object's own
    assert page.confirm_first is False
    with pytest.raises(SessionExpired):
        await page.fail(SessionExpired())
    with pytest.raises(LayoutChanged) as raised:
        await page.fail(LayoutChanged("商品の登録", ["タイトル"]))
    assert raised.value.missing == ["タイトル"]
    child = await page.child()  # an object it hands out is reached the same way
    assert await child.open() == "opened" and child.threads == ["store-browser"]
    async with page as entered:
        assert page.entered and await entered.open() == "opened"
    assert not page.entered


async def test_callbacks_run_on_the_callers_loop(browser_loop: BrowserLoop) -> None:
    page = browser_loop.make(PageLike)
    seen: list[tuple[int, str]] = []

    def on_page(n: int) -> int:  # the sync engine schedules work on its own loop here
        asyncio.get_running_loop()  # raises off a loop
        seen.append((n, threading.current_thread().name))
        return n * 2

    assert await page.read_pages(on_page) == [0, 2, 4]
    assert seen == [(n, threading.current_thread().name) for n in range(3)]


async def test_cancelling_the_caller_ends_the_work_before_it_goes_on(
    browser_loop: BrowserLoop,
) -> None:
    page = browser_loop.make(PageLike)
    call = asyncio.create_task(page.hang())
    await asyncio.to_thread(page.started.wait, 30)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    # its `finally` ran on the browser loop before the caller saw the cancellation
    assert page.closed_after_cancel


async def test_close_ends_the_thread_and_later_calls_start_it_again() -> None:
    loop = BrowserLoop()
    page = loop.make(PageLike)
    await page.open()
    thread = loop._thread
    assert thread is not None and thread.is_alive()
    closed: list[str] = []

    async def last() -> None:
        closed.append(threading.current_thread().name)

    await loop.close(last)
    assert closed == ["store-browser"]  # Chromium is closed on its own loop
    assert not thread.is_alive() and not loop.running
    assert await page.open() == "opened"  # a companion that goes on (tests) gets a new one
    await loop.close()


async def test_work_left_when_the_loop_stops_is_an_error_not_a_hang() -> None:
    loop = BrowserLoop()
    page = loop.make(PageLike)
    call = asyncio.create_task(page.hang())
    await asyncio.to_thread(page.started.wait, 30)
    await loop.close()
    with pytest.raises(BrowserLoopClosed):
        await call
    assert page.closed_after_cancel
