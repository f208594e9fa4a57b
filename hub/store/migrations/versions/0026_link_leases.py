"""link leases: which hub owns each link now, until when, and the fencing token every
write of that link carries (two hubs on one PostgreSQL); and a count of each link's
mended dead letters, so the hub that owns a link learns of a mend another hub made

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_leases",
        sa.Column("link", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("link"),
    )
    with op.batch_alter_table("link_state") as batch:
        batch.add_column(sa.Column("mended", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("link_state") as batch:
        batch.drop_column("mended")
    op.drop_table("link_leases")
