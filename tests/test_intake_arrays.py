"""Intake's all-in-one INSERT sends each array as PostgreSQL's text form of a `text[]` (server/models/intake.py
`_text_array`): every value must come back exactly as sent, whatever quotes, backslashes or braces it holds,
in the household's and the roster's columns alike, and the roster's rows in the order they were sent."""
import os
import random

import pytest
from sqlalchemy import text

from collect import submit
from server.models.intake import _text_array
from server.synthetic import random_household, to_xml

TRICKY = [None, "", 'a"b', "c\\d", "NULL", " x ", "{}", ",", "é\n\t", '\\"', "{a,b}", "null"]

def test_text_array_quotes_every_element_and_escapes_backslash_and_quote():
    assert _text_array([]) == "{}"
    assert _text_array([None, "NULL", 'a"b', "c\\d"]) == '{NULL,"NULL","a\\"b","c\\\\d"}'

@pytest.mark.postgresql_only
def test_postgresql_reads_back_every_value_as_sent():
    import psycopg

    url = os.environ["HAMLET_TEST_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        got = conn.execute("SELECT CAST(%s AS text[])", (_text_array(TRICKY),)).fetchone()[0]
        assert got == TRICKY
        assert conn.execute("SELECT CAST(%s AS text[])", (_text_array([]),)).fetchone()[0] == []


SENT = ['a"b', "c\\d", "NULL", "null", "{}", "{a,b}", ",", "é\n\tx", '\\"', "😀 Đặng Thị Út", "[1, 2]",
          '{"k": 1}', "x->>0"]


def _column_values(app, survey_table_sql: str) -> list[tuple]:
    with app.extensions["hamlet.sessionmaker"]() as s:
        return [tuple(r) for r in s.execute(text(survey_table_sql))]


def _table(app, repeat_path: str) -> str:
    with app.extensions["hamlet.sessionmaker"]() as s:
        return s.execute(text("SELECT table_name FROM form_tables WHERE repeat_path = :p"), {"p": repeat_path}).scalar_one()


def _column(app, path: str) -> str:
    with app.extensions["hamlet.sessionmaker"]() as s:
        return s.execute(text("SELECT column_name FROM form_columns WHERE path = :p"), {"p": path}).scalar_one()


def test_every_answer_lands_as_sent_in_the_household_and_roster_tables(app, client, key_base, survey, flask_calls):
    first = random_household(random.Random(1), "DN-HV-HP-01", members=2)
    assert submit(client, key_base, to_xml(first)).status_code == 201   # by Flask: the key is new
    h = random_household(random.Random(2), "DN-HV-HP-01", members=len(SENT))
    h.respondent = SENT[0] + SENT[-1]
    for member, value in zip(h.members, SENT, strict=True):
        member.name = value
    seen = len(flask_calls)
    assert submit(client, key_base, to_xml(h)).status_code == 201
    assert len(flask_calls) == seen, "stored in front of Flask (on PostgreSQL, by the all-in-one statement)"
    household, members = _table(app, ""), _table(app, "household/members")
    respondent, name = _column(app, "respondent/respondent_name"), _column(app, "household/members/member_name")
    rows = _column_values(app, f"SELECT {respondent} FROM {household} ORDER BY submission_id")
    assert rows[-1] == (SENT[0] + SENT[-1],)
    names = _column_values(app, f"SELECT m.row_key, m.{name} FROM {members} m JOIN {household} h "
                                f"ON h.submission_id = m.submission_id ORDER BY m.id")
    assert [n for _, n in names[-len(SENT):]] == SENT
    assert [k for k, _ in names[-len(SENT):]] == [f"household/members[{i}]" for i in range(1, len(SENT) + 1)]
