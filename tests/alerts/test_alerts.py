"""Alerts by e-mail, Chatwork and LINE against local stand-ins on 127.0.0.1: テスト送信 says what
went wrong in Japanese; every alert arrives once after an outage; none while a channel is off."""

from __future__ import annotations

from email.header import decode_header, make_header

from sqlalchemy import select

from companion.db.models import AlertDelivery, Setting
from companion.keys import DB
from tests.alerts.conftest import AlertsHub, a_sale, block_an_early_end, pause_a_job
from tests.alerts.standins import (
    CHATWORK_ROOM,
    CHATWORK_TOKEN,
    LINE_TOKEN,
    SMTP_PASSWORD,
)


async def deliveries(hub: AlertsHub) -> list[AlertDelivery]:
    async with hub.app[DB].session() as s:
        return list((await s.scalars(select(AlertDelivery).order_by(AlertDelivery.id))).all())


# ---- テスト送信 -----------------------------------------------------------------------------------------
async def test_chatwork_test_send_arrives_and_mistakes_are_told_in_japanese(
    alerts_hub: AlertsHub,
) -> None:
    hub = alerts_hub
    status, body = await hub.put({"chatwork": {"room_id": CHATWORK_ROOM, "token": CHATWORK_TOKEN}})
    assert status == 200, body
    assert body["chatwork"]["token"] == {"set": True}

    reply = await hub.test_send("chatwork")
    assert reply["ok"] is True, reply
    assert "Chatworkにテストメッセージを送りました" in reply["message"]
    [got] = hub.chatwork_seen.received
    assert "テスト送信" in got["body"] and got["body"].startswith("[info][title]")

    await hub.put({"chatwork": {"token": "f" * 32}})
    reply = await hub.test_send("chatwork")
    assert reply["ok"] is False
    assert reply["error"]["code"] == "CHATWORK_UNAUTHORIZED"
    assert "APIトークンが正しくありません" in reply["error"]["message"]

    await hub.put({"chatwork": {"token": CHATWORK_TOKEN, "room_id": "999"}})
    reply = await hub.test_send("chatwork")
    assert reply["error"]["code"] == "CHATWORK_NO_ROOM"
    assert "ルームID 999 のルームが見つからない" in reply["error"]["message"]
    assert len(hub.chatwork_seen.received) == 1


async def test_line_test_send_uses_the_messaging_api_and_names_wrong_settings(
    alerts_hub: AlertsHub,
) -> None:
    hub = alerts_hub
    await hub.turn_on("line")
    assert (await hub.test_send("line"))["ok"] is True
    [got] = hub.line_seen.received
    assert got["text"].startswith("【ReCORE Connector】テスト送信")

    await hub.put({"line": {"to": "U" + "f" * 32}})
    reply = await hub.test_send("line")
    assert reply["error"]["code"] == "LINE_BAD_RECIPIENT"
    assert "送信先のIDが正しくありません" in reply["error"]["message"]

    await hub.put({"line": {"token": "wrong-token"}})
    reply = await hub.test_send("line")
    assert reply["error"]["code"] == "LINE_UNAUTHORIZED"
    assert "チャネルアクセストークンが正しくない" in reply["error"]["message"]


async def test_email_test_send_arrives_in_japanese_and_a_refused_login_is_said(
    alerts_hub: AlertsHub,
) -> None:
    hub = alerts_hub
    await hub.turn_on("email")
    reply = await hub.test_send("email")
    assert reply["ok"] is True, reply
    [mail] = hub.smtp.box.messages
    assert str(make_header(decode_header(mail["Subject"]))) == "【ReCORE Connector】テスト送信"
    assert "テストメッセージ" in mail.get_content()
    assert hub.smtp.box.envelopes[0].rcpt_tos == ["owner@example.jp", "staff@example.jp"]

    await hub.put({"email": {"password": "not-the-password"}})
    reply = await hub.test_send("email")
    assert reply["error"]["code"] == "SMTP_AUTH_FAILED"
    assert "ユーザー名かパスワードを受け付けませんでした" in reply["error"]["message"]

    hub.smtp.stop()
    await hub.put({"email": {"password": SMTP_PASSWORD}})
    reply = await hub.test_send("email")
    assert reply["error"]["code"] == "SMTP_UNREACHABLE"
    assert f"127.0.0.1:{hub.smtp.port} に接続できませんでした" in reply["error"]["message"]


async def test_an_incomplete_channel_is_named_before_anything_is_sent(
    alerts_hub: AlertsHub,
) -> None:
    reply = await alerts_hub.test_send("chatwork")
    assert reply["error"]["code"] == "CHANNEL_INCOMPLETE"
    assert "ルームID" in reply["error"]["message"] and "トークン" in reply["error"]["message"]
    assert alerts_hub.chatwork_seen.requests == 0


# ---- settings ---------------------------------------------------------------------------------------
async def test_secrets_are_write_only_and_encrypted_at_rest(alerts_hub: AlertsHub) -> None:
    hub = alerts_hub
    await hub.turn_on("chatwork", "line", "email")
    resp = await hub.client.get("/api/v1/alerts", headers=hub.auth)
    text = await resp.text()
    for secret in (CHATWORK_TOKEN, LINE_TOKEN, SMTP_PASSWORD):
        assert secret not in text
    body = await resp.json()
    assert body["email"]["password"] == {"set": True}
    assert body["line"]["token"] == {"set": True}
    async with hub.app[DB].session() as s:
        rows = (await s.scalars(select(Setting))).all()
    stored = " ".join(f"{r.value} {r.ciphertext!r}" for r in rows)
    for secret in (CHATWORK_TOKEN, LINE_TOKEN, SMTP_PASSWORD):
        assert secret not in stored


async def test_the_smtp_password_stays_with_its_server(alerts_hub: AlertsHub) -> None:
    hub = alerts_hub
    await hub.turn_on("email")
    # another server without a new password: the old one is not sent there
    status, body = await hub.put(
        {"email": {"enabled": False, "host": "smtp.example.jp", "security": "starttls"}}
    )
    assert status == 200, body
    assert body["email"]["password"] == {"set": False}
    status, body = await hub.put({"email": {"security": "none"}})
    assert status == 400
    assert "このパソコン（127.0.0.1）のサーバーにだけ" in body["error"]["fields"]["email.security"]


async def test_bad_settings_are_refused_field_by_field(alerts_hub: AlertsHub) -> None:
    status, body = await alerts_hub.put(
        {
            "chatwork": {"enabled": True, "room_id": "abc"},
            "line": {"to": "someone"},
            "email": {"port": 70000, "to": "not-an-address"},
            "history_retention_days": 3,
            "chrome": {"kinds": ["won", "nonsense"]},
        }
    )
    assert status == 400
    fields = body["error"]["fields"]
    assert "ルームIDは数字で" in fields["chatwork.room_id"]
    assert "U・C・R で始まる" in fields["line.to"]
    assert "1〜65535" in fields["email.port"]
    assert "メールアドレス" in fields["email.to"]
    assert "7〜365" in fields["history_retention_days"]
    assert "nonsense" in fields["chrome.kinds"]
    # nothing was stored
    resp = await alerts_hub.client.get("/api/v1/alerts", headers=alerts_hub.auth)
    assert (await resp.json())["history_retention_days"] == 30


# ---- the queue ----------------------------------------------------------------------------------------
async def test_every_alert_arrives_once_after_an_outage(alerts_hub: AlertsHub) -> None:
    hub = alerts_hub
    await hub.turn_on("chatwork", "line", "email", kinds=["job_paused", "early_end_blocked", "won"])
    hub.chatwork_seen.mode = "down"
    hub.line_seen.mode = "down"
    hub.smtp.stop()

    await pause_a_job(hub.app)
    await block_an_early_end(hub.app, 501, "A-0501", "x100000501")
    await a_sale(hub.app, "order-1", "A-0777", "x100000777", "保留中")
    await hub.record()
    queued = await deliveries(hub)
    assert sorted({(d.channel, d.kind) for d in queued}) == sorted(
        (c, k)
        for c in ("chatwork", "email", "line")
        for k in ("early_end_blocked", "job_paused", "won")
    )
    # the outage: tried, nothing arrives, nothing is lost
    for _ in range(3):
        await hub.queue.deliver_now()
        await hub.time_passes()
    assert hub.chatwork_seen.received == [] and hub.line_seen.received == []
    waiting = await deliveries(hub)
    assert all(d.state == "pending" for d in waiting)
    # each channel tried its oldest alert; the others wait behind it (in order, no hammering)
    tried = [d for d in waiting if d.attempts]
    assert sorted(d.channel for d in tried) == ["chatwork", "email", "line"]
    assert all("自動で再送します" in (d.last_error or "") for d in tried)

    # back up: each alert once, on each channel
    hub.chatwork_seen.mode = "ok"
    hub.line_seen.mode = "ok"
    hub.smtp.start()
    await hub.queue.deliver_now()
    await hub.record()  # a second history pass adds nothing
    await hub.queue.deliver_now()
    assert len(hub.chatwork_seen.received) == 3
    assert len(hub.line_seen.received) == 3
    assert len(hub.smtp.box.messages) == 3
    blocked = next(m for m in hub.chatwork_seen.received if "早期終了できず" in m["body"])
    assert "入札があるため" in blocked["body"] and "x100000501" in blocked["body"]
    assert "取り消し" in blocked["body"]  # what to do
    assert all(d.state == "sent" for d in await deliveries(hub))


async def test_a_lost_answer_is_not_a_second_line_message(alerts_hub: AlertsHub) -> None:
    hub = alerts_hub
    await hub.turn_on("line", kinds=["job_paused"])
    hub.line_seen.mode = "lost"  # LINE carries it out, the answer is a 500
    await pause_a_job(hub.app)
    await hub.record()
    await hub.queue.deliver_now()
    [delivery] = await deliveries(hub)
    assert delivery.state == "pending"
    hub.line_seen.mode = "ok"
    await hub.time_passes()
    await hub.queue.deliver_now()
    [delivery] = await deliveries(hub)
    assert delivery.state == "sent"
    assert hub.line_seen.requests == 2  # the retry carried the same key and got 409
    assert len(hub.line_seen.received) == 1


async def test_none_while_a_channel_is_off(alerts_hub: AlertsHub) -> None:
    hub = alerts_hub
    await hub.turn_on("chatwork", kinds=["job_paused", "won"])
    await hub.put({"chatwork": {"enabled": False}})
    await pause_a_job(hub.app)
    await hub.record()
    await hub.queue.deliver_now()
    assert await deliveries(hub) == []

    # queued while on, switched off before it could leave: dropped, not sent later
    await hub.put({"chatwork": {"enabled": True}})
    hub.chatwork_seen.mode = "down"
    await a_sale(hub.app, "order-9", "A-0009", "x100000009", "保留中")
    await hub.record()
    await hub.queue.deliver_now()
    await hub.put({"chatwork": {"enabled": False}})
    hub.chatwork_seen.mode = "ok"
    await hub.time_passes()
    await hub.queue.deliver_now()
    await hub.put({"chatwork": {"enabled": True}})
    await hub.queue.deliver_now()
    assert hub.chatwork_seen.received == []
    assert [d.state for d in await deliveries(hub)] == ["dropped"]


async def test_kinds_not_chosen_are_not_sent(alerts_hub: AlertsHub) -> None:
    hub = alerts_hub
    await hub.turn_on("chatwork", kinds=["paid"])
    await a_sale(hub.app, "order-2", "A-0002", "x100000002", "保留中")  # won, not paid
    await hub.record()
    assert await deliveries(hub) == []
    await a_sale(hub.app, "order-2", "A-0002", "x100000002", "未出荷")  # now paid
    await hub.record()
    await hub.queue.deliver_now()
    [message] = hub.chatwork_seen.received
    assert "入金されました" in message["body"] and "A-0002" in message["body"]


async def test_429_waits_as_told_without_counting_an_attempt(alerts_hub: AlertsHub) -> None:
    hub = alerts_hub
    await hub.turn_on("chatwork", kinds=["job_paused"])
    hub.chatwork_seen.mode = "busy"
    await pause_a_job(hub.app)
    await hub.record()
    await hub.queue.deliver_now()
    [delivery] = await deliveries(hub)
    assert delivery.state == "pending" and delivery.attempts == 0
    assert "上限" in (delivery.last_error or "")
    assert hub.queue.held_for("chatwork") > 5  # Retry-After: 7
    await hub.queue.deliver_now()  # held: not asked again meanwhile
    assert hub.chatwork_seen.requests == 1
    hub.chatwork_seen.mode = "ok"
    await hub.time_passes()
    await hub.queue.deliver_now()
    assert len(hub.chatwork_seen.received) == 1


async def test_a_wrong_token_waits_for_staff_and_a_good_test_send_releases_it(
    alerts_hub: AlertsHub,
) -> None:
    hub = alerts_hub
    await hub.turn_on("chatwork", kinds=["job_paused"])
    await hub.put({"chatwork": {"token": "e" * 32}})
    await pause_a_job(hub.app)
    await hub.record()
    await hub.queue.deliver_now()
    [delivery] = await deliveries(hub)
    assert delivery.state == "pending"
    assert "APIトークンが正しくありません" in (delivery.last_error or "")
    resp = await hub.client.get("/api/v1/alerts", headers=hub.auth)
    status = (await resp.json())["status"]["chatwork"]
    assert status["pending"] == 1 and "APIトークン" in status["last_error"]

    await hub.put({"chatwork": {"token": CHATWORK_TOKEN}})
    assert (await hub.test_send("chatwork"))["ok"] is True
    await hub.queue.deliver_now()
    assert [d.state for d in await deliveries(hub)] == ["sent"]
    assert len(hub.chatwork_seen.received) == 2  # the test message and the alert
