"""The pages in a real browser: Debian's Chromium driven by Playwright, on a 360 px wide phone screen.

Each test starts the app on a real port (the live_server fixture) and saves screenshots in
tests/web/artifacts/ for a person to look at."""
from __future__ import annotations

import io

import pytest

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD, XLSFORMS

from .helpers import broken_xlsform, make_user, new_project, sign_in

SURVEY = XLSFORMS / "household_digital_survey.xlsx"


def upload(page, path):
    page.set_input_files("#xlsform", str(path))
    page.click("#upload button[type=submit]")
    page.wait_for_load_state()


def test_sign_in_and_a_wrong_password(page, shot):
    page.goto("/")
    assert "/sign-in" in page.url
    assert page.inner_text("h1") == "Đăng nhập"
    shot(page, "01-sign-in")
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", "không phải mật khẩu")
    page.click("form.stack button[type=submit]")
    assert page.inner_text(".notice.error") == "Địa chỉ email hoặc mật khẩu không đúng."
    assert page.input_value("#email") == ADMIN_EMAIL and page.input_value("#password") == ""
    shot(page, "02-wrong-password")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/projects")
    assert page.inner_text("h1") == "Dự án"
    page.click("details.account summary")
    page.click("text=Đăng xuất")
    page.wait_for_url("**/sign-in")


def test_upload_a_broken_xlsform_then_publish_the_survey(page, shot, tmp_path):
    sign_in(page)
    project_id = new_project(page, "Xã Hòa Phước")
    upload(page, broken_xlsform(tmp_path))
    error = page.locator(".upload-error")
    assert "pyxform không chuyển đổi được XLSForm này." in error.inner_text()
    assert error.locator(".sheet").inner_text() == "survey" and error.locator(".row").inner_text() == "3"
    assert "Chưa có biểu mẫu nào." in page.content()
    shot(page, "03-broken-xlsform")

    upload(page, SURVEY)
    page.wait_for_url(f"**/projects/{project_id}/forms/household_digital_survey")
    assert "Bản nháp" in page.inner_text("#draft h2")
    shot(page, "04-draft")
    page.click("#draft button.primary")
    page.wait_for_url(f"**/projects/{project_id}/forms/household_digital_survey")
    assert "Đã phát hành phiên bản" in page.inner_text(".notice.ok")
    assert page.locator(".badge.open").first.inner_text() == "Đang mở"
    shot(page, "05-published")
    page.click("text=Xem trước các câu hỏi")
    assert page.locator(".q-label", has_text="Địa bàn khảo sát").count() == 1
    shot(page, "06-preview", full_page=False)
    page.goto(f"/projects/{project_id}")
    assert page.locator("table.list td.num").first.inner_text() == "0"
    shot(page, "07-project")


def test_the_language_switch_is_remembered(page, chromium, live_server, shot):
    sign_in(page)
    assert page.inner_text("h1") == "Dự án"
    page.click("form.lang button")
    page.wait_for_url("**/projects")
    assert page.inner_text("h1") == "Projects"
    page.reload()
    assert page.inner_text("h1") == "Projects"
    assert page.inner_text("form.lang button") == "Tiếng Việt"
    shot(page, "08-english")
    other = chromium.new_context(viewport={"width": 360, "height": 740}, base_url=live_server).new_page()
    sign_in(other)  # another browser: the choice is on the user, not in one cookie
    assert other.inner_text("h1") == "Projects"
    other.context.close()
    page.click("form.lang button")
    assert page.inner_text("h1") == "Dự án"


def test_the_qr_code_decodes_to_the_collect_settings(page, app, live_server, shot):
    """The QR code as Chromium draws it, cut from a screenshot and read by ZXing (zxing-cpp)."""
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (pip install -e '.[test]')")
    from PIL import Image
    from sqlalchemy import select

    from server.models.accounts import APP_USER, Actor, key_of
    from server.web.qr import decode_settings

    sign_in(page)
    project_id = new_project(page, "Phường Thạc Gián")
    page.goto(f"/projects/{project_id}/app-users")
    page.fill("#name", "Tổ 1 – Thôn Yến Nê")
    page.click("form.stack button.primary")
    page.wait_for_selector("#qr svg")
    shot(page, "09-app-user-qr")
    png = page.locator("#qr svg").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    with app.extensions["hamlet.sessionmaker"]() as s:
        actor = s.scalars(select(Actor).where(Actor.type == APP_USER)).one()
        token = key_of(s, actor.id)
    assert decode_settings(found[0].text) == {
        "general": {"server_url": f"{live_server}/v1/key/{token}/projects/{project_id}",
                    "form_update_mode": "match_exactly", "autosend": "wifi_and_cellular"},
        "project": {"name": "Phường Thạc Gián"},
        "admin": {},
    }
    # What Collect does next with that URL: list the forms.
    import requests

    server_url = decode_settings(found[0].text)["general"]["server_url"]
    assert requests.get(server_url + "/formList", headers={"X-OpenRosa-Version": "1.0"}, timeout=10).status_code == 200
    page.goto(f"/projects/{project_id}/app-users/print")
    assert page.locator("svg.qr").count() == 1
    shot(page, "10-print-sheet")


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(page, shot):
    sign_in(page)
    page.evaluate("document.querySelector('section.box input[name=csrf_token]').remove()")
    page.fill("#name", "Dự án giả mạo")
    page.click("section.box button[type=submit]")
    assert "không có gì bị thay đổi" in page.inner_text(".notice.error")
    shot(page, "11-csrf-refused")
    page.goto("/projects")
    assert "Dự án giả mạo" not in page.content()


def test_a_viewer_cannot_upload_a_form_not_even_by_url(page, app, admin_password_hash, shot):
    from server.models.projects import Project

    with app.extensions["hamlet.sessionmaker"]() as s:
        project = Project(name="Phường Tân Chính")
        s.add(project)
        s.commit()
        project_id = project.id
    make_user(app, "viewer@hamlet.test", admin_password_hash, "viewer", project_id)
    sign_in(page, "viewer@hamlet.test")
    page.goto(f"/projects/{project_id}")
    assert page.locator("#xlsform").count() == 0 and page.locator("#upload").count() == 0
    shot(page, "12-viewer-project")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    resp = page.request.post(f"/projects/{project_id}/forms", multipart={
        "csrf_token": token,
        "xlsform": {"name": SURVEY.name, "mimeType": "application/octet-stream", "buffer": SURVEY.read_bytes()}})
    assert resp.status == 403 and "Bạn không có quyền" in resp.text()
    page.goto(f"/projects/{project_id}/app-users")
    assert "Bạn không có quyền" in page.inner_text(".notice.error")
    shot(page, "13-viewer-refused")
    page.goto(f"/projects/{project_id}")
    assert "Chưa có biểu mẫu nào." in page.content()
