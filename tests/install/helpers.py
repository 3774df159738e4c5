"""Helpers for the install tests: the native host as Chrome runs it, and the companions it leaves
running (found by their command line, as staff's task manager would show them)."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "RECORE_CONNECTOR_NO_KEYRING": "1"}


def frame(message: Any) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack("=I", len(body)) + body


def unframe(data: bytes) -> list[Any]:
    messages = []
    while data:
        (length,) = struct.unpack("=I", data[:4])
        messages.append(json.loads(data[4 : 4 + length]))
        data = data[4 + length :]
    return messages


def run_host(data_dir: Path, port: int, origin: str, *messages: Any) -> list[Any]:
    """`recore-connector native-host ORIGIN` fed `messages` on stdin as Chrome would."""
    out = subprocess.run(
        [sys.executable, "-m", "companion.cli", "native-host", origin]
        + ["--data-dir", str(data_dir), "--port", str(port)],
        input=b"".join(frame(m) for m in messages),
        capture_output=True,
        cwd=ROOT,
        env=ENV,
        timeout=120,
    )
    return unframe(out.stdout)


def companions_of(data_dir: Path) -> list[int]:
    """Pids of `serve` processes using `data_dir`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and str(data_dir).encode() in argv:
            found.append(int(entry.name))
    return found


def stop_companions(data_dir: Path) -> None:
    for pid in companions_of(data_dir):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
