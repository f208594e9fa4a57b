"""consistency checks mended: what staff did about each difference (resent the hub's
record as a correction, or marked it explained with a reason)

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consistency_mends",
        sa.Column("check_id", sa.String(length=11), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=True),
        sa.Column("update_seq", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("decided_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("check_id", "resident_code"),
    )


def downgrade() -> None:
    op.drop_table("consistency_mends")
