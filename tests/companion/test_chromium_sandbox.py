"""The store's pages run in Chromium's sandbox wherever it works (not as root), and the log says
so when it cannot.

Whether a renderer is sandboxed is read where the kernel keeps it: a sandboxed renderer runs under
a seccomp filter (`Seccomp: 2` in /proc/PID/status), an unsandboxed one does not (0).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from scrapers import browser
from tests.other_user import SYSTEM_PYTHON, other_user_home, popen_as_other_user

pytestmark = pytest.mark.browser

# Starts the store pages' Chromium the way the companion does (its flags, and --no-sandbox only
# where `chromium_sandbox` says the sandbox cannot run, as Playwright adds it) and reports the
# seccomp mode of each renderer it starts.
PROBE = r"""
import json, os, subprocess, sys, time
from scrapers.browser import NO_SANDBOX, STORE_PAGE_ARGS, chromium_executable, chromium_sandbox

exe = chromium_executable(headless=True)
sandbox = chromium_sandbox(exe)
args = [*STORE_PAGE_ARGS, *([] if sandbox else [NO_SANDBOX])]
proc = subprocess.Popen(
    [exe, "--headless", *args, "--user-data-dir=" + os.path.join(os.getcwd(), "profile"),
     "data:text/html,<p>store page</p>"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)

def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found

def renderers(root):
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children(pid):
            todo.append(child)
            try:
                cmd = open(f"/proc/{child}/cmdline", "rb").read()
                status = open(f"/proc/{child}/status").read()
            except OSError:
                continue
            if b"--type=renderer" in cmd:
                out.append(int(status.split("Seccomp:")[1].split()[0]))
    return out

deadline = time.monotonic() + 60
found = []
while not found and time.monotonic() < deadline and proc.poll() is None:
    time.sleep(0.2)
    found = renderers(proc.pid)
proc.kill()
proc.wait()
print(json.dumps({"sandbox": sandbox, "no_sandbox_flag": NO_SANDBOX in args, "seccomp": found}))
"""


def _run_probe(command: list[str], **kwargs: object) -> dict[str, object]:
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_normal_user_keeps_chromiums_sandbox_for_the_store_pages() -> None:
    if browser.chromium_executable(headless=True) is None:
        pytest.skip("no Chromium")
    with other_user_home() as home:
        proc = popen_as_other_user(
            [SYSTEM_PYTHON, "-c", PROBE], home, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert report["sandbox"] is True
    assert report["no_sandbox_flag"] is False
    assert report["seccomp"] and all(mode == 2 for mode in report["seccomp"]), report


def test_as_root_the_store_pages_run_without_it_and_the_log_says_so(caplog, tmp_path) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("the root case needs root")
    if browser.chromium_executable(headless=True) is None:
        pytest.skip("no Chromium")
    caplog.set_level(logging.WARNING, logger="scrapers.browser")
    browser.chromium_sandbox.cache_clear()
    try:
        assert browser.chromium_sandbox() is False
        assert browser.NO_SANDBOX in browser.chromium_args()
    finally:
        browser.chromium_sandbox.cache_clear()
    assert "WITHOUT its sandbox" in caplog.text and "root" in caplog.text
    # and the probe confirms what that means: renderers without a seccomp filter
    report = _run_probe([sys.executable, "-c", PROBE], cwd=tmp_path)
    assert report["sandbox"] is False
    assert report["seccomp"] and set(report["seccomp"]) == {0}, report


def test_the_flags_no_longer_switch_the_sandbox_off_by_themselves() -> None:
    assert browser.NO_SANDBOX not in browser.CHROMIUM_ARGS
    assert browser.NO_SANDBOX not in browser.STORE_PAGE_ARGS
