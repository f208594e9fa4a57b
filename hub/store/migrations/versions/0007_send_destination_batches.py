"""send-destination batches (送付先情報) for the card management system

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_batches",
        sa.Column("batch_id", sa.String(length=11), nullable=False),
        sa.Column("selection", sa.String(length=16), nullable=False),
        sa.Column("print_class", sa.String(length=1), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("built", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id"),
    )
    op.create_table(
        "send_batch_members",
        sa.Column("batch_id", sa.String(length=11), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "resident_code"),
    )
    op.create_index("ix_send_batch_members_resident_code", "send_batch_members",
                    ["resident_code"])


def downgrade() -> None:
    op.drop_index("ix_send_batch_members_resident_code", table_name="send_batch_members")
    op.drop_table("send_batch_members")
    op.drop_table("send_batches")
