"""An edit (a submission carrying `deprecatedID`) reaches only the households the caller may see, by
every route: OpenRosa `POST …/submission`, REST `POST …/submissions` and `PUT …/submissions/{id}`.
A household elsewhere is 404, as if it were not there, and nothing is stored."""
from __future__ import annotations

import random

from collect import submit
from helpers import HP, give, web_user
from server.synthetic import random_household, to_xml


def edit_of(h, new_id: str) -> bytes:
    """The household's XML as an edit of its current version, under a new instanceID."""
    xml = to_xml(h, deprecated_id=h.instance_id)
    assert xml.count(h.instance_id.encode()) == 2
    return xml.replace(h.instance_id.encode(), new_id.encode(), 1)


def untouched(field, h) -> None:
    survey = field.survey
    versions = field.admin.get(f"{survey}/submissions/{h.instance_id}/versions").get_json()
    assert [v["instanceId"] for v in versions] == [h.instance_id]
    assert field.admin.get(f"{survey}/submissions/{h.instance_id}.xml").data == to_xml(h)
    assert field.admin.get(f"{survey}/submissions/{h.instance_id}").get_json()["reviewState"] is None


def test_an_openrosa_edit_of_another_communes_household_is_not_found(field, commune_manager):
    theirs = next(h for h in field.households if h.instance_id in field.outside and h.village != "XX-99")
    resp = submit(commune_manager.client, f"/v1/projects/{field.project}", edit_of(theirs, "uuid:hijack-1"),
                  headers=commune_manager._headers())
    assert resp.status_code == 404, resp.data
    assert theirs.instance_id.encode() in resp.data  # the same answer as for an instanceID that does not exist
    untouched(field, theirs)
    assert field.admin.get(f"{field.survey}/submissions/uuid:hijack-1").status_code == 404
    # Inside its commune the same edit is stored.
    mine = next(h for h in field.households if h.instance_id in field.inside)
    resp = submit(commune_manager.client, f"/v1/projects/{field.project}", edit_of(mine, "uuid:fix-1"),
                  headers=commune_manager._headers())
    assert resp.status_code == 201, resp.data
    versions = field.admin.get(f"{field.survey}/submissions/{mine.instance_id}/versions").get_json()
    assert [v["instanceId"] for v in versions if v["current"]] == ["uuid:fix-1"]


def test_a_rest_post_edit_of_another_communes_household_is_not_found(field, commune_manager):
    theirs = next(h for h in field.households if h.instance_id in field.outside)
    resp = commune_manager.client.post(f"{field.survey}/submissions", data=edit_of(theirs, "uuid:hijack-2"),
                               content_type="application/xml", headers=commune_manager._headers())
    assert resp.status_code == 404, resp.get_json()
    untouched(field, theirs)
    # PUT answered so already; it still does.
    resp = commune_manager.client.put(f"{field.survey}/submissions/{theirs.instance_id}", data=edit_of(theirs, "uuid:hijack-3"),
                              content_type="application/xml", headers=commune_manager._headers())
    assert resp.status_code == 404
    untouched(field, theirs)


def test_a_limited_data_collector_edits_only_its_communes_households(app, client, field):
    collector, actor_id = web_user(app, client, "thanhnien@example.vn")
    give(field.admin, field.project, "formfill", actor_id, [HP])
    theirs = next(h for h in field.households if h.instance_id in field.outside)
    resp = submit(collector.client, f"/v1/projects/{field.project}", edit_of(theirs, "uuid:hijack-4"),
                  headers=collector._headers())
    assert resp.status_code == 404
    untouched(field, theirs)
    # A new household anywhere is still taken: submitting is not limited.
    h = random_household(random.Random(77), "DN-TK-TG-02", members=2)
    resp = submit(collector.client, f"/v1/projects/{field.project}", to_xml(h), headers=collector._headers())
    assert resp.status_code == 201, resp.data


def test_an_unlimited_app_user_still_edits_anywhere(field, key_base):  
    theirs = next(h for h in field.households if h.instance_id in field.outside)
    resp = submit(field.admin.client, key_base, edit_of(theirs, "uuid:team-edit"))
    assert resp.status_code == 201, resp.data
