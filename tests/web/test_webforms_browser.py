"""Filling the shipped household survey in the browser with ODK Web Forms (docs/web-forms.md), in
Debian's Chromium on a 360 px phone: through a public link and as a signed-in data collector, with a
three-member roster, a photo and a GPS point; what is stored exports exactly as the same submission
sent by ODK Collect. Then a manager edits one in the browser.

Screenshots land in tests/web/artifacts/ (git-ignored)."""
from __future__ import annotations

import contextlib
import io
import zipfile

from collect import submit
from helpers import FORM, XLSFORMS, table

from .helpers import jpeg, make_user, sign_in

LAT, LON = 16.0678, 108.2208
PHOTO = jpeg((320, 240))
MEMBERS = [("Nguyễn Thị Lan", "female", "42", "head"), ("Trần Văn Minh", "male", "12", "child"),
           ("Trần Thị Hoa", "female", "8", "child")]


def question(page, label: str, nth: int = 0):
    return page.locator(".question-container", has=page.locator(".control-text label", has_text=label)).nth(nth)


def tick(field) -> None:
    """Tick one of the engine's radio buttons or checkboxes. On a busy machine the page may take a click after
    Playwright has stopped waiting for it, or move while Playwright scrolls to the box ("outside of the
    viewport"); then the box is looked at again and clicked only if still clear."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(5):
        if not field.is_checked():
            # The page may move while Playwright scrolls to the box: then it is looked at again below.
            with contextlib.suppress(PlaywrightError):
                field.click(force=True)
        for _ in range(20):
            if field.is_checked():
                return
            field.page.wait_for_timeout(100)
    assert field.is_checked(), "the page never took the click"


def choose(page, label: str, *values: str, nth: int = 0):
    box = question(page, label, nth)
    for value in values:
        tick(box.locator(f"input[value='{value}']"))


def type_in(page, label: str, text: str, nth: int = 0):
    """Typed key by key and left with Tab, as a person does (the number inputs act on keystrokes)."""
    field = question(page, label, nth).locator("input, textarea").first
    field.click()
    field.press_sequentially(text)
    field.press("Tab")


def fill_household(page, tmp_path, shot, name: str, photo_bytes: bytes = PHOTO):
    """Every answer a person gives for one household, as a person would tap and type them."""
    page.wait_for_selector(".question-container")
    choose(page, "Tỉnh/Thành phố", "DN")
    choose(page, "Quận/Huyện", "DN-TK")
    choose(page, "Xã/Phường", "DN-TK-TG")
    choose(page, "Thôn/Ấp", "DN-TK-TG-01")
    type_in(page, "Số nhà, tên đường", "45 Lê Độ")
    question(page, "Vị trí GPS").locator("button").first.click()
    page.get_by_role("button", name="Save location").click()
    page.wait_for_function("() => document.body.innerText.includes('108.22')", timeout=20_000)
    photo = tmp_path / "nha.jpg"
    photo.write_bytes(photo_bytes)
    question(page, "Ảnh biển số nhà").locator("input[type=file]").set_input_files(str(photo))
    type_in(page, "Mã thành viên", "HP-07")
    choose(page, "Anh/chị có đồng ý", "yes")
    type_in(page, "Họ và tên người trả lời", MEMBERS[0][0])
    choose(page, "Quan hệ của người trả lời", "head")
    type_in(page, "Số điện thoại", "0905123456")
    choose(page, "Internet cố định", "fibre")
    choose(page, "dữ liệu di động", "yes")
    choose(page, "Wi-Fi công cộng", "dont_know")
    type_in(page, "bao nhiêu nhân khẩu", "3")
    choose(page, "thương mại điện tử (Shopee", "yes")
    choose(page, "tiền điện, tiền nước", "no")
    for i, (member, sex, age, relation) in enumerate(MEMBERS):
        type_in(page, f"Họ và tên thành viên thứ {i + 1}", member)
        choose(page, f"Giới tính của {member}", sex)
        type_in(page, f"Tuổi của {member}", age)
        choose(page, f"Quan hệ của {member}", relation)
    first = MEMBERS[0][0]
    for words in ("điện thoại thông minh", "định danh điện tử", "tài khoản ngân hàng", "dịch vụ công trực tuyến",
                  "mua hàng trực tuyến", "được Tổ công nghệ số"):
        choose_member(page, first, words, "yes")
    choose_member(page, first, "chữ ký số", "no")
    choose(page, f"{first} đang dùng những ví điện tử", "momo", "zalopay")
    choose(page, "Hộ có đang sản xuất, kinh doanh", "no")
    choose(page, "Hộ cần Tổ công nghệ số cộng đồng hỗ trợ", "vneid", "ecommerce")
    type_in(page, "Ghi chú của người phỏng vấn", name)
    shot(page, f"webform-{name}-filled")


def choose_member(page, member: str, words: str, value: str):
    box = page.locator(".question-container", has=page.locator(".control-text label", has_text=member)).filter(
        has_text=words).first
    tick(box.locator(f"input[value='{value}']"))


def send(page, shot, name: str):
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector("#hamlet-webform-status.success", timeout=20_000)
    shot(page, f"webform-{name}-sent")
    return page.inner_text("#hamlet-webform-status")


def export_rows(admin, survey) -> dict[str, list[dict]]:
    resp = admin.get(f"{survey}/submissions.csv.zip")
    assert resp.status_code == 200
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        return {n: table(z.read(n)) for n in z.namelist() if n.endswith(".csv")}


def phone(chromium, live_server):
    """A phone's browser that shares its position (the household's point) when a form asks."""
    context = chromium.new_context(viewport={"width": 360, "height": 740}, base_url=live_server, device_scale_factor=2,
                                   geolocation={"latitude": LAT, "longitude": LON, "accuracy": 5},
                                   permissions=["geolocation"], locale="vi-VN")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    return context, pg


def with_areas(admin, project):
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=(XLSFORMS / "areas.csv").read_bytes(),
                            content_type="text/csv", headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code == 200


METADATA = {"SubmissionDate", "SubmitterID", "SubmitterName", "DeviceID", "ReviewState", "Edits", "Status"}


def test_a_household_fills_the_survey_through_a_public_link_and_a_collector_signed_in(
        chromium, live_server, app, admin, client, project, survey, admin_password_hash, tmp_path, shot):
    with_areas(admin, project)
    link = admin.post(f"{survey}/public-links", json_body={"displayName": "Hộ tự khai – Tổ 12", "once": False}).get_json()
    context, page = phone(chromium, live_server)
    try:
        page.goto("/f/" + link["token"])
        fill_household(page, tmp_path, shot, "public-link")
        assert "Đã gửi" in send(page, shot, "public-link")
    finally:
        context.close()

    make_user(app, "thu@hamlet.test", admin_password_hash, role="formfill", project_id=project)
    context, page = phone(chromium, live_server)
    try:
        sign_in(page, "thu@hamlet.test")
        page.goto(f"/projects/{project}/forms/{FORM}/fill")
        fill_household(page, tmp_path, shot, "collector")
        assert "Đã gửi" in send(page, shot, "collector")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360, f"the page is {width} px wide on a 360 px screen"
    finally:
        context.close()

    subs = admin.get(f"{survey}/submissions").get_json()
    assert len(subs) == 2
    by_name = {s["submitterId"]: s for s in subs}
    assert link["id"] in by_name
    # The same submissions as ODK Collect sends them, to the same survey in another project.
    other = admin.post("/v1/projects", json_body={"name": "Bản sao"}).get_json()["id"]
    other_survey = f"/v1/projects/{other}/forms/{FORM}"
    from helpers import SURVEY, XLSX
    assert admin.post(f"/v1/projects/{other}/forms?publish=true", data=SURVEY.read_bytes(),
                      content_type=XLSX).status_code == 200
    au = admin.post(f"/v1/projects/{other}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    admin.post(f"{other_survey}/assignments/app-user/{au['id']}")
    for sub in subs:
        iid = sub["instanceId"]
        xml = admin.get(f"{survey}/submissions/{iid}.xml").data
        files = {a["name"]: admin.get(f"{survey}/submissions/{iid}/attachments/{a['name']}").data
                 for a in admin.get(f"{survey}/submissions/{iid}/attachments").get_json()}
        assert len(files) == 1 and all(files.values()), "the photo was stored"
        assert submit(client, f"/v1/key/{au['token']}/projects/{other}", xml, files).status_code == 201
    web, collect = export_rows(admin, survey), export_rows(admin, other_survey)
    assert set(web) == set(collect)
    for name in web:
        assert len(web[name]) == len(collect[name])
        for w, c in zip(sorted(web[name], key=lambda r: r["KEY"]), sorted(collect[name], key=lambda r: r["KEY"])):
            assert {k: v for k, v in w.items() if k not in METADATA} == {k: v for k, v in c.items() if k not in METADATA}
    households = web[f"{FORM}.csv"]
    people = next(rows for n, rows in web.items() if n != f"{FORM}.csv")
    assert len(people) == 6
    for row in households:
        assert row["location-village"] == "DN-TK-TG-01" and row["respondent-phone"] == "0905123456"
        assert row["location-gps-Latitude"].startswith("16.0678") and row["location-gps-Longitude"].startswith("108.2208")
        assert row["location-house_photo"].endswith(".jpg")
        assert row["household-household_size"] == "3"
    assert sorted(p["member_name"] for p in people) == sorted([m[0] for m in MEMBERS] * 2)
    assert {h["SubmitterName"] for h in households} == {"Hộ tự khai – Tổ 12", "thu"}


def test_a_manager_corrects_a_phone_number_in_the_browser(chromium, live_server, admin, client, project, survey,
                                                           key_base, shot):
    import random

    from server.synthetic import random_household, to_xml

    with_areas(admin, project)
    h = random_household(random.Random(21), "DN-TK-TG-01", members=3, photo=True)
    assert submit(client, key_base, to_xml(h), {h.photo: PHOTO}).status_code == 201
    context, page = phone(chromium, live_server)
    try:
        sign_in(page)
        page.goto(f"/projects/{project}/forms/{FORM}/submissions/{h.instance_id}")
        page.click("#edit-in-browser")
        page.wait_for_url("**/edit")
        field = question(page, "Số điện thoại").locator("input").first
        page.wait_for_function("(el) => el.value.length > 0", arg=field.element_handle(), timeout=20_000)
        assert field.input_value() == h.phone
        shot(page, "webform-edit-loaded")
        field.fill("")
        field.press_sequentially("0987654321")
        field.press("Tab")
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(f"**/submissions/{h.instance_id}", timeout=20_000)
        history = page.inner_text("#history")
        assert h.phone in history and "0987654321" in history
        shot(page, "webform-edit-history")
    finally:
        context.close()
    sub = admin.get(f"{survey}/submissions/{h.instance_id}").get_json()
    assert sub["reviewState"] == "edited"
    versions = admin.get(f"{survey}/submissions/{h.instance_id}/versions").get_json()
    assert len(versions) == 2
    current = versions[0]["instanceId"]
    xml = admin.get(f"{survey}/submissions/{h.instance_id}.xml").get_data(as_text=True)
    assert f"<deprecatedID>{h.instance_id}</deprecatedID>" in xml and current in xml
    attachments = admin.get(f"{survey}/submissions/{h.instance_id}/attachments").get_json()
    assert [(a["name"], a["exists"]) for a in attachments] == [(h.photo, True)], "the photo came along"
    assert admin.get(f"{survey}/submissions/{h.instance_id}/attachments/{h.photo}").data == PHOTO
    rows = export_rows(admin, survey)[f"{FORM}.csv"]
    assert [r["respondent-phone"] for r in rows] == ["0987654321"]
    assert rows[0]["ReviewState"] == "edited" and rows[0]["Edits"] == "1"


def noisy_jpeg(size=(1200, 900)) -> bytes:
    """A photo that does not compress: about half a megabyte."""
    import os

    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def test_a_photo_over_the_limit_is_refused_in_the_page_and_nothing_is_stored(
        chromium, live_server, app, admin, project, survey, tmp_path, shot):
    from dataclasses import replace

    with_areas(admin, project)
    app.config["HAMLET"] = replace(app.config["HAMLET"], max_submission_bytes=200_000)
    big = noisy_jpeg()
    assert len(big) > 200_000
    link = admin.post(f"{survey}/public-links", json_body={"displayName": "Hộ tự khai", "once": True}).get_json()
    context, page = phone(chromium, live_server)
    try:
        page.goto("/f/" + link["token"])
        fill_household(page, tmp_path, shot, "too-large", photo_bytes=big)
        page.get_by_role("button", name="Send").click()
        page.wait_for_selector("#hamlet-webform-status.error")
        message = page.inner_text("#hamlet-webform-status")
        shot(page, "webform-too-large", full_page=False)
    finally:
        context.close()
    assert "quá lớn" in message and "200 KB" in message
    assert admin.get(f"{survey}/submissions").get_json() == []
