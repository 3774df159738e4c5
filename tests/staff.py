"""What staff do on the Yahoo store by hand, done in real Chromium through the connector's own
page objects: log in, upload the zip at 一括アップロード. Used by tests of both store worlds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapers.facts import FACTS, StoreUrls
from scrapers.listing import UploadPage
from scrapers.parse import UploadResult
from scrapers.session import BrowserSession, Credentials


def account_credentials(account: dict[str, Any]) -> Any:
    async def credentials() -> Credentials:
        return Credentials(
            account["yahoo_id"],
            account["password"],
            account["business_id"],
            account["business_password"],
        )

    return credentials


async def upload_zip(
    yahoo_url: str, account: dict[str, Any], zip_path: Path, profile: Path
) -> UploadResult:
    """Log in (ID, password, business ID, whatever the store asks) and upload the file."""
    session = BrowserSession(
        profile, StoreUrls(FACTS, yahoo_url, account["store_id"]), account_credentials(account)
    )
    try:
        async with session.use():
            page = await session.new_page()
            return await UploadPage(page, session).upload(zip_path)
    finally:
        await session.close()
