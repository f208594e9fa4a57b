"""card events (交付, 廃止, 回収, 一時停止解除, 返還); request ids without an update

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_events",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_card_events_resident_code", "card_events", ["resident_code"])
    with op.batch_alter_table("request_ids") as batch:
        batch.alter_column("update_seq", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("request_ids") as batch:
        batch.alter_column("update_seq", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_card_events_resident_code", table_name="card_events")
    op.drop_table("card_events")
