"""Publishing XLSForms and XForms: drafts, versions, media, states, and every way an upload can be wrong."""
import hashlib
import io
import zipfile

import pytest

from helpers import CORPUS, XLS, XLSX, post_xml, publish_file, xform

# --- publishing ------------------------------------------------------------------------------------

def test_xlsx_publishes_and_is_served_byte_for_byte(admin, project):
    resp = publish_file(admin, project, CORPUS / "onadata-transportation/form.xlsx", fallback="transportation")
    assert resp.status_code == 200, resp.get_json()
    form = resp.get_json()
    assert form["xmlFormId"] == "transportation_2011_07_25" and form["version"] == "2014111"
    assert form["state"] == "open" and form["publishedAt"]
    for key in ("name", "enketoId", "keyId", "updatedAt", "publishedAt"):
        assert key in form
    xml = admin.get(f"/v1/projects/{project}/forms/transportation_2011_07_25.xml")
    assert xml.status_code == 200 and xml.content_type.startswith("application/xml")
    assert hashlib.md5(xml.data).hexdigest() == form["hash"]
    # The XLSForm itself can be downloaded back.
    xlsx = admin.get(f"/v1/projects/{project}/forms/transportation_2011_07_25.xlsx")
    assert xlsx.status_code == 200 and xlsx.data == (CORPUS / "onadata-transportation/form.xlsx").read_bytes()


def test_legacy_xls_is_recognised_by_content_even_under_an_xlsx_content_type(admin, project):
    data = (CORPUS / "ifrc-distribution-site-assessment/form.xls").read_bytes()
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true&ignoreWarnings=true", data=data,
                      content_type=XLSX, headers={"X-XlsForm-FormId-Fallback": "ifrc"})
    assert resp.status_code == 200, resp.get_json()


def test_xform_xml_publishes_with_its_id_version_and_title(admin, project):
    resp = post_xml(admin, project, xform("thu", "2026112301"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["xmlFormId"], body["version"], body["name"]) == ("thu", "2026112301", "Khảo sát thử")


def test_fallback_header_names_forms_without_a_form_id(admin, project):
    resp = publish_file(admin, project, CORPUS / "onadata-accents/form.xlsx", fallback="sample_accent")
    assert resp.get_json()["xmlFormId"] == "sample_accent"


def test_without_publish_the_form_is_a_draft_until_published(admin, project):
    resp = post_xml(admin, project, xform(), query="")
    assert resp.status_code == 200 and resp.get_json()["publishedAt"] is None
    assert admin.get(f"/v1/projects/{project}/forms/thu.xml").status_code == 404
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft.xml").status_code == 200
    assert admin.post(f"/v1/projects/{project}/forms/thu/draft/publish").get_json() == {"success": True}
    assert admin.get(f"/v1/projects/{project}/forms/thu").get_json()["publishedAt"]
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft").status_code == 404


def test_warnings_block_publishing_unless_ignored(admin, project):
    path = CORPUS / "onadata-transportation/form.xlsx"
    resp = publish_file(admin, project, path, fallback="transportation", ignore_warnings=False)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == 400.16
    assert any("max-pixels" in w for w in body["details"]["warnings"]["xlsFormWarnings"])
    assert admin.get(f"/v1/projects/{project}/forms").get_json() == []
    ok = publish_file(admin, project, path, fallback="transportation", ignore_warnings=True)
    assert ok.status_code == 200 and any("max-pixels" in w for w in ok.get_json()["warnings"])


def test_new_version_needs_a_new_version_string_and_old_versions_stay(admin, project):
    base = f"/v1/projects/{project}/forms/thu"
    assert post_xml(admin, project, xform(version="1")).status_code == 200
    same = admin.post(f"{base}/draft", data=xform(version="1").replace(b"<name/>", b"<name/><age/>"),
                      content_type="application/xml")
    assert same.status_code == 200
    conflict = admin.post(f"{base}/draft/publish")
    assert conflict.status_code == 409 and conflict.get_json()["code"] == 409.6
    assert "'1'" in conflict.get_json()["message"]
    # Publishing with ?version= rewrites the version attribute and the hash.
    assert admin.post(f"{base}/draft/publish?version=2").status_code == 200
    current = admin.get(base).get_json()
    assert current["version"] == "2"
    served = admin.get(f"{base}.xml").data
    assert b'version="2"' in served and hashlib.md5(served).hexdigest() == current["hash"]
    versions = admin.get(f"{base}/versions").get_json()
    assert [v["version"] for v in versions] == ["2", "1"]
    assert b'version="1"' in admin.get(f"{base}/versions/1.xml").data


def test_a_second_form_with_the_same_id_is_a_conflict(admin, project):
    assert post_xml(admin, project, xform()).status_code == 200
    again = post_xml(admin, project, xform(version="9"))
    assert again.status_code == 409 and again.get_json()["code"] == 409.3
    assert "/draft" in again.get_json()["message"]


def test_draft_with_another_form_id_is_refused(admin, project):
    post_xml(admin, project, xform("thu"))
    resp = admin.post(f"/v1/projects/{project}/forms/thu/draft", data=xform("khac"), content_type="application/xml")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.8


def test_empty_draft_copies_the_published_definition(admin, project):
    post_xml(admin, project, xform())
    assert admin.post(f"/v1/projects/{project}/forms/thu/draft").status_code == 200
    draft = admin.get(f"/v1/projects/{project}/forms/thu/draft").get_json()
    assert draft["version"] == "1" and draft["publishedAt"] is None
    assert admin.delete(f"/v1/projects/{project}/forms/thu/draft").status_code == 200


def test_form_state_open_closing_closed(admin, project):
    post_xml(admin, project, xform())
    for state in ("closing", "closed", "open"):
        resp = admin.patch(f"/v1/projects/{project}/forms/thu", {"state": state})
        assert resp.status_code == 200 and resp.get_json()["state"] == state
    bad = admin.patch(f"/v1/projects/{project}/forms/thu", {"state": "archived"})
    assert bad.status_code == 400 and "open, closing, closed" in bad.get_json()["message"]


def test_deleted_form_disappears_and_its_id_can_be_reused(admin, project):
    post_xml(admin, project, xform())
    assert admin.delete(f"/v1/projects/{project}/forms/thu").status_code == 200
    assert admin.get(f"/v1/projects/{project}/forms/thu").status_code == 404
    assert post_xml(admin, project, xform()).status_code == 200


# --- media -----------------------------------------------------------------------------------------

def test_declared_media_become_draft_attachments_served_by_the_manifest(admin, project):
    base = f"/v1/projects/{project}/forms/thu"
    assert post_xml(admin, project, xform(), query="").status_code == 200
    slots = admin.get(f"{base}/draft/attachments").get_json()
    assert [(s["name"], s["type"], s["exists"]) for s in slots] == [("logo.png", "image", False)]
    png = b"\x89PNG\r\n\x1a\n" + b"logo" * 100
    up = admin.post(f"{base}/draft/attachments/logo.png", data=png, content_type="image/png")
    assert up.status_code == 200 and up.get_json()["hash"] == hashlib.md5(png).hexdigest()
    undeclared = admin.post(f"{base}/draft/attachments/other.png", data=png, content_type="image/png")
    assert undeclared.status_code == 404
    admin.post(f"{base}/draft/publish")
    got = admin.get(f"{base}/attachments/logo.png")
    assert got.status_code == 200 and got.data == png and got.content_type == "image/png"
    assert 'filename=logo.png' in got.headers["Content-Disposition"]
    etag = got.headers["ETag"]
    assert admin.get(f"{base}/attachments/logo.png", headers={"If-None-Match": etag}).status_code == 304


def test_media_carry_forward_to_the_next_version(admin, project):
    base = f"/v1/projects/{project}/forms/thu"
    post_xml(admin, project, xform(), query="")
    admin.post(f"{base}/draft/attachments/logo.png", data=b"png-bytes", content_type="image/png")
    admin.post(f"{base}/draft/publish")
    admin.post(f"{base}/draft", data=xform(version="2"), content_type="application/xml")
    assert admin.get(f"{base}/draft/attachments").get_json()[0]["exists"] is True


@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "a%5Cb.png", "x%00.png"])
def test_attachment_names_with_path_tricks_are_refused(admin, project, name):
    post_xml(admin, project, xform(), query="")
    resp = admin.post(f"/v1/projects/{project}/forms/thu/draft/attachments/{name}", data=b"x",
                      content_type="image/png")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.8
    assert "cannot be used" in resp.get_json()["message"]


def test_xform_declaring_a_media_path_outside_the_form_is_refused(admin, project):
    body = xform().replace(b"jr://images/logo.png", b"jr://images/../../secret.png")
    resp = post_xml(admin, project, body)
    assert resp.status_code == 400 and "path separator" in resp.get_json()["message"]
    assert admin.get(f"/v1/projects/{project}/forms").get_json() == []


def test_external_itemsets_from_pyxform_are_attached_automatically(admin, project):
    path = CORPUS / "onadata-subdistrict-profiling-arabic/form.xlsx"
    resp = publish_file(admin, project, path, fallback="subdistrict")
    assert resp.status_code == 200, resp.get_json()
    form_id = resp.get_json()["xmlFormId"]
    slots = {s["name"]: s for s in admin.get(f"/v1/projects/{project}/forms/{form_id}/attachments").get_json()}
    assert slots["itemsets.csv"]["exists"] is True


# --- bad input -------------------------------------------------------------------------------------

def test_broken_xlsform_gets_pyxforms_message_with_sheet_and_row(admin, project):
    resp = publish_file(admin, project, CORPUS / "ipa-household-survey/form.xlsx", fallback="ipa")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == 400.15
    assert "Choice names must be unique" in body["message"]
    assert body["details"]["sheet"] == "choices" and body["details"]["row"] == 71


def test_legacy_xlsform_dialect_names_the_unknown_type(admin, project):
    resp = publish_file(admin, project, CORPUS / "onadata-schools-survey-large/form.xlsx", fallback="xlsx_output")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.15
    assert "set form title" in resp.get_json()["message"]


def test_upload_that_is_not_a_form_is_refused(admin, project):
    resp = admin.post(f"/v1/projects/{project}/forms", data=b"%PDF-1.4 not a form", content_type=XLSX)
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.1
    assert "neither an XLSForm" in resp.get_json()["message"]


def test_zip_that_is_not_a_workbook_is_refused(admin, project):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "xin chào")
    resp = admin.post(f"/v1/projects/{project}/forms", data=buf.getvalue(), content_type=XLSX)
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.15


def test_empty_body_is_refused(admin, project):
    resp = admin.post(f"/v1/projects/{project}/forms", data=b"", content_type=XLSX)
    assert resp.status_code == 400 and "empty" in resp.get_json()["message"]


def test_upload_over_the_limit_is_413_and_nothing_is_stored(admin, project):
    big = b"PK\x03\x04" + b"\0" * (20 * 1024 * 1024)
    resp = admin.post(f"/v1/projects/{project}/forms", data=big, content_type=XLSX)
    assert resp.status_code == 413
    assert "accepts at most" in resp.get_json()["message"]
    assert admin.get(f"/v1/projects/{project}/forms").get_json() == []


def test_malformed_xml_says_where(admin, project):
    resp = post_xml(admin, project, b"<h:html><h:head>")
    assert resp.status_code == 400 and "line 1" in resp.get_json()["message"]


def test_hostile_xform_with_external_entity_is_refused_and_not_resolved(admin, project, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (f'<?xml version="1.0"?><!DOCTYPE h:html [<!ENTITY x SYSTEM "file://{secret}">]>'.encode()
            + xform().split(b"?>", 1)[1].replace(b"<name/>", b"<name>&x;</name>"))
    resp = post_xml(admin, project, body)
    assert resp.status_code == 400 and "DOCTYPE" in resp.get_json()["message"]
    assert "TOP-SECRET" not in resp.get_data(as_text=True)


def test_billion_laughs_is_refused_quickly(admin, project):
    lol = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)) + b"]><l>&j;</l>"
    resp = post_xml(admin, project, lol)
    assert resp.status_code == 400


def test_xml_that_is_not_an_xform_is_refused(admin, project):
    resp = post_xml(admin, project, b"<data id='x'><a/></data>")
    assert resp.status_code == 400 and "not an XForm" in resp.get_json()["message"]


def test_form_id_ending_in_xml_is_refused(admin, project):
    resp = post_xml(admin, project, xform("survey.xml"))
    assert resp.status_code == 400 and ".xml" in resp.get_json()["message"]


# --- ODK Validate ----------------------------------------------------------------------------------

def test_validate_skipped_is_reported(admin, project):
    body = post_xml(admin, project, xform()).get_json()
    assert body["validation"]["odkValidate"] == "skipped"
    assert "ODK Validate" in body["validation"]["message"]


@pytest.mark.skipif(__import__("shutil").which("java") is None, reason="needs Java for ODK Validate")
def test_odk_validate_errors_reach_the_designer(settings, tmp_path):
    """pma-crvs-kap-amharic passes pyxform but JavaRosa rejects it (corpus README)."""
    from dataclasses import replace

    from server import problems
    from server.models.form_versions import read_definition

    data = (CORPUS / "pma-crvs-kap-amharic/form.xlsx").read_bytes()
    with pytest.raises(problems.Problem) as caught:
        read_definition(data, replace(settings, odk_validate="on"), "pma", ignore_warnings=True)
    assert caught.value.code == "400.15"
    assert "itemset" in caught.value.message
    ok = read_definition(xform(), replace(settings, odk_validate="on"))
    assert ok.validation["odkValidate"] == "passed"


def test_xls_content_type_is_accepted(admin, project):
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true&ignoreWarnings=true",
                      data=(CORPUS / "kobocat-tutorial-xls/form.xls").read_bytes(), content_type=XLS,
                      headers={"X-XlsForm-FormId-Fallback": "tutorial"})
    assert resp.status_code == 200 and resp.get_json()["xmlFormId"] == "tutorial"
