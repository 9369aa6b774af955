"""The draft's testing code in a real browser on a 360 px phone screen: the QR code read back from a
screenshot holds Central's draft settings, and the URL in it lists the draft for ODK Collect."""
from __future__ import annotations

import io

import pytest

from helpers import post_xml, xform

from .helpers import sign_in


def test_the_drafts_qr_code_scans_to_the_test_url_and_fits_a_phone(page, shot, admin, project, live_server):
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (pip install -e '.[test]')")
    import requests
    from PIL import Image

    from server.web.qr import decode_settings

    assert post_xml(admin, project, xform("thu", "1")).status_code == 200
    assert admin.post(f"/v1/projects/{project}/forms/thu/draft", data=xform("thu", "2"),
                      content_type="application/xml").status_code == 200
    token = admin.get(f"/v1/projects/{project}/forms/thu/draft").get_json()["draftToken"]
    sign_in(page)
    page.goto(f"/projects/{project}/forms/thu")
    page.wait_for_selector("#draft-qr svg")
    page.locator("#draft-test").scroll_into_view_if_needed()
    shot(page, "draft-testing-qr")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(page.locator("#draft-qr svg").screenshot())))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    server_url = f"{live_server}/v1/test/{token}/projects/{project}/forms/thu/draft"
    assert decode_settings(found[0].text) == {
        "general": {"server_url": server_url, "form_update_mode": "match_exactly", "autosend": "wifi_and_cellular"},
        "project": {"name": "[Nháp] Khảo sát thử", "icon": "📝"},
        "admin": {},
    }
    listed = requests.get(server_url + "/formList", headers={"X-OpenRosa-Version": "1.0"}, timeout=10)
    assert listed.status_code == 200 and "<version>2</version>" in listed.text
