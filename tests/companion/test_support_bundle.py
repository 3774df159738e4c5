"""The support bundle: versions, OS, browser, database revision, settings, /status and the logs'
tail in one zip; a scan of every file finds no secret and no buyer data."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from sqlalchemy import select

from companion.db.models import OrderSnapshot, OutboxMessage
from companion.keys import CONFIG, DB
from tests.conftest import pair_client

API_KEY = "rk-support-bundle-secret-7f3a9c"
PASSWORD = "yahoo-pass-never-in-a-bundle-42"
BUYER = {
    "buyer_name": "山田花子",
    "buyer_email": "hanako.yamada@example.jp",
    "buyer_phone": "090-1234-5678",
    "buyer_address": "東京都千代田区丸の内9-9-9",
}


async def _seed(companion) -> dict[str, str]:
    token = await pair_client(companion)
    auth = {"Authorization": f"Bearer {token}"}
    resp = await companion.put(
        "/api/v1/settings",
        json={"recore_api_key": API_KEY, "yahoo_password": PASSWORD, "yahoo_id": "shop"},
        headers=auth,
    )
    assert resp.status == 200, await resp.text()
    async with companion.app[DB].session() as s, s.begin():
        s.add(OrderSnapshot(mall_order_id="order-1", management_number="A-0001", data=BUYER))
        s.add(
            OutboxMessage(
                idempotency_key="k1",
                ordering_key="order-1",
                operation="order_upsert",
                target="order-1",
                body={"order": BUYER},
            )
        )
    async with companion.app[DB].session() as s:
        assert (await s.scalars(select(OrderSnapshot))).first() is not None
    # what a careless line in the log could hold: the buyer and a secret
    log_dir = companion.app[CONFIG].log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "companion.log").write_text(
        "INFO sync: order order-1 for hanako.yamada@example.jp tel 090-1234-5678\n"
        f"WARNING recore: refused with key {API_KEY}\n"
        "INFO companion on http://127.0.0.1:8765\n",
        encoding="utf-8",
    )
    return auth


def _texts(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        return {name: bundle.read(name).decode("utf-8") for name in bundle.namelist()}


async def test_the_bundle_holds_what_support_needs_and_nothing_secret(companion) -> None:
    auth = await _seed(companion)
    resp = await companion.get("/api/v1/support-bundle", headers=auth)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/zip"
    assert "recore-support-" in resp.headers["Content-Disposition"]
    files = _texts(await resp.read())
    assert set(files) == {"about.json", "settings.json", "status.json", "logs/companion.log"}
    about = json.loads(files["about.json"])
    assert about["version"] and about["python"] and about["os"]
    assert about["playwright"]  # installed with the companion
    assert about["database"]["kind"].split("+")[0] in ("sqlite", "postgresql")
    assert about["database"]["revision"]
    assert set(about["browser"]) == {"path", "version"}
    settings = json.loads(files["settings.json"])
    assert settings["recore_api_key"] == {"set": True} and settings["yahoo_id"] == "shop"
    status = json.loads(files["status.json"])
    assert status["outbox"]["pending"] == 1  # the outbox counted, its body not copied
    assert "companion on http://127.0.0.1:8765" in files["logs/companion.log"]
    everything = "\n".join(files.values())
    for secret in (API_KEY, PASSWORD, *BUYER.values()):
        assert secret not in everything, secret


async def test_the_bundle_needs_the_token(companion) -> None:
    resp = await companion.get("/api/v1/support-bundle")
    assert resp.status == 401


def test_the_cli_writes_the_bundle(tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    done = subprocess.run(
        [sys.executable, "-m", "companion.cli", "support-bundle", "-o", str(out)]
        + ["--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"RECORE_CONNECTOR_NO_KEYRING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    files = _texts(out.read_bytes())
    assert json.loads(files["about.json"])["database"]["revision"]


async def test_a_write_waiting_in_confirmation_mode_leaves_the_buyer_out(make_companion) -> None:
    from companion.confirmations import ORDER_UPSERT, WAIT
    from companion.keys import CONFIRMATIONS

    companion = await make_companion(confirm_first_writes=True)
    auth = await _seed(companion)
    held = await companion.app[CONFIRMATIONS].check(
        ORDER_UPSERT,
        "1",
        item="注文 order-1",
        target="ReCORE POST /ec/gateway/order/upsert",
        values={"order": BUYER},
    )
    assert held == WAIT
    resp = await companion.get("/api/v1/support-bundle", headers=auth)
    files = _texts(await resp.read())
    report = json.loads(files["status.json"])["confirmations"]
    assert report["waiting"] == 1
    assert report["items"][0]["fields"] == [f"order.{k}" for k in BUYER]
    everything = "\n".join(files.values())
    for secret in (API_KEY, PASSWORD, *BUYER.values()):
        assert secret not in everything, secret
