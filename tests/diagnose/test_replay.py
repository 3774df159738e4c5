"""A diagnosis bundle served by the Yahoo sandbox as a store of its own: the diagnosis of the
replayed store finds what the diagnosis of the original found, and misses what it missed, so a
real shop's bundle can become a regression test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from companion.config import Config
from companion.db import Database
from companion.diagnose.bundle import run_diagnosis
from companion.secretbox import SecretBox
from companion.settings import SettingsStore
from companion.store_session import StoreOptions, StoreSession
from sandbox.yahoo.replay import create_replay_app
from tests.conftest import both_worlds
from tests.diagnose.test_diagnose import bundle_texts, diagnose
from tests.direct.conftest import WiredFactory

pytestmark = pytest.mark.browser


async def diagnose_replay(bundle: Path, work: Path) -> Any:
    server = TestServer(create_replay_app(bundle), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    config = Config(data_dir=work / "data", yahoo_base_url=url)
    config.ensure_dirs()
    db = Database(config.db_url)
    await db.migrate()
    settings = SettingsStore(db, SecretBox.load(config.data_dir), yahoo_base_url=url)
    store = StoreSession(config, settings, StoreOptions(idle_timeout=0))
    await store.start()
    try:
        async with aiohttp.ClientSession() as http:
            return await run_diagnosis(settings, store, http, work / "out")
    finally:
        await store.close()
        await db.close()
        await server.close()


def pages_of(path: Path) -> set[str]:
    return {n.split("/")[1] for n in bundle_texts(path) if n.startswith("yahoo/")}


@both_worlds
@pytest.mark.parametrize("layout_changed", [False, True], ids=["same", "changed"])
async def test_a_bundle_replayed_is_diagnosed_as_the_original(
    make_wired: WiredFactory, tmp_path: Path, layout_changed: bool
) -> None:
    wired = await make_wired(listings=0)
    if layout_changed:
        await wired.sb.yahoo_faults(layout_changed=True)
    original = await diagnose(wired, tmp_path / "original")
    replayed = await diagnose_replay(original.zip_path, tmp_path / "replay")
    assert pages_of(replayed.zip_path) == pages_of(original.zip_path)
    assert replayed.missing == original.missing
    assert bool(original.missing) == layout_changed
