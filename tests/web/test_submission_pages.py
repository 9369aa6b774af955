"""The submissions pages without a browser: the table (paging, each filter), review and comments
(checked through the REST API), the detail page (labels, roster, map, photo, edit history), roles,
other projects' ids, CSRF and bad input.

Households come from server/synthetic.py through ODK Collect's submission endpoint, in three
villages of two communes of a small registry (the `households` fixture, tests/hamlet_fixtures.py)."""
from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, update

from collect import submit
from helpers import FORM, SURVEY, XLSX, encrypted_form_with_one_submission, table
from server.synthetic import random_household, to_xml

from .helpers import Browserish, jpeg, make_user

_INSTANCE = re.compile(r'<tr data-instance="([^"]+)"')


def _session(app):
    return app.extensions["hamlet.sessionmaker"]()


def pages_url(project: int) -> str:
    return f"/projects/{project}/forms/{FORM}/submissions"


def shown(html: str) -> list[str]:
    """The instance IDs of the table's rows, in order."""
    return _INSTANCE.findall(html)


def rest_order(admin, survey) -> list[str]:
    return [s["instanceId"] for s in admin.get(f"{survey}/submissions").get_json()]


def app_user(admin, project: int, survey: str, name: str) -> tuple[int, str]:
    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": name}).get_json()
    admin.post(f"{survey}/assignments/app-user/{au['id']}")
    return au["id"], f"/v1/key/{au['token']}/projects/{project}"


# --- the table ---------------------------------------------------------------------------------------

def test_the_table_pages_newest_first_and_reads_only_the_page(signed_in, app, admin, project, survey, households,
                                                             monkeypatch):
    from server.models import submission_list

    monkeypatch.setattr(submission_list, "PAGE_SIZE", 2)
    statements: list[str] = []
    engine = app.extensions["hamlet.engine"]

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        first = signed_in.get(pages_url(project))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert "Số phiếu: 5" in html and "trang 1 / 3" in html
    # The page's ids come from a LIMIT query, its rows by those ids; nothing reads every submission's row.
    listing = [s for s in statements if "FROM submissions" in s and "ORDER BY submissions.created_at DESC" in s]
    assert len(listing) == 2 and "LIMIT" in listing[0] and "submissions.id IN (" in listing[1]
    seen = shown(html) + shown(signed_in.get(pages_url(project) + "?page=2").get_data(as_text=True)) \
        + shown(signed_in.get(pages_url(project) + "?page=3").get_data(as_text=True))
    assert seen == rest_order(admin, survey) and len(shown(html)) == 2
    assert shown(signed_in.get(pages_url(project) + "?page=99").get_data(as_text=True)) == seen[-1:]
    assert shown(signed_in.get(pages_url(project) + "?page=x").get_data(as_text=True)) == seen[:2]
    assert f'href="{pages_url(project)}?page=2"' in html.replace("&amp;", "&")


def test_the_key_columns(signed_in, admin, project, survey, households):
    html = signed_in.get(pages_url(project)).get_data(as_text=True)
    newest = households[-1]
    row = html[html.index(f'data-instance="{newest.instance_id}"'):]
    row = row[:row.index("</tr>")]
    assert f"DN-HV-HN-01 – {newest.respondent}" in row           # instance name
    assert "Thôn Thạch Nham Tây" in row                           # the village's name from the registry
    assert "Tổ 1" in row                                          # the enumerator (app user)
    assert "Đã nhận" in row                                       # not reviewed yet
    assert re.search(r"\d\d/\d\d/2\d\d\d \d\d:\d\d", row)         # submitted at, Vietnam time


def keys(admin, survey, query: str) -> list[str]:
    resp = admin.get(f"{survey}/submissions.csv?{query}")
    assert resp.status_code == 200, resp.get_json()
    return [r["KEY"] for r in table(resp.data)]


def test_the_area_filter_takes_every_village_below_like_the_export(signed_in, admin, project, survey, households):
    for code, n in [("DN-HV-HP", 3), ("DN-HV-HP-02", 1), ("DN-HV-HN", 2), ("DN", 5)]:
        html = signed_in.get(pages_url(project) + f"?area={code}").get_data(as_text=True)
        assert shown(html) == keys(admin, survey, f"area={code}&areaField=location/village")
        assert len(shown(html)) == n
    unknown = signed_in.get(pages_url(project) + "?area=XX-99")
    assert unknown.status_code == 400
    text = unknown.get_data(as_text=True)
    assert "Không có địa bàn nào với mã này" in text and len(shown(text)) == 5


def test_the_area_filter_follows_the_indicators_workbook(signed_in, admin, project, survey, households):
    from helpers import XLSFORMS

    resp = admin.client.put(f"{survey}/indicators", data=(XLSFORMS / "household_digital_targets.xlsx").read_bytes(),
                            content_type=XLSX, headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code == 200, resp.get_json()
    html = signed_in.get(pages_url(project) + "?area=DN-HV-HN").get_data(as_text=True)
    assert shown(html) == keys(admin, survey, "area=DN-HV-HN")
    assert len(shown(html)) == 2 and "Thôn Thạch Nham Tây" in html
    # The workbook names the respondent's name field: the table shows the name itself.
    assert f"<strong>{households[-1].respondent}</strong>" in html


def test_the_review_state_filter(signed_in, admin, project, survey, households):
    order = rest_order(admin, survey)
    admin.patch(f"{survey}/submissions/{order[0]}", {"reviewState": "approved"})
    admin.patch(f"{survey}/submissions/{order[1]}", {"reviewState": "rejected"})
    assert shown(signed_in.get(pages_url(project) + "?review=approved").get_data(as_text=True)) == order[:1]
    assert shown(signed_in.get(pages_url(project) + "?review=rejected").get_data(as_text=True)) == order[1:2]
    assert shown(signed_in.get(pages_url(project) + "?review=received").get_data(as_text=True)) == order[2:]
    bad = signed_in.get(pages_url(project) + "?review=lost")
    assert bad.status_code == 400 and "Hãy chọn trạng thái kiểm tra trong danh sách." in bad.get_data(as_text=True)
    assert len(shown(bad.get_data(as_text=True))) == 5


def test_the_date_filter_counts_days_in_vietnam_time(signed_in, app, admin, project, survey, households):
    from server.models.submissions import Submission

    order = rest_order(admin, survey)
    # 18:30 UTC on 1 November is 01:30 on 2 November in Vietnam.
    with _session(app) as s:
        s.execute(update(Submission).where(Submission.instance_id.in_(order[:2]))
                  .values(created_at=datetime(2026, 11, 1, 18, 30, tzinfo=UTC)))
        s.commit()
    on_the_2nd = shown(signed_in.get(pages_url(project) + "?from=2026-11-02&to=2026-11-02").get_data(as_text=True))
    assert sorted(on_the_2nd) == sorted(order[:2])
    assert shown(signed_in.get(pages_url(project) + "?to=2026-11-01").get_data(as_text=True)) == []
    assert len(shown(signed_in.get(pages_url(project) + "?from=2026-11-03").get_data(as_text=True))) == 3
    bad = signed_in.get(pages_url(project) + "?from=yesterday")
    assert bad.status_code == 400 and "Hãy chọn ngày trên lịch" in bad.get_data(as_text=True)
    backwards = signed_in.get(pages_url(project) + "?from=2026-11-05&to=2026-11-01")
    assert backwards.status_code == 400 and "Ngày kết thúc trước ngày bắt đầu." in backwards.get_data(as_text=True)


def test_the_enumerator_filter(signed_in, admin, client, project, survey, households):
    actor_id, base = app_user(admin, project, survey, "Tổ 2 – Thôn Giáng Nam 2")
    h = random_household(random.Random(40), "DN-HV-HP-02", members=2)
    assert submit(client, base, to_xml(h)).status_code == 201
    html = signed_in.get(pages_url(project)).get_data(as_text=True)
    assert "Tổ 2 – Thôn Giáng Nam 2 (1)" in html and "Tổ 1 (5)" in html  # the filter's choices
    assert shown(signed_in.get(pages_url(project) + f"?submitter={actor_id}").get_data(as_text=True)) == [h.instance_id]
    both = signed_in.get(pages_url(project) + f"?submitter={actor_id}&area=DN-HV-HN").get_data(as_text=True)
    assert shown(both) == [] and "Không có phiếu nào khớp với bộ lọc." in both
    assert signed_in.get(pages_url(project) + "?submitter=abc").status_code == 400


def test_an_unpublished_form_has_an_empty_table(signed_in, admin, project):
    resp = admin.post(f"/v1/projects/{project}/forms?publish=false", data=SURVEY.read_bytes(), content_type=XLSX)
    assert resp.status_code == 200
    page = signed_in.get(pages_url(project))
    assert page.status_code == 200 and "Chưa phát hành" in page.get_data(as_text=True)
    assert signed_in.get(f"/projects/{project}/forms/{FORM}/downloads").status_code == 404


# --- review and comments -----------------------------------------------------------------------------

def detail_url(project: int, instance_id: str) -> str:
    return f"{pages_url(project)}/{instance_id}"


def test_review_and_comments_change_what_the_rest_api_returns(signed_in, app, admin, project, survey, households):
    from server.models.accounts import user_by_email

    target = households[0].instance_id
    signed_in.get(detail_url(project, target))
    resp = signed_in.post(detail_url(project, target) + "/review",
                          {"state": "hasIssues", "note": "Số điện thoại thiếu một chữ số."})
    assert resp.status_code == 302 and resp.headers["Location"] == detail_url(project, target)
    got = admin.get(f"{survey}/submissions/{target}").get_json()
    assert got["reviewState"] == "hasIssues" and got["updatedAt"] is not None
    with _session(app) as s:
        admin_id = user_by_email(s, "admin@hamlet.test").id
    comments = admin.get(f"{survey}/submissions/{target}/comments").get_json()
    assert [(c["body"], c["actorId"]) for c in comments] == [("Số điện thoại thiếu một chữ số.", admin_id)]
    page = signed_in.get(detail_url(project, target)).get_data(as_text=True)
    assert "Có vấn đề" in page and "Số điện thoại thiếu một chữ số." in page
    # From the table, the page comes back with its filters.
    back = f"{pages_url(project)}?area=DN-HV-HP&page=1"
    resp = signed_in.post(detail_url(project, target) + "/review", {"state": "approved", "next": back})
    assert resp.status_code == 302 and resp.headers["Location"] == back
    assert admin.get(f"{survey}/submissions/{target}").get_json()["reviewState"] == "approved"
    assert "Đã duyệt" in signed_in.get(back).get_data(as_text=True)
    # A `next` off the site is ignored.
    resp = signed_in.post(detail_url(project, target) + "/review", {"state": "rejected", "next": "https://evil.example/"})
    assert resp.headers["Location"] == detail_url(project, target)
    assert admin.get(f"{survey}/submissions/{target}").get_json()["reviewState"] == "rejected"
    resp = signed_in.post(detail_url(project, target) + "/comments", {"body": "  Đã gọi lại cho chủ hộ.  "})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#comments")
    bodies = [c["body"] for c in admin.get(f"{survey}/submissions/{target}/comments").get_json()]
    assert bodies == ["Đã gọi lại cho chủ hộ.", "Số điện thoại thiếu một chữ số."]
    # And the REST API's own review shows on the page.
    admin.patch(f"{survey}/submissions/{target}", {"reviewState": "approved"})
    assert "Đã duyệt" in signed_in.get(detail_url(project, target)).get_data(as_text=True)


def test_bad_review_and_comment_input_says_why_and_changes_nothing(signed_in, admin, project, survey, households):
    target = households[0].instance_id
    signed_in.get(detail_url(project, target))
    cases = [
        ("/review", {"state": "edited"}, "Hãy chọn Duyệt, Có vấn đề hoặc Từ chối."),
        ("/review", {"state": ""}, "Hãy chọn Duyệt, Có vấn đề hoặc Từ chối."),
        ("/review", {"state": "approved", "note": "x" * 10001}, "Nhận xét quá dài"),
        ("/comments", {"body": "   "}, "Hãy viết nội dung nhận xét trước khi gửi."),
        ("/comments", {}, "Hãy viết nội dung nhận xét trước khi gửi."),
        ("/comments", {"body": "y" * 10001}, "Nhận xét quá dài"),
    ]
    for path, data, message in cases:
        resp = signed_in.post(detail_url(project, target) + path, data)
        assert resp.status_code == 400, (path, data)
        assert message in resp.get_data(as_text=True)
    assert admin.get(f"{survey}/submissions/{target}").get_json()["reviewState"] is None
    assert admin.get(f"{survey}/submissions/{target}/comments").get_json() == []


def test_without_the_csrf_token_nothing_changes(signed_in, admin, project, survey, households):
    target = households[0].instance_id
    for token in (None, "forged"):
        extra = {"csrf_token": token} if token else {}
        review = signed_in.client.post(detail_url(project, target) + "/review", data={"state": "approved", **extra})
        comment = signed_in.client.post(detail_url(project, target) + "/comments", data={"body": "x", **extra})
        assert review.status_code == comment.status_code == 400
        assert "không có gì bị thay đổi" in review.get_data(as_text=True)
    assert admin.get(f"{survey}/submissions/{target}").get_json()["reviewState"] is None
    assert admin.get(f"{survey}/submissions/{target}/comments").get_json() == []


def test_a_viewer_sees_submissions_but_cannot_review(app, admin, project, survey, households, admin_password_hash):
    make_user(app, "viewer@hamlet.test", admin_password_hash, "viewer", project)
    web = Browserish(app.test_client()).sign_in("viewer@hamlet.test")
    target = households[0].instance_id
    html = web.get(pages_url(project)).get_data(as_text=True)
    assert len(shown(html)) == 5 and 'name="state"' not in html
    page = web.get(detail_url(project, target)).get_data(as_text=True)
    assert 'id="review"' not in page and "Địa bàn khảo sát" in page
    resp = web.post(detail_url(project, target) + "/review", {"state": "approved"})
    assert resp.status_code == 403 and "Bạn không có quyền" in resp.get_data(as_text=True)
    assert admin.get(f"{survey}/submissions/{target}").get_json()["reviewState"] is None
    # Commenting needs only the right to read, as on the REST API (POST …/comments) and in Central.
    assert 'id="body"' in page    # the comment form is on a viewer's page
    assert web.post(detail_url(project, target) + "/comments", {"body": "Xem lại GPS"}).status_code == 302
    assert [c["body"] for c in admin.get(f"{survey}/submissions/{target}/comments").get_json()] == ["Xem lại GPS"]
    assert "Xem lại GPS" in web.get(detail_url(project, target)).get_data(as_text=True)


def test_a_data_collector_cannot_see_submissions(app, project, survey, households, admin_password_hash):
    make_user(app, "tcn@hamlet.test", admin_password_hash, "formfill", project)
    web = Browserish(app.test_client()).sign_in("tcn@hamlet.test")
    assert web.get(pages_url(project)).status_code == 403
    assert web.get(detail_url(project, households[0].instance_id)).status_code == 403


def test_another_projects_ids_are_404_and_change_nothing(signed_in, admin, project, survey, households):
    other = admin.post("/v1/projects", json_body={"name": "Phường Tân Chính"}).get_json()["id"]
    assert admin.post(f"/v1/projects/{other}/forms?publish=true", data=SURVEY.read_bytes(),
                      content_type=XLSX).status_code == 200
    target = households[0].instance_id
    wrong = detail_url(other, target)
    signed_in.get(pages_url(project))
    for resp in (signed_in.get(wrong), signed_in.post(wrong + "/review", {"state": "approved"}),
                 signed_in.post(wrong + "/comments", {"body": "x"}), signed_in.get(wrong + "/attachments/a.jpg"),
                 signed_in.get(f"/projects/{project}/forms/nowhere/submissions"),
                 signed_in.get(f"/projects/99999/forms/{FORM}/submissions"),
                 signed_in.get(detail_url(project, "uuid:not-there"))):
        assert resp.status_code == 404
        assert "không tồn tại" in resp.get_data(as_text=True)
    assert admin.get(f"{survey}/submissions/{target}").get_json()["reviewState"] is None
    assert admin.get(f"{survey}/submissions/{target}/comments").get_json() == []
    assert shown(signed_in.get(pages_url(other)).get_data(as_text=True)) == []


def test_geopoints_parse_or_are_refused():
    from server.web.pointmap import parse_geopoint, point_svg

    p = parse_geopoint("16.05 108.2 12.0 5.0")
    assert (p.latitude, p.longitude, p.accuracy) == (16.05, 108.2, 5.0) and p.geo_uri == "geo:16.050000,108.200000"
    assert parse_geopoint("16.05") is None and parse_geopoint("91 0") is None and parse_geopoint("a b") is None
    assert parse_geopoint("nan 1") is None
    svg = point_svg(p, "Vị trí <GPS>")
    assert svg.startswith('<svg class="pointmap"') and "&lt;GPS&gt;" in svg and 'class="accuracy"' in svg


# --- one submission ----------------------------------------------------------------------------------

@pytest.fixture
def with_photo(admin, client, project, survey, key_base, households):
    h = random_household(random.Random(21), "DN-HV-HP-01", members=3, photo=True)
    h.fixed_broadband = "fibre"
    h.members[0].answers["ewallets"] = "momo zalopay"
    photo = jpeg()
    assert submit(client, key_base, to_xml(h), {h.photo: photo}).status_code == 201
    return h, photo


def test_the_detail_page_labels_every_answer_in_the_pages_language(signed_in, project, with_photo):
    h, _photo = with_photo
    page = signed_in.get(detail_url(project, h.instance_id)).get_data(as_text=True)
    # Groups as sections, questions with their labels, choices with theirs.
    for text in ("Địa bàn khảo sát", "Người trả lời", "Hộ gia đình", "Họ và tên người trả lời", h.respondent,
                 "Nhà anh/chị có lắp Internet cố định (băng rộng) không? Nếu có, là loại nào?", "Cáp quang (FTTH)",
                 "Thôn Giáng Nam 1 (DN-HV-HP-01)", "Hòa Phước (DN-HV-HP)", "MoMo; ZaloPay", h.phone):
        assert text in page, text
    assert ">fibre<" not in page
    # ${member_name} in a roster question becomes the member's name.
    assert f"Giới tính của {h.members[1].name}" in page
    # The roster is a table: one row per member.
    roster = page[page.index('<table class="list stackable roster">'):]
    roster = roster[:roster.index("</table>")]
    assert roster.count("<tr>") == 1 + len(h.members)
    for m in h.members:
        assert m.name in roster
    assert "Thành viên trong hộ" in page
    # The headings speak of every member: no ${member_name} left in them.
    assert "${" not in roster[:roster.index("</thead>")]
    # Collect's own fields, labelled and folded under "technical details", in Vietnam's date format.
    assert "Thông tin kỹ thuật" in page and "20/11/2026 08:00" in page
    technical = page[page.index('id="technical"'):]
    technical = technical[:technical.index("</details>")]
    assert "Bắt đầu phỏng vấn lúc" in technical and "Mã phiếu" in technical
    for raw in (">start<", ">deviceid<", ">instanceID<"):
        assert raw not in page, raw
    signed_in.post("/language", {"language": "en"})
    english = signed_in.get(detail_url(project, h.instance_id)).get_data(as_text=True)
    for text in ("Survey location", "Household members", "Fibre (FTTH)", f"Sex of {h.members[1].name}",
                 "Technical details", "Interview started", "20 Nov 2026, 08:00"):
        assert text in english, text
    assert "Địa bàn khảo sát" not in english


def test_the_point_is_drawn_without_tiles_and_links_to_a_map_app(signed_in, project, with_photo):
    h, _photo = with_photo
    page = signed_in.get(detail_url(project, h.instance_id)).get_data(as_text=True)
    svg = page[page.index('<svg class="pointmap"'):]
    svg = svg[:svg.index("</svg>")]
    assert 'class="dot"' in svg and "100 m" in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert f'href="geo:{float(h.extra["lat"]):.6f},{float(h.extra["lon"]):.6f}"' in page
    assert "độ chính xác ± 5 m" in page


def test_photos_are_shown_through_an_authorized_route(signed_in, app, admin, project, survey, with_photo,
                                                     admin_password_hash):
    h, photo = with_photo
    page = signed_in.get(detail_url(project, h.instance_id)).get_data(as_text=True)
    src = re.search(r'<img src="([^"]+)" alt="Ảnh biển số nhà"', page).group(1).replace("&amp;", "&")
    assert src == f"{detail_url(project, h.instance_id)}/attachments/{h.photo}"
    resp = signed_in.client.get(src)
    assert resp.status_code == 200 and resp.data == photo and resp.mimetype == "image/jpeg"
    assert "attachment" not in resp.headers.get("Content-Disposition", "")
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    # Someone who may not read submissions gets nothing, signed out or with another role.
    assert Browserish(app.test_client()).client.get(src).status_code == 302
    make_user(app, "tcn@hamlet.test", admin_password_hash, "formfill", project)
    assert Browserish(app.test_client()).sign_in("tcn@hamlet.test").client.get(src).status_code == 403
    assert signed_in.client.get(f"{detail_url(project, h.instance_id)}/attachments/other.jpg").status_code == 404
    # A file whose type a browser could run is a download, never shown in the page's origin.
    admin.post(f"{survey}/submissions/{h.instance_id}/attachments/{h.photo}", data=b"<script>alert(1)</script>",
               content_type="text/html")
    resp = signed_in.client.get(src)
    assert resp.mimetype == "application/octet-stream" and resp.headers["Content-Disposition"].startswith("attachment")
    assert "<img src" not in signed_in.get(detail_url(project, h.instance_id)).get_data(as_text=True)


def test_the_edit_history_shows_who_when_and_what_changed(signed_in, admin, client, project, survey, key_base,
                                                          with_photo):
    h, photo = with_photo
    first = h.instance_id
    h.members[1].age = 99
    h.fixed_broadband = "none"
    h.instance_id = "uuid:0b0b0b0b-1111-4222-8333-444444444444"
    assert submit(client, key_base, to_xml(h, deprecated_id=first), {h.photo: photo}).status_code == 201
    page = signed_in.get(detail_url(project, first)).get_data(as_text=True)
    history = page[page.index('id="history"'):page.index('id="comments"')]
    assert history.count("<li>") >= 2 and first in history and h.instance_id in history
    assert "Tổ 1" in history and "hiện hành" in history and "phiên bản đầu tiên" in history
    assert "Cáp quang (FTTH)</del> → <ins>Không có Internet cố định" in history
    assert "Thành viên trong hộ 2 ·</span> Tuổi của … (tròn năm):" in history and "<ins>99</ins>" in history
    assert "Đã sửa" in page
    # A later version's instanceID leads to the submission, as on the REST API.
    resp = signed_in.get(detail_url(project, h.instance_id))
    assert resp.status_code == 301 and resp.headers["Location"] == detail_url(project, first)


def test_an_encrypted_submission_says_so(signed_in, admin, client, project):

    base = encrypted_form_with_one_submission(admin, client, project)
    [sub] = admin.get(f"{base}/submissions").get_json()
    form_id = base.rsplit("/", 1)[1]
    table_page = signed_in.get(f"/projects/{project}/forms/{form_id}/submissions").get_data(as_text=True)
    assert "đã mã hóa" in table_page
    page = signed_in.get(f"/projects/{project}/forms/{form_id}/submissions/{sub['instanceId']}")
    assert page.status_code == 200 and "Phiếu này đã được mã hóa" in page.get_data(as_text=True)


def test_a_viewer_limited_to_a_commune_sees_only_its_households(app, admin, project, survey, households,
                                                                admin_password_hash):
    """The pages pass the caller's areas to the shared queries (server/auth/scope.py), as the REST API does."""
    from helpers import XLSFORMS

    admin.client.put(f"{survey}/indicators", data=(XLSFORMS / "household_digital_targets.xlsx").read_bytes(),
                     content_type=XLSX, headers={"Authorization": f"Bearer {admin.token}"})
    uid = make_user(app, "hp@hamlet.test", admin_password_hash)
    assert admin.put(f"/v1/projects/{project}/assignments/{uid}/areas", {"areas": ["DN-HV-HP"]}).status_code == 200
    assert admin.post(f"/v1/projects/{project}/assignments/viewer/{uid}").status_code == 200
    web = Browserish(app.test_client()).sign_in("hp@hamlet.test")
    html = web.get(pages_url(project)).get_data(as_text=True)
    assert shown(html) == keys(admin, survey, "area=DN-HV-HP") and len(shown(html)) == 3
    assert "Thạch Nham" not in html and "Hòa Nhơn" not in html  # nor in the area filter's choices
    outside = next(h for h in households if h.village.startswith("DN-HV-HN"))
    inside = next(h for h in households if h.village.startswith("DN-HV-HP"))
    assert web.get(detail_url(project, outside.instance_id)).status_code == 404
    assert web.get(detail_url(project, inside.instance_id)).status_code == 200
    other = web.get(pages_url(project) + "?area=DN-HV-HN")
    assert other.status_code == 400 and len(shown(other.get_data(as_text=True))) == 3
    rows = table(web.client.get(f"/projects/{project}/forms/{FORM}/downloads/submissions.csv?headings=names").data)
    assert sorted(r["KEY"] for r in rows) == sorted(keys(admin, survey, "area=DN-HV-HP"))
