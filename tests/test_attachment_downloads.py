"""Files people upload come back over REST and OpenRosa as downloads a browser never runs: nosniff,
attachment, sandboxed, and never as HTML or SVG whatever type the sender claimed."""
from __future__ import annotations

import pytest

from helpers import post_xml, xform

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
PNG = b"\x89PNG\r\n\x1a\n" + b"logo" * 100


def assert_inert_download(resp, sent_type: str, body: bytes):
    assert resp.status_code == 200 and resp.data == body
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    if sent_type in ("text/html", "image/svg+xml"):
        assert resp.content_type == "application/octet-stream"
    else:
        assert resp.content_type == sent_type


@pytest.mark.parametrize("sent_type, body", [("text/html", HTML), ("image/svg+xml", SVG), ("image/png", PNG)])
def test_form_media_is_sent_as_an_inert_download(admin, project, sent_type, body):
    base = f"/v1/projects/{project}/forms/thu"
    assert post_xml(admin, project, xform(), query="").status_code == 200
    assert admin.post(f"{base}/draft/attachments/logo.png", data=body, content_type=sent_type).status_code == 200
    assert_inert_download(admin.get(f"{base}/draft/attachments/logo.png"), sent_type, body)
    admin.post(f"{base}/draft/publish")
    assert_inert_download(admin.get(f"{base}/attachments/logo.png"), sent_type, body)


@pytest.mark.parametrize("sent_type, body", [("text/html", HTML), ("image/svg+xml", SVG), ("image/png", PNG)])
def test_a_submission_attachment_is_sent_as_an_inert_download(admin, project, sent_type, body):
    base = f"/v1/projects/{project}/forms/thu"
    assert post_xml(admin, project, xform()).status_code == 200
    xml = ('<data id="thu" version="1"><name>An</name><photo>anh.png</photo>'
           "<meta><instanceID>uuid:7c1d2f0e-0000-4000-8000-000000000001</instanceID></meta></data>")
    assert admin.post(f"{base}/submissions", data=xml.encode(), content_type="application/xml").status_code == 200
    path = f"{base}/submissions/uuid:7c1d2f0e-0000-4000-8000-000000000001/attachments/anh.png"
    assert admin.post(path, data=body, content_type=sent_type).status_code == 200
    assert_inert_download(admin.get(path), sent_type, body)
