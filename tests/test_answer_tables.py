"""The answer tables (d{form} and one d{form}_r{n} per repeat, server/models/form_data.py) carry no foreign
key to submissions on PostgreSQL, which checked it once per roster row at intake. What the key gave is
kept by the code there: rows are written with their submission, deleted before it, and read through it.
SQLite keeps the key: it gives a removed submission's id to the next one."""
import io
import random
import zipfile

import pytest
from alembic import command
from sqlalchemy import inspect, text

from collect import submit
from helpers import FORM, table
from server.cli import alembic_config, upgrade_database
from server.synthetic import random_household, to_xml


def _answer_tables(app) -> list[str]:
    with app.extensions["hamlet.engine"].connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT table_name FROM form_tables ORDER BY table_name"))]


def _foreign_keys(app, tables: list[str]) -> dict[str, list[str]]:
    with app.extensions["hamlet.engine"].connect() as conn:
        found = inspect(conn)
        return {t: [fk["referred_table"] for fk in found.get_foreign_keys(t)] for t in tables}


def _expected_keys(app) -> list[str]:
    return [] if app.extensions["hamlet.engine"].dialect.name == "postgresql" else ["submissions"]


def test_a_published_forms_answer_tables_have_no_foreign_key_on_postgresql(app, survey):
    tables = _answer_tables(app)
    assert len(tables) >= 2, "the household survey has a root table and a roster table at least"
    assert _foreign_keys(app, tables) == {t: _expected_keys(app) for t in tables}


def test_upgrading_drops_the_keys_older_versions_made_on_postgresql_only(app, survey, database_url):
    tables = _answer_tables(app)
    engine = app.extensions["hamlet.engine"]
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # as migrations up to 0022 made them
            for t in tables:
                conn.execute(text(f"ALTER TABLE {t} ADD FOREIGN KEY (submission_id) REFERENCES submissions (id) "
                                  "ON DELETE CASCADE"))
    assert _foreign_keys(app, tables) == {t: ["submissions"] for t in tables}
    command.downgrade(alembic_config(database_url), "0022")
    upgrade_database(database_url)
    assert _foreign_keys(app, tables) == {t: _expected_keys(app) for t in tables}


@pytest.mark.postgresql_only
def test_a_households_rows_are_written_with_it_and_read_only_through_it(app, admin, client, survey, key_base):
    """A roster row whose submission is gone (removed by hand, outside Hamlet) is never read: every export
    and OData page joins submissions."""
    household = random_household(random.Random(7), "DN-HV-HP-01", members=4)
    assert submit(client, key_base, to_xml(household)).status_code == 201
    root, roster = sorted(_answer_tables(app), key=len)
    with app.extensions["hamlet.engine"].begin() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {root}")).scalar() == 1
        assert conn.execute(text(f"SELECT count(*) FROM {roster}")).scalar() == 4
        gone = conn.execute(text("SELECT max(id) + 1000 FROM submissions")).scalar()
        conn.execute(text(f"INSERT INTO {root} (submission_id) VALUES ({gone})"))
        conn.execute(text(f"INSERT INTO {roster} (submission_id, row_key, parent_key) "
                          f"VALUES ({gone}, 'uuid:gone/members[1]', 'uuid:gone')"))
    zipped = zipfile.ZipFile(io.BytesIO(admin.get(f"{survey}/submissions.csv.zip").data))
    assert [r["KEY"] for r in table(zipped.read(f"{FORM}.csv"))] == [household.instance_id]
    members = table(zipped.read(f"{FORM}-members.csv"))
    assert len(members) == 4 and {r["PARENT_KEY"] for r in members} == {household.instance_id}
    odata = admin.get(f"{survey}.svc/Submissions.household.members?$count=true").get_json()
    assert odata["@odata.count"] == 4
