"""Running a helper program as another local user (`nobody`), as an attacker on the same machine
would be: a listener squatting on the companion's port, a user whose Chromium keeps its sandbox.

Needs root to switch users; where that is impossible the tests that need it are skipped and say
why. The helpers run under Debian's own `/usr/bin/python3` with the standard library only (the
project's virtualenv may live where `nobody` cannot read).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"


def other_user() -> pwd.struct_passwd:
    """`nobody`, or a skip with the reason this machine does not allow switching to it."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("starting a program as another user needs root; these tests run as a user")
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this machine has no 'nobody' user to act as another local user")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is missing: nothing to run the other user's helper with")
    return user


@contextlib.contextmanager
def other_user_home() -> Iterator[Path]:
    """A directory `nobody` owns (pytest's own temporary directories are root's, 0700)."""
    user = other_user()
    home = Path(tempfile.mkdtemp(prefix="recore-other-user-"))
    try:
        os.chown(home, user.pw_uid, user.pw_gid)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def popen_as_other_user(args: list[str], home: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """`args` started as `nobody` in `home` (from `other_user_home`), with a minimal environment."""
    user = other_user()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
    return subprocess.Popen(
        args,
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        cwd=str(home),
        env=env,
        **kwargs,
    )
