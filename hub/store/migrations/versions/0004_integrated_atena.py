"""団体内統合宛名番号 of residents, for the intermediate server's copies

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("integrated_atena", sa.String(length=15), nullable=True))
        batch.create_unique_constraint("uq_residents_integrated_atena", ["integrated_atena"])


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.drop_constraint("uq_residents_integrated_atena", type_="unique")
        batch.drop_column("integrated_atena")
