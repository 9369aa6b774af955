"""The household survey that ships in xlsforms/: it publishes cleanly, in Vietnamese and English,
with the area registry as its location-cascade media."""
import csv
import shutil

import pytest

from collect import COLLECT_GET, entries
from helpers import XLSFORMS, XLSX, app_user

SURVEY = XLSFORMS / "household_digital_survey.xlsx"
AREAS = XLSFORMS / "areas.csv"


def test_survey_publishes_without_warnings_and_serves_its_area_list(admin, client, project):
    resp = admin.post(f"/v1/projects/{project}/forms?publish=false", data=SURVEY.read_bytes(), content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    form = resp.get_json()
    assert (form["xmlFormId"], form["version"]) == ("household_digital_survey", "2026112301")
    assert form["warnings"] == []
    assert form["name"] == "Khảo sát chuyển đổi số hộ gia đình"
    base = f"/v1/projects/{project}/forms/household_digital_survey"
    assert [a["name"] for a in admin.get(f"{base}/draft/attachments").get_json()] == ["areas.csv"]
    admin.post(f"{base}/draft/attachments/areas.csv", data=AREAS.read_bytes(), content_type="text/csv")
    assert admin.post(f"{base}/draft/publish").status_code == 200
    xml = admin.get(f"{base}.xml").get_data(as_text=True)
    assert 'lang="Tiếng Việt (vi)"' in xml and 'lang="English (en)"' in xml
    assert "jr://file-csv/areas.csv" in xml
    au = app_user(admin, project, "household_digital_survey")
    [entry] = entries(client.get(f"/v1/key/{au['token']}/projects/{project}/formList", headers=COLLECT_GET))
    assert entry["manifestUrl"].endswith("/forms/household_digital_survey/manifest")


def test_area_registry_is_a_consistent_tree():
    rows = list(csv.DictReader(AREAS.open(encoding="utf-8")))
    assert list(rows[0]) == ["code", "name", "level", "parent", "expected_households", "expected_residents"]
    by_code = {r["code"]: r for r in rows}
    assert len(by_code) == len(rows)
    order = ["province", "district", "commune", "village"]
    for r in rows:
        assert r["level"] in order
        if r["level"] == "province":
            assert r["parent"] == ""
        else:
            parent = by_code[r["parent"]]
            assert order.index(parent["level"]) == order.index(r["level"]) - 1
    hoa_phuoc = [r for r in rows if r["level"] == "commune" and r["name"] == "Xã Hòa Phước"]
    assert len(hoa_phuoc) == 1
    villages = [r for r in rows if r["parent"] == hoa_phuoc[0]["code"]]
    assert sum(int(v["expected_households"]) for v in villages) == 3800


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for ODK Validate")
def test_survey_passes_odk_validate(settings):
    from dataclasses import replace

    from server.models.form_versions import read_definition

    definition = read_definition(SURVEY.read_bytes(), replace(settings, odk_validate="on"))
    assert definition.validation["odkValidate"] == "passed"
    assert definition.info.media == {"areas.csv": "file"}


FOLLOWUP = XLSFORMS / "household_followup.xlsx"


def test_survey_registers_each_household_in_the_households_list(admin, project):
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=SURVEY.read_bytes(), content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    dataset = admin.get(f"/v1/projects/{project}/datasets/households").get_json()
    names = {p["name"] for p in dataset["properties"]}
    assert {"area_code", "address", "head_name", "phone", "vneid_level2", "smartphone", "bank_account", "ewallets",
            "public_services_account", "digital_signature", "fixed_broadband", "hh_ecommerce",
            "ecommerce_platforms", "cashless"} <= names


def test_followup_form_picks_a_household_of_the_register_and_updates_it(admin, project):
    admin.post(f"/v1/projects/{project}/forms?publish=true", data=SURVEY.read_bytes(), content_type=XLSX)
    resp = admin.post(f"/v1/projects/{project}/forms?publish=false", data=FOLLOWUP.read_bytes(), content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    form = resp.get_json()
    assert (form["xmlFormId"], form["name"], form["warnings"]) == ("household_followup", "Thăm lại hộ gia đình", [])
    base = f"/v1/projects/{project}/forms/household_followup"
    assert sorted(a["name"] for a in admin.get(f"{base}/draft/attachments").get_json()) == ["areas.csv", "households.csv"]
    xml = admin.get(f"{base}/draft.xml").get_data(as_text=True)
    assert 'update="1"' in xml and "instance('households')/root/item[name=" in xml
    assert 'lang="Tiếng Việt (vi)"' in xml and "Ai đã có tài khoản VNeID mức 2?" in xml


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for ODK Validate")
def test_followup_passes_odk_validate(settings):
    from dataclasses import replace

    from server.models.form_versions import read_definition

    definition = read_definition(FOLLOWUP.read_bytes(), replace(settings, odk_validate="on"))
    assert definition.validation["odkValidate"] == "passed"
    assert definition.info.media == {"areas.csv": "file", "households.csv": "file"}


def test_shipped_forms_are_rebuilt_byte_for_byte(tmp_path):
    import subprocess
    import sys

    for script, built in (("build_household_survey.py", SURVEY), ("build_household_followup.py", FOLLOWUP)):
        out = tmp_path / built.name
        subprocess.run([sys.executable, str(XLSFORMS / script), str(out)], check=True, capture_output=True)
        assert out.read_bytes() == built.read_bytes(), f"{built.name} is stale: run xlsforms/{script}"
