"""area registry

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:19:43.053058
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=64), nullable=True),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('expected_households', sa.Integer(), nullable=True),
    sa.Column('expected_residents', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_areas_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_areas')),
    sa.UniqueConstraint('project_id', 'code', name=op.f('uq_areas_project_id_code'))
    )
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_areas_path'), ['path'], unique=False)
        batch_op.create_index(batch_op.f('ix_areas_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_areas_project_id'))
        batch_op.drop_index(batch_op.f('ix_areas_path'))

    op.drop_table('areas')
