"""entities: Entity Lists (datasets), their properties and forms, entities, their versions, and the
entity errors of submissions (docs/entities.md)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 07:30:00
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('approval_required', sa.Boolean(), nullable=False),
    sa.Column('owner_only', sa.Boolean(), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_datasets_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_datasets_project_id_name'))
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_datasets_project_id'), ['project_id'], unique=False)

    op.create_table('dataset_properties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('published_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_properties_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_properties')),
    sa.UniqueConstraint('dataset_id', 'name', name=op.f('uq_dataset_properties_dataset_id_name'))
    )
    with op.batch_alter_table('dataset_properties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_properties_dataset_id'), ['dataset_id'], unique=False)

    op.create_table('entities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=True),
    sa.Column('conflict', sa.String(length=8), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['creator_id'], ['actors.id'], name=op.f('fk_entities_creator_id_actors')),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_entities_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entities')),
    sa.UniqueConstraint('uuid', name=op.f('uq_entities_uuid'))
    )
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.create_index('ix_entities_dataset_id', ['dataset_id', 'id'], unique=False)

    op.create_table('dataset_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_forms_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_dataset_forms_form_id_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['property_id'], ['dataset_properties.id'], name=op.f('fk_dataset_forms_property_id_dataset_properties'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_forms'))
    )
    with op.batch_alter_table('dataset_forms', schema=None) as batch_op:
        batch_op.create_index('uq_dataset_forms', ['dataset_id', 'form_id', 'property_id'], unique=True)

    op.create_table('entity_errors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('submission_def_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_entity_errors_actor_id_actors')),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_entity_errors_submission_def_id_submission_defs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_entity_errors_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_errors'))
    )
    with op.batch_alter_table('entity_errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entity_errors_submission_id'), ['submission_id'], unique=False)

    op.create_table('entity_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('data_received', sa.JSON(), nullable=False),
    sa.Column('conflicting_properties', sa.JSON(), nullable=True),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('submission_def_id', sa.Integer(), nullable=True),
    sa.Column('branch_id', sa.String(length=36), nullable=True),
    sa.Column('trunk_version', sa.Integer(), nullable=True),
    sa.Column('branch_base_version', sa.Integer(), nullable=True),
    sa.Column('creator_id', sa.Integer(), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['actors.id'], name=op.f('fk_entity_versions_creator_id_actors')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_entity_versions_entity_id_entities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_entity_versions_submission_def_id_submission_defs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_entity_versions_submission_id_submissions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_versions')),
    sa.UniqueConstraint('entity_id', 'version', name=op.f('uq_entity_versions_entity_id_version'))
    )
    with op.batch_alter_table('entity_versions', schema=None) as batch_op:
        batch_op.create_index('ix_entity_versions_submission', ['submission_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('entity_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_entity_versions_submission')

    op.drop_table('entity_versions')
    with op.batch_alter_table('entity_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_errors_submission_id'))

    op.drop_table('entity_errors')
    with op.batch_alter_table('dataset_forms', schema=None) as batch_op:
        batch_op.drop_index('uq_dataset_forms')

    op.drop_table('dataset_forms')
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.drop_index('ix_entities_dataset_id')

    op.drop_table('entities')
    with op.batch_alter_table('dataset_properties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_properties_dataset_id'))

    op.drop_table('dataset_properties')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_project_id'))

    op.drop_table('datasets')
