"""area-scoped roles: an actor's project roles limited to some areas and everything below them

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('area_assignments',
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('area_code', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_area_assignments_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_area_assignments_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('actor_id', 'project_id', 'area_code', name=op.f('pk_area_assignments'))
    )
    with op.batch_alter_table('area_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_assignments_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('area_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_assignments_project_id'))
    op.drop_table('area_assignments')
