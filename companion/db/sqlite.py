"""What only SQLite needs: what its error codes say about the PC, its integrity check and its
backups. Nothing here is used for another database (PostgreSQL keeps its own health and backups).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
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


# --- integrity and backups ---------------------------------------------------------------------
KEEP = {"daily": 3, "before-migration": 3}  # copies kept per reason; older ones are deleted
DAILY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Damage:
    """What is wrong with the database file, for staff (ja) and the log (en)."""

    path: Path
    kind: str  # "empty" | "corrupt"
    detail: str

    def describe(self, backups: list[Path]) -> tuple[str, str]:
        what = (
            "空（0バイト）になっています"
            if self.kind == "empty"
            else "壊れています（読み取れない部分があります）"
        )
        if backups:
            newest = backup_time(backups[0])
            shown = newest.astimezone().strftime("%Y-%m-%d %H:%M") if newest else backups[0].name
            todo = (
                f"最後の正常なコピー（{shown}）に戻すには、`recore-connector restore` を実行してください"
                "（その後の出品・同期の結果は、ヤフオクとReCOREを読み直して取り戻します）。"
            )
        else:
            todo = "正常なコピーが見つかりません。ファイルを消さずに、サポートに連絡してください。"
        ja = (
            f"データベース（{self.path.name}）が{what}。新しく始め直すと設定や未送信の結果が"
            f"失われるため、コンパニオンを止めています。壊れたファイルは消さずに残してあります。{todo}"
        )
        en = (
            f"database {self.path} is {self.kind}: {self.detail}; kept as it is; "
            f"{len(backups)} backup(s) in {self.path.parent / 'backups'}"
        )
        return ja, en


class DatabaseDamaged(Exception):
    def __init__(self, damage: Damage, backups: list[Path]) -> None:
        self.damage = damage
        self.backups = backups
        self.message, self.message_en = damage.describe(backups)
        super().__init__(self.message_en)


def backups_dir(path: Path) -> Path:
    return path.parent / "backups"


def check(path: Path) -> Damage | None:
    """At start: is the database file whole? None for a sound file or a new install.

    A 0-byte file is damage once a copy was ever made (a wiped database, not a first start that
    stopped before writing anything): SQLite would take it for an empty database, and the
    companion would silently start over."""
    if not path.exists():
        return None
    if path.stat().st_size == 0:
        if list_backups(backups_dir(path)):
            return Damage(path, "empty", "the file is 0 bytes")
        return None
    try:
        connection = sqlite3.connect(path)
        try:
            rows = [r[0] for r in connection.execute("PRAGMA quick_check(5)").fetchall()]
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return Damage(path, "corrupt", str(exc))
    if rows != ["ok"]:
        return Damage(path, "corrupt", "; ".join(map(str, rows)))
    return None


def list_backups(directory: Path, reason: str | None = None) -> list[Path]:
    """Copies in `directory`, newest first (their names carry the time)."""
    if not directory.is_dir():
        return []
    pattern = f"companion-*-{reason}.sqlite3" if reason else "companion-*.sqlite3"
    return sorted(directory.glob(pattern), key=lambda p: p.name, reverse=True)


def backup_time(path: Path) -> datetime | None:
    try:
        stamp = path.name.split("-")[1]
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except (IndexError, ValueError):
        return None


def backup(path: Path, reason: str) -> Path | None:
    """A consistent copy of the live database (SQLite's online backup), kept in `backups/`;
    only the newest few per reason stay. None when there is nothing to copy."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    directory = backups_dir(path)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = directory / f"companion-{stamp}-{reason}.sqlite3"
    partial = target.with_suffix(".part")
    source = sqlite3.connect(path)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    os.replace(partial, target)
    for old in list_backups(directory, reason)[KEEP.get(reason, 3) :]:
        old.unlink(missing_ok=True)
    return target


def daily_backup_due(path: Path) -> bool:
    newest = list_backups(backups_dir(path), "daily")
    if not newest:
        return True
    made = backup_time(newest[0])
    age = (datetime.now(UTC) - made).total_seconds() if made else DAILY_SECONDS
    # a copy "from the future" (the clock was set back) does not stop today's
    return age >= DAILY_SECONDS * 0.9 or age < 0


def restore(path: Path, copy: Path) -> Path | None:
    """Put `copy` in place of the database. The file it replaces (damaged or not) is kept in
    `backups/` as `replaced-<time>.sqlite3`; returns where (None when there was none)."""
    damage = check(copy)
    if damage is not None or copy.stat().st_size == 0:
        raise ValueError(f"the copy {copy} is not sound either")
    kept = None
    if path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = backups_dir(path) / f"replaced-{stamp}.sqlite3"
        kept.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, kept)
    for suffix in ("-wal", "-shm"):  # they belong to the file that was replaced
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, (kept or path).with_name((kept or path).name + suffix + ".old"))
    partial = path.with_suffix(".restoring")
    shutil.copyfile(copy, partial)
    os.replace(partial, path)
    return kept


def current_revision(path: Path) -> str | None:
    """The Alembic revision the file is at (None for a new or unversioned file)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    connection = sqlite3.connect(path)
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    finally:
        connection.close()
    return row[0] if row else None
