"""inbox of what the outside systems push, and each link's inbound sequence

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_state") as batch:
        batch.add_column(sa.Column("inbound_applied", sa.Integer(), nullable=False,
                                   server_default="0"))
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("link", sa.String(length=16), nullable=False),
        sa.Column("peer_seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("acknowledged_at", sa.Float(), nullable=True),
        sa.Column("operator_id", sa.String(length=40), nullable=True),
        sa.Column("terminal_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_inbox_kind_state", "inbox", ["kind", "state", "id"])
    op.create_index("ux_inbox_link_peer_seq", "inbox", ["link", "peer_seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_inbox_link_peer_seq", table_name="inbox")
    op.drop_index("ix_inbox_kind_state", table_name="inbox")
    op.drop_table("inbox")
    with op.batch_alter_table("link_state") as batch:
        batch.drop_column("inbound_applied")
