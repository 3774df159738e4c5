"""Cross-check with the Yahoo sandbox's CSV checks, written independently (sandbox/yahoo/csvspec.py):
what our validation lets through, in the file our writer and zipper make, the stand-in accepts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from companion.domain import Listing
from companion.listing import yahoo_format as yf
from companion.listing.images import ImageStore
from companion.listing.validation import validate_listing
from companion.listing.zipper import build_upload_zip
from sandbox.yahoo import csvspec
from tests.listing.conftest import ImageServer, image_bytes, make_listing
from tests.listing.test_yahoo_format import valid_listings


def test_same_columns() -> None:
    assert tuple(yf.SERINAVI_53.headers) == csvspec.COLUMNS


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=valid_listings(), images=st.integers(1, 10))
def test_what_we_accept_the_sandbox_accepts(item: Listing, images: int) -> None:
    assume(validate_listing(item) == [])
    names = [yf.image_file_name(item.management_number or "", n) for n in range(1, images + 1)]
    row = yf.SERINAVI_53.row(item, yf.RowContext(image_names=names))
    assert csvspec.validate_values(dict(zip(csvspec.COLUMNS, row, strict=True))) == []


async def test_our_zip_passes_the_sandbox_upload(image_server: ImageServer, tmp_path: Path) -> None:
    image_server.files = {
        "a.jpg": image_bytes("JPEG"),
        "b.png": image_bytes("PNG"),
        "c.gif": image_bytes("GIF"),
        "d.webp": image_bytes("WEBP"),
    }
    urls = [image_server.url(n) for n in image_server.files]
    items = [make_listing(i, image_urls=urls[: 1 + i % 4]) for i in range(1, 9)]
    out = tmp_path / yf.upload_zip_name(date(2026, 11, 22), 7)
    async with ImageStore(tmp_path / "cache") as store:
        result = await build_upload_zip(items, store, out)
    assert result.errors == {}
    parsed = csvspec.parse_upload(out.name, out.read_bytes())
    assert parsed.file_error is None
    assert [e.as_dict() for e in parsed.errors] == []
    assert [r.values["管理番号"] for r in parsed.rows] == [x.management_number for x in items]
    assert [len(r.images) for r in parsed.rows] == [1 + i % 4 for i in range(1, 9)]
