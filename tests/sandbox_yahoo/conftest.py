from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from sandbox.yahoo.app import create_app
from tests.sandbox_yahoo.helpers import login


@pytest.fixture
def app() -> web.Application:
    return create_app()


@pytest.fixture
async def client(
    app: web.Application, aiohttp_client: Callable[..., Awaitable[TestClient]]
) -> TestClient:
    return await aiohttp_client(app)


@pytest.fixture
async def store(client: TestClient) -> Any:
    """A client logged in to the demo store."""
    await login(client)
    return client
