"""Hostile numbers in parameters and in answers: each gets a 400 that says what is wrong, or a page
or document that still renders; never a 500, never invalid JSON."""
from __future__ import annotations

import json
import uuid

import pytest

from test_forms import post_xml

POINTS_XFORM = """<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa">
  <h:head>
    <h:title>Vị trí hộ</h:title>
    <model>
      <instance><data id="vi_tri" version="1"><ten/><dien_tich/><vi_tri/><meta><instanceID/></meta></data></instance>
      <bind nodeset="/data/ten" type="string"/>
      <bind nodeset="/data/dien_tich" type="decimal"/>
      <bind nodeset="/data/vi_tri" type="geopoint"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
    </model>
  </h:head>
  <h:body>
    <input ref="/data/ten"><label>Tên</label></input>
    <input ref="/data/dien_tich"><label>Diện tích</label></input>
    <input ref="/data/vi_tri"><label>Vị trí</label></input>
  </h:body>
</h:html>"""


def strict_json(data: bytes):
    """Parse as a strict JSON parser would: NaN and Infinity are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(data, parse_constant=refuse)


@pytest.fixture
def points(admin, project):
    """A published form with a geopoint and a decimal, and three submissions, one of them hostile."""
    assert post_xml(admin, project, POINTS_XFORM.encode()).status_code == 200
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
