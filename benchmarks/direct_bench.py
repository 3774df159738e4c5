"""Benchmark: 直接出品を実行 of 50 items with every Yahoo page answering after 200 ms.

Everything runs as it would for staff, each in its own process on 127.0.0.1:
- the companion (`python -m companion.cli serve`, real Chromium, SQLite);
- the ReCORE sandbox (`recore-connector sandbox recore`);
- the Yahoo sandbox (`--world classic|next`) with `latency_ms=200`, wrapped here with a request
  counter so the page loads per item are counted, not assumed.

The bound: a worker (one browser page) makes its page requests one after another, each taking at
least the latency, so with R requests per item and c workers the best possible rate is
c × 60 / (R × latency) items per minute. R is what a listing needs in the world (`NEEDED`: the
form, its submit, and the confirm and completion pages where the world has them); the reads the
connector chooses to make besides (login, pre-flight, the item list) count against it, not in R.
The older bound, with R every request counted over the run, is printed beside it. The pacing
delay between submissions is set to 0 here (it would add to the bound).

Meanwhile `GET /api/v1/status` is called every 200 ms (the popup polls far less often); its p99
is printed, and that of the same calls with nothing running, before the run.

    .venv/bin/python benchmarks/direct_bench.py [--items 50] [--latency-ms 200] [--concurrency 1]
        [--world classic|next]

Last line: `direct_ratio=<ratio> status_p99_ms=<ms> status_idle_p99_ms=<ms>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# The requests one listing needs in each store world, in order. classic: the form, 確認する (its
# confirm page), 出品する and the completion page it redirects to. next: the form, 出品する, and
# the item list it redirects to (no confirm page; the new auction is on that list).
NEEDED: dict[str, tuple[str, ...]] = {
    "classic": (
        "GET /serinavi/items/create",
        "POST /serinavi/items/create",
        "POST /serinavi/items/create",
        "GET /serinavi/items/complete",
    ),
    "next": (
        "GET /serinavi/items/create",
        "POST /serinavi/items/create",
        "GET /serinavi/items",
    ),
}

IDLE_SECONDS = 20  # /status polled with nothing running: about 100 calls


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the Yahoo sandbox with a request counter (runs in its own process) ------------------------------
def serve_yahoo(port: int, world: str) -> None:
    from aiohttp import web

    from sandbox.yahoo.app import create_app

    counts: Counter[str] = Counter()

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith(("/_sandbox", "/_bench")):
            counts[f"{request.method} {request.path}"] += 1
        return await handler(request)

    async def get_counts(_request: web.Request) -> web.Response:
        return web.json_response(dict(counts))

    app = create_app(seed=True, world=world)
    app.middlewares.insert(0, count)
    app.router.add_get("/_bench/counts", get_counts)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- the benchmark --------------------------------------------------------------------------------
class Proc:
    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        with log.open("ab") as out:
            self.p = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()


async def wait_http(http: aiohttp.ClientSession, url: str, limit: float = 60) -> None:
    async with asyncio.timeout(limit):
        while True:
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def pairing_code(data: Path, env: dict[str, str]) -> str:
    """A pairing code from the companion's own `pair` command (as the IT person would get it)."""
    paired = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "companion.cli", "pair", "--data-dir", str(data)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return paired.stdout.strip().splitlines()[-1]


def sandbox_settings(rbase: str, rstate: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
    """The companion's settings for the two sandboxes: ReCORE's key and EC account, the store's
    demo login."""
    return {
        "recore_api_url": rbase,
        "recore_api_key": rstate["api_key"],
        "ec_account_id": rstate["ec_account_id"],
        "yahoo_id": account["yahoo_id"],
        "yahoo_password": account["password"],
        "business_id": account["business_id"],
        "business_password": account["business_password"],
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(  # noqa: C901 - one straight script
    items: int, latency_ms: int, concurrency: int, world: str
) -> tuple[float, float, float]:
    work = Path(tempfile.mkdtemp(prefix="direct-bench-"))
    env = {
        **os.environ,
        "RECORE_CONNECTOR_NO_KEYRING": "1",
        "RECORE_CONNECTOR_DIRECT_PACING_SECONDS": "0",
        # 確認モード off: the listings go to the store without waiting for staff's 実行
        "RECORE_CONNECTOR_CONFIRM_FIRST_WRITES": "off",
        "PYTHONPATH": str(ROOT),
    }
    py = sys.executable
    yp, rp, cp = free_port(), free_port(), free_port()
    yahoo = Proc(
        [py, __file__, "--serve-yahoo", str(yp), "--world", world], work / "yahoo.log", env
    )
    recore = Proc(
        [py, "-m", "companion.cli", "sandbox", "recore", "--port", str(rp)],
        work / "recore.log",
        env,
    )
    data = work / "companion"
    companion = Proc(
        [py, "-m", "companion.cli", "serve", "--data-dir", str(data), "--port", str(cp),
         "--yahoo-base-url", f"http://127.0.0.1:{yp}"],
        work / "companion.log",
        env,
    )  # fmt: skip
    procs = [yahoo, recore, companion]
    ybase, rbase, cbase = (f"http://127.0.0.1:{p}" for p in (yp, rp, cp))
    try:
        async with aiohttp.ClientSession() as http:
            for url in (
                f"{ybase}/_sandbox/state?brief=1",
                f"{rbase}/_sandbox/state",
                f"{cbase}/api/v1/health",
            ):
                await wait_http(http, url)
            code = await pairing_code(data, env)
            async with http.post(f"{cbase}/api/v1/pair", json={"code": code}) as resp:
                auth = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            async with http.get(f"{rbase}/_sandbox/state") as resp:
                rstate = await resp.json()
            async with http.post(
                f"{rbase}/_sandbox/listings", json={"count": items, "images_per_item": 3}
            ) as resp:
                ids = (await resp.json())["listing_ids"]
            async with http.get(f"{ybase}/_sandbox/state?brief=1") as resp:
                account = (await resp.json())["account"]
            settings = {
                **sandbox_settings(rbase, rstate, account),
                "direct_listing_concurrency": concurrency,
            }
            async with http.put(f"{cbase}/api/v1/settings", json=settings, headers=auth) as resp:
                assert resp.status == 200, await resp.text()
            # ReCORE's spec form: the demo's templates and tables fill in the Yahoo fields
            from companion.demo import demo_tables

            for name, table in demo_tables().items():
                async with http.put(
                    f"{cbase}/api/v1/tables/{name}", json=table, headers=auth
                ) as resp:
                    assert resp.status == 200, await resp.text()

            async def pending_ids() -> set[int]:
                async with http.get(f"{cbase}/api/v1/pending", headers=auth) as resp:
                    return {i["id"] for i in (await resp.json())["items"]}

            async with asyncio.timeout(60):
                while not set(ids) <= await pending_ids():  # noqa: ASYNC110 - another process
                    await asyncio.sleep(0.2)
            async with http.post(
                f"{ybase}/_sandbox/faults", json={"latency_ms": latency_ms}
            ) as resp:
                assert resp.status == 200
            async with http.get(f"{ybase}/_bench/counts") as resp:
                before = Counter(await resp.json())

            status_ms: list[float] = []
            idle_ms: list[float] = []
            done = asyncio.Event()

            async def ping() -> None:
                while not done.is_set():
                    t = time.perf_counter()
                    async with http.get(f"{cbase}/api/v1/status", headers=auth) as resp:
                        await resp.read()
                        assert resp.status == 200
                    status_ms.append((time.perf_counter() - t) * 1000)
                    await asyncio.sleep(0.2)

            # the same calls with nothing running, for comparison (machine load shows here too):
            # after a few unmeasured ones (the first call builds what later ones reuse), for
            # IDLE_SECONDS, so that its p99 is not simply its slowest call
            for _ in range(3):
                async with http.get(f"{cbase}/api/v1/status", headers=auth) as resp:
                    await resp.read()
            pinger = asyncio.create_task(ping())
            await asyncio.sleep(IDLE_SECONDS)
            done.set()
            await pinger
            idle_ms, status_ms = status_ms, []
            done.clear()
            pinger = asyncio.create_task(ping())
            # batch creation (validation, images) is not part of direct listing: made first
            async with http.post(
                f"{cbase}/api/v1/batches",
                json={"source": "pending", "listing_ids": ids},
                headers=auth,
            ) as resp:
                batch = await resp.json()
                assert resp.status == 201 and batch["item_count"] == items, batch  # fmt: skip
            t0 = time.perf_counter()
            async with http.post(
                f"{cbase}/api/v1/batches/{batch['id']}/direct-listing", headers=auth
            ) as resp:
                job_id = (await resp.json())["job_id"]
            first_done: float | None = None
            while True:
                async with http.get(f"{cbase}/api/v1/jobs/{job_id}", headers=auth) as resp:
                    job = await resp.json()
                if first_done is None and job["progress"]["done"] >= 1:
                    first_done = time.perf_counter()
                if job["state"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - t0
            done.set()
            await pinger
            async with http.get(f"{ybase}/_bench/counts") as resp:
                after = Counter(await resp.json())
            async with http.get(f"{ybase}/_sandbox/state?brief=1") as resp:
                ystate = await resp.json()
    finally:
        for p in reversed(procs):
            p.stop()

    assert job["state"] == "succeeded", job
    assert not ystate["duplicates"], ystate["duplicates"]
    used = after - before
    requests = sum(used.values())
    per_item = requests / items
    needed = len(NEEDED[world])
    rate = items / elapsed * 60
    bound = concurrency * 60 / (needed * latency_ms / 1000)
    bound_counted = concurrency * 60 / (per_item * latency_ms / 1000)
    ratio = rate / bound
    steady = None
    if first_done is not None and elapsed > first_done - t0:
        steady = (items - 1) / (t0 + elapsed - first_done) * 60
    print(
        f"world: {world}, items: {items}, concurrency: {concurrency}, "
        f"page latency: {latency_ms} ms, pacing: 0 s"
    )
    print(f"Yahoo requests during the run: {requests} ({per_item:.2f} per item)")
    for key, n in used.most_common():
        print(f"  {n:5d}  {key}")
    print(f"requests a listing needs in this world: {needed} ({', '.join(NEEDED[world])})")
    print(f"elapsed: {elapsed:.1f} s (from the press to the last item, Chromium start included)")
    print(
        f"rate: {rate:.1f} items/min; bound {bound:.1f} items/min (c×60/(R×latency), "
        f"R={needed} needed) → {ratio:.3f}; older bound {bound_counted:.1f} items/min "
        f"(R={per_item:.2f} counted) → {rate / bound_counted:.2f}"
    )
    if steady is not None:
        print(
            f"steady rate after the first item: {steady:.1f} items/min "
            f"({steady / bound:.2f} of the bound)"
        )
    p99 = pct(status_ms, 0.99)
    idle_p99 = pct(idle_ms, 0.99)
    print(
        f"GET /status during the run: {len(status_ms)} calls, median "
        f"{statistics.median(status_ms):.1f} ms, p99 {p99:.1f} ms, max {max(status_ms):.1f} ms"
    )
    print(
        f"GET /status with nothing running: {len(idle_ms)} calls, median "
        f"{statistics.median(idle_ms):.1f} ms, p99 {idle_p99:.1f} ms, max {max(idle_ms):.1f} ms"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"logs in {work}")
    return ratio, p99, idle_p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--world", choices=sorted(NEEDED), default="classic")
    parser.add_argument("--serve-yahoo", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_yahoo:
        serve_yahoo(args.serve_yahoo, args.world)
        return
    ratio, p99, idle_p99 = asyncio.run(
        run(args.items, args.latency_ms, args.concurrency, args.world)
    )
    print(f"direct_ratio={ratio:.3f} status_p99_ms={p99:.1f} status_idle_p99_ms={idle_p99:.1f}")


if __name__ == "__main__":
    main()
