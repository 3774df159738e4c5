"""競りナビ 一括アップロード (`/serinavi/upload`): upload the zip as staff would, read the answer.

The page facts are `scrapers.site.UPLOAD`. The store's answer is parsed by a pure function
over the HTML (`parse_upload_result`), tested on saved pages. Remember the page's known fault: it
can say 「通信エラー」 although the upload went through and it never de-duplicates 管理番号, so a
caller must read the item list before any retry (`UploadResult.maybe_listed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Page
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from scrapers.site import UPLOAD


@dataclass(frozen=True)
class UploadError:
    row: int | None
    column: int | None
    field: str
    management_number: str
    message: str


@dataclass(frozen=True)
class UploadResult:
    accepted: bool  # the store said 受け付け
    message: str
    listed: dict[str, str] = field(default_factory=dict)  # 管理番号 → auction id
    errors: list[UploadError] = field(default_factory=list)
    # 「通信エラー」: the rows may have been listed anyway; check the item list before retrying
    maybe_listed: bool = False


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def parse_upload_result(html: str) -> UploadResult:
    """The answer of the upload page, as data. Raises LookupError when it is not that page."""
    tree = HTMLParser(html)
    box = tree.css_first(UPLOAD.result)
    if box is None:
        raise LookupError(f"upload result {UPLOAD.result} not on the page")
    first = box.css_first("p")
    message = first.text(strip=True) if first is not None else box.text(strip=True)
    listed: dict[str, str] = {}
    for row in box.css(f"{UPLOAD.accepted_table} tbody tr"):
        cells = [c.text(strip=True) for c in row.css("td")]
        if len(cells) >= 3:
            listed[cells[1]] = cells[2]
    errors = []
    for row in box.css(f"{UPLOAD.errors_table} tbody tr"):
        cells = [c.text(strip=True) for c in row.css("td")]
        if len(cells) >= 5:
            errors.append(
                UploadError(
                    _int_or_none(cells[0]), _int_or_none(cells[1]), cells[2], cells[3], cells[4]
                )
            )
    return UploadResult(
        accepted=UPLOAD.accepted_text in message,
        message=message,
        listed=listed,
        errors=errors,
        maybe_listed=UPLOAD.comm_error_text in message,
    )


class UploadPage:
    """`UploadPage(page, urls).upload(zip_path)`: one bulk upload through the store's form."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url
        self.file_input = page.locator(UPLOAD.file_input)
        self.submit_link = page.get_by_role("link", name=UPLOAD.submit_text)
        self.result = page.locator(UPLOAD.result)

    async def upload(self, zip_path: Path) -> UploadResult:
        await self.file_input.set_input_files(str(zip_path))
        async with self.page.expect_navigation(wait_until="domcontentloaded"):
            await self.submit_link.click()
        await self.result.wait_for()
        return parse_upload_result(await self.page.content())
