"""Login walls: redirect when logged out, session expiry, SMS認証, captcha after failures, and
sessions and the world surviving a restart with a state file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from sandbox.yahoo.app import create_app, demo_account
from tests.sandbox_yahoo.helpers import ACCOUNT, login, state


async def test_demo_account_matches_state(client: TestClient, app) -> None:
    s = await state(client, brief=True)
    acc = demo_account(app)
    assert acc == ACCOUNT
    assert {k: s["account"][k] for k in acc} == acc


async def test_store_pages_redirect_to_login_with_done(client: TestClient) -> None:
    for path in (
        "/pro.recore-demo",
        "/serinavi/items?folder_id=1&sort=-update_date&page=2",
        "/serinavi/sold-list?page=1",
        "/pro.recore-demo/order/manage/index",
    ):
        r = await client.get(path, allow_redirects=False)
        assert r.status == 302
        loc = urlsplit(r.headers["Location"])
        assert loc.path == "/config/login"
        q = parse_qs(loc.query)
        assert q[".src"] == ["bizmgr"] and q[".done"] == [path]


async def test_full_login_lands_on_done(client: TestClient) -> None:
    r = await client.get("/serinavi/selling?page=1")
    doc = HTMLParser(await r.text())
    assert doc.css_first("#login_handle") is not None and "次へ" in doc.text()
    html = await login(client, done="/serinavi/selling?page=1")
    assert "出品中" in html and "ログアウト" in html
    # the cookie is persistent
    cookie = next(m for m in client.session.cookie_jar if m.key == "T")
    assert int(cookie["max-age"]) >= 14 * 24 * 3600 and cookie["httponly"]
    # logged in: the login page goes straight to .done
    r = await client.get("/config/login?.src=bizmgr&.done=/serinavi", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/serinavi"


async def test_wrong_id_and_business_password(client: TestClient) -> None:
    r = await client.post("/config/login", data={"handle": "nobody"})
    assert "このIDは登録されていません" in await r.text()
    await client.post(
        "/config/login", data={"handle": ACCOUNT["yahoo_id"], "passwd": ACCOUNT["password"]}
    )
    r = await client.post(
        "/bizmgr/login", data={"business_id": ACCOUNT["business_id"], "business_password": "x"}
    )
    assert "ビジネスIDまたはパスワードが正しくありません" in await r.text()
    r = await client.get("/pro.recore-demo", allow_redirects=False)
    assert r.status == 302  # half logged in is not logged in


async def test_business_step_needs_password_step(client: TestClient) -> None:
    r = await client.get("/bizmgr/login", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/config/login")


async def test_session_expiry_fault_redirects(store: TestClient) -> None:
    assert (await store.get("/pro.recore-demo", allow_redirects=False)).status == 200
    r = await store.post("/_sandbox/faults", json={"expire_sessions": True})
    assert (await r.json())["expired_sessions"] >= 1
    r = await store.get("/serinavi/sold-list?page=1", allow_redirects=False)
    assert r.status == 302 and "/config/login" in r.headers["Location"]
    await login(store)
    assert (await store.get("/serinavi/sold-list?page=1", allow_redirects=False)).status == 200


async def test_session_expires_with_the_clock(store: TestClient) -> None:
    await store.post("/_sandbox/advance", json={"hours": 24 * 13})
    assert (await store.get("/pro.recore-demo", allow_redirects=False)).status == 200
    await store.post("/_sandbox/advance", json={"hours": 24 + 1})
    assert (await store.get("/pro.recore-demo", allow_redirects=False)).status == 302


async def test_sms_wall(client: TestClient, caplog) -> None:
    await client.post("/_sandbox/faults", json={"sms_wall": True})
    assert (await state(client, brief=True))["account"]["sms_auth"] is True
    r = await client.post(
        "/config/login", data={"handle": ACCOUNT["yahoo_id"], "passwd": ACCOUNT["password"]}
    )
    assert r.url.path == "/config/login_verify"
    doc = HTMLParser(await r.text())
    assert doc.css_first("#code") is not None and "SMS認証" in doc.css_first("h1").text()
    r = await client.post("/config/login_verify", data={"code": "000000"})
    assert "確認コードが正しくありません" in await r.text()
    # the business step and store stay closed
    assert (await client.get("/bizmgr/login", allow_redirects=False)).status == 302
    assert (await client.get("/pro.recore-demo", allow_redirects=False)).status == 302
    # a person reading the "phone" (the log) gets through
    code = next(
        rec.getMessage().split()[-1] for rec in caplog.records if "確認コード" in rec.getMessage()
    )
    r = await client.post("/config/login_verify", data={"code": code})
    assert r.url.path == "/bizmgr/login"


async def test_captcha_after_three_failures(client: TestClient) -> None:
    handle = ACCOUNT["yahoo_id"]
    for _ in range(3):
        r = await client.post("/config/login", data={"handle": handle, "passwd": "wrong"})
        assert "パスワードが間違っています" in await r.text()
    doc = HTMLParser(await r.text())
    assert doc.css_first("#captchaImage") is not None and doc.css_first("#captcha") is not None
    # the right password alone no longer opens
    r = await client.post("/config/login", data={"handle": handle, "passwd": ACCOUNT["password"]})
    assert (
        r.url.path == "/config/login"
        and "画像に表示されている文字が正しくありません" in await r.text()
    )
    # the image is a real PNG
    img = await client.get(f"/config/captcha?handle={handle}")
    assert img.content_type == "image/png" and (await img.read())[:4] == b"\x89PNG"
    assert (await state(client, brief=True))["captcha_required"] == [handle]
    # a person reads it: the answer is only in the image; the test peeks at the world
    answer = client.app[__import__("sandbox.yahoo.app", fromlist=["WORLD"]).WORLD].captchas[handle]
    r = await client.post(
        "/config/login",
        data={"handle": handle, "passwd": ACCOUNT["password"], "captcha": answer.lower()},
    )
    assert r.url.path == "/bizmgr/login"
    assert (await state(client, brief=True))["captcha_required"] == []


async def test_reset_clears_captcha(client: TestClient) -> None:
    for _ in range(3):
        await client.post("/config/login", data={"handle": ACCOUNT["yahoo_id"], "passwd": "x"})
    await client.post("/_sandbox/faults", json={"reset": True})
    await login(client)


async def test_state_survives_restart(
    tmp_path: Path, aiohttp_client: Callable[..., Awaitable[TestClient]]
) -> None:
    path = tmp_path / "yahoo.json"
    app1 = create_app(state_file=path)
    c1 = await aiohttp_client(app1)
    await login(c1)
    await c1.post("/_sandbox/advance", json={"hours": 30})
    before = await state(c1)
    cookie = c1.session.cookie_jar.filter_cookies(c1.make_url("/"))["T"].value
    await c1.close()  # runs cleanup: final atomic save
    assert path.exists() and not list(tmp_path.glob("*.tmp"))  # noqa: ASYNC240

    app2 = create_app(state_file=path)
    c2 = await aiohttp_client(app2)
    after = await state(c2)
    # the read counter is the running process's own (what a client cost it since it started)
    assert after.pop("reads") == {"total": 0, "by_path": {}}
    before.pop("reads")
    assert after == before
    # the persistent session cookie still works after the restart
    c2.session.cookie_jar.update_cookies({"T": cookie})
    assert (await c2.get("/pro.recore-demo", allow_redirects=False)).status == 200
