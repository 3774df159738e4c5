"""The Alembic revisions build exactly the schema the models describe, on an empty SQLite file or
PostgreSQL database, and bring a database of the previous revision up to date with its rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from companion.db import alembic_config, sqlite_url, sync_url, upgrade
from companion.db.models import Base

PREVIOUS = "0001"


@pytest.fixture
def empty_database(database: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, of the kind the test runs on."""
    if database.startswith("sqlite"):
        yield sqlite_url(tmp_path / "schema.sqlite3")
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database(empty=True)
    yield server.url(name)
    server.drop_database(name)


def schema_diff(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()


def test_models_match_the_migrations(empty_database: str) -> None:
    upgrade(empty_database)
    # a model change without its revision shows up here: write one in companion/db/migrations
    assert schema_diff(empty_database) == []


def test_a_database_of_the_previous_revision_is_brought_up_to_date(empty_database: str) -> None:
    command.upgrade(alembic_config(empty_database), PREVIOUS)
    engine = create_engine(sync_url(empty_database))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO jobs (id, kind, state, params, progress_done, progress_total, "
                    "created_at, updated_at) VALUES ('old1', 'sync', 'succeeded', '{}', 1, 1, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        upgrade(empty_database)
        with engine.connect() as connection:
            row = connection.execute(text("SELECT kind, state, owner FROM jobs")).one()
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert tuple(row) == ("sync", "succeeded", None)  # kept, and run by nobody in particular
    assert version != PREVIOUS
    assert schema_diff(empty_database) == []
