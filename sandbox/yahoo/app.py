"""The Yahoo!オークション store sandbox: login, 競りナビ pages, ストアクリエイターPro 注文管理, and
`/_sandbox/` controls, all on one origin. See docs/yahoo-sandbox.md for the URL map and flows.

`create_app()` is what the CLI (`recore-connector sandbox yahoo --port N`), the demo and the tests use.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import io
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from PIL import Image, ImageDraw, ImageFont

from sandbox.guard import loopback_guard
from sandbox.yahoo import csvspec
from sandbox.yahoo.world import (
    CARRIERS,
    ITEM_REGISTERED,
    ITEM_SELLING,
    ITEM_SOLD,
    ITEM_STATUS_LABELS,
    ITEMS_PAGE_SIZE,
    NEXT_CARRIERS,
    ORDER_STATUSES,
    ORDERS_PAGE_SIZE,
    PAY_STATUSES,
    SELLING_PAGE_SIZE,
    SHIP_STATUSES,
    SOLD_PAGE_SIZE,
    STORE_STATUSES,
    Item,
    Order,
    Session,
    World,
    default_faults,
    fmt_jst,
    now_iso,
    write_json_atomic,
    yen,
)

log = logging.getLogger("sandbox.yahoo")

WORLD: web.AppKey[World] = web.AppKey("world", World)
STATE_FILE: web.AppKey[Path | None] = web.AppKey("state_file", Path)
DRAFTS: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("drafts", dict)
SAVER: web.AppKey[asyncio.Task[None]] = web.AppKey("saver", asyncio.Task)
WRITE_LOCK: web.AppKey[asyncio.Lock] = web.AppKey("write_lock", asyncio.Lock)
# fault hold_submits: 出品する requests wait here until released (the gate is set = open)
SUBMIT_GATE: web.AppKey[asyncio.Event] = web.AppKey("submit_gate", asyncio.Event)
HELD_SUBMITS: web.AppKey[set[asyncio.Future[Any]]] = web.AppKey("held_submits", set)
# Every read of the store (a page, or a JSON request a page makes), by path: what a client costs
# Yahoo. The /_sandbox/ controls and the browser's favicon are not reads.
READS: web.AppKey[collections.Counter[str]] = web.AppKey("reads", collections.Counter)
NOT_READS = ("/_sandbox", "/favicon.ico")


async def complete_submit(request: web.Request, create: Callable[[], Item]) -> Item:
    """出品する: at once, or (fault `hold_submits`) only once the test releases it. The store
    finishes a held request even when its client has gone (a companion killed mid-submit)."""
    gate = request.app[SUBMIT_GATE]
    if gate.is_set():
        return create()
    held = request.app[HELD_SUBMITS]

    async def finish() -> Item:
        await gate.wait()
        return create()

    task = asyncio.ensure_future(finish())
    held.add(task)
    task.add_done_callback(held.discard)
    return await asyncio.shield(task)


COOKIE = "T"  # session cookie (Yahoo's own login cookies are Y and T)
COOKIE_MAX_AGE = 30 * 24 * 3600
TEMPLATES = Path(__file__).parent / "templates"
MAX_DRAFTS = 500  # unsubmitted forms kept for their images; the oldest go first


@dataclass(frozen=True)
class Flavor:
    """What differs between the two store worlds' pages (the world's state is shared)."""

    name: str
    sms_path: str  # the one-time-code step
    sms_field: str
    business_path: str  # the business ID step
    business_fields: tuple[str, str]  # (ビジネスID, its password)
    selling_url: str  # the 出品中 list, as the navigation links it
    carriers: dict[str, str]  # the ship form's <option> value -> label
    # classic field name -> this world's name, for the form fields that differ
    field_names: dict[str, str] = field(default_factory=dict)
    build: str = "2026.11"  # salt of the generated class names

    def field(self, classic_name: str) -> str:
        return self.field_names.get(classic_name, classic_name)

    def carrier_value(self, posted: str) -> str:
        """The posted ShipCompanyCode as the order stores it ("" when unknown)."""
        if self.name == "next":
            return self.carriers.get(posted, "")
        return posted

    def entry_url(self, done: str) -> str:
        """Where a browser without a session is sent, to come back to `done` after login."""
        if self.name == "next":
            return "/yidlogin?" + urlencode(
                {
                    ".pass": "0",
                    ".done": done,
                    ".src": "none",
                    ".lg": "jp",
                    ".intl": "jp",
                    ".suppreg_skip": "1",
                }  # fmt: skip
            )
        return "/config/login?" + urlencode({".src": "bizmgr", ".done": done})

    def sms_url(self, done: str) -> str:
        if self.name == "next":
            return self.sms_path + "?" + urlencode({".done": done})
        return self.sms_path + "?" + urlencode({".src": "bizmgr", ".done": done})

    def business_url(self, done: str) -> str:
        return self.business_path + "?" + urlencode({".done": done})


CLASSIC = Flavor(
    name="classic",
    sms_path="/config/login_verify",
    sms_field="code",
    business_path="/bizmgr/login",
    business_fields=("business_id", "business_password"),
    selling_url="/serinavi/selling?page=1",
    carriers=CARRIERS,
)
NEXT = Flavor(
    name="next",
    sms_path="/otp/auth",
    sms_field="verificationCode",
    business_path="/bizlogin",
    business_fields=("bizId", "bizPassword"),
    selling_url="/serinavi/sellings?page=1",
    carriers=NEXT_CARRIERS,
    field_names={"istatus": "c5d02ab", "taxRateSelect": "c8e41f7"},
)
FLAVORS: dict[str, Flavor] = {"classic": CLASSIC, "next": NEXT}
FLAVOR: web.AppKey[Flavor] = web.AppKey("flavor", Flavor)

# --- the item form: field name -> CSV column ------------------------------------------------------
TITLE_FIELD = "titleInputText"
TITLE_FIELD_CHANGED = "productTitleInputText"  # under the layout_changed fault
TEXT_FIELDS: dict[str, str] = {
    "businessCommodityIdInputText": "管理番号",
    TITLE_FIELD: "タイトル",
    "categoryIdInputText": "カテゴリ",
    "Description_plain": "説明",
    "storeKeywordInputText": "ストア内商品検索用キーワード",
    "startPriceInputText": "開始価格",
    "bidOrBuyPriceInputText": "即決価格",
    "quantityInputText": "個数",
    "durationSelect": "期間",
    "endTimeSelect": "終了時間",
    "numResubmitSelect": "商品の自動再出品",
    "changePriceRatioResubmitSelect": "自動値下げ",
    "cityNameInputText": "商品発送元の市区町村",
    "deliveryGroupSelect": "配送グループ",
    "leadTimeSelect": "発送までの日数",
    "taxRateSelect": "消費税設定",
}
COLUMN_TO_FIELD: dict[str, str] = {v: k for k, v in TEXT_FIELDS.items()} | {
    "商品発送元の都道府県": "prefectureCodeSelect",
    "送料負担": "chargeForShippingRadio",
    "商品の状態": "istatus",
    **{f"画像{n}": f"imageFile{n}" for n in range(1, 11)},
}
# Checkboxes carry only generated names and classes; staff (and scrapers) know them by label.
CHECKBOXES: dict[str, tuple[str, str]] = {
    "c7f3a91": ("自動延長", "自動延長する"),
    "c2b8e40": ("税込みフラグ", "税込み価格で出品する"),
    "c9d1f06": ("悪評割合制限", "悪い評価の割合で入札を制限する"),
    "c4a6b2e": ("入札者認証制限", "入札者認証を制限する"),
}
PAYERS: dict[str, str] = {"buyer": "落札者", "seller": "出品者"}
CHANGE_PRICE_RATIOS = ("0", "5", "10", "15", "20", "25", "30")


def world_of(request: web.Request) -> World:
    return request.app[WORLD]


def flavor_of(request: web.Request) -> Flavor:
    return request.app[FLAVOR]


_CLASS_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def class_namer(build: str) -> Callable[[str], str]:
    """Generated class names like a CSS-in-JS build's (`sc-kFgHiU bQxTrE`), fixed by the build
    and the element's role, so that they change with a release but not between requests."""

    def name(role: str) -> str:
        h = hashlib.blake2b(f"{build}:{role}".encode(), digest_size=12).digest()
        a = "".join(_CLASS_LETTERS[b % 52] for b in h[:6])
        b = "".join(_CLASS_LETTERS[b % 52] for b in h[6:])
        return f"sc-{a} {b}"

    return name


def build_of(request: web.Request) -> str:
    """The release whose class names the pages carry: layout_changed is a new release."""
    build = flavor_of(request).build
    return build + "-b" if world_of(request).faults.get("layout_changed") else build


# --- middlewares ----------------------------------------------------------------------------------
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def faults_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """latency_ms and error_5xx apply to every page except the /_sandbox/ controls."""
    if request.path.startswith(NOT_READS):
        return await handler(request)
    if request.method == "GET":
        request.app[READS][request.path] += 1
    world = world_of(request)
    latency = int(world.faults.get("latency_ms") or 0)
    if latency > 0:
        await asyncio.sleep(latency / 1000)
    err = world.faults.get("error_5xx")
    if err is True or (isinstance(err, int) and not isinstance(err, bool) and err > 0):
        if err is not True:
            world.faults["error_5xx"] = err - 1
            world.touch()
        return render(
            request,
            "error.html",
            {
                "title": "エラー",
                "message": "ただいまアクセスが集中しています。しばらくしてから再度アクセスしてください。",
            },
            status=503,
        )
    return await handler(request)


# --- sessions -------------------------------------------------------------------------------------
def current_session(request: web.Request) -> Session | None:
    return world_of(request).session(request.cookies.get(COOKIE))


def login_redirect(request: web.Request) -> web.HTTPFound:
    fl = flavor_of(request)
    entry = "/pro." + world_of(request).account.store_id
    done = request.path_qs if request.method == "GET" else entry
    if fl.name == "next":  # the bridge carries the whole URL
        done = str(request.url.origin()) + done
    return web.HTTPFound(fl.entry_url(done))


def require_login(request: web.Request) -> Session:
    s = current_session(request)
    if s is None or s.stage != "full":
        raise login_redirect(request)
    return s


def redirect(location: str) -> web.Response:
    """A 302 that can carry cookies (raising HTTPFound would drop them)."""
    return web.Response(status=302, headers={"Location": location})


def set_session_cookie(resp: web.StreamResponse, s: Session) -> None:
    resp.set_cookie(COOKIE, s.sid, max_age=COOKIE_MAX_AGE, httponly=True, path="/", samesite="Lax")


def safe_done(request: web.Request, done: str | None) -> str:
    """Only same-origin paths (or absolute URLs of this very host) are followed after login."""
    if done and done.startswith("/") and not done.startswith("//"):
        return done
    if done:
        parts = urlsplit(done)
        if parts.scheme in ("http", "https") and parts.netloc == request.host:
            return done
    return "/pro." + world_of(request).account.store_id


def render(request: web.Request, name: str, ctx: dict[str, Any], status: int = 200) -> web.Response:
    world = world_of(request)
    fl = flavor_of(request)
    base = {
        "world_name": fl.name,
        "selling_url": fl.selling_url,
        "gen": class_namer(build_of(request)),
        "store": world.account,
        "store_url": "/pro." + world.account.store_id,
        "orders_url": f"/pro.{world.account.store_id}/order/manage/index",
        "clock": fmt_jst(world.clock),
        "logged_in": (s := current_session(request)) is not None and s.stage == "full",
    }
    return aiohttp_jinja2.render_template(name, request, base | ctx, status=status)


# --- login ----------------------------------------------------------------------------------------
async def login_get(request: web.Request) -> web.StreamResponse:
    done = safe_done(request, request.query.get(".done"))
    s = current_session(request)
    if s is not None and s.stage == "full":
        raise web.HTTPFound(done)
    ctx = {"step": "handle", "done": done, "handle": "", "error": "", "captcha": False}
    return render(request, "login.html", ctx)


async def login_post(request: web.Request) -> web.StreamResponse:
    world = world_of(request)
    fl = flavor_of(request)
    form = await request.post()
    done = safe_done(request, str(form.get(".done") or ""))
    handle = str(form.get("handle") or "").strip()
    ctx: dict[str, Any] = {"done": done, "handle": handle, "error": "", "captcha": False}
    if handle != world.account.yahoo_id:
        ctx |= {"step": "handle", "error": "このIDは登録されていません。入力内容をご確認ください。"}
        return render(request, "login.html", ctx)
    if "passwd" not in form:
        ctx |= {"step": "password", "captcha": world.captcha_required(handle)}
        if ctx["captcha"]:
            world.new_captcha(handle)
        return render(request, "login.html", ctx)
    ctx["step"] = "password"
    if world.captcha_required(handle):
        answer = str(form.get("captcha") or "").strip().upper()
        expected = world.captchas.get(handle)
        if not expected or answer != expected:
            world.new_captcha(handle)
            ctx |= {"captcha": True, "error": "画像に表示されている文字が正しくありません。"}
            return render(request, "login.html", ctx)
    if str(form.get("passwd") or "") != world.account.password:
        world.failed_logins[handle] = world.failed_logins.get(handle, 0) + 1
        world.touch()
        log.info("login failed for %s (%d)", handle, world.failed_logins[handle])
        ctx["error"] = "パスワードが間違っています。"
        if world.captcha_required(handle):
            world.new_captcha(handle)
            ctx["captcha"] = True
        return render(request, "login.html", ctx)
    world.failed_logins.pop(handle, None)
    world.captchas.pop(handle, None)
    if world.sms_required():
        s = world.new_session("sms")
        s.sms_code = f"{secrets.randbelow(1_000_000):06d}"
        # The "SMS": only a person watching the sandbox's log can read it, like a phone.
        log.warning("SMS to the store's phone: 確認コード %s", s.sms_code)
        resp = redirect(fl.sms_url(done))
    else:
        s = world.new_session("yid")
        resp = redirect(fl.business_url(done))
    set_session_cookie(resp, s)
    return resp


async def captcha_png(request: web.Request) -> web.Response:
    world = world_of(request)
    answer = world.captchas.get(request.query.get("handle", ""), "")
    img = Image.new("RGB", (180, 60), (235, 235, 225))
    draw = ImageDraw.Draw(img)
    for k in range(12):  # some noise lines so it is not plain text
        a = world.draw("cap", answer, k)
        draw.line((int(a * 180), 0, int((1 - a) * 180), 60), fill=(150, 150 + k * 5, 160), width=2)
    font = ImageFont.load_default(size=34)
    for i, ch in enumerate(answer):
        draw.text((12 + i * 32, 8 + (i % 2) * 8), ch, fill=(40, 40, 90), font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return web.Response(
        body=buf.getvalue(), content_type="image/png", headers={"Cache-Control": "no-store"}
    )


async def sms_verify(request: web.Request) -> web.StreamResponse:
    world = world_of(request)
    fl = flavor_of(request)
    s = current_session(request)
    if request.method == "POST":
        form = await request.post()
        done = safe_done(request, str(form.get(".done") or ""))
    else:
        done = safe_done(request, request.query.get(".done"))
    if s is None or s.stage != "sms":
        raise web.HTTPFound(fl.entry_url(done))
    error = ""
    if request.method == "POST":
        code = str(form.get(fl.sms_field) or "").strip()
        if code and code == s.sms_code:
            s.stage = "yid"
            s.sms_code = ""
            world.touch()
            raise web.HTTPFound(fl.business_url(done))
        error = "確認コードが正しくありません。"
    return render(request, "sms.html", {"done": done, "error": error})


async def bizmgr_login(request: web.Request) -> web.StreamResponse:
    world = world_of(request)
    fl = flavor_of(request)
    s = current_session(request)
    if request.method == "POST":
        form = await request.post()
        done = safe_done(request, str(form.get(".done") or ""))
    else:
        done = safe_done(request, request.query.get(".done"))
    if s is not None and s.stage == "full":
        raise web.HTTPFound(done)
    ctx: dict[str, Any] = {"done": done, "error": "", "needs_yid": False}
    if s is None or s.stage != "yid":
        if fl.name == "next":  # the chooser's other button: the page says what to do first
            ctx |= {"needs_yid": True, "yid_url": yid_login_url(done)}
            return render(request, "bizmgr_login.html", ctx)
        raise web.HTTPFound(fl.entry_url(done))
    if request.method == "POST":
        id_field, password_field = fl.business_fields
        if (
            str(form.get(id_field) or "").strip() == world.account.business_id
            and str(form.get(password_field) or "") == world.account.business_password
        ):
            s.stage = "full"
            world.touch()
            raise web.HTTPFound(done)
        ctx["error"] = "ビジネスIDまたはパスワードが正しくありません。"
    return render(request, "bizmgr_login.html", ctx)


def yid_login_url(done: str) -> str:
    """World next: the Yahoo ID page, as the chooser links it."""
    return "/config/login?" + urlencode(
        {".src": "bizmgr", ".lg": "jp", ".intl": "jp", ".done": done}
    )


async def logout(request: web.Request) -> web.StreamResponse:
    world = world_of(request)
    sid = request.cookies.get(COOKIE)
    if sid and sid in world.sessions:
        del world.sessions[sid]
        world.touch()
    fl = flavor_of(request)
    if fl.name == "next":
        resp = redirect(fl.entry_url(str(request.url.origin()) + "/pro." + world.account.store_id))
    else:
        resp = redirect("/config/login?.src=bizmgr")
    resp.del_cookie(COOKIE, path="/")
    return resp


# --- store top --------------------------------------------------------------------------------------
def check_store(request: web.Request) -> None:
    if request.match_info["store_id"] != world_of(request).account.store_id:
        raise web.HTTPForbidden(
            text="このストアへのアクセス権限がありません。", content_type="text/plain"
        )


async def store_top(request: web.Request) -> web.StreamResponse:
    require_login(request)
    check_store(request)
    return render(request, "store_top.html", {})


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/pro." + world_of(request).account.store_id)


# --- pagination -----------------------------------------------------------------------------------
def page_of(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


def paginate(rows: list[Any], page: int, size: int) -> dict[str, Any]:
    total = len(rows)
    last = max(1, math.ceil(total / size))
    chunk = rows[(page - 1) * size : page * size]
    first_no = (page - 1) * size + 1
    return {
        "rows": chunk,
        "total": total,
        "page": page,
        "last_page": last,
        "has_next": page * size < total,
        "has_prev": page > 1,
        "start_no": first_no if chunk else 0,
        "end_no": first_no + len(chunk) - 1 if chunk else 0,
    }


def url_with(request: web.Request, **changes: Any) -> str:
    q = dict(request.query)
    for k, v in changes.items():
        q[k] = str(v)
    return request.path + "?" + urlencode(q)


# --- 競りナビ: top and upload -----------------------------------------------------------------------
async def serinavi_top(request: web.Request) -> web.StreamResponse:
    require_login(request)
    world = world_of(request)
    return render(request, "serinavi_top.html", {"folders": world.folders})


async def upload_get(request: web.Request) -> web.StreamResponse:
    require_login(request)
    return render(request, "upload.html", {"result": None})


async def parse_upload_form(request: web.Request) -> csvspec.UploadResult:
    """The posted `uploadFile`, checked by the CSV rules (both worlds' uploads)."""
    form = await request.post()
    upload = form.get("uploadFile")
    if not isinstance(upload, web.FileField):
        return csvspec.UploadResult(file_error="ファイルが選択されていません")
    data = upload.file.read()
    loop = asyncio.get_running_loop()
    # CPU work (decoding, checking images) leaves the event loop
    # browsers send the name raw (UTF-8), aiohttp's client percent-encodes it
    filename = unquote(upload.filename or "")
    return await loop.run_in_executor(None, csvspec.parse_upload, filename, data)


def row_images(row: csvspec.ValidRow) -> list[dict[str, Any]]:
    return [
        {
            "name": im.name,
            "format": im.format,
            "size": im.size,
            "width": im.width,
            "height": im.height,
        }  # fmt: skip
        for im in row.images
    ]


def take_comm_error(world: World) -> bool:
    """Whether this successful upload shows the spurious 通信エラー (fault spurious_comm_error)."""
    flag = world.faults.get("spurious_comm_error")
    if flag is True:
        return True
    if isinstance(flag, int) and not isinstance(flag, bool) and flag > 0:
        world.faults["spurious_comm_error"] = flag - 1
        world.touch()
        return True
    return False


async def upload_post(request: web.Request) -> web.StreamResponse:
    require_login(request)
    world = world_of(request)
    result = await parse_upload_form(request)
    accepted: list[dict[str, Any]] = []
    for row in result.rows:
        item = world.create_item(row.values, row_images(row), "upload")
        accepted.append(
            {
                "row": row.row,
                "management_number": item.management_number,
                "auction_id": item.auction_id,
            }
        )
    comm_error = bool(accepted) and take_comm_error(world)
    log.info(
        "upload: %d rows accepted, %d errors, file_error=%s",
        len(accepted),
        len(result.errors),
        result.file_error,
    )
    ctx = {
        "result": result,
        "accepted": accepted,
        "comm_error": comm_error,
        "error_rows": len({e.row for e in result.errors}),
    }
    return render(request, "upload.html", ctx)


# --- 競りナビ: item form ----------------------------------------------------------------------------
def layout_changed(world: World) -> bool:
    return bool(world.faults.get("layout_changed"))


def title_field(world: World) -> str:
    return TITLE_FIELD_CHANGED if layout_changed(world) else TITLE_FIELD


def default_form_values() -> dict[str, str]:
    return {col: "" for col in csvspec.COLUMNS} | {
        "代金先払い、後払い": "代金先払い",
        "個数": "1",
        "期間": "7",
        "終了時間": "22",
        "商品の自動再出品": "0",
        "自動値下げ": "0",
        "商品発送元の都道府県": "東京都",
        "送料負担": "落札者",
        "自動延長": "はい",
        "税込みフラグ": "はい",
        "悪評割合制限": "いいえ",
        "入札者認証制限": "いいえ",
        "消費税設定": "10",
        "配送グループ": "1",
        "発送までの日数": "1",
        "即決価格": "0",
    }


def form_to_values(fl: Flavor, world: World, form: Any, base: dict[str, str]) -> dict[str, str]:
    """The posted form as CSV column values (the same rules then apply as for the upload)."""
    values = {col: "" for col in csvspec.COLUMNS} | {
        k: v for k, v in base.items() if not k.startswith("画像")
    }
    tf = title_field(world)
    for name, col in TEXT_FIELDS.items():
        key = tf if name == TITLE_FIELD else fl.field(name)
        raw = form.get(key)
        values[col] = str(raw).strip() if raw is not None else ""
    # a textarea's newlines become <br>: the stored 説明 never holds a raw newline
    desc = values["説明"].replace("\r\n", "\n").replace("\r", "\n")
    values["説明"] = desc.replace("\n", "<br>")
    if values["即決価格"] == "":
        values["即決価格"] = "0"
    code = str(form.get("prefectureCodeSelect") or "")
    values["商品発送元の都道府県"] = (
        csvspec.PREFECTURES[int(code) - 1] if code.isdigit() and 1 <= int(code) <= 47 else ""
    )
    values["送料負担"] = PAYERS.get(str(form.get("chargeForShippingRadio") or ""), "")
    cond = str(form.get(fl.field("istatus")) or "")
    values["商品の状態"] = (
        csvspec.CONDITIONS[csvspec.CONDITION_CODES.index(cond)]
        if cond in csvspec.CONDITION_CODES
        else ""
    )
    for name, (col, _label) in CHECKBOXES.items():
        values[col] = "はい" if form.get(name) else "いいえ"
    values["代金先払い、後払い"] = base.get("代金先払い、後払い") or "代金先払い"
    return values


def form_errors(fl: Flavor, values: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """Errors by the field's name in this world's form (title errors keep titleInputText)."""
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for col, msg in csvspec.validate_values(values):
        name = COLUMN_TO_FIELD.get(col)
        if name is None:
            other.append(f"{col}: {msg}")
        else:
            by_field.setdefault(fl.field(name), []).append(msg)
    return by_field, other


async def checked_form(
    request: web.Request, form: Any, base: dict[str, str], existing: list[dict[str, Any]]
) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, list[str]], list[str]]:
    """The posted item form as values and images, with its errors by field and the others."""
    fl, world = flavor_of(request), world_of(request)
    values = form_to_values(fl, world, form, base)
    images, img_errors = await read_images(form, existing)
    values = image_values(values, images)
    errors, other = form_errors(fl, values)
    for k, msgs in img_errors.items():
        errors.setdefault(k, []).extend(msgs)
    return values, images, errors, other


def keep_draft(request: web.Request, draft_id: str, draft: dict[str, Any]) -> str:
    """Remember an unsubmitted form (its images) under `draft_id` (new when empty)."""
    drafts = request.app[DRAFTS]
    draft_id = draft_id or secrets.token_urlsafe(12)
    drafts.pop(draft_id, None)
    drafts[draft_id] = draft
    while len(drafts) > MAX_DRAFTS:
        del drafts[next(iter(drafts))]
    return draft_id


async def read_images(
    form: Any, existing: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """imageFile1..10: a new file replaces that slot, an empty input keeps what was there."""
    slots: list[dict[str, Any] | None] = [None] * csvspec.MAX_IMAGES
    for k, im in enumerate(existing[: csvspec.MAX_IMAGES]):
        slots[k] = im
    errors: dict[str, list[str]] = {}
    for n in range(1, csvspec.MAX_IMAGES + 1):
        f = form.get(f"imageFile{n}")
        if not isinstance(f, web.FileField) or not f.filename:
            continue
        data = f.file.read()
        if not data:
            continue
        name = f.filename
        problem = await asyncio.get_running_loop().run_in_executor(
            None, csvspec.check_image, name, data
        )
        if problem:
            errors.setdefault(f"imageFile{n}", []).append(problem)
            continue
        info = csvspec.image_info(name, data)
        slots[n - 1] = {
            "name": name,
            "format": info.format,
            "size": info.size,
            "width": info.width,
            "height": info.height,
        }
    return [s for s in slots if s is not None], errors


def image_values(values: dict[str, str], images: list[dict[str, Any]]) -> dict[str, str]:
    out = dict(values)
    for n in range(1, csvspec.MAX_IMAGES + 1):
        out[f"画像{n}"] = images[n - 1]["name"] if n <= len(images) else ""
    return out


def form_context(
    fl: Flavor,
    world: World,
    *,
    mode: str,
    values: dict[str, str],
    images: list[dict[str, Any]],
    folder_id: str,
    item: Item | None = None,
    errors: dict[str, list[str]] | None = None,
    other_errors: list[str] | None = None,
    draft_id: str = "",
    message: str = "",
) -> dict[str, Any]:
    pref = values.get("商品発送元の都道府県", "")
    cond = values.get("商品の状態", "")
    return {
        "mode": mode,
        "v": values,
        "images": images,
        "folder_id": folder_id,
        "item": item,
        "errors": errors or {},
        "other_errors": other_errors or [],
        "draft_id": draft_id,
        "message": message,
        "title_field": title_field(world),
        "condition_field": fl.field("istatus"),
        "tax_field": fl.field("taxRateSelect"),
        "layout_changed": layout_changed(world),
        "prefectures": list(enumerate(csvspec.PREFECTURES, start=1)),
        "pref_code": csvspec.PREFECTURES.index(pref) + 1 if pref in csvspec.PREFECTURES else 0,
        "conditions": list(zip(csvspec.CONDITION_CODES, csvspec.CONDITIONS, strict=True)),
        "cond_code": csvspec.CONDITION_CODES[csvspec.CONDITIONS.index(cond)]
        if cond in csvspec.CONDITIONS
        else "",
        "payer_code": {v: k for k, v in PAYERS.items()}.get(values.get("送料負担", ""), ""),
        "checkboxes": [
            (name, label, values.get(col) == "はい") for name, (col, label) in CHECKBOXES.items()
        ],
        "lead_times": csvspec.LEAD_TIMES,
        "change_ratios": CHANGE_PRICE_RATIOS,
        "desc_text": values.get("説明", "").replace("<br>", "\n"),
        "status_label": ITEM_STATUS_LABELS.get(item.status, "") if item else "",
    }


async def item_form(request: web.Request) -> web.StreamResponse:
    require_login(request)
    world = world_of(request)
    fl = flavor_of(request)
    action = request.query.get("action", "create")
    folder_id = request.query.get("folder_id", "") or "1"
    drafts = request.app[DRAFTS]
    if action == "edit":
        return await item_edit(request, world)
    if action != "create":
        raise web.HTTPBadRequest(text="action が正しくありません")
    if request.method == "GET":
        ctx = form_context(
            fl, world, mode="create", values=default_form_values(), images=[], folder_id=folder_id
        )
        return render(request, "item_form.html", ctx)
    form = await request.post()
    step = str(form.get("_step") or "input")
    draft_id = str(form.get("draft_id") or "")
    draft = drafts.get(draft_id) if draft_id else None
    if step in ("confirm", "back") and draft is None:
        return render(
            request,
            "error.html",
            {
                "title": "エラー",
                "message": "入力内容の有効期限が切れました。もう一度入力してください。",
            },
            status=400,
        )
    if step == "back":
        assert draft is not None
        ctx = form_context(
            fl,
            world,
            mode="create",
            values=draft["values"],
            images=draft["images"],
            folder_id=folder_id,
            draft_id=draft_id,
        )
        return render(request, "item_form.html", ctx)
    if step == "confirm":
        assert draft is not None
        del drafts[draft_id]  # a second 出品する on the same confirm page does not list twice
        fid = int(draft["folder_id"]) if str(draft["folder_id"]).isdigit() else 1
        values, images = draft["values"], draft["images"]
        item = await complete_submit(
            request, lambda: world.create_item(values, images, "form", folder_id=fid)
        )
        log.info("form listing: %s -> %s", item.management_number, item.auction_id)
        raise web.HTTPSeeOther(f"/serinavi/items/complete?item_id={item.item_id}")
    # step == input: validate, then the confirm page
    existing = draft["images"] if draft else []
    values, images, errors, other = await checked_form(
        request, form, default_form_values(), existing
    )
    new_draft_id = keep_draft(
        request, draft_id, {"values": values, "images": images, "folder_id": folder_id}
    )
    if errors or other:
        ctx = form_context(
            fl,
            world,
            mode="create",
            values=values,
            images=images,
            folder_id=folder_id,
            errors=errors,
            other_errors=other,
            draft_id=new_draft_id,
        )
        return render(request, "item_form.html", ctx, status=200)
    rows = [
        (col, values[col])
        for col in csvspec.COLUMNS
        if values.get(col) and not col.startswith("画像")
    ]
    return render(
        request,
        "item_confirm.html",
        {"rows": rows, "images": images, "draft_id": new_draft_id, "folder_id": folder_id},
    )


async def item_edit(request: web.Request, world: World) -> web.StreamResponse:
    fl = flavor_of(request)
    try:
        item = world.items[int(request.query.get("item_id", ""))]
    except (ValueError, KeyError):
        return render(
            request,
            "error.html",
            {"title": "エラー", "message": "商品が見つかりません。"},
            status=404,
        )
    folder_id = str(item.folder_id)
    if request.method == "GET":
        msg = {"1": "フォルダに保存しました。", "ended": "オークションを終了しました。"}.get(
            request.query.get("saved", ""), ""
        )
        values = {col: item.v(col) for col in csvspec.COLUMNS}
        ctx = form_context(
            fl,
            world,
            mode="edit",
            values=values,
            images=item.images,
            folder_id=folder_id,
            item=item,
            message=msg,
        )
        return render(request, "item_form.html", ctx)
    form = await request.post()
    base = {col: item.v(col) for col in csvspec.COLUMNS}
    values, images, errors, other = await checked_form(request, form, base, item.images)
    if item.status == ITEM_SELLING and item.bids > 0 and values["開始価格"] != item.v("開始価格"):
        errors.setdefault("startPriceInputText", []).append(
            "入札があるため開始価格は変更できません"
        )
    if errors or other:
        ctx = form_context(
            fl,
            world,
            mode="edit",
            values=values,
            images=images,
            folder_id=folder_id,
            item=item,
            errors=errors,
            other_errors=other,
        )
        return render(request, "item_form.html", ctx)
    world.update_item(item, values, images)
    raise web.HTTPSeeOther(edit_url(item) + "&saved=1")


def edit_url(item: Item) -> str:
    return (
        f"/serinavi/items/create?folder_id={item.folder_id}&item_folder_id={item.folder_id}"
        f"&item_id={item.item_id}&action=edit"
    )


async def item_end(request: web.Request) -> web.StreamResponse:
    require_login(request)
    world = world_of(request)
    fl = flavor_of(request)
    form = await request.post()
    try:
        item = world.items[int(str(form.get("item_id") or ""))]
    except (ValueError, KeyError):
        return render(
            request,
            "error.html",
            {"title": "エラー", "message": "商品が見つかりません。"},
            status=404,
        )
    problem = world.end_early(item)
    if problem is None:
        raise web.HTTPSeeOther(edit_url(item) + "&saved=ended")
    values = {col: item.v(col) for col in csvspec.COLUMNS}
    ctx = form_context(
        fl,
        world,
        mode="edit",
        values=values,
        images=item.images,
        folder_id=str(item.folder_id),
        item=item,
        other_errors=[problem],
    )
    return render(request, "item_form.html", ctx, status=409)


async def item_complete(request: web.Request) -> web.StreamResponse:
    require_login(request)
    world = world_of(request)
    try:
        item = world.items[int(request.query.get("item_id", ""))]
    except (ValueError, KeyError):
        return render(
            request,
            "error.html",
            {"title": "エラー", "message": "商品が見つかりません。"},
            status=404,
        )
    return render(request, "item_complete.html", {"item": item, "edit_url": edit_url(item)})


# --- 競りナビ: lists --------------------------------------------------------------------------------
def item_row(item: Item) -> dict[str, Any]:
    return {
        "item": item,
        "edit_url": edit_url(item),
        "status_label": ITEM_STATUS_LABELS[item.status],
        "price": yen(item.current_price),
        "updated": fmt_jst(item.updated_at),
        "end": fmt_jst(item.end_time),
        "closed": fmt_jst(item.closed_at),
        "sold_price": yen(item.sold_price or 0),
    }


ITEM_SORTS = ("-update_date", "update_date", "-create_date", "create_date")


def folder_items(world: World, folder: str, keyword: str, sort: str) -> list[Item]:
    """The item list's rows (both worlds): one folder ("" = all), a 管理番号/title search, sorted."""
    rows = list(world.items.values())
    if folder.isdigit():
        fid = int(folder)
        rows = [i for i in rows if i.folder_id == fid]
    if keyword:
        rows = [i for i in rows if keyword in i.management_number or keyword in i.title]
    reverse = not sort.startswith("update_date") and sort != "create_date"
    key = (
        (lambda i: (i.created_at, i.item_id))
        if sort.endswith("create_date")
        else (lambda i: (i.updated_at, i.item_id))
    )
    rows.sort(key=key, reverse=reverse)
    return rows


def selling_items(world: World, newest_end_first: bool = False) -> list[Item]:
    rows = [i for i in world.items.values() if i.status == ITEM_SELLING]
    rows.sort(key=lambda i: (i.end_time, i.item_id), reverse=newest_end_first)
    return rows


def sold_items(world: World, oldest_first: bool = False) -> list[Item]:
    rows = [i for i in world.items.values() if i.status == ITEM_SOLD]
    rows.sort(key=lambda i: (i.closed_at or 0, i.item_id), reverse=not oldest_first)
    return rows


async def items_list(request: web.Request) -> web.StreamResponse:
    require_login(request)
    world = world_of(request)
    folder = request.query.get("folder_id", "")
    keyword = request.query.get("keyword", "").strip()
    rows = folder_items(world, folder, keyword, request.query.get("sort", "-update_date"))
    p = paginate(rows, page_of(request), ITEMS_PAGE_SIZE)
    p["rows"] = [item_row(i) for i in p["rows"]]
    ctx = {
        "p": p,
        "folders": world.folders,
        "folder_id": folder,
        "keyword": keyword,
        "next_url": url_with(request, page=p["page"] + 1),
        "prev_url": url_with(request, page=p["page"] - 1),
        "create_url": f"/serinavi/items/create?action=create&folder_id={folder or 1}",
        "checkbox_name": "itemSelectCheckbox" if layout_changed(world) else "itemCheckbox",
    }
    return render(request, "items.html", ctx)


async def selling_list(request: web.Request) -> web.StreamResponse:
    require_login(request)
    world = world_of(request)
    p = paginate(selling_items(world), page_of(request), SELLING_PAGE_SIZE)
    p["rows"] = [item_row(i) for i in p["rows"]]
    ctx = {
        "p": p,
        "next_url": url_with(request, page=p["page"] + 1),
        "prev_url": url_with(request, page=p["page"] - 1),
    }
    return render(request, "selling.html", ctx)


async def sold_list(request: web.Request) -> web.StreamResponse:
    require_login(request)
    world = world_of(request)
    p = paginate(sold_items(world), page_of(request), SOLD_PAGE_SIZE)
    p["rows"] = [item_row(i) for i in p["rows"]]
    ctx = {
        "p": p,
        "next_url": url_with(request, page=p["page"] + 1),
        "prev_url": url_with(request, page=p["page"] - 1),
    }
    return render(request, "sold.html", ctx)


async def auction_page(request: web.Request) -> web.StreamResponse:
    """The public auction page (page.auctions.yahoo.co.jp/jp/auction/<id>); no login needed."""
    world = world_of(request)
    item = world.item_by_auction(request.match_info["auction_id"])
    if item is None:
        return render(
            request,
            "error.html",
            {"title": "エラー", "message": "このオークションは存在しません。"},
            status=404,
        )
    current = item.auction_id == request.match_info["auction_id"]
    return render(request, "auction.html", {"r": item_row(item), "current": current})


# --- ストアクリエイターPro 注文管理 ------------------------------------------------------------------
ORDER_FILTERS = (
    "OrderId",
    "OrderStatus",
    "StoreStatus",
    "AuctionId",
    "ItemId",
    "BuyerName",
    "PayStatus",
    "ShipStatus",
    "OrderTimeFrom",
    "OrderTimeTo",
)


def order_matches(o: Order, q: dict[str, str]) -> bool:
    if q.get("OrderId") and q["OrderId"] != o.order_id:
        return False
    if q.get("OrderStatus") and q["OrderStatus"] != str(o.order_status):
        return False
    if q.get("StoreStatus") and q["StoreStatus"] != o.store_status:
        return False
    if q.get("PayStatus") and q["PayStatus"] != o.pay_status:
        return False
    if q.get("ShipStatus") and q["ShipStatus"] != o.ship_status:
        return False
    if q.get("AuctionId") and q["AuctionId"] != o.auction_id:
        return False
    if q.get("ItemId") and q["ItemId"] != o.management_number:
        return False
    day = fmt_jst(o.order_time)[:10].replace("/", "-")  # YYYY-MM-DD in JST
    if q.get("OrderTimeFrom") and day < q["OrderTimeFrom"]:
        return False
    if q.get("OrderTimeTo") and day > q["OrderTimeTo"]:
        return False
    if (
        q.get("BuyerName")
        and q["BuyerName"] not in o.buyer_name
        and q["BuyerName"] not in o.buyer_kana
    ):
        return False
    return True


def order_view(o: Order) -> dict[str, Any]:
    return {
        "o": o,
        "time": fmt_jst(o.order_time),
        "updated": fmt_jst(o.updated_at),
        "status_label": o.order_status_label,
        "total": yen(o.total),
        "price": yen(o.price),
        "fee": yen(o.shipping_fee),
        "carrier": CARRIERS.get(o.carrier, o.carrier),
    }


async def orders_list(request: web.Request) -> web.StreamResponse:
    require_login(request)
    check_store(request)
    world = world_of(request)
    q = {k: request.query.get(k, "").strip() for k in ORDER_FILTERS}
    rows = [o for o in world.orders.values() if order_matches(o, q)]
    rows.sort(key=lambda o: (o.order_time, o.order_id), reverse=True)
    p = paginate(rows, page_of(request), ORDERS_PAGE_SIZE)
    p["rows"] = [order_view(o) for o in p["rows"]]
    ctx = {
        "p": p,
        "q": q,
        "order_statuses": ORDER_STATUSES,
        "store_statuses": STORE_STATUSES,
        "pay_statuses": PAY_STATUSES,
        "ship_statuses": SHIP_STATUSES,
        "next_url": url_with(request, page=p["page"] + 1),
        "prev_url": url_with(request, page=p["page"] - 1),
    }
    return render(request, "orders.html", ctx)


def get_order(request: web.Request) -> Order:
    order = world_of(request).orders.get(request.match_info["order_id"])
    if order is None:
        raise web.HTTPNotFound(text="注文が見つかりません。", content_type="text/plain")
    return order


def order_url(world: World, o: Order) -> str:
    return f"/pro.{world.account.store_id}/order/manage/detail/{o.order_id}"


async def order_detail(request: web.Request) -> web.StreamResponse:
    require_login(request)
    check_store(request)
    world = world_of(request)
    o = get_order(request)
    msg = {"ship-info": "発送伝票番号を登録しました。", "ship": "出荷済みにしました。",
           "complete": "注文を完了にしました。", "cancel": "注文をキャンセルしました。",
           "store-status": "ストアステータスを変更しました。"}.get(request.query.get("done", ""), "")  # fmt: skip
    return render(request, "order_detail.html", order_detail_ctx(request, world, o, msg, ""))


def order_detail_ctx(
    request: web.Request, world: World, o: Order, message: str, error: str
) -> dict[str, Any]:
    return {
        "v": order_view(o),
        "message": message,
        "error": error,
        "carriers": flavor_of(request).carriers,
        "store_statuses": STORE_STATUSES,
        "action_base": order_url(world, o),
    }


async def order_action(request: web.Request) -> web.StreamResponse:
    require_login(request)
    check_store(request)
    world = world_of(request)
    o = get_order(request)
    action = request.match_info["action"]
    form = await request.post()
    if action == "ship-info":
        problem = world.set_tracking(
            o,
            flavor_of(request).carrier_value(str(form.get("ShipCompanyCode") or "")),
            str(form.get("ShipInvoiceNumber1") or "").strip(),
        )
    elif action == "ship":
        problem = world.ship(o)
    elif action == "complete":
        problem = world.complete(o)
    elif action == "cancel":
        problem = world.cancel(o, world.clock)
    elif action == "store-status":
        status = str(form.get("StoreStatus") or "")
        if status not in STORE_STATUSES:
            problem = "ストアステータスを選択してください"
        else:
            o.store_status = status
            o.updated_at = world.clock
            world.touch()
            problem = None
    else:
        raise web.HTTPNotFound()
    if problem:
        return render(
            request,
            "order_detail.html",
            order_detail_ctx(request, world, o, "", problem),
            status=409,
        )
    raise web.HTTPSeeOther(order_url(world, o) + "?done=" + action)


# --- /_sandbox/ controls ----------------------------------------------------------------------------
async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text='{"error":"body must be JSON"}', content_type="application/json"
        ) from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error":"body must be a JSON object"}', content_type="application/json"
        )
    return body


def bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def item_json(i: Item) -> dict[str, Any]:
    return {
        "item_id": i.item_id,
        "folder_id": i.folder_id,
        "management_number": i.management_number,
        "title": i.title,
        "auction_id": i.auction_id or None,  # None while registered (no auction yet)
        "past_auction_ids": i.past_auction_ids,
        "status": i.status,
        "status_label": ITEM_STATUS_LABELS[i.status],
        "registered": i.status == ITEM_REGISTERED,
        "start_price": i.start_price,
        "buyout_price": i.buyout_price,
        "current_price": i.current_price,
        "bids": i.bids,
        "watchers": i.watchers,
        "end_time": now_iso(i.end_time) if i.end_time else None,
        "closed_at": now_iso(i.closed_at) if i.closed_at else None,
        "sold_price": i.sold_price,
        "winner": i.winner,
        "order_id": i.order_id or None,
        "image_count": len(i.images),
        "source": i.source,
    }


async def sb_state(request: web.Request) -> web.Response:
    world = world_of(request)
    counts: dict[str, int] = {}
    for i in world.items.values():
        counts[i.status] = counts.get(i.status, 0) + 1
    by_store: dict[str, int] = {}
    for o in world.orders.values():
        by_store[o.store_status] = by_store.get(o.store_status, 0) + 1
    listing_counts = world.listing_counts()
    out: dict[str, Any] = {
        "world": world.name,
        "clock": now_iso(world.clock),
        "account": {
            "yahoo_id": world.account.yahoo_id,
            "password": world.account.password,
            "business_id": world.account.business_id,
            "business_password": world.account.business_password,
            "store_id": world.account.store_id,
            "store_name": world.account.store_name,
            "sms_auth": world.sms_required(),
        },
        "faults": world.faults,
        "captcha_required": sorted(h for h in world.failed_logins if world.captcha_required(h)),
        "sessions": len(world.sessions),
        "folders": {str(k): v for k, v in world.folders.items()},
        "counts": {
            "items": len(world.items),
            "by_status": counts,
            "orders": len(world.orders),
            "orders_by_store_status": by_store,
        },
        "listing_counts": listing_counts,
        "duplicates": {k: v for k, v in listing_counts.items() if v > 1},
        # GET requests for pages and JSON since the sandbox started (`reads` in docs)
        "reads": {"total": sum(request.app[READS].values()), "by_path": dict(request.app[READS])},
    }
    if request.query.get("auction_ids"):
        # only these auctions (a benchmark watching a few among thousands)
        wanted = set(request.query["auction_ids"].split(","))
        out["listings"] = [
            item_json(i) for a in wanted if (i := world.item_by_auction(a)) is not None
        ]
    elif request.query.get("brief") not in ("1", "true"):
        out["listings"] = [item_json(i) for i in world.items.values()]
        out["orders"] = [o.as_dict() for o in world.orders.values()]
    return web.json_response(out, dumps=json_dumps)


def json_dumps(obj: Any) -> str:
    """JSON with the Japanese left readable (both worlds' JSON answers)."""
    import json

    return json.dumps(obj, ensure_ascii=False)


async def sb_advance(request: web.Request) -> web.Response:
    world = world_of(request)
    body = await json_body(request)
    try:
        hours = float(body.get("hours", 0))
    except (TypeError, ValueError):
        return bad("hours must be a number")
    if not 0 <= hours <= 24 * 60:
        return bad("hours must be between 0 and 1440")
    # hour by hour, yielding between hours so pages stay responsive; the world is the same
    # however the advance is split (every draw is keyed by the hour)
    stats: dict[str, int] = {}
    remaining = hours
    while True:
        step = min(remaining, 1.0)
        for k, n in world.advance(step).items():
            stats[k] = stats.get(k, 0) + n
        remaining -= step
        if remaining <= 0:
            break
        await asyncio.sleep(0)
    return web.json_response({"clock": now_iso(world.clock), "events": stats}, dumps=json_dumps)


async def sb_order_status(request: web.Request) -> web.Response:
    world = world_of(request)
    o = world.orders.get(request.match_info["order_id"])
    if o is None:
        return bad("no such order", 404)
    body = await json_body(request)
    try:
        world.set_order_fields(o, body)
    except (ValueError, TypeError) as exc:
        return bad(str(exc))
    return web.json_response(o.as_dict(), dumps=json_dumps)


async def sb_bulk(request: web.Request) -> web.Response:
    world = world_of(request)
    body = await json_body(request)
    try:
        selling, orders = int(body.get("selling", 0)), int(body.get("orders", 0))
    except (TypeError, ValueError):
        return bad("selling and orders must be integers")
    if not (0 <= selling <= 100_000 and 0 <= orders <= 100_000):
        return bad("selling and orders must be 0..100000")
    return web.json_response(world.bulk(selling, orders))


async def sb_faults(request: web.Request) -> web.Response:
    world = world_of(request)
    body = await json_body(request)
    known = set(default_faults()) | {"expire_sessions", "reset", "hold_submits"}
    unknown = set(body) - known
    if unknown:
        return bad(f"unknown fault switches: {sorted(unknown)}")
    expired = 0
    if body.get("reset"):
        world.faults = default_faults()
        world.failed_logins.clear()
        world.captchas.clear()
    for key in ("latency_ms", "session_ttl_hours", "list_delay_ms"):
        if key in body:
            try:
                world.faults[key] = max(0, int(body[key]))
            except (TypeError, ValueError):
                return bad(f"{key} must be an integer")
    for key in ("error_5xx", "spurious_comm_error"):
        if key in body:
            v = body[key]
            if isinstance(v, bool):
                world.faults[key] = v if v else 0
            elif isinstance(v, int) and v >= 0:
                world.faults[key] = v
            else:
                return bad(f"{key} must be true, false or a count")
    for key in ("sms_wall", "layout_changed"):
        if key in body:
            world.faults[key] = bool(body[key])
    if "hold_submits" in body:  # true: 出品する waits; false: the held ones complete
        gate = request.app[SUBMIT_GATE]
        gate.clear() if body["hold_submits"] else gate.set()
    if body.get("expire_sessions"):
        expired = world.expire_sessions()
    world.touch()
    return web.json_response(
        {
            "faults": world.faults,
            "expired_sessions": expired,
            "held_submits": len(request.app[HELD_SUBMITS]),
        }
    )


async def sb_bid(request: web.Request) -> web.Response:
    world = world_of(request)
    body = await json_body(request)
    item = world.item_by_auction(str(body.get("auction_id", "")))
    if item is None or item.auction_id != body.get("auction_id"):
        return bad("no such running auction", 404)
    price = body.get("price")
    try:
        world.place_bid(
            item,
            str(body.get("bidder") or "bidder_test"),
            int(price) if price is not None else None,
        )
    except (ValueError, TypeError) as exc:
        return bad(str(exc), 409)
    return web.json_response(item_json(item), dumps=json_dumps)


async def sb_end(request: web.Request) -> web.Response:
    """End one auction now, as if its end time had come (a winner if it has bids)."""
    world = world_of(request)
    body = await json_body(request)
    item = world.item_by_auction(str(body.get("auction_id", "")))
    if item is None or item.status != ITEM_SELLING or item.auction_id != body.get("auction_id"):
        return bad("no such running auction", 404)
    order = world.close(item, world.clock)
    return web.json_response(
        {"item": item_json(item), "order": order.as_dict() if order else None}, dumps=json_dumps
    )


def start_items(world: World, items: list[Item | int]) -> dict[str, list[dict[str, Any]]]:
    """Start registered items (出品開始): each gets a running auction with a new auction id.
    `items` holds items, or ids that were not found."""
    started: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, Item):
            errors.append(
                {"itemId": item, "businessCommodityId": "", "message": "商品が見つかりません"}
            )
            continue
        problem = world.start_item(item)
        if problem:
            errors.append(
                {
                    "itemId": item.item_id,
                    "businessCommodityId": item.management_number,
                    "message": problem,
                }  # fmt: skip
            )
        else:
            log.info("started: %s -> %s", item.management_number, item.auction_id)
            started.append(
                {
                    "itemId": item.item_id,
                    "businessCommodityId": item.management_number,
                    "auctionId": item.auction_id,
                }  # fmt: skip
            )
    return {"started": started, "errors": errors}


async def sb_start(request: web.Request) -> web.Response:
    """Start registered items by id or by 管理番号 (every registered item with that number)."""
    world = world_of(request)
    body = await json_body(request)
    ids, numbers = body.get("item_ids") or [], body.get("management_numbers") or []
    if not isinstance(ids, list) or not isinstance(numbers, list) or not (ids or numbers):
        return bad("give item_ids or management_numbers (lists)")
    chosen: list[Item | int] = []
    for raw in ids:
        try:
            chosen.append(world.items.get(int(raw)) or int(raw))
        except (TypeError, ValueError):
            return bad("item_ids must be integers")
    wanted = {str(n) for n in numbers}
    chosen += [
        i for i in world.items.values()
        if i.management_number in wanted and i.status == ITEM_REGISTERED
    ]  # fmt: skip
    return web.json_response(start_items(world, chosen), dumps=json_dumps)


# --- persistence --------------------------------------------------------------------------------------
async def write_state(app: web.Application) -> None:
    """Snapshot on the loop, write in a thread; one write at a time, so an older snapshot can
    never land after a newer one."""
    path = app[STATE_FILE]
    assert path is not None
    async with app[WRITE_LOCK]:
        snapshot = app[WORLD].to_json()
        await asyncio.get_running_loop().run_in_executor(None, write_json_atomic, path, snapshot)


async def saver(app: web.Application) -> None:
    """Writes the state file shortly after changes (atomic replace), off the event loop."""
    world = app[WORLD]
    saved = world.version
    pause = 0.3
    while True:
        await asyncio.sleep(pause)
        if world.version != saved:
            saved = world.version
            started = time.monotonic()
            # shielded: a shutdown waits for this write instead of racing it
            await asyncio.shield(write_state(app))
            # a big world takes a while to write: leave the loop alone at least twice as long
            pause = max(0.3, 2 * (time.monotonic() - started))


async def on_startup(app: web.Application) -> None:
    if app[STATE_FILE] is not None:
        app[SAVER] = asyncio.create_task(saver(app))


async def on_cleanup(app: web.Application) -> None:
    if SAVER in app:
        app[SAVER].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app[SAVER]
    if app[STATE_FILE] is not None:
        await write_state(app)  # takes the lock: waits for a write still under way


# --- the app ----------------------------------------------------------------------------------------
def create_app(
    *, state_file: Path | None = None, seed: bool = True, world: str = "classic"
) -> web.Application:
    """The sandbox. With `state_file` the world is loaded from it when it exists and saved to it;
    `seed` fills a new world with the deterministic demo store. `world` chooses the pages:
    "classic" or "next" (docs/yahoo-sandbox.md); the state behind them is the same."""
    if world not in FLAVORS:
        raise ValueError(f"world must be one of {sorted(FLAVORS)}")
    app = web.Application(
        middlewares=[loopback_guard, faults_middleware], client_max_size=512 * 1024 * 1024
    )
    if state_file is not None and state_file.exists():
        state = World.load(state_file)
        state.name = world
    else:
        state = World(name=world)
        if seed:
            state.seed_demo()
    app[WORLD] = state
    app[FLAVOR] = FLAVORS[world]
    app[STATE_FILE] = state_file
    app[DRAFTS] = {}
    app[WRITE_LOCK] = asyncio.Lock()
    app[SUBMIT_GATE] = asyncio.Event()
    app[SUBMIT_GATE].set()
    app[HELD_SUBMITS] = set()
    app[READS] = collections.Counter()
    loader: jinja2.BaseLoader = jinja2.FileSystemLoader(str(TEMPLATES))
    if world == "next":
        # a template of the same name under templates/next/ replaces the classic one, which
        # stays reachable as "classic/<name>" for templates that extend it
        loader = jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(str(TEMPLATES / "next")),
                loader,
                jinja2.PrefixLoader({"classic": loader}),
            ]
        )
    env = aiohttp_jinja2.setup(
        app,
        loader=loader,
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["yen"] = yen
    env.filters["jst"] = fmt_jst
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False}  # tojson keeps Japanese readable
    sid = "{store_id}"
    r = app.router
    # pages both worlds share
    r.add_get("/", root)
    r.add_get("/config/login", login_get)
    r.add_post("/config/login", login_post)
    r.add_get("/config/captcha", captcha_png)
    r.add_get("/config/logout", logout)
    r.add_route("*", app[FLAVOR].sms_path, sms_verify)
    r.add_route("*", app[FLAVOR].business_path, bizmgr_login)
    r.add_get(f"/pro.{sid}", store_top)
    r.add_get(f"/pro.{sid}/order/manage/index", orders_list)
    r.add_get(f"/pro.{sid}/order/manage/detail/{{order_id}}", order_detail)
    r.add_post(f"/pro.{sid}/order/manage/detail/{{order_id}}/{{action}}", order_action)
    r.add_get("/serinavi", serinavi_top)
    r.add_get("/serinavi/upload", upload_get)
    r.add_post("/serinavi/items/end", item_end)
    r.add_get("/jp/auction/{auction_id}", auction_page)
    if world == "next":
        from sandbox.yahoo.next import pages as next_pages

        next_pages.add_routes(app)
    else:
        r.add_post("/serinavi/upload", upload_post)
        r.add_route("*", "/serinavi/items/create", item_form)
        r.add_get("/serinavi/items/complete", item_complete)
        r.add_get("/serinavi/items", items_list)
        r.add_get("/serinavi/selling", selling_list)
        r.add_get("/serinavi/sold-list", sold_list)
    r.add_get("/_sandbox/state", sb_state)
    r.add_post("/_sandbox/advance", sb_advance)
    r.add_post("/_sandbox/orders/{order_id}/status", sb_order_status)
    r.add_post("/_sandbox/bulk", sb_bulk)
    r.add_post("/_sandbox/faults", sb_faults)
    r.add_post("/_sandbox/bid", sb_bid)
    r.add_post("/_sandbox/end", sb_end)
    r.add_post("/_sandbox/start", sb_start)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def demo_account(app: web.Application) -> dict[str, str]:
    """The seeded store's login, for the demo and the tests."""
    a = app[WORLD].account
    return {
        "yahoo_id": a.yahoo_id,
        "password": a.password,
        "business_id": a.business_id,
        "business_password": a.business_password,
        "store_id": a.store_id,
    }
