"""The install tests drive real Chromium with the extension tests' fixtures."""

from tests.extension.conftest import playwright  # noqa: F401 - the shared fixture
