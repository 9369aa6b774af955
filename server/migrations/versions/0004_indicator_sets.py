"""indicator sets

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:33:11.047642
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('indicator_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('workbook_blob_id', sa.Integer(), nullable=True),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_indicator_sets_form_id_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workbook_blob_id'], ['blobs.id'], name=op.f('fk_indicator_sets_workbook_blob_id_blobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_sets')),
    sa.UniqueConstraint('form_id', name=op.f('uq_indicator_sets_form_id'))
    )


def downgrade() -> None:
    op.drop_table('indicator_sets')
