"""The audit log on the pages: what the pages do is recorded as the REST API's actions are, and the
administrators' page lists and filters the entries, in Vietnamese first, paged, for administrators only."""
from __future__ import annotations

from helpers import FORM

from .helpers import Browserish, make_user, sign_in, small_targets

PASSWORD = "mật khẩu đủ dài 2026"


def actions(admin, **params) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return admin.get(f"/v1/audits?{query}").get_json()


def test_what_the_pages_do_is_recorded(signed_in, admin, project, survey, households):
    web = signed_in
    me = admin.get("/v1/users/current").get_json()["id"]
    assert [e["actorId"] for e in actions(admin, action="user.session.create")] == [me]

    assert web.post("/users", {"email": "lan@hamlet.test", "name": "Chị Lan", "password": PASSWORD}).status_code == 302
    lan = next(e for e in actions(admin, action="user.create"))["acteeId"]
    lan_id = int(lan.split(":")[1])
    web.get("/users")
    web.post(f"/users/{lan_id}/password", {"password": PASSWORD + "!"})
    assert [e["details"] for e in actions(admin, action="user.update")] == [
        {"data": {"password": True}, "setByAdministrator": True}]
    web.get(f"/projects/{project}/roles")
    web.post(f"/projects/{project}/roles", {"email": "lan@hamlet.test", "role": "viewer"})
    web.get(f"/projects/{project}/roles")
    web.post(f"/projects/{project}/roles/{lan_id}/viewer/remove")
    assert [(e["action"], e["acteeId"]) for e in actions(admin, action="user") if "assignment" in e["action"]] == [
        ("user.assignment.delete", lan), ("user.assignment.create", lan)]

    web.get(f"/projects/{project}/app-users")
    assert web.post(f"/projects/{project}/app-users", {"name": "Tổ 2"}).status_code == 302
    created = [e for e in actions(admin, action="field_key.create") if e["details"]["data"]["displayName"] == "Tổ 2"]
    assert len(created) == 1
    au = int(created[0]["acteeId"].split(":")[1])
    web.get(f"/projects/{project}/app-users")
    web.post(f"/projects/{project}/app-users/{au}/revoke")
    assert [e["acteeId"] for e in actions(admin, action="field_key.delete")] == [f"actor:{au}"]

    h = households[0].instance_id
    web.get(f"/projects/{project}/forms/{FORM}/submissions/{h}")
    web.post(f"/projects/{project}/forms/{FORM}/submissions/{h}/review", {"state": "approved"})
    reviews = actions(admin, action="submission.update")
    assert [(e["actorId"], e["details"]["instanceId"], e["details"]["reviewState"]) for e in reviews] == [
        (me, h, "approved")]

    resp = web.get(f"/projects/{project}/forms/{FORM}/downloads/submissions.csv")
    assert resp.status_code == 200 and resp.get_data()
    exports = actions(admin, action="form.submission.export")
    assert [(e["actorId"], e["details"]) for e in exports] == [(me, {"format": "submissions.csv"})]

    web.get("/projects")
    web.post("/projects", {"name": "Xã mới"})
    assert len(actions(admin, action="project.create")) == 2   # the fixture's and this one


def test_the_log_page_lists_and_filters_in_both_languages(signed_in, admin, app, admin_password_hash):
    for name in ("Một", "Hai"):
        admin.post("/v1/projects", json_body={"name": name})
    lan = make_user(app, "lan@hamlet.test", admin_password_hash)
    page = signed_in.get("/audit-log").get_data(as_text=True)
    assert "Nhật ký thao tác" in page and page.count('data-action="project.create"') == 2
    assert page.count('data-action="user.session.create"') == 1
    only = signed_in.get("/audit-log?action=project.create").get_data(as_text=True)
    assert only.count("data-action=") == 2
    grouped = signed_in.get("/audit-log?action=user").get_data(as_text=True)
    assert grouped.count("data-action=") == 1
    assert signed_in.get("/audit-log?from=2999-01-01").get_data(as_text=True).count("data-action=") == 0
    assert signed_in.get("/audit-log?to=2000-01-01").get_data(as_text=True).count("data-action=") == 0
    assert signed_in.get(f"/audit-log?actor={lan}").get_data(as_text=True).count("data-action=") == 0
    bad = signed_in.get("/audit-log?action=nonsense&from=hôm qua")
    assert bad.status_code == 400 and "Choose an action" not in bad.get_data(as_text=True)
    signed_in.post("/language", {"language": "en"})
    english = signed_in.get("/audit-log").get_data(as_text=True)
    assert "Audit log" in english and "Created a project" in english


def test_the_log_page_is_paged_newest_first(signed_in, admin):
    for n in range(55):
        admin.post("/v1/projects", json_body={"name": f"Dự án {n}"})
    first = signed_in.get("/audit-log?action=project.create").get_data(as_text=True)
    assert first.count("data-action=") == 50 and "Dự án 54" in first and 'rel="next"' in first
    second = signed_in.get("/audit-log?action=project.create&page=2").get_data(as_text=True)
    assert second.count("data-action=") == 5 and "Dự án 0" in second


def test_only_administrators_see_the_log(app, client, admin_password_hash, project):
    make_user(app, "xem@hamlet.test", admin_password_hash, role="manager", project_id=project)
    manager = Browserish(client).sign_in("xem@hamlet.test")
    assert manager.get("/audit-log").status_code == 403
    assert "/audit-log" not in manager.get("/projects").get_data(as_text=True)


def test_the_log_page_fits_a_phone_with_its_filters_open(page, admin, project, shot):
    """In Chromium at 360 px: filtering by a group narrows the list; every tap target is 44 px; no
    sideways scrolling."""
    admin.post("/v1/projects", json_body={"name": "Một tên dự án rất dài để xem dòng có xuống đúng không"})
    sign_in(page)
    page.goto("/audit-log")
    page.click("details.filters summary")
    page.select_option("#f-action", "project")
    page.click("details.filters button[type=submit]")
    page.wait_for_url("**/audit-log?*action=project*")
    assert page.locator("li[data-action]").count() == 2
    assert small_targets(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "audit-log-360")
