"""What the store does in the middle of a run: its form changes after the first item (the run
stops once, naming what is missing), or its item list cannot be read just when a doubtful 出品する
must be checked (the run pauses saying so; nothing is guessed, nothing is failed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sandbox.recore.app import create_app as create_recore
from sandbox.yahoo.app import WORLD
from sandbox.yahoo.app import create_app as create_yahoo
from tests.direct.conftest import Sandboxes, WiredFactory

pytestmark = pytest.mark.browser

Hook = Callable[[web.Request, web.StreamResponse, Any], None]


class Hooks:
    """Runs `hook(request, response, world)` as the Yahoo sandbox answers each page."""

    def __init__(self) -> None:
        self.hook: Hook | None = None

    async def on_response(self, request: web.Request, response: web.StreamResponse) -> None:
        if self.hook is not None:
            self.hook(request, response, request.app[WORLD])


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
async def sandboxes(hooks: Hooks) -> AsyncIterator[Sandboxes]:
    app = create_yahoo(seed=True)
    app.on_response_prepare.append(hooks.on_response)
    yahoo = TestServer(app, host="127.0.0.1")
    recore = TestServer(create_recore(seed=False, rate_limit=1000), host="127.0.0.1")
    await yahoo.start_server()
    await recore.start_server()
    async with aiohttp.ClientSession() as http:
        yield Sandboxes(yahoo, recore, http)
    await recore.close()
    await yahoo.close()


def _listed(request: web.Request, response: web.StreamResponse) -> bool:
    """The answer to a 出品する that listed (a redirect to the completion page)."""
    return request.method == "POST" and response.status == 303


async def test_a_form_that_changes_mid_run_stops_the_run_once_naming_the_field(
    make_wired: WiredFactory, hooks: Hooks
) -> None:
    wired = await make_wired(listings=3, direct_listing_concurrency=1)

    def change_after_first(request: web.Request, response: web.StreamResponse, world: Any) -> None:
        if _listed(request, response):
            world.faults["layout_changed"] = True
            hooks.hook = None

    hooks.hook = change_after_first
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202, body
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "LAYOUT_CHANGED"
    message = job["error"]["message"]
    assert "タイトル" in message and "ここまでに出品した分は記録しました" in message
    states = [i["state"] for i in job["items"]]
    assert states.count("succeeded") == 1
    # the others were not failed one by one with 「入力欄が見つかりません」: they stay open
    assert not [i for i in job["items"] if "入力欄が見つかりません" in (i["message"] or "")]
    batch = await wired.get(f"/api/v1/batches/{body['batch_id']}")
    assert batch["open_count"] == 2


async def test_an_unreadable_item_list_after_a_doubtful_submit_pauses_saying_so(
    make_wired: WiredFactory, hooks: Hooks
) -> None:
    wired = await make_wired(listings=1)

    def fail_from_the_confirm_page(
        request: web.Request, response: web.StreamResponse, world: Any
    ) -> None:
        # the confirm page is shown: from now on the store answers 503 (出品する and the list)
        if (
            request.method == "POST"
            and request.path.startswith("/serinavi/items/create")
            and response.status == 200
        ):
            world.faults["error_5xx"] = True
            hooks.hook = None

    hooks.hook = fail_from_the_confirm_page
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202, body
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "paused", job
    assert job["error"]["code"] == "STORE_UNREADABLE"
    assert "商品一覧を読めなかった" in job["error"]["message"]
    assert "予期しないエラー" not in job["error"]["message"]
    assert not [i for i in job["items"] if i["state"] == "failed"], job["items"]

    # the store answers again: pressing 直接出品を実行 resumes; it is listed once
    await wired.sb.yahoo_faults(error_5xx=0)
    status, again = await wired.post(f"/api/v1/batches/{body['batch_id']}/direct-listing")
    assert status == 202 and again["job_id"] == body["job_id"]
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    assert (await wired.sb.yahoo_state())["duplicates"] == {}
