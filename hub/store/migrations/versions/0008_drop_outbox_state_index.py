"""drop ix_outbox_link_state: no query reads the outbox by state

Every read of the outbox is by link and sequence (its primary key); the index cost a
B-tree insert for each of the ~3 messages of every change.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_outbox_link_state", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_link_state", "outbox", ["link", "state", "seq"])
