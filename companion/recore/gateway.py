"""The task poller: ReCORE's EC gateway tasks in, one handler per task type, reports out.

Each poll (`Gateway.poll_once`) reads `GET /ec/gateway/tasks`, stores every task ONCE by its id
(`RecoreTask`, state `new`; a task polled again is ignored, ReCORE keeps listing it until it is
reported), then handles the `new` ones oldest first: for listing tasks it fetches the listing
(`GET /ec/inventories/{id}`) and converts it to a neutral `Listing`, then calls the handler
registered for the task's type. The task types are partly unseen (docs/recore-co-api.md): a
type nobody handles is never reported failed; it is kept (`unknown`), shown to staff with its
raw type and data (`GET /status`, the options page) and raises an alert once. The `task_types`
table (`companion.tables`) maps ReCORE's real names to the connector's handlers; an unknown task
is handled at the first poll after its alias is added. An order task that carries only ReCORE's
`ec_order_id` gets its `mall_order_id` from `GET /ec/orders?ids=`. A handler that raises leaves
its task `new` (tried again next poll; after `MAX_HANDLER_ERRORS` tries it is reported failed).
A sale at the register (`URGENT_TYPES`) goes first in its poll and its report is sent at once; the
loop polls again soon after a poll that took in new tasks (`FOLLOW_UP_SECONDS`) and runs the
`after_poll` work (the sync feature retries the urgent tasks it left open) after each poll.

Registering a handler (the sync feature does this for SHIP_ORDER, CANCEL_ORDER, DELETE_INVENTORY …)::

    from companion.keys import GATEWAY

    async def ship(ctx: TaskContext) -> None:
        order = await ctx.session.get(OrderSnapshot, ctx.mall_order_id)
        ...                                   # change local state in ctx.session
        await ctx.succeed({})                 # or ctx.fail("…（日本語）", {"field": ["…"]})
        # or neither: the task stays `handled` (open in ReCORE) until someone reports it later
        # with `outbox.enqueue_task_succeeded(session, task_id, body, ordering_key)`.

    app[GATEWAY].register_handler("SHIP_ORDER", ship)

A handler runs inside ONE transaction (`ctx.session`): its state changes and its report commit
together. `ctx.listing` / `ctx.inventory` are set for listing tasks that need the listing
(`client.FETCH_INVENTORY_TYPES`); `ctx.ec_inventory_id`, `ctx.mall_order_id`, `ctx.data` come from
the task.

Built in: the intake handler for `CREATE_INVENTORY`, and for `UPDATE_INVENTORY` (and its
`_PRICE`/`_QUANTITY` siblings) while the listing is not yet on Yahoo (no local record, or
`waiting`/`held`/`error`). Listing tasks fetch, besides the listing, the item it allocates and
that item's catalogue entry (`companion.listing.intake.fetch_sources`, batched). The intake
upserts a `ListingRecord` (id = ec_inventory_id, the task id kept to report the auction id once
listed) and maps it with the shop's tables: state `waiting`, or `held` (情報不足) when a field
Yahoo needs is missing — held is never reported; it is re-checked when the tables change. A
listing with a value that does not parse is reported failed at once naming the field (e.g.
「開始価格: 数値ではありません（"abc"）」), state `error`.
An update for a listing already in a batch or on Yahoo goes to the handler registered for its
type (`register_handler(UPDATE_INVENTORY, …)`); without one it is reported failed. Yahoo's own rules (title
length …) are checked later by the batch step, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.cluster import mutex
from companion.db import Database
from companion.db.models import ListingRecord, RecoreTask, iso, utcnow
from companion.domain import Listing, ListingState
from companion.events import Events
from companion.listing import intake as li
from companion.listing.mapping import Built
from companion.listing.rules import ListingRules
from companion.listing.validation import item_names
from companion.listing.wording import problem_text
from companion.recore import client as rc
from companion.recore import outbox as ob
from companion.recore.client import (
    FieldProblem,
    RecoreClient,
    RecoreError,
    RecoreRejected,
    RecoreUnauthorized,
)

if TYPE_CHECKING:
    from companion.tables import TablesStore

log = logging.getLogger(__name__)

MAX_HANDLER_ERRORS = 3
# A sale at the register (the double-sale guard): handled before the other tasks of a poll, its
# report sent at once, and, when left open (Yahoo unreachable, 確認中), tried again after each poll.
URGENT_TYPES = (rc.DELETE_INVENTORY,)
# After a poll that took in new tasks the next one comes this soon (capped by the interval): sales
# at the register come in bursts, and this is far below ReCORE's 5 requests/s per endpoint.
FOLLOW_UP_SECONDS = 2.0
FETCH_CHUNK = 50  # tasks whose listings are fetched together before they are handled in order
FETCH_CONCURRENCY = 5  # enough to keep the 5 requests/s bucket busy over a slow link
# Taken in by the intake while the listing is not on Yahoo yet (the data is simply refetched).
UPDATE_TYPES = (rc.UPDATE_INVENTORY, rc.UPDATE_INVENTORY_PRICE, rc.UPDATE_INVENTORY_QUANTITY)
# what the listings table keeps of a 管理番号 (PostgreSQL refuses longer, SQLite would not say)
MANAGEMENT_NUMBER_MAX = ListingRecord.__table__.c.management_number.type.length
EVENT_SOURCE = "recore"
UNKNOWN = "unknown"  # RecoreTask.state of a type no handler (and no alias) takes


@dataclass
class TaskContext:
    """What a handler gets: the task, its listing (if fetched), and a transaction to work in."""

    session: AsyncSession
    task_id: str
    type: str
    data: dict[str, Any]
    ec_inventory_id: int | None
    mall_order_id: str | None
    inventory: dict[str, Any] | None = None
    listing: Listing | None = None
    problems: list[FieldProblem] = field(default_factory=list)
    reported: str | None = None  # "succeeded" | "failed" once the handler reported
    # listing tasks: the item and catalogue entry fetched with the listing, the shop's tables
    # and the listing mapped with them (`listing` is then `built.listing`)
    sources: li.Sources | None = None
    rules: ListingRules | None = None
    built: Built | None = None
    raw_type: str | None = None  # the type as ReCORE named it (`type` is the connector's)

    @property
    def ordering_key(self) -> str:
        if self.ec_inventory_id is not None:
            return ob.listing_key(self.ec_inventory_id)
        if self.mall_order_id is not None:
            return ob.order_key(self.mall_order_id)
        return f"task:{self.task_id}"

    async def succeed(self, body: dict[str, Any] | None = None) -> None:
        await ob.enqueue_task_succeeded(self.session, self.task_id, body or {}, self.ordering_key)
        self.reported = "succeeded"

    async def fail(self, message: str, detail: dict[str, Any] | None = None) -> None:
        await ob.enqueue_task_failed(self.session, self.task_id, message, detail, self.ordering_key)
        self.reported = "failed"


TaskHandler = Callable[[TaskContext], Awaitable[None]]


@dataclass
class PollResult:
    received: int = 0  # tasks in ReCORE's answer
    new: int = 0  # of those, first seen now
    handled: int = 0
    failed: int = 0  # reported failed by this poll
    deferred: int = 0  # left `new` (ReCORE unreachable, handler error)
    unknown: int = 0  # of a type no handler takes: kept open and shown


class Gateway:
    def __init__(
        self,
        db: Database,
        client: RecoreClient | None = None,
        *,
        events: Events | None = None,
        outbox: ob.Outbox | None = None,
        tables: TablesStore | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.events = events
        self.outbox = outbox
        self.tables = tables
        self._aliases: dict[str, str] = {}
        self._rules = ListingRules()
        self._handlers: dict[str, TaskHandler] = {}
        self._handler_errors: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self.last_poll_at: datetime | None = None
        self.last_success_at: datetime | None = None
        self.last_error: dict[str, str] | None = None
        # run after each poll of the loop, outside the poll's lock (the sync feature retries the
        # urgent tasks it left open)
        self.after_poll: list[Callable[[], Awaitable[object]]] = []

    # -- registration ------------------------------------------------------------------------------
    def register_handler(self, task_type: str, handler: TaskHandler) -> None:
        """Handle `task_type` with `handler` (replaces an earlier one). See the module docstring."""
        self._handlers[task_type] = handler

    def handles(self, task_type: str) -> bool:
        kind = self.canonical(task_type)
        return kind in self._handlers or kind in (rc.CREATE_INVENTORY, *UPDATE_TYPES)

    def canonical(self, task_type: str) -> str:
        """The connector's name for a type ReCORE sent (the `task_types` table, else itself)."""
        return self._aliases.get(task_type, task_type)

    async def _load_tables(self) -> None:
        if self.tables is not None:
            self._aliases = await self.tables.task_aliases()
            self._rules = await self.tables.listing_rules()

    # -- polling -----------------------------------------------------------------------------------
    def poll_now(self) -> None:
        """Wake the poll loop now (e.g. after staff pressed a button)."""
        self._wake.set()

    async def run(self, interval: float = 15.0) -> None:
        """The poll loop: poll, then sleep `interval` (longer after errors) or until woken."""
        failures = 0
        while True:
            self._wake.clear()
            new = 0
            try:
                new = (await self.cycle()).new
                failures = 0 if self.last_error is None else failures + 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gateway poll failed unexpectedly")
                failures += 1
            sleep = min(interval * (2 ** min(failures, 4)), 600.0) if failures else interval
            if new and not failures:
                sleep = min(sleep, FOLLOW_UP_SECONDS)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=sleep)
            except TimeoutError:
                pass

    async def cycle(self) -> PollResult:
        """One turn of the loop: a poll, then the `after_poll` work."""
        result = await self.poll_once()
        for work in self.after_poll:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gateway: work after the poll failed")
        return result

    @contextlib.asynccontextmanager
    async def between_polls(self) -> AsyncIterator[None]:
        """No poll of this companion runs meanwhile. A poll builds the listings it takes in with
        the tables it read at its start: a re-check after a table change waits for the poll in
        flight, or a listing taken in with the old tables would stay held."""
        async with self._lock:
            yield

    async def poll_once(self) -> PollResult:
        """Fetch the open tasks, store the new ones, handle every task still `new`. One poll at a
        time, across every companion on the database (the leader's loop, a CLI sync)."""
        async with self._lock, mutex(self.db, "recore:poll"):
            return await self._poll()

    async def _poll(self) -> PollResult:
        result = PollResult()
        client = self.client
        if client is None:
            return result
        self.last_poll_at = utcnow()
        try:
            tasks = await client.poll_tasks()
        except RecoreError as exc:
            await self._poll_failed(exc)
            return result
        self.last_error = None
        result.received = len(tasks)
        result.new = await self._store(tasks, client.ec_account_id)
        await self._load_tables()
        async with self.db.session() as s:
            todo = [
                t
                for t in (
                    await s.scalars(
                        select(RecoreTask)
                        .where(RecoreTask.state.in_(("new", UNKNOWN)))
                        .order_by(RecoreTask.received_at, RecoreTask.id)
                    )
                ).all()
                # an unknown one waits, quietly, until an alias (or a release) gives it a handler
                if t.state == "new" or self._pick(t) is not None
            ]
        todo = self._urgent_first(todo)
        stopped = False
        for start in range(0, len(todo), FETCH_CHUNK):
            chunk = todo[start : start + FETCH_CHUNK]
            # listings are fetched concurrently (paced by the client's bucket), handled in order
            fetched = await self._fetch_all(client, chunk)
            for task in chunk:
                try:
                    outcome = await self._handle(task, fetched.get(task.id))
                except RecoreUnauthorized as exc:
                    await self._poll_failed(exc)
                    result.deferred += 1
                    stopped = True
                    break
                if outcome in ("handled", "failed") and self.canonical(task.type) in URGENT_TYPES:
                    self._send_now()
                if outcome == "failed":
                    result.failed += 1
                elif outcome == "deferred":
                    result.deferred += 1
                elif outcome == UNKNOWN:
                    result.unknown += 1
                else:
                    result.handled += 1
            if stopped:
                break
        if result.handled or result.failed:
            if self.outbox is not None:
                self.outbox.wake()
        self.last_success_at = utcnow()
        return result

    def _urgent_first(self, todo: list[RecoreTask]) -> list[RecoreTask]:
        """`URGENT_TYPES` first, oldest first; one that follows another task of the same listing
        keeps its place after it (a DELETE after its listing's CREATE)."""
        urgent: list[RecoreTask] = []
        rest: list[RecoreTask] = []
        seen: set[int] = set()
        for task in todo:
            listing = task.ec_inventory_id
            if self.canonical(task.type) in URGENT_TYPES and (
                listing is None or listing not in seen
            ):
                urgent.append(task)
            else:
                rest.append(task)
            if listing is not None:
                seen.add(listing)
        return urgent + rest

    def _send_now(self) -> None:
        """The report of an urgent task leaves now, not after the rest of the poll."""
        if self.outbox is not None:
            self.outbox.wake()

    async def _poll_failed(self, exc: RecoreError) -> None:
        first = self.last_error is None or self.last_error.get("message_en") != exc.message_en
        self.last_error = {"message": exc.message, "message_en": exc.message_en}
        log.warning("gateway poll: %s", exc.message_en)
        # one event per kind of trouble, not one per poll
        if first and self.events is not None and isinstance(exc, RecoreUnauthorized):
            await self.events.error(EVENT_SOURCE, exc.message, exc.message_en)

    async def _store(self, tasks: list[dict[str, Any]], ec_account_id: int) -> int:
        """Store each task once by id; returns how many were new."""
        parsed = [t for t in (rc.task_from_json(x, ec_account_id) for x in tasks) if t is not None]
        if not parsed:
            return 0
        async with self.db.session() as s, s.begin():
            known = set(
                (
                    await s.scalars(
                        select(RecoreTask.id).where(RecoreTask.id.in_([t["id"] for t in parsed]))
                    )
                ).all()
            )
            new = 0
            for fields in parsed:
                if fields["id"] in known:
                    continue
                known.add(fields["id"])
                s.add(RecoreTask(**fields))
                new += 1
        return new

    # -- handling ------------------------------------------------------------------------------------
    async def _fetch_all(
        self, client: RecoreClient, tasks: list[RecoreTask]
    ) -> dict[str, tuple[dict[str, Any], li.Sources | None] | RecoreError]:
        """The listing (and its item and catalogue entry) of each task that needs one, or the
        error fetching it."""
        sem = asyncio.Semaphore(FETCH_CONCURRENCY)
        inventories: dict[str, dict[str, Any] | RecoreError] = {}

        async def fetch(task: RecoreTask) -> None:
            assert task.ec_inventory_id is not None
            async with sem:
                try:
                    inventories[task.id] = await client.get_inventory(task.ec_inventory_id)
                except RecoreError as exc:
                    inventories[task.id] = exc

        await asyncio.gather(
            *(
                fetch(t)
                for t in tasks
                if self.canonical(t.type) in rc.FETCH_INVENTORY_TYPES
                and t.ec_inventory_id is not None
            )
        )
        found = {k: v for k, v in inventories.items() if not isinstance(v, RecoreError)}
        out: dict[str, tuple[dict[str, Any], li.Sources | None] | RecoreError] = {
            k: v for k, v in inventories.items() if isinstance(v, RecoreError)
        }
        try:
            sources = await li.fetch_sources(client, found) if found else {}
        except RecoreError as exc:  # unreachable now: every one of them waits for the next poll
            return out | {k: exc for k in found}
        return out | {k: (v, sources.get(k)) for k, v in found.items()}

    async def _resolve_order(self, client: RecoreClient, task: RecoreTask) -> str | None:
        """An order task without `mall_order_id`: ReCORE's order by `ec_order_id` gives it.
        Returns why it cannot be resolved (Japanese), or None (resolved, or not needed)."""
        if task.mall_order_id or self.canonical(task.type) not in rc.ORDER_TASK_TYPES:
            return None
        raw_id = (task.data or {}).get("ec_order_id")
        ec_order_id = rc._int_or_none(raw_id)
        if ec_order_id is None:
            return None  # the handler says what is missing
        order = await client.get_order(ec_order_id)
        mall_order_id = order.get("mall_order_id") if order else None
        if not isinstance(mall_order_id, str) or not mall_order_id:
            return f"ReCOREの受注（ID {ec_order_id}）が見つからないか、モールの注文IDがありません。"
        async with self.db.session() as s, s.begin():
            row = await s.get(RecoreTask, task.id)
            if row is not None:
                row.mall_order_id = task.mall_order_id = mall_order_id[:64]
        log.info(
            "task %s: mall_order_id %s from ReCORE order %s", task.id, mall_order_id, ec_order_id
        )
        return None

    async def _handle(
        self,
        task: RecoreTask,
        fetched: tuple[dict[str, Any], li.Sources | None] | RecoreError | None,
    ) -> str:
        """Handle one stored task; returns handled, failed, deferred or unknown."""
        inventory: dict[str, Any] | None = None
        sources: li.Sources | None = None
        if isinstance(fetched, RecoreRejected):
            if fetched.status == 404:
                message = f"出品データ（ID {task.ec_inventory_id}）がReCOREで見つかりません。"
            else:
                message = (
                    f"出品データ（ID {task.ec_inventory_id}）を取得できません: {fetched.message}"
                )
            await self._fail_alone(task, message, {"ec_inventory_id": [fetched.message]})
            return "failed"
        if isinstance(fetched, RecoreUnauthorized):
            raise fetched
        if isinstance(fetched, RecoreError):  # unavailable: try again at the next poll
            log.info("task %s: listing fetch deferred: %s", task.id, fetched.message_en)
            return "deferred"
        if fetched is not None:
            inventory, sources = fetched
        handler = self._pick(task)
        if handler is None:
            return await self._keep_unknown(task)
        if self.client is not None:
            try:
                unresolved = await self._resolve_order(self.client, task)
            except RecoreUnauthorized:
                raise
            except RecoreError as exc:
                log.info("task %s: order lookup deferred: %s", task.id, exc.message_en)
                return "deferred"
            if unresolved is not None:
                await self._fail_alone(task, unresolved, {"ec_order_id": [unresolved]})
                return "failed"
        try:
            async with self.db.session() as s, s.begin():
                # locked until this handler's commit: never handled twice, whoever else tries
                row = await s.get(RecoreTask, task.id, with_for_update=True)
                if row is None or row.state not in ("new", UNKNOWN):
                    return "handled"  # someone else got to it
                ctx = task_context(
                    s, row, inventory, sources, self._rules, self.canonical(row.type)
                )
                await handler(ctx)
                if ctx.reported is None:
                    row.state = "handled"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return await self._handler_crashed(task, exc)
        self._handler_errors.pop(task.id, None)
        return "failed" if ctx.reported == "failed" else "handled"

    async def _keep_unknown(self, task: RecoreTask) -> str:
        """A type no handler takes: kept open (never reported), shown, and alerted once."""
        async with self.db.session() as s, s.begin():
            row = await s.get(RecoreTask, task.id)
            if row is None or row.state != "new":
                return UNKNOWN
            row.state = UNKNOWN
            row.message = unknown_message(row.type, row.data)[:1000]
        log.warning("task %s of unknown type %r kept open: %s", task.id, task.type, task.data)
        if self.events is not None:
            await self.events.error(
                EVENT_SOURCE,
                unknown_message(task.type, task.data),
                f"task {task.id} of unknown type {task.type!r} kept open (not reported); "
                "add an alias in the task_types table if it is a known action",
            )
        return UNKNOWN

    def _pick(self, task: RecoreTask) -> TaskHandler | None:
        kind = self.canonical(task.type)
        if kind == rc.CREATE_INVENTORY:
            return self._handlers.get(kind, intake)
        if kind in UPDATE_TYPES:
            return _update_router(self._handlers.get(kind))
        return self._handlers.get(kind)

    async def _handler_crashed(self, task: RecoreTask, exc: Exception) -> str:
        count = self._handler_errors.get(task.id, 0) + 1
        self._handler_errors[task.id] = count
        log.error(
            "task %s (%s): handler failed (%d/%d): %s",
            task.id,
            task.type,
            count,
            MAX_HANDLER_ERRORS,
            type(exc).__name__,
            exc_info=exc,
        )
        if count < MAX_HANDLER_ERRORS:
            return "deferred"
        self._handler_errors.pop(task.id, None)
        message = (
            f"タスク（{task.type}）の処理中にコネクタで予期しないエラーが発生しました"
            f"（{type(exc).__name__}）。コネクタのログを確認してください。"
        )
        await self._fail_alone(task, message, {"type": [task.type]})
        if self.events is not None:
            await self.events.error(
                EVENT_SOURCE,
                message,
                f"task {task.id} ({task.type}) failed {count} times: {type(exc).__name__}",
            )
        return "failed"

    async def _fail_alone(self, task: RecoreTask, message: str, detail: dict[str, Any]) -> None:
        async with self.db.session() as s, s.begin():
            row = await s.get(RecoreTask, task.id, with_for_update=True)
            if row is None or row.state != "new":
                return
            ctx = task_context(s, row, None, None, self._rules, self.canonical(row.type))
            await ctx.fail(message, detail)
            if row.ec_inventory_id is not None:
                record = await s.get(ListingRecord, row.ec_inventory_id)
                if record is not None and record.task_id == row.id:
                    record.state = ListingState.ERROR
                    record.last_attempt_error = message

    # -- status --------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "last_poll_at": iso(self.last_poll_at),
            "last_success_at": iso(self.last_success_at),
            "last_error": self.last_error,
        }


def task_context(
    s: AsyncSession,
    row: RecoreTask,
    inventory: dict[str, Any] | None,
    sources: li.Sources | None = None,
    rules: ListingRules | None = None,
    kind: str | None = None,
) -> TaskContext:
    ctx = TaskContext(
        session=s,
        task_id=row.id,
        type=kind or row.type,
        data=row.data or {},
        ec_inventory_id=row.ec_inventory_id,
        mall_order_id=row.mall_order_id,
        inventory=inventory,
        sources=sources,
        rules=rules,
        raw_type=row.type,
    )
    if inventory is not None:
        ctx.problems = rc.inventory_problems(inventory)
        ctx.built = li.build_listing(
            li.sources_from(
                inventory,
                sources.item if sources else None,
                sources.product if sources else None,
                sources.notes if sources else None,
            ),
            rules or ListingRules(),
        )
        ctx.listing = ctx.built.listing
    return ctx


def unknown_message(task_type: str, data: Any) -> str:
    shown = task_type or "（種別なし）"
    raw = rc._shown(data, 200)
    return (
        f"ReCOREから未対応のタスク種別「{shown}」が届きました（データ: {raw}）。"
        "ReCOREには報告せず保留しています。ReCOREでの操作を確認し、既知の処理であれば設定画面の"
        "「タスク種別の対応表」で対応する処理を選んでください。"
    )


# ---- the built-in intake handler -----------------------------------------------------------------
NOT_LISTED = (ListingState.WAITING, ListingState.HELD, ListingState.ERROR)


def _update_router(listed_handler: TaskHandler | None) -> TaskHandler:
    """UPDATE_INVENTORY*: intake while not on Yahoo yet; otherwise the registered handler."""

    async def route(ctx: TaskContext) -> None:
        record = (
            await ctx.session.get(ListingRecord, ctx.ec_inventory_id)
            if ctx.ec_inventory_id is not None
            else None
        )
        if record is None or record.state in NOT_LISTED:
            await intake(ctx)
        elif listed_handler is not None:
            await listed_handler(ctx)
        else:
            label = "出品処理中" if record.state == ListingState.PROCESSING else "出品中など"
            await ctx.fail(
                f"この出品はすでに{label}のため、コネクタはまだ変更を反映できません。"
                "ヤフオク!ストアで直接修正してください。",
                {"state": [str(record.state)]},
            )

    return route


def readability_problems(ctx: TaskContext) -> list[FieldProblem]:
    """Why a listing cannot be taken in at all: values that do not parse (fixed in ReCORE), or a
    管理番号 longer than the database keeps. A missing value is not one: the listing is held
    until it can be filled."""
    problems = list(ctx.problems)
    listing = ctx.listing
    if listing is None or any(p.field == "management_number" for p in problems):
        return problems
    number = listing.management_number
    if number and len(number) > MANAGEMENT_NUMBER_MAX:
        problems.append(
            FieldProblem(
                "management_number",
                number,
                f"{MANAGEMENT_NUMBER_MAX}文字を超えています",
                f"longer than {MANAGEMENT_NUMBER_MAX} characters",
            )
        )
    return problems


async def intake(ctx: TaskContext) -> None:
    """CREATE_INVENTORY (and UPDATE_INVENTORY before listing): keep the listing, state waiting."""
    s = ctx.session
    if ctx.ec_inventory_id is None or ctx.inventory is None or ctx.listing is None:
        await ctx.fail(
            "タスクに出品ID（ec_inventory_id）がありません。",
            {"ec_inventory_id": ["必須です"]},
        )
        return
    listing = ctx.listing
    record = await s.get(ListingRecord, ctx.ec_inventory_id)
    if (
        record is not None
        and record.state == ListingState.LISTED
        and ctx.type == rc.CREATE_INVENTORY
    ):
        # already on Yahoo (a repeated 出品): say where, never list twice
        await ctx.succeed(
            rc.succeeded_body(listing, auction_id=record.auction_id, auction_url=record.auction_url)
        )
        return
    if record is None:
        record = ListingRecord(id=ctx.ec_inventory_id)
        s.add(record)
    previous_task = record.task_id
    li.keep_sources(record, ctx.inventory, ctx.sources)
    # a 管理番号 too long to keep is reported below; what fits is kept to show it
    number = listing.management_number
    record.management_number = number[:MANAGEMENT_NUMBER_MAX] if number else number
    record.title = listing.title
    problems = readability_problems(ctx)
    keeps_create = (
        ctx.type in UPDATE_TYPES
        and record.state in (ListingState.WAITING, ListingState.HELD)
        and previous_task is not None
        and previous_task != ctx.task_id
    )
    if problems:
        record.state = ListingState.ERROR
        record.errors = [_problem_dict(listing, p) for p in problems]
        record.last_attempt_error = "、".join(p.message for p in problems)
        if not keeps_create:
            record.task_id = ctx.task_id
        await ctx.fail(*_problems_report(listing, problems))
        if keeps_create and previous_task is not None:
            # the open CREATE task would otherwise wait forever for a listing that cannot happen
            await ob.enqueue_task_failed(
                s,
                previous_task,
                *_problems_report(listing, problems),
                ob.listing_key(ctx.ec_inventory_id),
            )
        return
    record.errors = []
    record.last_attempt_error = None
    if record.state not in (ListingState.PROCESSING, ListingState.REGISTERED, ListingState.LISTED):
        if record.state == ListingState.ENDED:
            # put up again after it ended: a new auction, nothing of the old one carries over
            record.auction_id = record.auction_url = record.listed_at = None
        # back to 新規の出品待ち, out of any old batch (pending lists only unbatched listings),
        # or held (情報不足) when a field Yahoo needs cannot be filled yet: never reported for it
        record.state = ListingState.WAITING
        record.batch_id = None
        if ctx.built is not None:
            li.hold_or_release(record, ctx.built)
    if keeps_create:
        # The change is taken in; the CREATE task stays open and is reported when listed.
        await ctx.succeed({})
        return
    if previous_task and previous_task != ctx.task_id:
        await _close_replaced(s, previous_task, ctx)
    record.task_id = ctx.task_id
    # left open (`handled`): the listing step reports it with the auction id


async def _close_replaced(s: AsyncSession, old_task_id: str, ctx: TaskContext) -> None:
    old = await s.get(RecoreTask, old_task_id)
    if old is None or old.state not in ("new", "handled"):
        return
    await ob.enqueue_task_failed(
        s,
        old_task_id,
        f"同じ出品に新しい依頼（タスク {ctx.task_id}）が届いたため、こちらは終了しました。",
        {"task_id": [ctx.task_id]},
        ob.listing_key(ctx.ec_inventory_id or 0),
    )


def _problems_report(listing: Listing, problems: list[FieldProblem]) -> tuple[str, dict[str, Any]]:
    who = f"管理番号 {listing.management_number}" if listing.management_number else None
    who = who or f"出品ID {listing.ec_inventory_id}"
    lines = " / ".join(p.message for p in problems[:20])
    detail: dict[str, list[str]] = {}
    for p in problems:
        detail.setdefault(p.field, []).append(p.message)
    return f"{who}: 出品データを読み取れません。{lines}", detail


def _problem_dict(listing: Listing, p: FieldProblem) -> dict[str, Any]:
    """Same shape as `companion.listing.validation.ListingError.to_dict()`."""
    item, item_en = item_names(listing)
    rule = "management_number_missing" if p.raw is None else "unparsed_value"
    what = "がありません" if p.raw is None else f"の値を読み取れません（{p.reason}）"
    problem = problem_text(p.field, rule, what)
    return {
        "ec_inventory_id": listing.ec_inventory_id,
        "management_number": listing.management_number,
        "field": p.field,
        "rule": rule,
        "message": f"{item}: {problem}",
        "message_en": f"{item_en}: {p.message_en}",
        "item": item,
        "problem": problem,
    }
