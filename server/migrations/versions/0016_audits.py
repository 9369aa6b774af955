"""the server audit log: who did what to which object, and when (docs/security.md#audit-log)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 10:30:00
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('actee_type', sa.String(length=16), nullable=True),
    sa.Column('actee_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('logged_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audits'))
    )
    op.create_index('ix_audits_logged_at', 'audits', ['logged_at', 'id'], unique=False)
    op.create_index('ix_audits_action_logged_at', 'audits', ['action', 'logged_at'], unique=False)
    op.create_index('ix_audits_actor_logged_at', 'audits', ['actor_id', 'logged_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audits_actor_logged_at', table_name='audits')
    op.drop_index('ix_audits_action_logged_at', table_name='audits')
    op.drop_index('ix_audits_logged_at', table_name='audits')
    op.drop_table('audits')
