"""A small persisted job runner.

Jobs have a kind, a state (queued, running, succeeded, partial, failed, paused), progress and
per-item results, all in the database. After a restart, interrupted jobs of resumable kinds are
queued again (their handler skips the items already done); others are marked failed with a reason.
A paused job waits for staff and resumes from where it stopped.
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

from companion.db import Database
from companion.db.models import Job, JobItem, iso, utcnow

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


class JobRunner:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._kinds: dict[str, JobKind] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        self._submit_lock = asyncio.Lock()

    def register(self, kind: str, handler: Handler, *, resumable: bool = True) -> None:
        self._kinds[kind] = JobKind(handler, resumable)
        self._locks.setdefault(kind, asyncio.Lock())

    async def recover(self) -> None:
        """After a restart: nothing stays 'running' forever."""
        async with self.db.session() as s, s.begin():
            rows = (
                await s.scalars(
                    select(Job).where(Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
                )
            ).all()
            to_resume = []
            for job in rows:
                kind = self._kinds.get(job.kind)
                if kind is not None and kind.resumable:
                    job.state = JobState.QUEUED
                    to_resume.append(job.id)
                else:
                    job.state = JobState.FAILED
                    job.finished_at = utcnow()
                    job.error = {
                        "code": "INTERRUPTED",
                        "message": "コンパニオンの再起動で中断されました。もう一度実行してください。",
                        "message_en": "interrupted by a companion restart; run it again",
                    }
        for job_id in to_resume:
            log.info("resuming job %s after restart", job_id)
            self._schedule(job_id)

    async def submit(
        self, kind: str, params: dict[str, Any] | None = None, *, dedupe_key: str | None = None
    ) -> str:
        """Start a job. With `dedupe_key`, an active job with the same key is joined (or resumed)."""
        if kind not in self._kinds:
            raise KeyError(f"no handler for job kind {kind!r}")
        params = dict(params or {})
        async with self._submit_lock:  # the popup and the scheduler may ask at the same moment
            if dedupe_key is not None:
                params["_dedupe"] = dedupe_key
                existing = await self._active_with_key(kind, dedupe_key)
                if existing is not None:
                    if existing.state == JobState.PAUSED:
                        await self.resume(existing.id)
                    return existing.id
            async with self.db.session() as s, s.begin():
                job = Job(id=uuid.uuid4().hex, kind=kind, state=JobState.QUEUED, params=params)
                s.add(job)
        self._schedule(job.id)
        return job.id

    async def _active_with_key(self, kind: str, dedupe_key: str) -> Job | None:
        async with self.db.session() as s:
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
            job.state, job.error = JobState.QUEUED, None
        self._schedule(job_id)
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
            await self._set(job_id, state=JobState.RUNNING, started_at=utcnow(), error=None)
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
        """For the CLI and tests: until the job's current run ends."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait({task})

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
