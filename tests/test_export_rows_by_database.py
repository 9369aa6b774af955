"""On PostgreSQL the XLSX sheets' rows are made by the database (server/exports/xlsx_rows.py); they
must be the very bytes Python makes of the same cells, odd values included: texts needing escapes or
kept spaces, characters XML forbids, numbers of other scripts' digits, formulas, signs, line breaks.
On SQLite Python writes every file, and the comparison holds trivially."""
from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select, update

from server.exports import copy_csv, xlsx_rows
from server.models.form_data import data_tables
from server.models.forms import Form
from server.models.submissions import Submission

ODD = ["&<>", " lead", "trail ", "\u00a0nb", "x\u3000", "\x01ctl", "\x0b", "a\x1fb", "\ufffeq", "=1+2", "-5",
       "+84905", "-\u0663", "\u0663\u0664", "-1+1", "@SUM(1)", "\tTab", "\rcr", "a\rb", "line\nbreak", 'quo"te',
       "com,ma", "007", "1e5", "12.0", "1_000", "nan", "inf", "1e400", "-0", "-0.0", "0.0001", "1e-05",
       "123456789012345678", "1234567890123456.5", ".5", "5.", " 5", "5 ", "+5", "-12.5e3", "3.14159", "Lê Thu Yến",
       "\\.", "", "16.1 108.2 12.0 5.0", " 16.1 108.2", "16.1  108.2 1 2 3", "1e400 5", "-0 0 0 0", "\u2028x", "\x7f",
       "'quoted", "-", "+", "=", "\U0001F600", "\\", "0", "-1", "99999999999999999999", "1.0e+20", "\u0663"]


@pytest.fixture
def odd_households(app, households):
    """The five households with the odd values spread over every other household's answers and every
    other member's, an instance ID and device ID that need care too, and a plain household without a
    submitter."""
    with app.extensions["hamlet.sessionmaker"]() as s:
        form = s.scalar(select(Form))
        tables = data_tables(s, form.id)
        at = 0
        for table in [tables.root, *tables.repeats.values()]:
            answers = [c for c in table.c if c.name.startswith("c")]
            key = table.c.id if "id" in table.c else table.c.submission_id
            for n, row_id in enumerate(s.scalars(select(key).order_by(key))):
                if n % 2:
                    continue   # every other row left plain
                values = {}
                for j, column in enumerate(answers):
                    if (n + j) % 2 == 0:
                        values[column.name] = ODD[at % len(ODD)]
                        at += 1
                s.execute(update(table).where(key == row_id).values(values))
        first, second = s.scalars(select(Submission.id).order_by(Submission.id).limit(2))
        s.execute(update(Submission).where(Submission.id == first).values(instance_id="=uuid:odd", device_id=" dev&"))
        s.execute(update(Submission).where(Submission.id == second).values(submitter_id=None))   # an empty number
        s.commit()
    return households


def test_the_database_writes_the_xlsx_rows_as_python_does(admin, survey, odd_households, database_url, monkeypatch):
    made: list[int] = []
    row_xml = xlsx_rows.row_xml

    def counted(*args):
        made.append(1)
        return row_xml(*args)

    monkeypatch.setattr(xlsx_rows, "row_xml", counted)
    by_database = {q: admin.get(f"{survey}/submissions.xlsx?{q}").data for q in ("", "labelRow=en")}
    assert len(made) == (4 if database_url.startswith("postgresql") else 0)   # two sheets, twice
    monkeypatch.setattr(copy_csv, "usable", lambda *args, **kwargs: False)
    by_python = {q: admin.get(f"{survey}/submissions.xlsx?{q}").data for q in ("", "labelRow=en")}
    assert len(made) == (4 if database_url.startswith("postgresql") else 0)
    assert by_database == by_python
    sheet = zipfile.ZipFile(io.BytesIO(by_python[""])).read("xl/worksheets/sheet1.xml")
    assert b"<t>&amp;&lt;&gt;</t>" in sheet and b'<t xml:space="preserve">trail </t>' in sheet
    assert b"<c><v></v></c>" not in sheet


def test_the_database_writes_the_person_table_as_python_does(admin, survey, odd_households, database_url,
                                                              monkeypatch):
    from server.exports import persons_copy

    made: list[int] = []
    person_chunks = persons_copy.person_chunks

    def counted(*args):
        made.append(1)
        return person_chunks(*args)

    monkeypatch.setattr(persons_copy, "person_chunks", counted)
    queries = ("", "areaField=village", "area=DN-HV-HP&areaField=village", "bom=false")
    by_database = {q: admin.get(f"{survey}/persons.csv?{q}").data for q in queries}
    assert len(made) == (len(queries) if database_url.startswith("postgresql") else 0)
    monkeypatch.setattr(copy_csv, "usable", lambda *args, **kwargs: False)
    monkeypatch.setattr(copy_csv, "cells_usable", lambda *args, **kwargs: False)
    by_python = {q: admin.get(f"{survey}/persons.csv?{q}").data for q in queries}
    assert by_database == by_python
    text = by_python["areaField=village"].decode("utf-8")
    assert "'=1+2" in text and ",-5," in text and "Hòa Phước" in text


def test_the_database_makes_the_geojson_cells_as_python_does(admin, survey, odd_households, database_url,
                                                             monkeypatch):
    selected: list[int] = []
    root_select = copy_csv.root_select

    def counted(*args, **kwargs):
        selected.append(1)
        return root_select(*args, **kwargs)

    monkeypatch.setattr(copy_csv, "root_select", counted)
    by_database = admin.get(f"{survey}/submissions.geojson").data
    assert len(selected) == (1 if database_url.startswith("postgresql") else 0)
    monkeypatch.setattr(copy_csv, "cells_usable", lambda *args, **kwargs: False)
    by_python = admin.get(f"{survey}/submissions.geojson").data
    assert len(selected) == (1 if database_url.startswith("postgresql") else 0)
    assert by_database == by_python
    text = by_python.decode("utf-8")
    assert ':""' in text and '"Lê Thu Yến"' in text and '"\\u0001ctl"' in text and '"a\\rb"' in text


@pytest.mark.postgresql_only
def test_the_later_sheets_are_made_in_the_first_sheets_snapshot(app, admin, survey, households, monkeypatch):
    """The roster sheet is made on a second connection while the first sheet streams: it must see
    what the first one sees, not a roster changed in between."""
    def sheets(data: bytes) -> list[bytes]:
        archive = zipfile.ZipFile(io.BytesIO(data))
        return [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]

    before = sheets(admin.get(f"{survey}/submissions.xlsx").data)
    assert len(before) == 2 and before[1].count(b"<row>") > 2
    row_xml = xlsx_rows.row_xml
    later: list[int] = []

    def emptied_first(conn, export, plan):
        if plan.repeat is not None:   # the roster, on the second connection: empty the roster first
            later.append(1)
            with app.extensions["hamlet.sessionmaker"]() as s:
                for table in data_tables(s, s.scalar(select(Form)).id).repeats.values():
                    s.execute(table.delete())
                s.commit()
        return row_xml(conn, export, plan)

    monkeypatch.setattr(xlsx_rows, "row_xml", emptied_first)
    made = xlsx_rows.LaterSheets
    monkeypatch.setattr(xlsx_rows, "LaterSheets", lambda *args: later.append(0) or made(*args))
    assert sheets(admin.get(f"{survey}/submissions.xlsx").data) == before
    assert later == [0, 1]
    assert sheets(admin.get(f"{survey}/submissions.xlsx").data)[1].count(b"<row>") == 1   # the header alone: emptied


@pytest.mark.postgresql_only
def test_a_workbook_closed_early_stops_its_later_sheets(app, survey, households, monkeypatch):
    """A client gone mid-download: the roster sheet's thread stops and both connections go back."""
    from server.exports import xlsx, zipstream
    from server.exports.downloads import requested

    monkeypatch.setattr(zipstream, "CHUNK", 1)   # every write handed out at once: the first sheet streams
    engine = app.extensions["hamlet.engine"]
    started: list[object] = []
    made = xlsx_rows.LaterSheets
    monkeypatch.setattr(xlsx_rows, "LaterSheets", lambda *args: started.append(made(*args)) or started[-1])
    with app.extensions["hamlet.sessionmaker"]() as s:
        export = requested(s, s.scalar(select(Form)), {}, for_people=True).export
        chunks = xlsx.xlsx_chunks(engine, export)
        for _chunk in chunks:
            if started:
                break
        chunks.close()
    assert len(started) == 1 and started[0]._stop.is_set() and started[0]._conn.closed
    assert engine.pool.checkedout() == 0
