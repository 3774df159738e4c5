"""Benchmark: the upload zip builder against Info-ZIP's `zip -0` on the same files, same run.

    .venv/bin/python benchmarks/zip_bench.py [--listings 500] [--images 10] [--repeat 3]

What it does (and what it does not):
1. makes listings × images distinct noise JPEGs (~100 KB each, they do not compress) in a temp dir;
2. serves them from a local aiohttp server on 127.0.0.1 and fetches + checks them once into the
   image cache (the warm-up; its time is printed but is NOT part of the comparison);
3. times `build_upload_zip` from that warm cache (validation + cache look-ups + CSV + streaming
   the images into the zip), in a child process, measured inside the child around the call (the
   interpreter's start-up and imports are not counted), against `zip -0 -q -j` of the same image
   files plus the same CSV, timed as a whole process. Both without fsync (zip does not fsync);
   the builder's default (with fsync) is timed too and printed. Median of --repeat runs each,
   os.sync() before every timed run. The timings are disk-bound: on a busy machine they vary.
   Where the builder's time goes is printed from its own stage timers (`ZipResult.timings`:
   validation, image cache look-ups, CSV, copying the images, finishing the file);
4. peak RSS (VmHWM) of the builder in a fresh child process at 100 and at 1,000 listings (the
   1,000-listing run re-uses the images round-robin, so the zip is 1,000 × images files).
Last line: ``zip_ratio=<ours/zip> rss_growth_mb=<MB>``. Targets: ratio ≤ 1.25, growth ≤ 20 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from companion.domain import Listing  # noqa: E402
from companion.listing import yahoo_format as yf  # noqa: E402
from companion.listing.images import ImageStore  # noqa: E402
from companion.listing.zipper import build_upload_zip  # noqa: E402

ZIP = "/usr/bin/zip"
# build_upload_zip's stages (ZipResult.timings), timed inside the real code path
STAGES = {
    "validation": "validate_batch (every rule of every listing)",
    "images": "image cache look-ups (URL entry, check record, blob) per listing",
    "csv": "CSV rows encoded (cp932) and deflated into the zip",
    "copy": "image files read and stored in the zip (headers, CRC, data)",
    "finish": "central directory, flush, rename",
    "rest": "outside the stages: the hand-off to the writer thread, the event loop's turns",
}


def make_images(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img_{i:05d}.jpg"
        im = Image.frombytes("RGB", (340, 330), os.urandom(340 * 330 * 3))
        im.save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def make_listings(count: int, per_item: int, base_url: str, pool: int) -> list[Listing]:
    """Listing i uses images i*per_item … (mod pool): above the pool size the images repeat."""
    items = []
    for i in range(count):
        urls = [f"{base_url}/img/img_{(i * per_item + n) % pool:05d}.jpg" for n in range(per_item)]
        items.append(
            Listing(
                ec_inventory_id=i + 1,
                management_number=f"B-{i + 1:05d}",
                title=f"ベンチマーク商品 {i + 1} 動作品 美品",
                description="<p>説明文です。<br>付属品あり</p>",
                category_id="2084207680",
                start_price=1000 + i,
                buyout_price=0,
                quantity=1,
                duration_days=7,
                end_hour=22,
                prefecture="東京都",
                city="豊島区",
                shipping_payer="落札者",
                condition="目立った傷や汚れなし",
                image_urls=urls,
                sales_channel="併売",
                delivery_group=1,
                lead_time_code="1",
            )
        )
    return items


def vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def child(args: argparse.Namespace) -> None:
    """One build in this (fresh) process; prints JSON with the time and the peak RSS."""
    items = make_listings(args.child, args.images, args.base_url, args.pool)
    out = Path(args.out)
    async with ImageStore(args.cache) as store:
        start = time.perf_counter()
        result = await build_upload_zip(items, store, out, fsync=args.fsync)
        elapsed = time.perf_counter() - start
        stats = dict(store.stats)
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "vm_hwm_kb": vm_hwm_kb(),
                "included": len(result.included),
                "errors": sum(len(v) for v in result.errors.values()),
                "first_error": next((e.message_en for e in result.all_errors()), None),
                "bytes": result.size_bytes,
                "stats": stats,
                "timings": result.timings,
            }
        )
    )


async def run_child(
    n: int, args: argparse.Namespace, base_url: str, cache: Path, out: Path, fsync: bool
) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        str(n),
        "--images",
        str(args.images),
        "--pool",
        str(args.listings * args.images),
        "--base-url",
        base_url,
        "--cache",
        str(cache),
        "--out",
        str(out),
    ] + (["--fsync"] if fsync else [])
    # like run_zip: no earlier output to replace (freeing its pages is not part of the build)
    await asyncio.to_thread(out.unlink, missing_ok=True)
    # The image server lives in this event loop: wait without blocking it.
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    stdout, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"child failed: {cmd}")
    data = json.loads(stdout.decode().strip().splitlines()[-1])
    if data["errors"] or data["included"] != n:
        raise SystemExit(f"child built an incomplete zip: {data}")
    return data


def run_zip(csv_path: Path, images: list[Path], out: Path) -> float:
    out.unlink(missing_ok=True)
    names = "\n".join([str(csv_path), *map(str, images)]) + "\n"
    start = time.perf_counter()
    subprocess.run(  # noqa: S603 - fixed tool, our own file names
        [ZIP, "-0", "-q", "-j", str(out), "-@"], input=names.encode(), check=True
    )
    return time.perf_counter() - start


def zip_peak_rss_kb(csv_path: Path, images: list[Path], out: Path) -> int:
    """zip's own VmHWM, sampled from /proc while it runs (getrusage(RUSAGE_CHILDREN) would report
    the forking Python parent's size, which the child inherits until exec)."""
    out.unlink(missing_ok=True)
    names = "\n".join([str(csv_path), *map(str, images)]) + "\n"
    proc = subprocess.Popen(  # noqa: S603 - fixed tool, our own file names
        [ZIP, "-0", "-q", "-j", str(out), "-@"], stdin=subprocess.PIPE
    )
    status = Path(f"/proc/{proc.pid}/status")
    peak = 0
    assert proc.stdin is not None
    proc.stdin.write(names.encode())
    proc.stdin.close()
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.005)
    return peak


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="zip_bench_"))
    try:
        pool = args.listings * args.images
        print(f"work dir: {work}")
        t0 = time.perf_counter()
        images = make_images(work / "src", pool)
        total_bytes = sum(p.stat().st_size for p in images)
        print(
            f"generated {pool} noise JPEGs, {total_bytes / pool / 1024:.0f} KB average, "
            f"{total_bytes / 1e6:.0f} MB total, in {time.perf_counter() - t0:.1f} s"
        )

        app = web.Application()
        app.router.add_static("/img", work / "src")
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base_url = f"http://127.0.0.1:{port}"
        cache = work / "cache"
        try:
            items = make_listings(args.listings, args.images, base_url, pool)
            t0 = time.perf_counter()
            async with ImageStore(cache) as store:
                results = await store.prepare_many(items)
                stats = dict(store.stats)
            assert all(not errs for _imgs, errs in results)
            print(
                f"warm-up (not compared): fetched and checked {stats['fetched']} images from "
                f"127.0.0.1 in {time.perf_counter() - t0:.1f} s"
            )
            csv_path = work / "same.csv"
            csv_path.write_bytes(yf.csv_bytes(items))

            ours, ours_fsync, theirs = [], [], []
            stages: list[dict[str, float]] = []
            zip_rss_kb = 0
            for _ in range(args.repeat):
                # Flush earlier runs' dirty pages first (outside the timings): both tools then
                # start from the same clean page cache instead of paying for each other's writes.
                os.sync()
                theirs.append(run_zip(csv_path, images, work / "info.zip"))
                os.sync()
                run = await run_child(
                    args.listings, args, base_url, cache, work / "ours.zip", False
                )
                ours.append(run["seconds"])
                # what no stage timer covers: the hand-off to the writer thread, the loop's turns
                rest = run["seconds"] - sum(run["timings"].values())
                stages.append({**run["timings"], "rest": rest})
                os.sync()
                run_f = await run_child(
                    args.listings, args, base_url, cache, work / "ours_f.zip", True
                )
                ours_fsync.append(run_f["seconds"])
            zip_rss_kb = zip_peak_rss_kb(csv_path, images, work / "info.zip")
            ours_size = (work / "ours.zip").stat().st_size
            zip_size = (work / "info.zip").stat().st_size
            t_ours, t_zip = statistics.median(ours), statistics.median(theirs)
            ratio = t_ours / t_zip
            print(
                f"{args.listings} listings x {args.images} images, median of {args.repeat}:\n"
                f"  zip -0 (Info-ZIP)            {t_zip:.2f} s  {zip_size / 1e6:.0f} MB  "
                f"peak RSS {zip_rss_kb / 1024:.1f} MB (sampled)\n"
                f"  build_upload_zip (no fsync)  {t_ours:.2f} s  {ours_size / 1e6:.0f} MB  "
                f"peak RSS {run['vm_hwm_kb'] / 1024:.1f} MB (whole Python process)\n"
                f"  build_upload_zip (default, fsync) {statistics.median(ours_fsync):.2f} s\n"
                f"  ratio ours/zip = {ratio:.2f}   runs: ours {[round(x, 2) for x in ours]} "
                f"zip {[round(x, 2) for x in theirs]}"
            )
            print(
                f"  where build_upload_zip's time goes (no fsync, each stage's median of "
                f"{args.repeat}, so they need not add up to the total's median):"
            )
            for stage, what in STAGES.items():
                times = [s.get(stage, 0.0) for s in stages]
                print(
                    f"    {stage:<10} {statistics.median(times):6.2f} s  "
                    f"{statistics.median(times) / t_ours:4.0%}  {what}"
                )
            for p in ("ours.zip", "ours_f.zip", "info.zip"):
                (work / p).unlink(missing_ok=True)

            rss = {}
            for n in (100, 1000):
                run = await run_child(n, args, base_url, cache, work / f"rss_{n}.zip", False)
                rss[n] = run["vm_hwm_kb"] / 1024
                print(
                    f"peak RSS at {n} listings ({n * args.images} images, "
                    f"{run['bytes'] / 1e6:.0f} MB zip): {rss[n]:.1f} MB"
                )
                (work / f"rss_{n}.zip").unlink(missing_ok=True)
            growth = rss[1000] - rss[100]
        finally:
            await runner.cleanup()
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"zip_ratio={ratio:.2f} rss_growth_mb={growth:.1f}")


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--listings", type=int, default=500)
    p.add_argument("--images", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    # internal: one measured build in a child process
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--pool", type=int, help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--cache", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--fsync", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if not arguments.child and not Path(ZIP).exists():
        raise SystemExit(f"{ZIP} not found (apt-get install zip)")
    asyncio.run(child(arguments) if arguments.child else main(arguments))
