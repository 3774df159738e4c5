"""The upload zip, end to end: validation, real image fetches, the zip opened and checked."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from companion.listing import yahoo_format as yf
from companion.listing.images import ImageStore
from companion.listing.zipper import COPY_CHUNK, _Entry, _write_zip_atomic, build_upload_zip
from tests.listing.conftest import ImageServer, image_bytes, make_listing


async def test_zip_holds_csv_and_images_of_the_good_items(
    image_server: ImageServer, tmp_path: Path
) -> None:
    image_server.files = {
        "1a.jpg": image_bytes("JPEG", (30, 20)),
        "1b.png": image_bytes("PNG", (30, 20)),
        "2a.webp": image_bytes("WEBP", (30, 20)),
        "3a.jpg": image_bytes("JPEG", (31, 20)),
        "bad.jpg": b"\xff\xd8\xff\xe0 not really",
    }
    url = image_server.url
    items = [
        make_listing(1, image_urls=[url("1a.jpg"), url("1b.png")]),
        make_listing(2, image_urls=[url("2a.webp")], title='タイトル, "引用"'),
        make_listing(3, image_urls=[url("3a.jpg"), url("bad.jpg")]),  # image 2 broken
        make_listing(4, image_urls=[url("1a.jpg")], start_price=0),  # invalid
        make_listing(5, image_urls=[url("1a.jpg")], management_number="A-0001"),  # duplicate
    ]
    out = tmp_path / "out" / yf.upload_zip_name(date(2026, 11, 22), 1)
    progress: list[tuple[int, int]] = []
    async with ImageStore(tmp_path / "cache") as store:
        result = await build_upload_zip(
            items, store, out, on_progress=lambda d, t: progress.append((d, t))
        )

    assert result.path == out and out.is_file()
    assert result.included_ids == [2]
    assert set(result.errors) == {1, 3, 4, 5}
    assert [e.rule for e in result.errors[3]] == ["image_broken"]
    assert result.errors[3][0].field == "image_2"
    assert [e.rule for e in result.errors[4]] == ["start_price_too_low"]
    assert {e.rule for e in result.errors[1]} == {"duplicate_management_number"}
    assert progress[-1] == (2, 2)  # items 2 and 3 reached the image stage
    assert result.size_bytes == out.stat().st_size
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp file left

    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names == ["yahoo_upload_20261122_0001.csv", "A-0002_1.jpg"]
        assert all(n.isascii() for n in names)
        infos = {i.filename: i for i in zf.infolist()}
        assert infos[names[0]].compress_type == zipfile.ZIP_DEFLATED
        assert infos["A-0002_1.jpg"].compress_type == zipfile.ZIP_STORED
        rows = yf.read_csv(zf.read(names[0]))
        assert zf.read(names[0]).startswith("管理番号,".encode("cp932"))
        with zf.open("A-0002_1.jpg") as f:
            assert f.read(3) == b"\xff\xd8\xff"  # WebP came out as JPEG
    assert len(rows) == 1
    assert rows[0]["管理番号"] == "A-0002" and rows[0]["タイトル"] == 'タイトル, "引用"'
    assert rows[0]["画像1"] == "A-0002_1.jpg" and rows[0]["画像2"] == ""


async def test_many_items_images_are_byte_identical(
    image_server: ImageServer, tmp_path: Path
) -> None:
    image_server.files = {
        f"{i}.{ext}": image_bytes(fmt, (20 + i, 20))
        for i in range(10)
        for fmt, ext in [("JPEG", "jpg"), ("GIF", "gif")]
    }
    items = [
        make_listing(
            n,
            image_urls=[
                image_server.url(f"{i}.{'gif' if i % 3 == 0 else 'jpg'}") for i in range(10)
            ],
        )
        for n in range(1, 9)
    ]
    out = tmp_path / "batch.zip"
    async with ImageStore(tmp_path / "cache") as store:
        result = await build_upload_zip(items, store, out)
    assert result.errors == {} and len(result.included) == 8 and result.image_count == 80
    with zipfile.ZipFile(out) as zf:
        rows = yf.read_csv(zf.read("batch.csv"))
        for row, item in zip(rows, items, strict=True):
            for n in range(1, 11):
                name = row[f"画像{n}"]
                ext = "gif" if (n - 1) % 3 == 0 else "jpg"
                assert name == f"{item.management_number}_{n}.{ext}"
                assert zf.read(name) == image_server.files[f"{n - 1}.{ext}"]
        assert len(zf.namelist()) == 81


async def test_nothing_valid_writes_no_file(tmp_path: Path) -> None:
    out = tmp_path / "x.zip"
    async with ImageStore(tmp_path / "cache") as store:
        result = await build_upload_zip([make_listing(1, title=None)], store, out)
    assert result.path is None and not out.exists() and list(result.errors) == [1]


async def test_existing_zip_is_replaced_whole(image_server: ImageServer, tmp_path: Path) -> None:
    image_server.files = {"a.jpg": image_bytes("JPEG")}
    out = tmp_path / "x.zip"
    out.write_bytes(b"old")
    async with ImageStore(tmp_path / "cache") as store:
        await build_upload_zip(
            [make_listing(1, image_urls=[image_server.url("a.jpg")])], store, out
        )
    assert zipfile.is_zipfile(out)


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    out = tmp_path / "x.zip"
    out.write_bytes(b"old")
    entries = [_Entry(make_listing(1), (("A-0001_1.jpg", str(tmp_path / "missing"), 10),))]
    with pytest.raises(FileNotFoundError):
        _write_zip_atomic(out, "x.csv", entries, yf.DEFAULT_PROFILE, fsync=False)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.zip"]


async def test_a_build_from_the_cache_holds_what_the_first_build_held(
    image_server: ImageServer, tmp_path: Path
) -> None:
    image_server.files = {
        "a.jpg": image_bytes("JPEG", (30, 20)),
        "b.png": image_bytes("PNG", (30, 20)),
        "c.webp": image_bytes("WEBP", (30, 20)),
        "d.png": image_bytes("PNG", (700, 600), noise=True),  # more than one copy chunk
    }
    assert len(image_server.files["d.png"]) > COPY_CHUNK
    url = image_server.url
    items = [
        make_listing(1, image_urls=[url("a.jpg"), url("b.png")]),
        make_listing(2, image_urls=[url("c.webp"), url("a.jpg"), url("d.png")]),
    ]
    zips = []
    for n in (1, 2):  # the first build fetches and checks, the second finds everything cached
        async with ImageStore(tmp_path / "cache") as store:
            result = await build_upload_zip(items, store, tmp_path / str(n) / "batch.zip")
        assert result.included_ids == [1, 2] and result.errors == {}
        assert set(result.timings) == {"validation", "images", "csv", "copy", "finish"}
        assert result.path is not None
        zips.append(zipfile.ZipFile(result.path))
        requests = sum(image_server.hits.values())
    assert store.stats["fetched"] == 0 and requests == 4  # the second build asked for nothing
    first, second = zips
    assert first.namelist() == second.namelist()
    assert first.read("batch.csv") == second.read("batch.csv")
    for a, b in zip(first.infolist(), second.infolist(), strict=True):
        assert (a.filename, a.CRC, a.file_size, a.compress_type, a.external_attr) == (
            b.filename,
            b.CRC,
            b.file_size,
            b.compress_type,
            b.external_attr,
        )
        assert first.read(a) == second.read(b)
    assert second.read("A-0002_3.png") == image_server.files["d.png"]
    for zf in zips:
        zf.close()
