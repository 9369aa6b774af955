"""the target set a web user chose on a form's dashboard, per area, remembered across visits
(docs/indicators.md#which-target-set)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00
"""
import sqlalchemy as sa
from alembic import op

import server.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('target_set_choices',
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('area_code', sa.String(length=64), nullable=False),
    sa.Column('target_set', sa.String(length=128), nullable=False),
    sa.Column('chosen_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_target_set_choices_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_target_set_choices_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('actor_id', 'form_id', 'area_code', name=op.f('pk_target_set_choices'))
    )


def downgrade() -> None:
    op.drop_table('target_set_choices')
