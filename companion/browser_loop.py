"""The store's browser on a thread of its own, with its own asyncio loop.

Playwright's traffic with Chromium, the plain-HTTP reads of the store's lists and the parsing of
their pages all run on this loop, so the companion's loop (the HTTP API, the database, the jobs)
never waits behind page traffic: `/status` answers while a form is filled or a list is parsed.

`BrowserLoop` is the one boundary between the two loops:

- `await browser_loop.call(fn, *args)`: `fn(*args)` is awaited on the browser loop; its result,
  or its exception (`SessionExpired`, `LayoutChanged`, a Playwright error …), comes back to the
  caller as if it had run there. Cancelling the caller cancels it on the browser loop and waits
  until it has ended, so its `finally` blocks (closing a page, leaving `use()`) have run before
  the caller goes on.
- `browser_loop.remote(obj)`: a stand-in for an object that lives on the browser loop (the
  `BrowserSession`, the `StoreReader`, a page object, Playwright's context and pages). Its
  coroutine methods and its `async with` run on the browser loop through `call`; plain
  attributes and sync methods are used as they are (flags, URLs, facts). A result that is such an
  object comes back as a stand-in, and stand-ins passed as arguments are unwrapped.
- Functions passed as arguments (callbacks such as the sync engine's `on_page`) run back on the
  caller's loop, where the objects they touch live; an `async def` one is awaited there.

Code already on the browser loop (a page object calling its session) calls straight through.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
import logging
import sys
import threading
import types
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

log = logging.getLogger(__name__)

T = TypeVar("T")
THREAD_NAME = "store-browser"
# How long a thread waiting for the GIL lets the running one go on (Python's default is 5 ms).
# The API's thread gives the GIL up at every socket and SQLite call and waits this long to get it
# back while the browser's thread is busy: a request of a few such calls would wait several times.
GIL_SWITCH_SECONDS = 0.001


class BrowserLoopClosed(RuntimeError):
    """The browser loop stopped (the companion is shutting down) before the call ended."""


@functools.cache
def lives_on_browser_loop(cls: type) -> bool:
    """Objects with coroutine methods or `async with` belong to the loop that made them."""
    if cls.__module__ == "builtins":
        return False
    if hasattr(cls, "__aenter__"):
        return True
    return any(
        inspect.iscoroutinefunction(inspect.getattr_static(cls, name, None))
        for name in dir(cls)
        if not name.startswith("__")
    )


class BrowserLoop:
    """A daemon thread running an asyncio loop, started on first use and stopped by `close`."""

    def __init__(self, name: str = THREAD_NAME) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._loop is not None

    def on_it(self) -> bool:
        """Whether the caller runs on the browser loop itself."""
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_SECONDS))
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._main, args=(loop, ready), name=self.name, daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _main(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
            # stopped by close(): whatever is left (an idle timer …) ends here
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    async def close(self, last: Callable[[], Awaitable[Any]] | None = None) -> None:
        """Run `last` on the browser loop (closing Chromium), then stop the loop and its thread."""
        with self._start_lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            if last is not None:
                await self._across(loop, last)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join)

    # --- the boundary ---------------------------------------------------------------------------
    async def call(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """`await fn(*args, **kwargs)` on the browser loop (see the module's doc)."""
        if self.on_it():
            return await fn(*args, **kwargs)
        caller = asyncio.get_running_loop()
        args = tuple(self._inward(a, caller) for a in args)
        kwargs = {k: self._inward(v, caller) for k, v in kwargs.items()}
        result = await self._across(self._ensure(), lambda: fn(*args, **kwargs))
        return self.remote(result)

    def remote(self, obj: T) -> T:
        """`obj` as the caller may use it: a stand-in when it lives on the browser loop."""
        if isinstance(obj, Remote) or not lives_on_browser_loop(type(obj)):
            return obj
        return cast(T, Remote(obj, self))

    def make(self, cls: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """A page object (`ItemForm`, `ItemActions` …) over stand-ins: built with the objects
        themselves, so that its verbs run on the browser loop as a whole."""
        return self.remote(cls(*map(unwrap, args), **{k: unwrap(v) for k, v in kwargs.items()}))

    def _inward(self, value: Any, caller: asyncio.AbstractEventLoop) -> Any:
        if isinstance(value, Remote):
            return value._target
        if isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
            return on_loop(caller, value)
        return value

    @staticmethod
    async def _across(loop: asyncio.AbstractEventLoop, start: Callable[[], Awaitable[T]]) -> T:
        """Run `start()` as a task on `loop` and wait for it from the caller's loop."""
        caller = asyncio.get_running_loop()
        outcome: asyncio.Future[T] = caller.create_future()
        remote_task: list[asyncio.Task[T]] = []

        def settle(task: asyncio.Task[T]) -> None:  # on the browser loop
            def copy() -> None:  # on the caller's loop
                if outcome.done():
                    return
                if task.cancelled():
                    outcome.set_exception(BrowserLoopClosed("the store's browser loop stopped"))
                elif (exc := task.exception()) is not None:
                    outcome.set_exception(exc)
                else:
                    outcome.set_result(task.result())

            with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody waits
                caller.call_soon_threadsafe(copy)

        async def invoke() -> T:
            return await start()

        # the caller's context variables go along (`scrapers.priority.urgent()` marks a register
        # sale's requests in the task that makes them)
        context = contextvars.copy_context()

        def begin() -> None:  # on the browser loop
            task = loop.create_task(invoke(), context=context)
            remote_task.append(task)
            task.add_done_callback(settle)

        try:
            loop.call_soon_threadsafe(begin)
        except RuntimeError:
            raise BrowserLoopClosed("the store's browser loop stopped") from None
        try:
            return await asyncio.shield(outcome)
        except asyncio.CancelledError:
            if not outcome.done():
                # begin() ran before this (the loop runs callbacks in order): cancel it there and
                # let it end (pages closed, locks released) before the caller goes on
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(lambda: remote_task[0].cancel())
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await outcome
            raise


def unwrap(value: Any) -> Any:
    return value._target if isinstance(value, Remote) else value


def on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` made callable from the browser loop while it runs on `loop` (a callback's home)."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            if asyncio.get_running_loop() is loop:
                return await fn(*args, **kwargs)
            future = asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), loop)
            return await asyncio.wrap_future(future)

        return call_async

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                return fn(*args, **kwargs)
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return done.result()  # a callback is short: the browser thread waits for it

    return call


class Remote:
    """A stand-in for an object on the browser loop (see `BrowserLoop.remote`)."""

    __slots__ = ("_browser_loop", "_target")

    def __init__(self, target: Any, browser_loop: BrowserLoop) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_browser_loop", browser_loop)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        bl: BrowserLoop = self._browser_loop
        if inspect.iscoroutinefunction(value):

            @functools.wraps(value)
            async def call(*args: Any, **kwargs: Any) -> Any:
                return await bl.call(value, *args, **kwargs)

            return call
        if callable(value) and not isinstance(value, type):
            # a sync method (`use()` makes its context manager, `urls.auction()` a URL): run
            # here; a context manager or page it returns is handed out as a stand-in
            @functools.wraps(value)
            def call_sync(*args: Any, **kwargs: Any) -> Any:
                return bl.remote(
                    value(*map(unwrap, args), **{k: unwrap(v) for k, v in kwargs.items()})
                )

            return call_sync
        return bl.remote(value)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, unwrap(value))

    async def __aenter__(self) -> Any:
        return await self._browser_loop.call(self._target.__aenter__)

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self._browser_loop.call(self._target.__aexit__, *exc_info)

    def __repr__(self) -> str:
        return f"<on the store's browser loop: {self._target!r}>"
