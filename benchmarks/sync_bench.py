"""Sync benchmark: 5,000 selling listings and 5,000 orders in the Yahoo sandbox.

What it measures (all in one run, same machine, same concurrency):

1. full sync — reading the store (selling, orders, 5,000 order details, sold) and reconciling
   with SQLite, up to the moment every change is in the outbox. Delivery to ReCORE is NOT part of
   it: 5,000 new orders at ReCORE's 5 requests/s take ~17-19 minutes whatever the connector does;
   that part is measured separately (4).
2. the floor — the very same URLs (the list the sync fetched) fetched with plain aiohttp, the same
   cookies and the same concurrency, doing nothing with the pages.
   `sync_ratio` = full sync / floor (target ≤ 1.5).
3. an unchanged second sync, against a ReCORE sandbox that counts requests: how long it takes and
   how many write requests (upserts, task reports) reach ReCORE (target 0). The task poll (one GET)
   is printed too.
4. outbox delivery at ReCORE's real limit: `--paced` orders change (paid), the ReCORE sandbox
   enforces 5 requests/s; the time, the achieved rate and the number of 429 answers (target 0).
5. with `--postgres`: the same full sync (1) by a second companion on PostgreSQL (a server from
   Debian's binaries in a temporary directory, as the tests start it) against the same store,
   compared with the same floor: `pg_sync_ratio` (target ≤ 1.5, as for SQLite).

The Yahoo sandbox runs in its own process (`recore-connector sandbox yahoo`), so its page
rendering does not share the connector's CPU. Each page gets 30 ms of latency (`--latency-ms`):
on loopback the sandbox answers in well under a millisecond, which no real site does, and the
comparison would then measure parsing CPU against a client that does not parse at all
(`--latency-ms 0` shows that case; docs/sync.md has both figures). Run: `.venv/bin/python benchmarks/sync_bench.py`
(`--selling 500 --orders 500` for a quick look). Last line:
`sync_ratio=<ratio> unchanged_recore_requests=<n>` (and ` pg_sync_ratio=<ratio>` with `--postgres`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RECORE_CONNECTOR_NO_KEYRING", "1")

from companion.app import create_app  # noqa: E402
from companion.config import Config  # noqa: E402
from companion.demo import apply_demo_tables  # noqa: E402
from companion.keys import GATEWAY, OUTBOX, RECORE, SETTINGS, STORE, SYNC  # noqa: E402
from companion.listing import batches  # noqa: E402
from companion.recore import service as recore_service  # noqa: E402
from companion.store_session import STORE_OPTIONS, StoreOptions  # noqa: E402
from companion.sync import service as sync  # noqa: E402
from sandbox.recore.app import create_app as create_recore  # noqa: E402
from sandbox.recore.app import demo_credentials  # noqa: E402
from sandbox.recore.keys import COUNTERS_KEY  # noqa: E402
from scrapers.reader import USER_AGENT, cookie_header  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_http(url: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    async with aiohttp.ClientSession() as s:
        while True:
            try:
                async with s.get(url) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.2)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def recore_writes(app: web.Application) -> int:
    by = app[COUNTERS_KEY].by_endpoint
    return sum(n for name, n in by.items() if name.startswith("POST "))


def recore_reads(app: web.Application) -> int:
    by = app[COUNTERS_KEY].by_endpoint
    return sum(n for name, n in by.items() if name.startswith("GET "))


async def floor(urls: list[str], cookies: list[dict[str, Any]], concurrency: int) -> float:
    """The same pages, plain aiohttp, same concurrency and headers, nothing done with them."""
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:

        async def one(url: str) -> None:
            headers = {"User-Agent": USER_AGENT, "Cookie": cookie_header(cookies, url)}
            async with sem, s.get(url, headers=headers) as r:
                await r.text()
                assert r.status == 200, (url, r.status)

        start = time.perf_counter()
        await asyncio.gather(*(one(u) for u in urls))
        return time.perf_counter() - start


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--selling", type=int, default=5000)
    ap.add_argument("--orders", type=int, default=5000)
    ap.add_argument("--paced", type=int, default=60, help="orders delivered at ReCORE's 5 rps")
    ap.add_argument("--concurrency", type=int, default=6)
    ap.add_argument(
        "--latency-ms",
        type=int,
        default=30,
        help="Yahoo sandbox latency per page (loopback answers in <1 ms; no real site does)",
    )
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="also run the full sync on PostgreSQL (Debian's postgresql binaries) and print both",
    )
    args = ap.parse_args()
    pg_server = start_postgres() if args.postgres else None

    tmp = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    yport = free_port()
    yahoo = subprocess.Popen(  # noqa: ASYNC220 - started once, before any timing
        [sys.executable, "-m", "companion.cli", "sandbox", "yahoo", "--port", str(yport)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ybase = f"http://127.0.0.1:{yport}"
    runners: list[web.AppRunner] = []
    try:
        await wait_http(f"{ybase}/_sandbox/state?brief=1")
        async with aiohttp.ClientSession() as s:
            async with s.post(
                f"{ybase}/_sandbox/bulk", json={"selling": args.selling, "orders": args.orders}
            ) as r:
                assert r.status == 200, await r.text()
            if args.latency_ms:
                await s.post(f"{ybase}/_sandbox/faults", json={"latency_ms": args.latency_ms})
            async with s.get(f"{ybase}/_sandbox/state?brief=1") as r:
                counts = (await r.json())["counts"]
        print(f"store: {counts['by_status']} orders={counts['orders']}")

        fast_app = create_recore(rate_limit=1_000_000)
        runner, fast_url = await serve(fast_app)
        runners.append(runner)
        limited_app = create_recore()  # ReCORE's real 5 requests/s
        runner, limited_url = await serve(limited_app)
        runners.append(runner)

        app = create_app(
            Config(data_dir=tmp / "data", workers=False, yahoo_base_url=ybase),
            features=[recore_service.setup, batches.setup, sync.setup],
        )
        app[sync.SYNC_OPTIONS] = sync.SyncOptions(deliver_wait=0.0)
        app[STORE_OPTIONS] = StoreOptions(concurrency=args.concurrency)
        runner, _ = await serve(app)
        runners.append(runner)
        service: sync.SyncService = app[SYNC]
        creds = demo_credentials(fast_app)
        await app[SETTINGS].update(
            {
                "recore_api_url": fast_url,
                "recore_api_key": creds["api_key"],
                "ec_account_id": creds["ec_account_id"],
                "yahoo_id": "shop-demo",
                "yahoo_password": "demo-pass-1234",
                "business_id": "biz-demo",
                "business_password": "biz-pass-1234",
            }
        )
        await apply_demo_tables(app)  # ReCORE's spec form: the templates fill the Yahoo fields
        recore = app[RECORE]
        await recore.rebuild()
        # ReCORE's first poll (26 demo CREATE tasks) is not what this benchmark is about
        await app[GATEWAY].poll_once()
        # the browser login (Chromium) and 競りナビ's links, once, before timing
        await (await app[STORE].reader()).start()

        # 1. full sync: read + reconcile, changes land in the outbox
        t0 = time.perf_counter()
        summary, fault = await service.sync_once()
        t_full = time.perf_counter() - t0
        assert fault is None, fault
        engine = service.last_engine
        assert engine is not None
        fetched = list(engine.fetched)
        print(
            f"full sync: {t_full:.2f}s — {summary['yahoo_requests']} Yahoo pages "
            f"(selling {summary['selling']}, orders {summary['orders']}, "
            f"details {summary['details_read']}, sold {summary['sold_rows']}), "
            f"{summary['upserts']} upserts queued"
        )

        # 2. the floor: the same URLs, plain aiohttp
        t_floor = await floor(fetched, engine.reader.cookies or [], args.concurrency)
        print(
            f"floor (plain aiohttp, same {len(fetched)} URLs, concurrency {args.concurrency}): {t_floor:.2f}s"
        )
        ratio = t_full / t_floor
        pg_ratio = None
        if pg_server is not None:
            t_pg = await full_sync_on_postgres(
                pg_server, tmp, ybase, fast_url, demo_credentials(fast_app), args.concurrency
            )
            pg_ratio = t_pg / t_floor
            print(
                f"full sync on PostgreSQL: {t_pg:.2f}s — {t_pg / t_full:.2f}× the SQLite one, "
                f"{pg_ratio:.2f}× the floor"
            )

        # deliver the first sync's upserts to the fast sandbox (not a figure: ReCORE is 5 rps)
        outbox = app[OUTBOX]
        recore.client.rate = 1000.0
        for bucket in recore.client._buckets.values():
            bucket.rate = bucket.max_rate = 1000.0
        t0 = time.perf_counter()
        left = await outbox.drain(timeout=600)
        print(
            f"(delivery of the first sync's messages to an unlimited sandbox: {time.perf_counter() - t0:.1f}s, {left} left)"
        )

        # 3. the unchanged sync
        service.options.deliver_wait = 15.0
        writes, reads = recore_writes(fast_app), recore_reads(fast_app)
        t0 = time.perf_counter()
        summary2, fault2 = await service.sync_once()
        t_unchanged = time.perf_counter() - t0
        assert fault2 is None, fault2
        unchanged_writes = recore_writes(fast_app) - writes
        engine2 = service.last_engine
        assert engine2 is not None
        t_floor2 = await floor(
            list(engine2.fetched), engine2.reader.cookies or [], args.concurrency
        )
        print(
            f"unchanged sync: {t_unchanged:.2f}s — {summary2['yahoo_requests']} Yahoo pages, "
            f"{summary2['details_read']} details re-read, {summary2['upserts']} upserts; "
            f"ReCORE: {unchanged_writes} writes, {recore_reads(fast_app) - reads} reads (the task poll); "
            f"floor for its {len(engine2.fetched)} pages: {t_floor2:.2f}s"
        )

        # 4. delivery at ReCORE's limit
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{ybase}/_sandbox/state") as r:
                orders = [o for o in (await r.json())["orders"] if o["store_status"] == "未処理"]
            for o in orders[: args.paced]:
                await s.post(
                    f"{ybase}/_sandbox/orders/{o['order_id']}/status",
                    json={"store_status": "入金済み"},
                )
        limited_creds = demo_credentials(limited_app)
        await app[SETTINGS].update(
            {"recore_api_url": limited_url, "recore_api_key": limited_creds["api_key"]}
        )
        await recore.rebuild()
        service.options.deliver_wait = 600.0
        steps: list[tuple[str, float]] = []

        async def timing(key: str, state: str, message: str | None, data: Any) -> None:
            steps.append((key, time.perf_counter()))

        t0 = time.perf_counter()
        summary3, fault3 = await service.sync_once(timing)
        assert fault3 is None, fault3
        t_upserts = time.perf_counter()
        before_deliver = dict(steps)["upserts"]
        t_deliver = dict(steps)["deliver"] - before_deliver
        too_many = limited_app[COUNTERS_KEY].by_status.get("429", 0)
        sent = summary3["upserts"]
        print(
            f"paced delivery: {sent} upserts in {t_deliver:.1f}s = {sent / t_deliver:.2f}/s "
            f"against the 5 rps limit, 429 answers: {too_many} "
            f"(so 5,000 new orders take ~{5000 / max(sent / t_deliver, 0.1) / 60:.0f} min, in the background)"
        )
        del t_upserts
        last = f"sync_ratio={ratio:.2f} unchanged_recore_requests={unchanged_writes}"
        if pg_ratio is not None:
            last += f" pg_sync_ratio={pg_ratio:.2f}"
        print(last)
    finally:
        for runner in reversed(runners):
            with contextlib.suppress(Exception):
                await runner.cleanup()
        yahoo.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            yahoo.wait(timeout=10)
        if pg_server is not None:
            pg_server.stop()


def start_postgres() -> Any:
    """A throwaway PostgreSQL server (the tests' own), with the schema in its template."""
    from tests.postgres import PostgresServer, binaries

    bindir = binaries()
    if bindir is None:
        sys.exit("--postgres: PostgreSQL binaries (initdb, postgres) not found")
    server = PostgresServer(bindir).start()
    server.migrate_template()
    return server


async def full_sync_on_postgres(
    server: Any, tmp: Path, ybase: str, recore_url: str, creds: dict[str, Any], concurrency: int
) -> float:
    """Step 1 again, by a companion on PostgreSQL: same store, same settings, same options."""
    url = server.url(server.create_database())
    app = create_app(
        Config(data_dir=tmp / "data-pg", database_url=url, workers=False),
        features=[recore_service.setup, batches.setup, sync.setup],
    )
    app[sync.SYNC_OPTIONS] = sync.SyncOptions(concurrency=concurrency, deliver_wait=0.0)
    runner, _ = await serve(app)
    try:
        await app[SETTINGS].update(
            {
                "recore_api_url": recore_url,
                "recore_api_key": creds["api_key"],
                "ec_account_id": creds["ec_account_id"],
                "yahoo_base_url": ybase,
                "yahoo_id": "shop-demo",
                "yahoo_password": "demo-pass-1234",
                "business_id": "biz-demo",
                "business_password": "biz-pass-1234",
            }
        )
        await app[RECORE].rebuild()
        await app[GATEWAY].poll_once()
        service: sync.SyncService = app[SYNC]
        await service.access.login()
        t0 = time.perf_counter()
        _summary, fault = await service.sync_once()
        elapsed = time.perf_counter() - t0
        assert fault is None, fault
        return elapsed
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
