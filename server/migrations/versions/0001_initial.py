"""initial schema: accounts, projects, forms, blobs

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:36:33.552277
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('md5', sa.String(length=32), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blobs')),
    sa.UniqueConstraint('sha256', name=op.f('uq_blobs_sha256'))
    )
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    op.create_table('actors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('site_role', sa.String(length=32), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['actors.id'], name=op.f('fk_actors_created_by_id_actors')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_actors_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actors')),
    sa.UniqueConstraint('email', name=op.f('uq_actors_email'))
    )
    op.create_table('forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('xml_form_id', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('current_def_id', sa.Integer(), nullable=True),
    sa.Column('draft_def_id', sa.Integer(), nullable=True),
    sa.Column('enketo_id', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['actors.id'], name=op.f('fk_forms_created_by_id_actors')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_forms_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forms'))
    )
    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forms_project_id'), ['project_id'], unique=False)
        batch_op.create_index('uq_forms_live_xml_form_id', ['project_id', 'xml_form_id'], unique=True, sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))

    op.create_table('project_assignments',
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_project_assignments_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_assignments_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('actor_id', 'project_id', 'role', name=op.f('pk_project_assignments'))
    )
    op.create_table('sessions',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_sessions_actor_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_sessions'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_actor_id'), ['actor_id'], unique=False)

    op.create_table('form_assignments',
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_form_assignments_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_assignments_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('actor_id', 'form_id', 'role', name=op.f('pk_form_assignments'))
    )
    op.create_table('form_defs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=1024), nullable=True),
    sa.Column('xml', sa.Text(), nullable=False),
    sa.Column('hash', sa.String(length=32), nullable=False),
    sa.Column('sha', sa.String(length=40), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.Text(), nullable=True),
    sa.Column('xls_blob_id', sa.Integer(), nullable=True),
    sa.Column('xls_content_type', sa.String(length=128), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['actors.id'], name=op.f('fk_form_defs_created_by_id_actors')),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_defs_form_id_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['xls_blob_id'], ['blobs.id'], name=op.f('fk_form_defs_xls_blob_id_blobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_defs'))
    )
    with op.batch_alter_table('form_defs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_defs_form_id'), ['form_id'], unique=False)
        batch_op.create_index('uq_form_defs_published_version', ['form_id', 'version'], unique=True, sqlite_where=sa.text('published_at IS NOT NULL'), postgresql_where=sa.text('published_at IS NOT NULL'))

    # forms and form_defs point at each other, so this pair of keys is added once both tables exist.
    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.create_foreign_key(op.f('fk_forms_current_def_id_form_defs'), 'form_defs', ['current_def_id'], ['id'])
        batch_op.create_foreign_key(op.f('fk_forms_draft_def_id_form_defs'), 'form_defs', ['draft_def_id'], ['id'])

    op.create_table('form_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_def_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('blob_id', sa.Integer(), nullable=True),
    sa.Column('content_type', sa.String(length=128), nullable=True),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['blob_id'], ['blobs.id'], name=op.f('fk_form_attachments_blob_id_blobs')),
    sa.ForeignKeyConstraint(['form_def_id'], ['form_defs.id'], name=op.f('fk_form_attachments_form_def_id_form_defs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_attachments')),
    sa.UniqueConstraint('form_def_id', 'name', name=op.f('uq_form_attachments_form_def_id_name'))
    )
    with op.batch_alter_table('form_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_attachments_form_def_id'), ['form_def_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_forms_current_def_id_form_defs'), type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_forms_draft_def_id_form_defs'), type_='foreignkey')
    with op.batch_alter_table('form_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_attachments_form_def_id'))

    op.drop_table('form_attachments')
    with op.batch_alter_table('form_defs', schema=None) as batch_op:
        batch_op.drop_index('uq_form_defs_published_version', sqlite_where=sa.text('published_at IS NOT NULL'), postgresql_where=sa.text('published_at IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_form_defs_form_id'))

    op.drop_table('form_defs')
    op.drop_table('form_assignments')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_actor_id'))

    op.drop_table('sessions')
    op.drop_table('project_assignments')
    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.drop_index('uq_forms_live_xml_form_id', sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_forms_project_id'))

    op.drop_table('forms')
    op.drop_table('actors')
    op.drop_table('projects')
    op.drop_table('blobs')
