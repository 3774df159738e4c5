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

Yahoo access: the logged-in browser session (`scrapers.session.BrowserSession`, shared as
`app[YAHOO_BROWSER]`) is used to log in; its cookies are then used for plain HTTP
(`scrapers.sync_reader.StoreHttp`). Cookies are kept in memory between syncs; the browser is asked
again only when Yahoo answers with its login page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
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
    DIRECT_LISTING,
    EVENTS,
    GATEWAY,
    JOBS,
    OUTBOX,
    RECORE,
    SETTINGS,
    SYNC,
    YAHOO_BROWSER,
)
from companion.settings import YAHOO_ACCOUNT_KEYS
from companion.sync.engine import STEPS, SyncEngine, SyncFault, default_watermark
from scrapers import sync_pages as pages
from scrapers import sync_site as site
from scrapers.errors import ScraperError
from scrapers.site import YahooUrls
from scrapers.sync_reader import SessionExpired, StoreHttp

log = logging.getLogger(__name__)

KIND = "sync"
DEDUPE = "sync"
STATE_KEY = "sync"  # internal setting read by companion.status
STORE_ID_KEY = "yahoo_store_id"
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


def jitter_seconds(interval_minutes: int) -> float:
    """Up to 5 % of the interval, at most a minute: many shops never hit Yahoo in the same second."""
    return random.uniform(0, min(60.0, interval_minutes * 60 * 0.05))


def next_run(after: datetime, interval_minutes: int) -> datetime | None:
    if interval_minutes <= 0:
        return None
    return after + timedelta(minutes=interval_minutes, seconds=jitter_seconds(interval_minutes))


@dataclass
class SyncOptions:
    """Tuning for tests and the benchmark."""

    concurrency: int = 6  # Yahoo requests at a time
    deliver_wait: float = 15.0  # seconds a sync waits to see its messages reach ReCORE
    retry_delay: float = 0.5
    headless: bool = True


SYNC_OPTIONS = web.AppKey("sync_options", SyncOptions)


class YahooAccess:
    """The store's URLs and a logged-in cookie set, from the shared browser session."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._cookies: list[dict[str, Any]] | None = None
        self._base: str | None = None
        self._lock = asyncio.Lock()
        # set after a login wall: {"code", "message"}; cleared by 同期開始 or a settings change
        self.blocked: dict[str, str] | None = None

    def forget(self) -> None:
        self._cookies = None
        self.blocked = None

    async def _base_url(self) -> str | None:
        return await self.app[SETTINGS].get("yahoo_base_url")

    async def browser(self, urls: YahooUrls) -> Any:
        """The app's one BrowserSession: a persistent profile can be opened by one Chromium only,
        so the direct listing's session is used when that feature is there."""
        from scrapers.session import BrowserSession, Credentials

        direct = self.app.get(DIRECT_LISTING)
        if direct is not None:
            return await direct.browser()
        existing = self.app.get(YAHOO_BROWSER)
        if existing is not None and existing.urls.serinavi_origin == urls.serinavi_origin:
            return existing
        if existing is not None:
            await existing.close()
        from companion.direct.service import stored_credentials

        settings = self.app[SETTINGS]

        async def credentials() -> Credentials:
            return await stored_credentials(settings)

        options = self.app.get(SYNC_OPTIONS) or SyncOptions()
        session = BrowserSession(
            self.app[CONFIG].browser_profile_dir, urls, credentials, headless=options.headless
        )
        self.app[YAHOO_BROWSER] = session
        return session

    async def urls(self) -> site.SyncUrls:
        base = await self._base_url()
        if base != self._base:
            self._cookies, self._base = None, base
        store_id = await self.app[SETTINGS].get_internal(STORE_ID_KEY)
        return site.SyncUrls(YahooUrls.for_base(base, store_id))

    async def login(self) -> list[dict[str, Any]]:
        """Log in through the browser (stored credentials; walls raise `WallError`)."""
        from scrapers.errors import WallError

        if self.blocked is not None:
            raise WallError(
                "LOGIN_BLOCKED",
                "前回のヤフオクへのログインで人の操作が必要になったため、自動ではログインしません"
                f"（{self.blocked.get('message', '')}）。原因を直して「同期開始」を押してください。",
                f"automatic login held back after {self.blocked.get('code')}; staff must act",
            )
        async with self._lock:
            urls = await self.urls()
            browser = await self.browser(urls.base)
            async with browser.use():
                page = await browser.new_page()
                try:
                    await browser.open(page, urls.base.serinavi_top())
                finally:
                    await page.close()
                self._cookies = await browser.cookies()
            return self._cookies

    async def open(
        self, http_session: aiohttp.ClientSession, options: SyncOptions
    ) -> tuple[StoreHttp, site.SyncUrls]:
        """A StoreHttp with working cookies, and the URLs with the store id known."""
        urls = await self.urls()
        cookies = self._cookies if self._cookies is not None else await self.login()
        http = StoreHttp(
            http_session, cookies, concurrency=options.concurrency, retry_delay=options.retry_delay
        )
        try:
            top = await http.get(urls.base.serinavi_top(), "競りナビ")
        except SessionExpired:
            http.cookies = await self.login()
            top = await http.get(urls.base.serinavi_top(), "競りナビ")
        if not urls.base.store_id:
            store_id = pages.find_store_id(top)
            if not store_id:
                raise pages.LayoutChanged("競りナビ", "注文管理（ストアクリエイターPro）へのリンク")
            await self.app[SETTINGS].set_internal(STORE_ID_KEY, store_id)
            urls = await self.urls()
        return http, urls


class SyncService:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.db = app[DB]
        self.settings = app[SETTINGS]
        self.events = app[EVENTS]
        self.jobs = app[JOBS]
        self.cluster = app[CLUSTER]
        self.options = app.get(SYNC_OPTIONS) or SyncOptions()
        self.access = YahooAccess(app)
        self.http_session: aiohttp.ClientSession | None = None
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
        self.http_session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        await self._forget_a_cut_sync()
        self.access.blocked = (await self.state()).get("login_blocked")
        self.settings.on_change(self._account_changed)
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
        self.access.blocked = state.get("login_blocked")
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
        browser = self.app.get(YAHOO_BROWSER)
        if browser is not None:
            await browser.close()
        if self.http_session is not None:
            await self.http_session.close()

    def _account_changed(self, keys: set[str]) -> None:
        if keys & YAHOO_ACCOUNT_KEYS:
            # another store or login: never reuse the old cookies or the old store id
            self.access.forget()
            own_browser = self.app.get(YAHOO_BROWSER)
            if own_browser is not None:
                own_browser.account_changed()
            loop = asyncio.get_running_loop()
            loop.create_task(self.settings.set_internal(STORE_ID_KEY, None))
            loop.create_task(self.update_state(login_blocked=None))

    def _settings_changed(self, keys: set[str]) -> None:
        # here or on another PC: the leader's scheduler plans anew
        if "sync_interval_minutes" in keys and self.cluster.is_leader:
            asyncio.get_running_loop().create_task(self._reschedule())

    async def _reschedule(self) -> None:
        interval = int(await self.settings.get("sync_interval_minutes") or 0)
        await self.update_state(next_run_at=iso(next_run(utcnow(), interval)))
        self._wake.set()

    async def scheduler(self) -> None:
        """Sleep until next_run_at (or a settings change), then run a sync and wait for it."""
        while True:
            self._wake.clear()
            try:
                state = await self.state()
                due = parse_iso(state.get("next_run_at"))
                delay = None if due is None else (due - utcnow()).total_seconds()
                if delay is not None and delay <= 0:
                    job_id = await self.submit("auto")
                    await self.jobs.wait(job_id)
                    after = parse_iso((await self.state()).get("next_run_at"))
                    if after is not None and after <= utcnow():
                        # the job ended without planning the next run (it never started): do not
                        # spin; plan from now
                        interval = int(await self.settings.get("sync_interval_minutes") or 0)
                        planned = next_run(utcnow(), interval)
                        await self.update_state(next_run_at=iso(planned))
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync scheduler: a pass failed")
                delay = 60.0
            try:
                # at most an hour at a time: a changed clock or a lost wake-up heals itself
                await asyncio.wait_for(self._wake.wait(), timeout=min(delay or 3600.0, 3600.0))
            except TimeoutError:
                pass

    # -- running -----------------------------------------------------------------------------------------
    async def submit(self, reason: str = "manual") -> str:
        return await self.jobs.submit(KIND, {"reason": reason}, dedupe_key=DEDUPE)

    async def run_job(self, ctx: JobContext) -> JobState | None:
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
            self.access.blocked = None
        await self.update_state(running=True, started_at=iso(started))

        async def step(
            key: str, state: str, message: str | None = None, data: dict[str, Any] | None = None
        ) -> None:
            if report is not None:
                await report(key, state, message, data)

        faults: list[SyncFault] = []
        summary: dict[str, Any] = {}
        outbox_start = await self._outbox_max_id()
        try:
            fault = await self._recore_tasks(step)
            if fault is not None:
                faults.append(fault)
            engine = await self._yahoo(step, faults)
            if engine is not None:
                summary = engine.summary.as_dict()
                summary["read_anything"] = True
                summary["sold_complete"] = engine.sold_complete
                faults.extend(engine.faults)
            fault = await self._deliver(step, outbox_start)
            if fault is not None:
                faults.append(fault)
        except asyncio.CancelledError:
            await asyncio.shield(self.update_state(running=False))
            raise
        except Exception as exc:  # never leave the state 'running'
            log.exception("sync failed unexpectedly")
            faults.append(
                SyncFault(
                    "UNEXPECTED",
                    "同期中に予期しないエラーが発生しました。ログを確認してください。",
                    f"unexpected {type(exc).__name__}",
                )
            )
        wall = next((f for f in faults if f.code.removeprefix("YAHOO_") in LOGIN_WALLS), None)
        if wall is not None:
            self.access.blocked = {"code": wall.code, "message": wall.message}
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
            "login_blocked": self.access.blocked,
        }
        if self.app[CONFIG].workers and self.cluster.is_leader:
            state_values["next_run_at"] = iso(next_run(finished, interval))
        elif not self.cluster.shared:
            state_values["next_run_at"] = None  # one PC, no scheduler running
        # else: the leader's scheduler keeps its plan (this was `sync --once` on another PC)
        if first is None or summary.get("sold_complete"):
            state_values["sold_read_at"] = iso(started)
        previous = (await self.state()).get("last_error") or {}
        await self.update_state(**state_values)
        for fault in faults:
            if fault is first and previous.get("message_en") == fault.message_en:
                continue  # the same trouble as last time: one event, not one per auto-sync
            await self.events.error("sync", fault.message, fault.message_en)
        return summary, first

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
        )
        return None

    async def _yahoo(self, step: Any, faults: list[SyncFault]) -> SyncEngine | None:
        assert self.http_session is not None
        try:
            http, urls = await self.access.open(self.http_session, self.options)
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
        engine = SyncEngine(
            self.db,
            self.events,
            http,
            urls,
            ec_account_id=await self.settings.get("ec_account_id"),
            mapping=dict(mapping or {}),
            relogin=self.access.login,
            sold_watermark=default_watermark(state.get("sold_read_at")),
            report=step,
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
            await step("deliver", "skipped", f"ReCOREの接続設定がないため未送信 {pending}件")
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
            await step("deliver", "failed", fault.message)
            return fault
        sent = await self._delivered_since(since_id)
        message = f"送信 {sent}件" + (
            f"・送信中 {pending}件（バックグラウンドで続行）" if pending else ""
        )
        await step("deliver", "succeeded", message)
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
    import importlib

    from companion.app import FEATURES, create_app

    # the ReCORE service must be set up before sync (its gateway gets our handlers)
    names = [n for n in FEATURES if n != "companion.sync.service"]
    if "companion.recore.service" not in names:
        names.insert(0, "companion.recore.service")
    names.append("companion.sync.service")
    app = create_app(
        Config(
            data_dir=config.data_dir,
            port=config.port,
            database_url=config.database_url,
            workers=False,
        ),
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
