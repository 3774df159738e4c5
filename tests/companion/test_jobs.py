"""The job runner: progress, per-item results, final states, restart recovery, pause/resume."""

from __future__ import annotations

import asyncio

from companion.app import create_app
from companion.config import Config
from companion.db.models import Job, JobItem
from companion.jobs import JobContext, JobPaused, JobState
from companion.keys import DB, JOBS


async def _items_job(ctx: JobContext) -> None:
    keys = ctx.params["keys"]
    await ctx.set_total(len(keys))
    done = await ctx.results()
    for key in keys:
        if key in done:
            continue  # resumed: never redo an item
        await ctx.item(key, "failed" if key.startswith("bad") else "succeeded", f"item {key}")


async def test_job_progress_and_partial_state(companion, auth) -> None:
    runner = companion.app[JOBS]
    runner.register("demo", _items_job)
    job_id = await runner.submit("demo", {"keys": ["a", "bad1", "c"]})
    await runner.wait(job_id)
    resp = await companion.get(f"/api/v1/jobs/{job_id}", headers=auth)
    job = await resp.json()
    assert job["state"] == "partial"
    assert job["progress"] == {"done": 3, "total": 3}
    assert [i["key"] for i in job["items"]] == ["a", "bad1", "c"]
    assert job["items"][1]["state"] == "failed"

    ok = await runner.submit("demo", {"keys": ["x"]})
    await runner.wait(ok)
    assert (await runner.get(ok))["state"] == "succeeded"
    bad = await runner.submit("demo", {"keys": ["bad"]})
    await runner.wait(bad)
    assert (await runner.get(bad))["state"] == "failed"


async def test_unknown_job_is_404(companion, auth) -> None:
    resp = await companion.get("/api/v1/jobs/nope", headers=auth)
    assert resp.status == 404


async def test_pause_then_resume_from_where_it_stopped(companion) -> None:
    runner = companion.app[JOBS]
    gate = {"open": False}

    async def walled(ctx: JobContext) -> None:
        await ctx.set_total(3)
        done = await ctx.results()
        for key in ("1", "2", "3"):
            if key in done:
                continue
            if key == "2" and not gate["open"]:
                raise JobPaused("SMS_WALL", "SMS認証を「利用しない」にしてください", "SMS wall")
            await ctx.item(key, "succeeded")

    runner.register("walled", walled)
    job_id = await runner.submit("walled", dedupe_key="one")
    await runner.wait(job_id)
    job = await runner.get(job_id)
    assert job["state"] == "paused"
    assert job["error"]["code"] == "SMS_WALL"
    assert job["progress"]["done"] == 1
    gate["open"] = True
    # asking again for the same work resumes the paused job instead of starting another
    again = await runner.submit("walled", dedupe_key="one")
    assert again == job_id
    await runner.wait(job_id)
    job = await runner.get(job_id)
    assert job["state"] == "succeeded"
    assert [i["key"] for i in job["items"]] == ["1", "2", "3"]


async def test_submitting_during_a_run_joins_it(companion) -> None:
    runner = companion.app[JOBS]
    release = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        await release.wait()

    runner.register("slow", slow)
    first = await runner.submit("slow", dedupe_key="sync")
    second = await runner.submit("slow", dedupe_key="sync")
    assert first == second
    # and when the popup and the scheduler ask at the very same moment
    together = await asyncio.gather(*(runner.submit("slow", dedupe_key="other") for _ in range(5)))
    assert len(set(together)) == 1
    release.set()
    await runner.wait(first)


async def test_restart_resumes_or_marks_interrupted_jobs(
    database, aiohttp_client, data_dir
) -> None:
    """Jobs left 'running' by a killed process: resumable kinds resume, others are marked."""
    config = Config(data_dir=data_dir, workers=False, database_url=database)
    first = await aiohttp_client(create_app(config))
    db = first.app[DB]
    async with db.session() as s, s.begin():
        s.add(Job(id="resumable1", kind="demo", state="running", params={"keys": ["a", "b"]}))
        s.add(JobItem(job_id="resumable1", key="a", state="succeeded", message="before crash"))
        s.add(Job(id="orphan1", kind="gone", state="running", params={}))
    await first.close()

    def with_demo(app) -> None:
        async def register(app):
            app[JOBS].register("demo", _items_job)
            yield

        app.cleanup_ctx.append(register)

    second = await aiohttp_client(create_app(config, features=[with_demo]))
    runner = second.app[JOBS]
    await runner.wait("resumable1")
    resumed = await runner.get("resumable1")
    assert resumed["state"] == "succeeded"
    # item "a" was not redone: its message is still the one from before the crash
    assert resumed["items"][0]["message"] == "before crash"
    assert [i["key"] for i in resumed["items"]] == ["a", "b"]
    orphan = await runner.get("orphan1")
    assert orphan["state"] == JobState.FAILED
    assert orphan["error"]["code"] == "INTERRUPTED"
    assert "再起動" in orphan["error"]["message"]
