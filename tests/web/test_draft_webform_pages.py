"""A draft tried in the browser (docs/web-forms.md): the draft's box links to the engine's page under
the draft's token; the page serves the draft's XML and media, takes test answers as Collect's
/v1/test route does — kept apart from real ones — and stops working once the draft is published."""
from __future__ import annotations

import io

from collect import instance
from helpers import post_xml, xform
from server.logs import redact

from .helpers import Browserish


def draft(admin, project) -> dict:
    assert post_xml(admin, project, xform("thu", "1")).status_code == 200
    assert admin.post(f"/v1/projects/{project}/forms/thu/draft", data=xform("thu", "2"),
                      content_type="application/xml").status_code == 200
    assert admin.post(f"/v1/projects/{project}/forms/thu/draft/attachments/logo.png", data=b"logo-bytes",
                      content_type="image/png").status_code == 200
    return admin.get(f"/v1/projects/{project}/forms/thu/draft").get_json()


def test_the_draft_is_tried_in_the_browser_with_its_token_alone(app, admin, signed_in, project):
    token = draft(admin, project)["draftToken"]
    page = f"/projects/{project}/forms/thu/draft/try/{token}"
    assert f'href="{page}"' in signed_in.get(f"/projects/{project}/forms/thu").get_data(as_text=True)

    stranger = app.test_client()  # no cookie, no key: the token is the credential
    opened = stranger.get(page)
    assert opened.status_code == 200 and "'wasm-unsafe-eval'" in opened.headers["Content-Security-Policy"]
    assert f'{page}/form.xml' in opened.get_data(as_text=True)
    assert b'version="2"' in stranger.get(f"{page}/form.xml").data
    assert stranger.get(f"{page}/media/logo.png").data == b"logo-bytes"

    xml = instance("thu", "2", "<name>Thử trên máy tính</name>")
    sent = stranger.post(f"{page}/submission", data={"xml_submission_file": (io.BytesIO(xml), "submission.xml")},
                         content_type="multipart/form-data")
    assert sent.status_code == 201, sent.get_json()
    tests = admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions").get_json()
    assert len(tests) == 1 and admin.get(f"/v1/projects/{project}/forms/thu/submissions").get_json() == []

    assert admin.post(f"/v1/projects/{project}/forms/thu/draft/publish").status_code == 200
    assert stranger.get(page).status_code == 404
    assert stranger.post(f"{page}/submission", data={"xml_submission_file": (io.BytesIO(xml), "s.xml")},
                         content_type="multipart/form-data").status_code == 404


def test_a_wrong_token_opens_nothing_and_the_token_never_reaches_the_log(app, admin, project):
    draft(admin, project)
    assert Browserish(app.test_client()).get(f"/projects/{project}/forms/thu/draft/try/{'x' * 64}").status_code == 404
    assert redact(f"/projects/1/forms/thu/draft/try/{'A' * 64}/form.xml") == "/projects/1/forms/thu/draft/try/***/form.xml"
