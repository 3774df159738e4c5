"""API keys (HS256 JWTs, like NOVASTO's) and the per-endpoint sliding-window rate limit."""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import jwt

# A sandbox-only signing secret: keys minted here are worthless anywhere else, and fixed so
# that a key printed by `recore-connector demo` keeps working after a restart.
SANDBOX_JWT_SECRET = "recore-sandbox-signing-key-not-secret"  # noqa: S105
JWT_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class KeyClaims:
    company_id: int
    scopes: frozenset[str]
    iat: int
    store_id: int | None
    fingerprint: str  # identifies the key for rate limiting without keeping the key itself


class BadKey(Exception):
    """The key is missing, malformed, badly signed or not for this company (English, for logs)."""


def mint_jwt(
    company_id: int, scopes: list[str], *, store_id: int | None = None, iat: int | None = None
) -> str:
    claims: dict[str, Any] = {
        "company_id": company_id,
        "scope": list(scopes),
        "iat": int(time.time()) if iat is None else iat,
    }
    if store_id is not None:
        claims["store_id"] = store_id
    return jwt.encode(claims, SANDBOX_JWT_SECRET, algorithm=JWT_ALGORITHM)


def verify_jwt(token: str | None, company_id: int) -> KeyClaims:
    if not token:
        raise BadKey("missing X-Identification header")
    try:
        claims = jwt.decode(
            token,
            SANDBOX_JWT_SECRET,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["company_id", "scope", "iat"]},
        )
    except jwt.PyJWTError as exc:
        raise BadKey(f"invalid key: {type(exc).__name__}") from exc
    scope = claims.get("scope")
    if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
        raise BadKey("claim 'scope' is not a list of strings")
    if claims.get("company_id") != company_id:
        raise BadKey("key belongs to another company")
    store_id = claims.get("store_id")
    if store_id is not None and not isinstance(store_id, int):
        raise BadKey("claim 'store_id' is not an integer")
    return KeyClaims(
        company_id=company_id,
        scopes=frozenset(scope),
        iat=int(claims["iat"]),
        store_id=store_id,
        fingerprint=hashlib.sha256(token.encode()).hexdigest()[:16],
    )


class RateLimiter:
    """At most `limit` accepted requests per `window` seconds per (key, source IP, endpoint).

    Sliding log: a refused request is not counted, so a client that waits `Retry-After` gets in.
    """

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self._log: dict[tuple[str, str, str], deque[float]] = {}

    def check(self, bucket: tuple[str, str, str], now: float | None = None) -> float | None:
        """Record a request; None if allowed, else seconds until one is allowed again."""
        now = time.monotonic() if now is None else now
        log = self._log.setdefault(bucket, deque())
        while log and log[0] <= now - self.window:
            log.popleft()
        if len(log) >= self.limit:
            return max(0.0, log[0] + self.window - now)
        log.append(now)
        return None

    def reset(self) -> None:
        self._log.clear()

    @staticmethod
    def retry_after_header(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
