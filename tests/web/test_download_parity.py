"""One builder for every download: `hamlet export`, the downloads page and the REST export with the
same options give the same bytes, for each format the command offers.

Zip files (the CSV zip and the XLSX) are compared by their member names, in order, and member bytes:
each entry's header carries the minute it was written (server/exports/zipstream.py), so two archives
of the same files may differ there and nowhere else."""
from __future__ import annotations

import io
import json
import random
import zipfile
from urllib.parse import urlencode

import pytest

from collect import submit
from helpers import AREAS, XLSFORMS
from server.synthetic import random_household, to_xml

FORM = "household_digital_survey"

# (format of `hamlet export`, its flags, the page's query, the REST query): the same options three ways.
# The page always writes a BOM in the person table and labels when headings are not field names.
WAYS = [
    ("csv", ["--media"], {"headings": "names"}, {}),
    ("xlsx", [], {"headings": "names"}, {}),
    ("geojson", [], {}, {}),
    ("persons", ["--labels", "vi"], {"headings": "vi"}, {"labels": "vi"}),
]
FILTERED = (["--area", "DN-HV-HP", "--review-state", "received"], {"area": "DN-HV-HP", "review": "received"},
            {"area": "DN-HV-HP", "reviewState": "received"})
KINDS = {"csv": "submissions.csv.zip", "xlsx": "submissions.xlsx", "geojson": "submissions.geojson",
         "persons": "persons.csv"}
SUFFIX = {"csv": ".csv.zip", "xlsx": ".xlsx", "geojson": ".geojson", "persons": "-persons.csv"}


def members(data: bytes) -> list[tuple[str, bytes]]:
    """A zip's (name, bytes) in archive order; anything else as one unnamed member."""
    if not data.startswith(b"PK"):
        return [("", data)]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(name, z.read(name)) for name in z.namelist()]


@pytest.fixture
def surveyed(app, admin, client, project, tmp_path):
    """The household survey with its areas and indicators workbook, and four households (rosters of
    2-4 people) in two communes, three with a house photo; one approved."""
    from server.cli import main

    resp = admin.post(f"/v1/projects/{project}/forms?publish=true",
                      data=(XLSFORMS / f"{FORM}.xlsx").read_bytes(),
                      content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert resp.status_code == 200, resp.get_json()
    admin.client.put(f"/v1/projects/{project}/areas", data=AREAS.encode(), content_type="text/csv",
                     headers={"Authorization": f"Bearer {admin.token}"})
    loaded = app.test_cli_runner().invoke(main, ["indicators", "load", str(XLSFORMS / "household_digital_targets.xlsx"),
                                                 "--project", str(project), "--form", FORM])
    assert loaded.exit_code == 0, loaded.output
    user = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    admin.post(f"/v1/projects/{project}/forms/{FORM}/assignments/app-user/{user['id']}")
    base = f"/v1/key/{user['token']}/projects/{project}"
    made = []
    for seed, village, size, photo in [(1, "DN-HV-HP-01", 3, True), (2, "DN-HV-HP-01", 4, True),
                                       (3, "DN-HV-HN-01", 2, False), (4, "DN-HV-HP-01", 2, True)]:
        h = random_household(random.Random(seed), village, members=size, photo=photo)
        h.village, h.commune = village, village.rsplit("-", 1)[0]
        files = {h.photo: b"\xff\xd8\xff\xe0 house %d" % seed} if photo else {}
        resp = submit(client, base, to_xml(h), files)
        assert resp.status_code == 201, resp.data
        made.append(h)
    admin.patch(f"/v1/projects/{project}/forms/{FORM}/submissions/{made[1].instance_id}", {"reviewState": "approved"})
    return made


def three_ways(app, admin, signed_in, project, tmp_path, fmt, flags, page_query, rest_query):
    """The file `hamlet export` writes, the page's download and the REST download, as bytes."""
    from server.cli import main

    out = tmp_path / fmt
    result = app.test_cli_runner().invoke(main, ["export", FORM, "--project", str(project), "--format", fmt, *flags,
                                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = (out / f"{FORM}{SUFFIX[fmt]}").read_bytes()
    page = signed_in.client.get(f"/projects/{project}/forms/{FORM}/downloads/{KINDS[fmt]}?{urlencode(page_query)}")
    rest = admin.get(f"/v1/projects/{project}/forms/{FORM}/{KINDS[fmt]}?{urlencode(rest_query)}")
    assert page.status_code == rest.status_code == 200, (page.get_data()[:300], rest.get_data()[:300])
    return written, page.data, rest.data


@pytest.mark.parametrize("fmt, flags, page_query, rest_query", WAYS, ids=[w[0] for w in WAYS])
def test_the_command_the_page_and_the_api_give_the_same_bytes(app, admin, signed_in, project, surveyed, tmp_path,
                                                              fmt, flags, page_query, rest_query):
    written, page, rest = three_ways(app, admin, signed_in, project, tmp_path, fmt, flags, page_query, rest_query)
    assert members(written) == members(page) == members(rest)
    if fmt == "csv":
        names = [name for name, _ in members(written)]
        assert names[:2] == [f"{FORM}.csv", f"{FORM}-members.csv"]
        assert sorted(n for n in names if n.startswith("media/")) == sorted(f"media/{h.photo}" for h in surveyed
                                                                           if h.photo)
    if fmt == "geojson":
        assert written == page == rest and len(json.loads(written)["features"]) == 4
    if fmt == "persons":
        assert written == page == rest and written.startswith(b"\xef\xbb\xbf")
        assert written.count(b"\n") == 1 + 3 + 4 + 2 + 2


@pytest.mark.parametrize("fmt, flags, page_query, rest_query", WAYS, ids=[w[0] for w in WAYS])
def test_with_the_same_filters_too(app, admin, signed_in, project, surveyed, tmp_path, fmt, flags, page_query,
                                   rest_query):
    cli_filters, page_filters, rest_filters = FILTERED
    written, page, rest = three_ways(app, admin, signed_in, project, tmp_path, fmt, [*flags, *cli_filters],
                                     {**page_query, **page_filters}, {**rest_query, **rest_filters})
    assert members(written) == members(page) == members(rest)
    _, everyone, _ = three_ways(app, admin, signed_in, project, tmp_path / "all", fmt, flags, page_query, rest_query)
    assert members(written) != members(everyone)   # the filters left households out


def test_without_media_the_command_is_the_csv_zip_with_client_audits(app, admin, project, surveyed, tmp_path):
    """`hamlet export` without --media: Central's `attachments=false`, keeping the client audit log."""
    from server.cli import main

    result = app.test_cli_runner().invoke(main, ["export", FORM, "--project", str(project), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rest = admin.get(f"/v1/projects/{project}/forms/{FORM}/submissions.csv.zip?attachments=false&clientAudits=true")
    assert rest.status_code == 200
    written = members((tmp_path / f"{FORM}.csv.zip").read_bytes())
    assert written == members(rest.data) and not [n for n, _ in written if n.startswith("media/")]


def test_a_client_audits_flag_that_is_not_a_boolean_is_refused(admin, project, surveyed):
    resp = admin.get(f"/v1/projects/{project}/forms/{FORM}/submissions.csv.zip?clientAudits=yes")
    assert resp.status_code == 400
    assert resp.get_json()["details"]["field"] == "clientAudits"
