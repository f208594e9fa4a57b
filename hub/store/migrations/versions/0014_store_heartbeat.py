"""store_heartbeat: the row each readiness check rewrites, so /readyz knows the store
takes a durable write, not only a read

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_heartbeat",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("beats", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("store_heartbeat")
