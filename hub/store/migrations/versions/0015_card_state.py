"""card_state: each resident's 個人番号カード (none, issued, suspended, revoked, collected,
returned) and the day it took that state, so card events follow the card's life

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_state", sa.String(length=12), nullable=False,
                                      server_default="none"))
        batch_op.add_column(sa.Column("card_state_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("card_state_date")
        batch_op.drop_column("card_state")
