"""foreign-resident items of the register (住基法 30条の45), for the ministry link

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = [
    ("nationality", sa.String(length=40)),
    ("article_30_45", sa.String(length=1)),
    ("residence_status", sa.String(length=40)),
    ("residence_period_end", sa.Date()),
    ("residence_card_number", sa.String(length=12)),
    ("common_name", sa.String(length=50)),
]


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        for name, type_ in _COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))  # type: ignore[arg-type]


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        for name, _type in reversed(_COLUMNS):
            batch.drop_column(name)
