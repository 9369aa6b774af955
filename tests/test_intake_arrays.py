"""Intake's all-in-one INSERT sends each array as PostgreSQL's text form of a `text[]` (server/models/intake.py
`_text_array`): every value must come back exactly as sent, whatever quotes, backslashes or braces it holds."""
import os

import pytest

from server.models.intake import _text_array

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
