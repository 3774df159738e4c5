"""The real command line: `serve` on 127.0.0.1 only, `pair` printing a code that works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import cli_env, free_port

CLI = [sys.executable, "-m", "companion.cli"]


def _wait_for(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()  # noqa: S310 (loopback)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, from /proc (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
                found.add(addr)
    return found


def test_serve_binds_loopback_only_and_pair_works(tmp_path: Path, database: str) -> None:
    port = free_port()
    env = cli_env(database)
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/health")
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
        out = subprocess.run(
            [*CLI, "pair", "--data-dir", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        code = out.strip().splitlines()[-1]
        assert code.isdigit() and len(code) >= 6
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/pair",
            data=json.dumps({"code": code}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        token = json.loads(urllib.request.urlopen(req, timeout=5).read())["token"]  # noqa: S310
        status = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/status", headers={"Authorization": f"Bearer {token}"}
        )
        body = json.loads(urllib.request.urlopen(status, timeout=5).read())  # noqa: S310
        assert body["outbox"]["pending"] == 0
        assert (tmp_path / "logs" / "companion.log").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_two_processes_starting_on_a_new_data_dir_both_migrate(tmp_path: Path) -> None:
    """`serve` and `pair` may start together on a fresh install: neither may crash."""
    env = {**os.environ, "RECORE_CONNECTOR_NO_KEYRING": "1"}
    procs = [
        subprocess.Popen(
            [*CLI, "pair", "--data-dir", str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip().splitlines()[-1].isdigit()
