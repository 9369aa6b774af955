"""Each version's XLSForm downloads back as it was uploaded, on Central's routes: `…/forms/{f}.xlsx`,
`…/draft.xlsx` and `…/versions/{v}.xlsx` (and `.xls` for a legacy workbook), under its own extension only."""
from __future__ import annotations

from helpers import CORPUS, XLS, XLSX
from helpers import tiny_xlsform as xlsform


def _upload(admin, project, data: bytes, content_type=XLSX, draft_of: str | None = None):
    path = f"/v1/projects/{project}/forms/{draft_of}/draft" if draft_of else f"/v1/projects/{project}/forms?publish=true"
    resp = admin.post(path + ("?ignoreWarnings=true" if draft_of else "&ignoreWarnings=true"), data=data,
                      content_type=content_type)
    assert resp.status_code == 200, resp.get_json()
    return resp


def test_every_published_version_and_the_draft_download_their_own_workbook(admin, project):
    first, second, draft = xlsform("2026010101"), xlsform("2026010102", "Họ tên chủ hộ"), xlsform("2026010103", "Chủ hộ")
    _upload(admin, project, first)
    _upload(admin, project, second, draft_of="so_ho")
    assert admin.post(f"/v1/projects/{project}/forms/so_ho/draft/publish").status_code == 200
    _upload(admin, project, draft, draft_of="so_ho")
    base = f"/v1/projects/{project}/forms/so_ho"
    for path, expected in ((f"{base}/versions/2026010101.xlsx", first), (f"{base}/versions/2026010102.xlsx", second),
                           (f"{base}.xlsx", second), (f"{base}/draft.xlsx", draft)):
        resp = admin.get(path)
        assert resp.status_code == 200, path
        assert resp.data == expected, path
        assert resp.content_type == XLSX
        assert resp.headers["Content-Disposition"] == "attachment; filename=so_ho.xlsx"


def test_a_version_never_published_or_a_missing_draft_is_404(admin, project):
    _upload(admin, project, xlsform("1"))
    base = f"/v1/projects/{project}/forms/so_ho"
    assert admin.get(f"{base}/versions/2.xlsx").status_code == 404
    assert admin.get(f"{base}/draft.xlsx").status_code == 404


def test_a_workbook_is_served_under_its_own_extension_only(admin, project):
    data = (CORPUS / "kobocat-tutorial-xls/form.xls").read_bytes()
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true&ignoreWarnings=true", data=data, content_type=XLS,
                      headers={"X-XlsForm-FormId-Fallback": "tutorial"})
    assert resp.status_code == 200, resp.get_json()
    form_id, version = resp.get_json()["xmlFormId"], resp.get_json()["version"] or "___"  # Central's empty version
    base = f"/v1/projects/{project}/forms/{form_id}"
    legacy = admin.get(f"{base}/versions/{version}.xls")
    assert legacy.status_code == 200 and legacy.data == data and legacy.content_type == XLS
    assert admin.get(f"{base}.xls").data == data
    # As Central: the .xlsx of an .xls upload does not exist, and the reverse.
    assert admin.get(f"{base}.xlsx").status_code == 404
    assert admin.get(f"{base}/versions/{version}.xlsx").status_code == 404
    _upload(admin, project, xlsform("1"))
    assert admin.get(f"/v1/projects/{project}/forms/so_ho.xls").status_code == 404


def test_an_xform_upload_has_no_workbook_to_download(admin, project):
    from helpers import post_xml, xform

    assert post_xml(admin, project, xform("thu", "5")).status_code == 200
    resp = admin.get(f"/v1/projects/{project}/forms/thu/versions/5.xlsx")
    assert resp.status_code == 404 and "XForm" in resp.get_json()["message"]
    assert admin.get(f"/v1/projects/{project}/forms/thu/versions/5.xml").status_code == 200


def test_the_draft_workbook_needs_form_update_as_the_draft_does(app, client, admin, project):
    from helpers import web_user

    _upload(admin, project, xlsform("1"))
    _upload(admin, project, xlsform("2"), draft_of="so_ho")
    viewer, viewer_id = web_user(app, client, "viewer@hamlet.test")
    assert admin.post(f"/v1/projects/{project}/assignments/viewer/{viewer_id}").status_code == 200
    base = f"/v1/projects/{project}/forms/so_ho"
    assert viewer.get(f"{base}/versions/1.xlsx").status_code == 200
    assert viewer.get(f"{base}/draft.xlsx").status_code == 403
