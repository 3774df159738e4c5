"""The real command line: `serve` on 127.0.0.1 only, `pair` printing a code that works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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


IPV6_LOOPBACK = "00000000000000000000000001000000"  # ::1 as /proc/net/tcp6 writes it
HAS_IPV6 = any(
    line.split()[0] == "00000000000000000000000000000001"
    for line in (
        Path("/proc/net/if_inet6").read_text().splitlines()
        if os.path.exists("/proc/net/if_inet6")
        else []
    )
)


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
        # 127.0.0.1 and ::1 (held so that no one else answers there), nothing else
        assert _listening_addresses(port) == {"0100007F"} | ({IPV6_LOOPBACK} if HAS_IPV6 else set())
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


def test_sandbox_yahoo_serves_the_world_asked_for(tmp_path: Path) -> None:
    """`recore-connector sandbox yahoo --world next` serves world next (classic is the default)."""
    for world in ("next", "classic"):
        port = free_port()
        args = [*CLI, "sandbox", "yahoo", "--port", str(port)]
        server = subprocess.Popen(
            args + (["--world", world] if world == "next" else []),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/_sandbox/state")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/state") as resp:  # noqa: S310
                assert json.loads(resp.read())["world"] == world
        finally:
            server.terminate()
            server.wait(timeout=10)


BIND_AS_OTHER_USER = r"""
import socket, sys
family, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
sock = socket.socket(socket.AF_INET6 if family == "6" else socket.AF_INET)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    sock.bind((host, port))
    sock.listen(1)
    print("bound")
except OSError as exc:
    print("refused", exc.errno)
"""


def test_another_user_cannot_listen_on_the_companions_port(tmp_path: Path) -> None:
    """With the companion on 127.0.0.1 only, another local user could listen on [::1]:PORT and
    answer a browser that tries `localhost` as ::1 first; the companion holds both."""
    from tests.other_user import SYSTEM_PYTHON, other_user_home, popen_as_other_user

    if not HAS_IPV6:
        pytest.skip("no IPv6 loopback on this machine: nobody can listen on ::1 either")
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(tmp_path)],
        env={**os.environ, "RECORE_CONNECTOR_NO_KEYRING": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/health")
        with other_user_home() as home:
            for family, host in (("6", "::1"), ("4", "127.0.0.1"), ("6", "::")):
                squatter = popen_as_other_user(
                    [SYSTEM_PYTHON, "-c", BIND_AS_OTHER_USER, family, host, str(port)],
                    home,
                    stdout=subprocess.PIPE,
                )
                out, _ = squatter.communicate(timeout=30)
                assert out.decode().startswith("refused"), (host, out)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_sandbox_recore_answers_in_the_form_asked_for() -> None:
    """`recore-connector sandbox recore` answers as ReCORE's spec shows (spec), or `--inventories
    rich` with the Yahoo fields."""
    for form in ("spec", "rich"):
        port = free_port()
        args = [*CLI, "sandbox", "recore", "--port", str(port)]
        server = subprocess.Popen(
            args + (["--inventories", "rich"] if form == "rich" else []),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/_sandbox/state")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/state") as resp:  # noqa: S310
                state = json.loads(resp.read())
            assert state["inventory_form"] == form
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/ec/inventories/5001",
                headers={"X-Identification": state["api_key"]},
            )
            with urllib.request.urlopen(request) as resp:  # noqa: S310
                inventory = json.loads(resp.read())
            assert ("mall_attributes" in inventory) is (form == "rich")
        finally:
            server.terminate()
            server.wait(timeout=10)
