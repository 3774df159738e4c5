"""SQLAlchemy 2 models: the companion's whole durable state.

Schema changes go through Alembic revisions in `companion/db/migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """The API's time format: ISO 8601 in UTC with a Z (`2026-11-22T12:00:00Z`)."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite has no zones) and always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use companion.db.models.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class Setting(Base):
    """One setting. Secrets keep only `ciphertext`; `value` is then NULL."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConnectorTable(Base):
    """One of the shop's own tables (`companion.tables`): listing templates, the grade and
    category tables, task type aliases, ReCORE's order status names. `data` is validated JSON."""

    __tablename__ = "connector_tables"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    """A bearer token issued at pairing; only its SHA-256 is stored. `proof_key` (encrypted like
    the settings' secrets) answers the extension's challenge before it sends the token."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    origin: Mapped[str | None] = mapped_column(String(200))
    key_id: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)
    proof_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PairingCode(Base):
    """A one-time code printed by `recore-connector pair`; only its hash is stored."""

    __tablename__ = "pairing_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    # {"code", "message" (ja), "message_en"} or NULL
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # the companion that queued or runs it: its lease id (SQLite) or its CompanionProcess.id
    # (a shared database); NULL: waiting for whoever may run it. See companion.jobs
    owner: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CompanionProcess(Base):
    """A companion running on this database (a PC's `serve`, or a CLI command), while it runs.

    Several PCs share one PostgreSQL database: a row says which PC and process it is, and who
    leads (`leader_since`). Whether it is still alive is not kept here but checked (the lock its
    connection holds on PostgreSQL; the process itself on the one PC of a SQLite file).
    """

    __tablename__ = "companions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    leader_since: Mapped[datetime | None]


class JobItem(Base):
    __tablename__ = "job_items"
    __table_args__ = (UniqueConstraint("job_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """A result bound for ReCORE. Written before any attempt; delivered in id order per ordering_key."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    ordering_key: Mapped[str] = mapped_column(String(100), index=True)
    operation: Mapped[str] = mapped_column(String(32))  # task_succeeded, task_failed, order_upsert
    target: Mapped[str] = mapped_column(String(100))  # task id or mall order id
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|rejected
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class RecoreTask(Base):
    """A gateway task seen in ReCORE's poll, stored once by its id."""

    __tablename__ = "recore_tasks"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    ec_account_id: Mapped[int | None]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    issued_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # new → handled (waiting for a result, e.g. a listing not yet on Yahoo) → reported;
    # unknown: a type no handler (and no alias) takes, kept open and shown, never reported
    state: Mapped[str] = mapped_column(String(16), default="new", index=True)
    ec_inventory_id: Mapped[int | None] = mapped_column(index=True)
    mall_order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    message: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime | None]


class Batch(Base):
    """A generated upload set (生成済みリスト)."""

    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the per-item validation errors of listings left out of the batch
    errors: Mapped[list[Any]] = mapped_column(default=list)
    uploaded_at: Mapped[datetime | None]


class ListingRecord(Base):
    """One ReCORE EC inventory to be listed on Yahoo, with where it stands."""

    __tablename__ = "listings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # ReCORE ec_inventory id
    management_number: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    inventory: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ReCORE's object as fetched
    # the stock it allocates (`GET /items`) and that item's catalogue entry (`GET /products`),
    # as fetched; `source_notes` says why one could not be read ({"item"|"category": Japanese})
    item: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    product: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    source_notes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(64))
    auction_id: Mapped[str | None] = mapped_column(String(32), index=True)
    auction_url: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[list[Any]] = mapped_column(default=list)
    last_attempt_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    listed_at: Mapped[datetime | None]


class AuctionSnapshot(Base):
    """What the last sync saw of one auction on Yahoo."""

    __tablename__ = "auctions"
    auction_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    management_number: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # selling | sold | ended_unsold | ended
    price: Mapped[int | None]
    bids: Mapped[int] = mapped_column(default=0)
    end_time: Mapped[datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_state: Mapped[str | None] = mapped_column(String(16))


class OrderSnapshot(Base):
    """A Yahoo order as last forwarded to ReCORE; `sent_hash` makes unchanged syncs send nothing."""

    __tablename__ = "orders"
    mall_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    auction_id: Mapped[str | None] = mapped_column(String(32), index=True)
    management_number: Mapped[str | None] = mapped_column(String(64))
    store_status: Mapped[str | None] = mapped_column(String(32))
    recore_status: Mapped[str | None] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sent_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EventLog(Base):
    """Staff-facing errors and notices shown in status (`last_errors`). Never holds secrets."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    level: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)


class HistoryEntry(Base):
    """One thing that happened, for staff's 履歴 (30 days by default, then pruned).

    Written by `companion.history.HistoryRecorder` from the durable records (outbox, jobs,
    events), once per `key`. `recore_key` names the outbox message that told ReCORE, whose state
    says whether ReCORE accepted it.
    """

    __tablename__ = "history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    result: Mapped[str] = mapped_column(String(16))  # ok | failed | warning | info
    management_number: Mapped[str | None] = mapped_column(String(64), index=True)
    auction_id: Mapped[str | None] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    recore_key: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AlertDelivery(Base):
    """One alert bound for one channel (e-mail, Chatwork, LINE): sent once, retried with backoff.

    `retry_key` stays the same across attempts: LINE's X-Line-Retry-Key and the mail's Message-ID,
    so a retry after a lost answer is not a second message.
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_state_next", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(240), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    retry_key: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|dropped
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None]


class SubmitIntent(Base):
    """A press that changes the store (出品する, 出品開始, 早期終了, an edit's save), written and
    committed BEFORE the press. It stays open until the outcome is known. After a crash an open one
    makes its item uncertain (確認中): it is not pressed again until the store has been read again
    after a grace period longer than the store may take to finish a request
    (`companion.direct.intents`)."""

    __tablename__ = "submit_intents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)  # 管理番号 or auction id
    action: Mapped[str] = mapped_column(String(16))  # list | start | end | edit
    pressed: Mapped[str] = mapped_column(String(32))  # the button, as staff know it
    listing_id: Mapped[int | None] = mapped_column(index=True)
    task_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(32))
    pressed_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(16))  # done | failed | not_done
    resolved_at: Mapped[datetime | None]


class Confirmation(Base):
    """確認モード: one write prepared for staff to approve (実行) or hold back (スキップ)
    before it is carried out (`companion.confirmations`). One row per write (`kind`, `ref`)."""

    __tablename__ = "confirmations"
    __table_args__ = (UniqueConstraint("kind", "ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # listing, task_report, …
    ref: Mapped[str] = mapped_column(String(100))  # listing id, outbox message id, task id
    state: Mapped[str] = mapped_column(String(16), index=True)  # waiting|approved|skipped|released
    item: Mapped[str] = mapped_column(String(300))  # 管理番号 and title, or the order
    target: Mapped[str] = mapped_column(String(300))  # where the write goes
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)  # exactly what will be sent
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. the batch to resume
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
