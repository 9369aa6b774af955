"""Hostile numbers in parameters and in answers: each gets a 400 that says what is wrong, or a page
or document that still renders; never a 500, never invalid JSON."""
from __future__ import annotations

import json
import uuid

import pytest

from helpers import inputs_xform, post_xml

POINTS_XFORM = inputs_xform("vi_tri", "Vị trí hộ", [("ten", "string", "Tên"), ("dien_tich", "decimal", "Diện tích"),
                                                   ("vi_tri", "geopoint", "Vị trí")])


def strict_json(data: bytes):
    """Parse as a strict JSON parser would: NaN and Infinity are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(data, parse_constant=refuse)


@pytest.fixture
def points(admin, project):
    """A published form with a geopoint and a decimal, and three submissions, one of them hostile."""
    assert post_xml(admin, project, POINTS_XFORM).status_code == 200
    base = f"/v1/projects/{project}/forms/vi_tri"
    answers = [("Hộ An", "120.5", "16.0544 108.2022 5 4.5"), ("Hộ hỏng", "1e400", "1e400 1e400 1 1"),
               ("Hộ Bình", "80", "16.06 108.21 1e400 1e308")]
    for name, area, where in answers:
        xml = (f'<data id="vi_tri" version="1"><ten>{name}</ten><dien_tich>{area}</dien_tich><vi_tri>{where}</vi_tri>'
               f"<meta><instanceID>uuid:{uuid.uuid4()}</instanceID></meta></data>")
        assert admin.post(f"{base}/submissions", data=xml.encode(), content_type="application/xml").status_code == 200
    return base


# --- non-finite numbers never reach JSON ----------------------------------------------------------

def test_one_infinite_geopoint_leaves_the_geojson_valid_with_that_geometry_null(admin, points):
    resp = admin.get(f"{points}/submissions.geojson")
    assert resp.status_code == 200
    features = {f["properties"]["ten"]: f for f in strict_json(resp.data)["features"]}
    assert features["Hộ An"]["geometry"] == {"type": "Point", "coordinates": [108.2022, 16.0544, 5]}
    assert features["Hộ hỏng"]["geometry"] is None
    assert features["Hộ hỏng"]["properties"]["dien_tich"] is None
    assert features["Hộ Bình"]["geometry"] == {"type": "Point", "coordinates": [108.21, 16.06]}


def test_odata_carries_infinite_numbers_as_null(admin, points):
    resp = admin.get(f"{points}.svc/Submissions")
    assert resp.status_code == 200
    rows = {r["ten"]: r for r in strict_json(resp.data)["value"]}
    assert rows["Hộ hỏng"]["dien_tich"] is None
    assert rows["Hộ hỏng"]["vi_tri"]["coordinates"] == [None, None, 1]


def test_the_apps_json_writes_non_finite_numbers_as_null(app):
    with app.app_context():
        assert strict_json(app.json.dumps({"a": float("inf"), "b": [float("nan"), 1.5], "c": (float("-inf"),)})) == \
            {"a": None, "b": [None, 1.5], "c": [None]}


# --- numbers and dates past what the database or datetime hold ------------------------------------

BIG = "99999999999999999999"


@pytest.mark.parametrize("query", [f"$top={BIG}", f"$skip={BIG}"])
def test_odata_paging_past_any_integer_is_400_naming_the_range(admin, points, query):
    resp = admin.get(f"{points}.svc/Submissions?{query}")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.11
    assert "2,147,483,647" in resp.get_json()["message"]


@pytest.mark.parametrize("query", [f"limit={BIG}", f"offset={BIG}", "limit=-5", "offset=abc"])
def test_rest_paging_past_any_integer_is_400(admin, points, query):
    resp = admin.get(f"{points}/submissions?{query}")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.11
    assert query.split("=")[0] in resp.get_json()["message"]


def test_rest_paging_within_range_still_pages(admin, points):
    assert len(admin.get(f"{points}/submissions?limit=2&offset=0").get_json()) == 2
    assert len(admin.get(f"{points}/submissions?limit=2147483647&offset=2").get_json()) == 1


def test_an_id_past_any_integer_is_404(admin, project, client):
    assert admin.get(f"/v1/projects/{BIG}").status_code == 404
    assert admin.get(f"/v1/projects/{project}/app-users/{BIG}/x").status_code == 404


# --- literals in an OData $filter at and past the ends of what is held ------------------------------

SUBMISSION_DATE = "__system/submissionDate"


@pytest.mark.parametrize("flt, rows", [
    (f"{SUBMISSION_DATE} lt 9999-12-31T23:59:59.999Z", 3),
    (f"{SUBMISSION_DATE} le 9999-12-31T23:59:59.999Z", 3),
    (f"{SUBMISSION_DATE} le 9999-12-31T23:59:59.9999Z", 3),
    (f"{SUBMISSION_DATE} gt 9999-12-31T23:59:59.999Z", 0),
    (f"{SUBMISSION_DATE} ge 9999-12-31T23:59:59.9995Z", 0),
    (f"{SUBMISSION_DATE} eq 9999-12-31T23:59:59.999Z", 0),
    (f"{SUBMISSION_DATE} ne 9999-12-31T23:59:59.999Z", 3),
    (f"{SUBMISSION_DATE} ge 0001-01-01", 3),
    (f"year({SUBMISSION_DATE}) lt 2147483647", 3),
    ("__system/submitterId ne 2147483647", 3),
])
def test_odata_filter_dates_and_numbers_at_the_ends_of_their_range_still_answer(admin, points, flt, rows):
    """`lt 9999-12-31T23:59:59.999Z` and `ge 0001-01-01` are "any time" to a script, as in Central."""
    resp = admin.get(f"{points}.svc/Submissions", query_string={"$filter": flt})
    assert resp.status_code == 200, resp.get_json()
    assert len(resp.get_json()["value"]) == rows


@pytest.mark.parametrize("flt, at, says", [
    (f"year({SUBMISSION_DATE}) eq {BIG}", 33, "-2,147,483,648 to 2,147,483,647"),
    (f"year({SUBMISSION_DATE}) eq 2147483648", 33, "-2,147,483,648 to 2,147,483,647"),
    (f"year({SUBMISSION_DATE}) gt -2147483649", 33, "-2,147,483,648 to 2,147,483,647"),
    (f"__system/submitterId eq {BIG}", 24, "-2,147,483,648 to 2,147,483,647"),
    ("__system/submitterId eq '2147483648'", 24, "-2,147,483,648 to 2,147,483,647"),
    (f"{BIG} eq {BIG}", 0, "-2,147,483,648 to 2,147,483,647"),
    (f"year({SUBMISSION_DATE}) lt 1e400", 33, "a finite number"),
    (f"{SUBMISSION_DATE} gt 0001-01-01T00:00:00+07:00", 27, "0001-01-01 to 9999-12-31 in UTC"),
    (f"{SUBMISSION_DATE} lt 9999-12-31T23:00:00-05:00", 27, "0001-01-01 to 9999-12-31 in UTC"),
    ("year(9999-12-31T23:00:00-05:00) eq 1", 5, "0001-01-01 to 9999-12-31 in UTC"),
])
def test_odata_filter_literals_past_what_is_held_are_400_naming_the_range(admin, points, flt, at, says):
    resp = admin.get(f"{points}.svc/Submissions", query_string={"$filter": flt})
    assert resp.status_code == 400, resp.data
    body = resp.get_json()
    assert body["code"] == 400.18
    assert body["message"].startswith("The OData filter expression you provided could not be parsed: ")
    assert f" at {at} " in body["message"] and says in body["message"]


@pytest.mark.parametrize("query", ["from=0001-01-01&to=9999-12-31", "to=9999-12-31T23:59:59%2B14:00", "from=0001-01-01"])
def test_exports_with_dates_at_the_ends_of_the_calendar_are_400(admin, points, query):
    resp = admin.get(f"{points}/submissions.csv?{query}")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.8
    assert "1900-01-01 and 9998-12-31" in resp.get_json()["message"]


def test_a_page_with_dates_at_the_ends_of_the_calendar_renders_and_says_so(admin, points, client, project):
    from web.helpers import Browserish

    page = Browserish(client).sign_in()
    resp = page.get(f"/projects/{project}/forms/vi_tri/submissions?from=0001-01-01&to=9999-12-31&submitter={BIG}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400  # the page, with each unusable filter said at its field
    assert html.count("Hãy chọn ngày trên lịch") == 2 and "Hãy chọn điều tra viên trong danh sách." in html
    assert page.get(f"/projects/{BIG}").status_code == 404


def test_the_submission_page_renders_an_accuracy_of_1e308(admin, points, client, project):
    from web.helpers import Browserish

    page = Browserish(client).sign_in()
    rows = admin.get(f"{points}/submissions").get_json()
    for row in rows:
        resp = page.get(f"/projects/{project}/forms/vi_tri/submissions/{row['instanceId']}")
        assert resp.status_code == 200, row
    xml = [admin.get(f"{points}/submissions/{r['instanceId']}.xml").get_data(as_text=True) for r in rows]
    assert any("1e308" in x for x in xml)


@pytest.mark.parametrize("target", ["/%0d%0aX", "/%0aSet-Cookie:%20x=1", "/projects%09"])
def test_sign_in_with_a_next_holding_control_characters_goes_home(client, target):
    from helpers import ADMIN_EMAIL, ADMIN_PASSWORD
    from web.helpers import Browserish

    page = Browserish(client)
    assert page.get(f"/sign-in?next={target}").status_code == 200
    resp = page.post(f"/sign-in?next={target}", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/projects"
    again = page.get(f"/sign-in?next={target}")  # signed in: straight to the target, if it were safe
    assert again.status_code == 302 and again.headers["Location"] == "/projects"
    assert "Set-Cookie: x" not in str(again.headers)


def test_the_dashboard_with_dates_at_the_ends_of_the_calendar_renders_and_says_so(admin, client, app, project):
    from web.dashboard_data import FORM, load
    from web.helpers import Browserish

    load(admin, client, app, project)
    page = Browserish(client).sign_in()
    query = "from=0001-01-01&to=9999-12-31"
    for path in (f"/projects/{project}/dashboard?{query}", f"/projects/{project}/forms/{FORM}/dashboard?{query}"):
        resp = page.get(path, follow_redirects=True)
        assert resp.status_code in (200, 400) and "<main" in resp.get_data(as_text=True), path
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)  # the form's dashboard says which dates it could not use
    assert "“0001-01-01”" in html and "“9999-12-31”" in html
    api = admin.get(f"/v1/projects/{project}/forms/{FORM}/indicators?{query}")
    assert api.status_code == 400 and "1900-01-01 and 9998-12-31" in api.get_json()["message"]
