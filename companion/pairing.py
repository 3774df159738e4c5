"""Pairing: a one-time code read from the companion, exchanged for a bearer token and a proof key.

Codes and tokens are stored only as SHA-256 hashes. Each code takes at most five wrong guesses a
minute (then it rests for 60 seconds); a code made after that is not held back by those guesses.
An extension that pairs replaces every earlier token: one live pairing per extension, and one
extension at a time. The proof key lets the extension check, before it sends its token or any
secret, that what answers on the port is this companion (`proof`): the companion answers a fresh
challenge with an HMAC over it and the address it was reached at, so an impostor can neither
answer nor pass the challenge on to the real companion elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from companion.db import Database
from companion.db.models import ApiToken, PairingCode, iso, utcnow
from companion.secretbox import SecretBox

CODE_DIGITS = 8
CODE_TTL = timedelta(minutes=5)
MAX_FAILURES = 5
LOCK_SECONDS = 60.0
PROOF_CONTEXT = "recore-connector proof v1"
# a base64url challenge of 16 to 64 random bytes
CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{22,86}$")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def proof(key: bytes, challenge: str, address: str) -> str:
    """HMAC-SHA256 of the challenge and the `host:port` the companion was reached at."""
    message = f"{PROOF_CONTEXT}\n{challenge}\n{address}".encode("ascii")
    return _b64url(hmac.new(key, message, hashlib.sha256).digest())


async def create_code(db: Database) -> str:
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    async with db.session() as s, s.begin():
        s.add(PairingCode(code_hash=_sha256(code), expires_at=utcnow() + CODE_TTL))
    return code


class PairingLocked(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"pairing locked for {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass
class _Guesses:
    """Wrong guesses a live code has seen since it was made (or since its last rest)."""

    failures: int = 0
    resting_until: float = 0.0


@dataclass(frozen=True)
class Paired:
    """What a successful pairing hands to the extension (once; only hashes and ciphertext stay)."""

    token: str
    key_id: str
    proof_key: str  # base64url

    def to_dict(self) -> dict[str, str]:
        return {"token": self.token, "key_id": self.key_id, "proof_key": self.proof_key}


@dataclass(frozen=True)
class _LiveToken:
    id: int
    origin: str | None
    created_at: Any


@dataclass
class Pairing:
    """Redeems codes, issues, checks and revokes tokens, answers proof challenges."""

    db: Database
    box: SecretBox
    paired_origin: str | None = None
    _tokens: dict[str, _LiveToken] = field(default_factory=dict)  # by token hash
    _proof_keys: dict[str, bytes] = field(default_factory=dict)  # by key id
    _guesses: dict[int, _Guesses] = field(default_factory=dict)  # by pairing code id
    # one redemption at a time: concurrent guesses must not all pass the rest check together
    _redeem_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self) -> None:
        async with self.db.session() as s:
            rows = (
                await s.scalars(
                    select(ApiToken).where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)
                )
            ).all()
        self._tokens = {t.token_hash: _LiveToken(t.id, t.origin, t.created_at) for t in rows}
        self._proof_keys = {
            t.key_id: _unb64url(self.box.decrypt(t.proof_key))
            for t in rows
            if t.key_id and t.proof_key
        }
        origins = [t.origin for t in rows if t.origin]
        self.paired_origin = origins[-1] if origins else None

    @property
    def is_paired(self) -> bool:
        return bool(self._tokens)

    async def redeem(self, code: str, origin: str | None) -> Paired | None:
        """A fresh pairing for a valid code, or None. Raises PairingLocked while every live
        code rests after wrong guesses."""
        async with self._redeem_lock:
            return await self._redeem(code, origin)

    async def _redeem(self, code: str, origin: str | None) -> Paired | None:
        now = utcnow()
        clock = time.monotonic()
        candidate = _sha256(code)
        async with self.db.session() as s, s.begin():
            live = (
                await s.scalars(
                    select(PairingCode).where(
                        PairingCode.used_at.is_(None), PairingCode.expires_at > now
                    )
                )
            ).all()
            self._guesses = {c.id: self._guesses.get(c.id, _Guesses()) for c in live}
            open_codes = [c for c in live if self._guesses[c.id].resting_until <= clock]
            if live and not open_codes:
                raise PairingLocked(min(g.resting_until for g in self._guesses.values()) - clock)
            match = next(
                (c for c in open_codes if hmac.compare_digest(c.code_hash, candidate)), None
            )
            if match is None:
                # the guess could have been aimed at any open code: each counts it
                for c in open_codes:
                    guesses = self._guesses[c.id]
                    guesses.failures += 1
                    if guesses.failures >= MAX_FAILURES:
                        guesses.failures, guesses.resting_until = 0, clock + LOCK_SECONDS
                return None
            # single use: the code dies even if token creation fails after this
            match.used_at = now
            if origin:
                # one live pairing per extension, and one extension at a time: an extension's
                # pairing ends every earlier token, its own and those paired without an Origin
                await s.execute(
                    update(ApiToken).where(ApiToken.revoked_at.is_(None)).values(revoked_at=now)
                )
            paired = Paired(
                token=secrets.token_urlsafe(32),
                key_id=_b64url(secrets.token_bytes(12)),
                proof_key=_b64url(secrets.token_bytes(32)),
            )
            s.add(
                ApiToken(
                    token_hash=_sha256(paired.token),
                    origin=origin,
                    key_id=paired.key_id,
                    proof_key=self.box.encrypt(paired.proof_key),
                )
            )
        await self.load()
        return paired

    def check_token(self, token: str) -> int | None:
        """The id of the live token, or None. Constant-time against each live token hash."""
        digest = _sha256(token)
        found = None
        for known, live in self._tokens.items():
            if hmac.compare_digest(digest, known):
                found = live.id
        return found

    def prove(self, key_id: str, challenge: str, address: str) -> str | None:
        """The answer to the extension's challenge, or None for an unknown (revoked) key."""
        key = self._proof_keys.get(key_id)
        return None if key is None else proof(key, challenge, address)

    def pairings(self, current: int | None) -> list[dict[str, Any]]:
        """The live pairings, oldest first (what the options page lists with 解除)."""
        return [
            {
                "id": t.id,
                "origin": t.origin,
                "created_at": iso(t.created_at),
                "current": t.id == current,
            }
            for t in sorted(self._tokens.values(), key=lambda t: t.id)
        ]

    async def revoke(self, token_id: int) -> bool:
        """End one pairing at once; False when there is no such live pairing."""
        async with self.db.session() as s, s.begin():
            result = await s.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        await self.load()
        return bool(result.rowcount)
