"""a web user's chosen language for the pages

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('actors') as batch:
        batch.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('actors') as batch:
        batch.drop_column('language')
