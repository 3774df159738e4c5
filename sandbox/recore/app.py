"""The ReCORE sandbox: a local stand-in for ReCORE's co-api EC gateway (see docs/recore-co-api.md).

    app = create_app(state_file=Path("recore.json"))
    web.run_app(app, host="127.0.0.1", port=8781)

Protocol under `/ec/…` (key in `X-Identification`), photos under `/images/…`, pages for a person
under `/ui/…`, JSON controls under `/_sandbox/…`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from sandbox.guard import loopback_guard

from . import api, controls, pages
from . import protocol as p
from .api import ApiError, endpoint_name
from .auth import RateLimiter, mint_jwt
from .images import ImageCache
from .keys import (
    COUNTERS_KEY,
    DEMO_KEY_KEY,
    FAULTS_KEY,
    IMAGES_KEY,
    INVENTORY_FORM_KEY,
    LIMITER_KEY,
    WORLD_KEY,
    Counters,
    Faults,
    InventoryForm,
)
from .seed import SEED_BASE_TIME, populate, populate_catalogue, seed_more, upgrade_v1
from .world import World, WorldError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

__all__ = [
    "WORLD_KEY",
    "create_app",
    "demo_credentials",
    "mint_key",
    "seed_more_listings",
]


def _fault(request: web.Request) -> ApiError | None:
    """The fault switches, checked before anything else on protocol requests."""
    f = request.app[FAULTS_KEY]
    remaining = f.down_until - time.monotonic()
    if remaining > 0:
        f.served["503"] += 1
        return ApiError(503, headers={"Retry-After": RateLimiter.retry_after_header(remaining)})
    if f.error_5xx > 0:
        f.error_5xx -= 1
        f.served["500"] += 1
        return ApiError(500)
    if f.rate_limit_storm > 0:
        f.rate_limit_storm -= 1
        f.served["429"] += 1
        return ApiError(429, headers={"Retry-After": "1"})
    return None


PROTOCOL_PREFIXES = ("/ec/", "/items", "/products")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Protocol and control routes answer errors in the co-api envelope, never as HTML."""
    path = request.path
    is_protocol = path.startswith(PROTOCOL_PREFIXES)
    if not is_protocol and not path.startswith("/_sandbox/"):
        return await handler(request)
    response: web.StreamResponse
    try:
        if is_protocol:
            faults = request.app[FAULTS_KEY]
            if faults.slow_ms:
                await asyncio.sleep(faults.slow_ms / 1000)
            fault = _fault(request)
            if fault is not None:
                raise fault
        response = await handler(request)
    except ApiError as exc:
        response = exc.response()
    except p.Invalid as exc:
        response = ApiError(400, p.VALIDATE_FAILED, detail=exc.detail).response()
    except WorldError as exc:
        code = "NOT_FOUND" if exc.status == 404 else "CONFLICT"
        response = ApiError(exc.status, code, exc.message).response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = exc.headers.get("Allow")
        response = ApiError(exc.status, headers={"Allow": allow} if allow else None).response()
    except Exception:
        log.exception("recore sandbox: unexpected error on %s %s", request.method, path)
        response = ApiError(500).response()
    if is_protocol:
        request.app[COUNTERS_KEY].count(endpoint_name(request), response.status)
    return response


def create_app(
    *,
    state_file: Path | None = None,
    seed: bool = True,
    rate_limit: int = p.RATE_LIMIT_PER_SECOND,
    inventories: str = "spec",
) -> web.Application:
    """The sandbox app. With `state_file`, the world is loaded from it (if present) and every
    change is written back atomically; without, it lives in memory. `seed` fills a new world
    with the demo stock (ignored when the state file already exists). `inventories` is the
    form of `GET /ec/inventories/{id}`: `spec` (only what ReCORE's spec shows) or `rich` (with
    the Yahoo fields, description and every photo: the connector's first assumption)."""
    if inventories not in p.INVENTORY_FORMS:
        raise ValueError(f"inventories must be one of {p.INVENTORY_FORMS}, not {inventories!r}")
    world = World(state_file)
    if not world.load(upgrade=upgrade_v1):
        populate_catalogue(world)
        if seed:
            populate(world)
        world.save()
    app = web.Application(middlewares=[loopback_guard, error_middleware])
    app[WORLD_KEY] = world
    app[FAULTS_KEY] = Faults()
    app[LIMITER_KEY] = RateLimiter(rate_limit)
    app[IMAGES_KEY] = ImageCache()
    app[COUNTERS_KEY] = Counters()
    app[INVENTORY_FORM_KEY] = InventoryForm(inventories)
    # Fixed iat: the demo key is the same string on every start, so a saved setting keeps working.
    app[DEMO_KEY_KEY] = mint_jwt(world.company_id, list(p.ALL_SCOPES), iat=SEED_BASE_TIME)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("sandbox.recore", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    env.filters["yen"] = _yen
    app.on_cleanup.append(_flush_state)
    api.add_routes(app)
    controls.add_routes(app)
    pages.add_routes(app)
    return app


def _yen(value: object) -> str:
    """`58000` → `58,000円`; anything else (bad data from a test) is shown as is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}円"
    return "" if value is None else str(value)


async def _flush_state(app: web.Application) -> None:
    app[WORLD_KEY].flush()


def demo_credentials(app: web.Application) -> dict[str, object]:
    """What the connector's settings need to talk to this sandbox (key with every scope)."""
    world = app[WORLD_KEY]
    return {
        "api_key": app[DEMO_KEY_KEY],
        "ec_account_id": world.ec_account_id,
        "store_id": None,
        "company_id": world.company_id,
    }


def mint_key(app: web.Application, scopes: list[str], store_id: int | None = None) -> str:
    """A key for this sandbox with only `scopes` (tests of 403 and of store handling)."""
    return mint_jwt(app[WORLD_KEY].company_id, scopes, store_id=store_id)


def seed_more_listings(
    app: web.Application, count: int, *, images_per_item: int = 3, image_kb: int = 40
) -> list[int]:
    """Add `count` valid listings with CREATE_INVENTORY tasks (benchmarks); returns their ids."""
    world = app[WORLD_KEY]
    ids = seed_more(world, count, images_per_item=images_per_item, image_kb=image_kb)
    world.save()
    return ids
