"""submit intents: every press that changes the store is recorded before it is made

Revision ID: 0004_submit_intents
Revises: 0003_job_owner
Create Date: 2026-11-30 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_submit_intents"
down_revision = "0003_job_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submit_intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("pressed", sa.String(length=32), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("pressed_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("submit_intents", schema=None) as batch_op:
        batch_op.create_index("ix_submit_intents_subject", ["subject"], unique=False)
        batch_op.create_index("ix_submit_intents_listing_id", ["listing_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("submit_intents", schema=None) as batch_op:
        batch_op.drop_index("ix_submit_intents_listing_id")
        batch_op.drop_index("ix_submit_intents_subject")
    op.drop_table("submit_intents")
