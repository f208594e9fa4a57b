"""住民票コードの変更: the old codes, so a search by one still finds the resident

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "old_resident_codes",
        sa.Column("old_code", sa.String(length=11), nullable=False),
        sa.Column("atena_number", sa.String(length=15), nullable=False),
        sa.Column("update_seq", sa.Integer(), nullable=False),
        sa.Column("changed_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("old_code"),
    )
    op.create_index("ix_old_resident_codes_atena", "old_resident_codes", ["atena_number"])


def downgrade() -> None:
    op.drop_index("ix_old_resident_codes_atena", table_name="old_resident_codes")
    op.drop_table("old_resident_codes")
