"""Local stand-ins for the alert channels, on 127.0.0.1: they answer like Chatwork's API v2 and
LINE's Messaging API (including 401, 404, 429 and outages) and keep what they received; an
aiosmtpd server receives the mail."""

from __future__ import annotations

import email
import email.policy
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port

CHATWORK_TOKEN = "0123456789abcdef0123456789abcdef"
CHATWORK_ROOM = "123456789"
LINE_TOKEN = "line-channel-access-token-" + "x" * 40
LINE_TO = "U" + "0" * 31 + "1"
SMTP_USER = "shop@example.jp"
SMTP_PASSWORD = "smtp-pass-3e9d"


@dataclass
class StandIn:
    """One HTTP stand-in: `mode` is ok, down (503), busy (429), or lost (accepts, answers 500)."""

    mode: str = "ok"
    received: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    retry_after: str = "7"


CHATWORK = web.AppKey("chatwork", StandIn)
LINE = web.AppKey("line", StandIn)


def chatwork_app() -> web.Application:
    app = web.Application()
    app[CHATWORK] = StandIn()

    async def post_message(request: web.Request) -> web.Response:
        state = request.app[CHATWORK]
        state.requests += 1
        if state.mode == "down":
            return web.Response(status=503, text="Service Unavailable")
        if request.headers.get("X-ChatWorkToken") != CHATWORK_TOKEN:
            return web.json_response({"errors": ["Invalid API token"]}, status=401)
        if state.mode == "busy":
            return web.json_response(
                {"errors": ["Rate limit exceeded"]},
                status=429,
                headers={"Retry-After": state.retry_after},
            )
        if request.match_info["room_id"] != CHATWORK_ROOM:
            return web.json_response({"errors": ["Resource not found"]}, status=404)
        form = await request.post()
        state.received.append({"body": form.get("body"), "self_unread": form.get("self_unread")})
        return web.json_response({"message_id": str(len(state.received))})

    app.router.add_post("/v2/rooms/{room_id}/messages", post_message)
    return app


def line_app() -> web.Application:
    app = web.Application()
    app[LINE] = StandIn()
    accepted_keys: set[str] = set()

    async def push(request: web.Request) -> web.Response:
        state = request.app[LINE]
        state.requests += 1
        if state.mode == "down":
            return web.Response(status=503)
        if request.headers.get("Authorization") != f"Bearer {LINE_TOKEN}":
            return web.json_response(
                {
                    "message": "Authentication failed. Confirm that the access token in the "
                    "authorization header is valid."
                },
                status=401,
            )
        if state.mode == "busy":
            return web.json_response(
                {"message": "Too Many Requests"}, status=429, headers={"Retry-After": "3"}
            )
        key = request.headers.get("X-Line-Retry-Key", "")
        uuid.UUID(key)  # a retry key must be a UUID (a 500 here fails the test)
        if key in accepted_keys:
            return web.json_response(
                {"message": "The retry key is already accepted"},
                status=409,
                headers={"X-Line-Accepted-Request-Id": key},
            )
        body = await request.json()
        if body.get("to") != LINE_TO:
            return web.json_response(
                {
                    "message": "The property, 'to', in the request body is invalid (line: -, column: -)",
                    "details": [{"message": "invalid", "property": "to"}],
                },
                status=400,
            )
        accepted_keys.add(key)
        state.received.append({"text": body["messages"][0]["text"], "retry_key": key})
        if state.mode == "lost":  # carried out, but the answer never arrives intact
            return web.Response(status=500)
        return web.json_response({"sentMessages": [{"id": str(len(state.received))}]})

    app.router.add_post("/v2/bot/message/push", push)
    return app


class MailBox:
    """What the SMTP stand-in received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login.decode() == SMTP_USER
        and data.password.decode() == SMTP_PASSWORD
    )
    return AuthResult(success=ok, handled=False)


class SmtpStandIn:
    """aiosmtpd on 127.0.0.1 with LOGIN/PLAIN auth over plain SMTP (allowed only on loopback)."""

    def __init__(self) -> None:
        self.box = MailBox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.box,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=_authenticator,
            auth_required=True,
            auth_require_tls=False,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
