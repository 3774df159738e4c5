"""Screenshots of the popup and the options page in the demo state, for the README.

    .venv/bin/python scripts/screenshots.py [docs/images]

Starts `recore-connector demo` on free ports with a fresh data dir, loads the extension into
Chromium, pairs through the options page as staff would, waits for ReCORE's tasks to arrive, and
saves `popup.png` and `options.png`. Needs a Japanese font (Debian: fonts-noto-cjk).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scrapers.browser import CHROMIUM_ARGS, chromium_executable  # noqa: E402

EXT = ROOT / "extension"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()  # noqa: S310 (loopback)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="recore-shots-"))
    ports = [free_port() for _ in range(3)]
    demo = subprocess.Popen(  # noqa: S603
        [
            str(ROOT / ".venv/bin/recore-connector"),
            "demo",
            "--data-dir",
            str(work / "demo"),
            "--port",
            str(ports[0]),
            "--recore-port",
            str(ports[1]),
            "--yahoo-port",
            str(ports[2]),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        companion = f"http://127.0.0.1:{ports[0]}"
        wait_for(f"{companion}/api/v1/health")
        code = (
            subprocess.run(  # noqa: S603
                [
                    str(ROOT / ".venv/bin/recore-connector"),
                    "pair",
                    "--data-dir",
                    str(work / "demo/companion"),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        # Chromium picks the extension's language from its UI locale: Japanese, as in a shop
        prefs = work / "profile" / "Default" / "Preferences"
        prefs.parent.mkdir(parents=True)
        prefs.write_text(json.dumps({"intl": {"app_locale": "ja"}}))
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(work / "profile"),
                executable_path=chromium_executable(),
                headless=True,
                args=[
                    *CHROMIUM_ARGS,
                    f"--disable-extensions-except={EXT}",
                    f"--load-extension={EXT}",
                    "--lang=ja",
                ],
                locale="ja-JP",
                viewport={"width": 900, "height": 1400},
                env={**os.environ, "LANGUAGE": "ja", "LANG": "ja_JP.UTF-8"},
            )
            worker = (
                context.service_workers[0]
                if context.service_workers
                else context.wait_for_event("serviceworker")
            )
            ext_id = worker.url.split("/")[2]
            options = context.new_page()
            options.goto(f"chrome-extension://{ext_id}/options.html")
            options.fill("#companion_url", companion)
            options.fill("#pairing_code", code)
            options.click("#pair")
            options.wait_for_selector("#settings:not([hidden])")
            time.sleep(1.5)
            options.screenshot(path=str(out_dir / "options.png"), full_page=True)
            # wait until the demo's ReCORE tasks have been polled into 新規の出品待ち
            deadline = time.monotonic() + 60
            popup = context.new_page()
            popup.set_viewport_size({"width": 360, "height": 200})
            while True:
                popup.goto(f"chrome-extension://{ext_id}/popup.html")
                time.sleep(2)
                text = popup.inner_text("body")
                if re.search(r"[1-9]\d*\s*件", text) or time.monotonic() > deadline:
                    break
            popup.screenshot(path=str(out_dir / "popup.png"), full_page=True)
            context.close()
    finally:
        demo.terminate()
        demo.wait(timeout=20)
    print(f"saved {out_dir / 'popup.png'} and {out_dir / 'options.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images")
