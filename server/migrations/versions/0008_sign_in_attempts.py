"""sign-in throttling: password checks under way or failed, and the addresses accounts signed in from

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_attempts'))
    )
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_attempts_account_at', ['account', 'at'], unique=False)
        batch_op.create_index('ix_sign_in_attempts_address_at', ['address', 'at'], unique=False)
        batch_op.create_index('ix_sign_in_attempts_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_attempts_at')
        batch_op.drop_index('ix_sign_in_attempts_address_at')
        batch_op.drop_index('ix_sign_in_attempts_account_at')
    op.drop_table('sign_in_attempts')
