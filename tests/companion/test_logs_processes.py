"""Logs with several processes at once: `serve` alone writes (and rotates) companion.log; a
one-off command beside it writes cli.log, which is only appended to, never renamed while another
process may hold it (on Windows that rename would fail and break the other's logging)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.companion.test_cli import CLI, _wait_for
from tests.conftest import free_port

ENV = {**os.environ, "RECORE_CONNECTOR_NO_KEYRING": "1"}
ONE_OFF = """
import logging, sys
from pathlib import Path
from companion.logs import CLI_LOG, setup_logging
setup_logging(Path(sys.argv[1]), file_name=CLI_LOG, to_stderr=False)
logging.getLogger("companion.one_off").info("one-off line")
"""


def _pids(path: Path) -> set[int]:
    return {int(line.split()[2]) for line in path.read_text().splitlines() if line.strip()}


def test_serve_and_a_one_off_command_write_their_own_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/health")
        logs = data_dir / "logs"
        one_offs = [
            subprocess.Popen([sys.executable, "-c", ONE_OFF, str(logs)], env=ENV) for _ in range(3)
        ]
        for proc in one_offs:
            assert proc.wait(timeout=60) == 0
        assert _pids(logs / "companion.log") == {server.pid}
        assert _pids(logs / "cli.log") == {p.pid for p in one_offs}
        assert (logs / "cli.log").read_text().count("one-off line") == 3
        assert (logs / "cli.log").stat().st_mode & 0o777 == 0o600
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_grown_one_off_log_is_set_aside_when_a_process_starts(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "cli.log").write_bytes(b"x" * 5_000_001)
    subprocess.run([sys.executable, "-c", ONE_OFF, str(logs)], env=ENV, check=True, timeout=60)
    assert (logs / "cli.log.1").stat().st_size == 5_000_001
    assert "one-off line" in (logs / "cli.log").read_text()
