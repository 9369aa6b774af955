"""webhooks of a form and the log of their deliveries (docs/webhooks.md)

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-05 11:00:00
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0021'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhooks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('include_xml', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['actors.id'], name=op.f('fk_webhooks_created_by_actors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_webhooks_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks'))
    )
    op.create_index(op.f('ix_webhooks_form_id'), 'webhooks', ['form_id'], unique=False)
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.Integer(), nullable=False),
    sa.Column('submission_def_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_webhook_deliveries_submission_def_id_submission_defs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_deliveries_webhook_id_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    op.create_index(op.f('ix_webhook_deliveries_webhook_id'), 'webhook_deliveries', ['webhook_id'], unique=False)
    op.create_index('ix_webhook_deliveries_status', 'webhook_deliveries', ['status', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_webhook_deliveries_status', table_name='webhook_deliveries')
    op.drop_index(op.f('ix_webhook_deliveries_webhook_id'), table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index(op.f('ix_webhooks_form_id'), table_name='webhooks')
    op.drop_table('webhooks')
