"""Several companions on one database: one leads, another takes over, jobs and settings are
shared, locks hold across companions. Two real companion apps (two data dirs, one database) in
this process; tests/cluster/ runs them as separate processes against both sandboxes."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from companion.app import SecretsUnreadable, create_app
from companion.cluster import HEARTBEAT_ENV, mutex
from companion.config import Config
from companion.db import Database
from companion.db.location import Mount, NetworkShareRefused, network_share
from companion.db.models import Job, JobItem
from companion.jobs import JobContext, JobState
from companion.keys import CLUSTER, DB, JOBS, SETTINGS, SYNC
from tests.conftest import cli_env, pair_client

Start = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def start(
    database: str, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Start:
    """A companion (all features, background workers on) with its own data dir on the shared
    database; every companion after the first gets the first one's secret.key, as the IT
    person copies it (docs/operations.md)."""
    monkeypatch.setenv(HEARTBEAT_ENV, "0.1")
    dirs: list[Path] = []

    async def factory(name: str, *, share_key: bool = True, **config: Any) -> TestClient:
        data_dir = tmp_path / name
        data_dir.mkdir()
        if dirs and share_key:
            shutil.copy2(dirs[0] / "secret.key", data_dir / "secret.key")
        config.setdefault("workers", True)
        app = create_app(Config(data_dir=data_dir, database_url=database, **config))
        client = await aiohttp_client(app)
        dirs.append(data_dir)
        return client

    return factory


async def status(client: TestClient) -> dict[str, Any]:
    token = await pair_client(client)
    resp = await client.get("/api/v1/status", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    return await resp.json()


async def until(predicate: Callable[[], Awaitable[bool]], limit: float = 20.0) -> None:
    async with asyncio.timeout(limit):
        while True:
            if await predicate():
                return
            await asyncio.sleep(0.05)


async def test_a_lone_companion_leads_and_says_so(start: Start, database: str) -> None:
    cluster = (await status(await start("a")))["cluster"]
    shared = database.startswith("postgresql")
    assert cluster["database"] == ("postgresql" if shared else "sqlite")
    assert cluster["shared"] is shared
    assert cluster["leading"] is True
    assert cluster["leader"]["this_pc"] is True
    assert cluster["leader"]["host"] == cluster["this_pc"]["host"]


@pytest.mark.postgres_only
async def test_one_leads_and_the_other_takes_over_when_it_stops(start: Start) -> None:
    a = await start("a")
    b = await start("b")
    seen_by_a, seen_by_b = (await status(a))["cluster"], (await status(b))["cluster"]
    assert seen_by_a["leading"] and seen_by_a["leader"]["this_pc"]
    assert not seen_by_b["leading"] and not seen_by_b["leader"]["this_pc"]
    assert seen_by_b["leader"]["host"] == seen_by_a["this_pc"]["host"]
    assert seen_by_b["leader"]["since"] == seen_by_a["leader"]["since"]
    # the leader's loops run on the leader only
    assert a.app[SYNC]._loop is not None and b.app[SYNC]._loop is None

    await a.close()  # the leader stops: the other companion leads at its next heartbeat

    async def b_leads() -> bool:
        return b.app[CLUSTER].is_leader and b.app[SYNC]._loop is not None

    await until(b_leads)
    cluster = (await status(b))["cluster"]
    assert cluster["leading"] and cluster["leader"]["this_pc"]
    assert b.app[SYNC]._loop is not None


async def _register(clients: list[TestClient], kind: str, handler: Any, **options: Any) -> None:
    for client in clients:
        client.app[JOBS].register(kind, handler, **options)


@pytest.mark.postgres_only
async def test_the_same_button_on_two_pcs_at_once_is_one_job(start: Start) -> None:
    a, b = await start("a"), await start("b")
    release = asyncio.Event()
    ran_on: list[int] = []

    def handler(client: TestClient) -> Any:
        async def slow(ctx: JobContext) -> None:
            ran_on.append(client.app[CLUSTER].me.id)
            await release.wait()

        return slow

    for client in (a, b):
        client.app[JOBS].register("slow", handler(client))
    ids = await asyncio.gather(
        *(c.app[JOBS].submit("slow", dedupe_key="batch:1") for c in (a, b, a, b))
    )
    assert len(set(ids)) == 1
    await until(lambda: _state(a, ids[0], JobState.RUNNING))
    release.set()
    await a.app[JOBS].wait(ids[0])
    await b.app[JOBS].wait(ids[0])
    assert len(ran_on) == 1


async def _state(client: TestClient, job_id: str, state: str) -> bool:
    job = await client.app[JOBS].get(job_id)
    return job is not None and job["state"] == state


@pytest.mark.postgres_only
async def test_a_leader_only_job_asked_on_a_follower_runs_on_the_leader(start: Start) -> None:
    a, b = await start("a"), await start("b")
    ran_on: list[int] = []

    def handler(client: TestClient) -> Any:
        async def once(ctx: JobContext) -> None:
            ran_on.append(client.app[CLUSTER].me.id)
            await ctx.item("step", "succeeded")

        return once

    for client in (a, b):
        client.app[JOBS].register("once", handler(client), resumable=False, leader_only=True)
    job_id = await b.app[JOBS].submit("once", dedupe_key="once")
    await b.app[JOBS].wait(job_id)  # the follower waits for the leader's run
    job = await b.app[JOBS].get(job_id)
    assert job is not None and job["state"] == "succeeded"
    assert ran_on == [a.app[CLUSTER].me.id]


@pytest.mark.postgres_only
async def test_the_leader_adopts_the_jobs_of_a_companion_that_is_gone(start: Start) -> None:
    a = await start("a")

    async def items(ctx: JobContext) -> None:
        for key in ctx.params["keys"]:
            if key not in await ctx.results():
                await ctx.item(key, "succeeded", "after")

    async def once(ctx: JobContext) -> None:
        await ctx.item("x", "succeeded")

    a.app[JOBS].register("items", items)
    a.app[JOBS].register("once", once, resumable=False)
    gone = "987654"  # a companion id that holds no lock: killed, or its PC lost power
    async with a.app[DB].session() as s, s.begin():
        s.add(
            Job(
                id="resume1",
                kind="items",
                state="running",
                params={"keys": ["a", "b"]},
                owner=gone,
            )
        )
        s.add(JobItem(job_id="resume1", key="a", state="succeeded", message="before"))
        s.add(Job(id="once1", kind="once", state="running", params={}, owner=gone))

    async def settled() -> bool:
        return await _state(a, "resume1", "succeeded") and await _state(a, "once1", "failed")

    await until(settled)
    resumed = await a.app[JOBS].get("resume1")
    assert resumed is not None
    assert [(i["key"], i["message"]) for i in resumed["items"]] == [
        ("a", "before"),
        ("b", "after"),
    ]
    interrupted = await a.app[JOBS].get("once1")
    assert interrupted is not None and interrupted["error"]["code"] == "INTERRUPTED"


@pytest.mark.postgres_only
async def test_a_settings_change_on_one_pc_reaches_the_leader(start: Start) -> None:
    a, b = await start("a"), await start("b")
    heard: list[set[str]] = []
    a.app[SETTINGS].on_change(heard.append)
    assert (await a.app[SYNC].state()).get("next_run_at") is None
    # staff on the follower PC choose auto-sync every 5 minutes
    await b.app[SETTINGS].update({"sync_interval_minutes": 5})

    async def planned() -> bool:
        return (await a.app[SYNC].state()).get("next_run_at") is not None

    await until(planned)  # the leader's scheduler heard it and planned the next run
    assert {"sync_interval_minutes"} in heard


async def test_a_mutex_is_held_by_one_companion_at_a_time(database: str) -> None:
    first, second = Database(database), Database(database)
    try:
        async with mutex(first, "sync") as got:
            assert got
            async with mutex(second, "sync", wait=False) as also:
                # SQLite: one PC, whose services keep their own locks; PostgreSQL: held
                assert also is (not first.shared)
        async with mutex(second, "sync", wait=False) as got:
            assert got
    finally:
        await first.close()
        await second.close()


@pytest.mark.postgres_only
async def test_a_pc_without_the_first_ones_key_is_told_to_copy_it(start: Start) -> None:
    a = await start("a")
    await a.app[SETTINGS].update({"recore_api_key": "key-of-the-shop-0001"})
    with pytest.raises(SecretsUnreadable) as refused:
        await start("b", share_key=False)
    assert "secret.key" in refused.value.ja and "secret.key" in refused.value.en


def test_sqlite_on_a_network_share_is_refused(tmp_path: Path) -> None:
    unc = r"\\fileserver\shop\recore\companion.sqlite3"
    with pytest.raises(NetworkShareRefused) as refused:
        Database(f"sqlite+aiosqlite:///{unc}")
    assert r"\\fileserver\shop" in refused.value.en
    assert "共有フォルダー" in refused.value.ja and "PostgreSQL" in refused.value.ja
    # the command line says so, in both languages, and exits 2
    env = cli_env(f"sqlite+aiosqlite:///{unc}")
    done = subprocess.run(
        [sys.executable, "-m", "companion.cli", "pair", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "共有フォルダー" in done.stderr and "network share" in done.stderr
    assert "Traceback" not in done.stderr


def test_network_mounts_are_recognised_from_the_mount_table() -> None:
    table = [
        Mount("/", "ext4"),
        Mount("/mnt/shop", "cifs"),
        Mount("/mnt/shop/local", "ext4"),
        Mount("/srv/nfs", "nfs4"),
        Mount("/home/staff/share", "fuse.sshfs"),
    ]
    assert network_share("/mnt/shop/recore/c.sqlite3", table) == "cifs mount at /mnt/shop"
    assert network_share("/srv/nfs/c.sqlite3", table) == "nfs4 mount at /srv/nfs"
    assert network_share("/home/staff/share/c.sqlite3", table) == (
        "fuse.sshfs mount at /home/staff/share"
    )
    assert network_share("/mnt/shop/local/c.sqlite3", table) is None  # the nearer mount wins
    assert network_share("/mnt/shopping/c.sqlite3", table) is None  # not under /mnt/shop
    assert network_share("/var/lib/recore/c.sqlite3", table) is None


def test_the_database_password_never_reaches_a_log_line() -> None:
    from companion.logs import scrub

    url = "postgresql://recore:Very-Secret-Pw1@db.shop.lan/recore_connector?sslmode=require"
    db = Database(url)  # nothing connects yet
    assert db.url.startswith("postgresql+asyncpg://") and "ssl=require" in db.url
    line = f"could not connect to {url}"
    assert "Very-Secret-Pw1" not in scrub(line) and "db.shop.lan" in scrub(line)


def test_a_shared_database_that_does_not_answer_is_named_at_start(tmp_path: Path) -> None:
    url = f"postgresql://recore:Pw-not-shown-42@/recore_connector?host={tmp_path}"  # no server
    done = subprocess.run(
        [sys.executable, "-m", "companion.cli", "pair", "--data-dir", str(tmp_path / "d")],
        env=cli_env(url),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "データベース（PostgreSQL: recore@" in done.stderr and "接続できない" in done.stderr
    assert "Traceback" not in done.stderr and "Pw-not-shown-42" not in done.stderr
