"""Wires the ReCORE side into the companion: client from settings, poll loop, delivery loop.

`setup(app)` appends a cleanup context that
- builds a `RecoreClient` from the settings `recore_api_url`, `recore_api_key` (secret),
  `ec_account_id`, `store_id`, and rebuilds it when any of them changes;
- puts `gateway` (`companion.recore.gateway.Gateway`), `outbox` (`companion.recore.outbox.Outbox`)
  and `recore` (this `RecoreService`) into their typed keys (`companion.keys`);
- when `app[CONFIG].workers` is True, the settings are complete and this companion leads (one
  companion of all the PCs on a shared database, `companion.cluster`), runs the poll loop (every
  `poll_interval` seconds, or at once after `gateway.poll_now()`) and the delivery loop. Another
  PC's outbox wake-up (a listing recorded there) reaches the leader's loop.

Tests and the demo may set `app[RECORE_OPTIONS]` before the app starts (short intervals, fast
backoff). `GET /status` shows ReCORE's part from `configuration()` and the gateway's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from companion.keys import (
    BATCHES,
    CLUSTER,
    CONFIG,
    DB,
    EVENTS,
    GATEWAY,
    OUTBOX,
    RECORE,
    SETTINGS,
    TABLES,
)
from companion.recore.client import PACED_RATE, RecoreClient, RecoreError
from companion.recore.gateway import Gateway
from companion.recore.outbox import Outbox, RetryPolicy

log = logging.getLogger(__name__)

CLIENT_SETTINGS = frozenset({"recore_api_url", "recore_api_key", "ec_account_id", "store_id"})
REQUIRED_LABELS = {
    "recore_api_url": "ReCORE API URL",
    "recore_api_key": "ReCORE APIキー",
    "ec_account_id": "ECアカウントID",
}


@dataclass(frozen=True)
class ServiceOptions:
    poll_interval: float = 15.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    request_timeout: float = 20.0
    rate: float = PACED_RATE
    concurrency: int = 4


RECORE_OPTIONS = web.AppKey("recore_options", ServiceOptions)


class RecoreService:
    def __init__(self, app: web.Application, options: ServiceOptions) -> None:
        self.app = app
        self.options = options
        self.workers = app[CONFIG].workers
        self.cluster = app[CLUSTER]
        self.db = app[DB]
        self.settings = app[SETTINGS]
        self.outbox = Outbox(
            self.db,
            events=app[EVENTS],
            policy=options.policy,
            concurrency=options.concurrency,
        )
        self.tables = app[TABLES]
        self.gateway = Gateway(self.db, events=app[EVENTS], outbox=self.outbox, tables=self.tables)
        self.missing: list[str] = list(REQUIRED_LABELS)
        self._session: aiohttp.ClientSession | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._rebuild_task: asyncio.Task[None] | None = None
        self._rebuild_lock = asyncio.Lock()  # two quick settings changes rebuild one at a time

    @property
    def client(self) -> RecoreClient | None:
        return self.gateway.client

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        await self.rebuild()
        self.settings.on_change(self._settings_changed)
        self.cluster.on_leadership(self._leadership)
        self.cluster.on_notice("outbox", self._outbox_notice)
        self.outbox.forward_wake = lambda: self.cluster.tell_leader("outbox")
        self.tables.on_change(self._tables_changed)

    async def _leadership(self, leading: bool) -> None:
        if leading:
            await self.rebuild()  # the loops start (settings read afresh)
        else:
            await self._stop_loops()

    def _outbox_notice(self, _data: dict[str, Any]) -> None:
        if self._loops:
            self.outbox.wake(forward=False)

    async def _tables_changed(self, name: str) -> None:
        if name == "task_types":
            # a task kept as unknown may have a handler now: handled at the next poll, at once
            self.gateway.poll_now()

    async def stop(self) -> None:
        if self._rebuild_task is not None:
            self._rebuild_task.cancel()
        await self._stop_loops()
        if self._session is not None:
            await self._session.close()

    def _settings_changed(self, keys: set[str]) -> None:
        if keys & CLIENT_SETTINGS:
            self._rebuild_task = asyncio.get_running_loop().create_task(self.rebuild())

    async def settled(self) -> None:
        """Wait for a rebuild triggered by a settings change (CLI and tests)."""
        task = self._rebuild_task
        if task is not None and not task.done():
            await asyncio.shield(task)

    async def rebuild(self) -> None:
        """(Re)make the client from the settings; start or stop the loops to match."""
        async with self._rebuild_lock:
            await self._rebuild()

    async def _rebuild(self) -> None:
        url = await self.settings.get("recore_api_url")
        key = await self.settings.secret("recore_api_key")
        account = await self.settings.get("ec_account_id")
        store = await self.settings.get("store_id")
        values = {"recore_api_url": url, "recore_api_key": key, "ec_account_id": account}
        self.missing = [name for name, value in values.items() if value in (None, "")]
        client = None
        if not self.missing and self._session is not None:
            client = RecoreClient(
                base_url=url,
                api_key=key or "",
                ec_account_id=int(account),
                store_id=store,
                session=self._session,
                timeout=self.options.request_timeout,
                rate=self.options.rate,
            )
        self.gateway.client = client
        self.outbox.client = client
        if client is None:
            log.info("recore: not connected; missing settings: %s", ", ".join(self.missing))
            await self._stop_loops()
            return
        log.info("recore: client ready for %s (EC account %s)", url, account)
        batches = self.app.get(BATCHES)
        if batches is not None:
            # another key (say one with item:index now): held listings' items are read again
            try:
                await batches.recheck()
            except RecoreError as exc:
                log.info("recore: recheck of held listings deferred: %s", exc.message_en)
        if self.workers and self.cluster.is_leader and not self._loops:
            self._loops = [
                asyncio.create_task(
                    self.gateway.run(self.options.poll_interval), name="recore-poll"
                ),
                asyncio.create_task(self.outbox.run(), name="recore-outbox"),
            ]
        self.gateway.poll_now()
        self.outbox.wake()

    async def _stop_loops(self) -> None:
        loops, self._loops = self._loops, []
        for task in loops:
            task.cancel()
        for task in loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def poll_now(self) -> None:
        self.gateway.poll_now()

    def configuration(self) -> dict[str, Any]:
        return {
            "configured": not self.missing,
            "missing": [REQUIRED_LABELS[m] for m in self.missing],
            "missing_keys": list(self.missing),
            "workers": self.workers and bool(self._loops),
        }


async def recore_ctx(app: web.Application) -> AsyncIterator[None]:
    service = RecoreService(app, app.get(RECORE_OPTIONS) or ServiceOptions())
    app[RECORE] = service
    app[GATEWAY] = service.gateway
    app[OUTBOX] = service.outbox
    await service.start()
    yield
    await service.stop()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(recore_ctx)
