"""Shared fixtures. Every server in the tests listens on 127.0.0.1 only."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.postgres import PostgresServer, binaries

# Tests never touch the developer's real OS keyring or data dir.
os.environ["RECORE_CONNECTOR_NO_KEYRING"] = "1"
# Tests expect writes to flow: their companions (in this process and the CLI's) start with 確認モード
# off. The tests of that mode switch it on (tests/companion/test_confirmations.py).
os.environ["RECORE_CONNECTOR_CONFIRM_FIRST_WRITES"] = "off"

# Tests that use the `database` fixture run against SQLite and PostgreSQL in these folders (the
# database and companion-level tests); elsewhere (browser-heavy folders) against SQLite alone.
# `@pytest.mark.postgres_only` tests (several companions on one database) run on PostgreSQL alone.
BOTH_DATABASES = ("tests/companion/", "tests/recore/", "tests/batches/", "tests/sync/")


def cli_env(database: str) -> dict[str, str]:
    """The environment of a `recore-connector` subprocess on the test's database."""
    return {
        **os.environ,
        "RECORE_CONNECTOR_NO_KEYRING": "1",
        "RECORE_CONNECTOR_DATABASE_URL": database,
    }


# The Yahoo sandbox's two store worlds (docs/yahoo-sandbox.md). Every sandbox fixture takes its
# world from the `store_world` fixture: `classic` unless a test asks for both with `both_worlds`
# (the whole flows: upload, direct listing, the sync life cycle, login walls, the crash test, the
# extension's flows). Nothing in the connector knows which world it is in.
STORE_WORLDS: tuple[str, ...] = ("classic", "next")
both_worlds = pytest.mark.parametrize("store_world", STORE_WORLDS)


@pytest.fixture(scope="session")  # module-scoped fixtures (the extension's) may depend on it
def store_world() -> str:
    return "classic"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" not in metafunc.fixturenames:
        return
    nodeid = metafunc.definition.nodeid.replace("\\", "/")
    if metafunc.definition.get_closest_marker("postgres_only"):
        kinds = ["postgresql"]
    elif nodeid.startswith(BOTH_DATABASES):
        kinds = ["sqlite", "postgresql"]
    else:
        kinds = ["sqlite"]
    metafunc.parametrize("database", kinds, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (started on first use)."""
    bindir = binaries()
    if bindir is None:
        pytest.skip(
            "PostgreSQL binaries (initdb, postgres) not found: install Debian's postgresql "
            "(scripts/install.sh does as root) to run the PostgreSQL variants"
        )
    server = PostgresServer(bindir).start()
    try:
        server.migrate_template()
        yield server
    finally:
        server.stop()


@pytest.fixture
def database(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[str]:
    """The companion's database URL: a SQLite file in the data dir, or a fresh PostgreSQL
    database (a copy of the migrated template) dropped after the test."""
    if getattr(request, "param", "sqlite") == "sqlite":
        from companion.db import sqlite_url

        yield sqlite_url(data_dir / "companion.sqlite3")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def make_companion(
    database: str, aiohttp_client, data_dir: Path
) -> Callable[..., Awaitable[TestClient]]:
    """A companion app on a real 127.0.0.1 port, with no background workers unless asked."""
    from companion.app import create_app
    from companion.config import Config

    async def factory(
        prepare: Callable[[object], None] | None = None, **config: object
    ) -> TestClient:
        config.setdefault("workers", False)
        config.setdefault("confirm_first_writes", False)  # writes flow (確認モード off)
        config.setdefault("database_url", database)
        app = create_app(Config(data_dir=data_dir, **config))  # type: ignore[arg-type]
        if prepare is not None:
            prepare(app)  # e.g. faster ReCORE pacing for tests
        return await aiohttp_client(app)

    return factory


async def pair_client(client: TestClient, origin: str | None = None) -> str:
    """Pair as staff would: a code from the companion's own store, then POST /pair."""
    from companion.keys import DB
    from companion.pairing import create_code

    code = await create_code(client.app[DB])
    headers = {"Origin": origin} if origin else {}
    resp = await client.post("/api/v1/pair", json={"code": code}, headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["token"]


@pytest.fixture
async def companion(make_companion) -> TestClient:
    return await make_companion()


@pytest.fixture
async def auth(companion: TestClient) -> dict[str, str]:
    token = await pair_client(companion)
    return {"Authorization": f"Bearer {token}"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the tests that use Playwright's sync API last (the extension's, the native host's).

    Its event loop lives as long as the session-wide `playwright` fixture; an asyncio test
    scheduled after it in the same process would find a running loop.
    """

    def uses_sync_playwright(item: pytest.Item) -> bool:
        return "tests/extension/" in item.nodeid.replace("\\", "/") or "playwright" in getattr(
            item, "fixturenames", ()
        )

    items.sort(key=uses_sync_playwright)


class SmallDisk:
    """A small real file system (tmpfs) that a test fills up and frees again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / ".filler"

    def fill(self) -> None:
        """Take every free byte: the next write that needs room fails with ENOSPC."""
        import errno

        with self.filler.open("ab") as out:
            for chunk in (1024 * 1024, 4096):
                try:
                    while True:
                        os.posix_fallocate(out.fileno(), out.seek(0, 2), chunk)
                        out.seek(chunk, 1)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc

    def make_room(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk() -> Any:
    """`small_disk(path, megabytes)` mounts a tmpfs there (root only; skipped elsewhere) and
    unmounts it after the test."""
    import subprocess

    mounted: list[Path] = []

    def mount(path: Path, megabytes: int) -> SmallDisk:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (root needed): {done.stderr.strip()}")
        mounted.append(path)
        return SmallDisk(path)

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """Playwright's sync API, ONE for the whole session (the extension's and the native host's
    tests): a second one started while the first runs would find its event loop running."""
    from scrapers.browser import chromium_executable

    if chromium_executable() is None and not shutil.which("chromium"):
        pytest.skip("no Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw
