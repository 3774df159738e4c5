"""確認モード: the first writes of each kind are shown to staff before they are carried out.

A new installation starts with it on (`Config.confirm_first_writes`, written to the settings at
the first start); one switch on the options page turns it off (`confirmation_mode`), and
`confirmation_count` (N, default 3) says how many writes of each kind staff approve first.

Each kind of write asks `Confirmations.check(kind, ref, …)` just before it would go out, with the
exact values it will send. The answer is GO (mode off, this write approved, or N writes of its kind
approved already), WAIT (prepared now or earlier, shown in the popup under 「これから実行する内容」)
or SKIPPED (staff pressed スキップ: held back, still shown, 実行 later carries it out). Nothing
waits in place, so nothing blocks the HTTP API or holds the store session:

- listing through the store's form (`hold_listings`, called by the direct-listing job before it
  opens the browser): the held items get a result 確認待ち and the job pauses for staff; 実行
  resumes the batch's job;
- task reports and order upserts (`outbox_gate`, the outbox asks before each delivery): the
  message stays in the outbox as `awaiting`, its order kept; 実行 puts it back to `pending`;
- ship, cancel and early end on Yahoo (`hold_task`, called by the task handlers before they press
  anything): the ReCORE task stays open (`handled`) with a note; 実行 starts a sync, whose retry of
  open tasks carries it out.

After N approvals of a kind, the writes of that kind still waiting are released and new ones
flow on their own. A skipped write is never released that way: it waits for its 実行. Every
prepared, approved, skipped and released write is logged in English (values of orders by their
field names only: no buyer's personal data; secrets are never among the values).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web
from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from companion.db.models import (
    Confirmation,
    ListingRecord,
    OutboxMessage,
    RecoreTask,
    iso,
    utcnow,
)
from companion.inputs import path_id
from companion.jobs import JobContext, JobPaused
from companion.keys import CONFIG, CONFIRMATIONS, DB, DIRECT_LISTING, JOBS, OUTBOX, SETTINGS, SYNC
from companion.listing.form_values import form_values
from companion.listing.intake import build_for
from companion.listing.rules import ListingRules
from companion.middlewares import API, error_response
from companion.recore import client as rc
from companion.recore import outbox as ob

if TYPE_CHECKING:
    from companion.recore.gateway import TaskContext

log = logging.getLogger(__name__)

# the kinds of write, with what staff and the log call them
LISTING = "listing"
TASK_REPORT = "task_report"
ORDER_UPSERT = "order_upsert"
YAHOO_SHIP = "yahoo_ship"
YAHOO_CANCEL = "yahoo_cancel"
YAHOO_END = "yahoo_end"
KINDS: dict[str, tuple[str, str]] = {
    LISTING: ("ヤフオクへの出品（出品フォーム）", "listing through the store's form"),
    TASK_REPORT: ("ReCOREへのタスクの結果報告", "task report to ReCORE"),
    ORDER_UPSERT: ("ReCOREへの受注の送信", "order upsert to ReCORE"),
    YAHOO_SHIP: ("ヤフオクの出荷連絡", "ship on Yahoo"),
    YAHOO_CANCEL: ("ヤフオクの注文キャンセル", "cancel on Yahoo"),
    YAHOO_END: ("ヤフオクの早期終了", "early end on Yahoo"),
}
OUTBOX_KINDS = (TASK_REPORT, ORDER_UPSERT)
YAHOO_KINDS = (YAHOO_SHIP, YAHOO_CANCEL, YAHOO_END)
DEFAULT_COUNT = 3

# a write's state
WAITING = "waiting"  # prepared, shown, not decided
APPROVED = "approved"  # 実行 pressed
SKIPPED = "skipped"  # スキップ pressed: held back until 実行
RELEASED = "released"  # let through without a press: N approvals reached, or the mode off
# what `check` answers
GO = "go"
WAIT = "wait"

PAUSE_CODE = "CONFIRMATION"  # a direct-listing job paused for staff's 実行
ITEM_STATE = "awaiting"  # a job item held for staff (no result yet: a resumed job tries it)
WAITING_JA = "確認待ち"
SHOWN_LIMIT = 30  # writes listed at once (the counts say how many there are in all)


def _kind_label(kind: str) -> str:
    return KINDS.get(kind, (kind, kind))[0]


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def shown_values(values: dict[str, Any]) -> list[dict[str, str]]:
    """The values as staff read them: one line per field (nested fields by their path), empty
    ones left out."""
    out: list[dict[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
            return
        text = _shown(value)
        if text not in ("", "[]", "{}"):
            out.append({"name": prefix, "value": text})

    walk("", values)
    return out


def _logged_values(kind: str, values: dict[str, Any]) -> str:
    """For the log: an order's values by field name only (they hold the buyer's name and
    address); the other kinds' values in full, shortened."""
    if kind == ORDER_UPSERT:
        return "fields " + ", ".join(sorted(map(str, values)))
    text = json.dumps(values, ensure_ascii=False, default=str)
    return text if len(text) <= 600 else text[:600] + "…"


class Confirmations:
    """The service behind the routes and the hooks (`app[CONFIRMATIONS]`)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.db = app[DB]
        self.settings = app[SETTINGS]
        self._resumes: set[asyncio.Task[None]] = set()

    # --- the setting ----------------------------------------------------------------------------
    async def mode(self) -> tuple[bool, int]:
        """(on, N)."""
        return mode_of(await self.settings.public(), self.app[CONFIG].confirm_first_writes)

    async def first_start(self) -> None:
        """A data directory without the setting is a new installation: write its 確認モード."""
        if await self.settings.get("confirmation_mode") is None:
            enabled = self.app[CONFIG].confirm_first_writes
            await self.settings.update({"confirmation_mode": enabled})
            log.info("confirmation mode %s for this installation", "on" if enabled else "off")

    # --- asking ---------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _tx(self, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        if session is not None:
            yield session  # the caller's transaction: committed with the caller's work
            return
        async with self.db.session() as s, s.begin():
            yield s

    @staticmethod
    async def _approved(s: AsyncSession, kind: str) -> int:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(Confirmation)
                .where(Confirmation.kind == kind, Confirmation.state == APPROVED)
            )
            or 0
        )

    async def check(
        self,
        kind: str,
        ref: str,
        *,
        item: str,
        target: str,
        values: dict[str, Any],
        context: dict[str, Any] | None = None,
        session: AsyncSession | None = None,
    ) -> str:
        """GO, WAIT or SKIPPED for one write (see the module's doc); prepares it when it must wait."""
        enabled, required = await self.mode()
        async with self._tx(session) as s:
            row = await s.scalar(
                select(Confirmation).where(Confirmation.kind == kind, Confirmation.ref == ref)
            )
            if row is not None and row.state in (APPROVED, RELEASED):
                return GO
            if row is not None and row.state == SKIPPED:
                return SKIPPED
            free = not enabled or await self._approved(s, kind) >= required
            if row is not None:  # waiting
                if free:
                    row.state, row.decided_at = RELEASED, utcnow()
                    log.info("confirmation %s released: %s %s", row.id, kind, ref)
                    return GO
                row.item, row.target, row.values = item[:300], target[:300], values
                return WAIT
            if free:
                return GO
            row = Confirmation(
                kind=kind,
                ref=ref[:100],
                state=WAITING,
                item=item[:300],
                target=target[:300],
                values=values,
                context=context or {},
            )
            s.add(row)
            await s.flush()
            log.info(
                "confirmation %s prepared: %s %s (%s) to %s: %s",
                row.id,
                KINDS.get(kind, (kind, kind))[1],
                ref,
                item if kind != ORDER_UPSERT else "order",
                target,
                _logged_values(kind, values),
            )
            return WAIT

    # --- deciding -------------------------------------------------------------------------------
    async def decide(self, confirmation_id: int, approve: bool) -> dict[str, Any] | None:
        """実行 (approve) or スキップ; None when there is no such write. Approving a skipped write
        carries it out; skipping an approved one is too late (it is left as it is)."""
        async with self.db.session() as s, s.begin():
            row = await s.get(Confirmation, confirmation_id)
            if row is None:
                return None
            if approve and row.state in (WAITING, SKIPPED):
                row.state, row.decided_at = APPROVED, utcnow()
                changed = True
            elif not approve and row.state == WAITING:
                row.state, row.decided_at = SKIPPED, utcnow()
                changed = True
            else:
                changed = False
            kind = row.kind
            shown = _row_dict(row)
        if changed:
            log.info(
                "confirmation %s %s by staff: %s %s",
                confirmation_id,
                "approved" if approve else "skipped",
                KINDS.get(kind, (kind, kind))[1],
                shown["ref"],
            )
        if changed and approve:
            await self._carry_out(kind, [shown])
            await self.release_free()
        return shown

    async def release_free(self, *_changed: object) -> None:
        """Release the waiting writes of every kind that needs no more approvals (N reached, or
        the mode switched off). Skipped ones stay held."""
        enabled, required = await self.mode()
        released: dict[str, list[dict[str, Any]]] = {}
        async with self.db.session() as s, s.begin():
            for kind in KINDS:
                if enabled and await self._approved(s, kind) < required:
                    continue
                rows = (
                    await s.scalars(
                        select(Confirmation).where(
                            Confirmation.kind == kind, Confirmation.state == WAITING
                        )
                    )
                ).all()
                for row in rows:
                    row.state, row.decided_at = RELEASED, utcnow()
                if rows:
                    released[kind] = [_row_dict(r) for r in rows]
        for kind, rows in released.items():
            log.info(
                "confirmations released (%s): %d %s writes now flow on their own",
                "mode off" if not enabled else f"{required} approved",
                len(rows),
                KINDS[kind][1],
            )
            await self._carry_out(kind, rows)

    async def _carry_out(self, kind: str, rows: list[dict[str, Any]]) -> None:
        """Let approved or released writes go: each kind where it waits."""
        if kind in OUTBOX_KINDS:
            ids = [int(r["ref"]) for r in rows if str(r["ref"]).isdigit()]
            async with self.db.session() as s, s.begin():
                for message in (
                    await s.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))
                ).all():
                    if message.state == ob.AWAITING:
                        message.state, message.next_attempt_at = ob.PENDING, utcnow()
            outbox = self.app.get(OUTBOX)
            if outbox is not None:
                outbox.wake()
        elif kind == LISTING:
            direct = self.app.get(DIRECT_LISTING)
            batches = {int(r["context"]["batch_id"]) for r in rows if r["context"].get("batch_id")}
            for batch_id in sorted(batches):
                if direct is not None:
                    self._resume(lambda b=batch_id: direct.start(b))
        elif kind in YAHOO_KINDS:
            sync = self.app.get(SYNC)
            if sync is not None:
                self._resume(lambda: sync.submit("confirmation"))

    def _resume(self, start: Callable[[], Awaitable[str]]) -> None:
        """Start (or resume) the job that carries the write out, in the background. When that job
        was running already, it may have passed the write by: it is started once more after."""

        async def run() -> None:
            jobs = self.app[JOBS]
            try:
                job_id = await start()
                job = await jobs.get(job_id)
                await jobs.wait(job_id)
                if job is not None and job["state"] == "running":
                    await jobs.wait(await start())
            except Exception:
                log.exception("confirmation: the job carrying out an approved write did not start")

        task = asyncio.create_task(run())
        self._resumes.add(task)
        task.add_done_callback(self._resumes.discard)

    async def settled(self) -> None:
        """Until the jobs started for approved writes have run (tests, and a clean stop)."""
        while self._resumes:
            await asyncio.gather(*self._resumes, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._resumes):
            task.cancel()
        await asyncio.gather(*self._resumes, return_exceptions=True)

    async def report(self) -> dict[str, Any]:
        """The mode, each kind's approvals, and the writes waiting for staff (skipped ones too)."""
        enabled, required = await self.mode()
        return report_of(enabled, required, await self.db.read(read_waiting))


# built once: building these costs more than running them on a small database
_APPROVED_BY_KIND = (
    select(Confirmation.kind, func.count())
    .where(Confirmation.state == APPROVED)
    .group_by(Confirmation.kind)
)
_OPEN_BY_STATE = (
    select(Confirmation.state, func.count())
    .where(Confirmation.state.in_((WAITING, SKIPPED)))
    .group_by(Confirmation.state)
)
_OPEN_SHOWN = (
    select(Confirmation.__table__)
    .where(Confirmation.state.in_((WAITING, SKIPPED)))
    .order_by(Confirmation.id)
    .limit(SHOWN_LIMIT)
)


# --- what the popup shows (here and in `/status`) ---------------------------------------------------
SETTING_KEYS = ("confirmation_mode", "confirmation_count")


def mode_of(values: Mapping[str, Any], default_on: bool) -> tuple[bool, int]:
    """(on, N) from the settings' values; a data directory without them has the default."""
    enabled = values.get("confirmation_mode")
    count = values.get("confirmation_count")
    return bool(default_on if enabled is None else enabled), int(count or DEFAULT_COUNT)


class Waiting(NamedTuple):
    approved: dict[str, int]  # approvals by kind
    counts: dict[str, int]  # waiting and skipped writes
    items: list[dict[str, Any]]  # the first SHOWN_LIMIT of them


def _row_dict(row: Confirmation | Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "kind_label": _kind_label(row.kind),
        "ref": row.ref,
        "state": row.state,
        "item": row.item,
        "target": row.target,
        "values": shown_values(row.values or {}),
        "context": dict(row.context or {}),
        "created_at": iso(row.created_at),
        "decided_at": iso(row.decided_at),
    }


def read_waiting(s: Session) -> Waiting:
    """Each kind's approvals, the waiting and skipped counts, and the first of those writes."""
    return Waiting(
        approved={kind: n for kind, n in s.execute(_APPROVED_BY_KIND).all()},
        counts={state: n for state, n in s.execute(_OPEN_BY_STATE).all()},
        items=[_row_dict(row) for row in s.connection().execute(_OPEN_SHOWN)],
    )


def report_of(enabled: bool, required: int, waiting: Waiting) -> dict[str, Any]:
    return {
        "enabled": enabled,
        "required": required,
        "kinds": [
            {
                "kind": kind,
                "label": ja,
                "approved": int(waiting.approved.get(kind, 0)),
                "left": max(0, required - int(waiting.approved.get(kind, 0))) if enabled else 0,
            }
            for kind, (ja, _en) in KINDS.items()
        ],
        "waiting": int(waiting.counts.get(WAITING, 0)),
        "skipped": int(waiting.counts.get(SKIPPED, 0)),
        "items": waiting.items,
    }


def for_support(status: dict[str, Any]) -> dict[str, Any]:
    """`/status` for the support bundle: the waiting writes by kind, target and field names only
    (an order's values and its item are the buyer's data)."""
    report = status.get("confirmations")
    if not report:
        return status
    items = [
        {
            "id": i["id"],
            "kind": i["kind"],
            "state": i["state"],
            "target": i["target"],
            "fields": [v["name"] for v in i["values"]],
            "created_at": i["created_at"],
        }
        for i in report.get("items", [])
    ]
    return {**status, "confirmations": {**report, "items": items}}


# --- hooks the writers call ------------------------------------------------------------------------
def _listing_label(number: str | None, title: str | None) -> str:
    parts = [f"管理番号 {number}" if number else "", f"「{title}」" if title else ""]
    return " ".join(p for p in parts if p) or "（管理番号なし）"


async def hold_listings(
    app: web.Application, ctx: JobContext, records: list[ListingRecord], rules: ListingRules
) -> tuple[list[ListingRecord], int]:
    """Direct listing, before the browser opens: (the records to list now, how many wait for
    staff, skipped ones included: the job pauses rather than end as if they had failed). Each
    held record gets the job result 確認待ち or スキップ中 (not final: a resumed job
    looks again)."""
    gate = app.get(CONFIRMATIONS)
    if gate is None:
        return records, 0
    now: list[ListingRecord] = []
    waiting = 0
    for record in records:
        built = build_for(record, rules)
        if built.holds:
            now.append(record)  # the run says what is missing; nothing is sent
            continue
        listing = built.listing
        number = listing.management_number or record.management_number
        values = {k: v for k, v in form_values(listing).items() if v not in ("", None)}
        outcome = await gate.check(
            LISTING,
            str(record.id),
            item=_listing_label(number, listing.title),
            target="ヤフオク!ストア 出品フォーム（出品する）",
            values=values,
            context={"batch_id": record.batch_id},
        )
        if outcome == GO:
            now.append(record)
            continue
        waiting += 1
        if outcome == WAIT:
            message = (
                f"{WAITING_JA}: ポップアップの「これから実行する内容」で「実行」を押すと出品します"
            )
        else:
            message = "スキップ中: 出品処理中のままです。「これから実行する内容」で「実行」を押すと出品します"
        await ctx.item(
            record.management_number or f"#{record.id}",  # the run's own key for the item
            ITEM_STATE,
            message,
            {"listing_id": record.id, "confirmation": outcome},
        )
    return now, waiting


def waiting_for_staff(waiting: int) -> JobPaused:
    """The pause of a direct-listing job whose items wait for 実行."""
    return JobPaused(
        PAUSE_CODE,
        f"{WAITING_JA}（{waiting}件）: 確認モードです。ポップアップの「これから実行する内容」で"
        "内容を確かめて「実行」を押してください。押すと続きから出品します"
        "（スキップした商品も、「実行」を押すまで出品処理中のまま残ります）。",
        f"{waiting} listings wait for staff's approval (confirmation mode)",
    )


async def hold_task(
    app: web.Application,
    ctx: TaskContext,
    kind: str,
    *,
    item: str,
    values: dict[str, Any],
) -> bool:
    """A ship, cancel or early end on Yahoo: True when it waits for staff (the task stays open
    with a note; a sync after 実行 carries it out)."""
    gate = app.get(CONFIRMATIONS)
    if gate is None:
        return False
    outcome = await gate.check(
        kind,
        ctx.task_id,
        item=item,
        target=f"ヤフオク!ストア（{_kind_label(kind)}）",
        values=values,
        session=ctx.session,
    )
    if outcome == GO:
        return False
    task = await ctx.session.get(RecoreTask, ctx.task_id)
    if task is not None:
        task.message = (
            f"{WAITING_JA}: 確認モードです。ポップアップの「これから実行する内容」で「実行」を押すと"
            f"{_kind_label(kind)}を行います"
            if outcome == WAIT
            else "スキップ中: 「これから実行する内容」で「実行」を押すまで行いません"
        )
    return True


async def _describe_message(s: AsyncSession, msg: OutboxMessage) -> tuple[str, str]:
    """(item, target) of an outbox message, for staff."""
    if msg.operation == rc.OP_ORDER_UPSERT:
        return f"注文 {msg.target}", "ReCORE " + " ".join(rc.EP_ORDER_UPSERT)
    method, path = rc.EP_SUCCEEDED if msg.operation == rc.OP_TASK_SUCCEEDED else rc.EP_FAILED
    target = f"ReCORE {method} {path.format(task_id=msg.target)}"
    task = await s.get(RecoreTask, msg.target)
    record = (
        await s.get(ListingRecord, task.ec_inventory_id)
        if task is not None and task.ec_inventory_id is not None
        else None
    )
    if record is not None:
        return _listing_label(record.management_number, record.title), target
    return f"タスク {msg.target}", target


def outbox_gate(gate: Confirmations) -> Callable[[OutboxMessage], Awaitable[bool]]:
    """What the outbox asks before each delivery: True to send now; False when the message is
    held for staff (it is then `awaiting`, keeping its place in its order)."""

    async def allowed(msg: OutboxMessage) -> bool:
        kind = ORDER_UPSERT if msg.operation == rc.OP_ORDER_UPSERT else TASK_REPORT
        async with gate.db.session() as s, s.begin():
            item, target = await _describe_message(s, msg)
            outcome = await gate.check(
                kind,
                str(msg.id),
                item=item,
                target=target,
                values=dict(msg.body or {}),
                session=s,
            )
            if outcome == GO:
                return True
            row = await s.get(OutboxMessage, msg.id)
            if row is not None and row.state == ob.PENDING:
                row.state = ob.AWAITING
        return False

    return allowed


# --- HTTP ------------------------------------------------------------------------------------------
routes = web.RouteTableDef()


@routes.get(f"{API}/confirmations")
async def get_confirmations(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CONFIRMATIONS].report())


async def _decide(request: web.Request, approve: bool) -> web.Response:
    confirmation_id = path_id(request, "confirmation_id")
    gate = request.app[CONFIRMATIONS]
    decided = await gate.decide(confirmation_id, approve)
    if decided is None:
        return error_response(
            404,
            "NOT_FOUND",
            "この確認項目は見つかりません。ポップアップを開き直してください。",
            f"no confirmation {confirmation_id}",
        )
    return web.json_response({"confirmation": decided, "confirmations": await gate.report()})


@routes.post(f"{API}/confirmations/{{confirmation_id}}/approve")
async def post_approve(request: web.Request) -> web.Response:
    """実行"""
    return await _decide(request, True)


@routes.post(f"{API}/confirmations/{{confirmation_id}}/skip")
async def post_skip(request: web.Request) -> web.Response:
    """スキップ"""
    return await _decide(request, False)


async def _ctx(app: web.Application) -> AsyncIterator[None]:
    gate = Confirmations(app)
    app[CONFIRMATIONS] = gate
    await gate.first_start()
    outbox = app.get(OUTBOX)
    if outbox is not None:
        outbox.gate = outbox_gate(gate)
    # switched off, or N lowered: what no longer needs a press goes
    app[SETTINGS].on_change(
        lambda keys: (
            gate.release_free() if keys & {"confirmation_mode", "confirmation_count"} else None
        )
    )
    yield
    await gate.close()


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    app.cleanup_ctx.append(_ctx)


__all__ = ["Confirmations", "hold_listings", "hold_task", "outbox_gate", "setup"]
