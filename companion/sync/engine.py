"""One sync: read the Yahoo store, reconcile with local state, forward only changes to ReCORE.

Reading (`scrapers.reader.StoreReader`: plain HTTP with the session's cookies, or the browser
where a list is rendered by script):
  出品中 (selling) in full; 注文管理 (orders) in full; 注文詳細 only for orders that are new or whose
  list row changed since the last sync; 落札分 (sold) newest first, only down to what the last sync
  already saw; 商品管理 searched by 管理番号 only for auctions that left the selling list without an
  order (ended unsold, ended early, relisted).
  A light full sync (`light`, quick check on) reads only 出品中's first page, soonest end first, and
  searches our auctions that should be on it and are not (`_light_check`); the whole list when
  it cannot explain what it sees.

Reconciling (SQLite, `companion.db.models`):
  - ListingRecord waiting/processing whose 管理番号 is on Yahoo → listed, and its open ReCORE task is
    reported `succeeded` with the auction id and URL (outbox);
  - AuctionSnapshot per auction (bids > 0 shows as 入札中 in status);
  - auctions that ended: sold (an order exists) → the listing is 出品終了 (ReCORE ends its listing on
    the order upsert); without a winner → 出品終了 locally and a staff notice (see docs/sync.md);
  - every order → `order/upsert` with the ReCORE status from the settings' mapping table, sent only
    when the body differs from the last one sent (`OrderSnapshot.sent_hash`).

Faults: each read step stands alone. What was read is reconciled even when a later step fails
(Yahoo 5xx, expired session, changed layout); conclusions that need a COMPLETE list (an auction has
left the selling list) are only drawn from complete lists. The first fault is raised at the end as
`SyncFault`, after everything learned is saved.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from companion.db import Database
from companion.db.models import AuctionSnapshot, ListingRecord, OrderSnapshot, utcnow
from companion.domain import ListingState, Order, OrderLine, OrderStatus
from companion.events import Events
from companion.recore import client as rc
from companion.recore import outbox as ob
from companion.resources import LocalProblem, local_problem
from scrapers.errors import LayoutChanged, ScraperError, SessionExpired
from scrapers.facts import FACTS, OrderFacts
from scrapers.parse import ListPage, ListRow, OrderDetail, OrderRow, parse_order_detail
from scrapers.reader import StoreReader

log = logging.getLogger(__name__)

EVENT_SOURCE = "sync"
OPEN_STATES = (ListingState.WAITING, ListingState.PROCESSING, ListingState.REGISTERED)

StepReporter = Callable[[str, str, str | None, dict[str, Any] | None], Awaitable[None]]

# Step keys and their Japanese names (job items, in this order).
STEPS: dict[str, str] = {
    "login": "ヤフオクへの接続",
    "selling": "出品中一覧の読み取り",
    "orders": "注文一覧の読み取り",
    "details": "注文詳細の読み取り",
    "sold": "落札分の読み取り",
    "ended": "終了したオークションの確認",
    "listings": "出品の照合",
    "upserts": "受注の照合",
}


class SyncFault(Exception):
    """The sync met a fault; what it learned is saved. `message` (ja) / `message_en`."""

    def __init__(
        self, code: str, message: str, message_en: str, problem: LocalProblem | None = None
    ) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en
        self.problem = problem  # the PC's own trouble (a full disk), when that is what it is

    @classmethod
    def local(cls, problem: LocalProblem) -> SyncFault:
        return cls(problem.code, problem.message, problem.message_en, problem)


@dataclass
class Summary:
    selling: int = 0
    orders: int = 0
    details_read: int = 0
    sold_rows: int = 0
    listed: int = 0
    registered: int = 0  # found in a 競りナビ folder, not started
    relisted: int = 0
    ended_sold: int = 0
    ended_unsold: int = 0
    upserts: int = 0
    unchanged_orders: int = 0
    yahoo_requests: int = 0
    # "full": 出品中 read whole; "light": only its first page, soonest end first (`run`, light);
    # "quick": the quick check (`run_quick`)
    sync_kind: str = "full"
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["problems"] = self.problems[:20]
        return d


@dataclass
class StoreRead:
    """What was read from the store; None means 'not read completely'."""

    selling: list[ListRow] | None = None
    orders: list[OrderRow] | None = None
    details: dict[str, OrderDetail] = field(default_factory=dict)
    sold: list[ListRow] = field(default_factory=list)
    items_by_mn: dict[str, list[ListRow]] = field(default_factory=dict)


# ---- pure helpers ------------------------------------------------------------------------------------
def unique(rows: list[Any], key: Callable[[Any], str]) -> list[Any]:
    """First row per id: a list that moved while its pages were read shows a row twice."""
    seen: set[str] = set()
    out = []
    for row in rows:
        k = key(row)
        if k not in seen:
            seen.add(k)
            out.append(row)
    return out


_PREF_RE = re.compile(r"^(東京都|北海道|京都府|大阪府|.{2,3}?県)")
_CITY_RE = re.compile(r"^((?:.{1,6}?郡)?.{1,8}?[市区町村])")


def split_address(address: str | None) -> tuple[str | None, str | None, str | None]:
    """「北海道札幌市中央区北1条西2-1」→ (北海道, 札幌市, 中央区北1条西2-1). Unknown shapes keep
    everything in address1 (never lose a part of the address)."""
    if not address:
        return None, None, None
    rest = address.strip()
    m = _PREF_RE.match(rest)
    pref = m.group(1) if m else None
    if pref:
        rest = rest[len(pref) :]
    c = _CITY_RE.match(rest)
    city = c.group(1) if c else None
    if city:
        rest = rest[len(city) :]
    return pref, city, rest or None


def map_status(
    detail: OrderDetail | OrderRow, mapping: dict[str, str], facts: OrderFacts = FACTS.orders
) -> tuple[OrderStatus, bool]:
    """ReCORE status for an order: the settings' table by ストアステータス; when the store status is
    not in the table, from Yahoo's official statuses. Returns (status, mapped_by_table)."""
    store = detail.store_status or ""
    if store in mapping:
        try:
            return OrderStatus(mapping[store]), True
        except ValueError:
            pass
    if detail.order_status == facts.status_cancelled:
        return OrderStatus.CANCELED, False
    if detail.ship_status in facts.shipped_statuses or detail.order_status == facts.status_done:
        return OrderStatus.SHIPPED, False
    if detail.pay_status == facts.paid_status:
        return OrderStatus.UNSHIPPED, False
    return OrderStatus.PENDING, False


def order_from_detail(d: OrderDetail, status: OrderStatus, mall_url: str | None) -> Order:
    pref, city, rest = split_address(d.address)
    return Order(
        mall_order_id=d.order_id,
        status=status,
        store_status=d.store_status,
        ordered_at=int(d.ordered_at.timestamp()) if d.ordered_at else None,
        payment_total=d.total,
        payment_method=d.payment_method,
        buyer_name=d.buyer_name,
        buyer_name_kana=d.buyer_kana,
        buyer_email=d.mail,
        postal_code=d.postal_code,
        prefecture=pref,
        city=city,
        address1=rest,
        phone=d.phone,
        shipping_name=d.buyer_name,
        tracking_number=d.tracking_number,
        carrier=d.carrier,
        mall_url=mall_url,
        lines=[
            OrderLine(
                management_number=d.management_number,
                auction_id=d.auction_id,
                unit_price=d.price if d.price is not None else (d.total or 0),
                quantity=1,
                title=d.title,
            )
        ],
    )


def body_hash(body: dict[str, Any]) -> str:
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def detail_to_json(d: OrderDetail) -> dict[str, Any]:
    out = asdict(d)
    out["ordered_at"] = d.ordered_at.isoformat() if d.ordered_at else None
    return out


def detail_from_json(data: dict[str, Any]) -> OrderDetail | None:
    try:
        values = dict(data)
        if values.get("ordered_at"):
            values["ordered_at"] = datetime.fromisoformat(values["ordered_at"])
        return OrderDetail(**values)
    except (TypeError, ValueError):
        return None


# ---- the engine ----------------------------------------------------------------------------------------
class SyncEngine:
    def __init__(
        self,
        db: Database,
        events: Events,
        reader: StoreReader,
        *,
        ec_account_id: int | None,
        mapping: dict[str, str],
        status_names: Mapping[OrderStatus, str] | None = None,
        sold_watermark: datetime | None = None,
        report: StepReporter | None = None,
        quick: bool = False,
        sold_mark: datetime | None = None,
        light: bool = False,
    ) -> None:
        self.db = db
        self.events = events
        self.reader = reader
        self.urls = reader.urls
        self.facts = reader.facts
        self.ec_account_id = ec_account_id
        self.mapping = mapping
        # how ReCORE spells its order statuses (the `order_statuses` table)
        self.status_names = dict(status_names or rc.ORDER_STATUS_TO_RECORE)
        self.sold_watermark = sold_watermark
        self.report = report
        # a quick check (`run_quick`): the newest rows only; `sold_mark` is the newest win the
        # last read saw
        self.quick = quick
        self.sold_mark = sold_mark
        # a light full sync (quick check on): 出品中's first page instead of the whole list
        self.light = light
        self._light_bound: tuple[bool, datetime | None] = (False, None)
        self.summary = Summary()
        self.read = StoreRead()
        self.faults: list[SyncFault] = []
        self.sold_complete = False
        self._requests_before = len(reader.fetched)
        self._detail_tasks: dict[str, asyncio.Future[OrderDetail]] = {}

    async def _step(self, key: str, state: str, message: str | None = None, **data: Any) -> None:
        if self.report is not None:
            if state == "succeeded":
                data = {**self._figures(key), **data}
            await self.report(key, state, message, data or None)

    def _figures(self, key: str) -> dict[str, int]:
        """What a finished step did, as numbers (the job item's data: the popup's summary of a
        sync is orders read and changes sent, not its step count)."""
        s = self.summary
        return {
            "selling": {"selling": s.selling},
            "orders": {"orders": s.orders},
            "details": {"details_read": s.details_read},
            "sold": {"sold_rows": s.sold_rows},
            "listings": {
                "listed": s.listed,
                "relisted": s.relisted,
                "ended_sold": s.ended_sold,
                "ended_unsold": s.ended_unsold,
            },
            "upserts": {"upserts": s.upserts, "unchanged_orders": s.unchanged_orders},
        }.get(key, {})

    def _fault(self, exc: BaseException) -> SyncFault:
        if isinstance(exc, SyncFault):
            return exc
        problem = local_problem(exc)
        if problem is not None:  # the PC's disk or database: the sync pauses (SyncService)
            return SyncFault.local(problem)
        if isinstance(exc, LayoutChanged):
            return SyncFault(
                "YAHOO_LAYOUT_CHANGED", f"{exc.ja}読み取れた分は保存しました。", exc.en
            )
        if isinstance(exc, SessionExpired):
            return SyncFault(
                "YAHOO_SESSION_EXPIRED",
                "ヤフオクのログインが切れ、再ログインもできませんでした。次回の同期で再試行します。",
                exc.en,
            )
        if isinstance(exc, ScraperError):
            code = getattr(exc, "code", None) or "YAHOO_UNAVAILABLE"
            return SyncFault(
                f"YAHOO_{code}" if code != "YAHOO_UNAVAILABLE" else code, exc.ja, exc.en
            )
        return SyncFault(
            "UNEXPECTED",
            "同期中に予期しないエラーが発生しました。ログを確認してください。",
            f"unexpected {type(exc).__name__}: {exc}",
        )

    async def _guarded(self, key: str, work: Callable[[], Awaitable[str | None]]) -> bool:
        """Run one read step; its fault is recorded and the other steps go on. (A session that
        expires on the way is renewed by the reader, once for every step that met it.)"""
        failure: BaseException
        try:
            message = await work()
        except (ScraperError, SyncFault) as exc:
            failure = exc
        except Exception as exc:  # a bug in one step must not lose the others
            log.exception("sync step %s failed", key)
            failure = exc
        else:
            await self._step(key, "succeeded", message)
            return True
        fault = self._fault(failure)
        self.faults.append(fault)
        await self._step(key, "failed", fault.message, code=fault.code)
        return False

    # -- reading -----------------------------------------------------------------------------------------
    async def read_selling(self) -> str:
        got = await self.reader.read_list(self.facts.lists.selling)
        self.read.selling = unique(got.rows, lambda r: r.auction_id)
        self.summary.selling = len(self.read.selling)
        self.summary.problems.extend(got.problems)
        return f"{len(got.rows)}件"

    async def read_orders(self, snapshots: dict[str, OrderSnapshot] | None = None) -> str:
        """The orders list; with `snapshots`, the detail pages of new or changed orders start
        as soon as their list page arrives (pipelined, like a browser's tabs)."""
        on_page = None
        if snapshots is not None:

            def on_page(page: ListPage[OrderRow]) -> None:
                self._start_details(page.rows, snapshots)

        got = await self.reader.read_orders(
            on_page=on_page, **self._newest_only("orders", snapshots)
        )
        self.read.orders = unique(got.rows, lambda r: r.order_id)
        self.summary.orders = len(self.read.orders)
        self.summary.problems.extend(got.problems)
        return f"{len(got.rows)}件"

    def _newest_only(
        self, key: str, snapshots: dict[str, OrderSnapshot] | None = None
    ) -> dict[str, Any]:
        """A quick check's reading of a list: newest first, down to what was seen before (an
        order already known; a win no newer than the newest one read before), at most
        `max_pages` pages. A full sync reads the lists whole."""
        if not self.quick:
            return {}
        facts = self.facts.quick
        pages = 0
        last: ListPage[Any] | None = None

        def more(page: ListPage[Any]) -> bool:
            nonlocal pages, last
            if page is not last:  # the reader may ask twice about the same page
                pages, last = pages + 1, page
            if pages >= facts.max_pages or not page.rows:
                return False
            if key == "orders":
                return not any(r.order_id in (snapshots or {}) for r in page.rows)
            mark = self.sold_mark
            oldest = min((r.sold_at for r in page.rows if r.sold_at), default=None)
            # strictly newer: many wins within the mark's minute must not page on and on
            return mark is not None and oldest is not None and oldest > mark

        query = facts.orders_newest if key == "orders" else facts.sold_newest
        return {"query": dict(query), "keep_going": more}

    @staticmethod
    def _wanted(row: OrderRow, snapshots: dict[str, OrderSnapshot]) -> bool:
        snap = snapshots.get(row.order_id)
        return (
            snap is None or snap.data.get("fp") != row.fingerprint() or not snap.data.get("detail")
        )

    def _start_details(self, rows: list[OrderRow], snapshots: dict[str, OrderSnapshot]) -> None:
        for row in rows:
            if row.order_id not in self._detail_tasks and self._wanted(row, snapshots):
                self._detail_tasks[row.order_id] = asyncio.ensure_future(self._fetch_detail(row))

    async def _fetch_detail(self, row: OrderRow) -> OrderDetail:
        url = (
            self.urls.absolute(row.detail_url, self.urls.store_pro_origin)
            if row.detail_url
            else self.urls.order_detail(row.order_id)
        )
        html = await self.reader.get(url, self.facts.orders.detail_name)
        # ~0.2 ms (only the table is parsed): cheaper on the loop than a thread hop, and far
        # below anything that would stall it
        return parse_order_detail(html, self.facts)

    async def drop_details(self) -> None:
        """The orders list failed: details already under way are not needed."""
        tasks = list(self._detail_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._detail_tasks.clear()

    async def read_details(self, snapshots: dict[str, OrderSnapshot]) -> str:
        """Detail pages of new or changed orders only; each one read is kept even if others fail."""
        rows = self.read.orders or []
        self._start_details(rows, snapshots)  # any the pipeline did not start
        wanted = [r for r in rows if r.order_id in self._detail_tasks]
        results = await asyncio.gather(
            *(self._detail_tasks[r.order_id] for r in wanted), return_exceptions=True
        )
        first_error: BaseException | None = None
        for row, result in zip(wanted, results, strict=True):
            if isinstance(result, BaseException):
                first_error = first_error or result
                continue
            self.read.details[row.order_id] = result
        self.summary.details_read = len(self.read.details)
        self._detail_tasks.clear()
        if first_error is not None:
            raise first_error
        return f"{len(wanted)}件（変更のない注文は読み直しません）"

    async def read_sold(self) -> str:
        mark = self.sold_watermark

        def more(page: ListPage[ListRow]) -> bool:
            # newest first: stop once a page reaches what the last sync already saw
            if mark is None:
                return True
            oldest = min((r.sold_at for r in page.rows if r.sold_at), default=None)
            return oldest is not None and oldest >= mark

        if self.quick:
            got = await self.reader.read_list(self.facts.lists.sold, **self._newest_only("sold"))
        else:
            got = await self.reader.read_list(
                self.facts.lists.sold, keep_going=more if mark else None
            )
        self.read.sold = unique(got.rows, lambda r: r.auction_id)
        self.summary.sold_rows = len(self.read.sold)
        self.summary.problems.extend(got.problems)
        return f"{len(got.rows)}件"

    async def read_ended(self, vanished: list[AuctionSnapshot], unplaced: set[str]) -> str:
        """商品管理 searched by 管理番号: for auctions that left the selling list with no order,
        and for listings handed out (zip, form) that no list shows yet (registered in a folder?)."""
        numbers = sorted({a.management_number for a in vanished if a.management_number} | unplaced)
        results = await asyncio.gather(
            *(self.reader.find_items(mn) for mn in numbers), return_exceptions=True
        )
        first_error: BaseException | None = None
        for mn, result in zip(numbers, results, strict=True):
            if isinstance(result, BaseException):
                first_error = first_error or result
                continue
            self.read.items_by_mn[mn] = result
        if first_error is not None:
            raise first_error
        return f"{len(numbers)}件"

    # -- the whole run -------------------------------------------------------------------------------------
    @property
    def fetched(self) -> list[str]:
        """The Yahoo URLs this sync read (the benchmark reads them again with plain aiohttp)."""
        return self.reader.fetched[self._requests_before :]

    async def run(self) -> Summary:
        self._requests_before = requests_before = len(self.reader.fetched)
        await self.adopt_unseen_auctions()
        async with self.db.session() as s:
            snapshots = {o.mall_order_id: o for o in (await s.scalars(select(OrderSnapshot))).all()}
            auctions = {a.auction_id: a for a in (await s.scalars(select(AuctionSnapshot))).all()}

        async def orders_then_details() -> bool:
            ok = await self._guarded("orders", lambda: self.read_orders(snapshots))
            if ok:
                await self._guarded("details", lambda: self.read_details(snapshots))
            else:
                await self.drop_details()
                await self._step("details", "skipped", "注文一覧を読めなかったため省略しました")
            return ok

        # the three lists are independent: read side by side (the requests share one limit)
        selling_read = self.read_selling_light if self.light else self.read_selling
        selling_ok, orders_ok, sold_ok = await asyncio.gather(
            self._guarded("selling", selling_read),
            orders_then_details(),
            self._guarded("sold", self.read_sold),
        )
        self.sold_complete = sold_ok
        if self.light:
            concluded: tuple[set[str], bool] | None = (set(), False)
            if selling_ok and orders_ok and sold_ok:
                concluded = await self._light_check(auctions)
            else:  # a list failed: as in a full sync, no end is concluded this time
                await self._step("ended", "skipped", "一覧を読めなかったため省略しました")
            if concluded is not None:
                checked, ended_ok = concluded
                await self._reconcile_steps(auctions, snapshots, selling_ok, ended_ok, checked)
                self.summary.sync_kind = "light"
                self.summary.yahoo_requests = len(self.reader.fetched) - requests_before
                return self.summary
            # something the first page cannot explain: the whole list, as a full sync
            log.info("light sync: reading the whole selling list")
            self.read.items_by_mn.clear()
            selling_ok = await self._guarded("selling", self.read_selling)

        vanished: list[AuctionSnapshot] = []
        if selling_ok:
            current = {r.auction_id for r in self.read.selling or []}
            sold_ids = {r.auction_id for r in self.read.sold}
            ordered = {r.auction_id for r in self.read.orders or [] if r.auction_id}
            vanished = [
                a
                for a in auctions.values()
                if a.state == "selling"
                and a.auction_id not in current
                and a.auction_id not in sold_ids
                and a.auction_id not in ordered
            ]
        if not (orders_ok and sold_ok):
            vanished = []  # their end is concluded only from complete lists
        unplaced = await self._unplaced() if selling_ok else set()
        ended_ok = True
        if vanished or unplaced:
            ended_ok = await self._guarded("ended", lambda: self.read_ended(vanished, unplaced))
        else:
            await self._step("ended", "skipped", "確認が必要なオークションはありません")

        await self._reconcile_steps(
            auctions, snapshots, selling_ok, ended_ok and orders_ok and sold_ok
        )
        self.summary.yahoo_requests = len(self.reader.fetched) - requests_before
        return self.summary

    async def _reconcile_steps(
        self,
        auctions: dict[str, AuctionSnapshot],
        snapshots: dict[str, OrderSnapshot],
        selling_complete: bool,
        ended_complete: bool,
        checked: set[str] | None = None,
    ) -> None:
        try:
            await self.reconcile_listings(auctions, selling_complete, ended_complete, checked)
            await self._step(
                "listings",
                "succeeded",
                f"出品中に更新 {self.summary.listed}件・落札で終了 {self.summary.ended_sold}件・"
                f"落札者なしで終了 {self.summary.ended_unsold}件",
            )
        except Exception as exc:
            log.exception("sync: listing reconcile failed")
            fault = self._fault(exc)
            self.faults.append(fault)
            await self._step("listings", "failed", fault.message)
        try:
            await self.reconcile_orders(snapshots)
            await self._step(
                "upserts",
                "succeeded",
                f"ReCOREへ送信 {self.summary.upserts}件・変更なし {self.summary.unchanged_orders}件",
            )
        except Exception as exc:
            log.exception("sync: order reconcile failed")
            fault = self._fault(exc)
            self.faults.append(fault)
            await self._step("upserts", "failed", fault.message)

    # -- the light full sync -------------------------------------------------------------------------
    async def read_selling_light(self) -> str:
        """出品中's first page only, soonest end first (the list's own order): every auction
        still selling that ends before its last row is on it."""
        got = await self.reader.read_list(self.facts.lists.selling, keep_going=lambda _page: False)
        self.read.selling = unique(got.rows, lambda r: r.auction_id)
        self.summary.selling = len(self.read.selling)
        self.summary.problems.extend(got.problems)
        more = (got.page_count or 1) > 1 or got.has_next
        self._light_bound = self._first_page_bound(self.read.selling, more)
        return f"終了の近い{len(got.rows)}件（全件の読み取りは定期的に行います）"

    @staticmethod
    def _first_page_bound(rows: list[ListRow], more: bool) -> tuple[bool, datetime | None]:
        """(usable, bound): an auction still selling that ends before `bound` must be on the
        page (None: the page is the whole list). Unusable when the page is not in end-time
        order (the store sorts otherwise) or shows no end times."""
        ends = [r.end_time for r in rows]
        if not more:
            return all(e is not None for e in ends), None
        if not ends or any(e is None for e in ends):
            return False, None
        known = [e for e in ends if e is not None]
        if any(b < a for a, b in zip(known, known[1:], strict=False)):
            return False, None
        return True, known[-1]

    async def _light_check(
        self, auctions: dict[str, AuctionSnapshot]
    ) -> tuple[set[str], bool] | None:
        """Which of the connector's auctions left the selling list, from 出品中's first page,
        落札分, 注文管理 and a search by 管理番号 for each auction of ours that should be on that
        page and is not (its recorded end time is before the page's last one), and for listings
        handed out but not seen yet. Returns the auction ids searched and whether the search
        worked (their end is concluded only then), or None when something is not explained
        (the whole list is read then): the first page is not in end-time order, an auction of
        ours is still running past the end it was seen with (extended) or under a new id
        (relisted), a handed-out listing is running."""
        usable, bound = self._light_bound
        if not usable:
            log.info("light sync: 出品中's first page is not in end-time order")
            return None
        shown = {r.auction_id for r in self.read.selling or []}
        shown |= {r.auction_id for r in self.read.sold}
        shown |= {r.auction_id for r in self.read.orders or [] if r.auction_id}
        async with self.db.session() as s:
            ours = set(
                await s.scalars(
                    select(ListingRecord.auction_id).where(
                        ListingRecord.state == ListingState.LISTED,
                        ListingRecord.auction_id.is_not(None),
                    )
                )
            )
        due = [
            a
            for a in auctions.values()
            if a.state == "selling"
            and a.auction_id in ours
            and a.auction_id not in shown
            and (a.end_time is None or bound is None or a.end_time < bound)
        ]
        unplaced = await self._unplaced((ListingState.PROCESSING, ListingState.REGISTERED))
        if due or unplaced:
            if not await self._guarded("ended", lambda: self.read_ended(due, unplaced)):
                return set(), False  # nothing concluded this time; the next sync looks again
        else:
            await self._step("ended", "skipped", "確認が必要なオークションはありません")
        states = self.facts.items
        for a in due:
            items = self.read.items_by_mn.get(a.management_number or "", [])
            same = next((i for i in items if i.auction_id == a.auction_id), None)
            if same is None or same.status == states.status_selling:
                return None
        for number in unplaced:
            if any(states.is_live(i.status) for i in self.read.items_by_mn.get(number, [])):
                return None
        return {a.auction_id for a in due}, True

    async def run_quick(self) -> Summary:
        """The quick check: 落札分 and 注文管理 newest first down to what was seen before (and
        出品中 by its newest bids where the store can sort so), details of new or changed orders
        only, then the same reconcile and outbox as a full sync. Nothing is concluded from what
        was not read: an auction leaves the selling list only in a full sync's eyes."""
        self._requests_before = requests_before = len(self.reader.fetched)
        self.summary.sync_kind = "quick"
        await self.adopt_unseen_auctions()
        async with self.db.session() as s:
            snapshots = {o.mall_order_id: o for o in (await s.scalars(select(OrderSnapshot))).all()}
            auctions = {a.auction_id: a for a in (await s.scalars(select(AuctionSnapshot))).all()}

        async def orders_then_details() -> None:
            if await self._guarded("orders", lambda: self.read_orders(snapshots)):
                await self._guarded("details", lambda: self.read_details(snapshots))
            else:
                await self.drop_details()

        async def newest_bids() -> str:
            got = await self.reader.read_list(
                self.facts.lists.selling,
                query=dict(self.facts.quick.selling_newest_bids),
                keep_going=lambda _page: False,
            )
            self.read.selling = unique(got.rows, lambda r: r.auction_id)
            self.summary.selling = len(self.read.selling)
            return f"{len(got.rows)}件"

        reads = [orders_then_details(), self._guarded("sold", self.read_sold)]
        if self.facts.quick.selling_newest_bids:
            reads.append(self._guarded("selling", newest_bids))
        await asyncio.gather(*reads)
        for key, work in (
            ("listings", lambda: self.reconcile_listings(auctions, False, False)),
            ("upserts", lambda: self.reconcile_orders(snapshots)),
        ):
            try:
                await work()
            except Exception as exc:
                log.exception("quick check: %s reconcile failed", key)
                self.faults.append(self._fault(exc))
        self.summary.yahoo_requests = len(self.reader.fetched) - requests_before
        return self.summary

    @property
    def newest_sold_at(self) -> datetime | None:
        """The newest win read this time (the next quick check reads down to it)."""
        return max((r.sold_at for r in self.read.sold if r.sold_at), default=None)

    # -- reconciling listings and auctions -------------------------------------------------------------
    async def adopt_unseen_auctions(self) -> None:
        """Auctions of ours that no sync has seen yet (listed directly, or recorded while the
        sync was not looking) become known as selling, the last thing we know of them: the end
        of an auction is only found among known auctions, so one won before any sync saw it
        would otherwise stay 出品中 for ever."""
        async with self.db.session() as s, s.begin():
            known = select(AuctionSnapshot.auction_id)
            rows = (
                await s.execute(
                    select(
                        ListingRecord.auction_id,
                        ListingRecord.management_number,
                        ListingRecord.title,
                        ListingRecord.listed_at,
                    ).where(
                        ListingRecord.state == ListingState.LISTED,
                        ListingRecord.auction_id.is_not(None),
                        ListingRecord.auction_id.not_in(known),
                    )
                )
            ).all()
            if rows:
                await s.execute(
                    insert(AuctionSnapshot),
                    [
                        {
                            "auction_id": r.auction_id,
                            "management_number": r.management_number,
                            "title": r.title,
                            "state": "selling",
                            "data": {"adopted": True},
                            "last_seen_at": r.listed_at or utcnow(),
                        }
                        for r in rows
                    ],
                )
        if rows:
            log.info("sync: %d auctions of ours not seen by a sync yet are now watched", len(rows))

    async def reconcile_listings(
        self,
        auctions: dict[str, AuctionSnapshot],
        selling_complete: bool,
        ended_complete: bool,
        checked: set[str] | None = None,
    ) -> None:
        """`checked`: a light sync's auctions searched by 管理番号 — only those (and the won
        ones) may be concluded ended; None: every known auction missing from the list."""
        now = utcnow()
        notices: list[tuple[str | None, str | None, str]] = []  # told to staff after the commit
        registered: list[str] = []  # found in a folder, not started: staff are told too
        selling = self.read.selling or []
        by_mn: dict[str, ListRow] = {}
        for row in selling:
            if row.management_number:
                by_mn.setdefault(row.management_number, row)
        sold_by_id = {r.auction_id: r for r in self.read.sold}
        order_by_auction = {r.auction_id: r for r in self.read.orders or [] if r.auction_id}
        # 管理番号 → an auction that was won (sold list or an order), for listings that sold
        # before any sync saw them selling
        # Wins by 管理番号 that can belong to a listing still open here. Not a win: a cancelled
        # order, or an auction an earlier sync already settled (sold or ended) — that was an
        # earlier life of the same 管理番号, before staff listed the item again.
        settled = {aid for aid, snap in auctions.items() if snap.state != "selling"}
        won_by_mn: dict[str, str] = {}
        for r in self.read.sold:
            if r.management_number and r.auction_id not in settled:
                won_by_mn.setdefault(r.management_number, r.auction_id)
        for o in self.read.orders or []:
            cancelled = self.facts.orders.status_cancelled in (o.order_status or "") or (
                self.facts.orders.status_cancelled in (o.store_status or "")
            )
            if (
                o.management_number
                and o.auction_id
                and o.auction_id not in settled
                and not cancelled
            ):
                won_by_mn.setdefault(o.management_number, o.auction_id)

        async with self.db.session() as s, s.begin():
            # 1. auctions now selling (bulk: a busy store changes thousands of prices a day)
            new_rows: list[dict[str, Any]] = []
            changed_rows: list[dict[str, Any]] = []
            for row in selling:
                snap = auctions.get(row.auction_id)
                values = {
                    "management_number": row.management_number,
                    "title": row.title,
                    "state": "selling",
                    "price": row.price,
                    "bids": row.bids,
                    "end_time": row.end_time,
                }
                data = {"item_id": row.item_id, "watchers": row.watchers}
                if snap is None:
                    new_rows.append(
                        {"auction_id": row.auction_id, "data": data, "last_seen_at": now, **values}
                    )
                    auctions[row.auction_id] = AuctionSnapshot(
                        auction_id=row.auction_id, data=data, **values
                    )
                elif any(getattr(snap, k) != v for k, v in values.items()) or snap.data != data:
                    changed_rows.append(
                        {"auction_id": row.auction_id, "data": data, "last_seen_at": now, **values}
                    )
                    for k, v in values.items():
                        setattr(snap, k, v)  # the detached copy, for the steps below
            if new_rows:
                await s.execute(insert(AuctionSnapshot), new_rows)
            if changed_rows:
                await s.execute(update(AuctionSnapshot), changed_rows)
            # 2. auctions that ended since the last sync
            ended: dict[str, str] = {}  # auction id → sold | ended_unsold | ended
            selling_ids = {r.auction_id for r in selling}
            for a in list(auctions.values()):
                if a.state != "selling" or a.auction_id in selling_ids:
                    continue
                if a.auction_id in sold_by_id or a.auction_id in order_by_auction:
                    ended[a.auction_id] = "sold"
                elif (
                    selling_complete
                    and ended_complete
                    and (checked is None or a.auction_id in checked)
                ):
                    items = self.read.items_by_mn.get(a.management_number or "", [])
                    same = next((i for i in items if i.auction_id == a.auction_id), None)
                    if same is None and len(items) == 1:
                        # relisted (自動再出品) under ids no sync saw: the item's state decides
                        same = items[0]
                    states = self.facts.items
                    if same is not None and same.status == states.status_selling:
                        continue  # still running (the list moved under us): look again next time
                    if same is not None and same.status == states.status_unsold:
                        ended[a.auction_id] = "ended_unsold"
                    elif same is not None and same.status == states.status_sold:
                        ended[a.auction_id] = "sold"
                    else:
                        ended[a.auction_id] = "ended"  # ended early, or relisted under a new id
            for aid, state in ended.items():
                snap = await s.merge(auctions[aid])
                snap.state = state
                snap.last_seen_at = now
                if state == "sold":
                    sold = sold_by_id.get(aid)
                    if sold is not None:
                        snap.price = sold.price
                        snap.data = {**(snap.data or {}), "winner": sold.winner}
            # 3. ReCORE listings
            records = (
                await s.scalars(
                    select(ListingRecord).where(
                        ListingRecord.state.in_([*OPEN_STATES, ListingState.LISTED])
                    )
                )
            ).all()
            for rec in records:
                mn = rec.management_number or ""
                row = by_mn.get(mn)
                if rec.state in OPEN_STATES:
                    aid = row.auction_id if row is not None else won_by_mn.get(mn)
                    if aid is None:
                        if rec.state == ListingState.PROCESSING and self._registered(mn):
                            rec.state = ListingState.REGISTERED
                            self.summary.registered += 1
                            registered.append(mn)
                        continue
                    await self._mark_listed(s, rec, aid, now)
                    if row is None:  # it sold before a sync saw it selling
                        rec.state = ListingState.ENDED
                        self.summary.ended_sold += 1
                    continue
                # listed
                if row is not None and row.auction_id != rec.auction_id:
                    # 自動再出品: the same item runs again under a new auction id
                    rec.auction_id = row.auction_id
                    rec.auction_url = self.urls.auction(row.auction_id)
                    self.summary.relisted += 1
                    continue
                outcome = ended.get(rec.auction_id or "")
                if outcome is None or row is not None:
                    continue
                rec.state = ListingState.ENDED
                if outcome == "sold":
                    self.summary.ended_sold += 1
                else:
                    self.summary.ended_unsold += 1
                    notices.append((rec.management_number, rec.auction_id, outcome))
            for aid, state in ended.items():
                if state != "sold":
                    snap = await s.get(AuctionSnapshot, aid)
                    if snap is not None and snap.reported_state != state:
                        snap.reported_state = state
        # events are written in their own transaction: after ours, never inside it (SQLite)
        for number, auction_id, outcome in notices:
            await self._notice_unsold(number, auction_id, outcome)
        if registered:
            await self._notice_registered(registered)

    async def _mark_listed(
        self, s: Any, rec: ListingRecord, auction_id: str, now: datetime
    ) -> None:
        url = self.urls.auction(auction_id)
        rec.state = ListingState.LISTED
        rec.auction_id = auction_id
        rec.auction_url = url
        rec.listed_at = rec.listed_at or now
        rec.last_attempt_error = None
        self.summary.listed += 1
        if rec.task_id:
            listing = rc.listing_from_inventory(rec.inventory) if rec.inventory else None
            body = rc.succeeded_body(
                listing,
                auction_id=auction_id,
                auction_url=url,
                management_number=rec.management_number,
            )
            await ob.enqueue_task_succeeded(s, rec.task_id, body, ob.listing_key(rec.id))

    async def _unplaced(
        self, states: tuple[ListingState, ...] = (ListingState.PROCESSING,)
    ) -> set[str]:
        """管理番号 of listings handed out (出品処理中; a light sync adds those registered in a
        folder, which staff may start) that no list read this time shows."""
        shown = {r.management_number for r in self.read.selling or []}
        shown |= {r.management_number for r in self.read.sold}
        shown |= {r.management_number for r in self.read.orders or []}
        async with self.db.session() as s:
            numbers = await s.scalars(
                select(ListingRecord.management_number).where(ListingRecord.state.in_(states))
            )
            return {n for n in numbers if n and n not in shown}

    def _registered(self, number: str) -> bool:
        """The 管理番号 is in a 競りナビ folder, registered but not started (no auction)."""
        states = self.facts.items
        return any(
            i.status == states.status_registered and not i.auction_id
            for i in self.read.items_by_mn.get(number, [])
        )

    async def _notice_registered(self, numbers: list[str]) -> None:
        shown = "、".join(numbers[:5]) + (f" ほか{len(numbers) - 5}件" if len(numbers) > 5 else "")
        await self.events.error(
            EVENT_SOURCE,
            f"管理番号 {shown} は競りナビのフォルダに登録済み（未出品）です。まだ出品されていません。"
            "ツールバーの生成済みリストから「出品開始」を押すか、競りナビの商品管理で出品を開始してください。",
            f"{len(numbers)} listing(s) registered in a 競りナビ folder, not started: {shown}",
        )

    async def _notice_unsold(
        self, number: str | None, auction_id: str | None, outcome: str
    ) -> None:
        what = "落札者なしで終了しました" if outcome == "ended_unsold" else "終了しました"
        await self.events.error(
            EVENT_SOURCE,
            f"管理番号 {number}（オークション {auction_id}）は{what}。"
            "ReCOREで出品を終了して在庫を戻すか、もう一度出品してください。",
            f"{number} ({auction_id}) ended ({outcome}); staff should end the listing in ReCORE",
        )

    # -- reconciling orders ------------------------------------------------------------------------------
    def mapping_key(self) -> str:
        """What, besides the order itself, shapes an upsert body (the fast path's guard)."""
        raw = json.dumps(
            [
                self.mapping,
                {k.value: v for k, v in self.status_names.items()},
                self.ec_account_id,
                self.urls.order_detail("-"),
            ],
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def _plan_orders(
        self, snapshots: dict[str, OrderSnapshot]
    ) -> tuple[list[tuple[OrderRow, OrderDetail, dict[str, Any], str]], set[str], int]:
        """Pure CPU (runs in a thread): which orders to send, with their bodies and hashes.
        An entry with an empty hash only refreshes the stored fingerprint (nothing is sent)."""
        plan: list[tuple[OrderRow, OrderDetail, dict[str, Any], str]] = []
        unmapped: set[str] = set()
        unchanged = 0
        mk = self.mapping_key()
        for row in self.read.orders or []:
            snap = snapshots.get(row.order_id)
            detail = self.read.details.get(row.order_id)
            if (
                detail is None
                and snap is not None
                and snap.sent_hash
                and snap.data.get("mk") == mk
                and snap.data.get("fp") == row.fingerprint()
            ):
                # same list row, same mapping as when it was sent: the body cannot differ
                unchanged += 1
                continue
            if detail is None and snap is not None:
                detail = detail_from_json(snap.data.get("detail") or {})
            if detail is None:
                continue  # its detail page failed this time: the next sync reads it
            status, by_table = map_status(detail, self.mapping, self.facts.orders)
            if not by_table and detail.store_status:
                unmapped.add(detail.store_status)
            order = order_from_detail(detail, status, self.urls.order_detail(detail.order_id))
            body = rc.order_upsert_body(order, self.ec_account_id or 0, self.status_names)
            digest = body_hash(body)
            if snap is not None and snap.sent_hash == digest:
                unchanged += 1
                if (
                    row.order_id in self.read.details and snap.data.get("fp") != row.fingerprint()
                ) or snap.data.get("mk") != mk:
                    plan.append((row, detail, body, ""))
                continue
            plan.append((row, detail, body, digest))
        return plan, unmapped, unchanged

    async def reconcile_orders(self, snapshots: dict[str, OrderSnapshot]) -> None:
        if self.read.orders is None:
            return  # no complete list this time
        loop = asyncio.get_running_loop()
        plan, unmapped, unchanged = await loop.run_in_executor(None, self._plan_orders, snapshots)
        self.summary.unchanged_orders = unchanged
        if self.ec_account_id is None and any(p[3] for p in plan):
            raise SyncFault(
                "NO_EC_ACCOUNT",
                "ECアカウントIDが設定されていないため、受注をReCOREへ送れません。設定画面で入力してください。",
                "ec_account_id is not set; orders cannot be sent",
            )
        now = utcnow()
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        mk = self.mapping_key()
        for row, detail, body, digest in plan:
            snap = snapshots.get(row.order_id)
            data = dict(snap.data or {}) if snap is not None else {}
            data["fp"] = row.fingerprint()
            data["mk"] = mk
            data["detail"] = detail_to_json(detail)
            values: dict[str, Any] = {
                "mall_order_id": row.order_id,
                "auction_id": detail.auction_id,
                "management_number": detail.management_number,
                "store_status": detail.store_status,
                "updated_at": now,
            }
            if digest:
                version = int(data.get("v", 0)) + 1
                data["v"] = version
                # the version in the key: an order that goes A → B → A is still sent the 3rd time
                messages.append(
                    ob.order_upsert_row(row.order_id, body, f"{version}:{digest[:24]}", now)
                )
                values["sent_hash"] = digest
                values["recore_status"] = body["status"]
            values["data"] = data
            if snap is None:
                new_rows.append({"sent_hash": None, "recore_status": None, **values})
            else:
                changed_rows.append(values)
        # one transaction, bulk statements: 5,000 orders are three statements, not 15,000
        async with self.db.session() as s, s.begin():
            if new_rows:
                await s.execute(insert(OrderSnapshot), new_rows)
            if changed_rows:
                await s.execute(update(OrderSnapshot), changed_rows)
            if messages:
                await ob.enqueue_many(s, messages)
        self.summary.upserts = len(messages)
        for status in sorted(unmapped):
            await self.events.error(
                EVENT_SOURCE,
                f"ストアステータス「{status}」がステータス対応表にありません。"
                "注文ステータスから判断して送信しました。設定で対応先を決めてください。",
                f"store status {status!r} is not in the mapping; derived from the order status",
            )


def default_watermark(last: str | None) -> datetime | None:
    """Sold rows newer than a day before the last complete sold read are read again."""
    if not last:
        return None
    try:
        read_at = datetime.fromisoformat(last.replace("Z", "+00:00"))
    except ValueError:
        return None
    # a time ahead of now was written while the PC's clock was ahead: reading from there would
    # skip what sold meanwhile
    return min(read_at, utcnow()) - timedelta(days=1)
