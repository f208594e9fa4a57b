"""the initial load (jukihub load): each file loaded, how far it got, and the rows it
refused by line and reason

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "initial_loads",
        sa.Column("load_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file_digest", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("load_id"),
        sa.UniqueConstraint("file_digest"),
    )
    op.create_table(
        "initial_load_refusals",
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("item", sa.String(length=40), nullable=True),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("load_id", "line"),
    )


def downgrade() -> None:
    op.drop_table("initial_load_refusals")
    op.drop_table("initial_loads")
