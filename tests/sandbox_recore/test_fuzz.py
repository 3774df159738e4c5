"""Bad input never crashes the sandbox: any JSON body or query is accepted or refused with
VALIDATE_FAILED, never a 500."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from sandbox.recore import protocol as p
from sandbox.recore.api import (
    _validate_failure,
    _validate_order,
    _validate_success,
    enum_list_param,
    int_list_param,
    paging_params,
    range_filters,
)
from sandbox.recore.seed import populate
from sandbox.recore.world import World

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
order_keys = st.sampled_from(
    [
        "ec_account_id",
        "mall_order_id",
        "status",
        "goods",
        "ordered_at",
        "payment_total",
        "buyer_name",
        "x",
    ]
)
order_bodies = st.dictionaries(
    order_keys, json_values | st.sampled_from([3, "A-1", "ORDERED"]), max_size=8
)


def _world() -> World:
    world = World()
    populate(world)
    return world


WORLD = _world()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order_bodies)
def test_order_upsert_validation_never_crashes(body: dict[str, Any]) -> None:
    try:
        fields, ignored = _validate_order(WORLD, body)
    except p.Invalid as exc:
        assert exc.detail and all(isinstance(m, list) and m for m in exc.detail.values())
        return
    order = WORLD.upsert_order(fields, ignored)
    assert order["status"] in p.ORDER_STATUSES


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["mall_product_code", "mall_url", "variants", "message", "detail"]),
        json_values,
    )
)
def test_report_validation_never_crashes(body: dict[str, Any]) -> None:
    task = next(iter(WORLD.tasks.values()))
    for check in (
        lambda d: _validate_success(WORLD, task, body, d),
        lambda d: _validate_failure(body, d),
    ):
        d = p.Detail()
        check(d)
        assert all(isinstance(k, str) for k in d.fields)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ids", "statuses", "limit", "page", "cursor", "created_at_from"]),
            st.text(max_size=12),
        ),
        max_size=6,
    )
)
def test_query_parsing_never_crashes(pairs: list[tuple[str, str]]) -> None:
    q = MultiDict(pairs)
    d = p.Detail()
    int_list_param(q, "ids", d)
    enum_list_param(q, "statuses", p.INVENTORY_STATUSES, d)
    range_filters(q, ("created_at",), d)
    paging = paging_params(q, d)
    assert 1 <= paging.limit <= p.PAGE_LIMIT_MAX and paging.page >= 1
