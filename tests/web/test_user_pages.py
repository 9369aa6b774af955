"""Web users (site administrators only) and project roles, with the REST API's rules: the pages'
changes are what GET /v1/users and /v1/projects/{p}/assignments return afterwards."""
from __future__ import annotations

from sqlalchemy import func, select

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import Browserish, make_user

PASSWORD = "mật khẩu đủ dài 2026"


def _session(app):
    return app.extensions["hamlet.sessionmaker"]()


def user_count(app) -> int:
    from server.models.accounts import USER, Actor

    with _session(app) as s:
        return s.scalar(select(func.count()).select_from(Actor).where(Actor.type == USER))


def user_id(app, email: str) -> int:
    from server.models.accounts import user_by_email

    with _session(app) as s:
        return user_by_email(s, email).id


def test_an_administrator_creates_a_user_who_can_sign_in(signed_in, app, admin):
    page = signed_in.get("/users").get_data(as_text=True)
    assert ADMIN_EMAIL in page and 'href="/users"' in page  # the menu entry
    resp = signed_in.post("/users", {"email": " Lan.Nguyen@HoaPhuoc.vn ", "name": "Nguyễn Thị Lan",
                                     "password": PASSWORD})
    assert resp.status_code == 302
    listed = {u["email"]: u["displayName"] for u in admin.get("/v1/users").get_json()}
    assert listed["lan.nguyen@hoaphuoc.vn"] == "Nguyễn Thị Lan"
    Browserish(app.test_client()).sign_in("lan.nguyen@hoaphuoc.vn", PASSWORD)
    # Without a name, the email is shown.
    signed_in.post("/users", {"email": "tuan@hoaphuoc.vn", "password": PASSWORD})
    assert {u["email"]: u["displayName"] for u in admin.get("/v1/users").get_json()}["tuan@hoaphuoc.vn"] == "tuan@hoaphuoc.vn"


def test_bad_user_input_says_why_and_creates_nobody(signed_in, app):
    before = user_count(app)
    cases = [
        ({"email": "", "name": "", "password": ""}, ["Hãy nhập địa chỉ email của người dùng.", "ít nhất 10 ký tự"]),
        ({"email": "không phải email", "password": PASSWORD}, ["Đây không phải địa chỉ email."]),
        ({"email": "a@b.vn", "password": "ngắn"}, ["ít nhất 10 ký tự"]),
        ({"email": "a@b.vn", "password": "x" * 300}, ["Mật khẩu quá dài."]),
        ({"email": "a@b.vn", "name": "n" * 256, "password": PASSWORD}, ["Tên quá dài."]),
        ({"email": ADMIN_EMAIL.upper(), "password": PASSWORD}, ["Đã có người dùng với địa chỉ email này."]),
    ]
    for data, messages in cases:
        resp = signed_in.post("/users", data)
        assert resp.status_code == 400, data
        text = resp.get_data(as_text=True)
        for m in messages:
            assert m in text, (data, m)
    assert 'value="a@b.vn"' in signed_in.post("/users", {"email": "a@b.vn", "password": "x"}).get_data(as_text=True)
    assert user_count(app) == before


def test_a_password_reset_signs_the_user_out_and_the_new_one_works(signed_in, app, admin_password_hash):
    uid = make_user(app, "lan@hoaphuoc.vn", admin_password_hash)
    theirs = Browserish(app.test_client()).sign_in("lan@hoaphuoc.vn")
    signed_in.get("/users")
    short = signed_in.post(f"/users/{uid}/password", {"password": "ngắn"})
    assert short.status_code == 400 and "ít nhất 10 ký tự" in short.get_data(as_text=True)
    assert theirs.get("/projects").status_code == 200  # nothing changed
    assert signed_in.post(f"/users/{uid}/password", {"password": PASSWORD}).status_code == 302
    assert theirs.get("/projects").status_code == 302  # signed out
    Browserish(app.test_client()).sign_in("lan@hoaphuoc.vn", PASSWORD)
    assert app.test_client().post("/v1/sessions", json={"email": "lan@hoaphuoc.vn", "password": ADMIN_PASSWORD}
                                  ).status_code == 401
    assert signed_in.post("/users/99999/password", {"password": PASSWORD}).status_code == 404


def test_deleting_a_user_signs_them_out_and_keeps_the_administrator(signed_in, app, admin, admin_password_hash):
    uid = make_user(app, "lan@hoaphuoc.vn", admin_password_hash)
    theirs = Browserish(app.test_client()).sign_in("lan@hoaphuoc.vn")
    signed_in.get("/users")
    assert signed_in.post(f"/users/{uid}/delete").status_code == 302
    assert theirs.get("/projects").status_code == 302
    assert "lan@hoaphuoc.vn" not in {u["email"] for u in admin.get("/v1/users").get_json()}
    web = Browserish(app.test_client())
    web.get("/sign-in")
    assert web.post("/sign-in", {"email": "lan@hoaphuoc.vn", "password": ADMIN_PASSWORD}).status_code == 401
    assert signed_in.post(f"/users/{uid}/delete").status_code == 404  # already gone
    me = user_id(app, ADMIN_EMAIL)
    resp = signed_in.post(f"/users/{me}/delete")
    assert resp.status_code == 400 and "Bạn không thể xóa tài khoản của chính mình." in resp.get_data(as_text=True)
    assert signed_in.get("/projects").status_code == 200


def test_only_administrators_manage_users(app, admin_password_hash, signed_in):
    uid = make_user(app, "m@hamlet.test", admin_password_hash)
    web = Browserish(app.test_client()).sign_in("m@hamlet.test")
    assert 'href="/users"' not in web.get("/projects").get_data(as_text=True)
    assert web.get("/users").status_code == 403
    before = user_count(app)
    assert web.post("/users", {"email": "x@y.vn", "password": PASSWORD}).status_code == 403
    assert web.post(f"/users/{user_id(app, ADMIN_EMAIL)}/password", {"password": PASSWORD}).status_code == 403
    assert web.post(f"/users/{user_id(app, ADMIN_EMAIL)}/delete").status_code == 403
    assert user_count(app) == before
    assert signed_in.client.post("/users", data={"email": "x@y.vn", "password": PASSWORD}).status_code == 400  # no CSRF
    assert signed_in.client.post(f"/users/{uid}/delete").status_code == 400
    assert user_count(app) == before


# --- project roles -------------------------------------------------------------------------------------

def test_roles_are_given_and_removed_as_the_rest_api_sees_them(signed_in, app, admin, project, admin_password_hash):
    uid = make_user(app, "lan@hoaphuoc.vn", admin_password_hash)
    page = signed_in.get(f"/projects/{project}/roles").get_data(as_text=True)
    assert '<datalist id="user-emails">' in page and "lan@hoaphuoc.vn" in page
    resp = signed_in.post(f"/projects/{project}/roles", {"email": "LAN@hoaphuoc.vn", "role": "viewer"})
    assert resp.status_code == 302
    assert admin.get(f"/v1/projects/{project}/assignments").get_json() == [{"actorId": uid, "roleId": 4}]
    again = signed_in.post(f"/projects/{project}/roles", {"email": "lan@hoaphuoc.vn", "role": "viewer"})
    assert again.status_code == 302
    assert len(admin.get(f"/v1/projects/{project}/assignments").get_json()) == 1
    lan = Browserish(app.test_client()).sign_in("lan@hoaphuoc.vn")
    assert lan.get(f"/projects/{project}").status_code == 200
    signed_in.post(f"/projects/{project}/roles", {"email": "lan@hoaphuoc.vn", "role": "manager"})
    page = signed_in.get(f"/projects/{project}/roles").get_data(as_text=True)
    assert "Người xem" in page and "Quản lý dự án" in page
    assert signed_in.post(f"/projects/{project}/roles/{uid}/viewer/remove").status_code == 302
    assert admin.get(f"/v1/projects/{project}/assignments").get_json() == [{"actorId": uid, "roleId": 3}]


def test_bad_role_input_says_why_and_changes_nothing(signed_in, app, admin, project, admin_password_hash):
    uid = make_user(app, "lan@hoaphuoc.vn", admin_password_hash, "viewer", project)
    signed_in.get(f"/projects/{project}/roles")
    cases = [({"email": "", "role": "viewer"}, "Hãy nhập địa chỉ email của một người dùng."),
             ({"email": "ai@dau.vn", "role": "viewer"}, "Không có người dùng nào với địa chỉ email này."),
             ({"email": "lan@hoaphuoc.vn", "role": "admin"}, "Hãy chọn một vai trò."),
             ({"email": "lan@hoaphuoc.vn"}, "Hãy chọn một vai trò.")]
    for data, message in cases:
        resp = signed_in.post(f"/projects/{project}/roles", data)
        assert resp.status_code == 400 and message in resp.get_data(as_text=True), data
    assert signed_in.post(f"/projects/{project}/roles/{uid}/manager/remove").status_code == 404
    assert signed_in.post(f"/projects/{project}/roles/{uid}/admin/remove").status_code == 404
    other = admin.post("/v1/projects", json_body={"name": "Phường Tân Chính"}).get_json()["id"]
    assert signed_in.post(f"/projects/{other}/roles/{uid}/viewer/remove").status_code == 404
    assert signed_in.client.post(f"/projects/{project}/roles/{uid}/viewer/remove").status_code == 400  # no CSRF
    assert admin.get(f"/v1/projects/{project}/assignments").get_json() == [{"actorId": uid, "roleId": 4}]


def test_managers_give_roles_in_their_project_and_viewers_do_not(app, admin, project, admin_password_hash):
    make_user(app, "m@hamlet.test", admin_password_hash, "manager", project)
    viewer_id = make_user(app, "v@hamlet.test", admin_password_hash, "viewer", project)
    make_user(app, "new@hamlet.test", admin_password_hash)
    manager = Browserish(app.test_client()).sign_in("m@hamlet.test")
    page = manager.get(f"/projects/{project}/roles").get_data(as_text=True)
    assert 'id="assign"' in page and "<datalist" not in page  # only administrators get the list of every user
    assert manager.post(f"/projects/{project}/roles", {"email": "new@hamlet.test", "role": "formfill"}).status_code == 302
    assert {"actorId": user_id(app, "new@hamlet.test"), "roleId": 5} in \
        admin.get(f"/v1/projects/{project}/assignments").get_json()
    viewer = Browserish(app.test_client()).sign_in("v@hamlet.test")
    assert viewer.get(f"/projects/{project}/roles").status_code == 403
    assert viewer.post(f"/projects/{project}/roles", {"email": "v@hamlet.test", "role": "manager"}).status_code == 403
    assert viewer.post(f"/projects/{project}/roles/{viewer_id}/viewer/remove").status_code == 403
    assert {"actorId": viewer_id, "roleId": 4} in admin.get(f"/v1/projects/{project}/assignments").get_json()


def test_a_manager_limited_to_some_areas_gives_roles_only_inside_them(app, admin, project, admin_password_hash):
    """The REST API's rule for area-scoped managers (server/api/projects.py), on the page."""
    from helpers import AREAS

    admin.client.put(f"/v1/projects/{project}/areas", data=AREAS.encode(), content_type="text/csv",
                     headers={"Authorization": f"Bearer {admin.token}"})
    manager = make_user(app, "m@hamlet.test", admin_password_hash)
    inside = make_user(app, "inside@hamlet.test", admin_password_hash)
    make_user(app, "anywhere@hamlet.test", admin_password_hash)
    for actor, areas in [(manager, ["DN-HV-HP"]), (inside, ["DN-HV-HP-01"])]:
        assert admin.put(f"/v1/projects/{project}/assignments/{actor}/areas", {"areas": areas}).status_code == 200
    admin.post(f"/v1/projects/{project}/assignments/manager/{manager}")
    web = Browserish(app.test_client()).sign_in("m@hamlet.test")
    web.get(f"/projects/{project}/roles")
    for email in ("anywhere@hamlet.test", "m@hamlet.test"):
        resp = web.post(f"/projects/{project}/roles", {"email": email, "role": "viewer"})
        assert resp.status_code == 400 and "chỉ được giao vai trò cho người dùng khác" in resp.get_data(as_text=True)
    assert web.post(f"/projects/{project}/roles", {"email": "inside@hamlet.test", "role": "viewer"}).status_code == 302
    assert sorted(a["actorId"] for a in admin.get(f"/v1/projects/{project}/assignments").get_json()) == \
        sorted([manager, inside])
