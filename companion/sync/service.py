"""同期開始 and auto-sync: the feature module (`setup(app)`).

- Job kind `sync` (`JobRunner`), one at a time: 同期開始 while a sync runs joins it
  (`submit(..., dedupe_key="sync")`). It runs on the leading companion (`companion.cluster`):
  同期開始 on another PC queues the job for the leader and shows the same job; a sync run outside
  the job (`sync --once`) waits for the one running anywhere (mutex `sync`). Steps, each a job
  item: ReCOREのタスク (poll the gateway, so SHIP_ORDER / CANCEL_ORDER / DELETE_INVENTORY reach
  Yahoo first), ヤフオクへの接続, the read and reconcile steps of `companion.sync.engine`,
  ReCOREへの送信 (the outbox).
- `POST /api/v1/sync` → `202 {"job_id"}`.
- The scheduler (only when `app[CONFIG].workers`, on the leader): runs a sync every
  `sync_interval_minutes` (0 = off) with a little jitter; the next run time is persisted in the
  internal setting `sync` (with last_run_at, last_result, last_error), which `GET /status` shows;
  an interval change (on any PC) reschedules at once.
- Gateway handlers for ReCORE's order and inventory tasks (`companion.sync.tasks`).
- `run_once(config)` for `recore-connector sync --once`.

Yahoo access: the companion's one store session (`app[STORE]`, `companion.store_session`): its
reader reads over plain HTTP with the browser's cookies, kept in memory between syncs; the browser
is asked again only when Yahoo answers with its login page (or a list is rendered by script).
After a login wall, automatic syncs do not log in again until staff press 同期開始.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from companion.cluster import mutex
from companion.config import Config
from companion.db.models import OutboxMessage, iso, utcnow
from companion.jobs import JobContext, JobState, JobStop
from companion.keys import (
    CLUSTER,
    CONFIG,
    DB,
    DISK,
    EVENTS,
    GATEWAY,
    JOBS,
    OUTBOX,
    RECORE,
    SETTINGS,
    STORE,
    SYNC,
    TABLES,
)
from companion.resources import local_problem
from companion.settings import DEFAULT_FULL_SYNC_MINUTES, QUICK_CHECK_MINUTES
from companion.sync.engine import STEPS, SyncEngine, SyncFault, default_watermark
from scrapers.errors import ScraperError

log = logging.getLogger(__name__)

KIND = "sync"
# With the quick check on, a scheduled full sync is light (出品中's first page, see
# `SyncEngine._light_check`); the whole selling list is still read at least this often.
COMPLETE_SYNC_HOURS = 6
DEDUPE = "sync"
STATE_KEY = "sync"  # internal setting read by companion.status
# Login walls a program must not walk into again and again (each try may send an SMS, and failed
# logins bring captchas): after one, automatic runs stop logging in until staff act.
LOGIN_WALLS = frozenset(
    {"SMS_AUTH", "CAPTCHA", "BAD_CREDENTIALS", "NO_CREDENTIALS", "LOGIN_FAILED"}
)
ALL_STEPS: dict[str, str] = {"recore_tasks": "ReCOREのタスク処理", "login": STEPS["login"]}
ALL_STEPS |= {k: v for k, v in STEPS.items() if k != "login"}
ALL_STEPS["deliver"] = "ReCOREへの送信"


def parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


MAX_JITTER_SECONDS = 60.0
# how often a waiting scheduler compares the shown next run with the PC's clock
CLOCK_CHECK_SECONDS = 10.0


def jitter_seconds(interval_minutes: int) -> float:
    """Up to 5 % of the interval, at most a minute: many shops never hit Yahoo in the same second."""
    return random.uniform(0, min(MAX_JITTER_SECONDS, interval_minutes * 60 * 0.05))


def next_run(after: datetime, interval_minutes: int) -> datetime | None:
    if interval_minutes <= 0:
        return None
    return after + timedelta(minutes=interval_minutes, seconds=jitter_seconds(interval_minutes))


@dataclass
class SyncOptions:
    """Tuning for tests and the benchmark (the store side's is `store_session.StoreOptions`)."""

    deliver_wait: float = 15.0  # seconds a sync waits to see its messages reach ReCORE


SYNC_OPTIONS = web.AppKey("sync_options", SyncOptions)


class SyncService:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.db = app[DB]
        self.settings = app[SETTINGS]
        self.events = app[EVENTS]
        self.jobs = app[JOBS]
        self.cluster = app[CLUSTER]
        self.options = app.get(SYNC_OPTIONS) or SyncOptions()
        self.store = app[STORE]
        self._state_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self.last_engine: SyncEngine | None = None

    # -- state shown in /status ----------------------------------------------------------------------
    async def state(self) -> dict[str, Any]:
        return dict(await self.settings.get_internal(STATE_KEY, {}) or {})

    async def update_state(self, **values: Any) -> dict[str, Any]:
        async with self._state_lock:
            current = await self.state()
            current.update(values)
            await self.settings.set_internal(STATE_KEY, current)
            return current

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._forget_a_cut_sync()
        if self.app[CONFIG].workers:
            self.settings.on_change(self._settings_changed)
            self.cluster.on_leadership(self._leadership)

    async def _forget_a_cut_sync(self) -> None:
        """A sync cut by a restart is not running (unless one runs on another PC right now)."""
        async with mutex(self.db, "sync", wait=False) as nobody_syncs:
            if nobody_syncs and (await self.state()).get("running"):
                await self.update_state(running=False)

    async def _leadership(self, leading: bool) -> None:
        """The scheduler runs on the leading companion only; a new leader goes on with the plan
        (next_run_at) the last one left in the shared state."""
        if not leading:
            await self._stop_scheduler()
            return
        await self._forget_a_cut_sync()
        state = await self.state()
        interval = int(await self.settings.get("sync_interval_minutes") or 0)
        planned = parse_iso(state.get("next_run_at"))
        if interval and planned is None:
            await self.update_state(next_run_at=iso(next_run(utcnow(), interval)))
        elif not interval and planned is not None:
            await self.update_state(next_run_at=None)
        if self._loop is None:
            self._loop = asyncio.create_task(self.scheduler(), name="sync-scheduler")

    async def _stop_scheduler(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop

    async def stop(self) -> None:
        await self._stop_scheduler()

    def _settings_changed(self, keys: set[str]) -> Awaitable[None] | None:
        # awaited by the settings' update: the new next run is stored before 保存しました (the
        # state is shared: the leader, told of the change, plans anew too)
        if keys & {"sync_interval_minutes", "full_sync_interval_minutes"}:
            return self._reschedule()
        return None

    async def _reschedule(self) -> None:
        interval = int(await self.settings.get("sync_interval_minutes") or 0)
        values: dict[str, Any] = {"next_run_at": iso(next_run(utcnow(), interval))}
        if interval == QUICK_CHECK_MINUTES:
            # the quick check needs what a full sync knows (the auctions, the orders seen):
            # with no full sync planned yet, the first scheduled run is one
            last_full = parse_iso((await self.state()).get("last_run_at"))
            full = int(await self.settings.get("full_sync_interval_minutes") or 0)
            planned = next_run(last_full, full or DEFAULT_FULL_SYNC_MINUTES) if last_full else None
            values["next_full_at"] = iso(planned)
        else:
            values["next_full_at"] = None
        await self.update_state(**values)
        self._wake.set()

    async def seconds_to_next_run(self) -> float | None:
        """Seconds until the planned auto-sync (None: off). The plan is a wall-clock time (it is
        shown, and kept across restarts); one further ahead than an interval can only come from
        the PC's clock being set back since it was planned: it is planned again from now."""
        interval = int(await self.settings.get("sync_interval_minutes") or 0)
        due = parse_iso((await self.state()).get("next_run_at"))
        if due is None or not interval:
            return None
        now = utcnow()
        delay = (due - now).total_seconds()
        if delay > interval * 60 + MAX_JITTER_SECONDS:
            planned = next_run(now, interval)
            assert planned is not None
            log.warning("auto-sync was planned %.0f s ahead (clock set back?): re-planned", delay)
            await self.update_state(next_run_at=iso(planned))
            delay = (planned - now).total_seconds()
        return max(0.0, delay)

    async def scheduler(self) -> None:
        """Sleep until the next run (or a settings change), then run a sync and wait for it.

        The sleep is measured on the event loop's clock, which the PC's clock does not move: a
        clock set back or forward meanwhile neither delays nor hastens the run (the shown
        next_run_at is corrected to match); a run already overdue when planned (the clock was
        set forward while the companion was stopped, or the PC slept) happens once, at once."""
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            try:
                delay = await self.seconds_to_next_run()
                if delay is not None and delay <= 0:
                    await self._run_scheduled()
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync scheduler: a pass failed")
                delay = 60.0
            deadline = loop.time() + (delay if delay is not None else 3600.0)
            woken = False
            while (left := deadline - loop.time()) > 0 and not woken:
                try:
                    await asyncio.wait_for(
                        self._wake.wait(), timeout=min(left, CLOCK_CHECK_SECONDS)
                    )
                    woken = True
                except TimeoutError:
                    if delay is not None:
                        await self._follow_clock(deadline - loop.time())
            if woken or delay is None:
                continue
            try:
                await self._run_scheduled()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync scheduler: a run failed")

    async def _follow_clock(self, left: float) -> None:
        """While waiting: if the PC's clock was stepped, move the shown next_run_at with it."""
        try:
            shown = parse_iso((await self.state()).get("next_run_at"))
            expected = utcnow() + timedelta(seconds=max(0.0, left))
            if (
                shown is not None
                and abs((shown - expected).total_seconds()) > 2 * CLOCK_CHECK_SECONDS
            ):
                log.warning("the PC's clock moved: next auto-sync shown at %s", iso(expected))
                await self.update_state(next_run_at=iso(expected))
        except Exception as exc:  # the run itself does not depend on it
            log.warning("could not follow the clock: %s", exc)

    async def _full_sync_due(self) -> bool:
        """With the quick check on, a scheduled run is a full sync only when the full interval
        has passed (or none has run yet); otherwise every scheduled run is a full sync."""
        interval = int(await self.settings.get("sync_interval_minutes") or 0)
        if interval != QUICK_CHECK_MINUTES:
            return True
        due = parse_iso((await self.state()).get("next_full_at"))
        return due is None or due <= utcnow()

    async def _run_scheduled(self) -> None:
        if not await self._full_sync_due():
            await self.quick_check()
            return
        job_id = await self.submit("auto")
        await self.jobs.wait(job_id)
        after = parse_iso((await self.state()).get("next_run_at"))
        if after is None or after <= utcnow():
            # the job ended without planning the next run (it never started): do not spin
            interval = int(await self.settings.get("sync_interval_minutes") or 0)
            await self.update_state(next_run_at=iso(next_run(utcnow(), interval)))

    # -- running -----------------------------------------------------------------------------------------
    async def submit(self, reason: str = "manual") -> str:
        return await self.jobs.submit(KIND, {"reason": reason}, dedupe_key=DEDUPE)

    async def run_job(self, ctx: JobContext) -> JobState | None:
        await asyncio.to_thread(self.app[DISK].check)  # not on a nearly full disk
        await ctx.set_total(len(ALL_STEPS))

        async def report(
            key: str, state: str, message: str | None, data: dict[str, Any] | None
        ) -> None:
            label = ALL_STEPS.get(key, key)
            await ctx.item(key, state, f"{label}: {message}" if message else label, data)

        summary, fault = await self.sync_once(
            report, reason=str(ctx.params.get("reason") or "manual")
        )
        if fault is not None:
            stop = JobStop(fault.code, fault.message, fault.message_en)
            stop.state = JobState.PARTIAL if summary.get("read_anything") else JobState.FAILED
            raise stop
        return None

    async def sync_once(
        self, report: Any = None, *, reason: str = "manual"
    ) -> tuple[dict[str, Any], SyncFault | None]:
        """One whole sync; returns (summary, first fault). Never raises for a Yahoo or ReCORE fault.
        A manual sync (同期開始, the CLI) tries to log in again after a login wall; an automatic one
        does not. One sync at a time across every companion on the database."""
        async with mutex(self.db, "sync"):
            return await self._sync_once(report, reason)

    async def _sync_once(self, report: Any, reason: str) -> tuple[dict[str, Any], SyncFault | None]:
        started = utcnow()
        if reason != "auto":
            await self.store.staff_acted()
        await self.update_state(running=True, started_at=iso(started))

        async def step(
            key: str, state: str, message: str | None = None, data: dict[str, Any] | None = None
        ) -> None:
            if report is not None:
                await report(key, state, message, data)

        faults: list[SyncFault] = []
        summary: dict[str, Any] = {}
        complete_at: datetime | None = None
        outbox_start = await self._outbox_max_id()
        try:
            fault = await self._recore_tasks(step)
            if fault is not None:
                faults.append(fault)
            engine = await self._yahoo(step, faults, reason)
            if engine is not None:
                summary = engine.summary.as_dict()
                summary["read_anything"] = True
                summary["sold_complete"] = engine.sold_complete
                if engine.summary.sync_kind == "full" and engine.read.selling is not None:
                    complete_at = started  # the whole selling list was read
                faults.extend(engine.faults)
            fault = await self._deliver(step, outbox_start)
            if fault is not None:
                faults.append(fault)
        except asyncio.CancelledError:
            await asyncio.shield(self.update_state(running=False))
            raise
        except Exception as exc:  # never leave the state 'running'
            problem = local_problem(exc)
            if problem is not None:
                faults.append(SyncFault.local(problem))
            else:
                log.exception("sync failed unexpectedly")
                faults.append(
                    SyncFault(
                        "UNEXPECTED",
                        "同期中に予期しないエラーが発生しました。ログを確認してください。",
                        f"unexpected {type(exc).__name__}",
                    )
                )
        local = next((f.problem for f in faults if f.problem is not None), None)
        if local is not None:
            # the PC's own trouble (a full disk): the job pauses and resumes by itself once it
            # is gone; it is not an event about ReCORE or Yahoo
            self.app[DISK].problem_seen(local)
            with contextlib.suppress(Exception):
                await self.update_state(running=False)
            raise local
        wall = next((f for f in faults if f.code.removeprefix("YAHOO_") in LOGIN_WALLS), None)
        if wall is not None:
            await self.store.hold(wall.code, wall.message)
        first = faults[0] if faults else None
        finished = utcnow()
        interval = int(await self.settings.get("sync_interval_minutes") or 0)
        result = (
            "succeeded"
            if first is None
            else ("partial" if summary.get("read_anything") else "failed")
        )
        state_values: dict[str, Any] = {
            "running": False,
            "last_run_at": iso(finished),
            "last_result": result,
            "last_error": None
            if first is None
            else {
                "code": first.code,
                "message": first.message,
                "message_en": first.message_en,
                "at": iso(finished),
            },
            "last_summary": {k: v for k, v in summary.items() if k != "problems"},
        }
        if self.app[CONFIG].workers and self.cluster.is_leader:
            state_values["next_run_at"] = iso(next_run(finished, interval))
        elif not self.cluster.shared:
            state_values["next_run_at"] = None  # one PC, no scheduler running
        # else: the leader's scheduler keeps its plan (this was `sync --once` on another PC)
        if interval == QUICK_CHECK_MINUTES:
            full = int(await self.settings.get("full_sync_interval_minutes") or 0)
            state_values["next_full_at"] = iso(
                next_run(finished, full or DEFAULT_FULL_SYNC_MINUTES)
            )
        else:
            state_values["next_full_at"] = None
        if complete_at is not None:
            state_values["last_complete_at"] = iso(complete_at)
        state_values.update(self._sold_mark_state(summary))
        if first is None or summary.get("sold_complete"):
            state_values["sold_read_at"] = iso(started)
        previous = (await self.state()).get("last_error") or {}
        await self.update_state(**state_values)
        for fault in faults:
            if fault is first and previous.get("message_en") == fault.message_en:
                continue  # the same trouble as last time: one event, not one per auto-sync
            await self.events.error("sync", fault.message, fault.message_en)
        return summary, first

    def _sold_mark_state(self, summary: dict[str, Any]) -> dict[str, Any]:
        """The newest win the last read saw: the next quick check reads 落札分 down to it."""
        engine = self.last_engine
        newest = engine.newest_sold_at if engine is not None and summary else None
        return {"quick_sold_mark": iso(newest)} if newest is not None else {}

    async def quick_check(self) -> dict[str, Any] | None:
        """The quick check (auto-sync 「1分」): the newest rows of 落札分 and 注文管理 (and 出品中
        by newest bids where the store sorts so), through the same reconcile and outbox as a
        full sync (`SyncEngine.run_quick`). Not a job: one a minute would bury the popup's job
        list; its time and result are in the sync state (`last_quick_at`). Skipped while a sync
        runs anywhere (that one reads everything). Returns its summary, or None if skipped."""
        async with mutex(self.db, "sync", wait=False) as free:
            if not free:
                return None
            return await self._quick_check()

    async def _quick_check(self) -> dict[str, Any]:
        started = utcnow()
        state = await self.state()
        engine: SyncEngine | None = None
        fault: SyncFault | None = None
        try:
            reader = await self.store.reader()
            await reader.start()  # no top page: the session shows itself on the first read
            engine = SyncEngine(
                self.db,
                self.events,
                reader,
                ec_account_id=await self.settings.get("ec_account_id"),
                mapping=dict(await self.settings.get("status_mapping") or {}),
                status_names=await self.app[TABLES].order_status_names(),
                quick=True,
                sold_mark=parse_iso(state.get("quick_sold_mark")),
            )
            await engine.run_quick()
            fault = engine.faults[0] if engine.faults else None
            if engine.summary.upserts or engine.summary.listed or engine.summary.ended_sold:
                outbox = self.app.get(OUTBOX)
                if outbox is not None:
                    outbox.wake()  # a win goes to ReCORE now, not at the outbox's next pass
        except ScraperError as exc:
            code = getattr(exc, "code", None)
            fault = SyncFault(f"YAHOO_{code}" if code else "YAHOO_UNAVAILABLE", exc.ja, exc.en)
        except Exception as exc:
            problem = local_problem(exc)
            if problem is not None:
                self.app[DISK].problem_seen(problem)
                fault = SyncFault.local(problem)
            else:
                log.exception("quick check failed unexpectedly")
                fault = SyncFault(
                    "UNEXPECTED",
                    "クイックチェック中に予期しないエラーが発生しました。ログを確認してください。",
                    f"unexpected {type(exc).__name__}",
                )
        summary = engine.summary.as_dict() if engine is not None else {}
        values: dict[str, Any] = {
            "last_quick_at": iso(started),
            "last_quick_result": "succeeded" if fault is None else "failed",
            "last_quick_summary": {k: v for k, v in summary.items() if k != "problems"},
        }
        if engine is not None and (newest := engine.newest_sold_at) is not None:
            mark = parse_iso(state.get("quick_sold_mark"))
            if mark is None or newest > mark:
                values["quick_sold_mark"] = iso(newest)
        if self.app[CONFIG].workers and self.cluster.is_leader:
            interval = int(await self.settings.get("sync_interval_minutes") or 0)
            values["next_run_at"] = iso(next_run(utcnow(), interval))
        previous = state.get("last_quick_error") or {}
        values["last_quick_error"] = (
            None if fault is None else {"code": fault.code, "message": fault.message,
                                        "message_en": fault.message_en, "at": iso(started)}
        )  # fmt: skip
        await self.update_state(**values)
        if fault is not None and previous.get("message_en") != fault.message_en:
            # once per trouble, not once a minute
            await self.events.error("sync", fault.message, fault.message_en)
        if fault is not None and fault.code.removeprefix("YAHOO_") in LOGIN_WALLS:
            await self.store.hold(fault.code, fault.message)
        return summary

    async def _recore_tasks(self, step: Any) -> SyncFault | None:
        from companion.sync.tasks import retry_open_tasks

        gateway = self.app.get(GATEWAY)
        if gateway is None or gateway.client is None:
            await step("recore_tasks", "skipped", "ReCOREの接続設定がありません")
            return None
        result = await gateway.poll_once()
        retried = await retry_open_tasks(self.app)
        if gateway.last_error is not None:
            fault = SyncFault(
                "RECORE_UNAVAILABLE",
                gateway.last_error["message"],
                gateway.last_error["message_en"],
            )
            await step("recore_tasks", "failed", fault.message)
            return fault
        await step(
            "recore_tasks",
            "succeeded",
            f"新規 {result.new}件・処理 {result.handled}件・失敗報告 {result.failed}件・再試行 {retried}件",
            {"new": result.new, "handled": result.handled, "failed": result.failed},
        )
        return None

    async def _yahoo(
        self, step: Any, faults: list[SyncFault], reason: str = "manual"
    ) -> SyncEngine | None:
        """Log in and run the engine: a light full sync when it is an automatic one with the
        quick check on and the whole selling list was read within COMPLETE_SYNC_HOURS."""
        reader = await self.store.reader()
        try:
            await reader.start(check=True)
        except ScraperError as exc:
            code = getattr(exc, "code", None)
            fault = SyncFault(f"YAHOO_{code}" if code else "YAHOO_UNAVAILABLE", exc.ja, exc.en)
            faults.append(fault)
            await step("login", "failed", fault.message)
            for key in STEPS:
                if key != "login":
                    await step(key, "skipped", "ヤフオクに接続できなかったため省略しました")
            return None
        await step("login", "succeeded", "接続しました")
        state = await self.state()
        mapping = await self.settings.get("status_mapping")
        interval = int(await self.settings.get("sync_interval_minutes") or 0)
        last_complete = parse_iso(state.get("last_complete_at"))
        light = (
            reason == "auto"
            and interval == QUICK_CHECK_MINUTES
            and last_complete is not None
            and timedelta(0) <= utcnow() - last_complete < timedelta(hours=COMPLETE_SYNC_HOURS)
        )
        engine = SyncEngine(
            self.db,
            self.events,
            reader,
            ec_account_id=await self.settings.get("ec_account_id"),
            mapping=dict(mapping or {}),
            status_names=await self.app[TABLES].order_status_names(),
            sold_watermark=default_watermark(state.get("sold_read_at")),
            report=step,
            light=light,
        )
        self.last_engine = engine
        await engine.run()
        return engine

    async def _outbox_max_id(self) -> int:
        async with self.db.session() as s:
            return int(await s.scalar(select(func.max(OutboxMessage.id))) or 0)

    async def _deliver(self, step: Any, since_id: int) -> SyncFault | None:
        """Hand the messages to the outbox; wait a little to see whether ReCORE takes them.

        Counts every pending message, not only this sync's: what an earlier sync could not send
        (ReCORE was down) is part of "the next run completes the rest"."""
        outbox = self.app.get(OUTBOX)
        recore = self.app.get(RECORE)
        if outbox is None or outbox.client is None:
            pending, _ = await self._pending()
            await step(
                "deliver",
                "skipped",
                f"ReCOREの接続設定がないため未送信 {pending}件",
                {"sent": 0, "pending": pending},
            )
            return None
        loop_running = bool(recore and recore.configuration().get("workers"))
        clock = asyncio.get_running_loop()
        deadline = clock.time() + self.options.deliver_wait
        if loop_running:
            outbox.wake()
        while True:
            if loop_running:
                pending, error = await self._pending()
                left = deadline - clock.time()
                if pending == 0 or left <= 0:
                    break
                await asyncio.sleep(min(0.2, left))
                continue
            # no delivery loop (CLI, workers off): deliver here until the deadline, waiting for
            # backoffs that end before it, but not for a ReCORE that refused this very pass. A
            # send cut at the deadline is sent again later: upserts and reports are idempotent.
            left = deadline - clock.time()
            if left <= 0:
                pending, error = await self._pending()
                break
            try:
                result = await asyncio.wait_for(outbox.deliver_now(), timeout=left)
            except TimeoutError:
                pending, error = await self._pending()
                break
            pending, error = await self._pending()
            if pending == 0 or (result.retried and not result.delivered):
                break
            wait = await outbox.next_due_in()
            left = deadline - clock.time()
            if wait is None or left <= 0 or wait > left:
                break
            await asyncio.sleep(max(wait, 0.01))
        if pending and error:
            fault = SyncFault(
                "RECORE_UNAVAILABLE",
                f"ReCOREへの送信がまだできていません（未送信 {pending}件）。自動で再送します。理由: {error}",
                f"{pending} messages not delivered yet: {error}",
            )
            sent = await self._delivered_since(since_id)
            await step("deliver", "failed", fault.message, {"sent": sent, "pending": pending})
            return fault
        sent = await self._delivered_since(since_id)
        message = f"送信 {sent}件" + (
            f"・送信中 {pending}件（バックグラウンドで続行）" if pending else ""
        )
        await step("deliver", "succeeded", message, {"sent": sent, "pending": pending})
        return None

    async def _pending(self) -> tuple[int, str | None]:
        async with self.db.session() as s:
            count = await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.state == "pending")
            )
            error = await s.scalar(
                select(OutboxMessage.last_error)
                .where(OutboxMessage.state == "pending", OutboxMessage.last_error.is_not(None))
                .limit(1)
            )
        return int(count or 0), error

    async def _delivered_since(self, since_id: int) -> int:
        async with self.db.session() as s:
            return int(
                await s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.id > since_id, OutboxMessage.state == "delivered")
                )
                or 0
            )


# ---- HTTP ----------------------------------------------------------------------------------------------
routes = web.RouteTableDef()


@routes.post("/api/v1/sync")
async def post_sync(request: web.Request) -> web.Response:
    service: SyncService = request.app[SYNC]
    job_id = await service.submit("manual")
    return web.json_response({"job_id": job_id}, status=202)


def setup(app: web.Application) -> None:
    from companion.sync.tasks import register_handlers

    app.add_routes(routes)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        service = SyncService(app)
        app[SYNC] = service
        app[JOBS].register(KIND, service.run_job, resumable=False, leader_only=True)
        register_handlers(app)
        await service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(ctx)


# ---- CLI: recore-connector sync --once -------------------------------------------------------------------
async def run_once(
    config: Config,
) -> tuple[dict[str, Any], SyncFault | None, list[tuple[str, str, str | None]]]:
    """One sync against the data dir's settings, without the HTTP server or background loops."""
    import dataclasses
    import importlib

    from companion.app import FEATURES, create_app

    # the ReCORE service must be set up before sync (its gateway gets our handlers)
    names = [n for n in FEATURES if n != "companion.sync.service"]
    if "companion.recore.service" not in names:
        names.insert(0, "companion.recore.service")
    names.append("companion.sync.service")
    app = create_app(
        dataclasses.replace(config, workers=False),
        features=[importlib.import_module(n).setup for n in names],
    )
    runner = web.AppRunner(app)
    await runner.setup()  # runs the cleanup contexts: database, ReCORE client, this feature
    steps: list[tuple[str, str, str | None]] = []

    async def report(key: str, state: str, message: str | None, data: Any) -> None:
        steps.append((ALL_STEPS.get(key, key), state, message))

    try:
        service: SyncService = app[SYNC]
        service.options.deliver_wait = max(service.options.deliver_wait, 60.0)
        summary, fault = await service.sync_once(report)
    finally:
        await runner.cleanup()
    return summary, fault, steps


def format_summary(
    summary: dict[str, Any], fault: SyncFault | None, steps: list[tuple[str, str, str | None]]
) -> str:
    marks = {"succeeded": "OK", "failed": "NG", "skipped": "--"}
    lines = [
        f"[{marks.get(state, state)}] {label}: {message or ''}" for label, state, message in steps
    ]
    if summary:
        lines.append(
            "summary: selling={selling} orders={orders} details_read={details_read} listed={listed} "
            "ended_sold={ended_sold} ended_unsold={ended_unsold} upserts={upserts} "
            "unchanged={unchanged_orders} yahoo_requests={yahoo_requests}".format(**summary)
        )
    lines.append(
        "result: " + ("succeeded" if fault is None else f"{fault.code}: {fault.message_en}")
    )
    return "\n".join(lines)
