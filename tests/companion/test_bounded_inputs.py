"""Out-of-range numbers anywhere a client can put them: a 400 that says so, never a 500, and no
traceback in the log (nothing a stranger sends may write one)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from companion.inputs import ID_PARAMS, MAX_ID

HUGE = "9" * 5000
BIG_ID = "9" * 20
# bodies no handler may choke on: a 5,000-digit integer, 2**70, deep nesting
UNREADABLE_BODIES: tuple[bytes, ...] = (
    b'{"code": ' + HUGE.encode() + b"}",
    b'{"source": "pending", "listing_ids": [' + str(2**70).encode() + b"]}",
    b"[" * 50_000 + b"]" * 50_000,
    b'{"x": -' + HUGE.encode() + b"}",
)
# well-formed JSON, but ids and settings out of their range: the routes that read numbers
OUT_OF_RANGE: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/batches"): {"source": "pending", "listing_ids": [MAX_ID + 1]},
    ("POST", "/api/v1/direct-listing"): {"source": "pending", "listing_ids": [2**62]},
    ("PUT", "/api/v1/settings"): {"ec_account_id": 2**62},
}


def _routes(app: Any) -> list[tuple[str, str, list[str]]]:
    """(method, path template, its parameter names) for every API route of the app."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("formatter") or info.get("path")
        if not template or not template.startswith("/api/v1") or route.method == "HEAD":
            continue
        found.append((route.method, template, re.findall(r"{(\w+)}", template)))
    return found


def _fill(template: str, value: str) -> str:
    return re.sub(r"{\w+}", value, template)


@pytest.fixture
async def walked(companion, auth, caplog) -> Any:
    caplog.set_level(logging.DEBUG)
    routes = _routes(companion.app)
    assert ("GET", "/api/v1/batches/{batch_id}/zip", ["batch_id"]) in routes  # all features
    return companion, auth, routes, caplog


async def _send(client: Any, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    resp = await client.request(method, path, **kwargs)
    text = await resp.text()
    assert resp.status < 500, (method, path, resp.status, text[:300])
    return resp.status, text


async def test_every_route_refuses_out_of_range_ids_in_its_path(walked) -> None:
    companion, auth, routes, _caplog = walked
    for method, template, params in routes:
        for name in params:
            for value in (BIG_ID, HUGE, "0", "-1", str(MAX_ID + 1)):
                status, text = await _send(
                    companion, method, _fill(template, value), headers=auth, json={}
                )
                if name in ID_PARAMS:
                    assert status == 400, (method, template, value, text[:200])
                    assert name in text
                else:  # a string id (a job id): simply not found
                    assert status in (400, 404), (method, template, value)


async def test_every_route_refuses_unreadable_numbers_in_its_body(walked) -> None:
    companion, auth, routes, _caplog = walked
    json_type = {"Content-Type": "application/json"}
    for method, template, _params in routes:
        if method not in ("POST", "PUT", "DELETE"):
            continue
        path = _fill(template, "1")
        for body in UNREADABLE_BODIES:
            status, text = await _send(
                companion, method, path, data=body, headers={**auth, **json_type}
            )
            assert status == 400, (method, template, body[:40], text[:200])
            assert '"message"' in text  # in Japanese for staff, like every error
    # the unauthenticated routes too: what a stranger sends is a 400 as well
    for path in ("/api/v1/pair", "/api/v1/prove"):
        for body in UNREADABLE_BODIES:
            status, _ = await _send(companion, "POST", path, data=body, headers=json_type)
            assert status == 400, (path, body[:40])


async def test_numbers_out_of_their_fields_range_are_400_naming_the_field(walked) -> None:
    companion, auth, routes, _caplog = walked
    for (method, path), body in OUT_OF_RANGE.items():
        assert (method, path, []) in routes
        status, text = await _send(companion, method, path, json=body, headers=auth)
        assert status == 400, (method, path, text[:300])
        field = next(iter(k for k in body if k != "source"))
        assert field in text
    status, _ = await _send(companion, "GET", f"/api/v1/jobs?limit={BIG_ID}", headers=auth)
    assert status == 400


async def test_nothing_above_wrote_a_traceback(walked) -> None:
    companion, auth, routes, caplog = walked
    # one pass of everything above, then read the log
    await test_every_route_refuses_out_of_range_ids_in_its_path(walked)
    await test_every_route_refuses_unreadable_numbers_in_its_body(walked)
    await test_numbers_out_of_their_fields_range_are_400_naming_the_field(walked)
    assert not [r for r in caplog.records if r.exc_info], caplog.text[-2000:]
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
