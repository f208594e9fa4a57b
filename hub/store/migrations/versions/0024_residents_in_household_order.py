"""residents in household order: the index of a 世帯's members also orders them by
住民票コード, so a send-destination batch reads each slice from it (keyset paging)
instead of sorting the whole batch for every slice

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_residents_household_code", "residents",
                    ["household_number", "resident_code"])
    op.drop_index("ix_residents_household", table_name="residents")


def downgrade() -> None:
    op.create_index("ix_residents_household", "residents", ["household_number"])
    op.drop_index("ix_residents_household_code", table_name="residents")
