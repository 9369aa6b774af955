"""Projects and per-project roles: every route checks the caller's role."""
from helpers import CORPUS, Api, publish_file, sign_in


def _user(admin, client, email) -> tuple[int, Api]:
    uid = admin.post("/v1/users", json_body={"email": email, "password": "long enough pw"}).get_json()["id"]
    return uid, Api(client, sign_in(client, email, "long enough pw"))


def test_project_crud(admin):
    created = admin.post("/v1/projects", json_body={"name": "Xã Hòa Phước", "description": "Hòa Vang"}).get_json()
    assert created["name"] == "Xã Hòa Phước" and created["archived"] is False and created["createdAt"]
    pid = created["id"]
    assert [p["id"] for p in admin.get("/v1/projects").get_json()] == [pid]
    patched = admin.patch(f"/v1/projects/{pid}", {"name": "Xã Hòa Phước (2026)"}).get_json()
    assert patched["name"] == "Xã Hòa Phước (2026)" and patched["updatedAt"]
    extended = admin.get(f"/v1/projects/{pid}", headers={"X-Extended-Metadata": "true"}).get_json()
    assert extended["forms"] == 0 and extended["appUsers"] == 0
    assert admin.delete(f"/v1/projects/{pid}").status_code == 200
    assert admin.get(f"/v1/projects/{pid}").status_code == 404


def test_users_see_only_projects_they_have_a_role_in(admin, client):
    p1 = admin.post("/v1/projects", json_body={"name": "A"}).get_json()["id"]
    admin.post("/v1/projects", json_body={"name": "B"})
    uid, viewer = _user(admin, client, "viewer@example.vn")
    assert viewer.get("/v1/projects").get_json() == []
    assert viewer.get(f"/v1/projects/{p1}").status_code == 403
    assert admin.post(f"/v1/projects/{p1}/assignments/viewer/{uid}").status_code == 200
    assert [p["id"] for p in viewer.get("/v1/projects").get_json()] == [p1]
    assert viewer.get(f"/v1/projects/{p1}").status_code == 200


def test_viewer_reads_forms_but_cannot_create_or_close_them(admin, client, project):
    publish_file(admin, project, CORPUS / "onadata-accents/form.xlsx", fallback="sample_accent")
    uid, viewer = _user(admin, client, "v@example.vn")
    admin.post(f"/v1/projects/{project}/assignments/viewer/{uid}")
    assert [f["xmlFormId"] for f in viewer.get(f"/v1/projects/{project}/forms").get_json()] == ["sample_accent"]
    denied = publish_file(viewer, project, CORPUS / "onadata-tutorial-repeats/form.xlsx", fallback="tutorial_w_repeats")
    assert denied.status_code == 403 and denied.get_json()["code"] == 403.1
    assert viewer.patch(f"/v1/projects/{project}/forms/sample_accent", {"state": "closed"}).status_code == 403
    assert viewer.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "x"}).status_code == 403


def test_project_manager_publishes_forms_and_manages_app_users(admin, client, project):
    uid, manager = _user(admin, client, "m@example.vn")
    assert admin.post(f"/v1/projects/{project}/assignments/manager/{uid}").status_code == 200
    assert publish_file(manager, project, CORPUS / "onadata-accents/form.xlsx", fallback="sample_accent").status_code == 200
    au = manager.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"})
    assert au.status_code == 200
    # …but only in their own project.
    other = admin.post("/v1/projects", json_body={"name": "other"}).get_json()["id"]
    assert publish_file(manager, other, CORPUS / "onadata-accents/form.xlsx", fallback="sample_accent").status_code == 403


def test_roles_are_listed_with_app_user_as_id_2(client, admin):
    roles = {r["system"]: r["id"] for r in admin.get("/v1/roles").get_json()}
    assert roles["app-user"] == 2
    assert {"admin", "manager", "viewer", "formfill"} <= set(roles)


def test_unknown_project_role_is_404(admin, project):
    uid = admin.get("/v1/users/current").get_json()["id"]
    assert admin.post(f"/v1/projects/{project}/assignments/wizard/{uid}").status_code == 404
