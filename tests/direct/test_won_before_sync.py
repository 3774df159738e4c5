"""Listed directly, then won before any sync saw the auctions (a 即決, or a short auction): the
next sync ends both listings, paid or not, and the popup's 出品中 no longer counts them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from companion.db.models import ListingRecord
from companion.keys import DB
from tests.direct.conftest import WiredFactory

pytestmark = pytest.mark.browser


async def test_won_before_a_sync_ends_both_paid_or_not(make_wired: WiredFactory) -> None:
    wired = await make_wired(listings=2)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202, body
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    await wired.drain_outbox()
    auctions = [i["data"]["auction_id"] for i in job["items"]]
    assert (await wired.get("/api/v1/status"))["counts"]["listed"] == 2

    # both are won before the companion syncs; one buyer pays at once
    yahoo = wired.sb.yahoo_url
    for n, auction_id in enumerate(auctions):
        await wired.sb._post(f"{yahoo}/_sandbox/bid", {"auction_id": auction_id})
        ended = await wired.sb._post(f"{yahoo}/_sandbox/end", {"auction_id": auction_id})
        if n == 0:
            order_id = ended["order"]["order_id"]
            await wired.sb._post(
                f"{yahoo}/_sandbox/orders/{order_id}/status", {"store_status": "入金済み"}
            )

    for _ in range(2):  # and stays so, sync after sync
        status, sync = await wired.post("/api/v1/sync")
        assert status == 202, sync
        job = await wired.wait_job(sync["job_id"])
        assert job["state"] == "succeeded", job
        async with wired.client.app[DB].session() as s:
            records = (await s.scalars(select(ListingRecord))).all()
        assert {r.auction_id: r.state for r in records} == {a: "ended" for a in auctions}
        counts = (await wired.get("/api/v1/status"))["counts"]
        assert counts["listed"] == 0 and counts["ended"] == 2 and counts["bidding"] == 0

    await wired.drain_outbox()
    listings = {x["id"]: x for x in (await wired.sb.recore_state())["listings"]}
    assert all(listings[r.id]["status"] == "ENDED" for r in records)
