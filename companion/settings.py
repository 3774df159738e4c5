"""The companion's settings: schema, validation, and storage with secrets encrypted at rest.

Secrets are write-only over the API: `public()` shows `{"set": bool}` for each; plaintext is
returned only by `secret()` to the code that needs it (ReCORE client, Yahoo login).

Each secret is bound to the host it was entered for: the ReCORE key to the origin of
`recore_api_url`, the Yahoo passwords to Yahoo's login (or the Yahoo sandbox the companion was
started with). Changing the ReCORE URL clears the key; a secret bound elsewhere is never handed
out. Where the Yahoo pages are (`yahoo_base_url`, the sandbox) is not a setting of the HTTP API
at all: it comes from the command line or the environment (`Config.yahoo_base_url`).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from companion.db import Database
from companion.db.models import Setting, utcnow
from companion.inputs import MAX_ID
from companion.logs import redact
from companion.recore.client import DEFAULT_BASE_URL
from companion.secretbox import SecretBox
from scrapers.facts import FACTS

# the Yahoo passwords' host when no sandbox is configured: the real store's login
REAL_LOGIN_ORIGIN = FACTS.origins.login

log = logging.getLogger(__name__)

# 1 = the quick check every minute, with a full sync every `full_sync_interval_minutes`
QUICK_CHECK_MINUTES = 1
SYNC_INTERVALS_MINUTES: tuple[int, ...] = (0, 1, 5, 15, 30, 60, 180, 360, 720, 1440)
FULL_SYNC_INTERVALS_MINUTES: tuple[int, ...] = (5, 15, 30, 60, 180, 360, 720, 1440)
DEFAULT_FULL_SYNC_MINUTES = 30
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
YAHOO_SECRETS: frozenset[str] = frozenset({"yahoo_password", "business_password"})
# Shown by GET, never taken by PUT: they decide where secrets go (command line/environment only).
STARTUP_ONLY: dict[str, str] = {
    "yahoo_base_url": "--yahoo-base-url / RECORE_CONNECTOR_YAHOO_BASE_URL"
}
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


def optional_url(value: Any) -> str | None:
    return None if value in (None, "") else normalise_url(value)


def origin_of(url: str) -> str:
    """scheme://host[:port] of a normalised URL: what a secret is bound to."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


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


def _one_of(allowed: tuple[int, ...]) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or value not in allowed:
            choices = ", ".join(map(str, allowed))
            raise Invalid(
                f"次のいずれかを選んでください: {choices}（分）", f"must be one of {choices}"
            )
        return int(value)

    return check


_interval = _one_of(SYNC_INTERVALS_MINUTES)


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


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("オンかオフを選んでください", "must be true or false")
    return value


@dataclass(frozen=True)
class FieldSpec:
    validate: Callable[[Any], Any]
    default: Any = None
    label: str = ""


FIELDS: dict[str, FieldSpec] = {
    "recore_api_url": FieldSpec(normalise_url, DEFAULT_BASE_URL, "ReCORE API URL"),
    "recore_api_key": FieldSpec(_secret, None, "ReCORE APIキー"),
    "ec_account_id": FieldSpec(_optional_int(1, MAX_ID), None, "ECアカウントID"),
    "store_id": FieldSpec(_optional_int(1, MAX_ID), None, "店舗ID"),
    "sync_interval_minutes": FieldSpec(_interval, 0, "自動同期の間隔"),
    # the full sync's interval while the quick check (1分) runs; other intervals are full syncs
    "full_sync_interval_minutes": FieldSpec(
        _one_of(FULL_SYNC_INTERVALS_MINUTES), DEFAULT_FULL_SYNC_MINUTES, "全体の同期の間隔"
    ),
    "yahoo_id": FieldSpec(_short_text(64), None, "Y!ID"),
    "yahoo_password": FieldSpec(_secret, None, "Y!パスワード"),
    "business_id": FieldSpec(_short_text(64), None, "ビジネスID"),
    "business_password": FieldSpec(_secret, None, "ビジネスパスワード"),
    "mail_from": FieldSpec(_email, None, "メール送信元"),
    "status_mapping": FieldSpec(_mapping, DEFAULT_STATUS_MAPPING, "ステータス対応表"),
    "direct_listing_concurrency": FieldSpec(_optional_int(1, 4), 1, "直接出品の同時実行数"),
    # 確認モード (companion.confirmations): None until the companion's first start writes it
    "confirmation_mode": FieldSpec(_flag, None, "確認モード"),
    "confirmation_count": FieldSpec(_optional_int(1, 50), 3, "確認する件数"),
}


SettingsListener = Callable[[set[str]], Awaitable[None] | None]


class SettingsStore:
    """Settings in the database; secrets as Fernet ciphertext only, each bound to its host."""

    def __init__(self, db: Database, box: SecretBox, *, yahoo_base_url: str | None = None) -> None:
        self._db = db
        self._box = box
        self._listeners: list[SettingsListener] = []
        try:
            self.yahoo_base_url = optional_url(yahoo_base_url)
        except Invalid as exc:
            raise ValueError(f"yahoo_base_url {yahoo_base_url!r}: {exc.en}") from None
        self._warned: set[str] = set()

    def on_change(self, listener: SettingsListener) -> None:
        """`listener(changed_keys)` after a change; what it returns to await is awaited before
        `update` answers (so what staff see after 保存しました already follows the change)."""
        self._listeners.append(listener)

    async def _rows(self) -> dict[str, Setting]:
        async with self._db.session() as s:
            return {row.key: row for row in (await s.scalars(select(Setting))).all()}

    def _host_for(self, key: str, rows: dict[str, Setting], patch: dict[str, Any]) -> str:
        """The host a secret is (to be) used with, after `patch` is applied."""
        if key in YAHOO_SECRETS:
            # the login fills these on Yahoo's own login page, or on the sandbox's
            return origin_of(self.yahoo_base_url) if self.yahoo_base_url else REAL_LOGIN_ORIGIN
        if "recore_api_url" in patch:
            url = patch["recore_api_url"]
        else:
            row = rows.get("recore_api_url")
            url = row.value if row is not None else FIELDS["recore_api_url"].default
        return origin_of(url)

    @staticmethod
    def _bound_to(row: Setting, host: str) -> bool:
        return isinstance(row.value, dict) and row.value.get("for") == host

    def _usable(self, key: str, row: Setting | None, rows: dict[str, Setting]) -> bool:
        """Stored, and bound to the host it would be sent to now."""
        if row is None or row.ciphertext is None:
            return False
        return self._bound_to(row, self._host_for(key, rows, {}))

    async def public(self) -> dict[str, Any]:
        rows = await self._rows()
        out: dict[str, Any] = {}
        for key, spec in FIELDS.items():
            row = rows.get(key)
            if key in SECRET_KEYS:
                out[key] = {"set": self._usable(key, row, rows)}
            else:
                out[key] = row.value if row is not None else spec.default
        out["yahoo_base_url"] = self.yahoo_base_url  # shown, set only at start
        return out

    async def get(self, key: str) -> Any:
        if key in SECRET_KEYS:
            raise KeyError(f"{key} is a secret; use secret()")
        return (await self.public())[key]

    async def secret(self, key: str) -> str | None:
        """The plaintext, for the code that sends it to the host it was entered for; None when
        it is not set or was entered for another host."""
        if key not in SECRET_KEYS:
            raise KeyError(key)
        rows = await self._rows()
        row = rows.get(key)
        if row is None or row.ciphertext is None:
            return None
        plaintext = self._box.decrypt(row.ciphertext)
        redact(plaintext)
        if not self._usable(key, row, rows):
            if key not in self._warned:
                self._warned.add(key)
                log.warning(
                    "%s was entered for another host than %s: not used until entered again",
                    key,
                    self._host_for(key, rows, {}),
                )
            return None
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
            if key in STARTUP_ONLY:
                errors[key] = (
                    f"この項目は画面からは変更できません（コンパニオンの起動時に {STARTUP_ONLY[key]} で指定します）",
                    f"set only when the companion starts ({STARTUP_ONLY[key]})",
                )
                continue
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
            rows = {row.key: row for row in (await s.scalars(select(Setting))).all()}
            key_row = rows.get("recore_api_key")
            if (
                "recore_api_url" in clean
                and "recore_api_key" not in clean
                and key_row is not None
                and key_row.ciphertext is not None
                and not self._bound_to(key_row, origin_of(clean["recore_api_url"]))
            ):
                # the key was entered for the old host: it never follows the URL elsewhere
                clean["recore_api_key"] = None
                log.warning("recore_api_key cleared: the ReCORE API URL moved to another host")
            for key, value in clean.items():
                existing = rows.get(key)
                row = existing or Setting(key=key)
                if key in SECRET_KEYS:
                    redact(value)
                    bound = None if value is None else {"for": self._host_for(key, rows, clean)}
                    before = None if row.ciphertext is None else self._box.decrypt(row.ciphertext)
                    if before == value and row.value == bound:
                        continue
                    row.value = bound
                    row.ciphertext = None if value is None else self._box.encrypt(value)
                    self._warned.discard(key)
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
            for pending in self.notify_changed(changed):
                await pending
        return await self.public()

    def notify_changed(self, keys: set[str]) -> list[Awaitable[None]]:
        """Tell the listeners that `keys` changed (here, or on another PC's companion); returns
        what they still do (a store session closing …), for the caller to await."""
        pending: list[Awaitable[None]] = []
        for listener in self._listeners:
            result = listener(keys)
            if result is not None:
                pending.append(result)
        return pending

    async def prepare_stored_secrets(self) -> None:
        """At start: every stored secret is known to the log redaction before any log line, and
        one stored before secrets were bound to hosts is bound to the host it is used with now."""
        async with self._db.session() as s, s.begin():
            rows = {row.key: row for row in (await s.scalars(select(Setting))).all()}
            for key in SECRET_KEYS:
                row = rows.get(key)
                if row is None or row.ciphertext is None:
                    continue
                redact(self._box.decrypt(row.ciphertext))
                if not isinstance(row.value, dict):
                    row.value = {"for": self._host_for(key, rows, {})}

    # Internal state kept beside the settings (next sync time, paired origin …), never in the API.
    async def get_internal(self, key: str, default: Any = None) -> Any:
        async with self._db.session() as s:
            row = await s.get(Setting, f"_{key}")
        return default if row is None else row.value

    async def set_internal(self, key: str, value: Any) -> None:
        # one statement, INSERT … ON CONFLICT DO UPDATE: two PCs' companions may write the same
        # key at once on the shared database, and a read-then-insert would collide
        async with self._db.session() as s, s.begin():
            dialect = s.bind.dialect.name if s.bind is not None else "sqlite"
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(Setting).values(key=f"_{key}", value=value, updated_at=utcnow())
            await s.execute(
                statement.on_conflict_do_update(
                    index_elements=[Setting.key],
                    set_={
                        "value": statement.excluded.value,
                        "updated_at": statement.excluded.updated_at,
                    },
                )
            )
