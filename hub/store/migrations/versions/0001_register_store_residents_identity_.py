"""register store: residents, identity records, outbox, link state, dead letters, request ids, audit log

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 14:28:48.663378
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('operator_id', sa.String(length=40), nullable=False),
    sa.Column('terminal_id', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('update_seq', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('dead_letters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('link', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('update_seq', sa.Integer(), nullable=False),
    sa.Column('resident_key', sa.String(length=11), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index('ix_dead_letters_link_resident', ['link', 'resident_key'], unique=False)

    op.create_table('identity_records',
    sa.Column('resident_code', sa.Text(), nullable=False),
    sa.Column('name_kanji', sa.Text(), nullable=False),
    sa.Column('name_gaiji_count', sa.Integer(), nullable=False),
    sa.Column('name_kana', sa.Text(), nullable=False),
    sa.Column('name_seion_kana', sa.Text(), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('sex', sa.Text(), nullable=False),
    sa.Column('municipality_code', sa.Text(), nullable=False),
    sa.Column('aza_code', sa.Text(), nullable=True),
    sa.Column('postal_code', sa.Text(), nullable=True),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('address_gaiji_count', sa.Integer(), nullable=False),
    sa.Column('individual_number', sa.Text(), nullable=True),
    sa.Column('became_resident_date', sa.Date(), nullable=True),
    sa.Column('address_set_date', sa.Date(), nullable=True),
    sa.Column('notified_date', sa.Date(), nullable=True),
    sa.Column('previous_municipality_code', sa.Text(), nullable=True),
    sa.Column('previous_address', sa.Text(), nullable=True),
    sa.Column('previous_address_gaiji_count', sa.Integer(), nullable=False),
    sa.Column('relationship', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('reason_detail', sa.Text(), nullable=True),
    sa.Column('old_resident_code', sa.Text(), nullable=True),
    sa.Column('resident_code_used_date', sa.Date(), nullable=True),
    sa.Column('request_id', sa.Text(), nullable=False),
    sa.Column('operator_id', sa.Text(), nullable=False),
    sa.Column('terminal_id', sa.Text(), nullable=False),
    sa.Column('update_seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('abnormal_update_seq', sa.Integer(), nullable=True),
    sa.Column('update_prohibited', sa.Boolean(), nullable=False),
    sa.Column('prospective', sa.Boolean(), nullable=False),
    sa.Column('exclusive', sa.Boolean(), nullable=False),
    sa.Column('gaiji_flag', sa.Boolean(), nullable=False),
    sa.Column('record_status', sa.Text(), nullable=False),
    sa.Column('timestamp', sa.DateTime(), nullable=False),
    sa.Column('old_surname_kanji', sa.Text(), nullable=True),
    sa.Column('old_surname_gaiji_count', sa.Integer(), nullable=False),
    sa.Column('old_surname_kana', sa.Text(), nullable=True),
    sa.Column('old_surname_gaiji_change_seq', sa.Integer(), nullable=True),
    sa.Column('previous_update_seq', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('update_seq')
    )
    with op.batch_alter_table('identity_records', schema=None) as batch_op:
        batch_op.create_index('ix_identity_records_resident_code', ['resident_code'], unique=False)

    op.create_table('link_state',
    sa.Column('link', sa.String(length=16), nullable=False),
    sa.Column('acked_seq', sa.Integer(), nullable=False),
    sa.Column('next_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('link')
    )
    op.create_table('outbox',
    sa.Column('link', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('update_seq', sa.Integer(), nullable=False),
    sa.Column('resident_key', sa.String(length=11), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('enqueued_at', sa.Float(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('link', 'seq')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_link_state', ['link', 'state', 'seq'], unique=False)

    op.create_table('residents',
    sa.Column('atena_number', sa.String(length=15), nullable=False),
    sa.Column('resident_code', sa.String(length=11), nullable=False),
    sa.Column('individual_number', sa.String(length=12), nullable=True),
    sa.Column('household_number', sa.String(length=15), nullable=False),
    sa.Column('name_kanji', sa.String(length=50), nullable=False),
    sa.Column('name_kana', sa.String(length=100), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('relationship', sa.String(length=40), nullable=False),
    sa.Column('resident_type', sa.String(length=10), nullable=False),
    sa.Column('municipality_code', sa.String(length=6), nullable=False),
    sa.Column('aza_code', sa.String(length=12), nullable=True),
    sa.Column('postal_code', sa.String(length=7), nullable=True),
    sa.Column('address', sa.String(length=150), nullable=False),
    sa.Column('previous_municipality_code', sa.String(length=6), nullable=True),
    sa.Column('previous_address', sa.String(length=150), nullable=True),
    sa.Column('became_resident_date', sa.Date(), nullable=True),
    sa.Column('address_set_date', sa.Date(), nullable=True),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.Column('removed_date', sa.Date(), nullable=True),
    sa.Column('removed_reason', sa.String(length=20), nullable=True),
    sa.Column('last_update_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('atena_number'),
    sa.UniqueConstraint('individual_number'),
    sa.UniqueConstraint('resident_code')
    )
    op.create_table('request_ids',
    sa.Column('request_id', sa.String(length=40), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('update_seq', sa.Integer(), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['update_seq'], ['identity_records.update_seq'], ),
    sa.PrimaryKeyConstraint('request_id')
    )



def downgrade() -> None:

    op.drop_table('request_ids')
    op.drop_table('residents')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_link_state')

    op.drop_table('outbox')
    op.drop_table('link_state')
    with op.batch_alter_table('identity_records', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_records_resident_code')

    op.drop_table('identity_records')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index('ix_dead_letters_link_resident')

    op.drop_table('dead_letters')
    op.drop_table('audit_log')

