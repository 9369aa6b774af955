"""The server audit log (server/models/audits.py) as Central's GET /v1/audits: every recorded action
leaves exactly one entry naming its actor, its actee and its time; the filters; pyodk and downloads
leave form.submission.export; nothing can change or remove an entry."""
from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collect import submit
from helpers import ADMIN_EMAIL, ADMIN_PASSWORD, AREAS, FORM, XLSFORMS, Api, web_user, xform
from server.synthetic import random_household, to_xml


def entries(admin: Api, **params) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    resp = admin.get(f"/v1/audits?{query}", headers={"X-Extended-Metadata": "true"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def one(admin: Api, action: str, actor_id: int | None, actee: str | None) -> dict:
    """The single entry of `action`, checked to name this actor and actee (`type:id`) and a recent time."""
    found = [e for e in entries(admin, action=action) if e["action"] == action]
    assert len(found) == 1, (action, found)
    entry = found[0]
    assert entry["actorId"] == actor_id
    assert entry["acteeId"] == actee
    if actor_id is not None:
        assert entry["actor"]["id"] == actor_id
    if actee is not None:
        assert entry["actee"] is not None
    logged = datetime.fromisoformat(entry["loggedAt"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - logged) < timedelta(minutes=5)
    return entry


def admin_id(admin: Api) -> int:
    return admin.get("/v1/users/current").get_json()["id"]


def test_sessions_users_and_passwords(admin, client, app):
    me = admin_id(admin)
    token = client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                        headers={"User-Agent": "pyodk-ish"}).get_json()["token"]
    assert token
    entry = one(admin, "user.session.create", me, f"actor:{me}")
    assert entry["details"] == {"userAgent": "pyodk-ish"}

    made = admin.post("/v1/users", json_body={"email": "lan@hamlet.test", "password": "mật khẩu dài đủ"})
    lan = made.get_json()["id"]
    assert one(admin, "user.create", me, f"actor:{lan}")["actee"]["email"] == "lan@hamlet.test"
    assert admin.patch(f"/v1/users/{lan}", {"displayName": "Chị Lan"}).status_code == 200
    assert one(admin, "user.update", me, f"actor:{lan}")["details"] == {"data": {"displayName": "Chị Lan"}}

    lan_api = Api(client, client.post("/v1/sessions", json={"email": "lan@hamlet.test",
                                                            "password": "mật khẩu dài đủ"}).get_json()["token"])
    assert lan_api.put(f"/v1/users/{lan}/password", {"old": "mật khẩu dài đủ", "new": "mật khẩu mới dài"}
                       ).status_code == 200
    changes = [e for e in entries(admin, action="user.update") if e["details"] == {"data": {"password": True}}]
    assert [(e["actorId"], e["acteeId"]) for e in changes] == [(lan, f"actor:{lan}")]

    assert admin.delete(f"/v1/users/{lan}").status_code == 200
    assert one(admin, "user.delete", me, f"actor:{lan}")["actee"]["deletedAt"] is not None


def test_projects_forms_and_roles(admin, app, client, project):
    me = admin_id(admin)
    one(admin, "project.create", me, f"project:{project}")
    admin.patch(f"/v1/projects/{project}", {"name": "Phường mới"})
    assert one(admin, "project.update", me, f"project:{project}")["actee"]["name"] == "Phường mới"

    assert admin.post(f"/v1/projects/{project}/forms?publish=true", data=xform("thu", "1"),
                      content_type="application/xml").status_code == 200
    form_entries = entries(admin, action="form.create")
    assert len(form_entries) == 1 and form_entries[0]["actee"]["xmlFormId"] == "thu"
    form_ref = form_entries[0]["acteeId"]
    one(admin, "form.create", me, form_ref)
    one(admin, "form.update.publish", me, form_ref)
    admin.patch(f"/v1/projects/{project}/forms/thu", {"state": "closing"})
    assert one(admin, "form.update", me, form_ref)["details"] == {"data": {"state": "closing"}}

    _api, lan = web_user(app, client, "lan@hamlet.test")
    admin.post(f"/v1/projects/{project}/assignments/viewer/{lan}")
    granted = one(admin, "user.assignment.create", me, f"actor:{lan}")
    assert granted["details"]["role"] == "viewer" and granted["details"]["projectId"] == project
    admin.delete(f"/v1/projects/{project}/assignments/viewer/{lan}")
    one(admin, "user.assignment.delete", me, f"actor:{lan}")

    client.put(f"/v1/projects/{project}/areas", data=AREAS.encode(),
               content_type="text/csv", headers={"Authorization": f"Bearer {admin.token}"})
    assert admin.put(f"/v1/projects/{project}/assignments/{lan}/areas", {"areas": ["DN-HV-HP"]}).status_code == 200
    admin.put(f"/v1/projects/{project}/assignments/{lan}/areas", {"areas": ["DN-HV-HP"]})   # no change: no entry
    limited = one(admin, "area_assignment.update", me, f"actor:{lan}")
    assert limited["details"] == {"projectId": project, "areas": ["DN-HV-HP"], "previous": []}

    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    one(admin, "field_key.create", me, f"actor:{au['id']}")
    admin.post(f"/v1/projects/{project}/forms/thu/assignments/app-user/{au['id']}")
    one(admin, "field_key.assignment.create", me, f"actor:{au['id']}")
    admin.delete(f"/v1/projects/{project}/forms/thu/assignments/app-user/{au['id']}")
    one(admin, "field_key.assignment.delete", me, f"actor:{au['id']}")
    admin.delete(f"/v1/sessions/{au['token']}")
    one(admin, "field_key.session.end", me, f"actor:{au['id']}")
    admin.delete(f"/v1/projects/{project}/app-users/{au['id']}")
    one(admin, "field_key.delete", me, f"actor:{au['id']}")

    admin.delete(f"/v1/projects/{project}/forms/thu")
    one(admin, "form.delete", me, form_ref)
    admin.delete(f"/v1/projects/{project}")
    one(admin, "project.delete", me, f"project:{project}")


def test_reviews_deletes_restores_and_every_export(admin, client, project, survey, households):
    me = admin_id(admin)
    form_ref = entries(admin, action="form.create")[0]["acteeId"]
    h = households[0].instance_id
    admin.patch(f"{survey}/submissions/{h}", {"reviewState": "approved"})
    reviewed = one(admin, "submission.update", me, form_ref)
    assert reviewed["details"]["instanceId"] == h and reviewed["details"]["reviewState"] == "approved"
    admin.delete(f"{survey}/submissions/{h}")
    one(admin, "submission.delete", me, form_ref)
    admin.post(f"{survey}/submissions/{h}/restore")
    one(admin, "submission.restore", me, form_ref)
    edited = households[1]
    old_id, edited.instance_id = edited.instance_id, "uuid:11111111-2222-4333-8444-555555555555"
    resp = admin.client.put(f"{survey}/submissions/{old_id}", data=to_xml(edited, deprecated_id=old_id),
                            content_type="application/xml", headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code == 200, resp.get_json()
    details = one(admin, "submission.update.version", me, form_ref)["details"]
    assert (details["instanceId"], details["newInstanceId"]) == (old_id, edited.instance_id)

    for path in ("submissions.csv", "submissions.csv.zip", "submissions.xlsx", "submissions.geojson", "persons.csv",
                 ".svc/Submissions", ".svc/Submissions?$top=2"):
        resp = admin.get(f"{survey}{'' if path.startswith('.') else '/'}{path}")
        assert resp.status_code == 200, (path, resp.data[:200])
        resp.get_data()   # the whole stream
    exports = entries(admin, action="form.submission.export")
    assert len(exports) == 7 and {e["actorId"] for e in exports} == {me}
    assert {e["acteeId"] for e in exports} == {form_ref}
    assert sorted(e["details"]["format"] for e in exports) == sorted(
        ["submissions.csv", "submissions.csv.zip", "submissions.xlsx", "submissions.geojson", "persons.csv",
         "odata", "odata"])
    # Neither OData's service document nor its $metadata holds answers; refused queries record nothing.
    admin.get(f"/v1/projects/{project}/forms/{FORM}.svc")
    admin.get(f"/v1/projects/{project}/forms/{FORM}.svc/$metadata")
    assert admin.get(f"{survey}.svc/Submissions?$top=nope").status_code == 400
    assert admin.get(f"{survey}/submissions.csv?from=nonsense").status_code == 400
    assert len(entries(admin, action="form.submission.export")) == 7


def test_collect_intake_and_form_list_are_not_recorded(admin, client, project, survey, key_base):
    before = len(entries(admin))
    assert client.get(f"{key_base}/formList", headers={"X-OpenRosa-Version": "1.0"}).status_code == 200
    assert submit(client, key_base, to_xml(random_household(random.Random(9), "DN-HV-HP-01"))).status_code == 201
    assert len(entries(admin)) == before


def test_pyodk_get_table_records_one_export(odk, admin, project, tmp_path):
    form_id = odk.forms.create(definition=XLSFORMS / "household_digital_survey.xlsx").xmlFormId
    odk.submissions.create(xml=to_xml(random_household(random.Random(1), "DN-TK-TG-01")).decode(), form_id=form_id)
    table = odk.submissions.get_table(form_id=form_id)
    assert len(table["value"]) == 1
    exports = entries(admin, action="form.submission.export")
    assert len(exports) == 1
    assert exports[0]["actor"]["displayName"] and exports[0]["actee"]["xmlFormId"] == form_id
    assert exports[0]["details"] == {"format": "odata", "table": "Submissions"}


def test_throttled_sign_ins_are_recorded_once_per_account_and_address(admin, client, app):
    me = admin_id(admin)
    for _ in range(8):
        client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": "sai mật khẩu"})
    throttled = entries(admin, action="user.session.throttled")
    assert len(throttled) == 1
    assert throttled[0]["actorId"] is None and throttled[0]["acteeId"] == f"actor:{me}"
    assert throttled[0]["details"]["retryAfter"] > 0 and throttled[0]["details"]["address"]


def test_filters_groups_dates_and_paging(admin, project, app, client):
    for name in ("Một", "Hai", "Ba"):
        admin.post("/v1/projects", json_body={"name": name})
    all_ = entries(admin)
    assert [e["action"] for e in all_] == ["project.create"] * 4
    assert [e["details"]["data"]["name"] for e in all_[:3]] == ["Ba", "Hai", "Một"]   # newest first
    assert [e["details"]["data"]["name"] for e in entries(admin, limit=2, offset=1)] == ["Hai", "Một"]
    assert len(entries(admin, action="project")) == 4
    assert entries(admin, action="user") == [] and entries(admin, action="project.update") == []
    assert len(entries(admin, action="nonverbose")) == 4
    assert len(entries(admin, start="2000-01-01z")) == 4
    assert entries(admin, end="2000-01-01z") == []
    assert entries(admin, start="2999-01-01T00:00:00%2B07") == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert len(entries(admin, end=tomorrow)) == 4
    resp = admin.get("/v1/audits?start=yesterday")
    assert resp.status_code == 400 and resp.get_json()["details"]["field"] == "start"
    plain = admin.get("/v1/audits?limit=1").get_json()
    assert set(plain[0]) == {"actorId", "action", "acteeId", "details", "notes", "loggedAt"}


def test_action_notes_are_kept(admin):
    admin.post("/v1/projects", json_body={"name": "Ghi chú"}, headers={"X-Action-Notes": "theo%20y%C3%AAu%20c%E1%BA%A7u"})
    assert entries(admin, action="project.create")[0]["notes"] == "theo yêu cầu"


def test_only_site_administrators_read_the_log(app, client, project):
    viewer, _ = web_user(app, client, "xem@hamlet.test")
    assert viewer.get("/v1/audits").status_code == 403
    assert client.get("/v1/audits").status_code == 401


def test_no_route_and_no_code_changes_an_entry(app):
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods is not None and rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    server = Path(__file__).resolve().parents[1] / "server"
    writes = re.compile(r"(update|delete)\(\s*(audits\.)?Audit\b|(UPDATE|DELETE FROM)\s+\"?audits\b", re.I)
    offenders = [str(p) for p in server.rglob("*.py") if "migrations" not in p.parts and writes.search(p.read_text())]
    assert offenders == []


def test_public_links_and_webhooks_are_recorded(admin, project, survey, app):
    me = admin_id(admin)
    link = admin.post(f"{survey}/public-links", json_body={"displayName": "Khảo sát mở", "once": True}).get_json()
    entry = one(admin, "public_link.create", me, f"actor:{link['id']}")
    assert entry["details"] == {"data": {"displayName": "Khảo sát mở", "once": True}}
    assert admin.delete(f"{survey}/public-links/{link['id']}").status_code == 200
    one(admin, "public_link.delete", me, f"actor:{link['id']}")
    assert [e["action"] for e in entries(admin, action="public_link")] == ["public_link.delete", "public_link.create"]

    # A webhook sends every submission elsewhere: who set one up, and to where, is on record.
    form = entries(admin, action="form.create")[0]["acteeId"]
    app.config["HAMLET"] = replace(app.config["HAMLET"], webhook_allow_private=True)  # no DNS in the tests
    hook = admin.post(f"{survey}/webhooks", json_body={"url": "http://127.0.0.1:9/nhan"}).get_json()
    made = one(admin, "webhook.create", me, form)
    assert made["details"] == {"data": {"webhookId": hook["id"], "url": "http://127.0.0.1:9/nhan"}}
    assert admin.delete(f"{survey}/webhooks/{hook['id']}").status_code == 200
    one(admin, "webhook.delete", me, form)


def test_a_password_set_by_an_emailed_link_is_recorded(admin, client, mailbox):
    me = admin_id(admin)
    assert client.post("/v1/users/reset/initiate", json={"email": ADMIN_EMAIL}).status_code == 200
    [message] = mailbox.wait_for(1)
    token = re.search(r"token=([A-Za-z0-9_\-!$.~]+)", message.get_content()).group(1)
    assert client.post("/v1/users/reset/verify", json={"new": "mật khẩu mới rất dài"},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 200
    entry = one(admin_after_reset(client), "user.update", me, f"actor:{me}")
    assert entry["details"] == {"data": {"password": True}, "via": "password link"}


def admin_after_reset(client) -> Api:
    """Every session ended with the reset: sign in again with the new password."""
    token = client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": "mật khẩu mới rất dài"}).get_json()["token"]
    return Api(client, token)


def test_entity_lists_and_bulk_deletes(admin, project):
    me = admin_id(admin)
    base = f"/v1/projects/{project}/datasets"
    assert admin.post(base, json_body={"name": "trees"}).status_code == 200
    ref = one(admin, "dataset.create", me, entries(admin, action="dataset.create")[0]["acteeId"])["acteeId"]
    assert ref.startswith("dataset:")
    admin.post(f"{base}/trees/properties", json_body={"name": "height"})
    admin.patch(f"{base}/trees", {"ownerOnly": True})
    assert [e["details"] for e in entries(admin, action="dataset.update")] == [
        {"data": {"ownerOnly": True}}, {"properties": ["height"]}]
    uuid = "12345678-1234-4123-8123-123456789abc"
    assert admin.post(f"{base}/trees/entities", json_body={"uuid": uuid, "label": "Cây 1",
                                                           "data": {"height": "3"}}).status_code == 200
    admin.post(f"{base}/trees/entities/bulk-delete", json_body={"ids": [uuid]})
    assert one(admin, "entity.bulk.delete", me, ref)["details"] == {"entityUuids": [uuid]}
    admin.post(f"{base}/trees/entities/bulk-restore", json_body={"ids": [uuid]})
    one(admin, "entity.bulk.restore", me, ref)
    assert one(admin, "entity.bulk.restore", me, ref)["actee"]["name"] == "trees"
    assert len(entries(admin, action="dataset")) == 5
