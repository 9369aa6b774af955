"""offline entities' backlog: updates held until the earlier update of their offline branch arrives,
the submission's backlog events (hold, reprocess, force), and versions marked as forced through or as
a late create applied as an update (docs/entities.md#offline-entities-backlog)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:30:00
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('entity_submission_backlog',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('submission_def_id', sa.Integer(), nullable=False),
    sa.Column('entity_index', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('entity_uuid', sa.String(length=36), nullable=False),
    sa.Column('branch_id', sa.String(length=36), nullable=False),
    sa.Column('branch_base_version', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('logged_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_entity_submission_backlog_actor_id_actors')),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_entity_submission_backlog_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_entity_submission_backlog_submission_def_id_submission_defs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_entity_submission_backlog_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_submission_backlog')),
    sa.UniqueConstraint('submission_id', 'entity_index', name=op.f('uq_entity_submission_backlog_submission_id_entity_index'))
    )
    with op.batch_alter_table('entity_submission_backlog', schema=None) as batch_op:
        batch_op.create_index('ix_entity_submission_backlog_branch', ['branch_id', 'branch_base_version'], unique=False)
        batch_op.create_index(batch_op.f('ix_entity_submission_backlog_entity_uuid'), ['entity_uuid'], unique=False)

    op.create_table('entity_backlog_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('submission_def_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('entity_uuid', sa.String(length=36), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('logged_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_entity_backlog_events_actor_id_actors')),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_entity_backlog_events_submission_def_id_submission_defs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_entity_backlog_events_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_backlog_events'))
    )
    with op.batch_alter_table('entity_backlog_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entity_backlog_events_submission_id'), ['submission_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entity_backlog_events_entity_uuid'), ['entity_uuid'], unique=False)

    with op.batch_alter_table('entity_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('forced', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('create_as_update', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('entity_versions', schema=None) as batch_op:
        batch_op.drop_column('create_as_update')
        batch_op.drop_column('forced')

    with op.batch_alter_table('entity_backlog_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_backlog_events_entity_uuid'))
        batch_op.drop_index(batch_op.f('ix_entity_backlog_events_submission_id'))
    op.drop_table('entity_backlog_events')

    with op.batch_alter_table('entity_submission_backlog', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_submission_backlog_entity_uuid'))
        batch_op.drop_index('ix_entity_submission_backlog_branch')
    op.drop_table('entity_submission_backlog')
