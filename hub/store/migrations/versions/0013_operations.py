"""operations: dead letters staff mend (their state, who resolved them, how), the
correlation id that ties an intake request to its messages, and the hub's flags
(maintenance mode)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("correlation_id", sa.String(length=40), nullable=True))
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("correlation_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("state", sa.String(length=12), nullable=False,
                                      server_default="open"))
        batch_op.add_column(sa.Column("resolved_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("resent_from", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resent_count", sa.Integer(), nullable=True))
    op.create_table(
        "hub_flags",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.Float(), nullable=False),
        sa.Column("set_by", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("hub_flags")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        for column in ("resent_count", "resent_from", "resolution", "resolved_by",
                       "resolved_at", "state", "correlation_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("correlation_id")
