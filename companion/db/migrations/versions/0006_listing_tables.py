"""the shop's own tables (templates, grade and category tables, aliases) and each listing's item

Revision ID: 0006_listing_tables
Revises: 0005_token_proof_key
Create Date: 2026-11-30 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_listing_tables"
down_revision = "0005_token_proof_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_tables",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("product", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("source_notes", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("source_notes")
        batch_op.drop_column("product")
        batch_op.drop_column("item")
    op.drop_table("connector_tables")
