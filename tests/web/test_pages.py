"""The pages without a browser: sign-in, CSRF, roles, other projects' ids, uploads, QR payload, API untouched."""
from __future__ import annotations

import io

import pytest

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD, XLSFORMS

from .helpers import Browserish, broken_xlsform, make_user

SURVEY = XLSFORMS / "household_digital_survey.xlsx"


def _session(app):
    return app.extensions["hamlet.sessionmaker"]()


def _new_project(app, name="Phường Thạc Gián") -> int:
    from server.models.projects import Project

    with _session(app) as s:
        p = Project(name=name)
        s.add(p)
        s.commit()
        return p.id


def _upload(web: Browserish, project_id: int, data: bytes, filename="form.xlsx", csrf=True):
    return web.post(f"/projects/{project_id}/forms", {"xlsform": (io.BytesIO(data), filename)}, csrf=csrf,
                    content_type="multipart/form-data")


def _forms(app, project_id):
    from sqlalchemy import select

    from server.models.forms import Form

    with _session(app) as s:
        return list(s.scalars(select(Form.xml_form_id).where(Form.project_id == project_id)))


# --- signing in ----------------------------------------------------------------------------------------

def test_pages_redirect_to_sign_in_and_back(web):
    resp = web.get("/projects/7")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/sign-in?next=/projects/7")
    page = web.get("/sign-in?next=/projects").get_data(as_text=True)
    assert "Đăng nhập" in page and 'lang="vi"' in page  # Vietnamese by default


def test_sign_in_sets_a_hardened_cookie_and_signs_out(web, app):
    web.get("/sign-in")
    resp = web.post("/sign-in", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/projects"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/projects"
    cookie = resp.headers["Set-Cookie"]
    assert "hamlet_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    assert web.get("/projects").status_code == 200
    from sqlalchemy import func, select

    from server.models.accounts import AuthSession

    with _session(app) as s:
        assert s.scalar(select(func.count()).select_from(AuthSession)) == 1
    assert web.post("/sign-out").status_code == 302
    with _session(app) as s:
        assert s.scalar(select(func.count()).select_from(AuthSession)) == 0  # the row is gone: revoked
    assert web.get("/projects").status_code == 302


@pytest.mark.behind_proxy
def test_cookie_is_secure_behind_an_https_proxy(web):
    resp = web.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in resp.headers["Set-Cookie"]


def test_wrong_password_and_unknown_email_are_refused_alike(web):
    web.get("/sign-in")
    wrong = web.post("/sign-in", {"email": ADMIN_EMAIL, "password": "not the password"})
    unknown = web.post("/sign-in", {"email": "nobody@example.vn", "password": "not the password"})
    for resp in (wrong, unknown):
        assert resp.status_code == 401
        assert "Địa chỉ email hoặc mật khẩu không đúng." in resp.get_data(as_text=True)
    assert web.get("/projects").status_code == 302


def test_app_users_cannot_sign_in(signed_in, app):
    project_id = _new_project(app)
    signed_in.post(f"/projects/{project_id}/app-users", {"name": "Tổ 1"})
    from sqlalchemy import select

    from server.models.accounts import APP_USER, Actor

    with _session(app) as s:
        actor = s.scalars(select(Actor).where(Actor.type == APP_USER)).one()
        assert actor.email is None and actor.password_hash is None
    other = Browserish(app.test_client())
    other.get("/sign-in")
    assert other.post("/sign-in", {"email": "Tổ 1", "password": ""}).status_code == 400
    # Even holding an app user's session row in the cookie does not make a page visitor.
    from server.models.accounts import key_of

    with _session(app) as s:
        token = key_of(s, actor.id)
    with other.client.session_transaction() as cookie:
        cookie["sid"] = token
    assert other.get("/projects").status_code == 302


def test_next_cannot_point_off_site(web):
    web.get("/sign-in")
    resp = web.post("/sign-in", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "//evil.example/x"})
    assert resp.headers["Location"] == "/projects"


def test_password_change_checks_and_ends_other_sessions(signed_in, app):
    other = Browserish(app.test_client()).sign_in()
    bad = signed_in.post("/account/password", {"old": "wrong", "new": "short", "repeat": "short"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Mật khẩu hiện tại không đúng." in text and "ít nhất 10 ký tự" in text
    ok = signed_in.post("/account/password", {"old": ADMIN_PASSWORD, "new": "mật khẩu mới đủ dài",
                                              "repeat": "mật khẩu mới đủ dài"})
    assert ok.status_code == 200 and "Đã đổi mật khẩu." in ok.get_data(as_text=True)
    assert signed_in.get("/projects").status_code == 200  # this device stays signed in
    assert other.get("/projects").status_code == 302  # the other one does not
    fresh = Browserish(app.test_client())
    fresh.sign_in(ADMIN_EMAIL, "mật khẩu mới đủ dài")
    # The REST API accepts the new password too.
    assert app.test_client().post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": "mật khẩu mới đủ dài"}
                                  ).status_code == 200


# --- CSRF ----------------------------------------------------------------------------------------------

def test_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(signed_in, app):
    project_id = _new_project(app)
    for token in (None, "forged"):
        data = {"xlsform": (io.BytesIO(SURVEY.read_bytes()), "household_digital_survey.xlsx")}
        if token:
            data["csrf_token"] = token
        resp = signed_in.client.post(f"/projects/{project_id}/forms", data=data, content_type="multipart/form-data")
        assert resp.status_code == 400
        assert "không có gì bị thay đổi" in resp.get_data(as_text=True)
        assert _forms(app, project_id) == []
    assert signed_in.post("/projects", {"name": "X"}, csrf=False).status_code == 400
    assert signed_in.post("/sign-out", csrf=False).status_code == 400
    assert signed_in.get("/projects").status_code == 200  # still signed in


def test_sign_in_form_needs_its_csrf_token_too(web):
    resp = web.client.post("/sign-in", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert resp.status_code == 400
    assert web.get("/projects").status_code == 302


def test_the_csrf_token_of_one_session_is_not_accepted_in_another(signed_in, app):
    stolen = signed_in.csrf
    other = Browserish(app.test_client()).sign_in()
    assert other.post("/projects", {"name": "Y", "csrf_token": stolen}).status_code == 400


# --- the REST API is untouched -------------------------------------------------------------------------

def test_the_api_ignores_the_page_cookie_and_sets_none(signed_in):
    resp = signed_in.client.get("/v1/projects")
    assert resp.status_code == 401 and resp.get_json()["code"] == 401.2
    assert "Set-Cookie" not in resp.headers
    assert signed_in.client.get("/v1/nowhere").get_json()["code"] == 404.1  # still Central's JSON 404
    assert "text/html" in signed_in.client.get("/nowhere").content_type  # pages get a page


# --- language ------------------------------------------------------------------------------------------

def test_language_switch_is_remembered_on_the_user(signed_in, app):
    assert "Dự án" in signed_in.get("/projects").get_data(as_text=True)
    resp = signed_in.post("/language", {"language": "en", "next": "/projects"})
    assert resp.headers["Location"] == "/projects"
    assert "<h1>Projects</h1>" in signed_in.get("/projects").get_data(as_text=True)
    from server.models.accounts import user_by_email

    with _session(app) as s:
        assert user_by_email(s, ADMIN_EMAIL).language == "en"
    again = Browserish(app.test_client()).sign_in()  # another browser, same user
    assert 'lang="en"' in again.get("/projects").get_data(as_text=True)


def test_anonymous_language_lives_in_the_session_and_carries_into_sign_in(web, app):
    web.get("/sign-in")
    web.post("/language", {"language": "en", "next": "/sign-in"})
    assert "<h1>Sign in</h1>" in web.get("/sign-in").get_data(as_text=True)
    assert Browserish(app.test_client()).get("/sign-in").get_data(as_text=True).count("Đăng nhập") >= 1
    web.post("/sign-in", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    from server.models.accounts import user_by_email

    with _session(app) as s:
        assert user_by_email(s, ADMIN_EMAIL).language == "en"


def test_unknown_language_is_ignored(signed_in):
    signed_in.post("/language", {"language": "fr"})
    assert 'lang="vi"' in signed_in.get("/projects").get_data(as_text=True)


# --- roles and other projects' ids ---------------------------------------------------------------------

@pytest.fixture
def viewer(app, admin_password_hash):
    project_id = _new_project(app)
    make_user(app, "viewer@hamlet.test", admin_password_hash, "viewer", project_id)
    return project_id, Browserish(app.test_client()).sign_in("viewer@hamlet.test")


def test_viewer_sees_the_project_without_upload_and_cannot_post_by_url(viewer, app):
    project_id, web = viewer
    page = web.get(f"/projects/{project_id}").get_data(as_text=True)
    assert "Tải lên XLSForm" not in page and 'name="xlsform"' not in page
    resp = _upload(web, project_id, SURVEY.read_bytes(), "household_digital_survey.xlsx")
    assert resp.status_code == 403 and "Bạn không có quyền" in resp.get_data(as_text=True)
    assert _forms(app, project_id) == []
    assert web.get(f"/projects/{project_id}/app-users").status_code == 403
    assert web.post(f"/projects/{project_id}/app-users", {"name": "x"}).status_code == 403


def test_viewer_cannot_change_a_published_form(viewer, app, signed_in):
    project_id, web = viewer
    _upload(signed_in, project_id, SURVEY.read_bytes(), "household_digital_survey.xlsx")
    signed_in.post(f"/projects/{project_id}/forms/household_digital_survey/publish")
    form = web.get(f"/projects/{project_id}/forms/household_digital_survey")
    assert form.status_code == 200 and 'name="state"' not in form.get_data(as_text=True)
    assert web.post(f"/projects/{project_id}/forms/household_digital_survey/state", {"state": "closed"}).status_code == 403
    assert web.post(f"/projects/{project_id}/forms/household_digital_survey/draft").status_code == 403
    assert web.get(f"/projects/{project_id}/forms/household_digital_survey/preview").status_code == 200


def test_a_user_sees_only_projects_with_a_role(app, admin_password_hash):
    mine = _new_project(app, "Xã Hòa Phước")
    theirs = _new_project(app, "Phường Tân Chính")
    make_user(app, "m@hamlet.test", admin_password_hash, "manager", mine)
    web = Browserish(app.test_client()).sign_in("m@hamlet.test")
    page = web.get("/projects").get_data(as_text=True)
    assert "Xã Hòa Phước" in page and "Phường Tân Chính" not in page
    assert web.get(f"/projects/{theirs}").status_code == 403
    assert web.get("/projects/99999").status_code == 404
    assert web.post("/projects", {"name": "new"}).status_code == 403  # only site admins create projects


def test_another_projects_ids_in_the_url_are_404(signed_in, app):
    a, b = _new_project(app, "A"), _new_project(app, "B")
    _upload(signed_in, a, SURVEY.read_bytes(), "household_digital_survey.xlsx")
    signed_in.post(f"/projects/{a}/app-users", {"name": "Tổ 1"})
    from sqlalchemy import select

    from server.models.accounts import APP_USER, Actor

    with _session(app) as s:
        actor_id = s.scalar(select(Actor.id).where(Actor.type == APP_USER))
    assert signed_in.get(f"/projects/{b}/forms/household_digital_survey").status_code == 404
    assert signed_in.post(f"/projects/{b}/forms/household_digital_survey/publish").status_code == 404
    assert signed_in.get(f"/projects/{b}/app-users/{actor_id}").status_code == 404
    assert signed_in.post(f"/projects/{b}/app-users/{actor_id}/revoke").status_code == 404
    with _session(app) as s:
        assert s.get(Actor, actor_id).deleted_at is None
    # A form id of project A ticked for an app user of project B is refused too.
    signed_in.post(f"/projects/{b}/app-users", {"name": "Tổ B"})
    with _session(app) as s:
        b_actor = s.scalar(select(Actor.id).where(Actor.project_id == b))
        from server.models.forms import Form

        a_form = s.scalar(select(Form.id).where(Form.project_id == a))
    assert signed_in.post(f"/projects/{b}/app-users/{b_actor}/forms", {"form": str(a_form)}).status_code == 404


# --- forms ---------------------------------------------------------------------------------------------

def test_upload_refusals_say_why_and_change_nothing(signed_in, app):
    project_id = _new_project(app)
    empty = _upload(signed_in, project_id, b"", "")
    assert empty.status_code == 400 and "Hãy chọn tệp XLSForm" in empty.get_data(as_text=True)
    wrong = _upload(signed_in, project_id, b"%PDF-1.4 not a workbook", "report.pdf")
    assert wrong.status_code == 400 and "không phải XLSForm" in wrong.get_data(as_text=True)
    app.config["HAMLET"] = __import__("dataclasses").replace(app.config["HAMLET"], max_form_bytes=1000)
    big = _upload(signed_in, project_id, SURVEY.read_bytes(), "household_digital_survey.xlsx")
    assert big.status_code == 413 and "Tệp quá lớn" in big.get_data(as_text=True)
    assert _forms(app, project_id) == []


def test_broken_xlsform_shows_sheet_and_row(signed_in, app, tmp_path):
    project_id = _new_project(app)
    resp = _upload(signed_in, project_id, broken_xlsform(tmp_path).read_bytes(), "broken.xlsx")
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert "pyxform không chuyển đổi được XLSForm này." in text
    assert '<strong class="sheet">survey</strong>' in text and '<strong class="row">3</strong>' in text
    assert _forms(app, project_id) == []


def test_upload_publish_versions_state_and_media(signed_in, app):
    from server.models.areas import parse_registry, replace_registry

    project_id = _new_project(app)
    with _session(app) as s:  # with an area registry, the survey's areas.csv is filled at upload
        replace_registry(s, project_id, parse_registry((XLSFORMS / "areas.csv").read_bytes()))
        s.commit()
    resp = _upload(signed_in, project_id, SURVEY.read_bytes(), "household_digital_survey.xlsx")
    assert resp.status_code == 302
    url = f"/projects/{project_id}/forms/household_digital_survey"
    page = signed_in.get(url).get_data(as_text=True)
    assert "Bản nháp" in page and "areas.csv" in page and "còn thiếu" not in page
    assert signed_in.post(url + "/publish").status_code == 302
    page = signed_in.get(url).get_data(as_text=True)
    assert "Phiên bản đã phát hành" in page and "Đang mở" in page
    # The same version again is refused with the reason.
    _upload(signed_in, project_id, SURVEY.read_bytes(), "household_digital_survey.xlsx")
    again = signed_in.post(url + "/publish")
    assert again.status_code == 409 and "đã được phát hành" in again.get_data(as_text=True)
    ok = signed_in.post(url + "/publish", {"version": "2026-11-24"})
    assert ok.status_code == 302
    page = signed_in.get(url).get_data(as_text=True)
    assert "2026-11-24" in page and page.count('class="mono">') >= 2
    assert signed_in.post(url + "/state", {"state": "closing"}).status_code == 302
    assert "Sắp đóng" in signed_in.get(url).get_data(as_text=True)
    assert signed_in.post(url + "/state", {"state": "gone"}).status_code == 400
    # Media: only on a draft, only declared names.
    assert signed_in.post(url + "/media", {"name": "areas.csv"}).status_code == 409
    signed_in.post(url + "/draft")
    assert signed_in.post(url + "/media", {"name": "../etc/passwd", "file": (io.BytesIO(b"x"), "x.csv")},
                          content_type="multipart/form-data").status_code == 400
    assert signed_in.post(url + "/media", {"name": "areas.csv"}, content_type="multipart/form-data").status_code == 400
    up = signed_in.post(url + "/media", {"name": "areas.csv", "file": (io.BytesIO(b"code,name\n"), "areas.csv")},
                        content_type="multipart/form-data")
    assert up.status_code == 302
    assert signed_in.post(url + "/draft/discard").status_code == 302


def test_preview_shows_labels_in_the_page_language(signed_in, app):
    project_id = _new_project(app)
    _upload(signed_in, project_id, SURVEY.read_bytes(), "household_digital_survey.xlsx")
    url = f"/projects/{project_id}/forms/household_digital_survey/preview?draft=1"
    assert "Địa bàn khảo sát" in signed_in.get(url).get_data(as_text=True)
    signed_in.post("/language", {"language": "en"})
    english = signed_in.get(url).get_data(as_text=True)
    assert "Địa bàn khảo sát" not in english and "Chủ hộ" not in english
    assert signed_in.get(f"/projects/{project_id}/forms/household_digital_survey/preview").status_code == 404


# --- app users and the QR code -------------------------------------------------------------------------

def test_app_user_qr_payload_and_revocation(signed_in, app):
    from sqlalchemy import select

    from server.models.accounts import APP_USER, Actor, key_of
    from server.web.qr import collect_settings, encode_settings

    project_id = _new_project(app)
    _upload(signed_in, project_id, SURVEY.read_bytes(), "household_digital_survey.xlsx")
    signed_in.post(f"/projects/{project_id}/forms/household_digital_survey/publish")
    with _session(app) as s:
        from server.models.forms import Form

        form_id = s.scalar(select(Form.id))
    assert signed_in.post(f"/projects/{project_id}/app-users", {"name": ""}).status_code == 400
    resp = signed_in.post(f"/projects/{project_id}/app-users", {"name": "Tổ 1 – Thôn Yến Nê", "form": str(form_id)})
    assert resp.status_code == 302
    with _session(app) as s:
        actor = s.scalars(select(Actor).where(Actor.type == APP_USER)).one()
        token = key_of(s, actor.id)
    page = signed_in.get(resp.headers["Location"]).get_data(as_text=True)
    assert '<svg viewBox="0 0' in page and "household_digital_survey" in page
    assert f"http://localhost/v1/key/{token}/projects/{project_id}" in page
    settings = collect_settings("http://localhost", token, project_id, "Phường Thạc Gián")
    assert settings["general"]["server_url"].endswith(f"/v1/key/{token}/projects/{project_id}")
    assert encode_settings(settings).startswith("eJ")
    # The key works for Collect's form list, with the form assigned on the page.
    listing = app.test_client().get(f"/v1/key/{token}/projects/{project_id}/formList")
    assert listing.status_code == 200 and b"household_digital_survey" in listing.data
    sheet = signed_in.get(f"/projects/{project_id}/app-users/print").get_data(as_text=True)
    assert sheet.count("<svg") == 1 and "Tổ 1 – Thôn Yến Nê" in sheet
    # Untick the form, then revoke: the key stops working at once.
    signed_in.get(f"/projects/{project_id}/app-users")
    signed_in.post(f"/projects/{project_id}/app-users/{actor.id}/forms", {})
    assert b"household_digital_survey" not in app.test_client().get(
        f"/v1/key/{token}/projects/{project_id}/formList").data
    assert signed_in.post(f"/projects/{project_id}/app-users/{actor.id}/revoke").status_code == 302
    assert app.test_client().get(f"/v1/key/{token}/projects/{project_id}/formList").status_code == 403
    assert signed_in.get(f"/projects/{project_id}/app-users/{actor.id}").status_code == 404


def test_pages_are_not_cached(signed_in):
    assert signed_in.get("/projects").headers["Cache-Control"] == "no-store"
