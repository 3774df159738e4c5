"""The shop PC's own resources: disk space, file permissions, a database another program holds.

A problem here is never an item's fault: it must not reach ReCORE as a failed listing, and it must
not leave a job half-recorded. Whatever raises it (an image write, the zip, a database commit), the
work pauses with a message that says what is wrong and what to do, and resumes by itself when the
problem is gone (`resume_when_resources_return`).

A small **reserve file** (`reserve.bin` in the data dir) holds some disk space back. When the disk
fills, the reserve is given up at once so that the log, the job's paused state and the events can
still be written; it is made again once there is room. Before heavy work (a batch, a direct
listing, a sync) `DiskGuard.check` refuses to start below a minimum of free space.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from companion.db.sqlite import sqlite_problem_kind

if TYPE_CHECKING:
    from companion.jobs import JobRunner

log = logging.getLogger(__name__)

DISK_FULL = "DISK_FULL"
NO_PERMISSION = "NO_PERMISSION"
DISK_ERROR = "DISK_ERROR"
DATABASE_BUSY = "DATABASE_BUSY"
CODES = frozenset({DISK_FULL, NO_PERMISSION, DISK_ERROR, DATABASE_BUSY})

_ERRNO_KINDS = {
    errno.ENOSPC: DISK_FULL,
    errno.EDQUOT: DISK_FULL,
    errno.EACCES: NO_PERMISSION,
    errno.EPERM: NO_PERMISSION,
    errno.EROFS: NO_PERMISSION,
    errno.EIO: DISK_ERROR,
}
MB = 1024 * 1024


class LocalProblem(Exception):
    """The shop PC cannot do the work now. `message` (ja) is for a paused job (it resumes by
    itself), `request_message` for a button that was refused (press it again)."""

    def __init__(self, code: str, message: str, request_message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.request_message = request_message
        self.message_en = message_en

    def as_error(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "message_en": self.message_en}


def describe(code: str, where: str | None, detail: str, *, free: int | None = None) -> LocalProblem:
    """The staff messages for one kind of local problem (`where`: a path, when known)."""
    place = f"（{where}）" if where else ""
    at = f" at {where}" if where else ""
    if code == DISK_FULL:
        room = f"空きは {free // MB}MB です。" if free is not None else ""
        what = f"ディスクの空きが不足しています{place}。{room}"
        todo = "不要なファイルを削除するなどして空きを作って"
        en = f"disk full{at}: {detail}"
    elif code == NO_PERMISSION:
        what = f"ファイルに書き込む権限がありません{place}。"
        todo = "データフォルダが読み取り専用になっていないかなど、権限を確認して"
        en = f"no permission{at}: {detail}"
    elif code == DATABASE_BUSY:
        what = "データベースを他のプログラム（バックアップソフトなど）が使用中です。"
        todo = "しばらく待って"
        en = f"database busy: {detail}"
    else:
        code = DISK_ERROR
        what = f"ディスクの読み書きでエラーが起きました{place}。"
        todo = "ディスクの状態を確認して"
        en = f"disk I/O error{at}: {detail}"
    return LocalProblem(
        code,
        f"{what}処理を一時停止しました。{todo}ください。直ると自動で続きから再開します"
        "（ここまでの結果は失われていません）。",
        f"{what}{todo}から、もう一度お試しください（何も失われていません）。",
        en,
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and the driver's own error inside a SQLAlchemy one."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__cause__, current.__context__])
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            todo.append(orig)


def local_problem(exc: BaseException) -> LocalProblem | None:
    """The local problem behind `exc` (anywhere in its chain), or None when it is something else."""
    for current in _chain(exc):
        if isinstance(current, LocalProblem):
            return current
        if isinstance(current, OSError) and current.errno in _ERRNO_KINDS:
            where = current.filename if isinstance(current.filename, str) else None
            return describe(_ERRNO_KINDS[current.errno], where, str(current))
        kind = sqlite_problem_kind(current)
        if kind is None and getattr(current, "sqlstate", None) == "53100":  # PostgreSQL disk_full
            kind = DISK_FULL
        if kind is not None:
            return describe(kind, None, str(current))
    return None


class DiskGuard:
    """Free space of the data dir's disk, a reserve kept back for bad days, a check before work."""

    def __init__(
        self,
        data_dir: Path,
        *,
        reserve_bytes: int,
        min_free_bytes: int,
        also: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.reserve_bytes = reserve_bytes
        self.min_free_bytes = min_free_bytes
        self.reserve_path = data_dir / "reserve.bin"
        # the database's folder when it is elsewhere (RECORE_CONNECTOR_DATABASE_URL)
        self.watched = [data_dir] + ([also] if also is not None and also != data_dir else [])

    def free_bytes(self) -> int:
        """Free space of the fullest disk the companion writes to."""
        return min(shutil.disk_usage(path).free for path in self.watched)

    def has_room(self) -> bool:
        """Enough free space to work (the reserve, when there, is not counted as free)."""
        return self.free_bytes() >= self.min_free_bytes

    def check(self) -> None:
        """Before heavy work: refuse to start (LocalProblem) when the disk is nearly full."""
        free = self.free_bytes()
        if free < self.min_free_bytes:
            self.release()
            raise describe(
                DISK_FULL,
                str(self.data_dir),
                f"{free} bytes free, {self.min_free_bytes} needed to start",
                free=free,
            )

    def ensure_reserve(self) -> bool:
        """Hold the reserve back when there is room for it and the work; True when it is there."""
        if self.reserve_bytes <= 0:
            return False
        try:
            if self.reserve_path.stat().st_size >= self.reserve_bytes:
                return True
        except FileNotFoundError:
            pass
        if self.free_bytes() < self.reserve_bytes + self.min_free_bytes:
            return False
        tmp = self.reserve_path.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as out:
                _allocate(out, self.reserve_bytes)
            os.replace(tmp, self.reserve_path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.warning("could not make the disk reserve: %s", exc)
            return False
        return True

    def release(self) -> bool:
        """Give the reserve up (the disk is full): the log and the job state can be written."""
        try:
            self.reserve_path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("could not free the disk reserve: %s", exc)
            return False
        log.warning("disk nearly full: the %d MB reserve was freed", self.reserve_bytes // MB)
        return True

    def problem_seen(self, problem: LocalProblem) -> None:
        if problem.code == DISK_FULL:
            self.release()


def _allocate(out: Any, size: int) -> None:
    """Really take the space (a sparse file would not): fallocate where there is one."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(out.fileno(), 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
    block = b"\0" * MB
    left = size
    while left > 0:
        left -= out.write(block[: min(left, MB)])


async def resume_when_resources_return(jobs: JobRunner, guard: DiskGuard, interval: float) -> None:
    """Jobs paused by a local problem resume by themselves once it is gone (a disk with room
    again; a busy database after a while); a job left dead by one is closed. Waits are measured
    on the event loop's clock."""
    while True:
        await asyncio.sleep(interval)
        try:
            await jobs.reap()
            paused = await jobs.paused_by(CODES)
            if not paused:
                continue
            room = await asyncio.to_thread(guard.has_room)
            if room:
                await asyncio.to_thread(guard.ensure_reserve)
            for job_id, code in paused:
                if code == DISK_FULL and not room:
                    continue
                log.info("resuming job %s: %s is gone", job_id, code)
                await jobs.resume(job_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # still failing: the next round tries again
            log.warning("resource check failed: %s", exc)
