"""link queries relayed between hubs: a query (照会, a 転入's 転出証明書情報) asked of a
hub that does not own the link waits here for the owner, which asks the peer and
writes the answer back

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_queries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("link", sa.String(length=16), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("asked_at", sa.Float(), nullable=False),
        sa.Column("answer", sa.LargeBinary()),
        sa.Column("code", sa.String(length=40)),
        sa.Column("answered_at", sa.Float()),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,  # ids never reused: the owner serves those above its last
    )
    op.create_index("ix_link_queries_link_id", "link_queries", ["link", "id"])


def downgrade() -> None:
    op.drop_index("ix_link_queries_link_id", table_name="link_queries")
    op.drop_table("link_queries")
