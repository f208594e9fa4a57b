"""the wide-area copy of the 住民票 (広域交付): every copy answered for another
municipality, recorded as a provision

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wide_area_provisions",
        sa.Column("request_number", sa.String(length=40), nullable=False),
        sa.Column("issuing_municipality_code", sa.String(length=6), nullable=False),
        sa.Column("atena_number", sa.String(length=15), nullable=True),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=False),
        sa.Column("outbox_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("request_number"),
    )


def downgrade() -> None:
    op.drop_table("wide_area_provisions")
