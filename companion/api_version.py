"""Who answers on the port, and whether the extension and the companion speak the same API.

`/health` names the application and its API version, so the extension can tell the companion
from another program on the same port (8765 is also Anki-Connect's default). Every call from the
extension carries the extension's API version in `API_HEADER`; a call from an extension too old
or too new for this companion gets a 426 that says which side to update, instead of odd errors
further on (`middlewares.api_version_middleware`). A call without the header (the CLI, scripts,
an extension from before versioned calls) is taken as API 1.
"""

from __future__ import annotations

APP_NAME = "recore-connector"
# Raised when a change breaks what an older extension expects; the extension checks the same.
API_VERSION = 1
MIN_EXTENSION_API = 1  # the oldest extension API this companion still serves
API_HEADER = "X-ReCORE-API"

EXTENSION_OUTDATED = "EXTENSION_OUTDATED"
COMPANION_OUTDATED = "COMPANION_OUTDATED"


def identity() -> dict[str, object]:
    return {"app": APP_NAME, "api_version": API_VERSION, "min_extension_api": MIN_EXTENSION_API}


def version_problem(sent: str | None) -> str | None:
    """EXTENSION_OUTDATED, COMPANION_OUTDATED or None for the version a request carries."""
    if sent is None:
        # the CLI, scripts, and extensions from before versioned calls (which speak API 1)
        return None
    if not sent.isdigit() or len(sent) > 6 or int(sent) < MIN_EXTENSION_API:
        return EXTENSION_OUTDATED
    if int(sent) > API_VERSION:
        return COMPANION_OUTDATED
    return None
