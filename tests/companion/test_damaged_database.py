"""A damaged database at start: the companion says what happened and what was kept, keeps
answering (no exit for a restart loop), never starts over silently, and the last copy comes back
with `recore-connector restore`. The companion runs as a real subprocess on real files."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from companion.db import sqlite_url, upgrade
from companion.db.sqlite import list_backups
from tests.companion_process import CompanionProcess, until
from tests.conftest import free_port

pytestmark = pytest.mark.slow

RESULTS = 4  # unsent results bound for ReCORE


def _add_unsent_results(database: Path) -> None:
    with sqlite3.connect(database) as db:
        for n in range(RESULTS):
            db.execute(
                "INSERT INTO outbox (idempotency_key, ordering_key, operation, target, body,"
                " state, attempts, next_attempt_at, created_at) VALUES"
                " (?, ?, 'order_upsert', ?, '{}', 'pending', 0, datetime('now'), datetime('now'))",
                (f"order-upsert:Y-{n}:a", f"order:Y-{n}", f"Y-{n}"),
            )


def _damage(database: Path, how: str) -> None:
    size = database.stat().st_size
    with database.open("r+b") as f:
        f.truncate(0 if how == "empty" else size // 2)


@pytest.mark.parametrize("how", ["truncated", "empty"])
async def test_a_damaged_database_is_said_kept_and_restored(how: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "companion"
    database = data_dir / "companion.sqlite3"
    comp = CompanionProcess(data_dir, free_port(), tmp_path / "companion.log")
    async with aiohttp.ClientSession() as http:

        async def api(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            async with http.request(
                method, f"{comp.base}/api/v1{path}", json=body, headers=auth
            ) as resp:
                return resp.status, await resp.json()

        comp.start()
        try:
            await comp.ready(http)
            auth = await comp.pair(http)
            code, _ = await api("PUT", "/settings", {"sync_interval_minutes": 30})
            assert code == 200
            _add_unsent_results(database)
            comp.stop()
            assert list_backups(data_dir / "backups", "daily"), "a copy is made at start"
            made = comp.cli("backup")
            assert made.returncode == 0, made.stderr

            _damage(database, how)
            comp.start()
            await comp.ready(http, status=503)  # it answers, it does not exit
            code, body = await api("GET", "/status")
            assert code == 503, body
            error = body["error"]
            assert error["code"] == "DATABASE_DAMAGED"
            what = "空（0バイト）" if how == "empty" else "壊れています"
            assert what in error["message"]
            assert "残してあります" in error["message"]
            assert "recore-connector restore" in error["message"]
            assert comp.proc is not None and comp.proc.poll() is None

            # other commands say the same and change nothing
            paired = comp.cli("pair")
            assert paired.returncode == 1 and "recore-connector restore" in paired.stderr

            restored = comp.cli("restore", "--yes")
            assert restored.returncode == 0, restored.stdout + restored.stderr
            assert "戻しました" in restored.stdout
            kept = list((data_dir / "backups").glob("replaced-*.sqlite3"))
            assert len(kept) == 1  # the damaged file, kept for a closer look

            # the same process starts over as the real companion, with everything back
            await comp.ready(http)
            code, settings = await api("GET", "/settings")
            assert code == 200, settings  # the old token still works
            assert settings["sync_interval_minutes"] == 30

            async def outbox_back() -> bool:
                code, status = await api("GET", "/status")
                return code == 200 and status["outbox"]["pending"] == RESULTS

            await until(outbox_back, 10)
        finally:
            comp.stop()


def test_a_copy_is_made_before_a_migration(tmp_path: Path) -> None:
    from alembic import command

    from companion.db import alembic_config

    url = sqlite_url(tmp_path / "companion.sqlite3")
    command.upgrade(alembic_config(url), "0001")  # a database of an older release
    assert list_backups(tmp_path / "backups") == []
    upgrade(url)
    copies = list_backups(tmp_path / "backups", "before-migration")
    assert len(copies) == 1
    with sqlite3.connect(copies[0]) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    upgrade(url)  # nothing to migrate: no new copy
    assert len(list_backups(tmp_path / "backups", "before-migration")) == 1
