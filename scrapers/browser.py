"""Where Chromium is, and how we start it.

On a user's machine Playwright's own Chromium works (executable None): headless, Playwright runs
its headless shell. On Debian the same split is made by hand: `chromium-headless-shell` from apt
for the store's pages (headless, no extensions; about 0.1 s less per listed item here than the
full browser), `chromium` for everything with a window or the extension.
`RECORE_CONNECTOR_CHROMIUM` overrides both, `RECORE_CONNECTOR_HEADLESS_CHROMIUM` the headless one.

The store's pages are the real Yahoo site and render HTML descriptions from ReCORE: Chromium runs
them in its sandbox wherever the sandbox works, which is everywhere but as root (Chromium refuses
it there) or on a Linux without user namespaces and without the setuid helper. `chromium_sandbox()`
decides, and says in the log when it cannot. Playwright turns the sandbox off unless it is asked
for (`chromium_sandbox=True` at launch); a plain Chromium process gets `chromium_args()`.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import stat
import sys
from pathlib import Path

log = logging.getLogger(__name__)

CHROMIUM_ENV = "RECORE_CONNECTOR_CHROMIUM"
HEADLESS_CHROMIUM_ENV = "RECORE_CONNECTOR_HEADLESS_CHROMIUM"
# "0" turns the sandbox off on a machine where it is known not to work (it is said in the log)
SANDBOX_ENV = "RECORE_CONNECTOR_CHROMIUM_SANDBOX"
NO_SANDBOX = "--no-sandbox"

# Flags that keep Chromium quiet on a closed network.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


# Playwright passes its own `--disable-features` list and a second flag replaces it (Chromium keeps
# the last), so the store pages' flag repeats Playwright 1.65's list and adds RenderDocument: with
# it a same-site navigation keeps its frame instead of building a new one per page, about 30 ms
# less per item here (three navigations each).
PLAYWRIGHT_DISABLED_FEATURES: tuple[str, ...] = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
)
STORE_PAGE_ARGS: tuple[str, ...] = (
    *CHROMIUM_ARGS,
    "--disable-features=" + ",".join((*PLAYWRIGHT_DISABLED_FEATURES, "RenderDocument")),
)


def chromium_executable(*, headless: bool = False) -> str | None:
    """Path to a Chromium binary, or None to let Playwright use its own.

    `headless=True` is for pages without the extension: the headless shell is taken when there is
    one (what Playwright itself runs headless), else the full browser.
    """
    if headless:
        override = os.environ.get(HEADLESS_CHROMIUM_ENV) or os.environ.get(CHROMIUM_ENV)
        if override:
            return override
        shell = shutil.which("chromium-headless-shell")
        if shell:
            return shell
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _setuid_helper(executable: str | None) -> bool:
    """Chromium's setuid sandbox helper beside the binary (it works without user namespaces)."""
    candidates = [os.environ.get("CHROME_DEVEL_SANDBOX", "")]
    if executable:
        candidates.append(str(Path(os.path.realpath(executable)).parent / "chrome-sandbox"))
    for candidate in filter(None, candidates):
        try:
            info = os.stat(candidate)
        except OSError:
            continue
        if info.st_uid == 0 and info.st_mode & stat.S_ISUID:
            return True
    return False


def sandbox_unavailable_reason(executable: str | None = None) -> str | None:
    """Why Chromium's sandbox cannot run here, or None when it can."""
    if os.environ.get(SANDBOX_ENV) == "0":
        return f"switched off by {SANDBOX_ENV}=0"
    if not sys.platform.startswith("linux"):
        return None
    if os.geteuid() == 0:
        return "the companion runs as root, where Chromium refuses its sandbox"
    no_userns = (
        _read("/proc/sys/kernel/unprivileged_userns_clone") == "0"
        or _read("/proc/sys/user/max_user_namespaces") == "0"
        or _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1"
    )
    if no_userns and not _setuid_helper(executable):
        return "this Linux allows no unprivileged user namespaces and has no setuid chrome-sandbox"
    return None


@functools.cache
def chromium_sandbox(executable: str | None = None) -> bool:
    """Whether Chromium runs with its sandbox here; logged once when it cannot."""
    reason = sandbox_unavailable_reason(executable)
    if reason is not None:
        log.warning(
            "Chromium runs WITHOUT its sandbox (%s): the store's pages are less isolated from "
            "this machine; run the companion as a normal user to keep the sandbox",
            reason,
        )
    return reason is None


def chromium_args(executable: str | None = None) -> tuple[str, ...]:
    """CHROMIUM_ARGS for a Chromium started without Playwright, plus --no-sandbox only where
    the sandbox cannot run."""
    return CHROMIUM_ARGS if chromium_sandbox(executable) else (*CHROMIUM_ARGS, NO_SANDBOX)
