"""Public links as Central has them (docs/web-forms.md): the API's JSON, who may make them, and the
refusals a person reads on the page — a used `once` link, a revoked link, a closed form, a photo
over the size limit — each in the page's language with nothing stored."""
from __future__ import annotations

import io
import random
from dataclasses import replace

from collect import submit
from server.models.accounts import Actor
from server.models.public_links import revoke
from server.synthetic import random_household, to_xml


def _link(admin, survey, **body):
    resp = admin.post(f"{survey}/public-links", json_body={"displayName": "Hộ tự khai", **body})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _send(client, link, xml: bytes, files: dict[str, bytes] | None = None):
    token = link["token"]
    data = {"xml_submission_file": (io.BytesIO(xml), "xml_submission_file.xml", "text/xml")}
    for name, content in (files or {}).items():
        data[name] = (io.BytesIO(content), name, "image/jpeg")
    return client.post(f"/f/{token}/household_digital_survey/submission", data=data,
                       content_type="multipart/form-data")


def _xml(seed: int, photo: bool = False) -> tuple[bytes, object]:
    h = random_household(random.Random(seed), "DN-HV-HP-01", members=2, photo=photo)
    return to_xml(h), h


def test_the_api_makes_lists_and_deletes_links_in_centrals_shape(admin, survey):
    made = _link(admin, survey, once=True)
    assert set(made) >= {"id", "type", "displayName", "createdAt", "updatedAt", "deletedAt", "once", "token", "url"}
    assert made["type"] == "public_link" and made["once"] is True and made["displayName"] == "Hộ tự khai"
    assert made["url"].endswith(f"/f/{made['token']}") and len(made["token"]) == 64
    listed = admin.get(f"{survey}/public-links", headers={"X-Extended-Metadata": "true"}).get_json()
    assert [link["id"] for link in listed] == [made["id"]] and listed[0]["createdBy"]["displayName"]
    assert admin.post(f"{survey}/public-links", json_body={"once": True}).status_code == 400
    assert admin.delete(f"{survey}/public-links/{made['id']}").get_json() == {"success": True}
    assert admin.get(f"{survey}/public-links").get_json() == []
    assert admin.delete(f"{survey}/public-links/{made['id']}").status_code == 404


def test_a_viewer_may_not_make_links(viewer, survey):
    assert viewer.post(f"{survey}/public-links", json_body={"displayName": "x"}).status_code == 403


def test_a_link_submits_as_its_display_name_and_once_allows_one(admin, client, project, survey):
    link = _link(admin, survey, once=True)
    xml, h = _xml(1)
    resp = _send(client, link, xml)
    assert resp.status_code == 201, resp.get_json()
    sub = admin.get(f"{survey}/submissions/{h.instance_id}").get_json()
    assert sub["submitterId"] == link["id"]
    again, _h = _xml(2)
    refused = _send(client, link, again)
    assert refused.status_code == 403
    assert "chỉ dùng cho một lần trả lời" in refused.get_json()["message"]
    # The same refusal on Collect's route with the link's token, and the page says so too.
    assert submit(client, f"/v1/key/{link['token']}/projects/{project}", again).status_code == 403
    page = client.get(f"/f/{link['token']}")
    assert page.status_code == 403 and "chỉ dùng cho một lần trả lời" in page.get_data(as_text=True)
    assert len(admin.get(f"{survey}/submissions").get_json()) == 1


def test_a_revoked_link_and_a_closed_form_are_refused_in_the_pages_language(app, admin, client, survey):
    link = _link(admin, survey)
    assert client.get(f"/f/{link['token']}").status_code == 200
    admin.patch(survey, json_body={"state": "closed"})
    page = client.get(f"/f/{link['token']}")
    assert page.status_code == 409 and "Phiếu này đã đóng" in page.get_data(as_text=True)
    xml, _h = _xml(3)
    closed = _send(client, link, xml)
    assert closed.status_code in (403, 409), closed.get_json()
    admin.patch(survey, json_body={"state": "open"})
    with app.extensions["hamlet.sessionmaker"]() as s:  # what the manager's page does with "Revoke"
        revoke(s, s.get_one(Actor, link["id"]))
        s.commit()
    listed = admin.get(f"{survey}/public-links").get_json()
    assert listed[0]["token"] is None and listed[0]["url"] is None
    page = client.get(f"/f/{link['token']}")
    assert page.status_code == 403 and "không còn dùng được" in page.get_data(as_text=True)
    assert _send(client, link, xml).status_code == 403
    assert admin.get(f"{survey}/submissions").get_json() == []


def test_an_over_size_photo_is_refused_and_nothing_is_stored(app, admin, client, survey):
    link = _link(admin, survey)
    app.config["HAMLET"] = replace(app.config["HAMLET"], max_submission_bytes=20_000)
    xml, h = _xml(4, photo=True)
    resp = _send(client, link, xml, {h.photo: b"\xff\xd8" + b"0" * 60_000})
    assert resp.status_code == 413
    assert admin.get(f"{survey}/submissions").get_json() == []
