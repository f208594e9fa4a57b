"""households: a 世帯's members read by its number (世帯変更, 世帯主変更, the
send-destination file's one destination per household), and the ローマ字 items the card
shows (送付先情報 items 66–67)

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("romaji_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("romaji_old_surname", sa.String(length=100),
                                      nullable=True))
    op.create_index("ix_residents_household", "residents", ["household_number"])


def downgrade() -> None:
    op.drop_index("ix_residents_household", table_name="residents")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("romaji_old_surname")
        batch_op.drop_column("romaji_name")
