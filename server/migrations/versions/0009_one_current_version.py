"""one current version per submission: a partial unique index on submission_defs

Racing edits of the same version could each store a version marked current (issue 13). The edit
now retires the old version with a conditional UPDATE (models/intake.py _edit); this index makes
a second current version impossible whatever the code does. Versions already left current by
such races are first reconciled with submissions.current_def_id, which names the one the server
has shown since.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE submission_defs SET current = false WHERE current AND EXISTS ("
        "SELECT 1 FROM submissions s WHERE s.id = submission_defs.submission_id "
        "AND s.current_def_id IS NOT NULL AND s.current_def_id <> submission_defs.id)"))
    op.create_index('uq_submission_defs_one_current', 'submission_defs', ['submission_id'], unique=True,
                    postgresql_where=sa.text('current'), sqlite_where=sa.text('current'))


def downgrade() -> None:
    op.drop_index('uq_submission_defs_one_current', table_name='submission_defs')
