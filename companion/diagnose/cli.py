"""`recore-connector diagnose`: the diagnosis with the companion's data, outside the server."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from companion.config import Config
from companion.db import Database
from companion.diagnose.bundle import run_diagnosis
from companion.secretbox import SecretBox
from companion.settings import SettingsStore
from companion.store_session import StoreOptions, StoreSession


async def diagnose_once(config: Config, out_dir: Path) -> int:
    """Prints the Japanese summary and where the zip is; 0 when everything needed was found."""
    from playwright.async_api import Error as PlaywrightError

    db = Database(config.db_url)
    try:
        await db.migrate()
        settings = SettingsStore(
            db, SecretBox.load(config.data_dir), yahoo_base_url=config.yahoo_base_url
        )
        store = StoreSession(config, settings, StoreOptions(idle_timeout=0))
        await store.start()
        try:
            async with aiohttp.ClientSession() as http:
                result = await run_diagnosis(settings, store, http, out_dir)
        except PlaywrightError as exc:
            first = (str(exc).splitlines() or ["?"])[0]
            print(
                "ブラウザーを起動できませんでした。直接出品や同期の実行中なら、終わってからもう一度お試しください。"
            )
            print(f"Could not start the browser ({first}).")
            return 2
        finally:
            await store.close()
    finally:
        await db.close()
    print(result.summary_ja)
    print(f"診断ファイル / diagnosis bundle: {result.zip_path}")
    return 0 if result.ok else 1
