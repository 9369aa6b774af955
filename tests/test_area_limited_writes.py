"""A commune_manager limited to a commune changes only what lies inside it (docs/security.md, "Roles and area limits").

What the whole project shares — its settings, forms, area registry, indicators workbooks and app
users — is refused (403) to anyone limited to areas, whatever its role; roles and areas it may change
only for the people of its own areas. The project, households and registry are test_area_scope's."""
from __future__ import annotations

from helpers import HP, XLSFORMS, XLSX, give, listed, web_user


def refused(resp, what: str, areas: tuple[str, ...] = (HP,)) -> None:
    """403, saying which areas the caller holds its role for."""
    assert resp.status_code == 403, (what, resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert all(a in body["message"] for a in areas) and body["details"]["areas"] == list(areas), what


def moved_registry() -> bytes:
    """The shipped registry with a village of Thạc Gián moved under Hòa Phước."""
    text = (XLSFORMS / "areas.csv").read_text(encoding="utf-8")
    moved = text.replace("DN-TK-TG-01,Tổ dân phố 12,village,DN-TK-TG,", "DN-TK-TG-01,Tổ dân phố 12,village,DN-HV-HP,")
    assert moved != text
    return moved.encode()


def test_a_limited_manager_may_not_change_the_area_registry(field, commune_manager):
    seen = listed(commune_manager, field.survey)
    resp = commune_manager.client.put(f"/v1/projects/{field.project}/areas", data=moved_registry(), content_type="text/csv",
                              headers=commune_manager._headers())
    refused(resp, "PUT areas")
    assert "area registry" in resp.get_json()["message"]
    # The other commune's households stay out of its sight, and the registry is as it was.
    assert listed(commune_manager, field.survey) == seen == field.inside
    village = next(a for a in field.admin.get(f"/v1/projects/{field.project}/areas").get_json()
                   if a["code"] == "DN-TK-TG-01")
    assert village["parent"] == "DN-TK-TG"
    # The same registry from a commune_manager of the whole project goes in.
    resp = field.admin.client.put(f"/v1/projects/{field.project}/areas", data=moved_registry(),
                                  content_type="text/csv", headers=field.admin._headers())
    assert resp.status_code == 200, resp.get_json()


def test_a_limited_manager_may_not_replace_the_indicators_workbook(field, commune_manager):
    before = field.admin.get(f"{field.survey}/indicators/definition").get_json()
    resp = commune_manager.client.put(f"{field.survey}/indicators", data=(XLSFORMS / "household_digital_targets.xlsx").read_bytes(),
                              content_type=XLSX, headers=commune_manager._headers())
    refused(resp, "PUT indicators")
    assert field.admin.get(f"{field.survey}/indicators/definition").get_json() == before


def test_a_limited_manager_may_not_change_or_delete_the_form_or_the_project(field, commune_manager):
    survey, project = field.survey, f"/v1/projects/{field.project}"
    refused(commune_manager.patch(survey, {"state": "closed"}), "PATCH form")
    refused(commune_manager.delete(survey), "DELETE form")
    refused(commune_manager.post(f"{survey}/draft"), "POST draft")
    refused(commune_manager.post(f"{survey}/draft/publish?version=2"), "publish")
    refused(commune_manager.delete(f"{survey}/draft"), "DELETE draft")
    refused(commune_manager.client.post(f"{project}/forms", data=(XLSFORMS / "household_digital_survey.xlsx").read_bytes(),
                                content_type=XLSX, headers=commune_manager._headers()), "POST form")
    refused(commune_manager.patch(project, {"name": "Đổi tên"}), "PATCH project")
    refused(commune_manager.delete(project), "DELETE project")
    form = field.admin.get(survey).get_json()
    assert form["state"] == "open" and form["version"]
    assert field.admin.get(project).get_json()["name"] == "Phường Thạc Gián"
    assert listed(commune_manager, survey) == field.inside  # what lies inside its commune is still its to see
    # Its verbs say so, as Central's extended project metadata does.
    verbs = set(commune_manager.get(project, headers={"X-Extended-Metadata": "true"}).get_json()["verbs"])
    assert {"submission.update", "assignment.create"} <= verbs
    assert not verbs & {"project.update", "project.delete", "form.update", "form.delete", "form.create",
                        "field_key.list"}


def test_a_limited_manager_neither_removes_nor_narrows_those_who_see_more(app, client, field, commune_manager):
    base = f"/v1/projects/{field.project}/assignments"
    chief, chief_id = web_user(app, client, "giamdoc@example.vn")
    give(field.admin, field.project, "manager", chief_id)
    watcher, watcher_id = web_user(app, client, "quansat@example.vn")
    give(field.admin, field.project, "viewer", watcher_id)
    neighbour, neighbour_id = web_user(app, client, "thacgian@example.vn")
    give(field.admin, field.project, "viewer", neighbour_id, ["DN-TK-TG"])

    refused(commune_manager.delete(f"{base}/manager/{chief_id}"), "remove an unlimited manager")
    refused(commune_manager.put(f"{base}/{watcher_id}/areas", {"areas": [HP]}), "narrow an unlimited viewer")
    refused(commune_manager.delete(f"{base}/viewer/{watcher_id}"), "remove an unlimited viewer")
    refused(commune_manager.put(f"{base}/{neighbour_id}/areas", {"areas": ["DN-HV-HP-01"]}), "move another commune's viewer")
    refused(commune_manager.delete(f"{base}/viewer/{neighbour_id}"), "remove another commune's viewer")
    refused(commune_manager.delete(f"{base}/manager/{commune_manager.actor_id}"), "remove itself")
    held = {(a["actorId"], a["roleId"]) for a in field.admin.get(base).get_json()}
    assert {(chief_id, 3), (watcher_id, 4), (neighbour_id, 4), (commune_manager.actor_id, 3)} <= held
    assert listed(watcher, field.survey) == set(field.village)
    assert field.admin.get(f"{base}/{neighbour_id}/areas").get_json()["areas"] == ["DN-TK-TG"]
    assert len(chief.get(f"{field.survey}/submissions").get_json()) == len(field.village)
    assert neighbour.get(f"{field.survey}/submissions").status_code == 200


def test_a_limited_manager_manages_the_people_of_its_own_commune(app, client, field, commune_manager):
    """The finer rule: give, narrow, widen within its areas and take back, for those inside its areas."""
    base = f"/v1/projects/{field.project}/assignments"
    helper, helper_id = web_user(app, client, "totruong@example.vn")
    assert commune_manager.put(f"{base}/{helper_id}/areas", {"areas": ["DN-HV-HP-01", "DN-HV-HP-02"]}).status_code == 200
    assert commune_manager.post(f"{base}/manager/{helper_id}").status_code == 200
    assert commune_manager.put(f"{base}/{helper_id}/areas", {"areas": ["DN-HV-HP-01"]}).status_code == 200
    assert {s["instanceId"] for s in helper.get(f"{field.survey}/submissions").get_json()} == {
        i for i, v in field.village.items() if v == "DN-HV-HP-01"}
    # Never beyond its own areas, nor to the whole project.
    refused(commune_manager.put(f"{base}/{helper_id}/areas", {"areas": []}), "widen to the whole project")
    refused(commune_manager.put(f"{base}/{helper_id}/areas", {"areas": ["DN-TK-TG"]}), "widen outside")
    # The helper, a limited commune_manager too, may not reach its own commune_manager, who sees more.
    refused(helper.delete(f"{base}/manager/{commune_manager.actor_id}"), "reach up", ("DN-HV-HP-01",))
    assert commune_manager.delete(f"{base}/manager/{helper_id}").status_code == 200
    assert helper.get(f"{field.survey}/submissions").status_code == 403


def test_a_limited_manager_neither_sees_nor_hands_out_app_user_keys(field, commune_manager):
    """App-user keys submit and edit anywhere in the project: only a commune_manager of the whole project
    lists (with their keys), creates, revokes or assigns them."""
    project = f"/v1/projects/{field.project}"
    keys = field.admin.get(f"{project}/app-users").get_json()
    assert keys and all(k["token"] for k in keys)
    refused(commune_manager.get(f"{project}/app-users"), "list app users")
    refused(commune_manager.post(f"{project}/app-users", {"displayName": "Tổ 9"}), "create an app user")
    refused(commune_manager.delete(f"{project}/app-users/{keys[0]['id']}"), "revoke an app user")
    refused(commune_manager.delete(f"{field.survey}/assignments/app-user/{keys[0]['id']}"), "take a form from an app user")
    refused(commune_manager.post(f"{field.survey}/assignments/app-user/{keys[0]['id']}"), "give a form to an app user")
    assert field.admin.get(f"{project}/app-users").get_json() == keys
    assert commune_manager.get(f"{project}/app-users/{keys[0]['id']}").status_code in (403, 404, 405)


def test_an_unlimited_manager_keeps_every_power(app, client, field):
    boss, boss_id = web_user(app, client, "giamdoc@example.vn")
    give(field.admin, field.project, "manager", boss_id)
    project = f"/v1/projects/{field.project}"
    assert boss.get(f"{project}/app-users").status_code == 200
    resp = boss.client.put(f"{project}/areas", data=moved_registry(), content_type="text/csv",
                           headers=boss._headers())
    assert resp.status_code == 200, resp.get_json()
    assert boss.patch(field.survey, {"state": "closing"}).status_code == 200
    assert boss.patch(project, {"name": "Đà Nẵng"}).status_code == 200
