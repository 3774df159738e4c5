"""Alembic environment: run by `companion.db.upgrade`, never with an alembic.ini."""

from alembic import context
from sqlalchemy import create_engine, event, text

from companion.db.models import Base

config = context.config
url = config.attributes["sqlalchemy_url"]
engine = create_engine(url)
if engine.dialect.name == "sqlite":

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA journal_mode=WAL")


with engine.connect() as connection:
    # batch mode: SQLite cannot ALTER most things in place
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        if engine.dialect.name == "postgresql":
            # PCs starting at once migrate one after the other (released at commit); the next
            # one then finds the schema current
            connection.execute(text("SELECT pg_advisory_xact_lock(1380139855, 0)"))
        context.run_migrations()
engine.dispose()
