"""Where the companion keeps its data and how it listens. Loopback only, by design."""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from companion.db import sqlite_url
from companion.logs import private_dir

APP_NAME = "recore-connector"
DEFAULT_PORT = 8765
log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"  # never 0.0.0.0: the API must not be reachable from the network
# Held too, so that no other local user can listen there: a browser may try `localhost` as ::1
# first, and whoever answers there would be taken for the companion.
LOOPBACK_V6 = "::1"
YAHOO_BASE_URL_ENV = "RECORE_CONNECTOR_YAHOO_BASE_URL"


CONFIRM_FIRST_WRITES_ENV = "RECORE_CONNECTOR_CONFIRM_FIRST_WRITES"  # "off" for tests


def _env_number(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def _env_mb(name: str, default: float) -> int:
    return int(_env_number(name, default) * 1024 * 1024)


def default_data_dir() -> Path:
    override = os.environ.get("RECORE_CONNECTOR_DATA_DIR")
    return (
        Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    )


@dataclass(frozen=True)
class Config:
    data_dir: Path = field(default_factory=default_data_dir)
    port: int = DEFAULT_PORT
    database_url: str | None = None
    # background workers (ReCORE poller, outbox, scheduler); tests of the bare API switch them off
    workers: bool = True
    # disk space held back in `reserve.bin` for the log and the job state when the disk fills,
    # and the free space heavy work (a batch, a direct listing, a sync) needs to start
    disk_reserve_bytes: int = field(
        default_factory=lambda: _env_mb("RECORE_CONNECTOR_DISK_RESERVE_MB", 32)
    )
    min_free_bytes: int = field(
        default_factory=lambda: _env_mb("RECORE_CONNECTOR_MIN_FREE_MB", 100)
    )
    # how long the store may take to finish a request: an item whose press (出品する, 早期終了 …)
    # has no known outcome is not pressed again before the store was read after this long
    # (companion.direct.intents says what was measured and what is assumed)
    submit_grace_seconds: float = field(
        default_factory=lambda: _env_number("RECORE_CONNECTOR_SUBMIT_GRACE_SECONDS", 120)
    )
    # 確認モード of a new installation (a data directory whose settings do not have it yet):
    # written once at the first start. The tests' companions start with it off.
    confirm_first_writes: bool = field(
        default_factory=lambda: os.environ.get(CONFIRM_FIRST_WRITES_ENV, "on") != "off"
    )
    # how often jobs paused by a problem of the PC look whether it is gone
    resource_check_seconds: float = field(
        default_factory=lambda: _env_number("RECORE_CONNECTOR_RESOURCE_CHECK_SECONDS", 30)
    )
    # Where the Yahoo store pages are: None = the real Yahoo sites; the demo and the tests point
    # it at the Yahoo sandbox. Never settable through the HTTP API: the Yahoo passwords follow it.
    yahoo_base_url: str | None = field(
        default_factory=lambda: os.environ.get(YAHOO_BASE_URL_ENV) or None
    )

    @property
    def db_url(self) -> str:
        return (
            self.database_url
            or os.environ.get("RECORE_CONNECTOR_DATABASE_URL")
            or sqlite_url(self.data_dir / "companion.sqlite3")
        )

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

    @property
    def run_dir(self) -> Path:
        """Lock files of the running companion processes (see `companion.jobs.RunnerLease`)."""
        return self.data_dir / "run"

    @property
    def browser_profile_dir(self) -> Path:
        return self.data_dir / "browser-profile"

    def ensure_dirs(self) -> None:
        # the data dir holds the token hashes and the encrypted secrets: owner only
        private_dir(self.data_dir)
        private_dir(self.log_dir)
        for d in (self.cache_dir, self.exports_dir):
            d.mkdir(exist_ok=True)


def _listening_socket(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform == "win32":
            # no other program may bind the same address, whatever options it sets
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart after TIME_WAIT
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def loopback_sockets(port: int) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1:port (required) and [::1]:port (where this machine has
    IPv6): the companion holds its port on both loopback addresses."""
    sockets = [_listening_socket(socket.AF_INET, LOOPBACK, port)]
    try:
        sockets.append(_listening_socket(socket.AF_INET6, LOOPBACK_V6, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            log.warning(
                "[::1]:%d is held by another program: the extension talks to 127.0.0.1 only and "
                "is not affected, but a browser opening localhost:%d may reach that program",
                port,
                port,
            )
        else:  # no IPv6 on this machine: nothing can listen on ::1 either
            log.info("no IPv6 loopback here (%s): listening on 127.0.0.1 only", exc.strerror)
    return sockets
