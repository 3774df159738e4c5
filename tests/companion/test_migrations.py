"""The Alembic revisions build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from companion.db import sqlite_url, sync_url, upgrade
from companion.db.models import Base


def test_models_match_the_migrations(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "schema.sqlite3")
    upgrade(url)
    engine = create_engine(sync_url(url))
    with engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    # a model change without its revision shows up here: write one in companion/db/migrations
    assert diff == []
