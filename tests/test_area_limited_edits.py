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


def _digest(challenge: str, method: str, uri: str, nc: int, email: str, password: str) -> dict:
    """Collect's Digest answer (RFC 2617, qop=auth) to the server's challenge."""
    import hashlib
    import re

    from collect import COLLECT

    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
    ha1 = hashlib.md5(f"{email}:{fields['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    answer = hashlib.md5(f"{ha1}:{fields['nonce']}:{nc:08x}:c0ffee:auth:{ha2}".encode()).hexdigest()
    return {**COLLECT, "Authorization": f'Digest username="{email}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
            f'uri="{uri}", response="{answer}", qop=auth, nc={nc:08x}, cnonce="c0ffee", algorithm=MD5'}


def test_a_limited_supervisor_on_digest_edits_only_its_communes_households_on_the_short_cut(app, client, field,
                                                                                          monkeypatch):
    """Collect with a username and password, once vouched for, is served in front of Flask
    (server/openrosa/post.py): the area limit on edits holds there as on Flask's route."""
    from server.models import recent

    email, password = "giamsat.hp@example.vn", "mật khẩu giám sát"
    uid = field.admin.post("/v1/users", json_body={"email": email, "password": password}).get_json()["id"]
    give(field.admin, field.project, "manager", uid, [HP])
    base = f"/v1/projects/{field.project}"
    uri = f"{base}/submission?deviceID=collect%3AAbCdEfGh12345678"
    challenge = client.head(uri).headers["WWW-Authenticate"]
    for nc in (1, 2, 3):  # the user and a clean standing are then remembered for a second
        assert client.head(uri, headers=_digest(challenge, "HEAD", uri, nc, email, password)).status_code == 204
    theirs = next(h for h in field.households if h.instance_id in field.outside and h.village != "XX-99")
    warm = submit(client, base, edit_of(theirs, "uuid:hijack-d"), headers=_digest(challenge, "POST", uri, 4, email,
                                                                                   password))
    assert warm.status_code == 404, warm.data
    untouched(field, theirs)
    for remembered in recent._caches:
        remembered.clear()
    cold = submit(client, base, edit_of(theirs, "uuid:hijack-d"), headers=_digest(challenge, "POST", uri, 5, email,
                                                                                   password))
    assert (cold.status_code, cold.data) == (warm.status_code, warm.data)
    mine = next(h for h in field.households if h.instance_id in field.inside)
    calls = []
    dispatch = app.full_dispatch_request
    monkeypatch.setattr(app, "full_dispatch_request", lambda: calls.append(1) or dispatch())
    for nc in (6, 7):
        assert client.head(uri, headers=_digest(challenge, "HEAD", uri, nc, email, password)).status_code == 204
    seen = len(calls)
    resp = submit(client, base, edit_of(mine, "uuid:fix-d"), headers=_digest(challenge, "POST", uri, 8, email, password))
    assert resp.status_code == 201, resp.data
    assert len(calls) == seen, "the edit was stored in front of Flask"
    versions = field.admin.get(f"{field.survey}/submissions/{mine.instance_id}/versions").get_json()
    assert [v["instanceId"] for v in versions if v["current"]] == ["uuid:fix-d"]
