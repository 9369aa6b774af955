"""An entity's life after creation over REST, as Central's test/integration/api/entities.js checks it:
restore, bulk delete and restore, diffs, the audit log, versions with their conflict details,
resolving a conflict, and the list's GeoJSON."""
from __future__ import annotations

import pytest

from entity_forms import HH, Phone, new_id, published, register_xml, registration, revisit, visit_xml, xlsform
from helpers import give, web_user

ALICE = "12345678-1234-4123-8234-123456789abc"
OTHER = "12345678-1234-4123-8234-123456789aaa"
NONEXISTENT = "12345678-1234-4123-8234-123456789999"


@pytest.fixture
def people(admin, project):
    """Central's `testEntities`: a list with two entities made through the API."""
    published(admin, project, registration())
    for uuid, head in ((ALICE, "Alice"), (OTHER, "Jane")):
        resp = admin.post(f"/v1/projects/{project}/datasets/{HH}/entities",
                          json_body={"uuid": uuid, "label": f"Hộ {head}", "data": {"head_name": head, "members": "4"}})
        assert resp.status_code == 200, resp.get_json()
    return f"/v1/projects/{project}/datasets/{HH}"


@pytest.fixture
def chelsea(app, client, admin, project):
    """Central's Chelsea: a project viewer, who may read but not change entities."""
    api, actor_id = web_user(app, client, "chelsea@example.vn")
    give(admin, project, "viewer", actor_id)
    return api


# --- delete and restore ------------------------------------------------------------------------------

def test_a_deleted_entity_is_listed_with_deleted_and_restored(admin, people):
    assert admin.delete(f"{people}/entities/{ALICE}").get_json() == {"success": True}
    assert admin.get(f"{people}/entities/{ALICE}").status_code == 404
    assert [e["uuid"] for e in admin.get(f"{people}/entities").get_json()] == [OTHER]
    assert [e["uuid"] for e in admin.get(f"{people}/entities?deleted=true").get_json()] == [ALICE]

    assert admin.post(f"{people}/entities/{ALICE}/restore").get_json() == {"success": True}
    got = admin.get(f"{people}/entities/{ALICE}").get_json()
    assert got["deletedAt"] is None and got["updatedAt"] is not None
    assert admin.get(f"{people}/entities?deleted=true").get_json() == []


def test_restore_refuses_a_live_entity_an_unknown_one_and_a_bad_uuid(admin, people):
    assert admin.post(f"{people}/entities/{ALICE}/restore").status_code == 404
    assert admin.post(f"{people}/entities/{NONEXISTENT}/restore").status_code == 404
    bad = admin.post(f"{people}/entities/uuid:not-a-uuid/restore")
    assert bad.status_code == 400 and bad.get_json()["code"] == 400.11
    assert bad.get_json()["message"] == "Invalid input data type: expected (uuid) to be (valid version 4 UUID)"


def test_a_viewer_may_neither_restore_nor_bulk_delete(admin, people, chelsea):
    admin.delete(f"{people}/entities/{ALICE}")
    assert chelsea.post(f"{people}/entities/{ALICE}/restore").status_code == 403
    assert chelsea.post(f"{people}/entities/bulk-delete", json_body={"ids": [OTHER]}).status_code == 403
    assert chelsea.get(f"{people}/entities/{OTHER}/audits").status_code == 200


def test_restoring_changes_the_hash_collect_sees(admin, client, project, people):
    published(admin, project, revisit())
    phone = Phone(admin, client, project)

    def hash_of_list() -> str:
        import re

        manifest = phone.get("/forms/hh_visit/manifest").get_data(as_text=True)
        return re.search(r"<hash>(.*?)</hash>", manifest).group(1)

    before = hash_of_list()
    admin.delete(f"{people}/entities/{ALICE}")
    deleted = hash_of_list()
    admin.post(f"{people}/entities/{ALICE}/restore")
    # The list is again what it was, so is its hash; a phone that fetched it while deleted sees a change.
    assert deleted != before and hash_of_list() == before


def test_bulk_delete_counts_what_it_deleted_and_is_idempotent(admin, people):
    body = {"ids": [ALICE, OTHER]}
    assert admin.post(f"{people}/entities/bulk-delete", json_body=body).get_json()["count"] == 2
    assert admin.get(f"{people}/entities").get_json() == []
    assert admin.post(f"{people}/entities/bulk-delete", json_body=body).get_json()["count"] == 0
    assert admin.post(f"{people}/entities/bulk-delete", json_body={"ids": [NONEXISTENT, "nope"]}).get_json()["count"] == 0
    assert admin.post(f"{people}/entities/bulk-restore", json_body={"ids": [OTHER]}).get_json()["count"] == 1
    assert [e["uuid"] for e in admin.get(f"{people}/entities").get_json()] == [OTHER]


def test_bulk_delete_leaves_other_lists_alone_and_needs_ids(admin, project, people):
    admin.post(f"/v1/projects/{project}/datasets", json_body={"name": "trees"})
    resp = admin.post(f"/v1/projects/{project}/datasets/trees/entities/bulk-delete", json_body={"ids": [ALICE, OTHER]})
    assert resp.get_json()["count"] == 0
    assert len(admin.get(f"{people}/entities").get_json()) == 2
    assert admin.post(f"/v1/projects/{project}/datasets/nope/entities/bulk-delete",
                      json_body={"ids": [ALICE]}).status_code == 404
    missing = admin.post(f"{people}/entities/bulk-delete", json_body={"uuids": [ALICE]})
    assert missing.status_code == 400 and "ids" in missing.get_json()["message"]


# --- diffs, audits and versions ----------------------------------------------------------------------

def test_diffs_show_each_change_with_a_new_property_having_no_old_value(admin, project, people):
    admin.patch(f"{people}/entities/{ALICE}?force=true",
                {"data": {"members": "12", "head_name": "John"}, "label": "Hộ John"})
    admin.post(f"{people}/properties", json_body={"name": "phone"})
    admin.patch(f"{people}/entities/{ALICE}?force=true", {"data": {"members": "12", "head_name": "John",
                                                                   "phone": "0905"}})
    assert admin.get(f"{people}/entities/{ALICE}/diffs").get_json() == [
        [{"old": "Hộ Alice", "new": "Hộ John", "propertyName": "label"},
         {"old": "Alice", "new": "John", "propertyName": "head_name"},
         {"old": "4", "new": "12", "propertyName": "members"}],
        [{"new": "0905", "propertyName": "phone"}],
    ]
    assert admin.get(f"{people}/entities/{NONEXISTENT}/diffs").status_code == 404


def test_the_audit_log_says_who_did_what_newest_first(app, client, admin, project, people):
    bob, bob_id = web_user(app, client, "bob@example.vn")
    give(admin, project, "manager", bob_id)
    bob.patch(f"{people}/entities/{ALICE}?force=true", {"data": {"members": "12"}})
    admin.delete(f"{people}/entities/{ALICE}")
    admin.post(f"{people}/entities/{ALICE}/restore")
    logs = admin.get(f"{people}/entities/{ALICE}/audits").get_json()
    assert [a["action"] for a in logs] == ["entity.restore", "entity.delete", "entity.update.version", "entity.create"]
    assert logs[2]["actor"]["id"] == bob_id and logs[0]["actor"]["displayName"]
    assert logs[2]["actorId"] == bob_id and logs[2]["details"]["source"] == {}
    assert all(a["details"]["entity"]["uuid"] == ALICE for a in logs)
    assert logs[3]["actorId"] == logs[0]["actorId"] != bob_id


def test_the_audit_log_names_the_submission_and_the_errors_about_the_entity(admin, client, project):
    published(admin, project, registration(), revisit())
    phone = Phone(admin, client, project)
    hid = new_id()
    phone.send(register_xml(hid, "An"))
    phone.send(visit_xml(hid, "7", "5"))   # a base version the entity never had: an entity error
    phone.send(visit_xml(hid, "1", "6"))
    logs = admin.get(f"/v1/projects/{project}/datasets/{HH}/entities/{hid}/audits").get_json()
    assert [a["action"] for a in logs] == ["entity.update.version", "entity.error", "entity.create"]
    assert logs[0]["details"]["source"]["submission"]["id"] is not None
    assert logs[1]["details"]["problem"]["problemCode"] == 404.9


def _conflict_on_version_two(admin, client, project, people):
    """Central's createConflictOnV2: two API updates, then a submission from base 2 changing members."""
    published(admin, project, revisit())
    assert admin.patch(f"{people}/entities/{ALICE}?baseVersion=1", {"data": {"members": "12"}}).status_code == 200
    assert admin.patch(f"{people}/entities/{ALICE}?baseVersion=2", {"data": {"members": "18"}}).status_code == 200
    Phone(admin, client, project).send(visit_xml(ALICE, "2", "20"))


def test_versions_carry_conflict_details_and_relevance(admin, client, project, people):
    _conflict_on_version_two(admin, client, project, people)
    versions = admin.get(f"{people}/entities/{ALICE}/versions").get_json()
    assert [v["version"] for v in versions] == [1, 2, 3, 4]
    assert [v["conflict"] for v in versions] == [None, None, None, "hard"]
    assert [v["lastGoodVersion"] for v in versions] == [False, False, True, False]
    assert [v["relevantToConflict"] for v in versions] == [False, True, True, True]
    assert versions[3]["conflictingProperties"] == ["members"]
    assert sorted(versions[3]["baseDiff"]) == ["fibre", "members"]   # against version 2
    assert sorted(versions[3]["serverDiff"]) == ["fibre", "members"]  # against version 3
    assert versions[1]["baseDiff"] == ["members"] and versions[0]["baseDiff"] == []
    relevant = admin.get(f"{people}/entities/{ALICE}/versions?relevantToConflict=true").get_json()
    assert [v["version"] for v in relevant] == [2, 3, 4]


def test_resolving_a_conflict_marks_its_versions_resolved(admin, client, project, people):
    _conflict_on_version_two(admin, client, project, people)
    resp = admin.patch(f"{people}/entities/{ALICE}?resolve=true&baseVersion=4", {})
    assert resp.status_code == 200 and resp.get_json()["conflict"] is None
    assert admin.get(f"{people}/entities/{ALICE}/versions?relevantToConflict=true").get_json() == []
    versions = admin.get(f"{people}/entities/{ALICE}/versions").get_json()
    assert [v["resolved"] for v in versions] == [False, False, False, True]
    assert versions[-1]["lastGoodVersion"] is True
    assert "entity.update.resolve" in [a["action"] for a in admin.get(f"{people}/entities/{ALICE}/audits").get_json()]
    again = admin.patch(f"{people}/entities/{ALICE}?resolve=true&baseVersion=4", {})
    assert again.status_code == 400 and again.get_json()["code"] == 400.32


def test_versions_extended_name_their_creator(admin, people):
    versions = admin.get(f"{people}/entities/{ALICE}/versions", headers={"X-Extended-Metadata": "true"}).get_json()
    assert versions[0]["creator"]["id"] == versions[0]["creatorId"]


# --- entities.geojson ------------------------------------------------------------------------------

def _mapped(admin, project) -> str:
    """A list whose `geometry` property holds a point, a trace, a shape, nothing, and rubbish."""
    published(admin, project, xlsform([["type", "name", "label", "save_to"],
                                       ["text", "name", "Name", ""], ["geopoint", "geometry", "Where", "geometry"]],
                                      [["list_name", "label"], ["places", "${name}"]], "places_form"))
    base = f"/v1/projects/{project}/datasets/places"
    for uuid, text in [("12345678-1234-4123-8234-000000000001", "16.05 108.2 10 5"),
                       ("12345678-1234-4123-8234-000000000002", "16.0 108.0 0 0;16.1 108.1 0 0"),
                       ("12345678-1234-4123-8234-000000000003", "1 1;1 2;2 2;1 1"),
                       ("12345678-1234-4123-8234-000000000004", ""),
                       ("12345678-1234-4123-8234-000000000005", "somewhere 1")]:
        data = {"geometry": text} if text else {}
        assert admin.post(f"{base}/entities", json_body={"uuid": uuid, "label": "p", "data": data}).status_code == 200
    return base


def test_entities_geojson_reads_the_geometry_property_as_central_does(admin, project):
    base = _mapped(admin, project)
    resp = admin.get(f"{base}/entities.geojson")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["type"] == "FeatureCollection"
    shapes = {f["id"][-1]: f["geometry"] for f in body["features"]}
    assert shapes == {"1": {"type": "Point", "coordinates": [108.2, 16.05, 10]},
                      "2": {"type": "LineString", "coordinates": [[108.0, 16.0, 0], [108.1, 16.1, 0]]},
                      "3": {"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1]]]}}
    assert all(f["properties"] is None for f in body["features"])


def test_entities_geojson_takes_a_filter_and_a_limit(admin, project):
    base = _mapped(admin, project)
    first = "12345678-1234-4123-8234-000000000001"
    only = admin.get(f"{base}/entities.geojson?$filter=__id eq '{first}'").get_json()
    assert [f["id"] for f in only["features"]] == [first]
    # The limit counts entities that have a geometry value, newest first: 5 (unreadable) and 3.
    assert [f["id"][-1] for f in admin.get(f"{base}/entities.geojson?limit=2").get_json()["features"]] == ["3"]


# --- linking a form attachment to an Entity List -----------------------------------------------------

def _attachment(api, path: str) -> dict:
    resp = api.get(path)
    assert resp.status_code == 200, resp.get_json()
    return next(a for a in resp.get_json() if a["name"] == "households.csv")


def test_a_data_file_named_after_a_list_says_dataset_exists(admin, project):
    published(admin, project, registration(), revisit())
    got = _attachment(admin, f"/v1/projects/{project}/forms/hh_visit/attachments")
    assert (got["exists"], got["blobExists"], got["datasetExists"], got["hash"]) == (True, False, True, None)


def test_unlinking_and_linking_again_through_the_draft(admin, project):
    published(admin, project, registration(), revisit())
    form = f"/v1/projects/{project}/forms/hh_visit"
    assert admin.post(f"{form}/draft").status_code == 200
    resp = admin.patch(f"{form}/draft/attachments/households.csv", {"dataset": False})
    assert resp.status_code == 200 and resp.get_json()["datasetExists"] is False
    assert _attachment(admin, f"{form}/draft/attachments")["exists"] is False
    assert admin.get(f"{form}/draft/attachments/households.csv").status_code == 404
    assert "households.csv" not in admin.get(f"{form}/draft/manifest").get_data(as_text=True)
    assert admin.post(f"{form}/draft/publish?version=2").status_code == 200
    assert _attachment(admin, f"{form}/attachments")["datasetExists"] is False
    assert admin.get(f"/v1/projects/{project}/datasets/{HH}").get_json()["linkedForms"] == []

    admin.post(f"{form}/draft")
    assert _attachment(admin, f"{form}/draft/attachments")["datasetExists"] is False  # the choice carries on
    resp = admin.patch(f"{form}/draft/attachments/households.csv", {"dataset": True})
    assert resp.status_code == 200 and resp.get_json()["datasetExists"] is True
    admin.post(f"{form}/draft/publish?version=3")
    assert _attachment(admin, f"{form}/attachments")["datasetExists"] is True
    assert admin.get(f"{form}/attachments/households.csv").get_data(as_text=True).startswith("name,label,__version")
    assert [f["xmlFormId"] for f in admin.get(f"/v1/projects/{project}/datasets/{HH}").get_json()["linkedForms"]] == [
        "hh_visit"]


def test_linking_refuses_what_cannot_be_linked(admin, project, chelsea):
    published(admin, project, registration(), revisit())
    form = f"/v1/projects/{project}/forms/hh_visit"
    assert admin.patch(f"{form}/draft/attachments/households.csv", {"dataset": True}).status_code == 404  # no draft
    admin.post(f"{form}/draft")
    assert admin.patch(f"{form}/draft/attachments/trees.csv", {"dataset": True}).status_code == 404  # no such list
    bad = admin.patch(f"{form}/draft/attachments/households.csv", {"dataset": "yes"})
    assert bad.status_code == 400 and "dataset" in bad.get_json()["message"]
    assert chelsea.patch(f"{form}/draft/attachments/households.csv", {"dataset": False}).status_code == 403


# --- ownerOnly ---------------------------------------------------------------------------------------

def test_an_owner_only_list_gives_each_phone_only_the_households_it_registered(admin, client, project):
    import csv
    import io
    import re

    published(admin, project, registration(), revisit())
    team1, team2 = Phone(admin, client, project), Phone(admin, client, project)
    mine, theirs = new_id(), new_id()
    team1.send(register_xml(mine, "An"))
    team2.send(register_xml(theirs, "Bình"))

    def names(phone: Phone) -> set[str]:
        resp = phone.get("/forms/hh_visit/attachments/households.csv")
        assert resp.status_code == 200
        return {row["name"] for row in csv.DictReader(io.StringIO(resp.get_data(as_text=True)))}

    def list_hash(phone: Phone) -> str:
        return re.search(r"<hash>(.*?)</hash>", phone.get("/forms/hh_visit/manifest").get_data(as_text=True)).group(1)

    assert names(team1) == names(team2) == {mine, theirs}
    shared = list_hash(team1)
    resp = admin.patch(f"/v1/projects/{project}/datasets/{HH}", {"ownerOnly": True})
    assert resp.status_code == 200 and resp.get_json()["ownerOnly"] is True
    assert (names(team1), names(team2)) == ({mine}, {theirs})
    assert len({shared, list_hash(team1), list_hash(team2)}) == 3
    # A project manager still gets the whole list.
    whole = admin.get(f"/v1/projects/{project}/forms/hh_visit/attachments/households.csv").get_data(as_text=True)
    assert mine in whole and theirs in whole
    admin.patch(f"/v1/projects/{project}/datasets/{HH}", {"ownerOnly": False})
    assert names(team1) == {mine, theirs} and list_hash(team1) == shared


def test_one_entitys_geojson_and_the_lists_creators(admin, project):
    base = _mapped(admin, project)
    one = admin.get(f"{base}/entities/12345678-1234-4123-8234-000000000001/geojson").get_json()
    assert [f["geometry"]["type"] for f in one["features"]] == ["Point"]
    assert admin.get(f"{base}/entities/12345678-1234-4123-8234-000000000004/geojson").get_json()["features"] == []
    assert admin.get(f"{base}/entities/{NONEXISTENT}/geojson").status_code == 404
    creators = admin.get(f"{base}/entities/creators").get_json()
    assert len(creators) == 1 and creators[0]["displayName"]
