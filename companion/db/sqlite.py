"""What only SQLite needs: what its error codes say about the PC, its integrity check and its
backups. Nothing here is used for another database (PostgreSQL keeps its own health and backups).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

# Primary result codes (https://www.sqlite.org/rescode.html)
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26

_KINDS = {
    SQLITE_FULL: "DISK_FULL",
    SQLITE_BUSY: "DATABASE_BUSY",
    SQLITE_LOCKED: "DATABASE_BUSY",
    SQLITE_PERM: "NO_PERMISSION",
    SQLITE_READONLY: "NO_PERMISSION",
    SQLITE_CANTOPEN: "NO_PERMISSION",
    SQLITE_IOERR: "DISK_ERROR",
}


def sqlite_problem_kind(exc: BaseException) -> str | None:
    """`DISK_FULL`, `DATABASE_BUSY`, `NO_PERMISSION` or `DISK_ERROR` for an sqlite3 error that
    is the PC's, not the program's; None otherwise."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _KINDS.get(code & 0xFF)
    # drivers that do not carry the code: the message is SQLite's own, in English
    text = str(exc).lower()
    if "database or disk is full" in text:
        return "DISK_FULL"
    if "database is locked" in text:
        return "DATABASE_BUSY"
    return None


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL (None for another database or one in memory)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)
