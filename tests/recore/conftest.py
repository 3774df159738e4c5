"""Fixtures: the ReCORE sandbox on a real 127.0.0.1 port, the companion's real database (SQLite
and PostgreSQL),
and a `RecoreClient` that talks to the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion.db import Database
from companion.events import Events
from companion.recore.client import RecoreClient
from companion.recore.gateway import Gateway
from companion.recore.outbox import Outbox, RetryPolicy
from sandbox.recore.app import create_app as create_sandbox
from sandbox.recore.app import demo_credentials
from sandbox.recore.keys import WORLD_KEY

# Short backoff so that retries happen within a test; jitter stays on (it is part of the design).
FAST = RetryPolicy(base=0.05, factor=2.0, max_delay=0.4, jitter=0.25, unauthorized_delay=0.5)


class Sandbox:
    """The ReCORE sandbox server plus small helpers over its `/_sandbox/` controls."""

    def __init__(self, server: TestServer, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.app: web.Application = server.app  # type: ignore[assignment]
        self.http = http
        self.creds = demo_credentials(self.app)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def world(self) -> Any:
        return self.app[WORLD_KEY]

    async def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self.http.post(f"{self.url}/_sandbox/{path}", json=body or {}) as resp:
            data = await resp.json()
            assert resp.status < 300, data
            return data

    async def state(self) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/_sandbox/state") as resp:
            assert resp.status == 200
            return await resp.json()

    async def faults(self, **switches: Any) -> None:
        await self.control("faults", switches)

    async def create_listings(self, *items: dict[str, Any]) -> list[dict[str, Any]]:
        data = await self.control("listings", {"items": list(items)})
        return data["listings"]

    async def issue_task(self, task_type: str, data: dict[str, Any]) -> dict[str, Any]:
        return (await self.control("tasks", {"type": task_type, "data": data}))["task"]

    async def task(self, task_id: str) -> dict[str, Any]:
        tasks = {t["id"]: t for t in (await self.state())["tasks"]}
        return tasks[task_id]

    def client(self, http: aiohttp.ClientSession, **overrides: Any) -> RecoreClient:
        kwargs: dict[str, Any] = {
            "base_url": self.url,
            "api_key": self.creds["api_key"],
            "ec_account_id": self.creds["ec_account_id"],
            "store_id": None,
            "session": http,
            "timeout": 5.0,
        }
        kwargs.update(overrides)
        return RecoreClient(**kwargs)


SandboxFactory = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def make_sandbox(
    http: aiohttp.ClientSession, tmp_path: Path
) -> AsyncIterator[SandboxFactory]:
    servers: list[TestServer] = []

    async def factory(
        *, seed: bool = False, rate_limit: int = 5, inventories: str = "rich", **kw: Any
    ) -> Sandbox:
        # these tests read the Yahoo fields of the rich form; the spec form has its own tests
        app = create_sandbox(seed=seed, rate_limit=rate_limit, inventories=inventories, **kw)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return Sandbox(server, http)

    yield factory
    for server in servers:
        await server.close()


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    # A generous limit by default; tests of pacing use the real 5 requests/s.
    return await make_sandbox(rate_limit=1000)


@pytest.fixture
async def db(database: str) -> AsyncIterator[Database]:
    db = Database(database)
    await db.migrate()
    yield db
    await db.close()


@pytest.fixture
def client(sandbox: Sandbox, http: aiohttp.ClientSession) -> RecoreClient:
    return sandbox.client(http, rate=100.0)


@pytest.fixture
def events(db: Database) -> Events:
    return Events(db)


@pytest.fixture
def outbox(db: Database, client: RecoreClient, events: Events) -> Outbox:
    return Outbox(db, client, events=events, policy=FAST)


@pytest.fixture
def gateway(db: Database, client: RecoreClient, events: Events, outbox: Outbox) -> Gateway:
    return Gateway(db, client, events=events, outbox=outbox)


def valid_item(number: str, **attrs: Any) -> dict[str, Any]:
    """One listing for `/_sandbox/listings` (the sandbox fills the other Yahoo fields)."""
    return {
        "title": f"テスト商品 {number}",
        "management_number": number,
        "image_count": 1,
        "mall_attributes": attrs,
    }
