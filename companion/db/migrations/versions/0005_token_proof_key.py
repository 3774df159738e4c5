"""api_tokens: the proof key the extension checks the companion with

Revision ID: 0005_token_proof_key
Revises: 0004_submit_intents
Create Date: 2026-11-30 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_token_proof_key"
down_revision = "0004_submit_intents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tokens paired before this have no proof key: the extension asks staff to pair again
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("proof_key", sa.LargeBinary(), nullable=True))
    op.create_index(op.f("ix_api_tokens_key_id"), "api_tokens", ["key_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_tokens_key_id"), table_name="api_tokens")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("proof_key")
        batch.drop_column("key_id")
