"""Logging to the data dir (rotated) and stderr, in English, with secrets redacted.

Secrets are never passed to the logger on purpose; the redaction filter is the second line of
defence for a value that slips into an exception text (e.g. a URL with a key in it).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from typing import IO, Any

_SECRETS: set[str] = set()
REDACTED = "[REDACTED]"


def redact(value: str | None) -> None:
    """Register a secret value that must never appear in a log line."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def scrub(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line: message, arguments and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def private_dir(path: Path) -> None:
    """`path` and any parent made for it: owner only (0700), whatever the umask."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
    os.chmod(path, 0o700)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Log files are created 0600 (and so is each new file after a rotation): they name the
    shop's items, hosts and errors, which other users of the machine have no business reading."""

    def _open(self) -> IO[Any]:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # a file made earlier with looser rights is tightened too
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(log_dir: Path | None, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    fmt = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_dir is not None:
        private_dir(log_dir)
        handlers.append(
            PrivateRotatingFileHandler(
                log_dir / "companion.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
