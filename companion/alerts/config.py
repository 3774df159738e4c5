"""Alert settings: per channel whether it is on, where it sends and which event kinds it gets.

Kept beside the other settings (the `settings` table) but as one document of its own, because
its shape is nested (a channel has several fields) and its rules are per channel. Secrets (the
SMTP password, the Chatwork API token, the LINE channel access token) follow the house rules of
`companion.settings`: Fernet ciphertext only, write-only over the API (`{"set": bool}`), known to
the log redaction before any log line. The SMTP password is bound to the server and account it
was entered for: another host or user name without a new password clears it, so a token holder
cannot send it elsewhere. Chatwork's and LINE's hosts are not settings at all
(`channels.AlertEndpoints`).
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import re
from typing import Any

from sqlalchemy import select

from companion.db import Database
from companion.db.models import Setting
from companion.logs import redact
from companion.secretbox import SecretBox
from companion.settings import Invalid, SettingsError, _email, _short_text

log = logging.getLogger(__name__)

# Event kinds staff can be alerted about (history kinds, companion.history.KINDS).
ALERT_KINDS: tuple[str, ...] = (
    "job_failed",
    "job_paused",
    "early_end_blocked",
    "recore_stuck",
    "won",
    "paid",
)
DEFAULT_KINDS: list[str] = ["job_failed", "job_paused", "early_end_blocked", "recore_stuck"]
CHANNELS: tuple[str, ...] = ("email", "chatwork", "line")
CHANNEL_LABELS: dict[str, str] = {
    "chrome": "Chromeの通知",
    "email": "メール",
    "chatwork": "Chatwork",
    "line": "LINE",
}
SECRET_FIELD: dict[str, str] = {"email": "password", "chatwork": "token", "line": "token"}
SECURITY_MODES: tuple[str, ...] = ("starttls", "ssl", "none")
DOC_KEY = "_alerts"
SECRET_ROW = "_alerts_secret_{channel}"  # noqa: S105 - a row name, not a secret

DEFAULTS: dict[str, Any] = {
    "chrome": {"kinds": list(DEFAULT_KINDS)},
    "email": {
        "enabled": False,
        "kinds": list(DEFAULT_KINDS),
        "host": None,
        "port": 587,
        "security": "starttls",
        "username": None,
        "from": None,
        "to": [],
    },
    "chatwork": {"enabled": False, "kinds": list(DEFAULT_KINDS), "room_id": None},
    "line": {"enabled": False, "kinds": list(DEFAULT_KINDS), "to": None},
    "recore_stuck_minutes": 30,
    "history_retention_days": 30,
}

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$"
)
_LINE_TO = re.compile(r"^[UCR][0-9a-f]{32}$")


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("オン・オフで指定してください", "must be true or false")
    return value


def _kinds(value: Any) -> list[str]:
    if not isinstance(value, list) or any(not isinstance(k, str) for k in value):
        raise Invalid("通知する出来事を一覧で指定してください", "must be a list of kinds")
    unknown = [k for k in value if k not in ALERT_KINDS]
    if unknown:
        raise Invalid(f"「{unknown[0][:40]}」は選べません", f"unknown kind {unknown[0][:40]!r}")
    return [k for k in ALERT_KINDS if k in value]  # known order, no repeats


def _int_in(lo: int, hi: int, *, zero: bool = False) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise Invalid("整数で入力してください", "must be an integer")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise Invalid("整数で入力してください", "must be an integer") from None
        if zero and number == 0:
            return 0
        if not lo <= number <= hi:
            extra = "（0でオフ）" if zero else ""
            raise Invalid(f"{lo}〜{hi} の整数で入力してください{extra}", f"must be {lo}..{hi}")
        return number

    return check


def _host(value: Any) -> str | None:
    text = _short_text(253)(value)
    if text is not None and not _HOSTNAME.match(text):
        raise Invalid("サーバー名（例: smtp.example.jp）を入力してください", "must be a host name")
    return None if text is None else text.lower()


def _security(value: Any) -> str:
    if value not in SECURITY_MODES:
        raise Invalid(
            "暗号化は STARTTLS・SSL/TLS・なし のいずれかを選んでください",
            f"must be one of {SECURITY_MODES}",
        )
    return str(value)


def _addresses(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    items = re.split(r"[,\s、]+", value) if isinstance(value, str) else value
    if not isinstance(items, list) or any(not isinstance(i, str) for i in items):
        raise Invalid("宛先のメールアドレスを入力してください", "must be e-mail addresses")
    out = [a for a in (_email(i) for i in items if i.strip()) if a]
    if len(out) > 5:
        raise Invalid("宛先は5件までです", "at most 5 recipients")
    return out


def _room_id(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    if text.startswith("#!rid"):
        text = text[5:]  # pasted from the room's address
    if not text.isdigit() or len(text) > 20:
        raise Invalid(
            "ルームIDは数字で入力してください（ルームのURLの「rid」の後ろの数字）",
            "room id must be digits",
        )
    return text


def _line_to(value: Any) -> str | None:
    text = _short_text(40)(value)
    if text is not None and not _LINE_TO.match(text):
        raise Invalid(
            "送信先は U・C・R で始まる33文字のID（ユーザーID・グループID・トークルームID）です",
            "must be a LINE user, group or room id (U/C/R + 32 hex digits)",
        )
    return text


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise Invalid("空でない文字列で入力してください", "must be a non-empty string")
    if any(ch in value for ch in "\r\n"):
        raise Invalid("改行を含めないでください", "no newlines")
    return value.strip()  # a token pasted with a space around it


FIELD_RULES: dict[str, dict[str, Any]] = {
    "chrome": {"kinds": _kinds},
    "email": {
        "enabled": _bool,
        "kinds": _kinds,
        "host": _host,
        "port": _int_in(1, 65535),
        "security": _security,
        "username": _short_text(254),
        "from": _email,
        "to": _addresses,
        "password": _secret,
    },
    "chatwork": {"enabled": _bool, "kinds": _kinds, "room_id": _room_id, "token": _secret},
    "line": {"enabled": _bool, "kinds": _kinds, "to": _line_to, "token": _secret},
}
TOP_RULES: dict[str, Any] = {
    "recore_stuck_minutes": _int_in(5, 1440, zero=True),
    "history_retention_days": _int_in(7, 365),
}
LABELS: dict[str, str] = {
    "enabled": "送信",
    "kinds": "通知する出来事",
    "host": "SMTPサーバー",
    "port": "ポート",
    "security": "暗号化",
    "username": "ユーザー名",
    "from": "送信元アドレス",
    "to": "宛先",
    "password": "パスワード",
    "room_id": "ルームID",
    "token": "トークン",
    "recore_stuck_minutes": "ReCOREへの送信が止まったとみなす時間（分）",
    "history_retention_days": "履歴の保存期間（日）",
}


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return bool(host) and ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class AlertConfig:
    """The alert settings, cached in memory (read on every history pass), stored in the database."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box
        self.doc: dict[str, Any] = copy.deepcopy(DEFAULTS)
        self.secret_set: dict[str, bool] = dict.fromkeys(CHANNELS, False)

    async def load(self) -> None:
        async with self.db.session() as s:
            row = await s.get(Setting, DOC_KEY)
            secrets = {
                r.key: r
                for r in (
                    await s.scalars(
                        select(Setting).where(
                            Setting.key.in_([SECRET_ROW.format(channel=c) for c in CHANNELS])
                        )
                    )
                ).all()
            }
        self.doc = _merged(row.value if row is not None else None)
        for channel in CHANNELS:
            stored = secrets.get(SECRET_ROW.format(channel=channel))
            self.secret_set[channel] = bool(stored and stored.ciphertext)
            if stored is not None and stored.ciphertext:
                redact(self.box.decrypt(stored.ciphertext))  # known to the log redaction at once

    def channel(self, name: str) -> dict[str, Any]:
        return dict(self.doc.get(name) or {})

    def value(self, key: str) -> Any:
        return self.doc.get(key, DEFAULTS.get(key))

    def enabled(self, channel: str) -> bool:
        return bool(self.channel(channel).get("enabled"))

    def kinds(self, channel: str) -> list[str]:
        return list(self.channel(channel).get("kinds") or [])

    async def secret(self, channel: str) -> str | None:
        async with self.db.session() as s:
            row = await s.get(Setting, SECRET_ROW.format(channel=channel))
        if row is None or row.ciphertext is None:
            return None
        plaintext = self.box.decrypt(row.ciphertext)
        redact(plaintext)
        return plaintext

    def public(self) -> dict[str, Any]:
        out = copy.deepcopy(self.doc)
        for channel in CHANNELS:
            out[channel][SECRET_FIELD[channel]] = {"set": self.secret_set[channel]}
        return out

    def missing(
        self, channel: str, doc: dict[str, Any] | None = None, secret_set: bool | None = None
    ) -> list[str]:
        """The fields a channel still needs before it can send."""
        part = (doc or self.doc).get(channel) or {}
        has_secret = self.secret_set[channel] if secret_set is None else secret_set
        if channel == "email":
            need = [k for k in ("host", "from") if not part.get(k)]
            if not part.get("to"):
                need.append("to")
            if part.get("username") and not has_secret:
                need.append("password")
            return need
        need = ["room_id"] if channel == "chatwork" and not part.get("room_id") else []
        if channel == "line" and not part.get("to"):
            need.append("to")
        if not has_secret:
            need.append("token")
        return need

    async def update(self, patch: Any) -> tuple[dict[str, Any], list[str]]:
        """Validate the whole patch first and store nothing when a field is wrong. Returns the
        public settings and what was changed (English names, never values)."""
        if not isinstance(patch, dict):
            raise SettingsError(
                {"_": ("JSONオブジェクトを送ってください", "body must be an object")}
            )
        errors: dict[str, tuple[str, str]] = {}
        doc = copy.deepcopy(self.doc)
        secrets: dict[str, str | None] = {}
        for key, value in patch.items():
            if key in TOP_RULES:
                try:
                    doc[key] = TOP_RULES[key](value)
                except Invalid as exc:
                    errors[key] = (f"{LABELS[key]}: {exc.ja}", exc.en)
                continue
            rules = FIELD_RULES.get(key)
            if rules is None or not isinstance(value, dict):
                errors[key] = ("この項目はありません", "unknown setting")
                continue
            for name, raw in value.items():
                rule = rules.get(name)
                path = f"{key}.{name}"
                if rule is None:
                    errors[path] = ("この項目はありません", "unknown setting")
                    continue
                try:
                    clean = rule(raw)
                except Invalid as exc:
                    errors[path] = (f"{LABELS.get(name, name)}: {exc.ja}", exc.en)
                    continue
                if key in SECRET_FIELD and name == SECRET_FIELD[key]:
                    secrets[key] = clean
                else:
                    doc[key][name] = clean
        # the SMTP password belongs to the server and account it was typed for
        email_before, email_after = self.doc["email"], doc["email"]
        moved = any(email_before.get(k) != email_after.get(k) for k in ("host", "port", "username"))
        if moved and "email" not in secrets and self.secret_set["email"]:
            secrets["email"] = None
        if (
            email_after.get("security") == "none"
            and email_after.get("host")
            and not _is_loopback(email_after["host"])
        ):
            errors.setdefault(
                "email.security",
                (
                    "暗号化なしは このパソコン（127.0.0.1）のサーバーにだけ使えます。STARTTLS か SSL/TLS を選んでください",
                    "plain SMTP only to a server on this machine",
                ),
            )
        for channel in CHANNELS:
            secret_after = (
                secrets[channel] is not None if channel in secrets else self.secret_set[channel]
            )
            if doc[channel].get("enabled"):
                for name in self.missing(channel, doc, secret_after):
                    errors.setdefault(
                        f"{channel}.{name}",
                        (
                            f"{LABELS[name]}: 送信をオンにするには入力が必要です",
                            "required when the channel is on",
                        ),
                    )
        if errors:
            raise SettingsError(errors)
        changed = [k for k in doc if doc[k] != self.doc.get(k)]
        async with self.db.session() as s, s.begin():
            row = await s.get(Setting, DOC_KEY) or Setting(key=DOC_KEY)
            row.value = doc
            s.add(row)
            for channel, value in secrets.items():
                key = SECRET_ROW.format(channel=channel)
                stored = await s.get(Setting, key) or Setting(key=key)
                if value is not None:
                    redact(value)
                stored.value = None
                stored.ciphertext = None if value is None else self.box.encrypt(value)
                s.add(stored)
                changed.append(f"{channel}.{SECRET_FIELD[channel]}")
        self.doc = doc
        for channel, value in secrets.items():
            self.secret_set[channel] = value is not None
        if changed:
            log.info("alert settings changed: %s", ", ".join(sorted(set(changed))))
        return self.public(), changed


def _merged(stored: Any) -> dict[str, Any]:
    """Stored values over the defaults: a new field added later has its default."""
    doc = copy.deepcopy(DEFAULTS)
    if isinstance(stored, dict):
        for key, value in stored.items():
            if isinstance(doc.get(key), dict) and isinstance(value, dict):
                doc[key].update({k: v for k, v in value.items() if k in doc[key]})
            elif key in TOP_RULES:
                doc[key] = value
    return doc
