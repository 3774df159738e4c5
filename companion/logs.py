"""Logging to the data dir (rotated) and stderr, in English, with secrets redacted.

Secrets are never passed to the logger on purpose; the redaction filter is the second line of
defence for a value that slips into an exception text (e.g. a URL with a key in it).
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

_SECRETS: set[str] = set()
REDACTED = "[REDACTED]"


def redact(value: str | None) -> None:
    """Register a secret value that must never appear in a log line."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not _SECRETS:
            return True
        message = record.getMessage()
        if any(secret in message for secret in _SECRETS):
            for secret in _SECRETS:
                message = message.replace(secret, REDACTED)
            record.msg, record.args = message, None
        return True


def setup_logging(log_dir: Path | None, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_dir / "companion.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
