"""The co-api tables staff (or the IT person) correct without a release: task type aliases and the
spelling of ReCORE's order statuses. Validated whole; nothing stored when one row is wrong."""

from __future__ import annotations

import pytest

from companion.db import Database, sqlite_url
from companion.domain import OrderStatus
from companion.listing.rules import RulesInvalid
from companion.tables import (
    DEFAULT_ORDER_STATUSES,
    TablesStore,
    validate_order_statuses,
    validate_task_types,
)


def test_task_type_aliases_map_to_a_type_the_connector_handles() -> None:
    assert validate_task_types({" END_LISTING ": "DELETE_INVENTORY"}) == {
        "END_LISTING": "DELETE_INVENTORY"
    }
    assert validate_task_types({"SHIP_ORDER": "SHIP_ORDER"}) == {}  # its own name needs none
    with pytest.raises(RulesInvalid) as caught:
        validate_task_types({"END_LISTING": "MAKE_COFFEE", "bad name!": "SHIP_ORDER"})
    assert set(caught.value.fields) == {"END_LISTING", "bad name!"}
    assert "処理を選んでください" in caught.value.fields["END_LISTING"][0]


def test_order_status_names_are_four_distinct_spellings() -> None:
    assert validate_order_statuses(DEFAULT_ORDER_STATUSES) == DEFAULT_ORDER_STATUSES
    with pytest.raises(RulesInvalid) as caught:
        validate_order_statuses({**DEFAULT_ORDER_STATUSES, "未出荷": "ORDERED", "出荷済み": "出荷"})
    assert set(caught.value.fields) == {"未出荷", "出荷済み"}


async def test_a_wrong_table_stores_nothing_and_listeners_hear_only_changes(tmp_path) -> None:
    db = Database(sqlite_url(tmp_path / "t.sqlite3"))
    await db.migrate()
    store = TablesStore(db)
    heard: list[str] = []

    async def listener(name: str) -> None:
        heard.append(name)

    store.on_change(listener)
    names = await store.order_status_names()
    assert names[OrderStatus.PENDING] == "ORDERED"
    with pytest.raises(RulesInvalid):
        await store.put("order_statuses", {**DEFAULT_ORDER_STATUSES, "保留中": ""})
    assert await store.saved() == set() and heard == []
    await store.put("order_statuses", {**DEFAULT_ORDER_STATUSES, "保留中": "PENDING"})
    await store.put("order_statuses", {**DEFAULT_ORDER_STATUSES, "保留中": "PENDING"})
    assert heard == ["order_statuses"]  # the same table again is no change
    assert (await store.order_status_names())[OrderStatus.PENDING] == "PENDING"
    await db.close()
