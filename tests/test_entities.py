"""Households as a register: a registration form creates entities, a revisit form updates them, and
Collect gets the list back as households.csv — all through the OpenRosa endpoints Collect uses."""
from __future__ import annotations

import csv
import io
import re
import uuid as uuidlib

import pytest

from collect import COLLECT
from entity_forms import HH, Phone, new_id, published, register_xml, registration, revisit, upload, visit_xml


def _base(project: int) -> str:
    return f"/v1/projects/{project}"


def entity(admin, project: int, entity_id: str) -> dict:
    resp = admin.get(f"{_base(project)}/datasets/{HH}/entities/{entity_id}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


@pytest.fixture
def phone(admin, client, project) -> Phone:
    return Phone(admin, client, project)


# --- publishing --------------------------------------------------------------------------------------

def test_publishing_a_registration_form_makes_the_entity_list_with_its_properties(admin, project):
    published(admin, project, registration())
    listed = admin.get(f"{_base(project)}/datasets").get_json()
    assert [(d["name"], d["projectId"], d["approvalRequired"]) for d in listed] == [(HH, project, False)]
    got = admin.get(f"{_base(project)}/datasets/{HH}").get_json()
    assert [p["name"] for p in got["properties"]] == ["head_name", "village", "members"]
    assert got["properties"][0]["forms"] == [{"xmlFormId": "hh_register", "name": "hh_register"}]
    assert got["sourceForms"] == [{"xmlFormId": "hh_register", "name": "hh_register"}]


def test_a_revisit_form_extends_the_list_and_is_linked_to_it(admin, project):
    published(admin, project, registration(), revisit())
    got = admin.get(f"{_base(project)}/datasets/{HH}").get_json()
    assert [p["name"] for p in got["properties"]] == ["head_name", "village", "members", "fibre"]
    members = next(p for p in got["properties"] if p["name"] == "members")
    assert [f["xmlFormId"] for f in members["forms"]] == ["hh_register", "hh_visit"]
    assert got["linkedForms"] == [{"xmlFormId": "hh_visit", "name": "hh_visit"}]


def test_a_draft_makes_no_entity_list(admin, project):
    assert upload(admin, project, registration(), publish=False).status_code == 200
    assert admin.get(f"{_base(project)}/datasets").get_json() == []


# --- intake ------------------------------------------------------------------------------------------

def test_a_registration_submitted_as_collect_does_creates_an_entity(admin, client, project, phone):
    published(admin, project, registration())
    hid = new_id()
    phone.send(register_xml(f"uuid:{hid}", "Nguyễn Văn An"))
    got = entity(admin, project, hid)
    assert got["uuid"] == hid and got["conflict"] is None
    assert got["currentVersion"]["version"] == 1
    assert got["currentVersion"]["label"] == "Hộ Nguyễn Văn An"
    assert got["currentVersion"]["data"] == {"head_name": "Nguyễn Văn An", "village": "Thôn 1", "members": "4"}
    assert got["currentVersion"]["userAgent"] == COLLECT["User-Agent"]


def test_a_failed_entity_is_recorded_on_the_submission_which_is_still_stored(admin, client, project, phone):
    published(admin, project, registration(), revisit())
    unknown = new_id()
    xml = visit_xml(unknown, "1", "5")
    phone.send(xml)
    iid = re.search(rb"<instanceID>(.*?)</instanceID>", xml).group(1).decode()
    assert admin.get(f"{_base(project)}/forms/hh_visit/submissions/{iid}").status_code == 200
    audits = admin.get(f"{_base(project)}/forms/hh_visit/submissions/{iid}/audits").get_json()
    assert [a["action"] for a in audits] == ["entity.error"]
    assert audits[0]["details"]["problem"]["problemCode"] == 404.8
    assert unknown in audits[0]["details"]["errorMessage"]


def test_an_invalid_entity_id_is_an_error_not_a_lost_submission(admin, client, project, phone):
    published(admin, project, registration())
    xml = register_xml("not-a-uuid", "Lê Thị Hoa")
    phone.send(xml)
    iid = re.search(rb"<instanceID>(.*?)</instanceID>", xml).group(1).decode()
    audits = admin.get(f"{_base(project)}/forms/hh_register/submissions/{iid}/audits").get_json()
    assert [(a["action"], a["details"]["problem"]["problemCode"]) for a in audits] == [("entity.error", 400.11)]
    assert admin.get(f"{_base(project)}/datasets/{HH}/entities").get_json() == []


def test_a_second_registration_of_the_same_entity_is_stored_with_an_error(admin, client, project, phone):
    published(admin, project, registration())
    hid = new_id()
    phone.send(register_xml(hid, "An"))
    again = register_xml(hid, "Bình")
    phone.send(again)
    iid = re.search(rb"<instanceID>(.*?)</instanceID>", again).group(1).decode()
    assert admin.get(f"{_base(project)}/forms/hh_register/submissions/{iid}").status_code == 200
    audits = admin.get(f"{_base(project)}/forms/hh_register/submissions/{iid}/audits").get_json()
    assert [(a["action"], a["details"]["problem"]["problemCode"]) for a in audits] == [("entity.error", 409.3)]
    assert hid in audits[0]["details"]["errorMessage"]
    assert entity(admin, project, hid)["currentVersion"]["label"] == "Hộ An"


def test_a_failed_update_is_applied_when_the_submission_is_edited(admin, client, project, phone):
    published(admin, project, registration(), revisit())
    hid = new_id()
    phone.send(register_xml(hid, "Trần Văn Bình"))
    first = f"uuid:{uuidlib.uuid4()}"
    phone.send(visit_xml(hid, "7", "5", instance_id=first))  # no version 7
    assert entity(admin, project, hid)["currentVersion"]["version"] == 1
    phone.send(visit_xml(hid, "1", "5", deprecated=first))
    got = entity(admin, project, hid)
    assert (got["currentVersion"]["version"], got["currentVersion"]["data"]["members"]) == (2, "5")


def test_approval_required_makes_creation_wait_for_approved(admin, client, project, phone):
    published(admin, project, registration())
    resp = admin.patch(f"{_base(project)}/datasets/{HH}", {"approvalRequired": True})
    assert resp.status_code == 200 and resp.get_json()["approvalRequired"] is True
    hid = new_id()
    xml = register_xml(hid, "Phạm Thị Cúc")
    phone.send(xml)
    iid = re.search(rb"<instanceID>(.*?)</instanceID>", xml).group(1).decode()
    assert admin.get(f"{_base(project)}/datasets/{HH}/entities").get_json() == []
    review = f"{_base(project)}/forms/hh_register/submissions/{iid}"
    assert admin.patch(review, {"reviewState": "hasIssues"}).status_code == 200
    assert admin.get(f"{_base(project)}/datasets/{HH}/entities").get_json() == []
    assert admin.patch(review, {"reviewState": "approved"}).status_code == 200
    assert [e["uuid"] for e in admin.get(f"{_base(project)}/datasets/{HH}/entities").get_json()] == [hid]


def test_an_update_from_the_current_version_is_not_a_conflict(admin, client, project, phone):
    published(admin, project, registration(), revisit())
    hid = new_id()
    phone.send(register_xml(hid, "Võ Văn Dũng", members="4"))
    phone.send(visit_xml(hid, "1", "6", fibre="no"))
    got = entity(admin, project, hid)
    assert got["conflict"] is None
    current = got["currentVersion"]
    assert (current["version"], current["baseVersion"]) == (2, 1)
    assert current["data"] == {"head_name": "Võ Văn Dũng", "village": "Thôn 1", "members": "6", "fibre": "no"}
    assert current["dataReceived"] == {"members": "6", "fibre": "no"}
    assert current["label"] == "Hộ Võ Văn Dũng"


def test_two_updates_from_the_same_base_version_are_both_kept_and_one_is_a_conflict(admin, client, project, phone):
    published(admin, project, registration(), revisit())
    hid = new_id()
    phone.send(register_xml(hid, "Đặng Thị Em", members="4"))
    # Two enumerators visit the same household with the list as it was at version 1.
    phone.send(visit_xml(hid, "1", "5", fibre="yes"))
    phone.send(visit_xml(hid, "1", "6", fibre="yes"))
    got = entity(admin, project, hid)
    assert got["conflict"] == "hard"  # both changed `members`, to different values
    assert got["currentVersion"]["data"]["members"] == "6"
    versions = admin.get(f"{_base(project)}/datasets/{HH}/entities/{hid}/versions").get_json()
    assert [(v["version"], v["baseVersion"], v["conflict"]) for v in versions] == [
        (1, None, None), (2, 1, None), (3, 1, "hard")]
    assert versions[2]["conflictingProperties"] == ["members"]


def test_an_update_of_other_properties_from_an_old_base_is_a_soft_conflict(admin, client, project, phone):
    published(admin, project, registration(), revisit())
    hid = new_id()
    phone.send(register_xml(hid, "Bùi Văn Giang"))
    phone.send(visit_xml(hid, "1", "5", fibre="yes"))
    resp = admin.patch(f"{_base(project)}/datasets/{HH}/entities/{hid}?baseVersion=2", {"data": {"village": "Thôn 2"}})
    assert resp.status_code == 200
    phone.send(visit_xml(hid, "2", "5", fibre="yes"))  # same values as version 2
    assert entity(admin, project, hid)["conflict"] == "soft"


# --- the list served to Collect ------------------------------------------------------------------------

def _manifest(phone) -> str:
    resp = phone.get("/forms/hh_visit/manifest")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_households_csv_is_served_through_the_manifest_and_its_hash_follows_the_list(admin, client, project, phone):
    published(admin, project, registration(), revisit())
    forms = phone.get("/formList").get_data(as_text=True)
    assert f"{phone.base}/forms/hh_visit/manifest</manifestUrl>" in forms
    empty = _manifest(phone)
    assert '<mediaFile type="entityList"><filename>households.csv</filename>' in empty.replace("\n", "")
    assert f"{phone.base}/datasets/{HH}/integrity</integrityUrl>" in empty
    first, second = new_id(), new_id()
    phone.send(register_xml(first, "An", members="3"))
    phone.send(register_xml(second, "Bình", members="2"))
    after = _manifest(phone)
    assert _hash(after) != _hash(empty)
    assert _manifest(phone) == after  # unchanged list, unchanged hash
    url = re.search(r"<downloadUrl>http://localhost(.*?)</downloadUrl>", after).group(1)
    resp = phone.get(url)
    assert resp.status_code == 200 and resp.headers["ETag"] == f'"{_hash(after)}"'
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows == [["name", "label", "__version", "head_name", "village", "members", "fibre"],
                    [second, "Hộ Bình", "1", "Bình", "Thôn 1", "2", ""],
                    [first, "Hộ An", "1", "An", "Thôn 1", "3", ""]]
    phone.send(visit_xml(first, "1", "4"))
    updated = _manifest(phone)
    assert _hash(updated) != _hash(after)
    assert admin.delete(f"{_base(project)}/datasets/{HH}/entities/{second}").status_code == 200
    assert _hash(_manifest(phone)) != _hash(updated)
    rows = list(csv.reader(io.StringIO(phone.get(url).get_data(as_text=True))))
    assert [r[:3] for r in rows[1:]] == [[first, "Hộ An", "2"]]


def test_households_csv_writes_awkward_values_as_pythons_csv_writer_does(admin, project, phone):
    """On PostgreSQL the database writes the rows (COPY … CSV); the bytes must be Python's csv writer's:
    empty and missing properties bare, quotes doubled, and a carriage return alone left unquoted."""
    published(admin, project, registration(), revisit())
    awkward = [("Hộ \"Ba\", phố", {"head_name": "a\rb", "village": "", "members": "x\ny"}),
               ("Hộ\r\nHai", {"head_name": " lề ", "village": "Thôn 1", "members": "\\."}),
               ("Hộ Một", {"head_name": "Một", "village": "\"", "fibre": ","})]
    ids = []
    for label, data in awkward:
        ids.append(str(uuidlib.uuid4()))
        resp = admin.post(f"{_base(project)}/datasets/{HH}/entities", json_body={"uuid": ids[-1], "label": label,
                                                                                  "data": data})
        assert resp.status_code == 200, resp.get_json()
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(["name", "label", "__version", "head_name", "village", "members", "fibre"])
    for uuid, (label, data) in reversed(list(zip(ids, awkward, strict=True))):
        writer.writerow([uuid, label, 1, *(data.get(p, "") for p in ("head_name", "village", "members", "fibre"))])
    resp = phone.get("/forms/hh_visit/attachments/households.csv")
    assert resp.status_code == 200
    assert resp.get_data() == expected.getvalue().encode("utf-8")


def _hash(manifest: str) -> str:
    return re.search(r"<hash>md5:([0-9a-f]{32})</hash>", manifest).group(1)


def test_the_integrity_endpoint_tells_collect_which_entities_are_gone(admin, client, project, phone):
    published(admin, project, registration(), revisit())
    kept, gone, never = new_id(), new_id(), new_id()
    phone.send(register_xml(kept, "An"))
    phone.send(register_xml(gone, "Bình"))
    admin.delete(f"{_base(project)}/datasets/{HH}/entities/{gone}")
    resp = phone.get(f"/datasets/{HH}/integrity?id={kept},{gone},{never}")
    assert resp.status_code == 200 and resp.headers["X-OpenRosa-Version"] == "1.0"
    body = resp.get_data(as_text=True)
    states = dict(re.findall(r'<entity id="([^"]+)"><deleted>(true|false)</deleted>', body))
    assert states == {kept: "false", gone: "true", never: "true"}


def test_an_app_user_of_the_revisit_form_gets_the_list_and_its_integrity(admin, client, project, phone):
    published(admin, project, registration(), revisit())
    hid = new_id()
    phone.send(register_xml(hid, "An"))
    user = admin.post(f"{_base(project)}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    assert admin.post(f"{_base(project)}/forms/hh_visit/assignments/app-user/{user['id']}").status_code == 200
    key = f"/v1/key/{user['token']}/projects/{project}"
    manifest = client.get(f"{key}/forms/hh_visit/manifest", headers=COLLECT).get_data(as_text=True)
    url = re.search(r"<downloadUrl>http://localhost(.*?)</downloadUrl>", manifest).group(1)
    assert url.startswith(key)
    assert hid in client.get(url, headers=COLLECT).get_data(as_text=True)
    resp = client.get(f"{key}/datasets/{HH}/integrity?id={hid}", headers=COLLECT)
    assert resp.status_code == 200 and "<deleted>false</deleted>" in resp.get_data(as_text=True)
    assert client.get(f"{key}/datasets/{HH}/entities", headers=COLLECT).status_code == 403


def test_two_phones_sending_updates_at_the_same_moment_both_land(admin, client, project, phone, live_server):
    import threading

    import requests

    published(admin, project, registration(), revisit())
    hid = new_id()
    phone.send(register_xml(hid, "Ngô Văn Hải", members="4"))
    bodies = [visit_xml(hid, "1", members) for members in ("5", "6")]
    start, results = threading.Barrier(2), []

    def send(xml: bytes) -> None:
        start.wait()
        resp = requests.post(f"{live_server}{phone.base}/submission", headers=COLLECT, timeout=30,
                             files={"xml_submission_file": ("submission.xml", xml, "text/xml")})
        results.append(resp.status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201, 201]
    versions = admin.get(f"{_base(project)}/datasets/{HH}/entities/{hid}/versions").get_json()
    assert [(v["version"], v["baseVersion"]) for v in versions] == [(1, None), (2, 1), (3, 1)]
    assert [v["conflict"] for v in versions] == [None, None, "hard"]
    assert entity(admin, project, hid)["conflict"] == "hard"
