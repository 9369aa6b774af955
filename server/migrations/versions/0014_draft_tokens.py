"""a draft's test token: ODK Collect fetches and submits to the draft under /v1/test/{token}/…
(docs/odk-compatibility.md#draft-testing)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('form_defs') as batch:
        batch.add_column(sa.Column('draft_token', sa.String(length=64), nullable=True))
    # Drafts that exist already get a token, as a new draft would.
    conn = op.get_bind()
    from server.models.accounts import new_token

    rows = conn.execute(sa.text('SELECT form_defs.id FROM form_defs JOIN forms ON forms.draft_def_id = form_defs.id '
                                'WHERE form_defs.published_at IS NULL')).all()
    for (def_id,) in rows:
        conn.execute(sa.text('UPDATE form_defs SET draft_token = :t WHERE id = :i'), {'t': new_token(), 'i': def_id})


def downgrade() -> None:
    with op.batch_alter_table('form_defs') as batch:
        batch.drop_column('draft_token')
