"""On PostgreSQL the XLSX sheets' rows are made by the database (server/exports/xlsx_rows.py); they
must be the very bytes Python makes of the same cells, odd values included: texts needing escapes or
kept spaces, characters XML forbids, numbers of other scripts' digits, formulas, signs, line breaks.
On SQLite Python writes every file, and the comparison holds trivially."""
from __future__ import annotations

import io
import re
import zipfile

import pytest
from sqlalchemy import select, update

from helpers import downloads_by_database_and_by_python
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


def _spread(s, values: list[str], every: int = 2) -> None:
    """`values` written in turn over every other answer of every `every`-th row of each table."""
    form = s.scalar(select(Form))
    tables = data_tables(s, form.id)
    at = 0
    for table in [tables.root, *tables.repeats.values()]:
        answers = [c for c in table.c if c.name.startswith("c")]
        key = table.c.id if "id" in table.c else table.c.submission_id
        for n, row_id in enumerate(s.scalars(select(key).order_by(key))):
            if n % every:
                continue   # the other rows left plain
            row = {}
            for j, column in enumerate(answers):
                if (n + j) % 2 == 0:
                    row[column.name] = values[at % len(values)]
                    at += 1
            s.execute(update(table).where(key == row_id).values(row))


@pytest.fixture
def odd_households(app, households):
    """The five households with the odd values spread over every other household's answers and every
    other member's, an instance ID and device ID that need care too, and a plain household without a
    submitter."""
    with app.extensions["hamlet.sessionmaker"]() as s:
        _spread(s, ODD)
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


def test_a_text_too_long_for_an_excel_cell_is_cut_and_says_so_and_the_csv_keeps_it(app, admin, survey, households,
                                                                                   monkeypatch):
    """Excel refuses a workbook with a cell over 32,767 UTF-16 units; both ways of writing a sheet cut such a
    text alike, never inside a surrogate pair, and say so in the cell."""
    from server.exports.xlsx import CELL_LIMIT, CUT

    note = "Ghi chú rất dài của người phỏng vấn. " * 1200                  # 44,400 characters
    smiles = "\U0001F600" * 16384                                          # 16,384 characters, 32,768 units
    with app.extensions["hamlet.sessionmaker"]() as s:
        tables = data_tables(s, s.scalar(select(Form)).id)
        notes = tables.root.c[next(c for p, (r, c) in tables.columns.items() if p.endswith("/notes") and r == "")]
        first, second = s.scalars(select(tables.root.c.submission_id).order_by(tables.root.c.submission_id).limit(2))
        s.execute(update(tables.root).where(tables.root.c.submission_id == first).values({notes: note}))
        s.execute(update(tables.root).where(tables.root.c.submission_id == second).values({notes: smiles}))
        s.commit()
    paths = [f"{survey}/submissions.xlsx", f"{survey}/submissions.csv"]
    by_database, by_python = downloads_by_database_and_by_python(admin, paths, monkeypatch)
    assert by_database == by_python
    sheet = zipfile.ZipFile(io.BytesIO(by_python[paths[0]])).read("xl/worksheets/sheet1.xml").decode("utf-8")
    cells = [t for t in re.findall(r"<t(?: [^>]*)?>([^<]*)</t>", sheet) if t.endswith(CUT)]
    assert len(cells) == 2
    cut_note, cut_smiles = sorted(cells, key=lambda cell: cell.startswith("\U0001F600"))
    for cell, whole in [(cut_note, note), (cut_smiles, smiles)]:
        assert len(cell.encode("utf-16-le")) // 2 <= CELL_LIMIT
        assert whole.startswith(cell.removesuffix(CUT)) and len(cell) > CELL_LIMIT // 2
    assert cut_smiles.encode("utf-8")   # a lone half of a surrogate pair would not encode
    csv_text = by_python[paths[1]].decode("utf-8")
    assert note.strip() in csv_text and smiles in csv_text


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


# More values the SQL paths could read differently: its own marker characters (\x01-\x03) and tags, XML
# forbidden characters alone and at the edges, every kind of edge whitespace, line ends, texts past a
# cell's 32,767 characters, numbers of other shapes, quotes and CSV specials, formula starts after
# whitespace or a line break.
MORE = ["\x01", "\x02", "\x03", "a\x02b\x03", "\x025\x03", '<c t="inlineStr"><is><t>', "</t></is></c>", "<c/>",
        "\x02\x01\x03", "\ufffe", "\uffff", "x\uffff", "\x1c", "\x1fx", "x\x1e", "\x85x", "x\x85", "\u2029",
        "\u2028", "\u200bx", "x\u200b", "\ufeffx", "\u180ex", "\u205f", "\u202fx", "\u3000", " ", "\t", "\n",
        "\r", "\r\n", "a\r\nb", "a\n b", "a \nb", "\nx", "x\n", "a\tb", "a  b", "x" * 33000, "&" + "y" * 33000,
        " " + "z" * 33000, "&amp;", "&#1;", "]]>", "'", '"', '""', ',', 'a,"b"', "\\.", "\\N", "NULL", "null",
        "\uff11\uff12", "\u0663.\u0665", "5\n", "\n5", "-\n1", "=\n", "\t=1", " =1", "\u3000=1", "\n=1",
        "x\n-1", "x\r=1", "@", "-.5", "+.5", "-0.", "00", "-00", "0.50", "1234567890123456", "123456789012345",
        "-123456789012345", "123456789012345.25", "1E5", "0x10", "1,5", "١٢", "𝟙𝟚", "Ⅻ", "²",
        "\U0010ffff", "\U0001d7ce", "\x7f\x80\x9f", "a\u0301", "\u00a0", "\u00a05\u00a0"]
EXTRA_AREA_NAMES = {"DN": '=Đà, "Nẵng"', "DN-HV": "-1", "DN-HV-HP": " Hòa\tPhước ", "DN-HV-HP-01": "@\r\nA",
                    "DN-HV-HP-02": "", "DN-HV-HN-01": "+84 1"}


@pytest.fixture
def more_households(app, households):
    """The five households with MORE spread over every row's other answers, odd area names, and one
    household edited, one deleted."""
    from server.models.areas import Area

    with app.extensions["hamlet.sessionmaker"]() as s:
        _spread(s, MORE, every=1)
        for code, name in EXTRA_AREA_NAMES.items():
            s.execute(update(Area).where(Area.code == code).values(name=name))
        third = s.scalars(select(Submission.id).order_by(Submission.id).offset(2).limit(1)).one()
        s.execute(update(Submission).where(Submission.id == third).values(instance_id="\t@uuid:x", device_id=""))
        s.commit()
    return households


def test_more_values_give_the_same_bytes_by_database_and_by_python(admin, client, key_base, survey, more_households,
                                                                   database_url, monkeypatch):
    from collect import submit
    from server.synthetic import to_xml

    deleted = more_households[1].instance_id
    assert admin.delete(f"{survey}/submissions/{deleted}").status_code == 200
    edited = more_households[3]
    previous, edited.instance_id = edited.instance_id, "uuid:0b0e8a9c-0000-4000-8000-0000000000e1"
    edited.respondent = " =HYPERLINK(\"x\") "
    assert submit(client, key_base, to_xml(edited, deprecated_id=previous)).status_code == 201
    paths = [f"{survey}/submissions.xlsx", f"{survey}/submissions.xlsx?labelRow=en",
             f"{survey}/submissions.xlsx?groupPaths=false&deletedFields=true",
             f"{survey}/submissions.geojson?groupPaths=false", f"{survey}/persons.csv?area=DN-HV-HP&areaField=village",
             f"{survey}/persons.csv", f"{survey}/persons.csv?areaField=village", f"{survey}/persons.csv?bom=false",
             f"{survey}/submissions.geojson", f"{survey}/submissions.csv", f"{survey}/submissions.csv.zip"]
    used: list[bool] = []
    by_database, by_python = downloads_by_database_and_by_python(admin, paths, monkeypatch, used)
    for p in paths:
        assert by_database[p] == by_python[p], p
    assert used and all(used) == database_url.startswith("postgresql")
    sheet = zipfile.ZipFile(io.BytesIO(by_python[paths[0]])).read("xl/worksheets/sheet2.xml").decode("utf-8")
    assert "<c><v>-0.</v></c>" not in sheet
    # Past a cell's 32,767 characters the sheet cuts the text and says so (xlsx.fitted); the CSV keeps it whole.
    from server.exports.xlsx import CELL_LIMIT, CUT

    room = CELL_LIMIT - len(CUT)
    assert "x" * 33000 not in sheet and f"<t>{'x' * room}{CUT}</t>" in sheet
    assert f"<t>&amp;{'y' * (room - 1)}{CUT}</t>" in sheet
    csv_zip = zipfile.ZipFile(io.BytesIO(by_python[f"{survey}/submissions.csv.zip"]))
    assert any("x" * 33000 in csv_zip.read(n).decode("utf-8") for n in csv_zip.namelist() if n.endswith(".csv"))
    people = by_python[f"{survey}/persons.csv?areaField=village"].decode("utf-8")
    assert "'=Đà, \"\"Nẵng\"\"" in people and "'\t@uuid:x" in people
    assert '"Edits":1' in by_python[f"{survey}/submissions.geojson"].decode("utf-8")


def _values() -> list[str | None]:
    return [None, *dict.fromkeys(ODD + MORE)]


@pytest.mark.postgresql_only
@pytest.mark.parametrize("numeric", [False, True])
def test_each_value_alone_makes_the_xlsx_row_python_makes(app, numeric):
    """Each value alone between plain cells (so every value that needs no Python is made by SQL's
    concat_ws and replace()), as a text and as a number cell, against xlsx._row."""
    from sqlalchemy import Integer, Text, cast, func, literal

    from server.exports import xlsx

    flags = [False, numeric, True, False]
    plain = 0
    with app.extensions["hamlet.engine"].connect() as conn:
        for value in _values():
            cells = [literal("a", Text), func.nullif(literal(value, Text), ""), cast(literal(7), Integer),
                     func.nullif(literal("", Text), "")]
            made = conn.execute(select(*xlsx_rows._Finish(flags)(cells))).scalar_one()
            plain += made[0] != "["
            made = xlsx_rows.finished(made, [2], flags)
            python = xlsx._row(["a", value, 7, ""], flags, seen=[])
            assert made == python, repr(value)
    assert plain > 60   # most values are made by SQL alone


@pytest.mark.postgresql_only
def test_each_value_alone_makes_the_person_line_python_makes(app):
    """Each value alone among plain cells of a COPY record, against the csv module with inert()."""
    import csv

    from sqlalchemy import Text, case, func, literal, null

    from server.exports import persons_copy
    from server.exports.spreadsheet import inert_row

    plain = 0
    with app.extensions["hamlet.engine"].connect() as conn:
        for value in _values():
            cells = [func.nullif(literal(v, Text), "") for v in ("a", value, "5", value)]
            flag = case((persons_copy._again(cells), literal("1")), else_=null())
            made = b"".join(copy_csv.copy_chunks(conn, None, select(flag, *cells), persons_copy._inert_record))
            plain += not conn.execute(select(persons_copy._again(cells))).scalar_one()
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(inert_row(["a", value, "5", value]))
            assert made == buf.getvalue().encode("utf-8"), repr(value)
            conn.rollback()
    assert plain > 60


def test_an_encrypted_form_without_its_key_gives_the_same_bytes(admin, client, project, database_url, monkeypatch):
    from helpers import encrypted_form_with_one_submission

    form = encrypted_form_with_one_submission(admin, client, project)
    paths = [f"{form}/submissions.xlsx", f"{form}/submissions.geojson", f"{form}/submissions.csv.zip"]
    used: list[bool] = []
    by_database, by_python = downloads_by_database_and_by_python(admin, paths, monkeypatch, used)
    for p in paths:
        assert by_database[p] == by_python[p], p
    assert used and all(used) == database_url.startswith("postgresql")
    sheet = zipfile.ZipFile(io.BytesIO(by_python[paths[0]])).read("xl/worksheets/sheet1.xml")
    assert b"not decrypted" in sheet


def _wide_form(n: int, m: int) -> bytes:
    """A form of `n` root answers (texts, integers, decimals in turn), a geopoint and a repeat of `m`."""
    kinds = ["string", "int", "decimal"]
    root = "".join(f"<f{i}/>" for i in range(n))
    rep = "".join(f"<r{i}/>" for i in range(m))
    binds = "".join(f'<bind nodeset="/data/f{i}" type="{kinds[i % 3]}"/>' for i in range(n))
    binds += "".join(f'<bind nodeset="/data/people/r{i}" type="{kinds[i % 3]}"/>' for i in range(m))
    body = "".join(f'<input ref="/data/f{i}"><label>f{i}</label></input>' for i in range(n))
    body += ('<group ref="/data/people"><label>p</label><repeat nodeset="/data/people">'
             + "".join(f'<input ref="/data/people/r{i}"><label>r{i}</label></input>' for i in range(m))
             + "</repeat></group>")
    return f"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa">
<h:head><h:title>wide</h:title><model><instance><data id="wide" version="1">{root}<gps/><people>{rep}</people>
<meta><instanceID/></meta></data></instance>{binds}<bind nodeset="/data/gps" type="geopoint"/>
<bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/></model></h:head>
<h:body>{body}<input ref="/data/gps"><label>gps</label></input></h:body></h:html>""".encode()


def test_a_wide_form_gives_the_same_bytes_by_database_and_by_python(admin, client, project, database_url,
                                                                    monkeypatch):
    """More answers than one concat_ws() call takes (copy_csv.MAX_ARGUMENTS), some groups of them all empty."""
    from xml.sax.saxutils import escape

    from collect import submit
    from helpers import app_user, post_xml

    n, m = 230, 120
    assert post_xml(admin, project, _wide_form(n, m)).status_code == 200
    base = f"/v1/key/{app_user(admin, project, 'wide')['token']}/projects/{project}"
    values = [v for v in MORE + ODD if not any(c in v for c in "\x00\x01\x02\x03\x0b\x0c\x1c\x1d\x1e\x1f\x08\x7f")
              and "\ufffe" not in v and "\uffff" not in v and "\r" not in v and len(v) < 1000]
    at = 0

    def answer(k: int, i: int) -> str:
        nonlocal at
        if k == 1 or (k == 2 and i < 100) or (i // 90) % 3 == k % 3:
            return ""   # a submission without answers, and whole groups of 90 empty
        at += 1
        return escape(values[at % len(values)])

    for k in range(6):
        people = "".join("<people>" + "".join(f"<r{i}>{answer(k, i)}</r{i}>" for i in range(m)) + "</people>"
                         for _ in range(k % 3))
        xml = ('<data id="wide" version="1">' + "".join(f"<f{i}>{answer(k, i)}</f{i}>" for i in range(n))
               + f"<gps>{'16.1 108.2 1 2' if k % 2 else ''}</gps>{people}"
               + f"<meta><instanceID>uuid:wide-{k}</instanceID></meta></data>")
        assert submit(client, base, xml.encode()).status_code == 201
    form = f"/v1/projects/{project}/forms/wide"
    paths = [f"{form}/submissions.xlsx", f"{form}/submissions.geojson", f"{form}/persons.csv",
             f"{form}/submissions.csv.zip"]
    used: list[bool] = []
    by_database, by_python = downloads_by_database_and_by_python(admin, paths, monkeypatch, used)
    for p in paths:
        assert by_database[p] == by_python[p], p
    assert used and all(used) == database_url.startswith("postgresql")
    import csv

    members = list(csv.reader(io.StringIO(by_python[paths[2]].decode("utf-8-sig"), newline="")))
    assert len(members) == 1 + 6 and all(len(row) == len(members[0]) for row in members)
