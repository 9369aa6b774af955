"""The pages hold a manager limited to a commune to the same rule as the REST API (docs/security.md,
"Roles and area limits"): no button for what the whole project shares, and a 403 page saying why
when the action is posted anyway."""
from __future__ import annotations

import io

import pytest

from helpers import ADMIN_PASSWORD, FORM, HP, XLSFORMS, give

from .helpers import Browserish, make_user

WHY = f"Bạn chỉ giữ vai trò trong dự án này cho {HP}"


@pytest.fixture
def limited(app, client, field, admin_password_hash):  
    """A manager of Hòa Phước only, signed in to the pages."""
    actor_id = make_user(app, "truongxa@example.vn", admin_password_hash)
    give(field.admin, field.project, "manager", actor_id, [HP])
    browser = Browserish(client).sign_in("truongxa@example.vn", ADMIN_PASSWORD)
    browser.actor_id = actor_id
    return browser


def refused(resp, what: str) -> None:
    assert resp.status_code == 403, (what, resp.status_code)
    assert WHY in resp.get_data(as_text=True), what


def test_the_form_and_project_pages_offer_a_limited_manager_no_project_wide_change(field, limited):
    project = f"/projects/{field.project}"
    page = limited.get(project).get_data(as_text=True)
    assert 'id="upload"' not in page and "/app-users" not in page
    page = limited.get(f"{project}/forms/{FORM}").get_data(as_text=True)
    assert f"{project}/forms/{FORM}/publish" not in page and f"{project}/forms/{FORM}/state" not in page
    assert f"{project}/forms/{FORM}/draft" not in page


def test_posting_a_project_wide_change_anyway_gets_a_403_page_saying_why(field, limited):
    project = f"/projects/{field.project}"
    form = f"{project}/forms/{FORM}"
    limited.get(form)
    refused(limited.post(f"{form}/state", {"state": "closed"}), "close the form")
    refused(limited.post(f"{form}/draft"), "new draft")
    refused(limited.post(f"{form}/publish", {"version": "9"}), "publish")
    refused(limited.post(f"{form}/draft/discard"), "discard the draft")
    refused(limited.post(f"{form}/media", {"name": "areas.csv", "file": (io.BytesIO(b"code\n"), "areas.csv")},
                         content_type="multipart/form-data"), "media")
    xlsform = (XLSFORMS / "household_digital_survey.xlsx").read_bytes()
    refused(limited.post(f"{project}/forms", {"xlsform": (io.BytesIO(xlsform), "survey.xlsx")},
                         content_type="multipart/form-data"), "upload a form")
    assert field.admin.get(field.survey).get_json()["state"] == "open"
    assert field.admin.get(f"{field.survey}/draft").status_code == 404


def test_a_limited_manager_may_not_remove_a_role_held_for_the_whole_project(app, field, limited,
                                                                           admin_password_hash):
    chief = make_user(app, "giamdoc@example.vn", admin_password_hash, "manager", field.project)
    page = limited.get(f"/projects/{field.project}/roles")
    assert page.status_code == 200
    refused(limited.post(f"/projects/{field.project}/roles/{chief}/manager/remove"), "remove the chief")
    held = {(a["actorId"], a["roleId"]) for a in field.admin.get(f"/v1/projects/{field.project}/assignments").get_json()}
    assert (chief, 3) in held
    # A helper limited inside its commune is its to remove.
    helper = make_user(app, "totruong@example.vn", admin_password_hash)
    give(field.admin, field.project, "viewer", helper, ["DN-HV-HP-01"])
    limited.get(f"/projects/{field.project}/roles")
    resp = limited.post(f"/projects/{field.project}/roles/{helper}/viewer/remove")
    assert resp.status_code == 302
    held = {(a["actorId"], a["roleId"]) for a in field.admin.get(f"/v1/projects/{field.project}/assignments").get_json()}
    assert (helper, 4) not in held


def test_app_user_pages_and_their_keys_are_for_managers_of_the_whole_project(field, limited):
    base = f"/projects/{field.project}/app-users"
    key = field.admin.get(f"/v1/projects/{field.project}/app-users").get_json()[0]
    for path in (base, f"{base}/print", f"{base}/{key['id']}"):
        resp = limited.get(path)
        refused(resp, path)
        assert key["token"] not in resp.get_data(as_text=True)
    limited.get(f"/projects/{field.project}")
    refused(limited.post(base, {"name": "Tổ 9"}), "create")
    refused(limited.post(f"{base}/{key['id']}/revoke"), "revoke")
    refused(limited.post(f"{base}/{key['id']}/forms", {"form": []}), "take its forms")
    assert field.admin.get(f"/v1/projects/{field.project}/app-users").get_json()[0] == key
