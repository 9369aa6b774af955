"""The submissions pages in Debian's Chromium on a 360 px wide phone screen: find a submission,
read it, approve it, see the review in the table after a reload, download a file.

Screenshots land in tests/web/artifacts/ (git-ignored) for a person to look at."""
from __future__ import annotations

import random

from collect import submit
from helpers import FORM
from server.synthetic import random_household, to_xml

from .helpers import jpeg, sign_in


def test_see_a_submission_and_approve_it(page, admin, client, project, survey, key_base, households, shot):
    h = random_household(random.Random(8), "DN-HV-HP-02", members=4, photo=True)
    assert submit(client, key_base, to_xml(h), {h.photo: jpeg((640, 480))}).status_code == 201
    sign_in(page)
    page.goto(f"/projects/{project}")
    page.click(f"a[href='/projects/{project}/forms/{FORM}/submissions']")
    page.wait_for_url(f"**/projects/{project}/forms/{FORM}/submissions")
    rows = page.locator("table.submissions tbody tr")
    assert rows.count() == 6
    assert "Đã nhận" in rows.first.locator(".review-cell").inner_text()
    shot(page, "20-submissions-table")

    rows.first.locator("td.primary a").click()
    page.wait_for_url(f"**/submissions/{h.instance_id}")
    assert page.inner_text("h1") == f"DN-HV-HP-02 – {h.respondent}"
    assert page.locator("section.answers h2", has_text="Địa bàn khảo sát").count() == 1
    assert page.locator("table.roster tbody tr").count() == 4
    assert page.locator("svg.pointmap .dot").count() == 1
    photo = page.locator("a.photo img")
    assert photo.count() == 1
    photo.scroll_into_view_if_needed()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", photo.element_handle()) == 640
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width} px wide on a 360 px screen"
    shot(page, "21-submission-detail")
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "22-submission-detail-wide")
    page.set_viewport_size({"width": 360, "height": 740})

    page.fill("#note", "Hộ đã xác nhận số điện thoại.")
    page.click("#review button[value=approved]")
    page.wait_for_url(f"**/submissions/{h.instance_id}")
    assert "Đã lưu kết quả kiểm tra: Đã duyệt." in page.inner_text(".notice.ok")
    assert page.inner_text(".review-state") == "Đã duyệt"
    assert "Hộ đã xác nhận số điện thoại." in page.inner_text("#comments")
    assert admin.get(f"{survey}/submissions/{h.instance_id}").get_json()["reviewState"] == "approved"

    page.goto(f"/projects/{project}/forms/{FORM}/submissions")
    page.reload()
    row = page.locator(f"tr[data-instance='{h.instance_id}']")
    assert row.locator(".review-cell").inner_text() == "Đã duyệt"
    # The quick review in the table: mark the next one as having issues.
    second = page.locator("table.submissions tbody tr").nth(1)
    instance = second.get_attribute("data-instance")
    second.locator("select[name=state]").select_option("hasIssues")
    second.locator("button[type=submit]").click()
    page.wait_for_url(f"**/forms/{FORM}/submissions")
    page.reload()
    assert page.locator(f"tr[data-instance='{instance}'] .review-cell").inner_text() == "Có vấn đề"
    page.goto(f"/projects/{project}/forms/{FORM}/submissions?review=approved")
    assert page.locator("table.submissions tbody tr").count() == 1
    shot(page, "23-submissions-approved")


def test_filter_then_download_on_a_phone(page, project, survey, households, shot, tmp_path):
    sign_in(page)
    page.goto(f"/projects/{project}/forms/{FORM}/submissions")
    page.click("details.filters summary")
    page.select_option("#f-area", "DN-HV-HP")
    page.click("details.filters button[type=submit]")
    page.wait_for_url("**/submissions?area=DN-HV-HP**")
    assert page.locator("table.submissions tbody tr").count() == 3
    shot(page, "24-submissions-filtered")
    page.click("text=Tải xuống các phiếu này")
    page.wait_for_url("**/downloads?area=DN-HV-HP")
    shot(page, "25-downloads")
    with page.expect_download() as info:
        page.click("a.download >> text=Tệp Excel (.xlsx)")
    download = info.value
    assert download.suggested_filename == f"{FORM}.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    from openpyxl import load_workbook

    book = load_workbook(path)
    assert book.sheetnames == [FORM, "members"] and book[FORM].max_row == 2 + 3  # names, labels, 3 households


def test_users_and_roles_on_a_phone(page, project, shot):
    sign_in(page)
    page.goto("/users")
    page.fill("#email", "lan@hoaphuoc.vn")
    page.fill("#name", "Nguyễn Thị Lan")
    page.fill("#password", "ngắn")
    page.evaluate("document.querySelector('#password').removeAttribute('minlength')")
    page.click("#new-user button[type=submit]")
    assert "ít nhất 10 ký tự" in page.inner_text("#new-user")
    assert page.input_value("#email") == "lan@hoaphuoc.vn"
    page.fill("#password", "mật khẩu đủ dài 2026")
    page.click("#new-user button[type=submit]")
    page.wait_for_url("**/users")
    assert "Đã tạo người dùng lan@hoaphuoc.vn" in page.inner_text(".notice.ok")
    shot(page, "26-users")
    page.goto(f"/projects/{project}/roles")
    page.fill("#email", "lan@hoaphuoc.vn")
    page.select_option("#role", "viewer")
    page.click("#assign button[type=submit]")
    assert page.locator("table.roles tbody tr").count() == 1
    assert "Người xem" in page.inner_text("table.roles")
    shot(page, "27-roles")
