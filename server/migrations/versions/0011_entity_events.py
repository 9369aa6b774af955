"""entity events and attachment links: deletions, restorations and conflict resolutions of entities
(for their audit log), the entity an entity error was about, and a form attachment's explicit link
to an Entity List (docs/entities.md)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 08:10:00
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('entity_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('logged_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_entity_events_actor_id_actors')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_entity_events_entity_id_entities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_events'))
    )
    with op.batch_alter_table('entity_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entity_events_entity_id'), ['entity_id'], unique=False)

    with op.batch_alter_table('entity_errors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entity_uuid', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_entity_errors_entity_uuid'), ['entity_uuid'], unique=False)

    with op.batch_alter_table('form_attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dataset_link', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('form_attachments', schema=None) as batch_op:
        batch_op.drop_column('dataset_link')

    with op.batch_alter_table('entity_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_errors_entity_uuid'))
        batch_op.drop_column('entity_uuid')

    with op.batch_alter_table('entity_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_events_entity_id'))

    op.drop_table('entity_events')
