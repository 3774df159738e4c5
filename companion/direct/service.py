"""直接出品を実行: list a batch on the Yahoo store through its own pages (Playwright).

Job kind `direct_listing` (resumable), one job per batch (dedupe key `batch:<id>`):

1. Items of the batch already listed count as done; items that already have a result in this job
   (a resumed job) are not tried again.
2. Pre-flight: log in if needed, open the item form and check every selector the run needs. One
   missing (the page changed) → the job fails naming it, and nothing is listed.
3. The store's item list (every page) is read once: a 管理番号 already on the store is recorded as
   listed with the auction id found there and reported `succeeded` — never listed twice. This is
   also what makes a crash safe: after a restart the resumed job finds what was submitted just
   before the crash.
4. Each other item: form → 確認する → 出品する → auction id from the completion page; then ONE
   transaction marks the listing 出品中 and enqueues the `succeeded` report (outbox, one report per
   task). A failure keeps the item 出品処理中 in its batch with the page's own error text.
5. A wall (SMS認証, captcha, a login that will not renew) pauses the job with a Japanese message;
   pressing 直接出品を実行 again (same dedupe key) resumes it from where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError
from sqlalchemy import select

from companion.cluster import mutex
from companion.config import Config
from companion.db.models import ListingRecord, utcnow
from companion.domain import Listing, ListingState
from companion.jobs import JobContext, JobFailed, JobPaused, JobState
from companion.keys import BATCHES, CONFIG, DB, DIRECT_LISTING, EVENTS, JOBS, OUTBOX, SETTINGS
from companion.listing import yahoo_format as yf
from companion.listing.batches import BatchError, Batches, batch_error_response, pending_source_ids
from companion.listing.images import ImageStore, PreparedImage
from companion.recore import outbox as ob
from companion.recore.client import listing_from_inventory, succeeded_body
from companion.settings import YAHOO_ACCOUNT_KEYS, SettingsStore
from scrapers import parse
from scrapers.errors import ItemError, LayoutChanged, SessionLost, WallError
from scrapers.pages import ItemCreatePage, ItemListPage
from scrapers.session import BrowserSession, Credentials
from scrapers.site import YahooUrls

log = logging.getLogger(__name__)
T = TypeVar("T")

JOB_KIND = "direct_listing"
EVENT_SOURCE = "direct_listing"
MAX_CONCURRENCY = 4
MAX_ATTEMPTS = 3  # per item, for answers that say "try again" (busy, expired draft, timeouts)
# Seconds between two 出品する presses across all pages: gentle on the store. Tests set 0.
PACING_ENV = "RECORE_CONNECTOR_DIRECT_PACING_SECONDS"
DEFAULT_PACING = 1.0
# Chromium closes this many seconds after the last job used it.
IDLE_ENV = "RECORE_CONNECTOR_BROWSER_IDLE_SECONDS"
DEFAULT_IDLE = 60.0
# Retry backoff base (seconds) for busy pages; tests set it small.
RETRY_DELAY_ENV = "RECORE_CONNECTOR_DIRECT_RETRY_SECONDS"


def _env_float(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


async def stored_credentials(settings: SettingsStore) -> Credentials:
    """The Yahoo store login as the options page saved it (secrets decrypted only here)."""
    return Credentials(
        yahoo_id=await settings.get("yahoo_id"),
        password=await settings.secret("yahoo_password"),
        business_id=await settings.get("business_id"),
        business_password=await settings.secret("business_password"),
    )


def dedupe_key(batch_id: int) -> str:
    return f"batch:{batch_id}"


def item_key(record: ListingRecord) -> str:
    return record.management_number or f"#{record.id}"


class Pacer:
    """At most one submission per `interval` seconds, whatever the number of pages."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if self.interval <= 0:
            return
        loop = asyncio.get_running_loop()
        async with self._lock:
            delay = self._next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = loop.time() + self.interval


class DirectListing:
    """The service behind the routes and the job (`app[DIRECT_LISTING]`)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.db = app[DB]
        self.settings = app[SETTINGS]
        self.config = app[CONFIG]
        self.pacing = _env_float(PACING_ENV, DEFAULT_PACING)
        # one pace for every run (runs take turns, see JobRunner): the next batch's first 出品する
        # keeps its distance from the last one of the batch before
        self.pacer = Pacer(self.pacing)
        self.idle_timeout = _env_float(IDLE_ENV, DEFAULT_IDLE)
        self.retry_delay = _env_float(RETRY_DELAY_ENV, 1.0)
        self.headless = True
        self._session: BrowserSession | None = None
        self._session_base: str | None = None

    @property
    def batches(self) -> Batches:
        return self.app[BATCHES]

    async def credentials(self) -> Credentials:
        return await stored_credentials(self.settings)

    async def browser(self) -> BrowserSession:
        """The store session, re-made when the Yahoo address setting changed."""
        base = await self.settings.get("yahoo_base_url")
        if self._session is not None and self._session_base != base:
            await self._session.close()
            self._session = None
        if self._session is None:
            self._session = BrowserSession(
                self.config.browser_profile_dir,
                YahooUrls.for_base(base),
                self.credentials,
                headless=self.headless,
                idle_timeout=self.idle_timeout,
                busy_delay=self.retry_delay,
            )
            self._session_base = base
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def settings_changed(self, keys: set[str]) -> None:
        if keys & YAHOO_ACCOUNT_KEYS and self._session is not None:
            # another login: the profile's cookies are checked (and cleared) before the next use
            self._session.account_changed()

    async def concurrency(self) -> int:
        value = await self.settings.get("direct_listing_concurrency")
        try:
            return max(1, min(MAX_CONCURRENCY, int(value or 1)))
        except (TypeError, ValueError):
            return 1

    async def start(self, batch_id: int) -> str:
        """Start (or join, or resume) the direct listing of one batch."""
        await self.batches._load(batch_id)  # 404 early
        return await self.app[JOBS].submit(
            JOB_KIND, {"batch_id": batch_id}, dedupe_key=dedupe_key(batch_id)
        )

    async def handle(self, ctx: JobContext) -> JobState | None:
        # one run of a batch at a time, across every companion on the database
        async with mutex(self.db, f"direct-listing:batch:{ctx.params.get('batch_id')}"):
            return await _Run(self, ctx).go()


@dataclass
class _Stop:
    """Why the run stops early (all workers finish their item, then the job ends this way)."""

    error: WallError | LayoutChanged


class _Run:
    def __init__(self, service: DirectListing, ctx: JobContext) -> None:
        self.service = service
        self.ctx = ctx
        self.db = service.db
        self.stop: _Stop | None = None
        self.store: dict[str, parse.ListedItem] = {}
        self.pacer = service.pacer
        self.session: BrowserSession | None = None
        self.images: ImageStore | None = None
        self.staging: Path | None = None
        # recordings of listed items run beside the next item (see _one)
        self.recording: set[asyncio.Task[None]] = set()

    # --- the run --------------------------------------------------------------------------------
    async def go(self) -> JobState | None:
        try:
            batch_id = int(self.ctx.params["batch_id"])
            _batch, records = await self.service.batches._load(batch_id)
        except (KeyError, TypeError, ValueError):
            raise JobFailed(
                "BAD_PARAMS", "出品リストの指定が正しくありません", "bad batch id"
            ) from None
        except BatchError as exc:
            raise JobFailed(exc.code, exc.message, exc.message_en) from None
        await self.ctx.set_total(len(records))
        done = await self.ctx.results()
        todo: list[ListingRecord] = []
        for record in records:
            key = item_key(record)
            if record.state == ListingState.LISTED:
                if done.get(key, {}).get("state") != "succeeded":
                    await self.ctx.item(
                        key,
                        "succeeded",
                        f"出品済みです（オークションID {record.auction_id}）",
                        {
                            "listing_id": record.id,
                            "auction_id": record.auction_id,
                            "auction_url": record.auction_url,
                            "already": True,
                        },
                    )
            elif record.state == ListingState.PROCESSING and key not in done:
                todo.append(record)
            elif key not in done:
                await self.ctx.item(
                    key,
                    "skipped",
                    "出品処理中ではないため、出品しませんでした",
                    {"listing_id": record.id, "state": record.state},
                )
        if not todo:
            return None
        log.info("direct listing of batch %s: %d items to do", batch_id, len(todo))
        self.session = await self.service.browser()
        workers = min(await self.service.concurrency(), len(todo))
        self.staging = self.service.config.cache_dir / "direct-upload" / self.ctx.job_id
        self.staging.mkdir(parents=True, exist_ok=True)
        try:
            await self._run_browser(todo, workers)
        except PlaywrightError as exc:
            # Chromium would not start or the store's pages did not answer before any item
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            await self._raise_stop(
                WallError(
                    "BROWSER",
                    "ブラウザーでヤフオクの画面を開けなかったため、一時停止しました。"
                    "インターネット接続を確認し、しばらくしてからもう一度「直接出品を実行」を押してください。"
                    "続きから再開します。",
                    f"the browser could not open the store pages: {first}",
                )
            )
        if self.stop is not None:
            await self._raise_stop(self.stop.error)
        return None

    async def _run_browser(self, todo: list[ListingRecord], workers: int) -> None:
        assert self.session is not None and self.staging is not None
        async with self.service.batches.image_store() as images, self.session.use() as context:
            self.images = images
            pages = [await context.new_page() for _ in range(workers)]
            forms = [ItemCreatePage(page, self.session) for page in pages]
            try:
                await self._preflight(context, forms[0])
                queue: asyncio.Queue[ListingRecord] = asyncio.Queue()
                for record in todo:
                    queue.put_nowait(record)
                await asyncio.gather(*(self._worker(context, form, queue) for form in forms))
            finally:
                await asyncio.gather(*self.recording)
                for page in pages:
                    try:
                        await page.close()
                    except PlaywrightError:
                        pass
                await asyncio.to_thread(shutil.rmtree, self.staging, ignore_errors=True)

    async def _preflight(self, context: BrowserContext, form: ItemCreatePage) -> None:
        assert self.session is not None
        try:
            await form.check_layout()
            self.store = await self._read_store(context)
        except (WallError, LayoutChanged) as exc:
            await self._raise_stop(exc)
        except ItemError as exc:  # the item list stayed busy: nothing can be checked, so wait
            await self._raise_stop(
                WallError(
                    "YAHOO_BUSY",
                    f"ヤフオクの商品一覧を確認できなかったため、一時停止しました（{exc.ja}）。"
                    "しばらくしてから、もう一度「直接出品を実行」を押してください。",
                    exc.en,
                )
            )
        log.info("store has %d items; pre-flight passed", len(self.store))

    async def _read_store(self, context: BrowserContext) -> dict[str, parse.ListedItem]:
        assert self.session is not None
        reader = ItemListPage(context.request, self.session)
        return await self._logged_in(context, reader.management_numbers)

    async def _logged_in(self, context: BrowserContext, read: Callable[[], Awaitable[T]]) -> T:
        """A list read over HTTP with the browser's cookies; a lost session is renewed once
        through a page (the store's login runs in the browser) and the read tried again."""
        assert self.session is not None
        try:
            return await read()
        except SessionLost:
            page = await context.new_page()
            try:
                await self.session.open(page, self.session.urls.serinavi_top())
            finally:
                await page.close()
            return await read()

    async def _raise_stop(self, exc: WallError | LayoutChanged) -> None:
        events = self.service.app[EVENTS]
        if isinstance(exc, WallError):
            await events.record("warning", EVENT_SOURCE, exc.ja, exc.en)
            raise JobPaused(exc.code, exc.ja, exc.en)
        await events.error(EVENT_SOURCE, exc.ja, exc.en)
        raise JobFailed("LAYOUT_CHANGED", exc.ja, exc.en)

    async def _worker(
        self, context: BrowserContext, form: ItemCreatePage, queue: asyncio.Queue[ListingRecord]
    ) -> None:
        while self.stop is None:
            try:
                record = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                await self._one(context, form, record)
            except (WallError, LayoutChanged) as exc:
                # this item has no result: a resumed job tries it again
                self.stop = _Stop(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("direct listing of %s failed unexpectedly", item_key(record))
                await self._failed(
                    record,
                    f"予期しないエラーで出品できませんでした（{type(exc).__name__}）",
                    f"unexpected {type(exc).__name__}: {exc}",
                )

    # --- one item -------------------------------------------------------------------------------
    async def _one(
        self, context: BrowserContext, form: ItemCreatePage, record: ListingRecord
    ) -> None:
        """One item, its 管理番号 claimed across every companion on the database until it is
        recorded: another PC listing the same 管理番号 waits, then finds it listed."""
        claim = contextlib.AsyncExitStack()
        await claim.enter_async_context(mutex(self.db, f"direct-listing:{item_key(record)}"))
        recording: Awaitable[None] | None = None
        try:
            recording = await self._one_claimed(context, form, record)
        finally:
            if recording is None:
                await claim.aclose()
        if recording is None:
            return

        async def record_then_release() -> None:
            try:
                await recording
            finally:
                await claim.aclose()

        # the database commit and the report run while this page opens the next form;
        # a crash before the commit is covered by the item list read at the next start
        task = asyncio.create_task(record_then_release())
        self.recording.add(task)
        task.add_done_callback(self.recording.discard)

    async def _one_claimed(
        self, context: BrowserContext, form: ItemCreatePage, record: ListingRecord
    ) -> Awaitable[None] | None:
        """List one item; returns the recording of a fresh listing (to run in the background)."""
        # Re-read: a task handled since the job started (sold in the shop → ended, or edited in
        # ReCORE) wins over what the job loaded; an item no longer 出品処理中 here is not listed.
        async with self.db.session() as s:
            fresh = await s.get(ListingRecord, record.id)
        if (
            fresh is None
            or fresh.state != ListingState.PROCESSING
            or fresh.batch_id != record.batch_id
        ):
            await self.ctx.item(
                item_key(record),
                "skipped",
                "出品中に状態が変わったため（店頭での販売など）、出品しませんでした",
                {"listing_id": record.id, "state": fresh.state if fresh else None},
            )
            return None
        record = fresh
        listing = listing_from_inventory(record.inventory)
        number = listing.management_number or record.management_number or ""
        found = self.store.get(number)
        if found is not None:
            await self._listed(record, listing, found.auction_id or found.item_id, already=True)
            return None
        # listed since the store was read, by a run on another PC (another batch, same 管理番号)
        elsewhere = await self._listed_elsewhere(record, number)
        if elsewhere is not None:
            await self._listed(record, listing, elsewhere, already=True)
            return None
        assert self.images is not None
        prepared, errors = await self.images.prepare_listing(listing)
        if errors:
            await self._failed(
                record,
                "、".join(e.message for e in errors),
                "; ".join(e.message_en for e in errors),
            )
            return None
        paths = await asyncio.to_thread(self._stage, number or str(record.id), prepared)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            submitted = False
            clock = asyncio.get_running_loop().time
            marks = [clock()]
            try:
                await form.open()
                marks.append(clock())
                await form.fill(listing, paths)
                marks.append(clock())
                await form.confirm()
                marks.append(clock())
                await self.pacer.wait()
                submitted = True
                completion = await form.submit()
                marks.append(clock())
            except SessionLost:
                # sent to the login page: the next form.open() logs in again. Whether 出品する
                # got through is for the item list to say.
                if await self._found_after_doubt(context, record, listing, number):
                    return None
                continue
            except ItemError as exc:
                if exc.maybe_listed and await self._found_after_doubt(
                    context, record, listing, number
                ):
                    return None
                if exc.retry and attempt < MAX_ATTEMPTS:
                    log.info("%s: %s; trying again", number, exc.en)
                    await asyncio.sleep(self.service.retry_delay * attempt)
                    continue
                await self._failed(record, exc.ja, exc.en)
                return None
            except (PlaywrightError, TimeoutError) as exc:
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                if submitted and await self._found_after_doubt(context, record, listing, number):
                    return None
                if attempt < MAX_ATTEMPTS:
                    log.info("%s: browser error %s; trying again", number, first)
                    await asyncio.sleep(self.service.retry_delay * attempt)
                    continue
                await self._failed(
                    record,
                    "ヤフオクの画面が応答しませんでした。時間をおいてもう一度お試しください。",
                    f"browser error: {first}",
                )
                return None
            steps = ", ".join(
                f"{name} {b - a:.2f}"
                for name, a, b in zip(
                    ("form", "fill", "confirm", "submit"), marks, marks[1:], strict=False
                )
            )
            log.info("%s: 出品する answered %s (s: %s)", number, completion.auction_id, steps)
            return self._listed(record, listing, completion.auction_id, already=False)
        await self._failed(
            record,
            "ヤフオクのログインが繰り返し切れたため、出品できませんでした。",
            "the session was lost on every attempt",
        )

    async def _listed_elsewhere(self, record: ListingRecord, number: str) -> str | None:
        """The auction id of another listing of this 管理番号 that is 出品中, if there is one."""
        if not number:
            return None
        async with self.db.session() as s:
            return await s.scalar(
                select(ListingRecord.auction_id)
                .where(
                    ListingRecord.management_number == number,
                    ListingRecord.state == ListingState.LISTED,
                    ListingRecord.id != record.id,
                    ListingRecord.auction_id.is_not(None),
                )
                .limit(1)
            )

    def _stage(self, number: str, prepared: list[PreparedImage]) -> list[Path]:
        """The checked images under the names the store sees (`<管理番号>_<n>.jpg`, as in the
        zip): hard links to the cached files (a copy where links are not possible)."""
        assert self.staging is not None
        out = []
        for n, image in enumerate(prepared, start=1):
            target = self.staging / yf.image_file_name(number, n, image.ext)
            if not target.exists():
                try:
                    os.link(image.path, target)
                except OSError:
                    shutil.copyfile(image.path, target)
            out.append(target)
        return out

    async def _found_after_doubt(
        self, context: BrowserContext, record: ListingRecord, listing: Listing, number: str
    ) -> bool:
        """After a doubtful 出品する: is the 管理番号 on the store now (newest items first)?"""
        assert self.session is not None
        reader = ItemListPage(context.request, self.session)
        found = await self._logged_in(context, lambda: reader.find(number, pages=2))
        if found is None:
            return False
        log.info("%s was listed although the answer was unclear (%s)", number, found.auction_id)
        await self._listed(record, listing, found.auction_id or found.item_id, already=True)
        return True

    async def _listed(
        self, record: ListingRecord, listing: Listing, auction_id: str, *, already: bool
    ) -> None:
        """One transaction: the listing is 出品中 and its `succeeded` report is in the outbox."""
        assert self.session is not None
        url = self.session.urls.auction(auction_id)
        async with self.db.session() as s, s.begin():
            row = await s.get(ListingRecord, record.id)
            if row is None:
                return
            if row.state == ListingState.ENDED:
                # ended (sold in the shop) while its form was being submitted: it stays ended;
                # the live auction must be ended by staff (a double sale otherwise)
                row.auction_id, row.auction_url = auction_id, url
                ended_meanwhile = True
            else:
                ended_meanwhile = False
        if ended_meanwhile:
            number = record.management_number or str(record.id)
            await self.service.app[EVENTS].error(
                "direct_listing",
                f"管理番号 {number}: 出品の途中で店頭販売などにより終了されました。"
                f"ヤフオクのオークション {auction_id} を終了してください（二重販売の防止）。",
                f"{number} ended while being listed; end auction {auction_id} on Yahoo",
            )
            await self.ctx.item(
                item_key(record),
                "failed",
                f"出品中に終了されました。オークション {auction_id} を終了してください",
                {"listing_id": record.id, "auction_id": auction_id},
            )
            return
        async with self.db.session() as s, s.begin():
            row = await s.get(ListingRecord, record.id)
            if row is None:
                return
            row.state = ListingState.LISTED
            row.auction_id = auction_id
            row.auction_url = url
            row.listed_at = utcnow()
            row.last_attempt_error = None
            if row.task_id:
                await ob.enqueue_task_succeeded(
                    s,
                    row.task_id,
                    succeeded_body(listing, auction_id=auction_id, auction_url=url),
                    ob.listing_key(row.id),
                )
        outbox = self.service.app.get(OUTBOX)
        if outbox is not None:
            outbox.wake()
        message = (
            f"既にヤフオクに出品されていたため、出品済みとして記録しました（オークションID {auction_id}）"
            if already
            else f"出品しました（オークションID {auction_id}）"
        )
        await self.ctx.item(
            item_key(record),
            "succeeded",
            message,
            {
                "listing_id": record.id,
                "auction_id": auction_id,
                "auction_url": url,
                "already": already,
            },
        )
        log.info("listed %s as %s%s", item_key(record), auction_id, " (found)" if already else "")

    async def _failed(self, record: ListingRecord, ja: str, en: str) -> None:
        """The item stays 出品処理中 in its batch; the page's own words are kept for staff."""
        async with self.db.session() as s, s.begin():
            row = await s.get(ListingRecord, record.id)
            if row is not None:
                row.last_attempt_error = ja
        number = record.management_number or f"ID {record.id}"
        await self.ctx.item(
            item_key(record), "failed", f"管理番号 {number}: {ja}", {"listing_id": record.id}
        )
        log.warning("direct listing of %s failed: %s", item_key(record), en)


# --- HTTP ------------------------------------------------------------------------------------------
routes = web.RouteTableDef()


def _service(request: web.Request) -> DirectListing:
    return request.app[DIRECT_LISTING]


@routes.post("/api/v1/batches/{batch_id}/direct-listing")
async def post_batch_direct_listing(request: web.Request) -> web.Response:
    try:
        batch_id = int(request.match_info["batch_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    service = _service(request)
    try:
        await service.batches.get(batch_id)
    except BatchError as exc:
        return batch_error_response(exc)
    # a batch with nothing open still gets a job: it records every item as already listed
    job_id = await service.start(batch_id)
    return web.json_response({"job_id": job_id, "batch_id": batch_id}, status=202)


@routes.post("/api/v1/direct-listing")
async def post_direct_listing(request: web.Request) -> web.Response:
    service = _service(request)
    try:
        batch = await service.batches.create(await pending_source_ids(request))
    except BatchError as exc:
        if exc.code == "NOTHING_PENDING":
            # the pause message says "press 直接出品を実行 again": with nothing new waiting, that
            # press resumes the paused run instead of answering "nothing to list"
            paused = [
                j
                for j in await request.app[JOBS].list(JOB_KIND, limit=20)
                if j["state"] == "paused"
            ]
            if paused:
                batch_id = int(paused[0]["params"]["batch_id"])
                job_id = await service.start(batch_id)
                return web.json_response({"job_id": job_id, "batch_id": batch_id}, status=202)
        return batch_error_response(exc)
    if not batch.get("item_count"):
        return web.json_response(
            {
                "error": {
                    "code": "NOTHING_VALID",
                    "message": "出品できる商品がありません。エラーを確認してください。",
                    "message_en": "no listing passed the checks",
                },
                "batch": batch,
            },
            status=409,
        )
    job_id = await service.start(batch["id"])
    return web.json_response({"job_id": job_id, "batch_id": batch["id"]}, status=202)


async def _ctx(app: web.Application) -> AsyncIterator[None]:
    service = DirectListing(app)
    app[DIRECT_LISTING] = service
    app[JOBS].register(JOB_KIND, service.handle, resumable=True)
    app[SETTINGS].on_change(service.settings_changed)
    yield
    await service.close()


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    app.cleanup_ctx.append(_ctx)


__all__ = ["JOB_KIND", "DirectListing", "dedupe_key", "setup"]


# --- `recore-connector login`: staff log in once, SMS and all ---------------------------------------
async def login_once(
    config: Config, *, visible: bool | None = None, wait_seconds: float = 600
) -> int:
    """Open the store with the connector's own browser profile and log in.

    With a display a window opens: what the settings hold is filled in, staff do the rest (SMS
    code, captcha) and the session is kept in the profile for the unattended runs. Without one the
    stored login is tried headless and the outcome printed. Returns a process exit code.
    """
    from companion.db import Database
    from companion.secretbox import SecretBox
    from scrapers.session import has_display

    show = has_display() if visible is None else visible
    db = Database(config.db_url)
    try:
        await db.migrate()
        settings = SettingsStore(db, SecretBox.load(config.data_dir))

        async def credentials() -> Credentials:
            return await stored_credentials(settings)

        urls = YahooUrls.for_base(await settings.get("yahoo_base_url"))
        session = BrowserSession(
            config.browser_profile_dir, urls, credentials, headless=not show, idle_timeout=0
        )
        try:
            if show:
                print("ブラウザーでヤフオクのログイン画面を開きます。ログインを完了してください。")
                print("Opening the Yahoo login in a browser window; please complete it.")
                ok = await session.interactive_login(wait_seconds=wait_seconds)
                if not ok:
                    print("ログインが完了しませんでした。 / The login did not complete.")
                return 0 if ok else 1
            async with session.use():
                page = await session.new_page()
                try:
                    await session.open(page, urls.serinavi_top())
                except WallError as wall:
                    print(wall.ja)
                    print(wall.en)
                    print(
                        "画面のあるコンピューターで実行すると、ウィンドウで手動ログインできます。"
                        " / Run this where a display is available to log in by hand."
                    )
                    return 1
            print(
                "ヤフオクにログインしました（セッションを保存しました）。 / Logged in; session saved."
            )
            return 0
        except PlaywrightError as exc:
            first = (str(exc).splitlines() or ["?"])[0]
            print(
                "ブラウザーを起動できませんでした。直接出品の実行中なら、終わってからもう一度お試しください。"
            )
            print(
                f"Could not start the browser ({first}); if a direct listing is running, retry later."
            )
            return 1
        finally:
            await session.close()
    finally:
        await db.close()
