"""The support bundle: what support needs to see, in one zip, with nothing secret and no buyer data.

`recore-connector support-bundle` and the options page's 「サポート用の情報を保存」 button
(`GET /api/v1/support-bundle`) both make it: the companion's and Python's versions, the OS, the
store pages' browser and Playwright's version, the database's migration revision, the settings as
the API shows them (secrets only as set / not set), `/status` (counts, outbox, last errors), and
the tail of each log. Orders and outbox bodies (buyers) are never read. Every text goes through the
log redaction with the stored secrets added, and e-mail addresses and phone numbers are masked.
"""

from __future__ import annotations

import asyncio
import io
import json
import platform
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import text

from companion import __version__, confirmations
from companion.keys import CONFIG, DB, SETTINGS
from companion.logs import REDACTED
from companion.middlewares import API
from companion.settings import SECRET_KEYS
from companion.status import build_status

LOG_TAIL_LINES = 400
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\d.])0\d{1,4}-?\d{1,4}-?\d{3,4}(?![\d.])")


def clean(value: str, secrets: list[str]) -> str:
    for secret in secrets:
        value = value.replace(secret, REDACTED)
    return PHONE.sub("[phone]", EMAIL.sub("[email]", value))


def _browser() -> dict[str, str | None]:
    from scrapers.browser import chromium_executable

    path = chromium_executable(headless=True)
    version = None
    if path:
        try:
            out = subprocess.run(  # noqa: S603 - the configured browser binary
                [path, "--version"], capture_output=True, text=True, timeout=20
            )
            version = out.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            version = None
    return {"path": path or "(Playwright の Chromium)", "version": version}


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 512 * 1024))
        data = handle.read().decode("utf-8", "replace")
    return "\n".join(data.splitlines()[-lines:]) + "\n"


async def build_bundle(app: web.Application) -> bytes:
    config = app[CONFIG]
    settings = app[SETTINGS]
    secrets = [s for key in SECRET_KEYS if (s := await settings.secret(key))]
    revision = await app[DB].read(
        lambda s: s.execute(text("SELECT version_num FROM alembic_version")).scalar()
    )
    about: dict[str, Any] = {
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "python": sys.version.split()[0],
        "os": platform.platform(),
        "browser": await asyncio.to_thread(_browser),
        "playwright": _package_version("playwright"),
        "database": {"kind": config.db_url.split(":", 1)[0], "revision": revision},
    }
    files: dict[str, str] = {
        "about.json": json.dumps(about, ensure_ascii=False, indent=2),
        "settings.json": json.dumps(await settings.public(), ensure_ascii=False, indent=2),
        "status.json": json.dumps(
            confirmations.for_support(await build_status(app)), ensure_ascii=False, indent=2
        ),
    }
    for log in sorted(config.log_dir.glob("*.log")) if config.log_dir.is_dir() else []:
        files[f"logs/{log.name}"] = await asyncio.to_thread(_tail, log)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            bundle.writestr(name, clean(content, secrets))
    return buffer.getvalue()


def bundle_name() -> str:
    return f"recore-support-{datetime.now().strftime('%Y%m%d-%H%M%S')}.zip"


async def support_bundle(request: web.Request) -> web.Response:
    data = await build_bundle(request.app)
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{bundle_name()}"'},
    )


def setup(app: web.Application) -> None:
    app.router.add_get(f"{API}/support-bundle", support_bundle)
