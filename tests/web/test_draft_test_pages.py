"""The draft's box on the form page lets a designer try the draft on a phone before publishing it
(docs/web-app.md): a QR code that sets ODK Collect up with the draft's test URL, as Central's draft
testing code does, that URL to type by hand, and how many test submissions came in."""
from __future__ import annotations

import html as htmllib
import re

from lxml import html

from collect import COLLECT_GET, entries, instance, submit
from helpers import post_xml, xform
from server.web.qr import draft_settings, encode_settings, qr_svg


def _draft(admin, project) -> dict:
    assert post_xml(admin, project, xform("thu", "1")).status_code == 200
    assert admin.post(f"/v1/projects/{project}/forms/thu/draft", data=xform("thu", "2"),
                      content_type="application/xml").status_code == 200
    return admin.get(f"/v1/projects/{project}/forms/thu/draft").get_json()


def test_the_draft_box_shows_collects_testing_code_and_url(signed_in, admin, client, project):
    token = _draft(admin, project)["draftToken"]
    page = signed_in.get(f"/projects/{project}/forms/thu").get_data(as_text=True)
    url = html.fromstring(page).get_element_by_id("draft-server-url").text_content().strip()
    assert url == f"http://localhost/v1/test/{token}/projects/{project}/forms/thu/draft"
    # The code holds Central's draft settings for that URL (drawn the same way, so the same SVG).
    settings = draft_settings(url, "[Nháp] Khảo sát thử")
    assert settings["general"]["server_url"] == url and settings["project"]["icon"] == "📝"
    svg = qr_svg(encode_settings(settings), "x", error="q")
    drawn = re.search(r'<path[^>]* d="([^"]+)"', str(svg)).group(1)
    assert f'd="{drawn}"' in htmllib.unescape(page)
    assert "Số phiếu thử đã nhận: 0" in html.fromstring(page).text_content()

    # What Collect does with that URL: list the draft and send to it.
    path = url.removeprefix("http://localhost")
    [entry] = entries(client.get(f"{path}/formList", headers=COLLECT_GET))
    assert entry["version"] == "2"
    assert submit(client, path, instance("thu", "2", "<name>Thử</name>")).status_code == 201
    again = html.fromstring(signed_in.get(f"/projects/{project}/forms/thu").get_data(as_text=True))
    assert "Số phiếu thử đã nhận: 1" in again.text_content()


def test_a_published_form_without_a_draft_shows_no_testing_code(signed_in, admin, project):
    _draft(admin, project)
    assert admin.post(f"/v1/projects/{project}/forms/thu/draft/publish").status_code == 200
    page = signed_in.get(f"/projects/{project}/forms/thu").get_data(as_text=True)
    assert 'id="draft-qr"' not in page and "/v1/test/" not in page
