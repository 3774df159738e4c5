"""A small persisted job runner.

Jobs have a kind, a state (queued, running, succeeded, partial, failed, paused), progress and
per-item results, all in the database. After a restart, interrupted jobs of resumable kinds are
queued again (their handler skips the items already done); others are marked failed with a reason.
A paused job waits for staff and resumes from where it stopped; one paused by a problem of the PC
itself (a full disk, `companion.resources`) resumes by itself once the problem is gone.

Every job names its owner (`Job.owner`): the companion process that queued or runs it. Whether an
owner is alive is asked of whoever knows: on a SQLite file (one PC) the owner's lock file
(`run/<owner>.lock` in the data dir, held for as long as its process lives); on a database shared by
several companions (`companion.cluster`) the server, which holds each companion's member lock. A
job that looks active but whose owner is gone is never joined: it is adopted (run again here when
its kind is resumable or it never started, else closed as interrupted). One whose task in this
process ended without writing its final state (the disk was full) is closed as failed with the
reason (`reap`).

Starting a job with a dedupe key is atomic across companions: a second PC pressing the same button
joins the job already there. Kinds registered `leader_only` (the sync) run where the leader is:
another PC queues the job for it (owner NULL) and tells it. The jobs of a companion that is gone
are adopted by the leader, and by a restarted companion on the same PC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from companion.cluster import Cluster, serialize
from companion.db import Database
from companion.db.models import CompanionProcess, Job, JobItem, iso, utcnow
from companion.resources import LocalProblem, local_problem

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


def job_dict(job: Job | Row[Any], items: list[JobItem] | None = None) -> dict[str, Any]:
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


class RunnerLease:
    """This runner's claim on its jobs: a lock file held for as long as the process lives.

    Another process tells whether an owner is alive by trying the owner's lock: taking it means
    the owner is gone. Without a directory (tests of a bare runner) only this runner is known.
    """

    def __init__(self, run_dir: Path | None) -> None:
        self.id = uuid.uuid4().hex
        self.run_dir = run_dir
        self._handle: IO[str] | None = None
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            self._handle = open(run_dir / f"{self.id}.lock", "w")  # noqa: SIM115 - held open
            if not _try_lock(self._handle):  # pragma: no cover - a fresh uuid
                raise RuntimeError("could not lock the job runner's lease")

    def alive(self, owner: str | None) -> bool:
        """Whether the runner `owner` still lives (this one always does)."""
        if owner is None:
            return False
        if owner == self.id:
            return True
        if self.run_dir is None or not owner.isalnum():
            return False
        path = self.run_dir / f"{owner}.lock"
        try:
            handle = open(path, "r+")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return False
        except OSError:
            return True  # cannot tell: never take over a job that may still run
        with handle:
            if not _try_lock(handle):
                return True
        with contextlib.suppress(OSError):
            path.unlink()  # a dead runner's file
        return False

    @staticmethod
    def any_alive(run_dir: Path) -> bool:
        """Whether a companion process holds a lease in `run_dir` (e.g. before a restore)."""
        if not run_dir.is_dir():
            return False
        probe = RunnerLease(None)
        probe.run_dir = run_dir
        return any(probe.alive(lock.stem) for lock in run_dir.glob("*.lock"))

    def close(self) -> None:
        if self._handle is not None and self.run_dir is not None:
            self._handle.close()
            self._handle = None
            with contextlib.suppress(OSError):
                (self.run_dir / f"{self.id}.lock").unlink()


def _try_lock(handle: IO[str]) -> bool:
    """An exclusive lock without waiting (released when the file is closed)."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


INTERRUPTED = {
    "code": "INTERRUPTED",
    "message": "コンパニオンの停止（再起動、または処理担当PCの切り替え）で中断されました。"
    "もう一度実行してください。",
    "message_en": "interrupted: its companion stopped (a restart, or another PC took over); "
    "run it again",
}


def dead_job_error(reason: dict[str, str] | None) -> dict[str, str]:
    """Why a job that was left 'running' was closed (the reason when it is known)."""
    if reason is None:
        return {
            "code": "JOB_LOST",
            "message": "前回の処理は、コンパニオンが止まったため途中で終わっていました。"
            "もう一度実行してください（終わった分はやり直しません）。",
            "message_en": "the job's process or task ended without finishing it",
        }
    return {
        "code": "JOB_LOST",
        "message": f"前回の処理は途中で止まり、その状態を記録できませんでした（{reason['message']}）。"
        "原因を直してから、もう一度実行してください。",
        "message_en": f"the job ended without recording its state: {reason['message_en']}",
    }


class JobRunner:
    def __init__(
        self,
        db: Database,
        run_dir: Path | None = None,
        *,
        cluster: Cluster | None = None,
        on_local_problem: Callable[[LocalProblem], None] | None = None,
    ) -> None:
        self.db = db
        self.cluster = cluster
        # this process's lock file: how another process on this PC tells that it still runs
        self.lease = RunnerLease(run_dir)
        # e.g. free the disk reserve, so that the job's paused state can still be written
        self.on_local_problem = on_local_problem
        self._kinds: dict[str, JobKind] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # why a job's task ended without writing its final state (shown when it is reaped)
        self._lost: dict[str, dict[str, str]] = {}
        self._closing = False
        self._submit_lock = asyncio.Lock()
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
    def me(self) -> str:
        """This companion as the `owner` of its jobs: its id among the companions on a shared
        database, else its lease (the lock file of this process on this PC)."""
        if self.cluster is not None and self.cluster.shared and self.cluster.me is not None:
            return str(self.cluster.me.id)
        return self.lease.id

    @property
    def shared(self) -> bool:
        return self.cluster is not None and self.cluster.shared

    def runs_here(self, kind: JobKind) -> bool:
        return not kind.leader_only or self.cluster is None or self.cluster.runs_leader_work

    async def _owner_alive(self) -> Callable[[str | None], bool]:
        """Whether a job's owner runs now, asked of whoever knows: on a shared database the server
        (the companions' member locks, `Cluster.alive`), on SQLite the owner's lock file."""
        if self.cluster is not None and self.cluster.shared:
            alive = {str(member) for member in await self.cluster.alive()}
            return lambda owner: owner is not None and owner in alive
        return self.lease.alive

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
        run on this PC left behind (and, on SQLite, everything: there is one PC). The jobs of
        another companion process that still runs (a CLI command) stay its own."""
        await self._adopt(own_pc_only=True)

    async def adopt_orphans(self) -> None:
        """The leader's heartbeat: the jobs of companions that are gone, and the jobs queued for
        the leader, are run here (resumable or never started) or marked interrupted."""
        await self._adopt(own_pc_only=False)

    async def _adopt(self, *, own_pc_only: bool) -> None:
        if self._closing:
            return
        # under the submit lock: a job made this companion's is scheduled before anyone looks
        async with self._submit_lock:
            alive = await self._owner_alive()
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
                hosts = await self._owner_hosts(s, rows) if own_pc_only and self.shared else {}
                for job in rows:
                    if job.id in self._tasks or alive(job.owner):
                        continue  # runs here, or its owner runs it (a lost one here: `reap`)
                    kind = self._kinds.get(job.kind)
                    if kind is not None and not self.runs_here(kind):
                        continue
                    if own_pc_only and job.owner is not None and self.shared:
                        if hosts.get(job.owner) != self.cluster.host:  # type: ignore[union-attr]
                            continue  # another PC's job: the leader decides
                    if self._take(job, kind):
                        to_run.append(job.id)
            for job_id in to_run:
                log.info("resuming job %s", job_id)
                self._schedule(job_id)

    @staticmethod
    async def _owner_hosts(s: AsyncSession, rows: Any) -> dict[str, str]:
        owners = {int(j.owner) for j in rows if j.owner is not None and j.owner.isdigit()}
        if not owners:
            return {}
        found = await s.execute(
            select(CompanionProcess.id, CompanionProcess.host).where(
                CompanionProcess.id.in_(owners)
            )
        )
        return {str(row.id): row.host for row in found}

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

    def _is_dead(self, job: Job, alive: Callable[[str | None], bool]) -> bool:
        """Active-looking, but nobody runs it: its task here ended without writing its final
        state; or (one PC) its owner process is gone. On a shared database the jobs of a gone
        companion are the leader's to adopt."""
        if job.state not in (JobState.QUEUED, JobState.RUNNING) or job.owner is None:
            return False
        if job.owner == self.me:
            return job.id not in self._tasks
        return not self.shared and not alive(job.owner)

    async def reap(self) -> int:
        """Close active-looking jobs whose process or task is gone as failed; returns how many."""
        async with self._submit_lock:
            return await self._reap()

    async def _reap(self) -> int:
        alive = await self._owner_alive()
        async with self.db.session() as s:
            active = (
                await s.scalars(
                    select(Job).where(Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
                )
            ).all()
        dead = [job.id for job in active if self._is_dead(job, alive)]
        if not dead:
            return 0
        async with self.db.session() as s, s.begin():
            for job_id in dead:
                job = await s.get(Job, job_id)
                if job is None or not self._is_dead(job, alive):
                    continue
                job.state = JobState.FAILED
                job.finished_at = utcnow()
                job.error = dead_job_error(self._lost.get(job_id))
                log.warning("job %s (%s) was dead: closed as failed", job_id, job.kind)
        for job_id in dead:
            self._lost.pop(job_id, None)
        return len(dead)

    # -- starting ----------------------------------------------------------------------------------
    async def submit(
        self, kind: str, params: dict[str, Any] | None = None, *, dedupe_key: str | None = None
    ) -> str:
        """Start a job. With `dedupe_key`, an active job with the same key is joined (or resumed),
        whichever companion started it; a dead one never is."""
        if kind not in self._kinds:
            raise KeyError(f"no handler for job kind {kind!r}")
        spec = self._kinds[kind]
        here = self.runs_here(spec)
        params = dict(params or {})
        action = "run" if here else "tell"
        async with self._submit_lock:  # the popup and the scheduler may ask at the same moment
            if dedupe_key is not None:
                await self._reap()
            alive = await self._owner_alive()
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
        self, existing: Job, spec: JobKind, alive: Callable[[str | None], bool], here: bool
    ) -> tuple[Job | None, str]:
        """The active job to join and what to do with it: `join` (it runs somewhere), `run` it
        here, `tell` the leader; or (None, `new`) when it was interrupted for good."""
        if existing.state == JobState.PAUSED:
            existing.state, existing.error = JobState.QUEUED, None
            existing.owner = self.me if here else None
            return existing, "run" if here else "tell"
        if existing.id in self._tasks or (existing.owner != self.me and alive(existing.owner)):
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
        async with self._submit_lock:
            return await self._resume(job_id)

    async def _resume(self, job_id: str) -> bool:
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

    async def paused_by(self, codes: Collection[str]) -> list[tuple[str, str]]:
        """(job id, error code) of the paused jobs whose pause has one of `codes`."""
        async with self.db.session() as s:
            rows = (await s.scalars(select(Job).where(Job.state == JobState.PAUSED))).all()
        return [(j.id, j.error["code"]) for j in rows if (j.error or {}).get("code") in codes]

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
        try:
            await self._run_inner(job_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # its state could not be written (a full disk …): the row still says queued or
            # running, and with this task gone the job is dead; `reap` closes it with this reason
            problem = local_problem(exc)
            self._local_problem(problem)
            self._lost[job_id] = (problem or _unexpected(exc)).as_error()
            log.error("job %s: its state could not be recorded: %s", job_id, exc)

    async def _run_inner(self, job_id: str) -> None:
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
                await self._stopped(job_id, stop.state, stop.as_error())
                return
            except asyncio.CancelledError:
                # shutdown: leave it queued so the next start resumes it (or marks it)
                await asyncio.shield(self._set(job_id, state=JobState.QUEUED))
                raise
            except Exception as exc:
                problem = local_problem(exc)
                if problem is not None:
                    # the PC's fault, not the job's: wait for it to be fixed, then go on
                    self._local_problem(problem)
                    log.warning("job %s (%s) paused: %s", job_id, job.kind, problem.message_en)
                    await self._stopped(job_id, JobState.PAUSED, problem.as_error())
                    return
                log.exception("job %s (%s) failed", job_id, job.kind)
                await self._stopped(job_id, JobState.FAILED, _unexpected(exc).as_error())
                return
            final = explicit or self._final_state(await ctx.results())
            await self._set(job_id, state=final, finished_at=utcnow())

    async def _stopped(self, job_id: str, state: JobState, error: dict[str, str]) -> None:
        await self._set(
            job_id,
            state=state,
            error=error,
            finished_at=None if state == JobState.PAUSED else utcnow(),
        )

    def _local_problem(self, problem: LocalProblem | None) -> None:
        if problem is not None and self.on_local_problem is not None:
            try:
                self.on_local_problem(problem)
            except Exception:  # noqa: BLE001 - a hook must not hide the problem itself
                log.exception("local problem hook failed")

    @staticmethod
    def _final_state(results: dict[str, dict[str, Any]]) -> JobState:
        failed = sum(1 for r in results.values() if r["state"] not in ITEM_OK)
        if not failed:
            return JobState.SUCCEEDED
        return JobState.PARTIAL if failed < len(results) else JobState.FAILED

    async def get(self, job_id: str) -> dict[str, Any] | None:
        # polled for progress while the job runs: one synchronous read (`Database.read`), not a
        # hop to the async driver's thread and back per statement
        def read(s: Session) -> dict[str, Any] | None:
            job = s.get(Job, job_id)
            if job is None:
                return None
            items = s.scalars(
                select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.id)
            ).all()
            return job_dict(job, list(items))

        return await self.db.read(read)

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
        self.lease.close()


def _unexpected(exc: BaseException) -> JobStop:
    return JobFailed(
        "UNEXPECTED",
        "予期しないエラーで止まりました。ログを確認してください。",
        f"unexpected {type(exc).__name__}; see the log",
    )
