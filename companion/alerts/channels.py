"""One message to one channel, and what went wrong in words staff understand.

- E-mail: SMTP through `aiosmtplib` (STARTTLS, SSL/TLS, or plain to a server on this machine).
  The Message-ID is the delivery's retry key, so a resent mail is recognisably the same one.
- Chatwork: API v2, `POST /rooms/{room_id}/messages` with the `X-ChatWorkToken` header.
- LINE: Messaging API push (`POST /v2/bot/message/push`, bearer channel access token) with
  `X-Line-Retry-Key`: LINE carries out a request with the same key once and answers 409 after,
  so a retry after a lost answer is never a second message. (LINE Notify closed in March 2025.)

apprise covers SMTP and LINE too, but answers only true or false: it cannot tell a wrong token
from a missing room or a server that is down, and staff need exactly that.

Every failure is a `ChannelError` of one of five sorts, which decides what the queue does:
`auth` and `config` (staff must fix a setting: retried slowly), `rate` (wait as told), `down`
(backoff), `rejected` (this message can never be sent: given up).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiohttp
import aiosmtplib

CHATWORK_API = "https://api.chatwork.com/v2"
LINE_API = "https://api.line.me"
TIMEOUT_SECONDS = 20.0
LINE_TEXT_LIMIT = 5000


@dataclass(frozen=True)
class AlertEndpoints:
    """Where Chatwork and LINE are. Not a setting: the real hosts, or (for tests and trials on
    this machine) what the environment says; never something a token holder can change."""

    chatwork: str = CHATWORK_API
    line: str = LINE_API
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_env(cls) -> AlertEndpoints:
        return cls(
            chatwork=os.environ.get("RECORE_CONNECTOR_CHATWORK_API", CHATWORK_API).rstrip("/"),
            line=os.environ.get("RECORE_CONNECTOR_LINE_API", LINE_API).rstrip("/"),
        )


class ChannelError(Exception):
    """A send that did not work. `sort`: auth | config | rate | down | rejected."""

    def __init__(
        self, sort: str, code: str, ja: str, en: str, retry_after: float | None = None
    ) -> None:
        super().__init__(en)
        self.sort = sort
        self.code = code
        self.ja = ja
        self.en = en
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.ja, "message_en": self.en}


@dataclass(frozen=True)
class Alert:
    title: str
    body: str
    retry_key: str  # the same for every attempt of one delivery


def _retry_after(headers: Any, default: float) -> float:
    raw = headers.get("Retry-After")
    if raw and raw.strip().isdigit():
        return float(raw.strip())
    reset = headers.get("X-RateLimit-Reset")  # Chatwork: when the 5-minute window ends (epoch)
    if reset and reset.strip().isdigit():
        return max(1.0, float(reset.strip()) - time.time())
    return default


async def _read_json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {}
    return data if isinstance(data, dict) else {}


def _down(service: str, exc: BaseException) -> ChannelError:
    return ChannelError(
        "down",
        f"{service.upper()}_UNREACHABLE",
        f"{service}に接続できませんでした（インターネット接続か、{service}の障害）。自動で再送します。",
        f"{service} unreachable: {type(exc).__name__}",
    )


# ---- Chatwork ---------------------------------------------------------------------------------------
async def send_chatwork(
    http: aiohttp.ClientSession,
    endpoints: AlertEndpoints,
    room_id: str,
    token: str,
    alert: Alert,
) -> None:
    text = f"[info][title]{alert.title}[/title]{alert.body}[/info]"
    url = f"{endpoints.chatwork}/rooms/{room_id}/messages"
    try:
        async with http.post(
            url,
            data={"body": text, "self_unread": "1"},
            headers={"X-ChatWorkToken": token, "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=endpoints.timeout),
        ) as response:
            status = response.status
            data = await _read_json(response)
            headers = response.headers
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _down("Chatwork", exc) from None
    if 200 <= status < 300:
        return
    said = "; ".join(str(e) for e in data.get("errors", []) if isinstance(e, str))[:300]
    if status == 401:
        raise ChannelError(
            "auth",
            "CHATWORK_UNAUTHORIZED",
            "ChatworkのAPIトークンが正しくありません（401）。Chatworkの「サービス連携 → APIトークン」"
            "で確認して、設定画面で入れ直してください。",
            f"Chatwork refused the API token (401): {said}",
        )
    if status in (403, 404):
        raise ChannelError(
            "config",
            "CHATWORK_NO_ROOM",
            f"ルームID {room_id} のルームが見つからないか、このトークンのアカウントが投稿できないルームです"
            f"（{status}）。ルームIDと、そのルームのメンバーか（閲覧のみでないか）を確認してください。",
            f"Chatwork: no such room or no right to post ({status}): {said}",
        )
    if status == 429:
        raise ChannelError(
            "rate",
            "CHATWORK_RATE_LIMITED",
            "Chatworkの送信回数の上限（5分間に300回）に達しました。少し待ってから自動で再送します。",
            "Chatwork rate limit (429)",
            _retry_after(headers, 60.0),
        )
    if status >= 500:
        raise ChannelError(
            "down",
            "CHATWORK_UNAVAILABLE",
            f"Chatworkが応答しません（{status}）。自動で再送します。",
            f"Chatwork answered {status}",
        )
    raise ChannelError(
        "rejected",
        "CHATWORK_REJECTED",
        f"Chatworkがメッセージを受け付けませんでした（{status}: {said or '理由なし'}）。",
        f"Chatwork refused the message ({status}): {said}",
    )


# ---- LINE -------------------------------------------------------------------------------------------
async def send_line(
    http: aiohttp.ClientSession,
    endpoints: AlertEndpoints,
    to: str,
    token: str,
    alert: Alert,
) -> None:
    text = f"{alert.title}\n{alert.body}"[:LINE_TEXT_LIMIT]
    try:
        async with http.post(
            f"{endpoints.line}/v2/bot/message/push",
            json={"to": to, "messages": [{"type": "text", "text": text}]},
            headers={"Authorization": f"Bearer {token}", "X-Line-Retry-Key": alert.retry_key},
            timeout=aiohttp.ClientTimeout(total=endpoints.timeout),
        ) as response:
            status = response.status
            data = await _read_json(response)
            headers = response.headers
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _down("LINE", exc) from None
    if 200 <= status < 300 or status == 409:
        return  # 409: a request with this retry key was carried out before (sent once)
    said = str(data.get("message") or "")[:300]
    details = data.get("details") if isinstance(data.get("details"), list) else []
    properties = {d.get("property") for d in details if isinstance(d, dict)}
    if status == 401:
        raise ChannelError(
            "auth",
            "LINE_UNAUTHORIZED",
            "LINEのチャネルアクセストークンが正しくないか、期限切れです（401）。LINE Developersの"
            "「Messaging API設定」で長期のチャネルアクセストークンを発行し、設定画面で入れ直してください。",
            f"LINE refused the channel access token (401): {said}",
        )
    if status == 403:
        raise ChannelError(
            "config",
            "LINE_FORBIDDEN",
            "このチャネルではプッシュメッセージを送れません（403）。LINE公式アカウントのプランと"
            "チャネルの設定を確認してください。",
            f"LINE: not allowed to push (403): {said}",
        )
    if status == 400 and ("to" in properties or "'to'" in said):
        raise ChannelError(
            "config",
            "LINE_BAD_RECIPIENT",
            "送信先のIDが正しくありません（400）。ユーザーID・グループIDを確認し、送信先がこの公式"
            "アカウントを友だち追加しているか（グループなら参加しているか）確認してください。",
            f"LINE: bad recipient (400): {said}",
        )
    if status == 429:
        monthly = "monthly limit" in said.lower()
        raise ChannelError(
            "rate",
            "LINE_RATE_LIMITED",
            "LINEの今月の送信数の上限に達しました。プランを確認してください。1時間ごとに再送を試みます。"
            if monthly
            else "LINEの送信回数の上限に達しました。少し待ってから自動で再送します。",
            f"LINE rate limit (429): {said}",
            3600.0 if monthly else _retry_after(headers, 60.0),
        )
    if status >= 500:
        raise ChannelError(
            "down",
            "LINE_UNAVAILABLE",
            f"LINEが応答しません（{status}）。自動で再送します。",
            f"LINE answered {status}",
        )
    raise ChannelError(
        "rejected",
        "LINE_REJECTED",
        f"LINEがメッセージを受け付けませんでした（{status}: {said or '理由なし'}）。",
        f"LINE refused the message ({status}): {said}",
    )


# ---- e-mail -----------------------------------------------------------------------------------------
def email_message(config: dict[str, Any], alert: Alert) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config["from"]
    message["To"] = ", ".join(config["to"])
    message["Subject"] = alert.title
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = f"<alert-{alert.retry_key}@recore-connector.invalid>"
    message.set_content(alert.body, charset="utf-8")
    return message


async def send_email(
    config: dict[str, Any], password: str | None, alert: Alert, seconds: float = TIMEOUT_SECONDS
) -> None:
    host, port, security = (
        config.get("host"),
        int(config.get("port") or 587),
        config.get("security"),
    )
    try:
        await aiosmtplib.send(
            email_message(config, alert),
            hostname=host,
            port=port,
            username=config.get("username") or None,
            password=password if config.get("username") else None,
            use_tls=security == "ssl",
            start_tls=True if security == "starttls" else False,
            timeout=seconds,
        )
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise ChannelError(
            "auth",
            "SMTP_AUTH_FAILED",
            f"メールサーバー {host} がユーザー名かパスワードを受け付けませんでした（{exc.code}）。"
            "設定画面で入れ直してください。",
            f"SMTP authentication refused ({exc.code})",
        ) from None
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(r.recipient for r in exc.recipients)[:200]
        raise ChannelError(
            "config",
            "SMTP_RECIPIENT_REFUSED",
            f"メールサーバー {host} が宛先（{refused}）を受け付けませんでした。宛先を確認してください。",
            f"SMTP refused the recipients {refused}",
        ) from None
    except aiosmtplib.SMTPSenderRefused as exc:
        raise ChannelError(
            "config",
            "SMTP_SENDER_REFUSED",
            f"メールサーバー {host} が送信元アドレス（{exc.sender}）を受け付けませんでした（{exc.code}）。",
            f"SMTP refused the sender ({exc.code})",
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        temporary = 400 <= exc.code < 500
        raise ChannelError(
            "down" if temporary else "rejected",
            "SMTP_REFUSED",
            f"メールサーバー {host} が送信を断りました（{exc.code} {exc.message[:120]}）。"
            + ("自動で再送します。" if temporary else ""),
            f"SMTP answered {exc.code}",
        ) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise ChannelError(
            "down",
            "SMTP_UNREACHABLE",
            f"メールサーバー {host}:{port} に接続できませんでした（{type(exc).__name__}）。"
            "サーバー名・ポート・暗号化の設定を確認してください。自動で再送します。",
            f"SMTP {host}:{port} unreachable: {type(exc).__name__}",
        ) from None


async def send(
    channel: str,
    http: aiohttp.ClientSession,
    endpoints: AlertEndpoints,
    config: dict[str, Any],
    secret: str | None,
    alert: Alert,
) -> None:
    """Send one alert on one channel; raises `ChannelError`."""
    if channel == "email":
        await send_email(config, secret, alert, endpoints.timeout)
    elif channel == "chatwork":
        await send_chatwork(http, endpoints, str(config.get("room_id")), secret or "", alert)
    elif channel == "line":
        await send_line(http, endpoints, str(config.get("to")), secret or "", alert)
    else:  # pragma: no cover - the settings allow no other
        raise ValueError(channel)
