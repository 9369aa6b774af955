"""The register pages without a browser: a project's Entity Lists, the households of a list (newest
change first, 50 a page, filtered by area, name and conflict), one household's page (its properties
labelled as the form labels them, its change history and the submissions that made it), resolving a
conflict, area limits, and the English switch.

Households come from a registration form and a revisit form, sent through the OpenRosa submission
endpoint as ODK Collect sends them (tests/web/register_data.py)."""
from __future__ import annotations

import re
import uuid as uuidlib

import pytest

from entity_forms import offline_visit_xml
from helpers import ADMIN_PASSWORD, FORM, give

from .helpers import Browserish, make_user
from .register_data import GIANG_NAM_1, GIANG_NAM_2, HH, THACH_NHAM, load, three_households

_ROW = re.compile(r'<tr data-uuid="([^"]+)"')
_VERSION = re.compile(r'<li data-version="(\d+)"')


def rows(html: str) -> list[str]:
    """The UUIDs of the register's rows, in order."""
    return _ROW.findall(html)


def version(page: str, n: int) -> str:
    """The history's entry for version n."""
    return re.split(r'<li data-version=|</ol>', page.split(f'<li data-version="{n}"')[1])[0]


def text(resp) -> str:
    return resp.get_data(as_text=True)


@pytest.fixture
def reg(admin, client, project):
    """Three households in two communes; An's was revisited (version 2)."""
    r = three_households(admin, client, project)
    r.visit("Nguyễn Văn An", 1, 6)
    return r


def user(app, admin, project, admin_password_hash, email: str, role: str, areas: list[str] | None = None):
    actor_id = make_user(app, email, admin_password_hash)
    give(admin, project, role, actor_id, areas)
    return Browserish(app.test_client()).sign_in(email, ADMIN_PASSWORD)


# --- the project's lists ---------------------------------------------------------------------------

def test_the_project_page_links_to_its_entity_lists_for_those_who_may_read_them(app, signed_in, admin, project, reg,
                                                                               admin_password_hash):
    link = f'href="/projects/{project}/entity-lists"'
    assert link in text(signed_in.get(f"/projects/{project}"))
    page = text(signed_in.get(f"/projects/{project}/entity-lists"))
    assert f'href="{reg.base}"' in page and "Số hộ: 3" in page
    viewer = user(app, admin, project, admin_password_hash, "xem@hamlet.test", "viewer")
    assert link in text(viewer.get(f"/projects/{project}"))
    collector = user(app, admin, project, admin_password_hash, "thu@hamlet.test", "formfill")
    assert link not in text(collector.get(f"/projects/{project}"))
    assert collector.get(f"/projects/{project}/entity-lists").status_code == 403
    assert collector.get(reg.base).status_code == 403
    assert collector.get(reg.page_of("Nguyễn Văn An")).status_code == 403


# --- the register ----------------------------------------------------------------------------------

def test_the_register_lists_households_last_changed_first_with_village_names_versions_and_conflicts(signed_in, reg):
    page = text(signed_in.get(reg.base))
    assert rows(page) == [reg.ids["Nguyễn Văn An"], reg.ids["Lê Văn Cường"], reg.ids["Trần Thị Bình"]]
    assert "Số hộ: 3" in page
    an = page.split(f'data-uuid="{reg.ids["Nguyễn Văn An"]}"')[1].split("</tr>")[0]
    assert "Hộ Nguyễn Văn An" in an and "Thôn Giáng Nam 1" in an and '<td class="num">2</td>' in an
    assert "badge conflict" not in an
    cuong = page.split(f'data-uuid="{reg.ids["Lê Văn Cường"]}"')[1].split("</tr>")[0]
    assert "Thôn Thạch Nham Tây" in cuong and THACH_NHAM not in cuong   # the registry's name, not the code
    reg.visit("Trần Thị Bình", 1, 2)
    assert rows(text(signed_in.get(reg.base)))[0] == reg.ids["Trần Thị Bình"]


def test_the_area_filter_takes_an_area_and_everything_below_it(signed_in, reg):
    commune = rows(text(signed_in.get(f"{reg.base}?area=DN-HV-HP")))
    assert set(commune) == {reg.ids["Nguyễn Văn An"], reg.ids["Trần Thị Bình"]}
    assert rows(text(signed_in.get(f"{reg.base}?area={THACH_NHAM}"))) == [reg.ids["Lê Văn Cường"]]
    page = text(signed_in.get(reg.base))
    assert '<select id="f-area" name="area">' in page and "Hòa Nhơn" in page
    resp = signed_in.get(f"{reg.base}?area=NOWHERE")
    assert resp.status_code == 400 and "Chọn một địa bàn trong danh sách." in text(resp)
    assert len(rows(text(resp))) == 3   # the rest of the page still shows


def test_the_name_search_and_conflict_filter_narrow_the_table_and_pages_keep_them(signed_in, reg):
    assert rows(text(signed_in.get(f"{reg.base}?q=bình"))) == [reg.ids["Trần Thị Bình"]]
    assert rows(text(signed_in.get(f"{reg.base}?q=Văn"))) == [reg.ids["Nguyễn Văn An"], reg.ids["Lê Văn Cường"]]
    assert rows(text(signed_in.get(f"{reg.base}?q=100%25"))) == []          # % is a character, not a wildcard
    assert "Không có hộ nào khớp với bộ lọc này." in text(signed_in.get(f"{reg.base}?q=zzz"))
    assert rows(text(signed_in.get(f"{reg.base}?conflict=1"))) == []
    reg.visit("Lê Văn Cường", 1, 7)
    reg.visit("Lê Văn Cường", 1, 8)      # from the same base as the one before: a conflict
    page = text(signed_in.get(f"{reg.base}?conflict=1"))
    assert rows(page) == [reg.ids["Lê Văn Cường"]] and "Xung đột" in page
    assert rows(text(signed_in.get(f"{reg.base}?conflict=1&area=DN-HV-HP"))) == []


def test_the_register_shows_50_a_page(signed_in, reg):
    for n in range(50):
        reg.register(f"Hộ số {n:02d}", GIANG_NAM_2, 2)
    first = text(signed_in.get(reg.base))
    assert len(rows(first)) == 50 and "Số hộ: 53" in first
    assert rows(first)[0] == reg.ids["Hộ số 49"]
    assert f'href="{reg.base}?page=2"' in first
    second = text(signed_in.get(f"{reg.base}?page=2"))
    assert len(rows(second)) == 3 and reg.ids["Trần Thị Bình"] in rows(second)
    assert set(rows(first)).isdisjoint(rows(second))
    assert rows(text(signed_in.get(f"{reg.base}?page=99"))) == rows(second)      # past the end: the last page
    assert rows(text(signed_in.get(f"{reg.base}?page=x"))) == rows(first)
    filtered = text(signed_in.get(f"{reg.base}?area=DN-HV-HP&q=H"))
    assert f'href="{reg.base}?page=2&amp;area=DN-HV-HP&amp;q=H"' in filtered


# --- one household -----------------------------------------------------------------------------------

def test_a_households_page_shows_its_properties_labelled_as_the_form_labels_them(signed_in, reg):
    page = text(signed_in.get(reg.page_of("Nguyễn Văn An")))
    assert "<h1>Hộ Nguyễn Văn An</h1>" in page
    props = page.split('id="properties"')[1].split("</section>")[0]
    assert "Họ tên chủ hộ" in props and "Số nhân khẩu" in props     # the registration form's Vietnamese labels
    assert "Thôn Giáng Nam 1" in props and GIANG_NAM_1 in props       # the area's registry name, and its code
    members = props.split('data-property="members"')[1].split('data-property')[0]
    assert ">6<" in members
    fibre = props.split('data-property="fibre"')[1]
    assert "Fibre internet?" in fibre     # the revisit form has only one language: its label as it is


def test_a_households_page_says_when_an_offline_update_waits_for_an_earlier_one(signed_in, reg):
    assert 'id="waiting"' not in text(signed_in.get(reg.page_of("Trần Thị Bình")))
    hid, branch = reg.ids["Trần Thị Bình"], str(uuidlib.uuid4())
    reg.send(offline_visit_xml(hid, "2", branch, trunk_version="1", members="9"))  # its first update is missing
    waiting = text(signed_in.get(reg.page_of("Trần Thị Bình"))).split('id="waiting"')[1].split("</section>")[0]
    assert "Cập nhật đang chờ" in waiting and "1 lần cập nhật" in waiting
    reg.send(offline_visit_xml(hid, "1", branch, trunk_version="1", members="8"))
    page = text(signed_in.get(reg.page_of("Trần Thị Bình")))
    assert 'id="waiting"' not in page and '<li data-version="3"' in page


def test_a_households_history_says_what_changed_who_changed_it_and_links_the_submissions(signed_in, reg):
    visit = reg.visit("Nguyễn Văn An", 2, 7, "no")
    page = text(signed_in.get(reg.page_of("Nguyễn Văn An")))
    history = page.split('id="history"')[1]
    assert "Lịch sử thay đổi" in page
    assert _VERSION.findall(history) == ["3", "2", "1"]
    v3, v2, v1 = (version(history, n) for n in (3, 2, 1))
    assert "Số nhân khẩu" in v3 and "<del>6</del> → <ins>7</ins>" in v3 and "<del>yes</del> → <ins>no</ins>" in v3
    assert "<del>4</del> → <ins>6</ins>" in v2 and "<del>không có</del> → <ins>yes</ins>" in v2
    assert "Làm từ phiên bản 2." in v3 and "Làm từ phiên bản 1." in v2 and "Đăng ký." in v1
    assert all("Tổ 1" in v for v in (v1, v2, v3))
    assert "conflict" not in v3 and "conflict" not in v2
    assert f"/projects/{reg.project}/forms/hh_visit/submissions/{visit}" in v3
    registration = f"/projects/{reg.project}/forms/hh_register/submissions/{reg.instances['Nguyễn Văn An']}"
    assert registration in v1
    assert signed_in.get(registration).status_code == 200
    assert signed_in.get(f"/projects/{reg.project}/forms/hh_visit/submissions/{visit}").status_code == 200


def test_the_english_switch_shows_the_forms_english_labels(signed_in, reg):
    signed_in.post("/language", {"language": "en", "next": reg.base})
    listed = text(signed_in.get(reg.base))
    assert "Entities: 3" in listed and "Only households with a conflict" in listed
    page = text(signed_in.get(reg.page_of("Nguyễn Văn An")))
    assert "Head of household" in page and "Members" in page and "Họ tên chủ hộ" not in page
    assert "Change history" in page and "Made from version 1." in page


def test_unknown_lists_households_and_other_projects_ids_are_404(signed_in, admin, reg):
    assert signed_in.get(f"/projects/{reg.project}/entity-lists/nothing").status_code == 404
    assert signed_in.get(f"{reg.base}/entities/not-a-uuid").status_code == 404
    assert signed_in.get(f"{reg.base}/entities/7c2b3a52-5a4b-4d7e-9a59-0f3c1a2b3c4d").status_code == 404
    other = admin.post("/v1/projects", json_body={"name": "Dự án khác"}).get_json()["id"]
    assert signed_in.get(f"/projects/{other}/entity-lists/{HH}").status_code == 404
    assert signed_in.get(f"/projects/{other}/entity-lists/{HH}/entities/{reg.ids['Nguyễn Văn An']}").status_code == 404


def test_the_pages_send_the_apps_content_security_policy_and_carry_nothing_inline(signed_in, reg):
    for path in (f"/projects/{reg.project}/entity-lists", reg.base, reg.page_of("Nguyễn Văn An")):
        resp = signed_in.get(path)
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"], path
        html = text(resp)
        assert " style=" not in html and "<style" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html), path


# --- conflicts ---------------------------------------------------------------------------------------

def test_a_manager_resolves_a_conflict_with_the_rest_apis_own_step(app, signed_in, admin, project, reg,
                                                                  admin_password_hash):
    reg.visit("Trần Thị Bình", 1, 5)
    reg.visit("Trần Thị Bình", 1, 6)     # both from version 1: the second is flagged
    api = f"/v1/projects/{project}/datasets/{HH}/entities/{reg.ids['Trần Thị Bình']}"
    assert admin.get(api).get_json()["conflict"] == "hard"
    url = reg.page_of("Trần Thị Bình")
    page = text(signed_in.get(url))
    v3 = version(page, 3)
    assert "Xung đột: Số nhân khẩu" in v3 and "từ phiên bản cũ" in v3 and "Làm từ phiên bản 1." in v3
    assert 'id="conflict"' in page and "Đánh dấu đã xử lý" in page

    viewer = user(app, admin, project, admin_password_hash, "xem@hamlet.test", "viewer")
    viewer_page = text(viewer.get(url))
    assert 'id="conflict"' in viewer_page and "Đánh dấu đã xử lý" not in viewer_page
    assert viewer.post(f"{url}/resolve", {"version": "3"}).status_code == 403
    assert signed_in.post(f"{url}/resolve", {"version": "3"}, csrf=False).status_code == 400
    stale = signed_in.post(f"{url}/resolve", {"version": "2"})
    assert stale.status_code == 409 and "nay là phiên bản 3" in text(stale)
    assert admin.get(api).get_json()["conflict"] == "hard"

    resp = signed_in.post(f"{url}/resolve", {"version": "3"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(url)
    assert admin.get(api).get_json()["conflict"] is None
    after = text(signed_in.get(url))
    assert "Đã xử lý xung đột." in after and 'id="conflict"' not in after
    again = signed_in.post(f"{url}/resolve", {"version": "3"})
    assert again.status_code == 400 and "không có xung đột" in text(again)


# --- area limits -------------------------------------------------------------------------------------

def test_a_user_limited_to_a_commune_sees_only_its_households(app, admin, project, reg, admin_password_hash):
    limited = user(app, admin, project, admin_password_hash, "hoaphuoc@hamlet.test", "manager", ["DN-HV-HP"])
    page = text(limited.get(reg.base))
    assert set(rows(page)) == {reg.ids["Nguyễn Văn An"], reg.ids["Trần Thị Bình"]}
    assert "Hòa Nhơn" not in page and "Thôn Giáng Nam 2" in page     # areas outside are not even offered
    assert "Số hộ: 2" in text(limited.get(f"/projects/{project}/entity-lists"))
    assert limited.get(reg.page_of("Lê Văn Cường")).status_code == 404
    assert limited.get(reg.page_of("Nguyễn Văn An")).status_code == 200
    resp = limited.get(f"{reg.base}?area={THACH_NHAM}")
    assert resp.status_code == 400 and rows(text(resp)) and reg.ids["Lê Văn Cường"] not in rows(text(resp))
    assert rows(text(limited.get(f"{reg.base}?q=Cường"))) == []
    assert limited.post(f"{reg.page_of('Lê Văn Cường')}/resolve", {"version": "1"}).status_code == 404


def test_a_limited_user_gets_a_403_saying_why_when_the_list_records_no_area(app, admin, client, project,
                                                                            admin_password_hash):
    reg = load(admin, client, project, with_workbook=False)
    reg.register("Nguyễn Văn An", GIANG_NAM_1)
    limited = user(app, admin, project, admin_password_hash, "hoaphuoc@hamlet.test", "viewer", ["DN-HV-HP"])
    for path in (reg.base, reg.page_of("Nguyễn Văn An")):
        resp = limited.get(path)
        assert resp.status_code == 403, path
        assert "Bạn chỉ được xem các hộ thuộc DN-HV-HP" in text(resp) and HH in text(resp), path
    listed = text(limited.get(f"/projects/{project}/entity-lists"))
    assert "Bạn không xem được" in listed
    # The unlimited see the list, without an area filter.
    wide = user(app, admin, project, admin_password_hash, "ca@hamlet.test", "viewer")
    page = text(wide.get(reg.base))
    assert rows(page) == [reg.ids["Nguyễn Văn An"]] and 'name="area"' not in page


def test_the_submissions_pages_give_the_same_reason_for_a_form_without_an_area_field(app, field,
                                                                                    admin_password_hash):
    from sqlalchemy import delete

    from server.models.indicators import IndicatorSet

    with app.extensions["hamlet.sessionmaker"]() as s:   # the survey as if its workbook had never come
        s.execute(delete(IndicatorSet))
        s.commit()
    limited = user(app, field.admin, field.project, admin_password_hash, "hoaphuoc@hamlet.test", "viewer",
                   ["DN-HV-HP"])
    resp = limited.get(f"/projects/{field.project}/forms/{FORM}/submissions")
    assert resp.status_code == 403
    assert "Bạn chỉ được xem các hộ thuộc DN-HV-HP" in text(resp) and "tệp chỉ số" in text(resp)
