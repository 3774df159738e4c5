"""Image checks on real images made with Pillow, and fetching from a real aiohttp server."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from companion.listing import yahoo_format as yf
from companion.listing.images import ImageProblem, ImageStore, check_and_normalise
from tests.listing.conftest import ImageServer, big_jpeg, image_bytes, make_listing, noise_image


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "PNG"])
def test_accepted_formats_are_kept_byte_for_byte(tmp_path: Path, fmt: str) -> None:
    src = _write(tmp_path, "a", image_bytes(fmt))
    record = check_and_normalise(src, tmp_path, yf.IMAGE_MAX_BYTES)
    assert record["ok"] and not record["converted"] and "tmp_path" not in record
    assert record["format"] == fmt and record["ext"] == yf.IMAGE_FORMATS[fmt]


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF"])
def test_other_formats_become_jpeg(tmp_path: Path, fmt: str) -> None:
    src = _write(tmp_path, "a", image_bytes(fmt, (80, 60)))
    record = check_and_normalise(src, tmp_path, yf.IMAGE_MAX_BYTES)
    assert record["ok"] and record["converted"] and record["from_format"] == fmt
    with Image.open(record["tmp_path"]) as im:
        assert im.format == "JPEG" and im.size == (80, 60) and im.mode == "RGB"
        # transparency lands on white, colour is kept
        r, g, b = im.getpixel((40, 30))
        assert r > 150 and g < 90 and b < 90


def test_oversized_jpeg_is_reencoded_under_5mb(tmp_path: Path) -> None:
    data = big_jpeg()
    src = _write(tmp_path, "big", data)
    record = check_and_normalise(src, tmp_path, yf.IMAGE_MAX_BYTES)
    out = Path(record["tmp_path"])
    assert record["converted"] and out.stat().st_size <= yf.IMAGE_MAX_BYTES < len(data)
    with Image.open(out) as im:
        im.load()
        assert im.format == "JPEG"


def test_oversized_png_is_scaled_down(tmp_path: Path) -> None:
    buf = io.BytesIO()
    noise_image((1400, 1400)).save(buf, "PNG")  # noise PNG: ~5.9 MB
    assert len(buf.getvalue()) > yf.IMAGE_MAX_BYTES
    src = _write(tmp_path, "big.png", buf.getvalue())
    # a small limit forces the resize path too, not just the re-encode
    record = check_and_normalise(src, tmp_path, 300 * 1024)
    out = Path(record["tmp_path"])
    assert out.stat().st_size <= 300 * 1024
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.width < 1400


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        image_bytes("JPEG", (200, 200), noise=True)[:3000],  # truncated JPEG
        image_bytes("PNG", (200, 200), noise=True)[:-2000],  # truncated PNG
        b"\x89PNG\r\n\x1a\n" + os.urandom(500),  # PNG magic, garbage after
        b"\xff\xd8\xff\xe0" + os.urandom(500),  # JPEG magic, garbage after
    ],
    ids=["empty", "text", "truncated-jpeg", "truncated-png", "png-garbage", "jpeg-garbage"],
)
def test_broken_files_are_reported(tmp_path: Path, data: bytes) -> None:
    src = _write(tmp_path, "bad", data)
    with pytest.raises(ImageProblem) as info:
        check_and_normalise(src, tmp_path, yf.IMAGE_MAX_BYTES)
    assert info.value.rule == "image_broken"
    assert "壊れている" in info.value.ja


# --- fetching from a real server ----------------------------------------------------------------
async def test_fetch_check_and_cache(image_server: ImageServer, tmp_path: Path) -> None:
    image_server.files = {
        "a.jpg": image_bytes("JPEG"),
        "b.webp": image_bytes("WEBP"),
        "broken.jpg": b"\xff\xd8\xff\xe0garbage",
    }
    item = make_listing(
        1,
        image_urls=[
            image_server.url("a.jpg"),
            image_server.url("b.webp"),
            image_server.url("broken.jpg"),
            image_server.url("missing.jpg"),
        ],
    )
    async with ImageStore(tmp_path / "cache") as store:
        images, errors = await store.prepare_listing(item)
    assert [img.format for img in images] == ["JPEG", "JPEG"]
    assert images[0].path.read_bytes() == image_server.files["a.jpg"]  # untouched
    assert images[1].converted and images[1].ext == "jpg"
    by_field = {e.field: e for e in errors}
    assert by_field["image_3"].rule == "image_broken"
    assert by_field["image_3"].message.startswith("管理番号 A-0001: 画像3が壊れている")
    assert by_field["image_4"].rule == "image_fetch_failed"
    assert "HTTP 404" in by_field["image_4"].message
    assert image_server.hits["img/a.jpg"] == 1

    # A new store on the same cache dir: every readable image comes from disk, no request.
    before = sum(image_server.hits.values())
    async with ImageStore(tmp_path / "cache") as store:
        images2, errors2 = await store.prepare_listing(item)
        assert store.stats["cache_hits"] == 3  # a, b, and the broken one (its check is cached)
    assert [i.sha256 for i in images2] == [i.sha256 for i in images]
    assert {e.field for e in errors2} == {"image_3", "image_4"}
    assert sum(image_server.hits.values()) == before + 1  # only the 404 is asked again


async def test_fetches_run_concurrently_within_the_bound(
    image_server: ImageServer, tmp_path: Path
) -> None:
    image_server.delay = 0.05
    image_server.files = {f"{i}.jpg": image_bytes("JPEG", (16 + i, 16)) for i in range(12)}
    items = [
        make_listing(
            n, image_urls=[image_server.url(f"{i}.jpg") for i in range(12)][n * 4 - 4 : n * 4]
        )
        for n in (1, 2, 3)
    ]
    async with ImageStore(tmp_path / "cache", concurrency=3) as store:
        results = await store.prepare_many(items)
    assert all(not errs and len(imgs) == 4 for imgs, errs in results)
    assert 2 <= image_server.max_in_flight <= 3


async def test_same_url_in_many_items_is_fetched_once(
    image_server: ImageServer, tmp_path: Path
) -> None:
    image_server.delay = 0.02
    image_server.files = {"shared.jpg": image_bytes("JPEG")}
    items = [make_listing(n, image_urls=[image_server.url("shared.jpg")] * 3) for n in range(1, 6)]
    async with ImageStore(tmp_path / "cache") as store:
        results = await store.prepare_many(items)
    assert all(len(imgs) == 3 and not errs for imgs, errs in results)
    assert image_server.hits["img/shared.jpg"] == 1


async def test_retries_on_5xx_then_succeeds(image_server: ImageServer, tmp_path: Path) -> None:
    image_server.files = {"a.jpg": image_bytes("JPEG")}
    image_server.flaky_failures = 2
    async with ImageStore(tmp_path / "cache", retries=2, retry_delay=0.01) as store:
        image = await store.get(image_server.url("a.jpg", "flaky"))
        assert store.stats["retries"] == 2
    assert image.format == "JPEG" and image_server.hits["flaky/a.jpg"] == 3


async def test_gives_up_after_retries(image_server: ImageServer, tmp_path: Path) -> None:
    image_server.files = {"a.jpg": image_bytes("JPEG")}
    image_server.flaky_failures = 10
    async with ImageStore(tmp_path / "cache", retries=2, retry_delay=0.01) as store:
        with pytest.raises(ImageProblem) as info:
            await store.get(image_server.url("a.jpg", "flaky"))
    assert info.value.rule == "image_fetch_failed" and "HTTP 503" in info.value.ja
    assert "3回" in info.value.ja and image_server.hits["flaky/a.jpg"] == 3


async def test_timeout_is_retried_and_reported(image_server: ImageServer, tmp_path: Path) -> None:
    image_server.files = {"a.jpg": image_bytes("JPEG")}
    image_server.slow_seconds = 2.0
    async with ImageStore(tmp_path / "cache", timeout=0.2, retries=1, retry_delay=0.01) as store:
        with pytest.raises(ImageProblem) as info:
            await store.get(image_server.url("a.jpg", "slow"))
    assert "タイムアウト" in info.value.ja and image_server.hits["slow/a.jpg"] == 2


async def test_4xx_is_not_retried(image_server: ImageServer, tmp_path: Path) -> None:
    async with ImageStore(tmp_path / "cache", retries=2, retry_delay=0.01) as store:
        with pytest.raises(ImageProblem):
            await store.get(image_server.url("403", "status"))
    assert image_server.hits["status/403"] == 1


async def test_download_size_cap(image_server: ImageServer, tmp_path: Path) -> None:
    image_server.files = {"big.jpg": image_bytes("JPEG", (400, 400), noise=True)}
    async with ImageStore(tmp_path / "cache", max_download_bytes=10_000) as store:
        with pytest.raises(ImageProblem) as info:
            await store.get(image_server.url("big.jpg"))
    assert info.value.rule == "image_too_large"
    assert not list((tmp_path / "cache" / "tmp").iterdir())  # the partial download is gone


async def test_unreachable_host_is_reported(tmp_path: Path) -> None:
    async with ImageStore(tmp_path / "cache", retries=0, timeout=2) as store:
        _, errors = await store.prepare_listing(
            make_listing(1, image_urls=["http://127.0.0.1:9/x.jpg"])
        )
    assert [e.rule for e in errors] == ["image_fetch_failed"]
    assert "接続できません" in errors[0].message


async def test_concurrent_checks_leave_the_loop_free(
    image_server: ImageServer, tmp_path: Path
) -> None:
    """The Pillow work runs in threads: a ticker keeps ticking while a big image is re-encoded."""
    image_server.files = {"big.jpg": big_jpeg()}
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    async with ImageStore(tmp_path / "cache") as store:
        image = await store.get(image_server.url("big.jpg"))
    task.cancel()
    assert image.converted and image.size <= yf.IMAGE_MAX_BYTES
    assert ticks > 5


async def test_prune_drops_old_urls_and_unreferenced_blobs(
    image_server: ImageServer, tmp_path: Path
) -> None:
    image_server.files = {"old.webp": image_bytes("WEBP"), "new.jpg": image_bytes("JPEG")}
    async with ImageStore(tmp_path / "cache") as store:
        old = await store.get(image_server.url("old.webp"))
        new = await store.get(image_server.url("new.jpg"))
        # age both URL entries (as if fetched and last used 40 days ago) ...
        long_ago = time.time() - 40 * 86400
        for name in ("old.webp", "new.jpg"):
            entry = store._url_path(image_server.url(name))
            data = json.loads(entry.read_text())
            data["fetched_at"] -= 40 * 86400
            entry.write_text(json.dumps(data))
            os.utime(entry, (long_ago, long_ago))
        # ... then a build uses new.jpg again (a cache hit): that counts as use
        hits_new = image_server.hits["img/new.jpg"]
        await store.get(image_server.url("new.jpg"))
        assert image_server.hits["img/new.jpg"] == hits_new
        removed = store.prune(older_than=30 * 86400, grace=0)
        assert removed["urls"] == 1 and removed["blobs"] == 2 and removed["checked"] == 1
        assert not old.path.exists() and not store.blob_path(old.source_sha256).exists()
        assert new.path.exists()
        hits = image_server.hits["img/old.webp"]
        again = await store.get(image_server.url("old.webp"))  # fetched anew
        assert image_server.hits["img/old.webp"] == hits + 1 and again.path.exists()


async def test_cached_answers_from_disk_what_get_answered(
    image_server: ImageServer, tmp_path: Path
) -> None:
    image_server.files = {
        "a.jpg": image_bytes("JPEG"),
        "b.webp": image_bytes("WEBP"),
        "broken.jpg": b"\xff\xd8\xff\xe0 not an image",
    }
    url = image_server.url
    async with ImageStore(tmp_path / "cache") as store:
        assert store.cached(url("a.jpg")) is None  # never fetched: the caller has to `get` it
        assert store.cached("ftp://example.com/a.jpg") is None  # `get` says why it is refused
        a = await store.get(url("a.jpg"))
        b = await store.get(url("b.webp"))
        with pytest.raises(ImageProblem):
            await store.get(url("broken.jpg"))
    requests = sum(image_server.hits.values())

    async with ImageStore(tmp_path / "cache") as store:
        assert store.cached(url("a.jpg")) == a
        assert store.cached(url("b.webp")) == b  # the converted JPEG, not the WebP
        with pytest.raises(ImageProblem) as broken:
            store.cached(url("broken.jpg"))
        assert broken.value.rule == "image_broken"
        assert store.stats["cache_hits"] == 3
        # a blob gone from disk is no hit: `get` fetches or converts it again
        b.path.unlink()
        assert store.cached(url("b.webp")) is None
        a.path.unlink()
        assert store.cached(url("a.jpg")) is None
        assert await store.get(url("b.webp")) == b
    assert sum(image_server.hits.values()) == requests  # the WebP was converted again from disk
