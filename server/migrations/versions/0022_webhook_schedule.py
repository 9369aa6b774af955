"""webhook deliveries scheduled from their table: a lease while queued, a retry deadline (docs/webhooks.md)

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


def upgrade() -> None:
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.add_column(sa.Column('leased_until', server.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('retry_until', server.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.drop_column('retry_until')
        batch.drop_column('leased_until')
