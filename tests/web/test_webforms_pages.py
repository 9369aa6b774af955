"""The fill and edit pages without a browser (docs/web-forms.md): who may open them, their policy,
the submission route's checks (CSRF for a signed-in user, submission.update for an edit), area limits
on editing, and an app user's link."""
from __future__ import annotations

import io
import random

from helpers import FORM, HP, XLSFORMS, give
from server.synthetic import random_household, to_xml

from .helpers import Browserish, make_user


def directives(header: str) -> dict[str, str]:
    return {d.split()[0]: " ".join(d.split()[1:]) for d in header.split(";") if d.strip()}


def _multipart(xml: bytes) -> dict:
    return {"xml_submission_file": (io.BytesIO(xml), "xml_submission_file.xml", "text/xml")}


def test_the_fill_page_mounts_the_engine_under_its_own_narrow_policy(signed_in, project, survey):
    resp = signed_in.get(f"/projects/{project}/forms/{FORM}/fill")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'src="/web-static/webforms/webforms.js" type="module"' in html
    assert f'data-form-url="/projects/{project}/forms/{FORM}/fill/form.xml"' in html
    policy = directives(resp.headers["Content-Security-Policy"])
    nonce = policy["style-src-elem"].split("'nonce-")[1].rstrip("'")
    assert f'data-nonce="{nonce}"' in html
    assert policy["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert policy["style-src-elem"] == f"'self' 'nonce-{nonce}'" and policy["style-src-attr"] == "'unsafe-inline'"
    assert "unsafe-eval'" not in policy["script-src"].replace("wasm-unsafe-eval", "")
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    # Each response its own nonce.
    again = directives(signed_in.get(f"/projects/{project}/forms/{FORM}/fill").headers["Content-Security-Policy"])
    assert again["style-src-elem"] != policy["style-src-elem"]
    assert signed_in.get(f"/projects/{project}/forms/{FORM}/fill/form.xml").get_data(as_text=True).startswith("<")


def test_a_signed_in_submission_needs_the_pages_csrf_token_and_goes_through_intake(signed_in, admin, project, survey):
    h = random_household(random.Random(3), "DN-HV-HP-01", members=2)
    url = f"/projects/{project}/forms/{FORM}/fill/submission"
    refused = signed_in.client.post(url, data=_multipart(to_xml(h)), content_type="multipart/form-data")
    assert refused.status_code == 400 and admin.get(f"{survey}/submissions").get_json() == []
    resp = signed_in.client.post(url, data=_multipart(to_xml(h)), content_type="multipart/form-data",
                                 headers={"X-CSRF-Token": signed_in.csrf})
    assert resp.status_code == 201, resp.get_json()
    assert admin.get(f"{survey}/submissions/{h.instance_id}.xml").data == to_xml(h)


def test_a_data_collector_fills_but_may_not_edit_and_a_viewer_may_not_fill(app, client, admin, project, survey,
                                                                              admin_password_hash):
    make_user(app, "thu@hamlet.test", admin_password_hash, role="formfill", project_id=project)
    make_user(app, "xem@hamlet.test", admin_password_hash, role="viewer", project_id=project)
    collector = Browserish(client).sign_in("thu@hamlet.test")
    assert collector.get(f"/projects/{project}/forms/{FORM}/fill").status_code == 200
    h = random_household(random.Random(4), "DN-HV-HP-01", members=2)
    url = f"/projects/{project}/forms/{FORM}/fill/submission"
    headers = {"X-CSRF-Token": collector.csrf}
    assert client.post(url, data=_multipart(to_xml(h)), content_type="multipart/form-data",
                       headers=headers).status_code == 201
    edit = to_xml(h, deprecated_id=h.instance_id).replace(h.instance_id.encode(), b"uuid:new-one", 1)
    refused = client.post(url, data=_multipart(edit), content_type="multipart/form-data", headers=headers)
    assert refused.status_code == 403 and "không được sửa" in refused.get_json()["message"]
    assert collector.get(f"/projects/{project}/forms/{FORM}/submissions/{h.instance_id}/edit").status_code == 403
    viewer = Browserish(app.test_client()).sign_in("xem@hamlet.test")
    assert viewer.get(f"/projects/{project}/forms/{FORM}/fill").status_code == 403


def test_a_manager_limited_to_a_commune_edits_only_its_households(app, client, field, admin_password_hash):
    uid = make_user(app, "xa@hamlet.test", admin_password_hash)
    give(field.admin, field.project, "manager", uid, [HP])
    manager = Browserish(client).sign_in("xa@hamlet.test")
    base = f"/projects/{field.project}/forms/{FORM}/submissions"
    inside, outside = sorted(field.inside)[0], sorted(field.outside)[0]
    page = manager.get(f"{base}/{inside}/edit")
    assert page.status_code == 200 and "data-instance-url" in page.get_data(as_text=True)
    assert manager.get(f"{base}/{inside}/edit/instance.xml").status_code == 200
    assert manager.get(f"{base}/{outside}/edit").status_code == 404
    assert manager.get(f"{base}/{outside}/edit/instance.xml").status_code == 404


def test_an_app_user_fills_through_the_link_on_its_qr_page(signed_in, admin, client, project, survey, key_base):
    au = admin.get(f"/v1/projects/{project}/app-users").get_json()[0]
    admin.client.put(f"/v1/projects/{project}/areas", data=(XLSFORMS / "areas.csv").read_bytes(),
                     content_type="text/csv", headers={"Authorization": f"Bearer {admin.token}"})
    qr = signed_in.get(f"/projects/{project}/app-users/{au['id']}").get_data(as_text=True)
    assert f"/f/{au['token']}/{FORM}" in qr
    anonymous = client.application.test_client()
    assert anonymous.get(f"/f/{au['token']}/{FORM}").status_code == 200
    assert anonymous.get(f"/f/{au['token']}/{FORM}/form.xml").status_code == 200
    assert anonymous.get(f"/f/{au['token']}/{FORM}/media/areas.csv").status_code == 200
    h = random_household(random.Random(5), "DN-HV-HP-01", members=2)
    resp = anonymous.post(f"/f/{au['token']}/{FORM}/submission", data=_multipart(to_xml(h)),
                           content_type="multipart/form-data")
    assert resp.status_code == 201
    assert admin.get(f"{survey}/submissions/{h.instance_id}").get_json()["submitterId"] == au["id"]
    assert anonymous.get(f"/f/{'x' * 64}/{FORM}").status_code == 403


def test_an_entity_list_reaches_signed_in_users_and_never_a_public_link(signed_in, admin, project):
    from entity_forms import HH, published, registration, revisit

    published(admin, project, registration(), revisit())
    made = admin.post(f"/v1/projects/{project}/datasets/{HH}/entities",
                      {"label": "Hộ An", "data": {"head_name": "An", "village": "Thôn 1", "members": "3"}})
    assert made.status_code == 200, made.get_json()
    rows = signed_in.get(f"/projects/{project}/forms/hh_visit/fill/media/households.csv").get_data(as_text=True)
    assert rows.splitlines()[0].startswith("name,label,__version") and "Hộ An" in rows
    link = admin.post(f"/v1/projects/{project}/forms/hh_visit/public-links", {"displayName": "Ai cũng được"}).get_json()
    anonymous = signed_in.client.application.test_client()
    public = anonymous.get(f"/f/{link['token']}/hh_visit/media/households.csv").get_data(as_text=True)
    assert public.splitlines() == [rows.splitlines()[0]]


def test_an_encrypted_form_is_refused_in_the_browser_with_a_message(signed_in, admin, client, project):
    from helpers import encrypted_form_with_one_submission

    form = encrypted_form_with_one_submission(admin, client, project)
    form_id = form.rsplit("/", 1)[1]
    page = signed_in.get(f"/projects/{project}/forms/{form_id}/fill")
    assert page.status_code == 409 and "ODK Collect" in page.get_data(as_text=True)
    assert "webforms.js" not in page.get_data(as_text=True)
    resp = signed_in.client.post(f"/projects/{project}/forms/{form_id}/fill/submission",
                                 data=_multipart(b"<data id='x'/>"), content_type="multipart/form-data",
                                 headers={"X-CSRF-Token": signed_in.csrf})
    assert resp.status_code == 409 and len(admin.get(f"{form}/submissions").get_json()) == 1


def test_a_body_without_the_answers_or_for_another_form_is_refused_in_the_pages_language(signed_in, admin, project,
                                                                                         survey):
    url = f"/projects/{project}/forms/{FORM}/fill/submission"
    headers = {"X-CSRF-Token": signed_in.csrf, "Accept-Language": "vi"}
    photo = {"photo.jpg": (io.BytesIO(b"\xff\xd8 not the answers"), "photo.jpg", "image/jpeg")}
    empty = signed_in.client.post(url, data=photo, content_type="multipart/form-data", headers=headers)
    assert empty.status_code == 400 and "tải lại trang" in empty.get_json()["message"]
    other = to_xml(random_household(random.Random(4), "DN-HV-HP-01", members=1)).replace(
        f'id="{FORM}"'.encode(), b'id="another_form"')
    assert f'id="{FORM}"'.encode() not in other
    wrong = signed_in.client.post(url, data=_multipart(other), content_type="multipart/form-data", headers=headers)
    assert wrong.status_code == 400 and "another form" in wrong.get_json()["message"]
    assert admin.get(f"{survey}/submissions").get_json() == []
