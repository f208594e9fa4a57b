"""the departments' feeds (庁内連携): whether each may pull yet — its first extract is a
bulk output that waits for a supervisor's approval

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "department_feeds",
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("approval_id", sa.String(length=11), nullable=True),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("department"),
    )


def downgrade() -> None:
    op.drop_table("department_feeds")
