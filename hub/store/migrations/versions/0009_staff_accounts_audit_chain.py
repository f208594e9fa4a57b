"""staff accounts (one per person), and the operation log's new items and hash chain

``staff_accounts``: the user id, the password's argon2id hash, roles, state, expiry,
failed logins in a row and the lockout they caused, last login.  ``audit_log`` gains
the certificate the call came with (``client``), whether the 個人番号 was shown, the
result, a count (a query's matches, an output's records), and each entry's link in
the hash chain (``hash``: SHA-256 over the previous entry's hash and this entry).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("password_changed_at", sa.Float(), nullable=False),
        sa.Column("last_login_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("client", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("number_shown", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("result", sa.String(length=40), nullable=False,
                                   server_default="ok"))
        batch.add_column(sa.Column("count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_entries()


def _chain_existing_entries() -> None:
    """Entries written before the chain get their hashes now, in id order, so the
    whole log verifies (the chain's rule at this revision, kept here unchanged)."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, at, operator_id, terminal_id, action, request_id, update_seq "
        "FROM audit_log ORDER BY id")).all()
    previous = "0" * 64
    for row in rows:
        items = [row.id, repr(float(row.at)), row.operator_id, row.terminal_id, row.action,
                 row.request_id, row.update_seq, None, False, "ok", None]
        text = previous + json.dumps(items, ensure_ascii=False, separators=(",", ":"))
        previous = hashlib.sha256(text.encode("utf-8")).hexdigest()
        conn.execute(sa.text("UPDATE audit_log SET hash = :h WHERE id = :i"),
                     {"h": previous, "i": row.id})


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        for column in ("hash", "count", "result", "number_shown", "client"):
            batch.drop_column(column)
    op.drop_table("staff_accounts")
