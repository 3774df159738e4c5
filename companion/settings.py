"""The companion's settings: schema, validation, and storage with secrets encrypted at rest.

Secrets are write-only over the API: `public()` shows `{"set": bool}` for each; plaintext is
returned only by `secret()` to the code that needs it (ReCORE client, Yahoo login).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select

from companion.db import Database
from companion.db.models import Setting
from companion.logs import redact
from companion.recore.client import DEFAULT_BASE_URL
from companion.secretbox import SecretBox

log = logging.getLogger(__name__)

SYNC_INTERVALS_MINUTES: tuple[int, ...] = (0, 5, 15, 30, 60, 180, 360, 720, 1440)
RECORE_ORDER_STATUSES: tuple[str, ...] = ("保留中", "未出荷", "出荷済み", "キャンセル済み")
# The seed's table, Yahoo store status → ReCORE 受注管理. Data, editable by staff.
DEFAULT_STATUS_MAPPING: dict[str, str] = {
    "未処理": "保留中",
    "入金済み": "未出荷",
    "発送済み": "出荷済み",
    "対応終了": "出荷済み",
    "キャンセル": "キャンセル済み",
}
SECRET_KEYS: frozenset[str] = frozenset({"recore_api_key", "yahoo_password", "business_password"})
# The Yahoo store login: a change means the browser's session may belong to someone else.
YAHOO_ACCOUNT_KEYS: frozenset[str] = frozenset(
    {"yahoo_base_url", "yahoo_id", "yahoo_password", "business_id", "business_password"}
)


class SettingsError(Exception):
    """Invalid settings: `fields` maps each field to (Japanese rule, English rule)."""

    def __init__(self, fields: dict[str, tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{k}: {en}" for k, (_ja, en) in fields.items()))
        self.fields = fields


class Invalid(ValueError):
    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja = ja
        self.en = en


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_url(value: Any) -> str:
    """https everywhere; plain http only to this machine (the sandboxes). No path junk."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("URLを入力してください", "a URL is required")
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise Invalid("URLの形式が正しくありません", "malformed URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise Invalid("https:// で始まるURLを入力してください", "must be an https:// URL")
    if parts.scheme == "http" and not _is_loopback(host):
        raise Invalid(
            "http は 127.0.0.1 / localhost のみ使えます。https:// を使ってください",
            "plain http is allowed only for 127.0.0.1/localhost",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise Invalid(
            "URLに ? # や認証情報を含めないでください", "no query, fragment or credentials"
        )
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _optional_url(value: Any) -> str | None:
    return None if value in (None, "") else normalise_url(value)


def _optional_int(lo: int, hi: int) -> Callable[[Any], int | None]:
    def check(value: Any) -> int | None:
        if value in (None, ""):
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise Invalid("整数で入力してください", "must be an integer")
        try:
            number = int(value)
        except ValueError:
            raise Invalid("整数で入力してください", "must be an integer") from None
        if not lo <= number <= hi:
            raise Invalid(f"{lo}〜{hi} の整数で入力してください", f"must be between {lo} and {hi}")
        return number

    return check


def _interval(value: Any) -> int:
    if isinstance(value, bool) or value not in SYNC_INTERVALS_MINUTES:
        choices = ", ".join(map(str, SYNC_INTERVALS_MINUTES))
        raise Invalid(f"次のいずれかを選んでください: {choices}（分）", f"must be one of {choices}")
    return int(value)


def _short_text(max_len: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise Invalid("文字列で入力してください", "must be a string")
        value = value.strip()
        if len(value) > max_len or any(ch in value for ch in "\r\n\t"):
            raise Invalid(
                f"{max_len}文字以内・改行なしで入力してください",
                f"at most {max_len} characters, no newlines",
            )
        return value

    return check


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: Any) -> str | None:
    text = _short_text(254)(value)
    if text is not None and not _EMAIL.match(text):
        raise Invalid("メールアドレスの形式で入力してください", "must be an e-mail address")
    return text


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 4096:
        raise Invalid("空でない文字列で入力してください", "must be a non-empty string")
    return value


def _mapping(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise Invalid("ステータス対応表が空です", "status mapping must be a non-empty object")
    out: dict[str, str] = {}
    for yahoo, recore in value.items():
        if not isinstance(yahoo, str) or not yahoo.strip() or len(yahoo) > 32:
            raise Invalid("ヤフオクのステータス名が不正です", f"bad Yahoo status name {yahoo!r}")
        if recore not in RECORE_ORDER_STATUSES:
            allowed = "・".join(RECORE_ORDER_STATUSES)
            raise Invalid(
                f"「{yahoo}」の対応先は {allowed} のいずれかにしてください",
                f"{yahoo!r} must map to one of {RECORE_ORDER_STATUSES}",
            )
        out[yahoo.strip()] = recore
    return out


@dataclass(frozen=True)
class FieldSpec:
    validate: Callable[[Any], Any]
    default: Any = None
    label: str = ""


FIELDS: dict[str, FieldSpec] = {
    "recore_api_url": FieldSpec(normalise_url, DEFAULT_BASE_URL, "ReCORE API URL"),
    "recore_api_key": FieldSpec(_secret, None, "ReCORE APIキー"),
    "ec_account_id": FieldSpec(_optional_int(1, 2**31), None, "ECアカウントID"),
    "store_id": FieldSpec(_optional_int(1, 2**31), None, "店舗ID"),
    "sync_interval_minutes": FieldSpec(_interval, 0, "自動同期の間隔"),
    "yahoo_id": FieldSpec(_short_text(64), None, "Y!ID"),
    "yahoo_password": FieldSpec(_secret, None, "Y!パスワード"),
    "business_id": FieldSpec(_short_text(64), None, "ビジネスID"),
    "business_password": FieldSpec(_secret, None, "ビジネスパスワード"),
    "mail_from": FieldSpec(_email, None, "メール送信元"),
    "status_mapping": FieldSpec(_mapping, DEFAULT_STATUS_MAPPING, "ステータス対応表"),
    # Empty means the real Yahoo sites; the demo points it at the Yahoo sandbox.
    "yahoo_base_url": FieldSpec(_optional_url, None, "ヤフオク接続先（検証用）"),
    "direct_listing_concurrency": FieldSpec(_optional_int(1, 4), 1, "直接出品の同時実行数"),
}


class SettingsStore:
    """Settings in the database; secrets as Fernet ciphertext only."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box
        self._listeners: list[Callable[[set[str]], None]] = []

    def on_change(self, listener: Callable[[set[str]], None]) -> None:
        self._listeners.append(listener)

    async def _rows(self) -> dict[str, Setting]:
        async with self._db.session() as s:
            return {row.key: row for row in (await s.scalars(select(Setting))).all()}

    async def public(self) -> dict[str, Any]:
        rows = await self._rows()
        out: dict[str, Any] = {}
        for key, spec in FIELDS.items():
            row = rows.get(key)
            if key in SECRET_KEYS:
                out[key] = {"set": bool(row and row.ciphertext)}
            else:
                out[key] = row.value if row is not None else spec.default
        return out

    async def get(self, key: str) -> Any:
        if key in SECRET_KEYS:
            raise KeyError(f"{key} is a secret; use secret()")
        return (await self.public())[key]

    async def secret(self, key: str) -> str | None:
        if key not in SECRET_KEYS:
            raise KeyError(key)
        async with self._db.session() as s:
            row = await s.get(Setting, key)
        if row is None or row.ciphertext is None:
            return None
        plaintext = self._box.decrypt(row.ciphertext)
        redact(plaintext)
        return plaintext

    async def update(self, patch: Any) -> dict[str, Any]:
        """Validate the whole patch first; store nothing if any field is wrong."""
        if not isinstance(patch, dict):
            raise SettingsError(
                {"_": ("JSONオブジェクトを送ってください", "body must be an object")}
            )
        errors: dict[str, tuple[str, str]] = {}
        clean: dict[str, Any] = {}
        for key, value in patch.items():
            spec = FIELDS.get(key)
            if spec is None:
                errors[key] = ("この項目はありません", "unknown setting")
                continue
            try:
                clean[key] = spec.validate(value)
            except Invalid as exc:
                errors[key] = (f"{spec.label}: {exc.ja}", exc.en)
        if errors:
            raise SettingsError(errors)
        changed: set[str] = set()
        async with self._db.session() as s, s.begin():
            for key, value in clean.items():
                existing = await s.get(Setting, key)
                row = existing or Setting(key=key)
                if key in SECRET_KEYS:
                    redact(value)
                    before = None if row.ciphertext is None else self._box.decrypt(row.ciphertext)
                    if before == value:
                        continue
                    row.value = None
                    row.ciphertext = None if value is None else self._box.encrypt(value)
                else:
                    if existing is not None and existing.value == value:
                        continue
                    row.value = value
                changed.add(key)
                s.add(row)
        # English only, and names only: values may be secrets
        if changed:
            log.info("settings changed: %s", ", ".join(sorted(changed)))
        # listeners hear only of real changes: re-saving the options page with the same Yahoo ID
        # must not look like an account change (it would lift a login block, say)
        if changed:
            self.notify_changed(changed)
        return await self.public()

    def notify_changed(self, keys: set[str]) -> None:
        """Tell the listeners that `keys` changed (here, or on another PC's companion)."""
        for listener in self._listeners:
            listener(keys)

    async def redact_stored_secrets(self) -> None:
        """At start: every stored secret is known to the log redaction before any log line."""
        for key in SECRET_KEYS:
            await self.secret(key)

    # Internal state kept beside the settings (next sync time, paired origin …), never in the API.
    async def get_internal(self, key: str, default: Any = None) -> Any:
        async with self._db.session() as s:
            row = await s.get(Setting, f"_{key}")
        return default if row is None else row.value

    async def set_internal(self, key: str, value: Any) -> None:
        async with self._db.session() as s, s.begin():
            row = await s.get(Setting, f"_{key}") or Setting(key=f"_{key}")
            row.value = value
            s.add(row)
