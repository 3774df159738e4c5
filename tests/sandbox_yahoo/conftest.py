from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Page, async_playwright

from sandbox.yahoo.app import create_app
from scrapers.browser import STORE_PAGE_ARGS, chromium_executable
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


@pytest.fixture
async def page(server: TestServer) -> AsyncIterator[Page]:
    """A Japanese page in real headless Chromium, launched as the companion launches it for the
    store; `server` is the test module's sandbox (started first)."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium_executable(headless=True),
            args=list(STORE_PAGE_ARGS),
            headless=True,
        )
        context = await browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        yield page
        await browser.close()
