"""a registry generation per project

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('projects') as batch:
        batch.add_column(sa.Column('areas_generation', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('projects') as batch:
        batch.drop_column('areas_generation')
