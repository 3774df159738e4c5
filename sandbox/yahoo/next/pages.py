"""World next's own handlers: the business-manager chooser and the Yahoo ID check, the list page
shells and the JSON they load, the upload API (rows are only registered), 出品開始, and the item form
that lists without a confirm page. Everything else is classic's handlers with next's templates."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.yahoo.app import (
    DRAFTS,
    FLAVOR,
    ITEM_SORTS,
    Item,
    build_of,
    checked_form,
    class_namer,
    complete_submit,
    current_session,
    default_form_values,
    edit_url,
    flavor_of,
    folder_items,
    form_context,
    item_edit,
    json_dumps,
    keep_draft,
    layout_changed,
    log,
    page_of,
    paginate,
    parse_upload_form,
    render,
    require_login,
    row_images,
    safe_done,
    selling_items,
    sold_items,
    start_items,
    take_comm_error,
    world_of,
    yid_login_url,
)
from sandbox.yahoo.world import (
    ITEM_STATUS_LABELS,
    ITEMS_PAGE_SIZE,
    SELLING_PAGE_SIZE,
    SOLD_PAGE_SIZE,
    fmt_jst,
)

UPLOADS: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("uploads", dict)
MAX_UPLOADS = 200  # upload results kept for polling; the oldest go first
UNKNOWN_ID = "このIDは登録されていません。入力内容をご確認ください。"


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=json_dumps)


# --- login: the chooser and the Yahoo ID check ------------------------------------------------------
async def chooser(request: web.Request) -> web.StreamResponse:
    """/yidlogin: the business manager's way in; staff pick 「Yahoo! JAPAN IDでログイン」."""
    done = safe_done(request, request.query.get(".done"))
    s = current_session(request)
    if s is not None and s.stage == "full":
        raise web.HTTPFound(done)
    ctx = {
        "yid_url": yid_login_url(done),
        "biz_url": flavor_of(request).business_url(done),
    }
    return render(request, "yidlogin.html", ctx)


async def login_check(request: web.Request) -> web.Response:
    """「次へ」's XHR: does the ID exist, and must the captcha be answered with the password?"""
    world = world_of(request)
    form = await request.post()
    handle = str(form.get("handle") or "").strip()
    if handle != world.account.yahoo_id:
        return json_response({"exists": False, "captcha": False, "message": UNKNOWN_ID})
    captcha = world.captcha_required(handle)
    if captcha:
        world.new_captcha(handle)
    return json_response({"exists": True, "captcha": captcha, "message": ""})


def require_api_login(request: web.Request) -> None:
    """The JSON endpoints answer 401 with where to log in (back to the page that asked)."""
    s = current_session(request)
    if s is not None and s.stage == "full":
        return
    done = safe_done(request, request.headers.get("Referer", ""))
    if done.startswith("/"):
        done = str(request.url.origin()) + done
    body = json_dumps({"error": "LOGIN_REQUIRED", "loginUrl": request.app[FLAVOR].entry_url(done)})
    raise web.HTTPUnauthorized(text=body, content_type="application/json")


# --- lists: page shells and their JSON --------------------------------------------------------------
@dataclass(frozen=True)
class ListKind:
    kind: str
    title: str
    api: str
    empty: str
    sorts: tuple[tuple[str, str], ...]  # (sortCondition, label); the first is the default


LIST_KINDS: dict[str, ListKind] = {
    "items": ListKind(
        "items",
        "商品管理",
        "/serinavi/api/items",
        "該当する商品はありません。",
        (
            ("-update_date", "更新日時の新しい順"),
            ("update_date", "更新日時の古い順"),
            ("-create_date", "登録日時の新しい順"),
            ("create_date", "登録日時の古い順"),
        ),
    ),  # fmt: skip
    "selling": ListKind(
        "selling",
        "出品中",
        "/serinavi/api/selling",
        "出品中の商品はありません。",
        (("end_time", "終了日時の近い順"), ("-end_time", "終了日時の遠い順")),
    ),
    "sold": ListKind(
        "sold",
        "落札分",
        "/serinavi/api/sold",
        "落札された商品はありません。",
        (("-end_time", "落札日時の新しい順"), ("end_time", "落札日時の古い順")),
    ),
}
# roles of the generated class names the rendered lists carry
LIST_ROLES = ("page", "title", "notice", "error", "tools", "folders", "search", "input", "button",
              "startButton", "sort", "pager", "pagerList", "pagerCell", "count", "list", "row",
              "cell", "checkbox", "mn", "itemTitle", "price", "link", "empty")  # fmt: skip
NOTICES = {"listed": "出品しました"}


def sort_condition(request: web.Request, kind: ListKind) -> str:
    wanted = request.query.get("sortCondition") or request.query.get("sort") or ""
    allowed = [code for code, _label in kind.sorts]
    return wanted if wanted in allowed else allowed[0]


def list_shell(kind: ListKind) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        require_login(request)
        world = world_of(request)
        gen = class_namer(build_of(request))
        cfg = {
            "kind": kind.kind,
            "title": kind.title,
            "api": kind.api,
            "empty": kind.empty,
            "sorts": kind.sorts,
            "delay": int(world.faults.get("list_delay_ms") or 0),
            "notice": NOTICES.get(request.query.get("notice", ""), ""),
            "checkbox": "itemSelectCheckbox" if layout_changed(world) else "itemCheckbox",
            "cls": {role: gen(role) for role in LIST_ROLES},
        }
        return render(request, "list_shell.html", {"cfg": cfg})

    return handler


def page_json(p: dict[str, Any], size: int, sort: str) -> dict[str, Any]:
    return {
        "page": p["page"],
        "pageSize": size,
        "totalCount": p["total"],
        "startIndex": p["start_no"],
        "endIndex": p["end_no"],
        "hasPrev": p["has_prev"],
        "hasNext": p["has_next"],
        "sortCondition": sort,
    }


async def api_items(request: web.Request) -> web.Response:
    require_api_login(request)
    world = world_of(request)
    kind = LIST_KINDS["items"]
    sort = sort_condition(request, kind)
    assert sort in ITEM_SORTS
    folder = request.query.get("folder_id", "")
    keyword = request.query.get("keyword", "").strip()
    p = paginate(folder_items(world, folder, keyword, sort), page_of(request), ITEMS_PAGE_SIZE)
    items = [
        {
            "itemId": i.item_id,
            "folderId": i.folder_id,
            "businessCommodityId": i.management_number,
            "title": i.title,
            "status": i.status,
            "statusLabel": ITEM_STATUS_LABELS[i.status],
            "auctionId": i.auction_id,
            "startPrice": i.start_price,
            "currentPrice": i.current_price,
            "bidCount": i.bids,
            "updateDate": fmt_jst(i.updated_at),
            "editUrl": edit_url(i),
        }
        for i in p["rows"]
    ]
    return json_response(
        page_json(p, ITEMS_PAGE_SIZE, sort)
        | {
            "folderId": folder if folder.isdigit() else "",
            "keyword": keyword,
            "folders": [{"folderId": k, "folderName": v} for k, v in world.folders.items()],
            "items": items,
        }
    )


async def api_selling(request: web.Request) -> web.Response:
    require_api_login(request)
    sort = sort_condition(request, LIST_KINDS["selling"])
    rows = selling_items(world_of(request), newest_end_first=sort == "-end_time")
    p = paginate(rows, page_of(request), SELLING_PAGE_SIZE)
    items = [
        {
            "itemId": i.item_id,
            "businessCommodityId": i.management_number,
            "title": i.title,
            "auctionId": i.auction_id,
            "currentPrice": i.current_price,
            "bidCount": i.bids,
            "watchCount": i.watchers,
            "endDate": fmt_jst(i.end_time),
            "editUrl": edit_url(i),
        }
        for i in p["rows"]
    ]
    return json_response(page_json(p, SELLING_PAGE_SIZE, sort) | {"items": items})


async def api_sold(request: web.Request) -> web.Response:
    require_api_login(request)
    sort = sort_condition(request, LIST_KINDS["sold"])
    rows = sold_items(world_of(request), oldest_first=sort == "end_time")
    p = paginate(rows, page_of(request), SOLD_PAGE_SIZE)
    items = [
        {
            "itemId": i.item_id,
            "businessCommodityId": i.management_number,
            "title": i.title,
            "auctionId": i.auction_id,
            "winningPrice": i.sold_price or i.current_price,
            "endDate": fmt_jst(i.closed_at),
            "winnerId": i.winner,
            "editUrl": edit_url(i),
        }
        for i in p["rows"]
    ]
    return json_response(page_json(p, SOLD_PAGE_SIZE, sort) | {"items": items})


# --- 出品開始 ----------------------------------------------------------------------------------------
async def api_start(request: web.Request) -> web.Response:
    require_api_login(request)
    world = world_of(request)
    try:
        body = await request.json()
    except ValueError:
        return json_response({"error": "BAD_REQUEST", "message": "JSONで送ってください"}, 400)
    ids = body.get("itemIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(type(x) is int for x in ids):
        return json_response(
            {"error": "BAD_REQUEST", "message": "出品開始する商品を選択してください。"}, 400
        )
    chosen: list[Item | int] = [world.items.get(x) or x for x in ids]
    return json_response(start_items(world, chosen))


# --- 一括アップロード: XHR, rows registered in their folders ----------------------------------------------
async def api_upload(request: web.Request) -> web.Response:
    require_api_login(request)
    world = world_of(request)
    result = await parse_upload_form(request)
    registered: list[dict[str, Any]] = []
    for row in result.rows:
        item = world.register_item(row.values, row_images(row), "upload")
        registered.append(
            {
                "row": row.row,
                "businessCommodityId": item.management_number,
                "itemId": item.item_id,
                "folderId": item.folder_id,
                "folderName": world.folders[item.folder_id],
            }
        )
    log.info(
        "upload (next): %d rows registered, %d errors, file_error=%s",
        len(registered),
        len(result.errors),
        result.file_error,
    )
    uploads = request.app[UPLOADS]
    upload_id = secrets.token_hex(8)
    uploads[upload_id] = {
        "polls": 0,
        "result": {
            "status": "done",
            "fileError": result.file_error,
            "registered": registered,
            "errors": [
                {
                    "row": e.row,
                    "column": e.column,
                    "columnName": e.column_name,
                    "businessCommodityId": e.management_number,
                    "message": e.message,
                }
                for e in result.errors
            ],
        },
    }
    while len(uploads) > MAX_UPLOADS:
        del uploads[next(iter(uploads))]
    if registered and take_comm_error(world):
        return json_response({"error": "COMMUNICATION_ERROR"}, 502)
    return json_response({"uploadId": upload_id}, 202)


async def api_upload_status(request: web.Request) -> web.Response:
    require_api_login(request)
    entry = request.app[UPLOADS].get(request.query.get("uploadId", ""))
    if entry is None:
        return json_response({"error": "NOT_FOUND"}, 404)
    entry["polls"] += 1
    if entry["polls"] == 1:  # the first answer is always "still at work", as a queue would say
        return json_response({"status": "processing"})
    return json_response(entry["result"])


# --- item form: lists at once, no confirm page --------------------------------------------------------
async def item_form(request: web.Request) -> web.StreamResponse:
    require_login(request)
    world = world_of(request)
    fl = flavor_of(request)
    action = request.query.get("action", "create")
    if action == "edit":
        return await item_edit(request, world)
    if action != "create":
        raise web.HTTPBadRequest(text="action が正しくありません")
    folder_id = request.query.get("folder_id", "") or "1"
    drafts = request.app[DRAFTS]
    if request.method == "GET":
        # the form carries a one-time draft id: posting the same form twice lists once
        draft_id = keep_draft(request, "", {"images": []})
        ctx = form_context(
            fl,
            world,
            mode="create",
            values=default_form_values(),
            images=[],
            folder_id=folder_id,
            draft_id=draft_id,
        )
        return render(request, "item_form.html", ctx)
    form = await request.post()
    draft_id = str(form.get("draft_id") or "")
    draft = drafts.get(draft_id) if draft_id else None
    if draft_id and draft is None:
        return render(
            request,
            "error.html",
            {
                "title": "エラー",
                "message": "入力内容の有効期限が切れました。もう一度入力してください。",
            },
            status=400,
        )
    existing = draft["images"] if draft else []
    values, images, errors, other = await checked_form(
        request, form, default_form_values(), existing
    )
    if errors or other:
        draft_id = keep_draft(request, draft_id, {"images": images})
        ctx = form_context(
            fl,
            world,
            mode="create",
            values=values,
            images=images,
            folder_id=folder_id,
            errors=errors,
            other_errors=other,
            draft_id=draft_id,
        )
        return render(request, "item_form.html", ctx)
    drafts.pop(draft_id, None)
    fid = int(folder_id) if folder_id.isdigit() else 1
    item = await complete_submit(
        request, lambda: world.create_item(values, images, "form", folder_id=fid)
    )
    log.info("form listing (next): %s -> %s", item.management_number, item.auction_id)
    raise web.HTTPSeeOther(
        f"/serinavi/items?folder_id={item.folder_id}&sort=-update_date&page=1&notice=listed"
    )


def add_routes(app: web.Application) -> None:
    app[UPLOADS] = {}
    r = app.router
    r.add_get("/yidlogin", chooser)
    r.add_post("/config/login/check", login_check)
    r.add_get("/serinavi/items", list_shell(LIST_KINDS["items"]))
    r.add_get("/serinavi/sellings", list_shell(LIST_KINDS["selling"]))
    r.add_get("/serinavi/sold-list", list_shell(LIST_KINDS["sold"]))
    r.add_get("/serinavi/api/items", api_items)
    r.add_get("/serinavi/api/selling", api_selling)
    r.add_get("/serinavi/api/sold", api_sold)
    r.add_post("/serinavi/api/items/start", api_start)
    r.add_post("/serinavi/api/upload", api_upload)
    r.add_get("/serinavi/api/upload/status", api_upload_status)
    r.add_route("*", "/serinavi/items/create", item_form)
