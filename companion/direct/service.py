"""直接出品を実行: list a batch on the Yahoo store through its own pages (Playwright).

Job kind `direct_listing` (resumable), one job per batch (dedupe key `batch:<id>`):

1. Items of the batch already listed count as done; items that already have a result in this job
   (a resumed job) are not tried again. Items the checks refused when the batch was made (still
   エラー) are results of their own (`refused`, one per 管理番号 with every problem), so the
   finished job says what was not listed and why, as the answer to the press did.
2. Pre-flight: log in if needed, open the item form and check every selector the run needs. One
   missing (the page changed) → the job fails naming it, and nothing is listed. Chromium starts
   while the run is prepared; the form's cookies, links and store id serve the item list's reads.
3. The store's item list (every page) is read once: a 管理番号 already on the store is recorded as
   listed with the auction id found there and reported `succeeded` — never listed twice. This is
   also what makes a crash safe: after a restart the resumed job finds what was submitted just
   before the crash.
4. Each other item: form → 確認する → 出品する → auction id from the completion page (or, where
   the store answers with its item list, from that list, read while the browser follows the
   redirect); then ONE transaction marks the listing 出品中 and enqueues the `succeeded` report
   (outbox, one report per task). A failure keeps the item 出品処理中 in its batch with the page's
   own error text. The next item's checks (its claim, the database, its images) run while this
   one is on the store's pages; what they need of the store is asked in turn.
5. A wall (SMS認証, captcha, a login that will not renew) pauses the job with a Japanese message;
   pressing 直接出品を実行 again (same dedupe key) resumes it from where it stopped.
6. Items registered in a 競りナビ folder but not started (a bulk upload that only registers) are
   started with the item list's 「出品開始」 where the store offers it, never listed a second
   time. 「出品開始」 in the popup runs this job for those items only
   (`POST /api/v1/batches/{id}/start`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError
from sqlalchemy import select

from companion import confirmations
from companion.cluster import exclusive, mutex
from companion.db.models import Batch, ListingRecord, utcnow
from companion.direct.intents import CHECKING_JA, DONE, FAILED, NOT_DONE, Intents, OpenIntent
from companion.domain import Listing, ListingState
from companion.inputs import path_id
from companion.jobs import JobContext, JobFailed, JobPaused, JobState
from companion.keys import (
    BATCHES,
    CONFIG,
    DB,
    DIRECT_LISTING,
    DISK,
    EVENTS,
    JOBS,
    OUTBOX,
    SETTINGS,
    STORE,
    TABLES,
)
from companion.listing import yahoo_format as yf
from companion.listing.batches import BatchError, Batches, batch_error_response, pending_source_ids
from companion.listing.form_values import form_values
from companion.listing.images import ImageStore, PreparedImage
from companion.listing.intake import build_for
from companion.listing.rules import ListingRules
from companion.listing.wording import refused_items, refused_text
from companion.recore import outbox as ob
from companion.recore.client import succeeded_body
from companion.resources import LocalProblem, local_problem
from companion.store_session import env_float
from scrapers.errors import ItemError, LayoutChanged, ScraperError, SessionExpired, WallError
from scrapers.listing import ItemActions, ItemForm
from scrapers.parse import ListRow
from scrapers.reader import StoreReader
from scrapers.session import BrowserSession

log = logging.getLogger(__name__)

JOB_KIND = "direct_listing"
# listings this job may list or start (registered: in a 競りナビ folder, not started)
OPEN_STATES = (ListingState.PROCESSING, ListingState.REGISTERED)
EVENT_SOURCE = "direct_listing"
MAX_CONCURRENCY = 4
MAX_ATTEMPTS = 3  # per item, for answers that say "try again" (busy, expired draft, timeouts)
# Seconds between two 出品する presses across all pages: gentle on the store. Tests set 0.
PACING_ENV = "RECORE_CONNECTOR_DIRECT_PACING_SECONDS"
DEFAULT_PACING = 1.0


def dedupe_key(batch_id: int, *, only_registered: bool = False) -> str:
    return f"{'start' if only_registered else 'batch'}:{batch_id}"


def intent_subject(record: ListingRecord, listing: Listing) -> str:
    """What a submit intent names: the 管理番号 the store sees (the id when there is none)."""
    return listing.management_number or record.management_number or f"#{record.id}"


def item_key(record: ListingRecord) -> str:
    return record.management_number or f"#{record.id}"


def item_claim(key: str) -> str:
    """The lock one item's store writes take (this listing, a sale at the register's 早期終了)."""
    return f"direct-listing:{key}"


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
        self.store = app[STORE]
        self.pacing = env_float(PACING_ENV, DEFAULT_PACING)
        # one pace for every run (runs take turns, see JobRunner): the next batch's first 出品する
        # keeps its distance from the last one of the batch before
        self.pacer = Pacer(self.pacing)
        self.retry_delay = self.store.options.busy_delay
        self._warming: asyncio.Task[None] | None = None  # the browser starting ahead of a run

    def warm_browser(self) -> asyncio.Task[None]:
        """Chromium starting (about half a second) while a run is made and prepared: the start
        already under way (a press, then its job), or a new one."""
        if self._warming is None:
            self._warming = task = asyncio.create_task(self._warm_browser())
            task.add_done_callback(self._warmed)
        return self._warming

    async def _warm_browser(self) -> None:
        """A failure is not this task's to report: the run meets it again where it uses the
        browser (and says so there)."""
        try:
            await asyncio.to_thread(self.app[DISK].check)  # nothing started on a full disk
            await (await self.store.browser()).warm_up()
        except Exception as exc:  # noqa: BLE001 - reported by the run itself
            log.debug("the browser did not start ahead of the run: %s", exc)

    def _warmed(self, task: asyncio.Task[None]) -> None:
        if self._warming is task:
            self._warming = None

    @property
    def batches(self) -> Batches:
        return self.app[BATCHES]

    async def concurrency(self) -> int:
        value = await self.settings.get("direct_listing_concurrency")
        try:
            return max(1, min(MAX_CONCURRENCY, int(value or 1)))
        except (TypeError, ValueError):
            return 1

    async def start(self, batch_id: int, *, only_registered: bool = False) -> str:
        """Start (or join, or resume) the direct listing of one batch; `only_registered`: only
        start its items registered in a 競りナビ folder."""
        _batch, records = await self.batches._load(batch_id)  # 404 early
        if any(r.state in OPEN_STATES for r in records):
            self.warm_browser()  # while the job is made
        await self.store.staff_acted()
        params: dict[str, Any] = {"batch_id": batch_id}
        if only_registered:
            params["only_registered"] = True
        return await self.app[JOBS].submit(
            JOB_KIND, params, dedupe_key=dedupe_key(batch_id, only_registered=only_registered)
        )

    @property
    def intents(self) -> Intents:
        return Intents(self.db, self.config.submit_grace_seconds)

    async def handle(self, ctx: JobContext) -> JobState | None:
        # one run of a batch at a time, across every companion on the database
        async with mutex(self.db, f"direct-listing:batch:{ctx.params.get('batch_id')}"):
            return await _Run(self, ctx).go()


@dataclass
class _Ready:
    """An item whose checks passed, its 管理番号 claimed: to be listed when its page is free.
    `found` (registered in a folder) and `left_open` (a press without a known outcome) still
    need the store, which is asked in turn; `paths` are its staged images otherwise."""

    record: ListingRecord
    listing: Listing
    number: str
    claim: contextlib.AsyncExitStack
    found: ListRow | None = None
    left_open: OpenIntent | None = None
    paths: list[Path] | None = None


@dataclass
class _Stop:
    """Why the run stops early (all workers finish their item, then the job ends this way)."""

    error: WallError | LayoutChanged | LocalProblem


class _Run:
    def __init__(self, service: DirectListing, ctx: JobContext) -> None:
        self.service = service
        self.ctx = ctx
        self.db = service.db
        self.stop: _Stop | None = None
        self.store: dict[str, ListRow] = {}
        self.pacer = service.pacer
        self.session: BrowserSession | None = None
        self.reader: StoreReader | None = None
        self.images: ImageStore | None = None
        self.rules = ListingRules()
        self.staging: Path | None = None
        # recordings of listed items run beside the next item (see _one)
        self.recording: set[asyncio.Task[None]] = set()
        self.listed_any = False  # this run listed an item (said when it stops early)
        self.only_registered = False  # only start items registered in a folder

    # --- the run --------------------------------------------------------------------------------
    async def go(self) -> JobState | None:
        try:
            batch_id = int(self.ctx.params["batch_id"])
            batch, records = await self.service.batches._load(batch_id)
        except (KeyError, TypeError, ValueError):
            raise JobFailed(
                "BAD_PARAMS", "出品リストの指定が正しくありません", "bad batch id"
            ) from None
        except BatchError as exc:
            raise JobFailed(exc.code, exc.message, exc.message_en) from None
        warming = None
        if any(r.state in OPEN_STATES for r in records):
            # the press's start, or this run's own (a resumed job)
            warming = self.service.warm_browser()
        try:
            return await self._go(batch_id, batch, records)
        finally:
            if warming is not None:
                await warming

    async def _go(
        self, batch_id: int, batch: Batch, records: list[ListingRecord]
    ) -> JobState | None:
        self.only_registered = bool(self.ctx.params.get("only_registered"))
        if self.only_registered:
            # 出品開始 of the items in a folder: the batch's refused items are not this run's
            records = [r for r in records if r.state == ListingState.REGISTERED]
            refused: list[dict[str, Any]] = []
        else:
            refused = await self._still_refused(batch)
        await self.ctx.set_total(len(records) + len(refused))
        # an item left 確認中 by a crash has no result yet: it is checked again
        # (and one held for staff's 実行, 確認モード)
        done = {
            k: r
            for k, r in (await self.ctx.results()).items()
            if r["state"] not in ("checking", confirmations.ITEM_STATE)
        }
        for entry in refused:
            if entry["label"] not in done:
                await self.ctx.item(
                    entry["label"],
                    "refused",
                    refused_text(entry),
                    {
                        "management_number": entry["management_number"],
                        "listing_ids": entry["listing_ids"],
                        "problems": entry["problems"],
                    },
                )
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
            elif record.state in OPEN_STATES and key not in done:
                todo.append(record)
            elif key not in done:
                await self.ctx.item(
                    key,
                    "skipped",
                    "出品処理中ではないため、出品しませんでした",
                    {"listing_id": record.id, "state": record.state},
                )
        tables = self.service.app.get(TABLES)
        self.rules = await tables.listing_rules() if tables is not None else ListingRules()
        # 確認モード: items waiting for staff's 実行 are left out of this run, which then pauses
        todo, waiting = await confirmations.hold_listings(
            self.service.app, self.ctx, todo, self.rules
        )
        if not todo:
            if waiting:
                raise confirmations.waiting_for_staff(waiting)
            return None
        log.info("direct listing of batch %s: %d items to do", batch_id, len(todo))
        # images are staged on disk: a nearly full one pauses the job before any item
        await asyncio.to_thread(self.service.app[DISK].check)
        self.session = await self.service.store.browser()
        self.reader = await self.service.store.reader()
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
        if waiting:
            raise confirmations.waiting_for_staff(waiting)
        return None

    async def _still_refused(self, batch: Batch) -> list[dict[str, Any]]:
        """The batch's refused items that are still エラー (not fixed in ReCORE since)."""
        entries = refused_items(batch.errors or [])
        ids = {i for e in entries for i in e["listing_ids"] if isinstance(i, int)}
        if not ids:
            return entries
        async with self.db.session() as s:
            in_error = set(
                await s.scalars(
                    select(ListingRecord.id).where(
                        ListingRecord.id.in_(ids), ListingRecord.state == ListingState.ERROR
                    )
                )
            )
        return [e for e in entries if not e["listing_ids"] or in_error & set(e["listing_ids"])]

    async def _run_browser(self, todo: list[ListingRecord], workers: int) -> None:
        assert self.session is not None and self.staging is not None and self.reader is not None
        async with self.service.batches.image_store() as images, self.session.use() as context:
            self.images = images
            pages = [await context.new_page() for _ in range(workers)]
            forms = [
                self.service.store.page_object(ItemForm, page, self.session, self.reader)
                for page in pages
            ]
            try:
                await self._preflight(context, forms)
                queue: asyncio.Queue[ListingRecord] = asyncio.Queue()
                for record in todo:
                    queue.put_nowait(record)
                await asyncio.gather(*(self._worker(form, queue) for form in forms))
            finally:
                await asyncio.gather(*self.recording)
                for page in pages:
                    try:
                        await page.close()
                    except PlaywrightError:
                        pass
                await asyncio.to_thread(shutil.rmtree, self.staging, ignore_errors=True)

    async def _preflight(self, context: BrowserContext, forms: list[ItemForm]) -> None:
        assert self.reader is not None
        try:
            confirm_first = await forms[0].check_layout()
            for form in forms:
                form.confirm_first = confirm_first  # the steps the form shows
            # the form just opened logged in: its cookies (and its links to the lists) serve
            # the item list's plain-HTTP reads
            await self.reader.adopt_browser_session(forms[0].checked_html)
            self.store = await self.reader.items_by_number()
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

    async def _raise_stop(self, exc: WallError | LayoutChanged | LocalProblem) -> None:
        if isinstance(exc, LocalProblem):
            raise exc  # the runner pauses the job until the PC is fixed
        events = self.service.app[EVENTS]
        if isinstance(exc, WallError):
            await events.record("warning", EVENT_SOURCE, exc.ja, exc.en)
            raise JobPaused(exc.code, exc.ja, exc.en)
        done = (
            "ここまでに出品した分は記録しました。" if self.listed_any else "何も出品していません。"
        )
        ja = f"{exc.ja}直接出品を中止しました。{done}"
        await events.error(EVENT_SOURCE, ja, exc.en)
        raise JobFailed("LAYOUT_CHANGED", ja, exc.en)

    async def _worker(self, form: ItemForm, queue: asyncio.Queue[ListingRecord]) -> None:
        # the next item's checks (database and disk) run while this one is on the store's pages
        ahead: tuple[ListingRecord, asyncio.Task[_Ready | None]] | None = None
        try:
            while self.stop is None:
                if ahead is None:
                    try:
                        record = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    checking = asyncio.create_task(self._checked(record))
                else:
                    (record, checking), ahead = ahead, None
                try:
                    ready = await checking
                    if ready is None:
                        continue
                    if not queue.empty():
                        following = queue.get_nowait()
                        ahead = following, asyncio.create_task(self._checked(following))
                    await self._one(form, ready)
                except Exception as exc:
                    await self._item_problem(record, exc)
        finally:
            if ahead is not None:
                # stopped early: the item checked ahead gets no result (a resumed job lists it)
                ahead[1].cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    ready = await ahead[1]
                    if ready is not None:
                        await ready.claim.aclose()

    async def _item_problem(self, record: ListingRecord, exc: Exception) -> None:
        if isinstance(exc, WallError | LayoutChanged):
            # this item has no result: a resumed job tries it again
            self.stop = _Stop(exc)
            return
        problem = local_problem(exc)
        if problem is not None:
            # a full disk is not the item's fault: no result, the resumed job retries it
            log.warning("direct listing stops: %s", problem.message_en)
            self.stop = _Stop(problem)
            return
        log.exception("direct listing of %s failed unexpectedly", item_key(record))
        await self._failed(
            record,
            f"予期しないエラーで出品できませんでした（{type(exc).__name__}）",
            f"unexpected {type(exc).__name__}: {exc}",
        )

    # --- one item -------------------------------------------------------------------------------
    async def _checked(self, record: ListingRecord) -> _Ready | None:
        """An item's checks, its 管理番号 claimed across every companion on the database until it
        is recorded: another PC listing the same 管理番号 waits, then finds it listed. None when
        the checks gave the item its result (the claim is then released)."""
        claim = contextlib.AsyncExitStack()
        await claim.enter_async_context(exclusive(self.db, item_claim(item_key(record))))
        ready: _Ready | None = None
        try:
            ready = await self._checks(record, claim)
        finally:
            if ready is None:
                await claim.aclose()
        return ready

    async def _one(self, form: ItemForm, ready: _Ready) -> None:
        """List one checked item; its claim is released once it is recorded."""
        recording: Awaitable[None] | None = None
        try:
            recording = await self._one_claimed(form, ready)
        finally:
            if recording is None:
                await ready.claim.aclose()
        if recording is None:
            return

        async def record_then_release() -> None:
            try:
                await recording
            finally:
                await ready.claim.aclose()

        # the database commit and the report run while this page opens the next form;
        # a crash before the commit is covered by the item list read at the next start
        task = asyncio.create_task(record_then_release())
        self.recording.add(task)
        task.add_done_callback(self.recording.discard)

    async def _checks(
        self, record: ListingRecord, claim: contextlib.AsyncExitStack
    ) -> _Ready | None:
        """What the database and the disk say (nothing is asked of the store here: this may run
        while another item is on the store's pages)."""
        # Re-read: a task handled since the job started (sold in the shop → ended, or edited in
        # ReCORE) wins over what the job loaded; an item no longer 出品処理中 here is not listed.
        async with self.db.session() as s:
            fresh = await s.get(ListingRecord, record.id)
        if fresh is None or fresh.state not in OPEN_STATES or fresh.batch_id != record.batch_id:
            await self.ctx.item(
                item_key(record),
                "skipped",
                "出品中に状態が変わったため（店頭での販売など）、出品しませんでした",
                {"listing_id": record.id, "state": fresh.state if fresh else None},
            )
            return None
        record = fresh
        # the same mapping as the zip: ReCORE's listing, its item, the templates and tables
        # (Yahoo's rules were checked when the batch was made; the form has the last word)
        built = build_for(record, self.rules)
        if built.holds:  # a table lost a row since the batch was made
            await self._failed(
                record,
                "、".join(e.message for e in built.holds),
                "; ".join(e.message_en for e in built.holds),
            )
            return None
        listing = built.listing
        number = listing.management_number or record.management_number or ""
        ready = _Ready(record, listing, number, claim)
        found = self.store.get(number)
        if found is not None and found.auction_id:
            await self._listed(record, listing, found.auction_id, already=True)
            return None
        if found is not None:  # in a 競りナビ folder, not started: started in turn
            ready.found = found
            return ready
        # listed since the store was read, by a run on another PC (another batch, same 管理番号)
        elsewhere = await self._listed_elsewhere(record, number)
        if elsewhere is not None:
            await self._listed(record, listing, elsewhere, already=True)
            return None
        ready.left_open = await self.service.intents.open(intent_subject(record, listing), "list")
        if ready.left_open is not None:
            return ready  # the store says in turn whether that press went through
        ready.paths = await self._to_press(ready)
        return ready if ready.paths is not None else None

    async def _to_press(self, ready: _Ready) -> list[Path] | None:
        """The last checks before the item is pressed; its staged images (None: not listed)."""
        record, listing, number = ready.record, ready.listing, ready.number
        if self.only_registered:
            await self._failed(
                record,
                "競りナビのフォルダに見つかりませんでした。競りナビの商品管理で確認してください。",
                "registered item not found on the store",
            )
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
        return await asyncio.to_thread(self._stage, number or str(record.id), prepared)

    async def _one_claimed(self, form: ItemForm, ready: _Ready) -> Awaitable[None] | None:
        """List one item; returns the recording of a fresh listing (to run in the background)."""
        began = asyncio.get_running_loop().time()  # what comes before the form is logged too
        record, listing, number = ready.record, ready.listing, ready.number
        if ready.found is not None:  # in a 競りナビ folder, not started: never listed again
            await self._start_registered(record, listing, ready.found)
            return None
        if ready.left_open is not None:
            if await self._settled(record, listing, number, ready.left_open):
                return None  # the press before the crash went through: never pressed again
            ready.paths = await self._to_press(ready)
        paths = ready.paths
        if paths is None:
            return None
        intents = self.service.intents
        intent: int | None = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            submitted = False
            clock = asyncio.get_running_loop().time
            marks = [began, clock()] if attempt == 1 else [clock(), clock()]
            try:
                await form.open()
                marks.append(clock())
                await self._fill(form, listing, paths)
                marks.append(clock())
                await form.confirm()
                marks.append(clock())
                await self.pacer.wait()
                # durable before the press: a crash from here on leaves the item 確認中
                intent = await intents.record(
                    intent_subject(record, listing),
                    "list",
                    "出品する",
                    listing_id=record.id,
                    job_id=self.ctx.job_id,
                )
                submitted = True
                auction_id = await form.submit(number)
                marks.append(clock())
            except SessionExpired:
                # sent to the login page: the next form.open() logs in again. Whether 出品する
                # got through is for the item list to say.
                if submitted and await self._found_after_doubt(record, listing, number, intent):
                    return None
                continue
            except ItemError as exc:
                if (
                    submitted
                    and exc.maybe_listed
                    and await self._found_after_doubt(record, listing, number, intent)
                ):
                    return None
                if submitted:
                    await intents.resolve(intent, FAILED)  # the store said no, in its own words
                if exc.retry and attempt < MAX_ATTEMPTS:
                    log.info("%s: %s; trying again", number, exc.en)
                    await asyncio.sleep(self.service.retry_delay * attempt)
                    continue
                await self._failed(record, exc.ja, exc.en)
                return None
            except (PlaywrightError, TimeoutError) as exc:
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                if submitted and await self._found_after_doubt(record, listing, number, intent):
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
                    ("checks", "form", "fill", "confirm", "submit"),
                    marks,
                    marks[1:],
                    strict=False,
                )
            )
            log.info("%s: 出品する answered %s (s: %s)", number, auction_id, steps)
            return self._listed(record, listing, auction_id, already=False)
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

    @staticmethod
    async def _fill(form: ItemForm, listing: Listing, paths: list[Path]) -> None:
        """Fill the form. A field it cannot fill may mean the page changed since the pre-flight:
        the form is checked again, and a changed page stops the run once, naming what is
        missing, instead of failing every remaining item with 「入力欄が見つかりません」."""
        try:
            await form.fill(form_values(listing), paths)
        except ItemError:
            await form.check_layout()  # raises LayoutChanged when the page itself changed
            raise  # the page is as expected: a problem of this item's values

    async def _read_live(self, number: str) -> ListRow | None:
        """Is the 管理番号 on the store (after a doubtful press)? A store that cannot be read
        says nothing: the run pauses (the press stays 確認中) rather than guess."""
        assert self.reader is not None
        try:
            return await self.reader.find_live(number)
        except (WallError, LayoutChanged):
            raise
        except ScraperError as exc:  # busy, 5xx, a session that would not renew
            raise WallError(
                "STORE_UNREADABLE",
                f"管理番号 {number}: ヤフオクの商品一覧を読めなかったため、出品されたかどうかを"
                f"確認できませんでした（{exc.ja}）。二重出品を防ぐため一時停止しました。"
                "しばらくしてから、もう一度「直接出品を実行」を押してください。続きから再開します。",
                f"{number}: the item list could not be read after a doubtful submit: {exc.en}",
            ) from exc

    async def _start_registered(
        self, record: ListingRecord, listing: Listing, found: ListRow
    ) -> None:
        """An item registered in a folder: 「出品開始」 on the item list, where the store offers it.
        Where it does not, the listing stays registered and staff are told what to do."""
        assert self.session is not None and self.reader is not None
        await self.pacer.wait()
        intents = self.service.intents
        intent = await intents.record(
            intent_subject(record, listing),
            "start",
            "出品開始",
            listing_id=record.id,
            job_id=self.ctx.job_id,
        )
        actions = self.service.store.page_object(ItemActions, self.session, self.reader)
        result = await actions.start(found)
        await intents.resolve(intent, DONE if result.ok else FAILED)
        if result.ok and found.auction_id:
            await self._listed(record, listing, found.auction_id, already=False)
            return
        async with self.db.session() as s, s.begin():
            row = await s.get(ListingRecord, record.id)
            if row is not None and row.state in OPEN_STATES:
                row.state = ListingState.REGISTERED
                row.last_attempt_error = result.message
        number = record.management_number or f"ID {record.id}"
        await self.ctx.item(
            item_key(record),
            "failed",
            f"管理番号 {number}: フォルダに登録済み（未出品）です。{result.message}",
            {"listing_id": record.id, "registered": True},
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
        self, record: ListingRecord, listing: Listing, number: str, intent: int | None
    ) -> bool:
        """After a doubtful 出品する: is the 管理番号 on the store now? If not yet, the store may
        still be working on it: the item is 確認中 until the grace period since the press has
        passed and the store was read again; only then is it pressed again."""
        found = await self._read_live(number)
        if found is not None and found.auction_id:
            log.info("%s was listed although the answer was unclear (%s)", number, found.auction_id)
            await self._listed(record, listing, found.auction_id, already=True)
            return True
        left_open = await self.service.intents.open(intent_subject(record, listing), "list")
        if left_open is None or left_open.id != intent:
            return False
        return await self._settled(record, listing, number, left_open)

    async def _settled(
        self, record: ListingRecord, listing: Listing, number: str, left_open: OpenIntent
    ) -> bool:
        """An item whose last press has no known outcome: wait until the store must have
        finished it (確認中 meanwhile), read the store, and record what it shows. True when the
        press went through (nothing more to do); False when it did not (press again)."""
        assert self.reader is not None
        intents = self.service.intents
        left = intents.seconds_left(left_open)
        if left > 0:
            log.info(
                "%s: %s pressed without a known outcome; checking in %.0fs",
                number,
                left_open.pressed,
                left,
            )
            await self.ctx.item(
                item_key(record),
                "checking",
                f"{CHECKING_JA}: 「{left_open.pressed}」の結果がまだ分かりません。ヤフオクの処理が"
                f"終わるのを待って、{int(left) + 1}秒後に商品一覧で確かめます（二重出品の防止）",
                {"listing_id": record.id, "checking": True},
            )
            await asyncio.sleep(left)
        found = await self._read_live(number)
        if found is not None and found.auction_id:
            log.info(
                "%s: the earlier %s went through (%s)", number, left_open.pressed, found.auction_id
            )
            await self._listed(record, listing, found.auction_id, already=True)
            return True
        if found is not None:  # registered in a folder, not started: start it
            await intents.resolve(left_open.id, DONE)
            await self._start_registered(record, listing, found)
            return True
        log.info("%s: the earlier %s did not go through; pressing again", number, left_open.pressed)
        await intents.resolve(left_open.id, NOT_DONE)
        return False

    async def _listed(
        self, record: ListingRecord, listing: Listing, auction_id: str, *, already: bool
    ) -> None:
        """One transaction: the listing is 出品中 and its `succeeded` report is in the outbox."""
        assert self.session is not None
        url = self.session.urls.auction(auction_id)
        await self.service.intents.resolve_all(intent_subject(record, listing), "list", DONE)
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
        self.listed_any = self.listed_any or not already
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
    batch_id = path_id(request, "batch_id")
    service = _service(request)
    try:
        await service.batches.get(batch_id)
    except BatchError as exc:
        return batch_error_response(exc)
    # a batch with nothing open still gets a job: it records every item as already listed
    job_id = await service.start(batch_id)
    return web.json_response({"job_id": job_id, "batch_id": batch_id}, status=202)


@routes.post("/api/v1/batches/{batch_id}/start")
async def post_batch_start(request: web.Request) -> web.Response:
    """出品開始: start the batch's items registered in a 競りナビ folder (not listed yet)."""
    try:
        batch_id = int(request.match_info["batch_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    service = _service(request)
    try:
        batch = await service.batches.get(batch_id)
    except BatchError as exc:
        return batch_error_response(exc)
    if not batch.get("registered_count"):
        return web.json_response(
            {
                "error": {
                    "code": "NOTHING_REGISTERED",
                    "message": "このリストにフォルダに登録済み（未出品）の商品はありません。",
                    "message_en": "no item of this batch is registered and waiting to start",
                }
            },
            status=409,
        )
    job_id = await service.start(batch_id, only_registered=True)
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
    # what the checks refused is said at once, with what goes ahead (the job's items say it again)
    return web.json_response(
        {
            "job_id": job_id,
            "batch_id": batch["id"],
            "item_count": batch["item_count"],
            "refused": batch["refused"],
        },
        status=202,
    )


async def _ctx(app: web.Application) -> AsyncIterator[None]:
    service = DirectListing(app)
    app[DIRECT_LISTING] = service
    app[JOBS].register(JOB_KIND, service.handle, resumable=True)
    yield


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    app.cleanup_ctx.append(_ctx)


__all__ = ["JOB_KIND", "DirectListing", "dedupe_key", "setup"]
