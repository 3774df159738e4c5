"""Reading numbers and JSON from requests: the one place that bounds what a client may send.

Every JSON body is parsed here (by `inputs_middleware`, before any handler), with each integer
bounded to 64 bits: a 5,000-digit number is a 400, not a traceback. Path parameters named in
`ID_PARAMS` are checked here too, against `MAX_ID` (a 32-bit id column on SQLite and PostgreSQL
alike). Handlers take their values through `read_json`, `path_id`, `id_list` and `bounded_int`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")

MAX_ID = 2**31 - 1  # the id columns are 32-bit integers (PostgreSQL's `integer`)
MAX_JSON_INT = 2**63 - 1  # any integer in a JSON body; ranges per field are narrower
# Path parameters that are database ids; every other path parameter is a string.
ID_PARAMS: frozenset[str] = frozenset({"batch_id", "pairing_id", "confirmation_id"})
_JSON_KEY = web.RequestKey("json_body", object)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _bad_request(code: str, ja: str, en: str, field: str | None = None) -> web.HTTPBadRequest:
    error: dict[str, Any] = {"code": code, "message": ja, "message_en": en}
    if field is not None:
        error["fields"] = {field: ja}
        error["fields_en"] = {field: en}
    return web.HTTPBadRequest(text=json.dumps({"error": error}), content_type="application/json")


class _NumberTooLarge(ValueError):
    pass


def _bounded_json_int(text: str) -> int:
    # Checked before int(): Python refuses (ValueError) beyond 4,300 digits, slowly.
    if len(text.lstrip("-")) > len(str(MAX_JSON_INT)):
        raise _NumberTooLarge(text[:20])
    value = int(text)
    if not -MAX_JSON_INT <= value <= MAX_JSON_INT:
        raise _NumberTooLarge(text[:20])
    return value


def parse_json(raw: bytes) -> Any:
    """The body as JSON with bounded integers, or an HTTPBadRequest that says what is wrong."""
    try:
        return json.loads(raw.decode("utf-8"), parse_int=_bounded_json_int)
    except _NumberTooLarge:
        raise _bad_request(
            "NUMBER_OUT_OF_RANGE",
            "数値が大きすぎます（19桁まで）",
            "a number in the body is out of range (64-bit integers only)",
        ) from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        # ValueError covers JSONDecodeError; RecursionError: "[[[[…" nested beyond the stack
        raise _bad_request(
            "BAD_JSON", "リクエストの形式が正しくありません（JSON）", "body is not valid JSON"
        ) from None


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (parsed once, by the middleware); None when there is no body."""
    if _JSON_KEY not in request:
        request[_JSON_KEY] = parse_json(await request.read()) if request.body_exists else None
    return request[_JSON_KEY]


def as_int(value: Any, hi: int = MAX_ID) -> int | None:
    """A JSON number or a string of ASCII digits as an int (never a bool); None otherwise. Digits
    beyond `hi`'s length count as `hi + 1` without being converted (no slow 5,000-digit int())."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        if digits.isascii() and digits.isdigit():
            return int(sign + digits) if len(digits) <= len(str(abs(hi))) + 1 else hi + 1
    return None


def int_in_range(value: Any, lo: int = 1, hi: int = MAX_ID) -> int | None:
    """`value` (see `as_int`) when it is an int in [lo, hi], else None: for the command line."""
    number = as_int(value, hi)
    return number if number is not None and lo <= number <= hi else None


def bounded_int(value: Any, field: str, *, lo: int = 1, hi: int = MAX_ID) -> int:
    """`value` as an int in [lo, hi] (a JSON number or a string of digits), else a 400 naming
    the field."""
    number = as_int(value, hi)
    if number is None:
        raise _bad_request(
            "VALIDATION_FAILED",
            f"{field} は整数で指定してください",
            f"{field} must be an integer",
            field,
        )
    if not lo <= number <= hi:
        raise _bad_request(
            "VALIDATION_FAILED",
            f"{field} は {lo}〜{hi} の整数で指定してください",
            f"{field} must be between {lo} and {hi}",
            field,
        )
    return number


def id_list(value: Any, field: str, *, max_items: int = 10_000) -> list[int]:
    """A JSON array of ids, each in [1, MAX_ID]."""
    if not isinstance(value, list) or len(value) > max_items:
        raise _bad_request(
            "VALIDATION_FAILED",
            f"{field} は整数の配列で指定してください（{max_items}件まで）",
            f"{field} must be an array of at most {max_items} integers",
            field,
        )
    return [bounded_int(item, field) for item in value]


def path_id(request: web.Request, name: str) -> int:
    """A database id from the path (checked by the middleware; see `ID_PARAMS`)."""
    return bounded_int(request.match_info[name], name)


def query_int(request: web.Request, name: str, default: T, *, lo: int, hi: int) -> int | T:
    """A number from the query string in [lo, hi]; `default` when it is not given."""
    raw = request.query.get(name)
    return default if raw in (None, "") else bounded_int(raw, name, lo=lo, hi=hi)


@web.middleware
async def inputs_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Before any handler: id path parameters in range, JSON bodies parsed with bounded numbers."""
    for name in ID_PARAMS.intersection(request.match_info):
        path_id(request, name)
    if request.method in _BODY_METHODS:
        await read_json(request)
    return await handler(request)
