"""Credentials are typed only on Yahoo's own login hosts or the configured sandbox origin: a login
page anywhere else (a redirect to another host, a look-alike) gets nothing, and staff are told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from scrapers.errors import WallError
from scrapers.facts import FACTS, StoreUrls
from scrapers.session import BrowserSession, Credentials

pytestmark = pytest.mark.browser

SECRETS = Credentials("shop-secret-id", "secret-pass-9876", "biz-secret", "biz-pass-5432")

# a page that looks exactly like Yahoo's login (the ID step, then the password on the same page)
LOOK_ALIKE = """<!DOCTYPE html><html lang="ja"><body><h1>ログイン</h1>
<form method="post" action="/config/login" id="login_form">
<label for="login_handle">Yahoo! JAPAN ID/携帯電話番号/メールアドレス</label>
<input type="text" id="login_handle" name="handle"><button type="submit">次へ</button>
</form></body></html>"""


class Recorder:
    """A server posing as a login page; it records every request it gets."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.seen.append(f"{request.method} {request.path_qs} {body}")
        return web.Response(text=LOOK_ALIKE, content_type="text/html")

    def got_a_secret(self) -> bool:
        secrets = (
            SECRETS.yahoo_id,
            SECRETS.password,
            SECRETS.business_id,
            SECRETS.business_password,
        )
        return any(s and s in line for line in self.seen for s in secrets)


@pytest.fixture
async def recorder() -> Any:
    rec = Recorder()
    server = TestServer(rec.app, host="127.0.0.1")
    await server.start_server()
    rec.url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    yield rec
    await server.close()


@pytest.fixture
async def store_redirecting_to(recorder: Any) -> Any:
    """The configured store origin, sending its visitors to the recorder's login page."""

    async def to_login(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{recorder.url}/config/login?.done=/serinavi")

    app = web.Application()
    app.router.add_get("/{tail:.*}", to_login)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def _credentials() -> Credentials:
    return SECRETS


async def _open(urls: StoreUrls, url: str, profile: Path) -> WallError:
    session = BrowserSession(profile, urls, _credentials, idle_timeout=0)
    try:
        async with session.use():
            page = await session.new_page()
            with pytest.raises(WallError) as wall:
                await session.open(page, url)
            return wall.value
    finally:
        await session.close()


async def test_a_redirect_to_another_hosts_login_page_gets_nothing(
    recorder: Any, store_redirecting_to: str, tmp_path: Path
) -> None:
    urls = StoreUrls(FACTS, store_redirecting_to)  # the sandbox origin staff configured
    wall = await _open(urls, urls.serinavi_top(), tmp_path / "profile")
    assert wall.code == "LOGIN_HOST"
    assert "入力せずに止めました" in wall.ja
    assert recorder.seen, "the browser did reach the look-alike page"
    assert not recorder.got_a_secret(), recorder.seen


async def test_with_the_real_hosts_configured_a_local_login_page_gets_nothing(
    recorder: Any, tmp_path: Path
) -> None:
    urls = StoreUrls(FACTS)  # Yahoo's own hosts, over https only
    wall = await _open(urls, f"{recorder.url}/config/login?.done=/serinavi", tmp_path / "p")
    assert wall.code == "LOGIN_HOST"
    assert not recorder.got_a_secret(), recorder.seen
