"""A throwaway PostgreSQL server for the tests and the benchmark: Debian's binaries, a data dir and
a Unix socket in a temporary directory, no TCP port, no system service, stopped at the end.

PostgreSQL refuses to run as root: as root the server runs as the unprivileged `postgres` user
(the one Debian's package creates), else as `nobody`. Each test gets a fresh database copied from a
template that already has the schema (`CREATE DATABASE … TEMPLATE`), so a test costs a copy, not a
migration.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "recore"
TEMPLATE = "recore_template"
# speed over durability: the data dir is thrown away at the end
FAST_SETTINGS = {
    "listen_addresses": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
}


def binaries() -> Path | None:
    """Where initdb and postgres are: PATH, `pg_config --bindir`, or Debian's versioned dirs."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("no unprivileged user (postgres or nobody) to run PostgreSQL as")


class PostgresServer:
    """`start()` → initdb + postgres on a socket; `url(db)`; `create_database()`; `stop()`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # short path: a Unix socket path may be at most ~100 bytes
        self.root = Path(tempfile.mkdtemp(prefix="rc-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "run"
        self.proc: subprocess.Popen[bytes] | None = None
        self.user = _server_user()
        self._counter = 0

    def _run_as(self) -> dict[str, object]:
        if self.user is None:
            return {}
        return {
            "cwd": self.root,  # the checkout may be where that user cannot go (e.g. under /root)
            "user": self.user.pw_uid,
            "group": self.user.pw_gid,
            "extra_groups": [],
            "env": {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "HOME": str(self.root)},
        }

    def start(self) -> PostgresServer:
        self.socket_dir.mkdir()
        if self.user is not None:
            for path in (self.root, self.socket_dir):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **self._run_as(),  # type: ignore[arg-type]
        )
        options = [f"-c{k}={v}" for k, v in FAST_SETTINGS.items()]
        log = open(self.root / "server.log", "wb")  # noqa: SIM115 - open while the server runs
        self.proc = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data), "-k", str(self.socket_dir)]
            + options,
            stdout=log,
            stderr=subprocess.STDOUT,
            **self._run_as(),  # type: ignore[arg-type]
        )
        log.close()
        self._wait_ready()
        self.psql(f"CREATE DATABASE {TEMPLATE}")
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", str(self.socket_dir), "-U", SUPERUSER],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            assert self.proc is not None
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "PostgreSQL did not start:\n"
                    + (self.root / "server.log").read_text(errors="replace")
                )
            time.sleep(0.1)

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                str(self.socket_dir),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {out.stderr}")
        return out.stdout

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def migrate_template(self) -> None:
        """The schema, once, in the template every test's database is copied from."""
        from companion.db import upgrade

        upgrade(self.url(TEMPLATE))

    def create_database(self, *, empty: bool = False) -> str:
        """A fresh database (a copy of the migrated template, or `empty`); returns its name."""
        self._counter += 1
        name = f"test_{os.getpid()}_{self._counter}"
        template = "template0" if empty else TEMPLATE
        self.psql(f"CREATE DATABASE {name} TEMPLATE {template}")
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clients are disconnected
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)
