"""Logs are created private (0600 in a 0700 directory), whatever the umask, even after rotation."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from pathlib import Path

from tests.companion.test_cli import CLI, _wait_for
from tests.conftest import free_port


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_companion_writes_its_log_privately(tmp_path: Path) -> None:
    data_dir = tmp_path / "shop" / "data"  # neither exists yet: serve makes both
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env={**os.environ, "RECORE_CONNECTOR_NO_KEYRING": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.umask(0o022),  # the usual umask: files 0644, directories 0755
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/health")
        log_file = data_dir / "logs" / "companion.log"
        assert log_file.exists()
        assert _mode(log_file) == 0o600
        assert _mode(data_dir / "logs") == 0o700
        assert _mode(data_dir) == 0o700
        assert _mode(data_dir.parent) == 0o700  # made for it, so private too
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_demo_logs_are_private_before_anything_else_exists(tmp_path: Path) -> None:
    """`demo` sets up its log before its data directory: the order the issue was found in."""
    from companion.logs import setup_logging

    demo_dir = tmp_path / "demo"
    root = logging.getLogger()
    before = list(root.handlers)
    old_umask = os.umask(0o022)
    try:
        setup_logging(demo_dir / "logs")
        logging.getLogger("companion.test").info("started")
    finally:
        os.umask(old_umask)
        for handler in root.handlers[len(before) :]:
            handler.close()
            root.removeHandler(handler)
    assert _mode(demo_dir) == 0o700
    assert _mode(demo_dir / "logs") == 0o700
    assert _mode(demo_dir / "logs" / "companion.log") == 0o600


def test_rotated_and_earlier_log_files_are_private(tmp_path: Path) -> None:
    from companion.logs import PrivateRotatingFileHandler

    path = tmp_path / "companion.log"
    path.write_text("from an older version\n")
    os.chmod(path, 0o644)
    old_umask = os.umask(0o022)
    handler = PrivateRotatingFileHandler(path, maxBytes=200, backupCount=2, encoding="utf-8")
    try:
        assert _mode(path) == 0o600  # tightened when opened
        logger = logging.getLogger("companion.rotation-test")
        logger.propagate = False
        logger.addHandler(handler)
        for n in range(40):
            logger.warning("line %d of a log that rotates", n)
    finally:
        os.umask(old_umask)
        handler.close()
    files = sorted(tmp_path.glob("companion.log*"))
    assert len(files) == 3  # the file and two rotations
    assert {_mode(f) for f in files} == {0o600}
