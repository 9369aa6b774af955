"""Trying a draft on a phone before publishing it, as ODK Central does (docs/odk-compatibility.md,
"Draft testing"): Collect set up with …/v1/test/{draftToken}/projects/{p} lists, downloads and
submits to the draft with no other credential; its test submissions are the draft's alone, and go
when the draft is published or abandoned; a token that no longer opens a draft is 404 everywhere."""
import hashlib
import io
import random
import zipfile
from urllib.parse import urlparse

from lxml import etree

from collect import COLLECT, COLLECT_GET, entries, instance, submit
from entity_forms import HH, Phone, new_id, published, register_xml, registration, revisit
from helpers import FORM, give, inputs_xform, post_xml, web_user, xform
from server.synthetic import random_household, to_xml

MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
DEVICE = "deviceID=collect%3AAbCdEfGh12345678"


def path_of(url: str) -> str:
    parsed = urlparse(url)
    return parsed.path + ("?" + parsed.query if parsed.query else "")


def collect_get(client, url):
    """What Collect fetches, with no Authorization header: the token in the URL is the credential."""
    path = path_of(url)
    return client.get(f"{path}{'&' if '?' in path else '?'}{DEVICE}", headers=COLLECT_GET)


def draft_of(admin, project, form="thu") -> dict:
    resp = admin.get(f"/v1/projects/{project}/forms/{form}/draft")
    assert resp.status_code == 200
    return resp.get_json()


def new_draft(admin, project, version: str, form="thu") -> dict:
    """A published version 1 with a draft `version` that has the logo uploaded; the draft's JSON."""
    if admin.get(f"/v1/projects/{project}/forms/{form}").status_code == 404:
        assert post_xml(admin, project, xform(form, "1")).status_code == 200
    resp = admin.post(f"/v1/projects/{project}/forms/{form}/draft", data=xform(form, version),
                      content_type="application/xml")
    assert resp.status_code == 200
    up = admin.post(f"/v1/projects/{project}/forms/{form}/draft/attachments/logo.png", data=b"logo-bytes",
                    content_type="image/png")
    assert up.status_code == 200
    return draft_of(admin, project, form)


def draft_base(project, token) -> str:
    return f"/v1/test/{token}/projects/{project}"


def send(client, project, token, version="2", name="Thử", form="thu", photo=b"jpeg", iid=None):
    xml = instance(form, version, f"<name>{name}</name><photo>p.jpg</photo>", instance_id=iid)
    return submit(client, f"{draft_base(project, token)}/forms/{form}/draft", xml, {"p.jpg": photo}), xml


def test_a_draft_has_a_token_and_the_published_form_has_none(admin, project):
    draft = new_draft(admin, project, "2")
    token = draft["draftToken"]
    assert isinstance(token, str) and len(token) == 64
    assert admin.get(f"/v1/projects/{project}/forms/thu").get_json()["draftToken"] is None
    assert admin.get(f"/v1/projects/{project}/forms/thu/versions/1").get_json()["draftToken"] is None


def test_collect_lists_downloads_and_fetches_media_of_the_draft_with_the_token_alone(admin, client, project):
    draft = new_draft(admin, project, "2")
    base = draft_base(project, draft["draftToken"])
    resp = client.get(f"{base}/forms/thu/draft/formList?{DEVICE}", headers=COLLECT_GET)
    assert resp.status_code == 200
    assert resp.headers["X-OpenRosa-Version"] == "1.0"
    [entry] = entries(resp)
    # Central's draft list: the draft's version and hash, its URLs under the same /v1/test/{token} prefix.
    assert entry["formID"] == "thu" and entry["version"] == "2"
    assert entry["hash"] == f"md5:{draft['hash']}"
    assert entry["downloadUrl"] == f"http://localhost{base}/forms/thu/draft.xml"
    assert entry["manifestUrl"] == f"http://localhost{base}/forms/thu/draft/manifest"

    form_xml = collect_get(client, entry["downloadUrl"])
    assert form_xml.status_code == 200 and b'version="2"' in form_xml.data
    assert "md5:" + hashlib.md5(form_xml.data).hexdigest() == entry["hash"]

    manifest = collect_get(client, entry["manifestUrl"])
    assert manifest.status_code == 200 and manifest.headers["X-OpenRosa-Version"] == "1.0"
    [media] = etree.fromstring(manifest.data).findall(f"{MANIFEST_NS}mediaFile")
    fields = {etree.QName(c).localname: c.text for c in media}
    assert fields["filename"] == "logo.png"
    assert fields["downloadUrl"] == f"http://localhost{base}/forms/thu/draft/attachments/logo.png"
    logo = collect_get(client, fields["downloadUrl"])
    assert logo.status_code == 200 and logo.data == b"logo-bytes"
    assert fields["hash"] == "md5:" + hashlib.md5(b"logo-bytes").hexdigest()


def test_a_test_submission_is_the_drafts_and_never_the_published_forms(admin, client, project):
    draft = new_draft(admin, project, "2")
    token = draft["draftToken"]
    head = client.head(f"{draft_base(project, token)}/forms/thu/draft/submission", headers=COLLECT)
    assert head.status_code == 204
    resp, xml = send(client, project, token, photo=b"test-photo")
    assert resp.status_code == 201, resp.data
    real = submit(client, f"/v1/projects/{project}", instance("thu", "1", "<name>Thật</name>"),
                  headers={"Authorization": f"Bearer {admin.token}"})
    assert real.status_code == 201

    tests = admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions").get_json()
    assert [s["instanceName"] is None and s["submitterId"] for s in tests] == [None]
    [test] = tests
    iid = test["instanceId"]
    one = admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions/{iid}")
    assert one.status_code == 200
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions/{iid}.xml").data == xml
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions/{iid}/attachments").get_json()[0]["exists"]
    photo = admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions/{iid}/attachments/p.jpg")
    assert photo.status_code == 200 and photo.data == b"test-photo"

    published = admin.get(f"/v1/projects/{project}/forms/thu/submissions")
    assert [s["instanceId"] for s in published.get_json()] != [iid] and len(published.get_json()) == 1
    assert published.headers["X-Total-Count"] == "1"
    assert admin.get(f"/v1/projects/{project}/forms/thu/submissions/{iid}").status_code == 404

    real_csv = admin.get(f"/v1/projects/{project}/forms/thu/submissions.csv").data.decode()
    assert "Thật" in real_csv and "Thử" not in real_csv and iid not in real_csv
    test_csv = admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions.csv").data.decode()
    assert "Thử" in test_csv and "Thật" not in test_csv and iid in test_csv
    zipped = admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions.csv.zip")
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as z:
        assert "Thử" in z.read("thu.csv").decode() and z.read("media/p.jpg") == b"test-photo"

    real_odata = admin.get(f"/v1/projects/{project}/forms/thu.svc/Submissions").get_json()["value"]
    assert [r["name"] for r in real_odata] == ["Thật"]
    test_odata = admin.get(f"/v1/projects/{project}/forms/thu/draft.svc/Submissions").get_json()
    assert [r["name"] for r in test_odata["value"]] == ["Thử"]
    assert test_odata["@odata.context"].endswith(f"/v1/projects/{project}/forms/thu/draft.svc/$metadata#Submissions")
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft.svc").status_code == 200
    assert b"EntityType" in admin.get(f"/v1/projects/{project}/forms/thu/draft.svc/$metadata").data
    # The same instanceID cannot be both a test and a real submission.
    again = submit(client, f"/v1/projects/{project}", instance("thu", "1", "<name>X</name>", instance_id=iid),
                   headers={"Authorization": f"Bearer {admin.token}"})
    assert again.status_code == 409


def test_draft_routes_keep_the_roles_of_the_published_ones(admin, client, project):
    draft = new_draft(admin, project, "2")
    send(client, project, draft["draftToken"])
    for path in ("draft/submissions", "draft/submissions.csv", "draft.svc/Submissions"):
        assert client.get(f"/v1/projects/{project}/forms/thu/{path}").status_code in (401, 403)
    admin.delete(f"/v1/projects/{project}/forms/thu/draft")
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions").status_code == 404


def test_publishing_discards_test_submissions_and_revokes_the_token(admin, client, project):
    draft = new_draft(admin, project, "2")
    token = draft["draftToken"]
    assert send(client, project, token)[0].status_code == 201
    assert admin.post(f"/v1/projects/{project}/forms/thu/draft/publish").status_code == 200
    assert admin.get(f"/v1/projects/{project}/forms/thu/submissions").get_json() == []
    assert "Thử" not in admin.get(f"/v1/projects/{project}/forms/thu/submissions.csv").data.decode()
    assert_revoked(client, project, token)
    # A new draft has a new token; the test submissions of the old one stay gone.
    fresh = new_draft(admin, project, "3")
    assert fresh["draftToken"] not in (None, token)
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions").get_json() == []


def test_abandoning_or_replacing_a_draft_discards_its_test_submissions(admin, client, project):
    draft = new_draft(admin, project, "2")
    token = draft["draftToken"]
    assert send(client, project, token)[0].status_code == 201
    # Replacing the draft keeps its token (Central): the phone goes on testing the new upload.
    replaced = new_draft(admin, project, "3")
    assert replaced["draftToken"] == token
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions").get_json() == []
    [entry] = entries(client.get(f"{draft_base(project, token)}/forms/thu/draft/formList", headers=COLLECT_GET))
    assert entry["version"] == "3"
    r3 = send(client, project, token, version="3")[0]
    assert r3.status_code == 201, r3.data
    # Abandoning it revokes the token and deletes the test submissions.
    assert admin.delete(f"/v1/projects/{project}/forms/thu/draft").status_code == 200
    assert_revoked(client, project, token)
    again = new_draft(admin, project, "4")
    assert again["draftToken"] != token
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions").get_json() == []


def assert_revoked(client, project, token):
    base = f"{draft_base(project, token)}/forms/thu/draft"
    for resp in (client.get(f"{base}/formList", headers=COLLECT_GET), client.get(f"{base}/manifest", headers=COLLECT_GET),
                 client.get(f"{base}.xml"), client.get(f"{base}/attachments/logo.png"),
                 client.head(f"{base}/submission", headers=COLLECT), send(client, project, token)[0]):
        assert resp.status_code == 404, resp.request.path
    listed = client.get(f"{base}/formList", headers=COLLECT_GET)
    assert b"does not exist anymore or your access is no longer valid" in listed.data


def test_a_wrong_token_opens_nothing(admin, client, project):
    draft = new_draft(admin, project, "2")
    wrong = "a" * 64
    assert client.get(f"{draft_base(project, wrong)}/forms/thu/draft/formList", headers=COLLECT_GET).status_code == 404
    assert client.get(f"{draft_base(project + 1, draft['draftToken'])}/forms/thu/draft.xml").status_code == 404
    assert send(client, project, wrong)[0].status_code == 404
    # A submission for another form through this draft's URL is refused and stores nothing.
    other = instance("khac", "2", "<name>x</name>")
    resp = submit(client, f"{draft_base(project, draft['draftToken'])}/forms/thu/draft", other)
    assert resp.status_code == 400
    assert admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions").get_json() == []


def test_a_field_new_in_the_draft_is_in_the_test_export_and_not_the_published_one(admin, client, project):
    assert post_xml(admin, project, inputs_xform("moi", "Mới", [("name", "string", "Tên")], "1")).status_code == 200
    two = inputs_xform("moi", "Mới", [("name", "string", "Tên"), ("phone", "string", "Số điện thoại")], "2")
    assert admin.post(f"/v1/projects/{project}/forms/moi/draft", data=two, content_type="application/xml").status_code == 200
    token = draft_of(admin, project, "moi")["draftToken"]
    xml = instance("moi", "2", "<name>Thử</name><phone>0905123456</phone>")
    assert submit(client, f"{draft_base(project, token)}/forms/moi/draft", xml).status_code == 201
    test_csv = admin.get(f"/v1/projects/{project}/forms/moi/draft/submissions.csv").data.decode()
    header, row = test_csv.splitlines()[:2]
    assert "phone" in header and "0905123456" in row
    real_csv = admin.get(f"/v1/projects/{project}/forms/moi/submissions.csv").data.decode()
    assert "phone" not in real_csv and len(real_csv.splitlines()) == 1
    assert "phone" in admin.get(f"/v1/projects/{project}/forms/moi/draft.svc/$metadata").get_data(as_text=True)
    assert "phone" not in admin.get(f"/v1/projects/{project}/forms/moi.svc/$metadata").get_data(as_text=True)
    # Published, the field is the form's; the test submission is gone.
    assert admin.post(f"/v1/projects/{project}/forms/moi/draft/publish").status_code == 200
    published = admin.get(f"/v1/projects/{project}/forms/moi/submissions.csv").data.decode()
    assert "phone" in published.splitlines()[0] and len(published.splitlines()) == 1


def test_test_submissions_never_create_entities_and_lists_serve_as_plain_files(admin, client, project):
    published(admin, project, registration(), revisit())
    assert admin.post(f"/v1/projects/{project}/forms/hh_register/draft").status_code == 200
    token = draft_of(admin, project, "hh_register")["draftToken"]
    resp = submit(client, f"{draft_base(project, token)}/forms/hh_register/draft", register_xml(new_id(), "Lan"))
    assert resp.status_code == 201
    assert len(admin.get(f"/v1/projects/{project}/forms/hh_register/draft/submissions").get_json()) == 1
    assert admin.get(f"/v1/projects/{project}/datasets/{HH}/entities").get_json() == []
    # A real registration, then the revisit form's draft gets the list as a plain CSV under its token.
    phone = Phone(admin, client, project)
    assert phone.send(register_xml(new_id(), "Hoa")).status_code == 201
    assert admin.post(f"/v1/projects/{project}/forms/hh_visit/draft").status_code == 200
    visit_token = draft_of(admin, project, "hh_visit")["draftToken"]
    base = f"{draft_base(project, visit_token)}/forms/hh_visit/draft"
    manifest = client.get(f"{base}/manifest", headers=COLLECT_GET)
    [media] = etree.fromstring(manifest.data).findall(f"{MANIFEST_NS}mediaFile")
    assert media.get("type") is None
    fields = {etree.QName(c).localname: c.text for c in media}
    assert fields["filename"] == f"{HH}.csv" and "integrityUrl" not in fields
    listed = collect_get(client, fields["downloadUrl"])
    assert listed.status_code == 200 and "Hộ Hoa" in listed.get_data(as_text=True)


def test_an_area_limited_reader_sees_only_its_areas_test_submissions(field, viewer, client):
    admin, survey, project = field.admin, field.survey, field.project
    before = viewer.get(f"{survey}/indicators").get_json()
    assert admin.post(f"{survey}/draft").status_code == 200
    token = admin.get(f"{survey}/draft").get_json()["draftToken"]
    inside = random_household(random.Random(101), "DN-HV-HP-01", members=2)
    outside = random_household(random.Random(102), "DN-HV-HN-01", members=2)
    for h in (inside, outside):
        assert submit(client, f"{draft_base(project, token)}/forms/{FORM}/draft", to_xml(h)).status_code == 201
    assert {s["instanceId"] for s in admin.get(f"{survey}/draft/submissions").get_json()} == \
        {inside.instance_id, outside.instance_id}
    assert [s["instanceId"] for s in viewer.get(f"{survey}/draft/submissions").get_json()] == [inside.instance_id]
    assert viewer.get(f"{survey}/draft/submissions/{outside.instance_id}").status_code == 404
    csv_text = viewer.get(f"{survey}/draft/submissions.csv").data.decode()
    assert inside.instance_id in csv_text and outside.instance_id not in csv_text
    odata = viewer.get(f"{survey}/draft.svc/Submissions").get_json()["value"]
    assert [r["__id"] for r in odata] == [inside.instance_id]
    # The published form's lists and indicators do not move.
    assert not {inside.instance_id, outside.instance_id} & {s["instanceId"] for s in
                                                             admin.get(f"{survey}/submissions").get_json()}
    assert viewer.get(f"{survey}/indicators").get_json() == before


def test_collect_edits_and_resends_among_test_submissions_even_on_a_closed_form(admin, client, project):
    draft = new_draft(admin, project, "2")
    token = draft["draftToken"]
    assert admin.client.patch(f"/v1/projects/{project}/forms/thu", json={"state": "closed"},
                              headers={"Authorization": f"Bearer {admin.token}"}).status_code == 200
    first, xml = send(client, project, token, name="Lần 1")
    assert first.status_code == 201          # Central takes test submissions whatever the form's state
    iid = admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions").get_json()[0]["instanceId"]
    base = f"{draft_base(project, token)}/forms/thu/draft"
    assert submit(client, base, xml).status_code == 201    # an identical resend
    edit = instance("thu", "2", "<name>Lần 2</name>", deprecated=iid)
    assert submit(client, base, edit).status_code == 201
    [sub] = admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions").get_json()
    assert sub["instanceId"] == iid and sub["reviewState"] == "edited"
    assert len(admin.get(f"/v1/projects/{project}/forms/thu/draft/submissions/{iid}/versions").get_json()) == 2
    # A real submission cannot edit a test one: to the published form, it is not there.
    assert admin.client.patch(f"/v1/projects/{project}/forms/thu", json={"state": "open"},
                              headers={"Authorization": f"Bearer {admin.token}"}).status_code == 200
    real_edit = submit(client, f"/v1/projects/{project}", instance("thu", "1", "<name>x</name>", deprecated=iid),
                       headers={"Authorization": f"Bearer {admin.token}"})
    assert real_edit.status_code == 404
    assert admin.get(f"/v1/projects/{project}/forms/thu/submissions").get_json() == []


def test_only_who_may_change_the_form_sees_the_token_of_an_unpublished_draft(app, admin, client, project):
    assert post_xml(admin, project, xform("nhap", "1"), query="?publish=false").status_code == 200
    token = draft_of(admin, project, "nhap")["draftToken"]
    assert admin.get(f"/v1/projects/{project}/forms/nhap").get_json()["draftToken"] == token
    viewer, actor_id = web_user(app, client, "xem@example.vn")
    give(admin, project, "viewer", actor_id)
    assert viewer.get(f"/v1/projects/{project}/forms/nhap").get_json()["draftToken"] is None
    assert [f["draftToken"] for f in viewer.get(f"/v1/projects/{project}/forms").get_json()] == [None]
    assert viewer.get(f"/v1/projects/{project}/forms/nhap/draft").status_code == 403


def test_a_signed_in_caller_who_may_submit_sends_test_submissions_without_the_token(admin, client, project):
    new_draft(admin, project, "2")
    base = f"/v1/projects/{project}/forms/thu/draft"
    auth = {"Authorization": f"Bearer {admin.token}"}
    assert client.head(f"{base}/submission", headers={**COLLECT, **auth}).status_code == 204
    assert client.head(f"{base}/submission", headers=COLLECT).status_code == 401
    resp = submit(client, base, instance("thu", "2", "<name>Thử</name>"), headers=auth)
    assert resp.status_code == 201
    [sub] = admin.get(f"{base}/submissions").get_json()
    assert sub["submitterId"] is not None
    assert admin.get(f"/v1/projects/{project}/forms/thu/submissions").get_json() == []
    assert submit(client, base, instance("thu", "2", "<name>x</name>")).status_code == 401
