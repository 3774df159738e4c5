"""Fetch, check and (only where needed) normalise listing images, cached on disk by content.

Cache layout under ``cache_dir`` (everything is a small file or a blob; nothing is held in memory,
so memory does not grow with the batch):

    urls/<sha256(url)>.json     {"url", "sha256" (of the downloaded bytes), "fetched_at"}
    blobs/<ab>/<sha256>         downloaded bytes, and normalised results, by content hash
    checked/<sha256>.json       the check of a downloaded blob: the file to use, or the problem
    tmp/                        partial downloads and encodes (renamed into place when complete)

A URL is assumed to keep its content (ReCORE image URLs); pass ``max_age`` to refetch older entries.
Yahoo takes JPEG, GIF and PNG up to 5 MB (`yahoo_format`): such files are used byte for byte; any
other format (WebP, BMP, TIFF…) becomes JPEG, and a file over 5 MB is re-encoded as JPEG and, if
still too big, scaled down until it fits. Decoding and encoding run in threads (`asyncio.to_thread`)
bounded by a CPU semaphore; downloads are bounded by their own semaphore.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image, ImageOps, UnidentifiedImageError

from companion.listing import yahoo_format as yf
from companion.listing.validation import ListingError, make_error
from companion.resources import local_problem

log = logging.getLogger(__name__)

CHECK_VERSION = 1  # bump when the check or the normalisation changes: old results are redone
CHUNK = 256 * 1024
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class ImageProblem(Exception):
    """Why one image cannot be used; `ja`/`en` complete a sentence after the field label."""

    def __init__(self, rule: str, ja: str, en: str) -> None:
        super().__init__(en)
        self.rule, self.ja, self.en = rule, ja, en


@dataclass(frozen=True, slots=True)
class PreparedImage:
    url: str
    path: Path  # the file to put in the zip (in the cache)
    format: str  # JPEG | GIF | PNG
    ext: str  # jpg | gif | png
    size: int
    sha256: str  # of `path`
    source_sha256: str  # of the downloaded bytes
    converted: bool  # True when we re-encoded it


def _sha_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_json_atomic(path: str | Path, data: dict[str, Any]) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: str | Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class ImageStore:
    """Images by URL, fetched once, checked once, kept on disk. Use as an async context manager."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        *,
        concurrency: int = 8,
        cpu_concurrency: int | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        retry_delay: float = 0.3,
        max_download_bytes: int = 50 * 1024 * 1024,
        max_age: float | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.root = Path(cache_dir)
        self._root_str = str(self.root)
        for sub in ("urls", "blobs", "checked", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self.max_download_bytes = max_download_bytes
        self.max_age = max_age
        self._net = asyncio.Semaphore(concurrency)
        self._cpu = asyncio.Semaphore(cpu_concurrency or max(1, os.cpu_count() or 1))
        self._session = session
        self._own_session = session is None
        self._inflight: dict[str, asyncio.Task[PreparedImage]] = {}
        self.stats = {"fetched": 0, "cache_hits": 0, "retries": 0, "converted": 0}

    async def __aenter__(self) -> ImageStore:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    # --- paths --------------------------------------------------------------------------------
    def blob_path(self, sha: str) -> Path:
        return Path(self._blob_str(sha))

    # Plain strings for the per-image look-ups: pathlib's joins cost more than the reads do.
    def _blob_str(self, sha: str) -> str:
        return os.path.join(self._root_str, "blobs", sha[:2], sha)

    def _url_path(self, url: str) -> Path:
        return Path(self._url_str(url))

    def _url_str(self, url: str) -> str:
        name = f"{_sha_hex(url.encode('utf-8', 'surrogatepass'))}.json"
        return os.path.join(self._root_str, "urls", name)

    def _checked_path(self, sha: str) -> str:
        return os.path.join(self._root_str, "checked", f"{sha}.json")

    # --- public -------------------------------------------------------------------------------
    async def get(self, url: str) -> PreparedImage:
        """The checked image for `url`; raises `ImageProblem` when it cannot be used."""
        task = self._inflight.get(url)
        if task is None:  # one fetch per URL even when many items ask for it at once
            task = asyncio.ensure_future(self._get(url))
            self._inflight[url] = task
            task.add_done_callback(lambda _t: self._inflight.pop(url, None))
        return await asyncio.shield(task)

    async def prepare_listing(self, listing: Any) -> tuple[list[PreparedImage], list[ListingError]]:
        """All images of a listing (in order), or per-image errors (the listing then fails)."""
        urls = getattr(listing, "image_urls", None) or []
        urls = list(urls)[: yf.MAX_IMAGES] if isinstance(urls, list | tuple) else []
        # Images already fetched and checked come straight from the cache files, without a task
        # each; only the rest go through `get` (download, check, one fetch per URL).
        results: list[Any] = []
        missing: list[int] = []
        for n, url in enumerate(urls):
            try:
                hit: Any = self.cached(url) if isinstance(url, str) else None
            except Exception as exc:  # noqa: BLE001 - sorted out below, like the gathered ones
                hit = exc
            if hit is None:
                missing.append(n)
            results.append(hit)
        if missing:
            fetched = await asyncio.gather(
                *(self._get_any(urls[n]) for n in missing), return_exceptions=True
            )
            for n, result in zip(missing, fetched, strict=True):
                results[n] = result
        images: list[PreparedImage] = []
        errors: list[ListingError] = []
        for n, result in enumerate(results, start=1):
            if isinstance(result, PreparedImage):
                images.append(result)
            elif isinstance(result, ImageProblem):
                errors.append(make_error(listing, f"image_{n}", result.rule, result.ja, result.en))
            elif isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancellation and the like go up
                problem = local_problem(result)
                if problem is not None:
                    # a full disk or a permission is the PC's problem, never the item's: the
                    # work pauses instead of reporting the listing to ReCORE as failed
                    raise problem from result
                log.exception("image %s of %r failed", n, urls[n - 1], exc_info=result)
                errors.append(
                    make_error(
                        listing,
                        f"image_{n}",
                        "image_fetch_failed",
                        "を処理できませんでした",
                        f"could not be processed: {type(result).__name__}: {result}",
                    )
                )
        return images, errors

    async def _get_any(self, url: Any) -> PreparedImage:
        if not isinstance(url, str):
            raise ImageProblem("image_url_invalid", "のURLが不正です", f"not a URL: {url!r}")
        return await self.get(url)

    async def prepare_many(
        self, listings: Sequence[Any]
    ) -> list[tuple[list[PreparedImage], list[ListingError]]]:
        return list(await asyncio.gather(*(self.prepare_listing(x) for x in listings)))

    def prune(self, older_than: float, *, grace: float = 3600.0) -> dict[str, int]:
        """Forget URLs fetched more than `older_than` seconds ago and delete every blob and check
        record no remaining URL leads to. Files younger than `grace` seconds are kept whatever
        their state (a build running at the same time may just have written them). Blocking:
        run it in a thread; safe to run while builds go on.
        """
        now = time.time()
        removed = {"urls": 0, "blobs": 0, "checked": 0, "tmp": 0}
        keep: set[str] = set()
        for entry_path in (self.root / "urls").glob("*.json"):
            entry = _read_json(entry_path)
            fetched = float(entry.get("fetched_at", 0)) if entry else 0.0
            with contextlib.suppress(OSError):
                fetched = max(fetched, entry_path.stat().st_mtime)  # last used
            if entry and now - fetched <= older_than:
                keep.add(str(entry.get("sha256")))
            elif _older(entry_path, now, grace):
                entry_path.unlink(missing_ok=True)
                removed["urls"] += 1
        for sha in list(keep):
            record = _read_json(self._checked_path(sha))
            if record and record.get("ok"):
                keep.add(str(record.get("sha256")))
        for record_path in (self.root / "checked").glob("*.json"):
            if record_path.stem not in keep and _older(record_path, now, grace):
                record_path.unlink(missing_ok=True)
                removed["checked"] += 1
        for blob in (self.root / "blobs").glob("*/*"):
            if blob.name not in keep and _older(blob, now, grace):
                blob.unlink(missing_ok=True)
                removed["blobs"] += 1
        for part in (self.root / "tmp").iterdir():
            if _older(part, now, grace):
                part.unlink(missing_ok=True)
                removed["tmp"] += 1
        return removed

    # --- internals ----------------------------------------------------------------------------
    async def _get(self, url: str) -> PreparedImage:
        if not url.startswith(("http://", "https://")):
            raise ImageProblem(
                "image_url_invalid",
                f"のURLが不正です（{url[:60]}）",
                f"not an http(s) URL: {url!r}",
            )
        source_sha = self._cached_source(url)
        if source_sha is None:
            source_sha = await self._download(url)
            self.stats["fetched"] += 1
        else:
            self.stats["cache_hits"] += 1
        return await self._checked(url, source_sha)

    def cached(self, url: str) -> PreparedImage | None:
        """The image for `url` when it was fetched and checked before (what `get` would return),
        read from the cache files without a task or a thread; None when anything is missing (the
        caller then uses `get`). Raises `ImageProblem` when the cached check found it unusable."""
        if not url.startswith(("http://", "https://")):
            return None
        source_sha = self._cached_source(url)
        if source_sha is None:
            return None
        record = self._cached_record(source_sha)
        if record is None:
            return None
        self.stats["cache_hits"] += 1
        return self._prepared(url, source_sha, record)

    def _cached_source(self, url: str) -> str | None:
        url_path = self._url_str(url)
        entry = _read_json(url_path)
        if not entry or entry.get("url") != url or not isinstance(entry.get("sha256"), str):
            return None
        if (
            self.max_age is not None
            and time.time() - float(entry.get("fetched_at", 0)) > self.max_age
        ):
            return None
        if not os.path.isfile(self._blob_str(entry["sha256"])):
            return None
        # a hit counts as use: prune keeps what builds still need (its age is the mtime)
        with contextlib.suppress(OSError):
            os.utime(url_path)
        return entry["sha256"]

    async def _download(self, url: str) -> str:
        attempt = 0
        while True:
            try:
                async with self._net:
                    return await self._download_once(url)
            except _Retryable as exc:
                if attempt >= self.retries:
                    raise ImageProblem(
                        "image_fetch_failed",
                        f"を取得できませんでした（{exc.ja}、{attempt + 1}回試行）",
                        f"could not be fetched ({exc.en}, {attempt + 1} attempts): {url}",
                    ) from exc
                attempt += 1
                self.stats["retries"] += 1
                await asyncio.sleep(self.retry_delay * attempt)

    async def _download_once(self, url: str) -> str:
        tmp = self.root / "tmp" / f"{uuid.uuid4().hex}.part"
        try:
            try:
                async with self._get_session().get(url) as resp:
                    if resp.status in RETRY_STATUSES:
                        raise _Retryable(f"HTTP {resp.status}", f"HTTP {resp.status}")
                    if resp.status != 200:
                        raise ImageProblem(
                            "image_fetch_failed",
                            f"を取得できませんでした（HTTP {resp.status}）",
                            f"could not be fetched: HTTP {resp.status}: {url}",
                        )
                    digest = hashlib.sha256()
                    size = 0
                    with _open_write(tmp) as out:
                        async for chunk in resp.content.iter_chunked(CHUNK):
                            size += len(chunk)
                            if size > self.max_download_bytes:
                                mb = self.max_download_bytes // (1024 * 1024)
                                raise ImageProblem(
                                    "image_too_large",
                                    f"が大きすぎます（{mb}MBを超えています）",
                                    f"larger than {mb} MB: {url}",
                                )
                            digest.update(chunk)
                            out.write(chunk)
            except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
                raise _Retryable("タイムアウト", "timeout") from exc
            except aiohttp.ClientPayloadError as exc:
                raise _Retryable("通信が途中で切れました", f"payload error: {exc}") from exc
            except aiohttp.ClientConnectionError as exc:
                raise _Retryable("接続できません", f"connection error: {exc}") from exc
            except aiohttp.InvalidURL as exc:
                raise ImageProblem(
                    "image_url_invalid", "のURLが不正です", f"invalid URL: {url!r}"
                ) from exc
            except aiohttp.ClientError as exc:
                raise _Retryable("通信エラー", f"{type(exc).__name__}: {exc}") from exc
            sha = digest.hexdigest()
            blob = self.blob_path(sha)
            blob.parent.mkdir(exist_ok=True)
            os.replace(tmp, blob)
            _write_json_atomic(
                self._url_path(url), {"url": url, "sha256": sha, "fetched_at": time.time()}
            )
            return sha
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    async def _checked(self, url: str, source_sha: str) -> PreparedImage:
        record = self._cached_record(source_sha)
        if record is None:
            async with self._cpu:
                record = await asyncio.to_thread(self._check_blob, source_sha)
            if record.get("converted"):
                self.stats["converted"] += 1
        return self._prepared(url, source_sha, record)

    def _cached_record(self, source_sha: str) -> dict[str, Any] | None:
        """The stored check of a blob that is on disk, if it is current and its file is there."""
        record = _read_json(self._checked_path(source_sha))
        if (
            not record
            or record.get("version") != CHECK_VERSION
            or not self._record_ok(record, source_sha)
        ):
            return None
        return record

    def _prepared(self, url: str, source_sha: str, record: dict[str, Any]) -> PreparedImage:
        if not record["ok"]:
            raise ImageProblem(record["rule"], record["ja"], f"{record['en']}: {url}")
        return PreparedImage(
            url=url,
            path=self.blob_path(record["sha256"]),
            format=record["format"],
            ext=record["ext"],
            size=int(record["size"]),
            sha256=record["sha256"],
            source_sha256=source_sha,
            converted=bool(record["converted"]),
        )

    def _record_ok(self, record: dict[str, Any], source_sha: str) -> bool:
        # the source blob is on disk already (just fetched, or found by `_cached_source`)
        if not record.get("ok") or record.get("sha256") == source_sha:
            return True
        return os.path.isfile(self._blob_str(str(record.get("sha256"))))

    def _check_blob(self, source_sha: str) -> dict[str, Any]:
        """Runs in a thread: decode fully, keep as is or normalise, remember the result."""
        src = self.blob_path(source_sha)
        try:
            record = check_and_normalise(src, self.root / "tmp", yf.IMAGE_MAX_BYTES)
        except ImageProblem as problem:
            record = {"ok": False, "rule": problem.rule, "ja": problem.ja, "en": problem.en}
        if record["ok"] and record.get("tmp_path"):
            out = Path(record.pop("tmp_path"))
            sha = _file_sha(out)
            blob = self.blob_path(sha)
            blob.parent.mkdir(exist_ok=True)
            os.replace(out, blob)
            record["sha256"] = sha
        elif record["ok"]:
            record["sha256"] = source_sha
        record["version"] = CHECK_VERSION
        _write_json_atomic(self._checked_path(source_sha), record)
        return record


class _Retryable(Exception):
    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja, self.en = ja, en


def _older(path: Path, now: float, seconds: float) -> bool:
    try:
        return now - path.stat().st_mtime > seconds
    except OSError:
        return False


def _open_write(path: Path) -> Any:
    return path.open("wb")


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _broken(reason: str) -> ImageProblem:
    return ImageProblem(
        "image_broken",
        "が壊れているか、画像として読み込めません",
        f"broken or not an image ({reason})",
    )


def check_and_normalise(src: Path, tmp_dir: Path, max_bytes: int) -> dict[str, Any]:
    """Decode `src` completely (a truncated or corrupt file fails here, not on Yahoo's side).

    Returns {"ok": True, "format", "ext", "size", "converted", "tmp_path"?}: no tmp_path means
    "use src as it is". Raises ImageProblem for a file that cannot be used.
    """
    size = src.stat().st_size
    try:
        with Image.open(src) as im:
            fmt = im.format or "?"
            if fmt == "JPEG":
                # Decode at 1/8 scale: libjpeg still reads every byte (so truncation and corrupt
                # data are caught) at a fraction of the cost of a full decode.
                im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    except Image.DecompressionBombError as exc:
        raise ImageProblem(
            "image_too_large",
            "の画素数が多すぎます",
            f"too many pixels (decompression bomb guard): {exc}",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        if local_problem(exc) is not None:
            raise  # the PC's disk, not the picture
        raise _broken(f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "broken", not a crash
        raise _broken(f"{type(exc).__name__}: {exc}") from exc

    if fmt in yf.IMAGE_FORMATS and size <= max_bytes:
        return {
            "ok": True,
            "format": fmt,
            "ext": yf.IMAGE_FORMATS[fmt],
            "size": size,
            "converted": False,
        }

    out = tmp_dir / f"{uuid.uuid4().hex}.jpg"
    try:
        new_size = _encode_jpeg(src, out, max_bytes)
    except ImageProblem:
        out.unlink(missing_ok=True)
        raise
    except Exception as exc:  # noqa: BLE001 - an odd mode Pillow cannot convert is a bad image
        out.unlink(missing_ok=True)
        if local_problem(exc) is not None:
            raise  # no room to write the JPEG: the PC's problem, not the picture's
        raise _broken(f"cannot convert {fmt}: {type(exc).__name__}: {exc}") from exc
    log.info("image %s (%s, %d bytes) converted to JPEG (%d bytes)", src.name, fmt, size, new_size)
    return {
        "ok": True,
        "format": "JPEG",
        "ext": yf.IMAGE_FORMATS["JPEG"],
        "size": new_size,
        "converted": True,
        "from_format": fmt,
        "from_size": size,
        "tmp_path": str(out),
    }


def _flatten(im: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency goes onto white (how a product photo is shown)."""
    if im.mode in ("RGB", "L"):
        return im
    if im.mode == "CMYK":
        return im.convert("RGB")
    rgba = im.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _encode_jpeg(src: Path, out: Path, max_bytes: int) -> int:
    with Image.open(src) as opened:
        im = _flatten(ImageOps.exif_transpose(opened) or opened)  # keep the photo upright
        quality, scale = 90, 1.0
        for _ in range(12):
            img = im
            if scale < 1.0:
                w = max(1, int(im.width * scale))
                h = max(1, int(im.height * scale))
                img = im.resize((w, h), Image.Resampling.LANCZOS)
            img.save(out, "JPEG", quality=quality, optimize=True)
            size = out.stat().st_size
            if size <= max_bytes:
                return size
            if quality > 80:
                quality = 80
            else:  # bytes scale roughly with area: shrink the sides by the square root, with margin
                scale *= math.sqrt(max_bytes / size) * 0.95
    raise ImageProblem(
        "image_too_large",
        f"を{max_bytes // (1024 * 1024)}MB以内に縮小できませんでした",
        f"could not be reduced below {max_bytes} bytes",
    )
