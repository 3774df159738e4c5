"""A small persisted job runner.

Jobs have a kind, a state (queued, running, succeeded, partial, failed, paused), progress and
per-item results, all in the database. After a restart, interrupted jobs of resumable kinds are
queued again (their handler skips the items already done); others are marked failed with a reason.
A paused job waits for staff and resumes from where it stopped.

Several companions may share the database (`companion.cluster`). A job names the companion that
runs it (`owner`). Starting a job with a dedupe key is atomic across them: a second PC pressing the
same button joins the job already there. Kinds registered `leader_only` (the sync) run where the
leader is: another PC queues the job for it (owner NULL) and tells it. The jobs of a companion
that is gone are adopted: by the leader, and by a restarted companion on the same PC.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.cluster import Cluster, serialize
from companion.db import Database
from companion.db.models import CompanionProcess, Job, JobItem, iso, utcnow

log = logging.getLogger(__name__)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    PAUSED = "paused"


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED)
ITEM_OK = frozenset({"succeeded", "skipped"})
WAIT_POLL_SECONDS = 0.25  # waiting for a job another companion runs


class JobStop(Exception):
    """Raised by a handler to end the job with a staff-facing message."""

    state = JobState.FAILED

    def __init__(self, code: str, message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en

    def as_error(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "message_en": self.message_en}


class JobPaused(JobStop):
    """Waiting for staff (an SMS wall, an expired login …); resumed later from where it stopped."""

    state = JobState.PAUSED


class JobFailed(JobStop):
    state = JobState.FAILED


Handler = Callable[["JobContext"], Awaitable[JobState | None]]


@dataclass(frozen=True)
class JobKind:
    handler: Handler
    resumable: bool = True
    leader_only: bool = False  # runs on the leading companion only (see companion.cluster)


class JobContext:
    """What a handler sees: its params, progress and per-item results."""

    def __init__(self, runner: JobRunner, job_id: str, kind: str, params: dict[str, Any]) -> None:
        self.runner = runner
        self.job_id = job_id
        self.kind = kind
        self.params = params

    async def set_total(self, total: int) -> None:
        async with self.runner.db.session() as s, s.begin():
            job = await s.get(Job, self.job_id)
            assert job is not None
            job.progress_total = total

    async def item(
        self, key: str, state: str, message: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        """Record (or overwrite) one item's result; progress counts items with a result."""
        async with self.runner.db.session() as s, s.begin():
            row = await s.scalar(
                select(JobItem).where(JobItem.job_id == self.job_id, JobItem.key == key)
            )
            if row is None:
                row = JobItem(job_id=self.job_id, key=key)
                s.add(row)
            row.state, row.message, row.data = state, message, data or {}
            await s.flush()
            job = await s.get(Job, self.job_id)
            assert job is not None
            job.progress_done = await s.scalar(
                select(func.count()).select_from(JobItem).where(JobItem.job_id == self.job_id)
            )

    async def results(self) -> dict[str, dict[str, Any]]:
        async with self.runner.db.session() as s:
            rows = (await s.scalars(select(JobItem).where(JobItem.job_id == self.job_id))).all()
        return {r.key: {"state": r.state, "message": r.message, "data": r.data} for r in rows}


def job_dict(job: Job, items: list[JobItem] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "params": {k: v for k, v in job.params.items() if not k.startswith("_")},
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "error": job.error,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }
    if items is not None:
        out["items"] = [
            {"key": i.key, "state": i.state, "message": i.message, "data": i.data} for i in items
        ]
    return out


INTERRUPTED = {
    "code": "INTERRUPTED",
    "message": "コンパニオンの停止（再起動、または処理担当PCの切り替え）で中断されました。"
    "もう一度実行してください。",
    "message_en": "interrupted: its companion stopped (a restart, or another PC took over); "
    "run it again",
}


class JobRunner:
    def __init__(self, db: Database, cluster: Cluster | None = None) -> None:
        self.db = db
        self.cluster = cluster
        self._kinds: dict[str, JobKind] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        self._submit_lock = asyncio.Lock()
        self._adopt_lock = asyncio.Lock()
        self._adopting: set[asyncio.Task[None]] = set()
        if cluster is not None:
            cluster.on_leadership(self._leadership)
            cluster.on_heartbeat(self.adopt_orphans)
            cluster.on_notice("jobs", self._job_queued_elsewhere)

    def register(
        self, kind: str, handler: Handler, *, resumable: bool = True, leader_only: bool = False
    ) -> None:
        self._kinds[kind] = JobKind(handler, resumable, leader_only)
        self._locks.setdefault(kind, asyncio.Lock())

    # -- who runs what -----------------------------------------------------------------------------
    @property
    def me(self) -> int | None:
        """This companion's id (the `owner` of the jobs it runs)."""
        return None if self.cluster is None or self.cluster.me is None else self.cluster.me.id

    def runs_here(self, kind: JobKind) -> bool:
        return not kind.leader_only or self.cluster is None or self.cluster.runs_leader_work

    async def _alive(self) -> set[int]:
        return set() if self.cluster is None else await self.cluster.alive()

    async def _leadership(self, leading: bool) -> None:
        if leading:
            await self.adopt_orphans()

    def _job_queued_elsewhere(self, _data: dict[str, Any]) -> None:
        if self.cluster is not None and self.cluster.is_leader and not self._closing:
            task = asyncio.get_running_loop().create_task(self.adopt_orphans())
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    def _tell_leader(self) -> None:
        if self.cluster is not None:
            self.cluster.tell_leader("jobs")

    # -- recovery ----------------------------------------------------------------------------------
    async def recover(self) -> None:
        """At start: nothing stays 'running' forever. This companion takes up what its previous
        run on this PC left behind (and, on SQLite, everything: there is one PC)."""
        await self._adopt(own_pc_only=True)

    async def adopt_orphans(self) -> None:
        """The leader's heartbeat: the jobs of companions that are gone, and the jobs queued for
        the leader, are run here (resumable or never started) or marked interrupted."""
        await self._adopt(own_pc_only=False)

    async def _adopt(self, *, own_pc_only: bool) -> None:
        if self._closing:
            return
        async with self._adopt_lock:
            alive = await self._alive()
            to_run: list[str] = []
            async with self.db.session() as s, s.begin():
                rows = (
                    await s.scalars(
                        select(Job)
                        .where(Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
                        .order_by(Job.created_at)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                hosts = await self._owner_hosts(s, rows) if own_pc_only else {}
                for job in rows:
                    if job.id in self._tasks or (job.owner is not None and job.owner in alive):
                        continue
                    kind = self._kinds.get(job.kind)
                    if kind is not None and not self.runs_here(kind):
                        continue
                    if own_pc_only and job.owner is not None and self.cluster is not None:
                        host = hosts.get(job.owner)
                        if self.cluster.shared and host != self.cluster.host:
                            continue  # another PC's job: the leader decides
                    if self._take(job, kind):
                        to_run.append(job.id)
        for job_id in to_run:
            log.info("resuming job %s", job_id)
            self._schedule(job_id)

    @staticmethod
    async def _owner_hosts(s: AsyncSession, rows: Any) -> dict[int, str]:
        owners = {j.owner for j in rows if j.owner is not None}
        if not owners:
            return {}
        found = await s.execute(
            select(CompanionProcess.id, CompanionProcess.host).where(
                CompanionProcess.id.in_(owners)
            )
        )
        return {row.id: row.host for row in found}

    def _take(self, job: Job, kind: JobKind | None) -> bool:
        """Make an orphaned (or leader-bound) job this companion's; True if it is to run here,
        False if it was interrupted for good (not resumable, and it had started)."""
        never_started = job.state == JobState.QUEUED and job.started_at is None
        if kind is not None and (kind.resumable or never_started):
            job.state = JobState.QUEUED
            job.owner = self.me
            return True
        self._interrupted(job)
        return False

    @staticmethod
    def _interrupted(job: Job) -> None:
        job.state = JobState.FAILED
        job.finished_at = utcnow()
        job.error = dict(INTERRUPTED)

    # -- starting ----------------------------------------------------------------------------------
    async def submit(
        self, kind: str, params: dict[str, Any] | None = None, *, dedupe_key: str | None = None
    ) -> str:
        """Start a job. With `dedupe_key`, an active job with the same key is joined (or resumed),
        whichever companion started it."""
        if kind not in self._kinds:
            raise KeyError(f"no handler for job kind {kind!r}")
        spec = self._kinds[kind]
        here = self.runs_here(spec)
        params = dict(params or {})
        action = "run" if here else "tell"
        async with self._submit_lock:  # the popup and the scheduler may ask at the same moment
            alive = await self._alive() if dedupe_key is not None else set()
            async with self.db.session() as s, s.begin():
                # ... and so may two PCs: one submit of a kind at a time across companions
                await serialize(s, f"jobs:{kind}")
                job = None
                if dedupe_key is not None:
                    params["_dedupe"] = dedupe_key
                    existing = await self._active_with_key(s, kind, dedupe_key)
                    if existing is not None:
                        job, action = self._join(existing, spec, alive, here)
                if job is None:
                    action = "run" if here else "tell"
                    job = Job(
                        id=uuid.uuid4().hex,
                        kind=kind,
                        state=JobState.QUEUED,
                        params=params,
                        owner=self.me if here else None,
                    )
                    s.add(job)
                job_id = job.id
        if action == "run":
            self._schedule(job_id)
        elif action == "tell":
            self._tell_leader()
        return job_id

    def _join(
        self, existing: Job, spec: JobKind, alive: set[int], here: bool
    ) -> tuple[Job | None, str]:
        """The active job to join and what to do with it: `join` (it runs somewhere), `run` it
        here, `tell` the leader; or (None, `new`) when it was interrupted for good."""
        if existing.state == JobState.PAUSED:
            existing.state, existing.error = JobState.QUEUED, None
            existing.owner = self.me if here else None
            return existing, "run" if here else "tell"
        if existing.id in self._tasks or (existing.owner is not None and existing.owner in alive):
            return existing, "join"
        # nobody runs it: it waits for the leader, or its companion is gone
        if here:
            return (existing, "run") if self._take(existing, spec) else (None, "new")
        if existing.state == JobState.QUEUED and existing.owner is None:
            return existing, "tell"  # waiting for the leader: wake it again
        if spec.resumable:
            existing.state, existing.owner = JobState.QUEUED, None
            return existing, "tell"
        self._interrupted(existing)
        return None, "new"

    @staticmethod
    async def _active_with_key(s: AsyncSession, kind: str, dedupe_key: str) -> Job | None:
        active = await s.scalars(
            select(Job)
            .where(Job.kind == kind, Job.state.in_(ACTIVE_STATES))
            .order_by(Job.created_at.desc())
        )
        return next((j for j in active if j.params.get("_dedupe") == dedupe_key), None)

    async def resume(self, job_id: str) -> bool:
        async with self.db.session() as s, s.begin():
            job = await s.get(Job, job_id)
            if job is None or job.state != JobState.PAUSED:
                return False
            kind = self._kinds.get(job.kind)
            here = kind is None or self.runs_here(kind)
            job.state, job.error = JobState.QUEUED, None
            job.owner = self.me if here else None
        if here:
            self._schedule(job_id)
        else:
            self._tell_leader()
        return True

    def _schedule(self, job_id: str) -> None:
        if self._closing or job_id in self._tasks:
            return
        task = asyncio.create_task(self._run(job_id), name=f"job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job_id, None))

    async def _set(self, job_id: str, **values: Any) -> None:
        async with self.db.session() as s, s.begin():
            job = await s.get(Job, job_id)
            assert job is not None
            for key, value in values.items():
                setattr(job, key, value)

    async def _run(self, job_id: str) -> None:
        async with self.db.session() as s:
            job = await s.get(Job, job_id)
        if job is None:
            return
        kind = self._kinds[job.kind]
        # One job of a kind at a time: two direct listings never race for the same browser.
        async with self._locks[job.kind]:
            await self._set(
                job_id, state=JobState.RUNNING, started_at=utcnow(), error=None, owner=self.me
            )
            ctx = JobContext(self, job_id, job.kind, job.params)
            try:
                explicit = await kind.handler(ctx)
            except JobStop as stop:
                log.warning("job %s (%s) %s: %s", job_id, job.kind, stop.state, stop.message_en)
                final = stop.state
                await self._set(
                    job_id,
                    state=final,
                    error=stop.as_error(),
                    finished_at=None if final == JobState.PAUSED else utcnow(),
                )
                return
            except asyncio.CancelledError:
                # shutdown: leave it queued so the next start resumes it (or marks it)
                await asyncio.shield(self._set(job_id, state=JobState.QUEUED))
                raise
            except Exception as exc:
                log.exception("job %s (%s) failed", job_id, job.kind)
                await self._set(
                    job_id,
                    state=JobState.FAILED,
                    finished_at=utcnow(),
                    error={
                        "code": "UNEXPECTED",
                        "message": "予期しないエラーで止まりました。ログを確認してください。",
                        "message_en": f"unexpected {type(exc).__name__}; see the log",
                    },
                )
                return
            final = explicit or self._final_state(await ctx.results())
            await self._set(job_id, state=final, finished_at=utcnow())

    @staticmethod
    def _final_state(results: dict[str, dict[str, Any]]) -> JobState:
        failed = sum(1 for r in results.values() if r["state"] not in ITEM_OK)
        if not failed:
            return JobState.SUCCEEDED
        return JobState.PARTIAL if failed < len(results) else JobState.FAILED

    async def get(self, job_id: str) -> dict[str, Any] | None:
        async with self.db.session() as s:
            job = await s.get(Job, job_id)
            if job is None:
                return None
            items = (
                await s.scalars(
                    select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.id)
                )
            ).all()
        return job_dict(job, list(items))

    async def list(self, kind: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = select(Job).order_by(Job.created_at.desc()).limit(limit)
        if kind:
            query = query.where(Job.kind == kind)
        async with self.db.session() as s:
            return [job_dict(j) for j in (await s.scalars(query)).all()]

    async def active(self) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            rows = (
                await s.scalars(
                    select(Job).where(Job.state.in_(ACTIVE_STATES)).order_by(Job.created_at)
                )
            ).all()
        return [job_dict(j) for j in rows]

    async def wait(self, job_id: str) -> None:
        """Until the job's current run ends (here, or on the companion that runs it)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait({task})
            return
        if self.cluster is None or not self.cluster.shared:
            return
        while True:
            async with self.db.session() as s:
                state = await s.scalar(select(Job.state).where(Job.id == job_id))
            if state not in (JobState.QUEUED, JobState.RUNNING):
                return
            task = self._tasks.get(job_id)  # adopted here meanwhile
            if task is not None:
                await asyncio.wait({task})
                return
            await asyncio.sleep(WAIT_POLL_SECONDS)

    async def close(self) -> None:
        self._closing = True
        tasks = [*self._tasks.values(), *self._adopting]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
