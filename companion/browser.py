"""Where Chromium is, and how we start it.

On a user's machine Playwright's own Chromium works (executable None). On Debian, `chromium` from
apt is used. `RECORE_CONNECTOR_CHROMIUM` overrides both.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM_ENV = "RECORE_CONNECTOR_CHROMIUM"

# Flags that keep Chromium quiet on a closed network and working as root in CI.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_executable() -> str | None:
    """Path to a Chromium binary, or None to let Playwright use its own."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None
