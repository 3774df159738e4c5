"""Pairing: a one-time code read from the companion, exchanged for a bearer token.

Codes and tokens are stored only as SHA-256 hashes. Five wrong codes lock pairing for 60 seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from sqlalchemy import select, update

from companion.db import Database
from companion.db.models import ApiToken, PairingCode, utcnow

CODE_DIGITS = 8
CODE_TTL = timedelta(minutes=5)
MAX_FAILURES = 5
LOCK_SECONDS = 60.0


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def create_code(db: Database) -> str:
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    async with db.session() as s, s.begin():
        s.add(PairingCode(code_hash=_sha256(code), expires_at=utcnow() + CODE_TTL))
    return code


class PairingLocked(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"pairing locked for {retry_after:.0f} s")
        self.retry_after = retry_after


class Pairing:
    """Redeems codes, issues and checks tokens, remembers the paired extension origin."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._failures = 0
        self._locked_until = 0.0
        self._token_hashes: set[str] = set()
        self.paired_origin: str | None = None
        # one redemption at a time: concurrent guesses must not all pass the lock check together
        self._redeem_lock = asyncio.Lock()

    async def load(self) -> None:
        async with self._db.session() as s:
            tokens = (
                await s.scalars(
                    select(ApiToken).where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)
                )
            ).all()
        self._token_hashes = {t.token_hash for t in tokens}
        origins = [t.origin for t in tokens if t.origin]
        self.paired_origin = origins[-1] if origins else None

    @property
    def is_paired(self) -> bool:
        return bool(self._token_hashes)

    def _check_lock(self) -> None:
        remaining = self._locked_until - time.monotonic()
        if remaining > 0:
            raise PairingLocked(remaining)

    async def redeem(self, code: str, origin: str | None) -> str | None:
        """A fresh token for a valid code, or None. Raises PairingLocked while locked."""
        async with self._redeem_lock:
            self._check_lock()
            return await self._redeem(code, origin)

    async def _redeem(self, code: str, origin: str | None) -> str | None:
        now = utcnow()
        candidate = _sha256(code)
        async with self._db.session() as s, s.begin():
            rows = (
                await s.scalars(
                    select(PairingCode).where(
                        PairingCode.used_at.is_(None), PairingCode.expires_at > now
                    )
                )
            ).all()
            match = next((r for r in rows if hmac.compare_digest(r.code_hash, candidate)), None)
            if match is None:
                self._failures += 1
                if self._failures >= MAX_FAILURES:
                    self._failures = 0
                    self._locked_until = time.monotonic() + LOCK_SECONDS
                return None
            # single use: the code dies even if token creation fails after this
            match.used_at = now
            token = secrets.token_urlsafe(32)
            if origin:
                # one extension at a time: a new pairing from another origin replaces the old one
                await s.execute(
                    update(ApiToken)
                    .where(ApiToken.revoked_at.is_(None), ApiToken.origin != origin)
                    .values(revoked_at=now)
                )
            s.add(ApiToken(token_hash=_sha256(token), origin=origin))
        self._failures = 0
        await self.load()
        return token

    def check_token(self, token: str) -> bool:
        digest = _sha256(token)
        # constant-time compare against each live token hash
        return any(hmac.compare_digest(digest, known) for known in self._token_hashes)
