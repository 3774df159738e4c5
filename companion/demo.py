"""`recore-connector demo`: the companion plus both sandboxes, seeded and wired together.

Everything runs in one process on 127.0.0.1. The demo keeps its own data directory (not the shop's
real one) so that pairing survives a restart; `--reset` starts from a clean slate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from companion.app import create_app
from companion.config import LOOPBACK, Config, loopback_sockets
from companion.keys import CONFIG, DB, SETTINGS, TABLES
from companion.listing.rules import DEFAULT_TEMPLATES
from companion.logs import private_dir
from companion.pairing import create_code
from scrapers.browser import chromium_args, chromium_executable

log = logging.getLogger(__name__)
EXTENSION_DIR = Path(__file__).resolve().parent.parent / "extension"


@dataclass(frozen=True)
class DemoPorts:
    companion: int = 8765
    recore: int = 8766
    yahoo: int = 8767


@dataclass
class RunningDemo:
    runners: list[web.AppRunner]
    companion_app: web.Application
    recore_app: web.Application
    yahoo_app: web.Application
    ports: DemoPorts
    pairing_code: str

    async def close(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()


async def _serve(app: web.Application, port: int, *, both_loopbacks: bool = False) -> web.AppRunner:
    """`app` on 127.0.0.1:port; `both_loopbacks` (the companion) holds [::1]:port as well."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    if both_loopbacks:
        for sock in loopback_sockets(port):
            await web.SockSite(runner, sock).start()
    else:
        await web.TCPSite(runner, LOOPBACK, port).start()
    return runner


def demo_tables() -> dict[str, Any]:
    """The tables a shop would fill in for the sandbox's stock: where it ships from (the only
    template setting without a default), a named template for watches (送料は出品者負担), and its
    ReCORE categories → Yahoo categories. ReCORE's spec sends none of it (`inventories spec`)."""
    from sandbox.recore.seed import demo_category_table

    default = {
        **DEFAULT_TEMPLATES["default"],
        "prefecture": "東京都",
        "city": "豊島区",
        "lead_time_code": "3",  # 3～7日で発送
        "resubmit_count": 2,
        "min_rating": -5,
        "bad_rating_limit": True,
        "folder_path": "一般",
    }
    watches = {
        "name": "腕時計（送料無料）",
        "categories": [300],  # 腕時計 and its sub-categories
        "stores": [],
        "fields": {"shipping_payer": "出品者", "folder_path": "時計"},
    }
    return {
        "templates": {"default": default, "named": [watches]},
        "categories": demo_category_table(),
    }


async def apply_demo_tables(app: web.Application) -> None:
    """The demo's tables, once: what staff changed since survives a restart."""
    saved = await app[TABLES].saved()
    for name, table in demo_tables().items():
        if name not in saved:
            await app[TABLES].put(name, table)


def prepare_dir(data_dir: Path, *, reset: bool) -> None:
    if reset and data_dir.exists():
        shutil.rmtree(data_dir)
    private_dir(data_dir)  # logs and the companion's data live below: nobody else reads them
    (data_dir / "sandboxes").mkdir(exist_ok=True)


async def start_demo(data_dir: Path, ports: DemoPorts, *, world: str = "classic") -> RunningDemo:
    """Start the three servers and point the companion at the sandboxes: ReCORE answering in its
    spec's form with the demo's templates and tables filled in; `world` chooses the Yahoo
    sandbox's store pages (classic, or next: docs/yahoo-sandbox.md)."""
    from sandbox.recore.app import create_app as create_recore
    from sandbox.yahoo.app import create_app as create_yahoo

    sandbox_dir = data_dir / "sandboxes"
    recore_app = create_recore(state_file=sandbox_dir / "recore.json")
    yahoo_app = create_yahoo(state_file=sandbox_dir / "yahoo.json", world=world)
    # the Yahoo sandbox comes in through the configuration, as for `serve --yahoo-base-url`:
    # where the store is is never a setting the HTTP API takes
    config = Config(
        data_dir=data_dir / "companion",
        port=ports.companion,
        yahoo_base_url=f"http://{LOOPBACK}:{ports.yahoo}",
    )
    companion_app = create_app(config)

    runners = [await _serve(recore_app, ports.recore), await _serve(yahoo_app, ports.yahoo)]
    runners.append(await _serve(companion_app, ports.companion, both_loopbacks=True))

    await companion_app[SETTINGS].update(
        sandbox_settings(recore_app, yahoo_app, f"http://{LOOPBACK}:{ports.recore}")
    )
    await apply_demo_tables(companion_app)
    code = await create_code(companion_app[DB])
    return RunningDemo(runners, companion_app, recore_app, yahoo_app, ports, code)


def sandbox_settings(
    recore_app: web.Application, yahoo_app: web.Application, recore_url: str
) -> dict[str, object]:
    """The settings staff would enter to use the two sandboxes (the demo's, and the tests').
    The Yahoo sandbox's address is not among them: it is `Config.yahoo_base_url`."""
    from sandbox.recore.app import demo_credentials
    from sandbox.yahoo.app import demo_account

    creds = demo_credentials(recore_app)
    account = demo_account(yahoo_app)
    return {
        "recore_api_url": recore_url,
        "recore_api_key": creds["api_key"],
        "ec_account_id": creds["ec_account_id"],
        "store_id": creds.get("store_id"),
        "yahoo_id": account["yahoo_id"],
        "yahoo_password": account["password"],
        "business_id": account["business_id"],
        "business_password": account["business_password"],
    }


def instructions(demo: RunningDemo) -> str:
    p = demo.ports
    return f"""
ReCORE Connector デモ / demo
  コンパニオン (companion) : http://{LOOPBACK}:{p.companion}/api/v1/health
  ReCORE サンドボックス   : http://{LOOPBACK}:{p.recore}/      (出品待ち・出品リスト・受注管理)
  ヤフオク サンドボックス : http://{LOOPBACK}:{p.yahoo}/       (競りナビ・注文管理)

拡張機能を読み込む / load the extension:
  1. Chrome で chrome://extensions を開き、右上の「デベロッパー モード」をオンにする
  2. 「パッケージ化されていない拡張機能を読み込む」で次のフォルダを選ぶ:
     {EXTENSION_DIR}
  3. 拡張機能のオプション画面で、このペアリングコードを入力する（5分間有効）:

     ペアリングコード / pairing code:  {demo.pairing_code}

  新しいコードは別の端末で: recore-connector pair --data-dir {demo.companion_app[CONFIG].data_dir}
Ctrl-C で終了 / Ctrl-C to stop.
"""


def open_browser(demo: RunningDemo, profile_dir: Path) -> subprocess.Popen[bytes] | None:
    """Chromium with the extension loaded, when there is a display to show it on."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        print("画面がないため --open は使えません / no display: skipping --open")
        return None
    exe = chromium_executable()
    if exe is None:
        print("chromium が見つかりません / chromium not found: set RECORE_CONNECTOR_CHROMIUM")
        return None
    args = [
        exe,
        f"--user-data-dir={profile_dir}",
        f"--disable-extensions-except={EXTENSION_DIR}",
        f"--load-extension={EXTENSION_DIR}",
        *chromium_args(exe),
        f"http://{LOOPBACK}:{demo.ports.recore}/",
    ]
    return subprocess.Popen(args)  # noqa: S603 (our own chromium, fixed args)


async def run_demo(
    data_dir: Path, ports: DemoPorts, *, open_chromium: bool, world: str = "classic"
) -> None:
    demo = await start_demo(data_dir, ports, world=world)
    print(instructions(demo), flush=True)
    browser = open_browser(demo, data_dir / "chromium-profile") if open_chromium else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if browser is not None:
            browser.terminate()
        await demo.close()
