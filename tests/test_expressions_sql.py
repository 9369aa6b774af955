"""Indicator expressions compiled to SQL (server/indicators/sql_expressions.py) against the Python evaluator:
each supported form, over answers chosen to catch the differences (absent, empty, numbers that are not
plain, other whitespace), must give the same truth value on every row SQL computes, and mark the others
odd. Which forms compile is checked on either database; the comparison needs PostgreSQL."""
from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from server.indicators.expressions import compile_expression, parse
from server.indicators.sql_expressions import NotCompilable, Parameters, Reads, compile_condition

COLUMNS = {"age": "a", "yes": "b", "list": "c"}
ROWS = [
    # age, yes, list
    ("15", "yes", "momo zalopay"), ("14", "no", "none"), (None, None, None), ("", "", ""), ("60", "yes", "none momo"),
    ("61", "YES", " momo  "), ("-3", "yes ", "zalopay"), ("007", "no", "momo\tnone"), ("1.5", "yes", "a\u00a0b"),
    (" 20", "yes", "momo"), ("1e2", "no", ""), ("abc", "yes", "none"), ("0", "yes", "momo momo"),
    ("1234567890123456", "no", "x"), ("-", "yes", "y"), ("5-", "yes", "z"),
]
SUPPORTED = [
    "${age} >= 15", "${age} >= 15 and ${age} <= 60", "${age} < 15 or ${yes} = 'yes'", "${age} = 15", "${age} != 15",
    "${yes} = 'yes'", "${yes} != 'yes'", "'yes' = ${yes}", "${yes} = ${list}", "${yes}", "not(${yes})",
    "boolean(${age})", "${yes} = true()", "${age} = false()", "true()", "false()", "-${age} < -14",
    "number(${age}) > 10", "selected(${list}, 'momo')", "selected(${list}, ' none ')", "selected(${list}, '')",
    "count-selected(${list}) > 0", "count-selected(${list}) = 2",
    "${yes} = 'yes' or (count-selected(${list}) > 0 and not(selected(${list}, 'none')))",
    "${age} >= 15 and ${missing} = ''", "${age} = '15'", "${missing} > 1", "selected(${missing}, 'x')",
]
NOT_SUPPORTED = ["${age} + 1 > 15", "${yes} < 'z'", "string-length(${yes}) > 2", "if(${yes}, 1, 0) = 1",
                 "contains(${yes}, 'y')", "number('15') = ${age}", "concat(${yes}, 'x') = 'yesx'", "regex(${yes}, '^y')"]


def _column(name: str) -> str:
    return f"t.{COLUMNS[name]}" if name in COLUMNS else "NULL"


@pytest.mark.parametrize("expression", NOT_SUPPORTED)
def test_what_does_not_compile_is_left_to_python(expression):
    with pytest.raises(NotCompilable):
        compile_condition(parse(expression), _column, Parameters(), Reads())


def _by_sql_and_by_python(app, expression: str, rows: list[tuple]) -> tuple[list, list, Reads]:
    """Each row's (n, answer, is odd) by the compiled SQL, the Python evaluator's answers, and what the
    SQL read; rows are (age, yes, list)."""
    params, reads = Parameters(), Reads()
    sql = compile_condition(parse(expression), _column, params, reads)
    odd = reads.odd(params)
    with app.extensions["hamlet.engine"].connect() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE t (n integer, a text, b text, c text)"))
        conn.execute(text("INSERT INTO t VALUES (:n, :a, :b, :c)"),
                     [{"n": i, "a": a, "b": b, "c": c} for i, (a, b, c) in enumerate(rows)])
        got = conn.exec_driver_sql(f"SELECT n, {sql}, {odd} FROM t ORDER BY n", params.values).all()
        conn.rollback()
    frame = pd.DataFrame([{"age": a, "yes": b, "list": c, "missing": None} for a, b, c in rows])
    return got, compile_expression(expression, as_boolean=True)(frame).tolist(), reads


@pytest.mark.postgresql_only
@pytest.mark.parametrize("expression", SUPPORTED)
def test_each_supported_form_gives_the_python_evaluator_s_answers(app, expression):
    got, expected, reads = _by_sql_and_by_python(app, expression, ROWS)
    computed = [(n, value) for n, value, is_odd in got if not is_odd]
    assert all(value is not None for _, value in computed)
    assert computed == [(n, expected[n]) for n, _ in computed]
    odd_rows = {n for n, _, is_odd in got if is_odd}
    # only answers SQL would read differently are odd: numbers that are not plain, other whitespace in lists
    assert odd_rows <= {7, 8, 9, 10, 11, 13, 14, 15}
    if "age" in reads.numbers or any("t.a" in c for c in reads.numbers):
        assert {8, 9, 10, 11, 13, 14, 15} <= odd_rows


# More answers: numbers of other shapes (signs, zeros, other scripts' digits, 15 and 16 digits, edge spaces),
# lists with LIKE and regular-expression specials, several spaces, edge spaces, whitespace SQL leaves to Python.
MORE_ROWS = [
    # age, yes, list
    ("-0", "", "% _"), ("1.0", "", "a_b"), ("\u0663", "", "."), ("+5", "", "a.b"),
    ("1234567890123456", "", "momo  zalopay"), ("123456789012345", "", " momo"), ("-123456789012345", "", "momo "),
    ("00", "", "%"), ("-", "", "a b"), ("", "", " "), (None, None, "momo\u00a0zalopay"), ("12 ", "", "momo\u2028"),
    ("0x10", "", "\u200bmomo"), ("\u0663\u0664", "", "momo\u200b"), ("-00", "", "MOMO"), ("99999999999999999999", "", "momomomo"),
    ("1_000", "", "mo"), ("Infinity", "", "momo,zalopay"), ("nan", "", "_"), ("-1234567890123456", "", "a%b"),
    ("--5", "", "\\"), ("5-5", "", "a\\b"), ("-015", "", "  momo   none  "), ("015", "", "none\tmomo"), ("14", "", "momo\n"),
    (" ", "", "\u3000"), ("\u00a015", "", "(a)"), ("1e1", "", "[a]"), ("٣", "", "a*"), ("0000000000000015", "", "^a$"),
]
MORE_SUPPORTED = [
    "${age} >= 0", "${age} = 0", "${age} < 0", "${age} = -0", "${age} >= 15", "${age} = 15", "${age} > 99999999999999",
    "selected(${list}, '%')", "selected(${list}, '_')", "selected(${list}, 'a_b')", "selected(${list}, '.')",
    "selected(${list}, 'a.b')", "selected(${list}, 'a%b')", "selected(${list}, 'momo')", "selected(${list}, 'momo ')",
    "selected(${list}, ' momo')", "selected(${list}, 'a b')", "selected(${list}, 'zalopay')", "selected(${list}, 'none')",
    "selected(${list}, 'mo')", "selected(${list}, '\\')", "selected(${list}, 'a*')", "selected(${list}, '(a)')",
    "selected(${list}, '[a]')", "selected(${list}, '^a$')", "selected(${list}, 'MOMO')",
    "count-selected(${list}) = 0", "count-selected(${list}) = 1", "count-selected(${list}) = 2",
    "count-selected(${list}) >= 3",
]


@pytest.mark.postgresql_only
@pytest.mark.parametrize("expression", MORE_SUPPORTED)
def test_more_answers_give_the_python_evaluator_s_answers(app, expression):
    got, expected, reads = _by_sql_and_by_python(app, expression, MORE_ROWS)
    computed = [(n, value) for n, value, is_odd in got if not is_odd]
    assert all(value is not None for _, value in computed)
    assert computed == [(n, expected[n]) for n, _ in computed]
    odd_rows = {n for n, _, is_odd in got if is_odd}
    plain_numbers = {i for i, (a, _, _) in enumerate(MORE_ROWS) if a in ("-0", "123456789012345", "-123456789012345",
                                                                         "00", "", None, "-00", "-015", "015", "14")}
    other_whitespace = {i for i, (_, _, c) in enumerate(MORE_ROWS) if c and any(ch.isspace() and ch != " " for ch in c)}
    if reads.numbers:
        assert odd_rows == set(range(len(MORE_ROWS))) - plain_numbers
    else:
        assert odd_rows == other_whitespace
