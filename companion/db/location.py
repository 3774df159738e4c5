"""Where a SQLite file may live: never on a network share.

SQLite's write-ahead log needs shared memory that every process using the file maps; a file on
SMB/CIFS or NFS gets no such thing across machines, and two PCs writing one file there corrupt it.
Several PCs share one PostgreSQL database instead (docs/operations.md). What is detected:

- Windows: a UNC path (`\\\\server\\share\\…`, `//server/share/…`) and a drive letter the system
  reports as a network drive (a mapped share);
- Linux, macOS and the BSDs: a path whose mount has a network file system type (nfs, cifs/smb,
  afp, webdav, sshfs, 9p, ceph, gluster, …), from the system's mount table (psutil).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

NETWORK_FS_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "afpfs",
        "webdav",
        "davfs",
        "fuse.davfs",
        "fuse.sshfs",
        "sshfs",
        "9p",
        "ceph",
        "fuse.ceph",
        "glusterfs",
        "fuse.glusterfs",
        "afs",
        "ncpfs",
        "coda",
        "lustre",
        "gpfs",
        "beegfs",
        "fuse.rclone",
        "fuse.s3fs",
    }
)


@dataclass(frozen=True)
class Mount:
    mountpoint: str
    fstype: str
    remote: bool = False  # Windows: the drive is a network drive


class NetworkShareRefused(Exception):
    """The SQLite file is on a network share; `ja` for staff, `en` for the log."""

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        self.ja = (
            f"データベースのファイル（{path}）がネットワーク上の共有フォルダー（{what}）にあるため、"
            "起動しません。SQLiteのファイルは共有フォルダーに置くと壊れます。"
            "データフォルダーをこのPCのディスクにするか、複数のPCで共有するなら"
            "PostgreSQLを使ってください（docs/operations.md の「複数のPCで使う」）。"
        )
        self.en = (
            f"refusing a SQLite database on a network share ({what}): {path}. "
            "SQLite files break on network shares; keep the data dir on a local disk or share a "
            "PostgreSQL database between PCs (RECORE_CONNECTOR_DATABASE_URL=postgresql://…)."
        )
        super().__init__(self.en)


def system_mounts() -> list[Mount]:
    """The mount table as the system reports it (psutil reads /proc, getfsstat or Win32)."""
    import psutil

    try:
        parts = psutil.disk_partitions(all=True)
    except OSError:
        return []
    return [Mount(p.mountpoint, p.fstype.lower(), "remote" in p.opts.split(",")) for p in parts]


def unc_share(path: str) -> str | None:
    r"""`\\server\share` when `path` is a UNC path, else None."""
    if path.startswith("\\\\") or (sys.platform == "win32" and path.startswith("//")):
        anchor = PureWindowsPath(path).anchor.rstrip("\\/")
        return anchor or path
    return None


def network_share(path: Path | str, mounts: Iterable[Mount] | None = None) -> str | None:
    """What makes `path` a network location (for the message), or None when it is local."""
    text = str(path)
    share = unc_share(text)
    if share is not None:
        return f"UNC path {share}"
    table = list(system_mounts() if mounts is None else mounts)
    if not table:
        return None
    resolved = _resolve(text)
    best: Mount | None = None
    for mount in table:
        if _under(resolved, mount.mountpoint) and (
            best is None or len(mount.mountpoint) > len(best.mountpoint)
        ):
            best = mount
    if best is None:
        return None
    if best.remote:
        return f"network drive {best.mountpoint.rstrip(chr(92))}"
    if best.fstype in NETWORK_FS_TYPES:
        return f"{best.fstype} mount at {best.mountpoint}"
    return None


def _resolve(text: str) -> str:
    # the file may not exist yet: resolve what exists of it (symlinks to a share count)
    try:
        return str(Path(text).expanduser().resolve())
    except OSError:
        return text


def _under(path: str, mountpoint: str) -> bool:
    if sys.platform == "win32":
        path, mountpoint = path.lower(), mountpoint.lower()
        sep = "\\"
    else:
        sep = "/"
    if mountpoint == "/":
        return path.startswith("/")
    base = mountpoint.rstrip(sep)
    return path == base or path.startswith(base + sep)
