"""History fixtures: the sync tests' companion and sandboxes (a day of demo work), and a bare
companion for the fast cases."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sync.conftest import Hub, make_hub, recore_server, yahoo_server  # noqa: F401


@pytest.fixture
async def history_hub(make_hub: Any) -> Hub:  # noqa: F811
    # the app as `serve` builds it: history and alerts are features like the others
    return await make_hub(all_features=True)
