"""Both sandboxes take the companion's loopback rules: a web page cannot drive them (CSRF) and a
rebound DNS name reads nothing (they run on staff machines during demos)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sandbox.recore.app import create_app as create_recore
from sandbox.yahoo.app import create_app as create_yahoo

SANDBOXES: dict[str, Callable[[], web.Application]] = {
    "recore": lambda: create_recore(rate_limit=10_000),
    "yahoo": lambda: create_yahoo(seed=True),
}
# what a web page's fetch() or form sends: its own origin (or "null" from a sandboxed frame)
FOREIGN_ORIGINS = ("https://evil.example", "http://127.0.0.1:1", "null")


@pytest.fixture(params=sorted(SANDBOXES))
async def sandbox(request: pytest.FixtureRequest) -> Any:
    server = TestServer(SANDBOXES[request.param](), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield server, http
    await server.close()


async def _faults(http: aiohttp.ClientSession, base: str) -> Any:
    async with http.get(f"{base}/_sandbox/state") as resp:
        assert resp.status == 200
        return (await resp.json())["faults"]


async def test_a_web_page_cannot_change_the_faults(sandbox) -> None:
    server, http = sandbox
    base = str(server.make_url("")).rstrip("/")
    before = await _faults(http, base)
    for origin in FOREIGN_ORIGINS:
        # a "simple" request: the browser sends it without asking first (no CORS preflight)
        async with http.post(
            f"{base}/_sandbox/faults",
            data='{"error_5xx": 5}',
            headers={"Origin": origin, "Content-Type": "text/plain"},
        ) as resp:
            assert resp.status == 403, origin
            assert "Access-Control-Allow-Origin" not in resp.headers
    assert await _faults(http, base) == before
    # the sandbox's own pages (same origin) and programs (no Origin) still can
    own = f"http://127.0.0.1:{server.port}"
    async with http.post(
        f"{base}/_sandbox/faults", json={"error_5xx": 1}, headers={"Origin": own}
    ) as resp:
        assert resp.status == 200, await resp.text()
    assert await _faults(http, base) != before


async def test_a_rebound_dns_name_reads_nothing(sandbox) -> None:
    server, http = sandbox
    base = str(server.make_url("")).rstrip("/")
    for host in (f"evil.example:{server.port}", "evil.example", f"127.0.0.1:{server.port + 1}"):
        async with http.get(f"{base}/_sandbox/state", headers={"Host": host}) as resp:
            assert resp.status == 403, host
            assert "api_key" not in await resp.text()
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}"):
        async with http.get(f"{base}/_sandbox/state", headers={"Host": host}) as resp:
            assert resp.status == 200, host
