"""新規の出品待ち and 生成済みリスト: batches of listings and their upload zips.

A batch is made from the waiting listings: each is mapped with the shop's templates and tables
(`companion.listing.mapping`), checked against Yahoo's rules and its images fetched; the valid
ones go into the batch (出品処理中) and its zip, the others are reported `failed` to ReCORE
through the outbox with a message naming the item, the field and the rule. One that lacks a
field the shop can supply (a template setting, a table row) is held instead (情報不足): never
reported failed for it, listed once the tables are completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, select, update

from companion.cluster import mutex
from companion.db.models import AuctionSnapshot, Batch, ListingRecord, iso, utcnow
from companion.domain import STATE_LABELS, ListingState
from companion.inputs import id_list, path_id, query_int, read_json
from companion.keys import BATCHES, CONFIG, DB, DISK, GATEWAY, JOBS, OUTBOX, SETTINGS, SYNC, TABLES
from companion.listing import intake as li
from companion.listing import yahoo_format as yf
from companion.listing.images import ImageStore
from companion.listing.mapping import Built
from companion.listing.rules import ListingRules
from companion.listing.validation import ListingError, listing_warnings
from companion.listing.wording import refused_items
from companion.listing.zipper import build_upload_zip
from companion.recore.outbox import enqueue_task_failed, listing_key

log = logging.getLogger(__name__)
SHOP_TZ = ZoneInfo("Asia/Tokyo")  # Yahoo!オークション stores are in Japan


class BatchError(Exception):
    def __init__(self, status: int, code: str, message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.status, self.code, self.message, self.message_en = status, code, message, message_en


def listing_dict(record: ListingRecord, rules: ListingRules) -> dict[str, Any]:
    built = li.build_for(record, rules) if record.inventory else None
    listing = built.listing if built else None
    state = ListingState(record.state)
    return {
        "id": record.id,
        "management_number": record.management_number,
        "title": record.title,
        "state": state.value,
        "state_label": STATE_LABELS[state],
        "start_price": listing.start_price if listing else None,
        "buyout_price": listing.buyout_price if listing else None,
        "image_count": len(listing.image_urls) if listing else 0,
        "template": built.template if built else None,
        "batch_id": record.batch_id,
        "auction_id": record.auction_id,
        "auction_url": record.auction_url,
        "errors": record.errors or [],
        "warnings": [w.to_dict() for w in listing_warnings(listing or record)],
        "last_error": record.last_attempt_error,
    }


def error_entry(record: ListingRecord) -> dict[str, Any]:
    """One listing in エラー as staff read it (`GET /errors`)."""
    grouped = refused_items(record.errors or [])
    problems = [p for entry in grouped for p in entry["problems"]]
    if not problems and record.last_attempt_error:
        # refused by the connector without a field (e.g. a task it could not handle)
        problems = [
            {"field": "", "field_label": "", "rule": None, "message": record.last_attempt_error}
        ]
    label = (
        f"管理番号 {record.management_number}"
        if record.management_number
        else (grouped[0]["label"] if grouped else "管理番号のない商品")
    )
    return {
        "listing_ids": [record.id],
        "management_number": record.management_number,
        "label": label,
        "title": record.title,
        "at": iso(record.updated_at),
        "problems": problems,
    }


def batch_dict(batch: Batch, items: Sequence[ListingRecord], rules: ListingRules) -> dict[str, Any]:
    listings = [listing_dict(i, rules) for i in items]
    return {
        "id": batch.id,
        "name": batch.name,
        "created_at": iso(batch.created_at),
        "item_count": len(items),
        "listed_count": sum(1 for i in items if i.state == ListingState.LISTED),
        "open_count": sum(1 for i in items if i.state == ListingState.PROCESSING),
        "registered_count": sum(1 for i in items if i.state == ListingState.REGISTERED),
        "items": listings,
        "errors": batch.errors or [],
        # the same errors for staff: one entry per refused item, all its problems, by 管理番号
        "refused": refused_items(batch.errors or []),
        # notices about items in the batch (they are listed all the same)
        "warnings": [w for listing in listings for w in listing["warnings"]],
        "zip_name": f"{batch.name}.zip",
    }


class Batches:
    """The batch service; one per app (`app[BATCHES]`)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.db = app[DB]
        self.config = app[CONFIG]
        self._lock = asyncio.Lock()
        self._handed: set[str] = set()  # download names given out since start

    def image_store(self) -> ImageStore:
        return ImageStore(self.config.cache_dir / "images")

    async def rules(self) -> ListingRules:
        tables = self.app.get(TABLES)
        return await tables.listing_rules() if tables is not None else ListingRules()

    async def pending(self) -> list[dict[str, Any]]:
        return await self._in_state(ListingState.WAITING)

    async def held(self) -> list[dict[str, Any]]:
        """情報不足: listings waiting for a template setting, a table row or a ReCORE field."""
        return await self._in_state(ListingState.HELD)

    async def _in_state(self, state: ListingState) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            rows = (
                await s.scalars(
                    select(ListingRecord)
                    .where(ListingRecord.state == state, ListingRecord.batch_id.is_(None))
                    .order_by(ListingRecord.id)
                )
            ).all()
        rules = await self.rules()
        return [listing_dict(r, rules) for r in rows]

    async def tables_changed(self, name: str) -> dict[str, int] | None:
        """The templates or tables changed: re-assess held and waiting listings at once."""
        from companion.tables import LISTING_TABLES

        if name not in LISTING_TABLES:
            return None
        return await self.recheck()

    async def recheck(self) -> dict[str, int]:
        """Held and waiting listings assessed again with the current tables; items that could
        not be read (ReCORE unreachable, a scope missing) are read again first."""
        gateway = self.app.get(GATEWAY)
        client = gateway.client if gateway is not None else None
        after_poll = gateway.between_polls() if gateway is not None else contextlib.nullcontext()
        async with after_poll, self._lock:  # not during a poll, nor while a batch is claimed
            result = await li.recheck(self.db, await self.rules(), client)
        return result.to_dict()

    async def list(self, limit: int = 50) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            batches = (await s.scalars(select(Batch).order_by(Batch.id.desc()).limit(limit))).all()
            items = (
                await s.scalars(
                    select(ListingRecord)
                    .where(ListingRecord.batch_id.in_([b.id for b in batches]))
                    .order_by(ListingRecord.id)
                )
            ).all()
        by_batch: dict[int, list[ListingRecord]] = {}
        for item in items:
            by_batch.setdefault(item.batch_id or 0, []).append(item)
        rules = await self.rules()
        return [batch_dict(b, by_batch.get(b.id, []), rules) for b in batches]

    async def get(self, batch_id: int) -> dict[str, Any]:
        batch, items = await self._load(batch_id)
        return batch_dict(batch, items, await self.rules())

    async def in_error(self, limit: int = 200) -> dict[str, Any]:
        """Listings in エラー (the counts line's エラー N), most recent first: one entry per
        管理番号 (two listings sharing one are one item to staff), with when and every problem
        (field, rule, staff wording). `total` counts listings, as the counts line does."""
        async with self.db.session() as s:
            total = await s.scalar(
                select(func.count())
                .select_from(ListingRecord)
                .where(ListingRecord.state == ListingState.ERROR)
            )
            rows = (
                await s.scalars(
                    select(ListingRecord)
                    .where(ListingRecord.state == ListingState.ERROR)
                    .order_by(ListingRecord.updated_at.desc(), ListingRecord.id.desc())
                    .limit(limit)
                )
            ).all()
        entries: dict[str, dict[str, Any]] = {}
        for row in rows:
            entry = error_entry(row)
            key = row.management_number or f"#{row.id}"
            if key not in entries:
                entries[key] = entry  # the newest listing of that 管理番号 gives the time
                continue
            kept = entries[key]
            kept["listing_ids"].extend(entry["listing_ids"])
            known = {p["message"] for p in kept["problems"]}
            kept["problems"].extend(p for p in entry["problems"] if p["message"] not in known)
        return {"total": total or 0, "items": list(entries.values())}

    async def _load(self, batch_id: int) -> tuple[Batch, list[ListingRecord]]:
        async with self.db.session() as s:
            batch = await s.get(Batch, batch_id)
            if batch is None:
                raise BatchError(
                    404, "NOT_FOUND", "その生成済みリストはありません", "no such batch"
                )
            items = (
                await s.scalars(
                    select(ListingRecord)
                    .where(ListingRecord.batch_id == batch_id)
                    .order_by(ListingRecord.id)
                )
            ).all()
        return batch, list(items)

    async def _already_listed(self, batch_id: int | None = None) -> set[str]:
        """管理番号 that must not go into this batch's zip: on Yahoo (listed by us, registered in
        a folder, or seen on the store by a sync), or open in another batch (its zip may be
        uploaded already)."""
        async with self.db.session() as s:
            ours = await s.scalars(
                select(ListingRecord.management_number).where(
                    ListingRecord.state.in_([ListingState.LISTED, ListingState.REGISTERED])
                    | (
                        (ListingRecord.state == ListingState.PROCESSING)
                        & (ListingRecord.batch_id != batch_id)
                    )
                )
            )
            seen = await s.scalars(
                select(AuctionSnapshot.management_number).where(AuctionSnapshot.state == "selling")
            )
            return {n for n in [*ours, *seen] if n}

    async def _next_name(self) -> str:
        # the shop's date, not UTC: a batch made at 08:00 in Japan belongs to that day
        today = datetime.now(SHOP_TZ).strftime("%Y%m%d")
        async with self.db.session() as s:
            count = await s.scalar(
                select(func.count()).where(Batch.name.like(f"yahoo_upload_{today}_%"))
            )
        return yf.upload_zip_name(datetime.now(SHOP_TZ).date(), (count or 0) + 1).removesuffix(
            ".zip"
        )

    async def create(self, listing_ids: list[int] | None = None) -> dict[str, Any]:
        """Claim the waiting listings, build the zip of the valid ones, report the others.

        The listings are claimed (出品処理中, this batch) in one guarded transaction before the
        slow part, so a task handled meanwhile (an item sold in the shop) cannot be overwritten,
        and two clicks never put one listing in two batches. Another PC may be making a batch
        this very moment: batches are made one at a time across companions too, so the day's
        numbering stays unique and a 管理番号 open in the batch made first is refused in the next.
        """
        await asyncio.to_thread(self.app[DISK].check)  # heavy work: not on a nearly full disk
        async with self._lock, mutex(self.db, "batches:create"):
            batch_id, claimed = await self._claim(listing_ids)
            try:
                rules = await self.rules()
                built = {r.id: li.build_for(r, rules) for r in claimed}
                held = {k: b for k, b in built.items() if b.holds and not b.errors}
                refused = {k: b.errors for k, b in built.items() if b.errors}
                listings = [
                    b.listing for k, b in built.items() if k not in held and k not in refused
                ]
                async with self.db.session() as s:
                    name = (await s.get(Batch, batch_id)).name  # type: ignore[union-attr]
                async with self.image_store() as store:
                    result = await build_upload_zip(
                        listings,
                        store,
                        self.config.exports_dir / f"{name}.zip",
                        already_listed=await self._already_listed(batch_id),
                    )
            except BaseException:
                await self._release(batch_id)
                raise
            await self._hold(batch_id, held)
            await self._reject(batch_id, refused | result.errors)
        if refused or result.errors:
            outbox = self.app.get(OUTBOX)
            if outbox is not None:
                outbox.wake()  # ReCORE hears why now, not at the delivery loop's next idle tick
        return await self.get(batch_id)

    async def _read_store_first(self) -> None:
        sync = self.app.get(SYNC)
        settings = self.app[SETTINGS]
        if sync is None or not (
            await settings.get("yahoo_id") and await settings.secret("yahoo_password")
        ):
            log.warning("re-download without reading the store: no Yahoo account is set")
            return
        job_id = await sync.submit("redownload")
        await self.app[JOBS].wait(job_id)
        job = await self.app[JOBS].get(job_id)
        steps = {item["key"]: item["state"] for item in (job or {}).get("items", [])}
        if steps.get("listings") != "succeeded":
            raise BatchError(
                409,
                "STORE_NOT_CHECKED",
                "ヤフオクの出品状況を確認できなかったため、二重出品を防ぐために再ダウンロードを止めました。"
                "「同期開始」が成功してから、もう一度お試しください。",
                "the store could not be read before a re-download; run a sync first",
            )

    async def _claim(self, listing_ids: list[int] | None) -> tuple[int, list[ListingRecord]]:
        name = await self._next_name()
        async with self.db.session() as s, s.begin():
            query = select(ListingRecord.id).where(
                ListingRecord.state == ListingState.WAITING, ListingRecord.batch_id.is_(None)
            )
            if listing_ids is not None:
                query = query.where(ListingRecord.id.in_(listing_ids))
            ids = list((await s.scalars(query)).all())
            if not ids:
                raise BatchError(
                    409,
                    "NOTHING_PENDING",
                    "新規の出品待ちはありません。ReCOREで出品を押してから、もう一度お試しください。",
                    "no waiting listings",
                )
            batch = Batch(name=name, errors=[])
            s.add(batch)
            await s.flush()
            await s.execute(
                update(ListingRecord)
                .where(
                    ListingRecord.id.in_(ids),
                    ListingRecord.state == ListingState.WAITING,
                    ListingRecord.batch_id.is_(None),
                )
                .values(state=ListingState.PROCESSING, batch_id=batch.id, errors=[])
            )
            claimed = (
                await s.scalars(
                    select(ListingRecord)
                    .where(ListingRecord.batch_id == batch.id)
                    .order_by(ListingRecord.id)
                )
            ).all()
            return batch.id, list(claimed)

    async def _release(self, batch_id: int) -> None:
        """The build failed: the listings go back to 新規の出品待ち, the empty batch goes."""
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(ListingRecord)
                .where(
                    ListingRecord.batch_id == batch_id,
                    ListingRecord.state == ListingState.PROCESSING,
                )
                .values(state=ListingState.WAITING, batch_id=None)
            )
            batch = await s.get(Batch, batch_id)
            if batch is not None:
                await s.delete(batch)

    async def _hold(self, batch_id: int, held: dict[int, Built]) -> None:
        """Listings that lack a field the shop can supply leave the batch as 情報不足 (held);
        nothing is reported to ReCORE: they list once the templates or tables are completed."""
        if not held:
            return
        async with self.db.session() as s, s.begin():
            for listing_id, built in held.items():
                row = await s.get(ListingRecord, listing_id)
                if row is None or row.batch_id != batch_id or row.state != ListingState.PROCESSING:
                    continue
                row.batch_id = None
                li.hold_or_release(row, built)
                for h in built.holds:
                    log.info("listing %s held: %s", row.id, h.message_en)

    async def _reject(self, batch_id: int, errors: dict[Any, list[ListingError]]) -> None:
        """Listings that break a rule leave the batch as エラー, and ReCORE is told why."""
        async with self.db.session() as s, s.begin():
            batch = await s.get(Batch, batch_id)
            assert batch is not None
            batch.errors = [e.to_dict() for errs in errors.values() for e in errs]
            for listing_id, mine in errors.items():
                row = await s.get(ListingRecord, listing_id)
                # only what is still ours: a task handled during the build wins
                if row is None or row.batch_id != batch_id or row.state != ListingState.PROCESSING:
                    continue
                row.state, row.batch_id = ListingState.ERROR, None
                row.errors = [e.to_dict() for e in mine]
                if row.task_id:
                    await report_invalid(s, row, mine)
                for e in mine:
                    log.info("listing %s rejected: %s", row.id, e.message_en)

    async def zip_path(self, batch_id: int) -> tuple[Path, str]:
        """A fresh zip of the batch's items not yet listed (re-download and retry).

        A batch handed out before may be on the store already (uploaded, or a 通信エラー that went
        through), and the store does not de-duplicate: the store is read first (a sync), so what
        is there leaves the zip. Where no Yahoo account is set, nothing can be read, and the
        check is the local state only.
        """
        batch, _items = await self._load(batch_id)
        if batch.uploaded_at is not None:
            await self._read_store_first()
        batch, items = await self._load(batch_id)
        open_items = [i for i in items if i.state == ListingState.PROCESSING]
        if not open_items:
            raise BatchError(
                409,
                "NOTHING_OPEN",
                "このリストの商品はすべて出品済みです",
                "every item of this batch is already listed",
            )
        rules = await self.rules()
        listings = []
        for record in open_items:
            built = li.build_for(record, rules)
            if built.holds or built.errors:
                # the tables changed since the batch was made: this one waits outside the zip
                log.warning(
                    "listing %s left out of the re-download: %s",
                    record.id,
                    "; ".join(e.message_en for e in [*built.holds, *built.errors]),
                )
                continue
            listings.append(built.listing)
        out = self.config.exports_dir / f"{batch.name}.zip"
        async with self.image_store() as store:
            result = await build_upload_zip(
                listings, store, out, already_listed=await self._already_listed(batch_id)
            )
        if result.path is not None and batch.uploaded_at is None:
            async with self.db.session() as s, s.begin():
                row = await s.get(Batch, batch_id)
                if row is not None:
                    row.uploaded_at = utcnow()  # handed to staff for 一括アップロード
        if result.path is None:
            raise BatchError(
                409,
                "NOTHING_VALID",
                "出品できる商品がありません。エラーを確認してください。",
                "no item of the batch can be listed",
            )
        return result.path, self._download_name(batch.name, first=batch.uploaded_at is None)

    def _download_name(self, batch_name: str, *, first: bool) -> str:
        """Every download a name of its own (ASCII, no spaces): a second download of a batch
        saved under the first one's name would become 「… (1).zip」 in the browser, and staff
        might upload the older file. The first keeps the batch's name; later ones add when they
        were made (shop time), and a counter within the same second."""
        name = f"{batch_name}.zip"
        if not first or name in self._handed:
            stamp = datetime.now(SHOP_TZ).strftime("%m%d-%H%M%S")
            name = f"{batch_name}_{stamp}.zip"
            n = 1
            while name in self._handed:
                n += 1
                name = f"{batch_name}_{stamp}_{n}.zip"
        self._handed.add(name)
        return name


async def report_invalid(session: Any, row: ListingRecord, errors: list[ListingError]) -> None:
    """Tell ReCORE (through the outbox) why this listing cannot go to Yahoo."""
    message = "\n".join(e.message for e in errors) or "出品できませんでした"
    detail = {e.field: [e.message] for e in errors}
    await enqueue_task_failed(session, row.task_id, message, detail, listing_key(row.id))


# --- HTTP --------------------------------------------------------------------------------------
routes = web.RouteTableDef()


def _service(request: web.Request) -> Batches:
    return request.app[BATCHES]


def batch_error_response(exc: BatchError) -> web.Response:
    from companion.middlewares import error_response

    return error_response(exc.status, exc.code, exc.message, exc.message_en)


@routes.get("/api/v1/pending")
async def get_pending(request: web.Request) -> web.Response:
    service = _service(request)
    return web.json_response({"items": await service.pending(), "held": await service.held()})


@routes.get("/api/v1/errors")
async def get_errors(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 200, lo=1, hi=500)
    return web.json_response(await _service(request).in_error(limit))


@routes.get("/api/v1/batches")
async def get_batches(request: web.Request) -> web.Response:
    return web.json_response({"batches": await _service(request).list()})


async def pending_source_ids(request: web.Request) -> list[int] | None:
    """`{"source": "pending", "listing_ids": [...]}` (ids optional) → the ids; a 400 (BatchError,
    or the inputs' own for ids out of range) otherwise."""
    body = await read_json(request)
    if not isinstance(body, dict) or body.get("source", "pending") != "pending":
        raise BatchError(
            400,
            "VALIDATION_FAILED",
            'source は "pending"（新規の出品待ちから）を指定してください',
            'source must be "pending"',
        )
    ids = body.get("listing_ids")
    return None if ids is None else id_list(ids, "listing_ids")


@routes.post("/api/v1/batches")
async def post_batch(request: web.Request) -> web.Response:
    try:
        batch = await _service(request).create(await pending_source_ids(request))
    except BatchError as exc:
        return batch_error_response(exc)
    return web.json_response(batch, status=201)


@routes.get("/api/v1/batches/{batch_id}")
async def get_batch(request: web.Request) -> web.Response:
    try:
        return web.json_response(await _service(request).get(path_id(request, "batch_id")))
    except BatchError as exc:
        return batch_error_response(exc)


@routes.get("/api/v1/batches/{batch_id}/zip")
async def get_batch_zip(request: web.Request) -> web.StreamResponse:
    try:
        path, name = await _service(request).zip_path(path_id(request, "batch_id"))
    except BatchError as exc:
        return batch_error_response(exc)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Access-Control-Expose-Headers": "Content-Disposition",
        },
    )


IMAGE_CACHE_DAYS = 30
PRUNE_EVERY_SECONDS = 24 * 3600


async def prune_image_cache_daily(service: Batches) -> None:
    """The image cache would grow for ever: forget images not fetched for a month, daily."""
    while True:
        async with service.image_store() as store:
            removed = await asyncio.to_thread(store.prune, IMAGE_CACHE_DAYS * 86400)
        log.info("image cache pruned: %s", removed)
        await asyncio.sleep(PRUNE_EVERY_SECONDS)


def setup(app: web.Application) -> None:
    app.add_routes(routes)

    async def ctx(app: web.Application):  # type: ignore[no-untyped-def]
        service = Batches(app)
        app[BATCHES] = service
        app[TABLES].on_change(service.tables_changed)
        pruner = None
        if app[CONFIG].workers:
            pruner = asyncio.create_task(prune_image_cache_daily(service))
        yield
        if pruner is not None:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner

    app.cleanup_ctx.append(ctx)
