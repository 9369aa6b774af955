"""Submissions from ODK Collect, as Central receives them (odk-protocol §3, §5, §10 checks 6–13)."""
import random

from lxml import etree

from collect import COLLECT, DEVICE_ID, instance, submit
from helpers import FORM
from server.synthetic import random_household, to_xml


def household(seed=1, members=4, photo=False):
    return random_household(random.Random(seed), "DN-HV-HP-01", members=members, photo=photo)


def message(resp) -> str:
    root = etree.fromstring(resp.data)
    return root.find("{http://openrosa.org/http/response}message").text


def rest_list(admin, survey):
    return admin.get(f"{survey}/submissions").get_json()


# --- check 6: HEAD ---------------------------------------------------------------------------------

def test_head_is_204_with_the_size_limit(client, key_base):
    resp = client.head(f"{key_base}/submission?deviceID=collect%3Ax", headers=COLLECT)
    assert resp.status_code == 204 and resp.data == b""
    assert resp.headers["X-OpenRosa-Version"] == "1.0"
    assert resp.headers["X-OpenRosa-Accept-Content-Length"] == "100000000"


def test_head_without_credentials_asks_for_them(client, project, survey):
    resp = client.head(f"/v1/projects/{project}/submission", headers=COLLECT)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith('Digest realm="Hamlet"')


# --- check 8: a new submission ---------------------------------------------------------------------

def test_new_submission_with_photo_is_stored_byte_for_byte(admin, client, key_base, survey):
    h = household(photo=True)
    xml = to_xml(h)
    photo = b"\xff\xd8\xff\xe0 jpeg bytes" * 100
    resp = submit(client, key_base, xml, {h.photo: photo})
    assert resp.status_code == 201
    assert resp.headers["Content-Type"].startswith("text/xml")
    assert "Submission received" in message(resp)
    [sub] = rest_list(admin, survey)
    assert sub["instanceId"] == h.instance_id and sub["deviceId"] == DEVICE_ID
    assert sub["userAgent"].startswith("org.odk.collect.android/")
    assert isinstance(sub["submitterId"], int) and sub["reviewState"] is None
    assert sub["instanceName"] == f"DN-HV-HP-01 – {h.respondent}"
    assert admin.get(f"{survey}/submissions/{h.instance_id}.xml").data == xml
    [att] = admin.get(f"{survey}/submissions/{h.instance_id}/attachments").get_json()
    assert (att["name"], att["exists"]) == (h.photo, True)
    got = admin.get(f"{survey}/submissions/{h.instance_id}/attachments/{h.photo}")
    assert got.data == photo and got.content_type == "image/jpeg"


def test_answers_land_in_columns_with_the_roster_as_rows(app, client, key_base):
    h = household(members=3)
    assert submit(client, key_base, to_xml(h)).status_code == 201
    from server.models.form_data import data_tables

    with app.extensions["hamlet.sessionmaker"]() as s:
        tables = data_tables(s, 1)
        col = {path: name for path, (_, name) in tables.columns.items()}
        root = s.execute(tables.root.select()).mappings().one()
        assert root[col["location/village"]] == "DN-HV-HP-01"
        assert root[col["household/household_size"]] == "3"
        members = s.execute(tables.repeats["household/members"].select()
                            .order_by(tables.repeats["household/members"].c.id)).mappings().all()
        assert [m["row_key"] for m in members] == [f"household/members[{i}]" for i in (1, 2, 3)]
        assert [m[col["household/members/member_name"]] for m in members] == [m.name for m in h.members]
        assert all(m["parent_key"] == "" for m in members)


# --- checks 9, 10, 11: split uploads, resends, conflicts -------------------------------------------

def test_split_upload_fills_attachments_across_posts(admin, client, key_base, survey):
    h = household(photo=True)
    xml = to_xml(h).replace(b"<notes/>", b"<notes>audio.m4a</notes>")
    first = submit(client, key_base, xml, {"other.bin": b"ignored"}, incomplete=True)
    assert first.status_code == 201
    assert admin.get(f"{survey}/submissions/{h.instance_id}/attachments").get_json()[0]["exists"] is False
    second = submit(client, key_base, xml, {h.photo: b"photo"})
    assert second.status_code == 201
    assert [a["exists"] for a in admin.get(f"{survey}/submissions/{h.instance_id}/attachments").get_json()] == [True]
    assert len(rest_list(admin, survey)) == 1


def test_identical_resend_is_201_and_stores_nothing_new(admin, client, key_base, survey):
    xml = to_xml(household())
    assert submit(client, key_base, xml).status_code == 201
    again = submit(client, key_base, xml)
    assert again.status_code == 201 and "Already received" in message(again)
    assert len(rest_list(admin, survey)) == 1


def test_same_instance_id_with_different_xml_is_409_and_changes_nothing(admin, client, key_base, survey):
    h = household()
    xml = to_xml(h)
    submit(client, key_base, xml)
    other = xml.replace(b"<mobile_data>yes</mobile_data>", b"<mobile_data>no</mobile_data>")
    resp = submit(client, key_base, other)
    assert resp.status_code == 409 and "different XML" in message(resp)
    assert admin.get(f"{survey}/submissions/{h.instance_id}.xml").data == xml


# --- check 12: edits -------------------------------------------------------------------------------

def test_edit_keeps_the_first_instance_id_and_carries_attachments_forward(admin, client, key_base, survey):
    h = household(photo=True)
    original = to_xml(h)
    submit(client, key_base, original, {h.photo: b"photo-1"})
    old_id = h.instance_id
    h.instance_id = "uuid:00000000-0000-4000-8000-000000000002"
    edited = to_xml(h, deprecated_id=old_id).replace(b"<mobile_data>yes", b"<mobile_data>no")
    resp = submit(client, key_base, edited)
    assert resp.status_code == 201
    [sub] = rest_list(admin, survey)
    assert sub["instanceId"] == old_id and sub["reviewState"] == "edited"
    assert sub["currentVersion"]["instanceId"] == h.instance_id
    assert admin.get(f"{survey}/submissions/{old_id}.xml").data == edited
    versions = admin.get(f"{survey}/submissions/{old_id}/versions").get_json()
    assert [v["instanceId"] for v in versions] == [h.instance_id, old_id]
    assert admin.get(f"{survey}/submissions/{old_id}/versions/{old_id}.xml").data == original
    got = admin.get(f"{survey}/submissions/{old_id}/attachments/{h.photo}")
    assert got.status_code == 200 and got.data == b"photo-1"
    # A later version's id leads to the logical submission.
    assert admin.get(f"{survey}/submissions/{h.instance_id}").status_code == 301
    # Editing the stale copy again is refused; an unknown deprecatedID is 404.
    h.instance_id = "uuid:00000000-0000-4000-8000-000000000003"
    stale = submit(client, key_base, to_xml(h, deprecated_id=old_id))
    assert stale.status_code == 409 and "out of date" in message(stale)
    unknown = submit(client, key_base, to_xml(h, deprecated_id="uuid:nope"))
    assert unknown.status_code == 404


# --- check 13 and other refusals -------------------------------------------------------------------

def test_closed_form_refuses_closing_form_accepts(admin, client, key_base, survey):
    admin.patch(survey, {"state": "closing"})
    assert submit(client, key_base, to_xml(household(1))).status_code == 201
    admin.patch(survey, {"state": "closed"})
    resp = submit(client, key_base, to_xml(household(2)))
    assert resp.status_code == 409 and "not currently accepting" in message(resp)


def test_unknown_version_is_404_with_advice(client, key_base):
    resp = submit(client, key_base, to_xml(household(), version="1999"))
    assert resp.status_code == 404 and "'1999' does not exist" in message(resp)


def test_old_published_version_is_still_accepted(admin, client, key_base, survey):
    xml = admin.get(f"{survey}.xml").data.replace(b'version="2026112301"', b'version="2026112302"')
    admin.post(f"{survey}/draft", data=xml, content_type="application/xml")
    assert admin.post(f"{survey}/draft/publish").status_code == 200
    assert submit(client, key_base, to_xml(household())).status_code == 201


def test_missing_xml_part_is_400(client, key_base):
    resp = client.post(f"{key_base}/submission", data={"photo.jpg": (__import__("io").BytesIO(b"x"), "photo.jpg")},
                       headers=COLLECT, content_type="multipart/form-data")
    assert resp.status_code == 400 and "xml_submission_file" in message(resp)


def test_unknown_form_is_404(client, key_base):
    resp = submit(client, key_base, instance("nope", "1", "<a/>"))
    assert resp.status_code == 404 and "no form 'nope'" in message(resp)


def test_deleted_submission_cannot_be_resent(admin, client, key_base, survey):
    h = household()
    submit(client, key_base, to_xml(h))
    assert admin.delete(f"{survey}/submissions/{h.instance_id}").status_code == 200
    resp = submit(client, key_base, to_xml(h))
    assert resp.status_code == 409 and "deleted" in message(resp)
    assert admin.post(f"{survey}/submissions/{h.instance_id}/restore").status_code == 200
    assert len(rest_list(admin, survey)) == 1


def test_app_user_not_assigned_cannot_submit(admin, client, project, survey):
    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "x"}).get_json()
    resp = submit(client, f"/v1/key/{au['token']}/projects/{project}", to_xml(household()))
    assert resp.status_code == 403


def test_app_user_cannot_read_submissions(admin, client, key_base, survey):
    submit(client, key_base, to_xml(household()))
    token = key_base.split("/")[3]
    assert client.get(f"/v1/key/{token}{survey[3:]}/submissions").status_code == 403


def test_revoked_app_user_stops_at_once(admin, client, project, key_base):
    token = key_base.split("/")[3]
    assert admin.delete(f"/v1/sessions/{token}").status_code == 200
    assert submit(client, key_base, to_xml(household())).status_code == 403


def test_extended_form_metadata_counts_submissions(admin, client, key_base, survey):
    for seed in (1, 2, 3):
        submit(client, key_base, to_xml(household(seed)))
    h = household(1)
    admin.patch(f"{survey}/submissions/{h.instance_id}", {"reviewState": "hasIssues"})
    body = admin.get(survey, headers={"X-Extended-Metadata": "true"}).get_json()
    assert body["submissions"] == 3
    assert body["reviewStates"] == {"received": 2, "hasIssues": 1, "edited": 0}
    assert body["lastSubmission"].endswith("Z")


def test_roles_on_submissions(admin, client, project, key_base, survey):
    from helpers import Api, sign_in

    h = household()
    submit(client, key_base, to_xml(h))
    users = {}
    for role in ("viewer", "formfill", "manager"):
        uid = admin.post("/v1/users", json_body={"email": f"{role}@x.vn", "password": "long enough pw"}).get_json()["id"]
        admin.post(f"/v1/projects/{project}/assignments/{role}/{uid}")
        users[role] = Api(client, sign_in(client, f"{role}@x.vn", "long enough pw"))
    one = f"{survey}/submissions/{h.instance_id}"
    assert users["viewer"].get(f"{survey}/submissions").status_code == 200
    assert users["viewer"].patch(one, {"reviewState": "approved"}).status_code == 403
    assert users["viewer"].delete(one).status_code == 403
    assert users["formfill"].get(f"{survey}/submissions").status_code == 403
    assert users["formfill"].get(f"{one}.xml").status_code == 403
    resp = users["formfill"].post(f"{survey}/submissions", data=to_xml(household(5)), content_type="application/xml")
    assert resp.status_code == 200
    assert users["manager"].patch(one, {"reviewState": "approved"}).get_json()["reviewState"] == "approved"
    bad = users["manager"].patch(one, {"reviewState": "published"})
    assert bad.status_code == 400


def test_commenting_needs_only_the_right_to_read_as_in_central(admin, client, project, key_base, survey):
    """Central's POST …/submissions/{id}/comments asks for submission.read (lib/resources/comments.js),
    which its Project Viewer role has: a viewer comments, a data collector and an app user do not."""
    from helpers import Api, sign_in

    h = household()
    submit(client, key_base, to_xml(h))
    users = {}
    for role in ("viewer", "formfill"):
        uid = admin.post("/v1/users", json_body={"email": f"{role}@x.vn", "password": "long enough pw"}).get_json()["id"]
        admin.post(f"/v1/projects/{project}/assignments/{role}/{uid}")
        users[role] = (uid, Api(client, sign_in(client, f"{role}@x.vn", "long enough pw")))
    comments = f"{survey}/submissions/{h.instance_id}/comments"
    viewer_id, viewer = users["viewer"]
    made = viewer.post(comments, json_body={"body": "Hộ này thiếu tọa độ GPS."})
    assert made.status_code == 200 and made.get_json()["actorId"] == viewer_id
    assert [(c["body"], c["actorId"]) for c in viewer.get(comments).get_json()] == [("Hộ này thiếu tọa độ GPS.", viewer_id)]
    _, collector = users["formfill"]
    assert collector.post(comments, json_body={"body": "x"}).status_code == 403
    assert collector.get(comments).status_code == 403
    key_comments = f"{key_base}/forms/{FORM}/submissions/{h.instance_id}/comments"
    assert client.post(key_comments, json={"body": "x"}).status_code == 403
    assert len(admin.get(comments).get_json()) == 1


def test_rest_create_checks_the_form_id(admin, survey):
    from collect import instance

    resp = admin.post(f"{survey}/submissions", data=instance("other_form", "1", "<a/>"), content_type="application/xml")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.8


def test_rest_edit_needs_deprecated_id(admin, client, key_base, survey):
    h = household()
    submit(client, key_base, to_xml(h))
    resp = admin.client.put(f"{survey}/submissions/{h.instance_id}", data=to_xml(household(9)),
                            content_type="application/xml", headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.19


def test_refusals_speak_vietnamese_and_english(admin, client, key_base, survey):
    admin.patch(survey, {"state": "closed"})
    text = message(submit(client, key_base, to_xml(household())))
    assert text.startswith("Biểu mẫu đã đóng") and "not currently accepting" in text
