"""Uploaded files that are built to hurt: form IDs that no route can reach, and workbooks that are
zip bombs. Each is refused with a 400 or 413 that names the problem, and nothing is stored."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from conftest import XLSX
from test_forms import post_xml, xform


def xlsform(form_id: str = "ho_gia_dinh") -> bytes:
    """A one-question XLSForm workbook with `form_id` in its settings sheet."""
    wb = Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["text", "ten", "Tên chủ hộ"])
    settings = wb.create_sheet("settings")
    settings.append(["form_id", "form_title"])
    settings.append([form_id, "Hộ gia đình"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def form_count(admin, project) -> int:
    return len(admin.get(f"/v1/projects/{project}/forms").get_json())


# --- form IDs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("form_id, named", [
    ("ho&#13;&#10;X-Injected: 1", "control character"),
    ("ho&#9;tab", "control character"),
    ("a/b", "slash"),
    ("../../etc", "slash"),
    ("..", "'..'"),
    ("ho..x", "'..'"),
    ("x" * 5000, "5,000 characters"),
    ("x" * 65, "at most 64"),
])
def test_an_xform_whose_id_no_route_can_carry_is_refused(admin, project, form_id, named):
    resp = post_xml(admin, project, xform(form_id))
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert named in resp.get_json()["message"]
    assert form_count(admin, project) == 0


def test_an_xlsform_with_a_slash_in_its_form_id_is_refused(admin, project):
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=xlsform("ho/gia_dinh"), content_type=XLSX)
    assert resp.status_code == 400 and "slash" in resp.get_json()["message"]
    assert form_count(admin, project) == 0


@pytest.mark.parametrize("form_id", ["ho_gia_dinh", "Ho-Gia.Dinh_2026", "x" * 64, "hộ_gia_đình"])
def test_ordinary_form_ids_are_accepted(admin, project, form_id):
    resp = post_xml(admin, project, xform(form_id))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["xmlFormId"] == form_id
    assert admin.get(f"/v1/projects/{project}/forms/{form_id}").status_code == 200
