"""residents' text items with room for ideographic variation sequences: the 住基ネット
counts a kanji with its variation selector as one character, the database as two code
points (name 50 → 100, address 150 → 300, 続柄 40 → 80, 通称 50 → 100)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_WIDER = (("name_kanji", 50, 100, False), ("relationship", 40, 80, False),
          ("address", 150, 300, False), ("previous_address", 150, 300, True),
          ("common_name", 50, 100, True))


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        for column, before, after, nullable in _WIDER:
            batch_op.alter_column(column, existing_type=sa.String(length=before),
                                  type_=sa.String(length=after), existing_nullable=nullable)


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        for column, before, after, nullable in _WIDER:
            batch_op.alter_column(column, existing_type=sa.String(length=after),
                                  type_=sa.String(length=before), existing_nullable=nullable)
