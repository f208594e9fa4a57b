"""moves between cities: a 転出's confirmation by the destination's 転入通知 (転出確定),
and what the hub did with an inbox item (its result)

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("moving_out_confirmed_date", sa.Date(), nullable=True))
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("result")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("moving_out_confirmed_date")
