"""the register's items the identity record carries: 住民票コード使用年月日, the register's
state (更新禁止, 予定者, 排他), 旧氏 (漢字, ふりがな, 外字変更連番), and a 転出's
destination (転出予定日, 転出先, 特例転出)

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_FLAGS = ("update_prohibited", "prospective", "exclusive", "moving_out_special")


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resident_code_used_date", sa.Date(), nullable=True))
        for flag in _FLAGS[:3]:
            batch_op.add_column(sa.Column(flag, sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
        batch_op.add_column(sa.Column("old_surname_kanji", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("old_surname_kana", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("old_surname_gaiji_change_seq", sa.Integer(),
                                      nullable=True))
        batch_op.add_column(sa.Column("moving_out_planned_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("moving_out_municipality_code", sa.String(length=6),
                                      nullable=True))
        batch_op.add_column(sa.Column("moving_out_address", sa.String(length=300),
                                      nullable=True))
        batch_op.add_column(sa.Column("moving_out_special", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        for column in ("moving_out_special", "moving_out_address",
                       "moving_out_municipality_code", "moving_out_planned_date",
                       "old_surname_gaiji_change_seq", "old_surname_kana", "old_surname_kanji",
                       "exclusive", "prospective", "update_prohibited",
                       "resident_code_used_date"):
            batch_op.drop_column(column)
