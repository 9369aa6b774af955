"""public links: a form's links that anyone may open to fill it in the browser (docs/web-forms.md)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 10:40:00
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('public_links',
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('once', sa.Boolean(), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_public_links_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_public_links_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('actor_id', name=op.f('pk_public_links'))
    )
    op.create_index(op.f('ix_public_links_form_id'), 'public_links', ['form_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_public_links_form_id'), table_name='public_links')
    op.drop_table('public_links')
