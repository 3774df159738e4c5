"""Fixtures: a real sandbox server on 127.0.0.1 (pytest-aiohttp) and its demo key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from sandbox.recore.app import create_app, demo_credentials

ClientFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def app() -> web.Application:
    # High rate limit: most tests fire requests back to back; test_rate_limit uses the real one.
    return create_app(rate_limit=10_000)


@pytest.fixture
async def client(aiohttp_client: ClientFactory, app: web.Application) -> TestClient:
    return await aiohttp_client(app)


@pytest.fixture
def creds(app: web.Application) -> dict[str, Any]:
    return demo_credentials(app)


@pytest.fixture
def auth(creds: dict[str, Any]) -> dict[str, str]:
    return {"X-Identification": creds["api_key"]}
