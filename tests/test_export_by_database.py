"""On PostgreSQL, Central's CSV files are written by the database (`COPY … TO STDOUT`, see
server/exports/copy_csv.py); they must be the very bytes the csv module writes from Python, with every
filter. Central's own odd values (a lone carriage return, geopoints split on JavaScript's whitespace)
are in test_export_central.py, which runs on both databases."""
from __future__ import annotations

import io
import zipfile

import pytest

from helpers import FORM
from server.exports import copy_csv

QUERIES = ["", "area=DN-HV-HP&areaField=village", "area=DN-HV-HN-01&areaField=village",
           "%24filter=__system%2FsubmissionDate%20ge%202000-01-01T00%3A00%3A00Z", "from=2000-01-01", "to=2000-01-01"]


def files(admin, survey, query: str) -> dict[str, bytes]:
    zipped = zipfile.ZipFile(io.BytesIO(admin.get(f"{survey}/submissions.csv.zip?attachments=false&{query}").data))
    out = {name: zipped.read(name) for name in zipped.namelist()}
    out["submissions.csv"] = admin.get(f"{survey}/submissions.csv?{query}").data
    return out


@pytest.mark.parametrize("query", QUERIES)
def test_the_database_writes_centrals_csv_files_as_python_does(admin, survey, households, database_url, monkeypatch,
                                                               query):
    written: list[int] = []
    copy_chunks = copy_csv.copy_chunks

    def counted(*args):
        written.append(1)
        return copy_chunks(*args)

    monkeypatch.setattr(copy_csv, "copy_chunks", counted)
    by_database = files(admin, survey, query)
    monkeypatch.setattr(copy_csv, "usable", lambda *args: False)
    by_python = files(admin, survey, query)
    assert by_database == by_python
    assert set(by_database) == {f"{FORM}.csv", f"{FORM}-members.csv", "submissions.csv"}
    # The zip's two tables and the root CSV: by COPY on PostgreSQL, by the csv module on SQLite.
    assert len(written) == (3 if database_url.startswith("postgresql") else 0)


def test_labels_a_bom_and_split_select_multiples_stay_with_python(admin, survey, households, monkeypatch):
    def refused(*args):
        raise AssertionError("written by the database")

    monkeypatch.setattr(copy_csv, "copy_chunks", refused)
    for query in ("labels=vi", "bom=true", "splitSelectMultiples=true"):
        resp = admin.get(f"{survey}/submissions.csv.zip?attachments=false&{query}")
        assert resp.status_code == 200, query
        assert len(zipfile.ZipFile(io.BytesIO(resp.data)).namelist()) == 2
