"""The install tests drive real Chromium with the session's one `playwright` (tests/conftest.py)."""
