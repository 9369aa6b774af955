"""Files meant for a spreadsheet never carry a live formula (OWASP's CSV injection); Central's own
CSV stays byte for byte Central's, formulas and all, as Central writes it."""
from __future__ import annotations

import csv
import io
import random
import zipfile

import pytest

from collect import submit
from server.exports.spreadsheet import inert
from server.indicators.tables import follow_up_csv, report_csv
from server.synthetic import random_household, to_xml

NAME, PHONE, INSTANCE, MEMBER = "=1+2", "@SUM(1)", "=cmd|' /C calc'!A0", "-2+3"


@pytest.mark.parametrize("cell, written", [
    ("=1+2", "'=1+2"), ("@SUM(1)", "'@SUM(1)"), ("+84 905 123 456", "'+84 905 123 456"), ("-2+3", "'-2+3"),
    ("\tx", "'\tx"), ("\r=1", "'\r=1"), ("-A1", "'-A1"),
    ("-5", "-5"), ("+84905123456", "+84905123456"), ("-12.5e3", "-12.5e3"), ("Nguyễn =A", "Nguyễn =A"),
    ("", ""), (None, None), (-5, -5), (3.5, 3.5),
])
def test_a_cell_that_starts_a_formula_gets_a_quote_and_a_number_stays_a_number(cell, written):
    assert inert(cell) == written


@pytest.fixture
def hostile(client, survey, key_base):
    h = random_household(random.Random(7), "DN-HV-HP-01", members=2)
    h.respondent, h.phone, h.members[0].name = NAME, PHONE, MEMBER
    assert submit(client, key_base, to_xml(h, instance_name=INSTANCE)).status_code == 201
    return h


def cells(data: bytes) -> set[str]:
    return {c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row}


def live(found: set[str]) -> set[str]:
    return {c for c in found if c in (NAME, PHONE, INSTANCE, MEMBER)}


@pytest.mark.parametrize("query", ["bom=true", "labels=vi", "labels=en&bom=true"])
def test_submissions_csv_meant_for_excel_has_no_live_formula(admin, survey, hostile, query):
    found = cells(admin.get(f"{survey}/submissions.csv?{query}").data)
    assert not live(found)
    assert {"'" + NAME, "'" + PHONE, "'" + INSTANCE} <= found


def test_the_csv_zip_with_a_bom_has_no_live_formula_in_any_table(admin, survey, hostile):
    archive = zipfile.ZipFile(io.BytesIO(admin.get(f"{survey}/submissions.csv.zip?attachments=false&bom=true").data))
    found = set().union(*(cells(archive.read(n)) for n in archive.namelist()))
    assert not live(found)
    assert {"'" + NAME, "'" + MEMBER} <= found


def test_the_person_table_has_no_live_formula(admin, survey, hostile):
    found = cells(admin.get(f"{survey}/persons.csv").data)
    assert not live(found)
    assert {"'" + MEMBER, "'" + NAME} <= found


def test_centrals_own_csv_keeps_the_answers_as_typed(admin, survey, hostile):
    plain = admin.get(f"{survey}/submissions.csv").data
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert {NAME, PHONE, INSTANCE} <= cells(plain)
    archive = zipfile.ZipFile(io.BytesIO(admin.get(f"{survey}/submissions.csv.zip?attachments=false").data))
    assert MEMBER in set().union(*(cells(archive.read(n)) for n in archive.namelist()))


def test_the_follow_up_and_indicator_csvs_have_no_live_formula():
    follow = follow_up_csv({"households": [{"area": "DN-HV-HP-01", "name": NAME, "address": "@x", "phone": PHONE,
                                            "count": 2, "people": [MEMBER, None], "instanceId": "uuid:1",
                                            "instanceName": INSTANCE, "duplicateOf": []}]})
    found = cells(follow.encode())
    assert not live(found) and {"'" + NAME, "'@x", "'" + PHONE, "'" + INSTANCE} <= found
    report = report_csv({"areas": [{"code": "=A1", "name": "+1-1", "level": "village", "households": 3,
                                    "expectedHouseholds": 5, "coverage": 60.0, "achieved": None,
                                    "indicators": [{"name": "@ind", "numerator": 1, "denominator": 3, "value": -33.3,
                                                    "ciLow": -1.5, "ciHigh": 80, "comparator": ">=", "target": 50,
                                                    "met": False}]}]})
    row = list(csv.reader(io.StringIO(report)))[1]
    assert row[:2] == ["'=A1", "'+1-1"] and row[7] == "'@ind" and row[10:12] == ["-33.3", "-1.5"]


def test_inert_row_looks_at_each_cell_whenever_one_might_start_a_formula():
    from server.exports.spreadsheet import inert_row

    assert inert_row(["a", None, "", "b"]) == ["a", None, "", "b"]
    assert inert_row(("x", "=1+2", None)) == ["x", "'=1+2", None]
    assert inert_row(["x\x00=1", "@A1"]) == ["x\x00=1", "'@A1"]      # a NUL inside a text: cell by cell
    assert inert_row(["x\x00=1", "y"]) == ["x\x00=1", "y"]
    assert inert_row([1, 0, "-A1", "-5"]) == [1, 0, "'-A1", "-5"]    # numbers among the cells
    assert inert_row(["\tx", "\ry", "+84 9"]) == ["'\tx", "'\ry", "'+84 9"]
