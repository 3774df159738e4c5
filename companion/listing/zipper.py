"""Builds the 競りナビ bulk-upload zip: the CSV plus every image, flat, in one streamed pass.

- validation first (`validate_batch`): an item that breaks a rule stays out, with its errors;
- images through the `ImageStore` (fetched concurrently, checked, cached on disk); an image that
  fails makes just its item fail — the rest go on;
- the zip is written in a thread, straight to a temp file in the target directory, image files
  copied in chunks (ZIP_STORED: JPEG/GIF/PNG are compressed already; the CSV is deflated), then
  fsync'ed and renamed over `out_path` (`os.replace`), so a reader never sees half a zip.
Nothing in here holds more than one chunk of one image in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
import zipfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.listing import yahoo_format as yf
from companion.listing.images import ImageStore
from companion.listing.validation import ListingError, validate_batch

COPY_CHUNK = 1024 * 1024


@dataclass
class ZipResult:
    path: Path | None  # None when no item could go in (no file is written then)
    csv_name: str
    included: list[Any] = field(default_factory=list)  # the listings in the zip, input order
    errors: dict[Any, list[ListingError]] = field(default_factory=dict)  # failed items only
    image_count: int = 0
    size_bytes: int = 0
    # wall-clock seconds per stage (validation, images, csv, copy, finish): where a build's time goes
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def included_ids(self) -> list[Any]:
        return [getattr(x, "ec_inventory_id", None) for x in self.included]

    def all_errors(self) -> list[ListingError]:
        return [e for errs in self.errors.values() for e in errs]


@dataclass(frozen=True, slots=True)
class _Entry:
    listing: Any
    images: tuple[tuple[str, str, int], ...]  # (name in zip, file path, size): compact on purpose


def csv_name_for(zip_path: Path) -> str:
    """The CSV inside carries the zip's (ASCII) stem: yahoo_upload_20261122_0001.csv."""
    return f"{zip_path.stem}.csv"


async def build_upload_zip(
    listings: Sequence[Any],
    image_store: ImageStore,
    out_path: str | os.PathLike[str],
    *,
    already_listed: Collection[str] = (),
    profile: yf.Profile = yf.DEFAULT_PROFILE,
    on_progress: Callable[[int, int], None] | None = None,
    fsync: bool = True,
) -> ZipResult:
    """Validate, fetch images, write the zip. Per-item problems end up in `ZipResult.errors`."""
    out = Path(out_path)
    result = ZipResult(path=None, csv_name=csv_name_for(out))
    started = time.perf_counter()
    checked = validate_batch(listings, already_listed)
    valid: list[Any] = []
    for item in listings:
        key = _key(item)
        errs = checked.get(key, [])
        if errs:
            result.errors.setdefault(key, [])
            for e in errs:  # validate_batch merges duplicates of one id: keep each error once
                if e not in result.errors[key]:
                    result.errors[key].append(e)
        else:
            valid.append(item)
    result.timings["validation"] = time.perf_counter() - started

    started = time.perf_counter()
    total, done = len(valid), 0
    entries: list[_Entry] = []
    pending = iter(valid)

    async def worker() -> None:
        # A fixed number of workers pulls items: tasks in flight (and memory) do not grow with
        # the batch; the image store's semaphore still bounds the downloads underneath.
        nonlocal done
        for item in pending:
            images, errs = await image_store.prepare_listing(item)
            # a listing whose images are all cached never suspends: give the loop a turn so the
            # companion's API answers while a large batch is looked up
            await asyncio.sleep(0)
            done += 1
            if on_progress is not None:
                on_progress(done, total)
            if errs:
                result.errors.setdefault(_key(item), []).extend(errs)
                continue
            number = item.management_number
            entries.append(
                _Entry(
                    item,
                    tuple(
                        (yf.image_file_name(number, n, img.ext), str(img.path), img.size)
                        for n, img in enumerate(images, start=1)
                    ),
                )
            )

    workers = max(1, min(len(valid), max(2, image_store.concurrency * 2)))
    await asyncio.gather(*(worker() for _ in range(workers)))
    order = {id(item): i for i, item in enumerate(valid)}
    entries.sort(key=lambda e: order[id(e.listing)])  # the CSV follows the input order
    result.timings["images"] = time.perf_counter() - started

    if not entries:
        return result
    result.image_count = sum(len(e.images) for e in entries)
    result.size_bytes = await asyncio.to_thread(
        _write_zip_atomic, out, result.csv_name, entries, profile, fsync, result.timings
    )
    result.path = out
    result.included = [e.listing for e in entries]
    return result


def _key(item: Any) -> Any:
    key = getattr(item, "ec_inventory_id", None)
    try:
        hash(key)
    except TypeError:
        return repr(key)
    return key


def _rows(entries: Sequence[_Entry]) -> Iterator[tuple[Any, yf.RowContext]]:
    for entry in entries:
        yield entry.listing, yf.RowContext(image_names=[name for name, _, _ in entry.images])


def _zipinfo(name: str, date_time: tuple[int, ...], compress_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=date_time)  # type: ignore[arg-type]
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16  # rw-r--r-- when unpacked on Unix
    return info


def _write_zip_atomic(
    out: Path,
    csv_name: str,
    entries: Sequence[_Entry],
    profile: yf.Profile,
    fsync: bool,
    timings: dict[str, float] | None = None,
) -> int:
    """Blocking: runs in a thread. Returns the size of the finished zip; the seconds each stage
    took go into `timings` (csv, copy, finish)."""
    timings = {} if timings is None else timings
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    date_time = time.localtime()[:6]
    # one buffer for every image, read into straight from the file (unbuffered): no new 1 MB
    # object and no extra copy per image
    chunk = bytearray(COPY_CHUNK)
    chunk_view = memoryview(chunk)
    try:
        with tmp.open("wb") as raw:
            with zipfile.ZipFile(raw, "w", allowZip64=True) as zf:
                with zf.open(_zipinfo(csv_name, date_time, zipfile.ZIP_DEFLATED), "w") as dest:
                    yf.write_csv(dest, _rows(entries), profile)
                timings["csv"] = time.perf_counter() - started
                started = time.perf_counter()
                for entry in entries:
                    for name, path, size in entry.images:
                        info = _zipinfo(name, date_time, zipfile.ZIP_STORED)
                        info.file_size = size  # lets zipfile pick zip64 headers up front
                        with open(path, "rb", buffering=0) as src, zf.open(info, "w") as dest:
                            while count := src.readinto(chunk):
                                dest.write(chunk_view[:count])
                timings["copy"] = time.perf_counter() - started
                started = time.perf_counter()
            raw.flush()
            if fsync:
                os.fsync(raw.fileno())
            size = raw.tell()
        os.replace(tmp, out)
        timings["finish"] = time.perf_counter() - started
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return size
