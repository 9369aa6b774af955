"""The real pyodk client (1.3.0) against a live Hamlet: login, projects, forms, app users."""
import hashlib

import pytest

pyodk_client = pytest.importorskip("pyodk.client")

from helpers import CORPUS, xform  # noqa: E402


def test_login_and_projects_list(odk, project):
    projects = odk.projects.list()
    assert [(p.id, p.name) for p in projects] == [(project, "Phường Thạc Gián")]
    assert odk.projects.get(project).name == "Phường Thạc Gián"


def test_forms_create_from_xlsform_with_attachments_then_list_and_get(odk, project, tmp_path):
    form = odk.forms.create(definition=CORPUS / "collect-external-csv-cascade/form.xml",
                            attachments=sorted((CORPUS / "collect-external-csv-cascade/form-media").iterdir()))
    assert form.xmlFormId == "ecsv"
    listed = odk.forms.list()
    assert [f.xmlFormId for f in listed] == ["ecsv"]
    got = odk.forms.get("ecsv")
    assert got.publishedAt is not None and got.state == "open"
    served = odk.get(f"projects/{project}/forms/ecsv.xml").content
    assert hashlib.md5(served).hexdigest() == got.hash
    attachments = odk.get(f"projects/{project}/forms/ecsv/attachments").json()
    assert all(a["exists"] for a in attachments) and len(attachments) == 3


def test_forms_create_from_xlsx_uses_the_file_name_as_fallback_id(odk, tmp_path):
    path = tmp_path / "sample_accent.xlsx"
    path.write_bytes((CORPUS / "onadata-accents/form.xlsx").read_bytes())
    form = odk.forms.create(definition=path)
    assert form.xmlFormId == "sample_accent"


def test_forms_update_with_new_media_only_bumps_the_version(odk, project, tmp_path):
    path = tmp_path / "thu.xml"
    path.write_bytes(xform("thu", "1"))
    odk.forms.create(definition=path)
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG new logo")
    odk.forms.update("thu", attachments=[logo], version_updater=lambda old: f"{old}.1")
    assert odk.forms.get("thu").version == "1.1"
    assert odk.get(f"projects/{project}/forms/thu/attachments/logo.png").content == logo.read_bytes()
    assert [v["version"] for v in odk.get(f"projects/{project}/forms/thu/versions").json()] == ["1.1", "1"]


def test_create_app_users_assigned_to_forms(odk, project, tmp_path, client):
    path = tmp_path / "thu.xml"
    path.write_bytes(xform("thu", "1"))
    odk.forms.create(definition=path)
    users = list(odk.projects.create_app_users(display_names=["Tổ 1", "Tổ 2"], forms=["thu"]))
    assert sorted(u.displayName for u in users) == ["Tổ 1", "Tổ 2"]
    token = next(u.token for u in users if u.displayName == "Tổ 1")
    resp = client.get(f"/v1/key/{token}/projects/{project}/formList", headers={"X-OpenRosa-Version": "1.0"})
    assert resp.status_code == 200 and b"<formID>thu</formID>" in resp.data


def test_pyodk_sees_central_error_codes(odk, tmp_path):
    from pyodk.errors import PyODKError

    path = tmp_path / "thu.xml"
    path.write_bytes(xform("thu", "1"))
    odk.forms.create(definition=path)
    with pytest.raises(PyODKError) as caught:
        odk.forms.create(definition=path)
    assert caught.value.is_central_error(409.3)


# --- submissions -----------------------------------------------------------------------------------

def _survey(odk):
    from helpers import XLSFORMS

    return odk.forms.create(definition=XLSFORMS / "household_digital_survey.xlsx").xmlFormId


def test_submissions_create_list_get_review_edit(odk, project, tmp_path):
    import random

    from server.synthetic import random_household, to_xml

    form_id = _survey(odk)
    h = random_household(random.Random(42), "DN-TK-TG-01")
    created = odk.submissions.create(xml=to_xml(h).decode("utf-8"), form_id=form_id, device_id="collect:pyodk")
    assert created.instanceId == h.instance_id and isinstance(created.submitterId, int)
    assert created.deviceId == "collect:pyodk"
    listed = odk.submissions.list(form_id=form_id)
    assert [s.instanceId for s in listed] == [h.instance_id]
    got = odk.submissions.get(instance_id=h.instance_id, form_id=form_id)
    assert got.instanceName == f"DN-TK-TG-01 – {h.respondent}"
    odk.submissions.review(instance_id=h.instance_id, review_state="hasIssues", form_id=form_id,
                           comment="Thiếu số điện thoại")
    assert odk.submissions.get(instance_id=h.instance_id, form_id=form_id).reviewState == "hasIssues"
    comments = odk.submissions.list_comments(instance_id=h.instance_id, form_id=form_id)
    assert [c.body for c in comments] == ["Thiếu số điện thoại"]
    old_id = h.instance_id
    h.instance_id = "uuid:11111111-2222-4333-8444-555555555555"
    edited_xml = to_xml(h, deprecated_id=old_id).decode("utf-8").replace("<phone>", "<phone>0")
    odk.submissions.edit(instance_id=old_id, xml=edited_xml, form_id=form_id, comment="Đã sửa")
    after = odk.submissions.get(instance_id=old_id, form_id=form_id)
    assert after.reviewState == "edited"
    assert odk.get(f"projects/{project}/forms/{form_id}/submissions/{old_id}.xml").text == edited_xml


def test_submissions_create_with_attachment_and_duplicate_is_409(odk, project, tmp_path):
    import random

    from pyodk.errors import PyODKError

    from server.synthetic import random_household, to_xml

    form_id = _survey(odk)
    h = random_household(random.Random(43), "DN-TK-TG-01", photo=True)
    photo = tmp_path / h.photo
    photo.write_bytes(b"\xff\xd8 photo of the house number")
    odk.submissions.create(xml=to_xml(h).decode("utf-8"), form_id=form_id, attachments=[photo])
    assert odk.get(f"projects/{project}/forms/{form_id}/submissions/{h.instance_id}/attachments/{h.photo}").content \
        == photo.read_bytes()
    with pytest.raises(PyODKError) as caught:
        odk.submissions.create(xml=to_xml(h).decode("utf-8"), form_id=form_id)
    assert caught.value.is_central_error(409.3)
