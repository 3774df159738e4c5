"""Two PCs, one PostgreSQL database: each companion a real process of its own (its own data dir,
browser profile and port), both sandboxes as real servers on 127.0.0.1 in the test process."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from sqlalchemy import String, cast, select

from companion.db import Database
from companion.db.models import CompanionProcess as CompanionRow
from companion.db.models import Job
from companion.demo import demo_tables, sandbox_settings
from companion.pairing import create_code
from sandbox.recore.app import create_app as create_recore
from sandbox.yahoo.app import create_app as create_yahoo
from tests.companion_process import CompanionProcess
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


class Pc(CompanionProcess):
    """One PC's companion process (`tests.cluster.companion_pc`) on the shared database."""

    def __init__(
        self, name: str, data_dir: Path, database: str, http: aiohttp.ClientSession, yahoo_url: str
    ) -> None:
        super().__init__(
            data_dir,
            free_port(),
            data_dir.parent / f"{name}.out",
            yahoo_url,  # where the store is: configuration, never PUT /settings
            env={
                "RECORE_CONNECTOR_DATABASE_URL": database,
                "RECORE_CONNECTOR_HEARTBEAT_SECONDS": "0.5",
                "RECORE_CONNECTOR_BROWSER_IDLE_SECONDS": "0.5",
            },
        )
        self.name = name
        self.database = database
        self.http = http
        self.token: str | None = None

    @property
    def url(self) -> str:
        return f"{self.base}/api/v1"

    def serve_command(self) -> list[str]:
        assert self.yahoo_url is not None
        module = "tests.cluster.companion_pc"
        return [sys.executable, "-m", module, str(self.data_dir), str(self.port), self.yahoo_url]

    async def paired(self) -> None:
        """Once it answers: paired with a code from the shared database."""
        await self.ready(self.http)
        db = Database(self.database)
        try:
            code = await create_code(db)
        finally:
            await db.close()
        status, body = await self.call("POST", "/pair", {"code": code})
        assert status == 200, body
        self.token = body["token"]

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(method, self.url + path, json=body, headers=headers) as r:
            return r.status, await r.json()

    async def get(self, path: str) -> Any:
        status, body = await self.call("GET", path)
        assert status == 200, body
        return body

    async def status(self) -> dict[str, Any]:
        return await self.get("/status")

    async def job_done(self, job_id: str, limit: float = 120.0) -> dict[str, Any]:
        async with asyncio.timeout(limit):
            while True:
                job = await self.get(f"/jobs/{job_id}")
                if job["state"] not in ("queued", "running"):
                    return job
                await asyncio.sleep(0.1)


@dataclass
class Office:
    """Both sandboxes, the shared database and the PCs started on it."""

    database: str
    yahoo: TestServer
    recore: TestServer
    http: aiohttp.ClientSession
    root: Path
    key: bytes = field(default_factory=Fernet.generate_key)
    pcs: list[Pc] = field(default_factory=list)

    async def pc(self, name: str) -> Pc:
        data_dir = self.root / name
        data_dir.mkdir()
        # the IT person copies the first PC's secret.key to every PC (docs/operations.md)
        key_file = data_dir / "secret.key"
        key_file.write_bytes(self.key)
        key_file.chmod(0o600)
        yahoo_url = str(self.yahoo.make_url("")).rstrip("/")
        pc = Pc(name, data_dir, self.database, self.http, yahoo_url)
        self.pcs.append(pc)
        pc.start()
        await pc.paired()
        return pc

    async def configure(self, pc: Pc, **extra: Any) -> None:
        """The options page, filled in on one PC: every PC shares the settings."""
        values = sandbox_settings(
            self.recore.app, self.yahoo.app, str(self.recore.make_url("")).rstrip("/")
        )
        status, body = await pc.call("PUT", "/settings", values | extra)
        assert status == 200, body
        # ReCORE's spec sends no Yahoo fields: the shop's templates and tables fill them in
        for name, table in demo_tables().items():
            status, body = await pc.call("PUT", f"/tables/{name}", table)
            assert status == 200, body

    async def post(self, server: TestServer, path: str, body: Any = None) -> Any:
        async with self.http.post(str(server.make_url(path)), json=body or {}) as resp:
            data = await resp.json()
            assert resp.status < 300, data
            return data

    async def state(self, server: TestServer) -> Any:
        async with self.http.get(str(server.make_url("/_sandbox/state"))) as resp:
            return await resp.json()

    async def job_owner(self, job_id: str) -> int | None:
        """The pid of the companion process that ran (or runs) the job."""
        db = Database(self.database)
        try:
            async with db.session() as s:
                row = (
                    await s.execute(
                        select(CompanionRow.pid)
                        .join(Job, Job.owner == cast(CompanionRow.id, String))
                        .where(Job.id == job_id)
                    )
                ).first()
        finally:
            await db.close()
        return None if row is None else row.pid

    async def until(
        self, predicate: Callable[[], Awaitable[bool]], limit: float = 60.0, what: str = ""
    ) -> None:
        try:
            async with asyncio.timeout(limit):
                while True:
                    if await predicate():
                        return
                    await asyncio.sleep(0.1)
        except TimeoutError:
            logs = "\n".join(f"== {pc.name}\n{pc.output()}" for pc in self.pcs)
            raise AssertionError(f"not within {limit} s: {what}\n{logs}") from None


@pytest.fixture
async def office(database: str, tmp_path: Path) -> AsyncIterator[Office]:
    yahoo = TestServer(create_yahoo(seed=True), host="127.0.0.1")
    recore = TestServer(create_recore(rate_limit=10_000), host="127.0.0.1")
    await yahoo.start_server()
    await recore.start_server()
    async with aiohttp.ClientSession() as http:
        office = Office(database, yahoo, recore, http, tmp_path)
        try:
            yield office
        finally:
            for pc in office.pcs:
                await asyncio.to_thread(pc.stop)
    await recore.close()
    await yahoo.close()
