"""submissions, their versions, attachments, comments; per-form data tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:56:10.053887
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_ha1', sa.String(length=32), nullable=True))
    op.create_table('form_columns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=2048), nullable=False),
    sa.Column('repeat_path', sa.String(length=1024), nullable=False),
    sa.Column('column_name', sa.String(length=63), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_columns_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_columns'))
    )
    with op.batch_alter_table('form_columns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_columns_form_id'), ['form_id'], unique=False)

    op.create_table('form_tables',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('repeat_path', sa.String(length=1024), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_tables_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_tables')),
    sa.UniqueConstraint('table_name', name=op.f('uq_form_tables_table_name'))
    )
    with op.batch_alter_table('form_tables', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_tables_form_id'), ['form_id'], unique=False)

    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.String(length=255), nullable=False),
    sa.Column('current_def_id', sa.Integer(), nullable=True),
    sa.Column('submitter_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.String(length=255), nullable=True),
    sa.Column('review_state', sa.String(length=16), nullable=True),
    sa.Column('edits', sa.Integer(), nullable=False),
    sa.Column('draft', sa.Boolean(), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_submissions_form_id_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submitter_id'], ['actors.id'], name=op.f('fk_submissions_submitter_id_actors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('form_id', 'instance_id', name=op.f('uq_submissions_form_id_instance_id'))
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index('ix_submissions_form_created', ['form_id', 'created_at'], unique=False)

    op.create_table('comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_comments_actor_id_actors')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_comments_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comments'))
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comments_submission_id'), ['submission_id'], unique=False)

    op.create_table('submission_defs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('form_def_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.String(length=255), nullable=False),
    sa.Column('deprecated_id', sa.String(length=255), nullable=True),
    sa.Column('instance_name', sa.Text(), nullable=True),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('xml_sha256', sa.String(length=64), nullable=False),
    sa.Column('encrypted', sa.Boolean(), nullable=False),
    sa.Column('submitter_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.String(length=255), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['form_def_id'], ['form_defs.id'], name=op.f('fk_submission_defs_form_def_id_form_defs')),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_submission_defs_form_id_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_submission_defs_submission_id_submissions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submitter_id'], ['actors.id'], name=op.f('fk_submission_defs_submitter_id_actors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_defs')),
    sa.UniqueConstraint('form_id', 'instance_id', name=op.f('uq_submission_defs_form_id_instance_id'))
    )
    with op.batch_alter_table('submission_defs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_defs_submission_id'), ['submission_id'], unique=False)

    # submissions and submission_defs point at each other; this key is added once both exist.
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_foreign_key(op.f('fk_submissions_current_def_id_submission_defs'), 'submission_defs',
                                    ['current_def_id'], ['id'])

    op.create_table('submission_attachments',
    sa.Column('submission_def_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('blob_id', sa.Integer(), nullable=True),
    sa.Column('content_type', sa.String(length=128), nullable=True),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['blob_id'], ['blobs.id'], name=op.f('fk_submission_attachments_blob_id_blobs')),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_submission_attachments_submission_def_id_submission_defs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('submission_def_id', 'name', name=op.f('pk_submission_attachments'))
    )


def downgrade() -> None:
    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.drop_column('digest_ha1')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_submissions_current_def_id_submission_defs'), type_='foreignkey')
    op.drop_table('submission_attachments')
    with op.batch_alter_table('submission_defs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_defs_submission_id'))

    op.drop_table('submission_defs')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comments_submission_id'))

    op.drop_table('comments')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_form_created')

    op.drop_table('submissions')
    with op.batch_alter_table('form_tables', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_tables_form_id'))

    op.drop_table('form_tables')
    with op.batch_alter_table('form_columns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_columns_form_id'))

    op.drop_table('form_columns')
