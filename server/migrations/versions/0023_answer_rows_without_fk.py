"""answer tables (d{form}, d{form}_r{n}) without their foreign key to submissions: PostgreSQL checked it
for every roster row at intake (server/models/form_data.py `_table`)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 04:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        # SQLite keeps the key (server/models/form_data.py `_table`: it reuses a removed submission's id).
        return
    keys = bind.execute(sa.text(
        "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c "
        "JOIN form_tables t ON c.conrelid = to_regclass(t.table_name) "
        "WHERE c.contype = 'f' AND c.confrelid = 'submissions'::regclass ORDER BY 1, 2")).all()
    for table, name in keys:
        op.drop_constraint(name, table, type_="foreignkey")


def downgrade() -> None:
    # Nothing relied on the keys (submissions are hidden, not deleted; test submissions' rows are deleted
    # first), so the tables are left as they are.
    pass
