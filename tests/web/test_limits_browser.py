"""In Chromium: the 413 page for an oversized XLSForm and the sign-in page after too many wrong
passwords are what a person sees (not a broken connection, not English)."""
from __future__ import annotations

from dataclasses import replace

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import new_project, sign_in


def test_an_oversized_xlsform_shows_the_413_page_and_the_way_back(page, app, shot, tmp_path):
    sign_in(page)
    project_id = new_project(page, "Xã Hòa Phước")
    app.config["HAMLET"] = replace(app.config["HAMLET"], max_form_bytes=100_000)
    big = tmp_path / "household_digital_survey.xlsx"
    big.write_bytes(b"PK" + b"x" * 3_000_000)
    page.set_input_files("#xlsform", str(big))
    page.click("#upload button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Quá lớn"
    assert page.inner_text(".notice.error") == "Tệp quá lớn: máy chủ chỉ nhận tệp biểu mẫu tối đa 100 KB."
    assert "Không có gì bị thay đổi." in page.content()
    shot(page, "40-xlsform-too-large")
    page.click("text=Quay lại trang trước")
    page.wait_for_url(f"**/projects/{project_id}")
    assert "Chưa có biểu mẫu nào." in page.content()


def test_too_many_wrong_passwords_say_how_long_to_wait(page, shot):
    page.goto("/sign-in")
    for _ in range(6):
        page.fill("#email", ADMIN_EMAIL)
        page.fill("#password", "không phải mật khẩu")
        page.click("form.stack button[type=submit]")
        page.wait_for_load_state()
    notice = page.inner_text(".notice.error")
    assert notice.startswith("Bạn đã nhập sai mật khẩu quá nhiều lần. Hãy đợi 15 phút rồi thử lại.")
    shot(page, "41-sign-in-throttled")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
    assert "/sign-in" in page.url and page.inner_text(".notice.error") == notice
