"""webhook deliveries scheduled from their table: a lease while queued, a retry deadline, the receiver's
health per webhook (docs/webhooks.md)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 14:40:00
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


ACTIVE = "status IN ('pending', 'retrying')"
LEASED = "leased_until IS NOT NULL"


def upgrade() -> None:
    op.drop_index('ix_webhook_deliveries_status', table_name='webhook_deliveries')
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.add_column(sa.Column('leased_until', server.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('retry_until', server.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('lease', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('webhooks') as batch:
        batch.add_column(sa.Column('failures', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('resume_at', server.db.UTCDateTime(timezone=True), nullable=True))
    # Every delivery still to send is due now (the old queue's own schedule is not known here).
    op.execute(f"UPDATE webhook_deliveries SET next_attempt_at = updated_at WHERE {ACTIVE} AND next_attempt_at IS NULL")
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['webhook_id', 'next_attempt_at'],
                    postgresql_where=sa.text(ACTIVE), sqlite_where=sa.text(ACTIVE))
    op.create_index('ix_webhook_deliveries_leased', 'webhook_deliveries', ['webhook_id', 'leased_until'],
                    postgresql_where=sa.text(LEASED), sqlite_where=sa.text(LEASED))


def downgrade() -> None:
    with op.batch_alter_table('webhooks') as batch:
        batch.drop_column('resume_at')
        batch.drop_column('failures')
    op.drop_index('ix_webhook_deliveries_leased', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries')
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.drop_column('lease')
        batch.drop_column('retry_until')
        batch.drop_column('leased_until')
    op.create_index('ix_webhook_deliveries_status', 'webhook_deliveries', ['status', 'updated_at'], unique=False)
