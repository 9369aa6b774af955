"""Form delivery the way ODK Collect does it: app-user key in the URL, deviceID on every GET,
text/xml with the OpenRosa headers, hashes that match the served bytes (odk-protocol §1, §2, §10)."""
import hashlib
from urllib.parse import urlparse

import pytest
from lxml import etree

from collect import COLLECT_GET, entries
from helpers import SIMPLE_XFORM, app_user, post_xml, xform

DEVICE = "deviceID=collect%3AAbCdEfGh12345678"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"


def collect_get(client, url, **headers):
    """Collect requests absolute URLs; the test client wants the path and query."""
    parsed = urlparse(url)
    path = parsed.path + ("?" + parsed.query if parsed.query else "")
    sep = "&" if "?" in path else "?"
    return client.get(f"{path}{sep}{DEVICE}", headers={**COLLECT_GET, **headers})


def form_list(client, token, project, query=""):
    return client.get(f"/v1/key/{token}/projects/{project}/formList?{DEVICE}{query}", headers=COLLECT_GET)


def test_form_list_for_an_app_user_has_the_headers_and_fields_collect_checks(admin, client, project):
    post_xml(admin, project, xform("thu", "2026112301"), query="?publish=false")
    admin.post(f"/v1/projects/{project}/forms/thu/draft/attachments/logo.png", data=b"png", content_type="image/png")
    admin.post(f"/v1/projects/{project}/forms/thu/draft/publish")
    au = app_user(admin, project, "thu")
    resp = form_list(client, au["token"], project)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert resp.headers["X-OpenRosa-Version"] == "1.0"
    assert int(resp.headers["X-OpenRosa-Accept-Content-Length"]) > 0
    assert resp.headers["Date"]
    [entry] = entries(resp)
    assert entry["formID"] == "thu" and entry["name"] == "Khảo sát thử" and entry["version"] == "2026112301"
    assert entry["hash"].startswith("md5:") and len(entry["hash"]) == 36
    # URLs are absolute and stay under the key prefix, as Collect's server_url was.
    assert entry["downloadUrl"] == f"http://localhost/v1/key/{au['token']}/projects/{project}/forms/thu.xml"
    assert entry["manifestUrl"] == f"http://localhost/v1/key/{au['token']}/projects/{project}/forms/thu/manifest"

    download = collect_get(client, entry["downloadUrl"])
    assert download.status_code == 200
    assert "md5:" + hashlib.md5(download.data).hexdigest() == entry["hash"]

    manifest = collect_get(client, entry["manifestUrl"])
    assert manifest.status_code == 200 and manifest.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert manifest.headers["X-OpenRosa-Version"] == "1.0"
    root = etree.fromstring(manifest.data)
    assert root.tag == f"{MANIFEST_NS}manifest"
    [media] = root.findall(f"{MANIFEST_NS}mediaFile")
    fields = {etree.QName(c).localname: c.text for c in media}
    assert fields["filename"] == "logo.png"
    got = collect_get(client, fields["downloadUrl"])
    assert got.status_code == 200 and got.data == b"png"
    assert fields["hash"] == "md5:" + hashlib.md5(got.data).hexdigest()


def test_form_without_media_has_no_manifest_url(admin, client, project):
    post_xml(admin, project, xform())  # declares logo.png but it was never uploaded
    au = app_user(admin, project, "thu")
    [entry] = entries(form_list(client, au["token"], project))
    assert "manifestUrl" not in entry and entry["hash"]


def test_form_id_filter_and_unknown_id(admin, client, project):
    post_xml(admin, project, xform("thu"))
    post_xml(admin, project, xform("khac"))
    au = app_user(admin, project, "thu", "khac")
    assert sorted(e["formID"] for e in entries(form_list(client, au["token"], project))) == ["khac", "thu"]
    only = entries(form_list(client, au["token"], project, "&formID=khac"))
    assert [e["formID"] for e in only] == ["khac"]
    none = form_list(client, au["token"], project, "&formID=nope")
    assert none.status_code == 200 and entries(none) == []


def test_app_users_see_only_open_forms_assigned_to_them(admin, client, project):
    for f in ("a_form", "b_form", "c_form", "d_form"):
        post_xml(admin, project, xform(f))
    post_xml(admin, project, xform("e_draft"), query="")
    au = app_user(admin, project, "a_form", "b_form", "c_form", "e_draft")
    admin.patch(f"/v1/projects/{project}/forms/b_form", {"state": "closing"})
    admin.patch(f"/v1/projects/{project}/forms/c_form", {"state": "closed"})
    assert [e["formID"] for e in entries(form_list(client, au["token"], project))] == ["a_form"]
    # Unassigned and closed forms cannot be downloaded either.
    base = f"/v1/key/{au['token']}/projects/{project}/forms"
    assert client.get(f"{base}/d_form.xml?{DEVICE}", headers=COLLECT_GET).status_code == 403
    assert client.get(f"{base}/c_form.xml?{DEVICE}", headers=COLLECT_GET).status_code == 403
    assert client.get(f"{base}/a_form.xml?{DEVICE}", headers=COLLECT_GET).status_code == 200


def test_forms_are_listed_by_name(admin, client, project):
    post_xml(admin, project, xform("z_first").replace("Khảo sát thử".encode(), b"An"))
    post_xml(admin, project, xform("a_second").replace("Khảo sát thử".encode(), "Bình".encode()))
    au = app_user(admin, project, "z_first", "a_second")
    assert [e["name"] for e in entries(form_list(client, au["token"], project))] == ["An", "Bình"]


def test_bad_or_revoked_token_is_403_never_a_password_prompt(admin, client, project):
    post_xml(admin, project, xform())
    au = app_user(admin, project, "thu")
    for token in ("x" * 64, "short", au["token"][:-1] + "!"):
        resp = form_list(client, token, project)
        assert resp.status_code == 403, token
        assert "WWW-Authenticate" not in resp.headers
        assert b"<OpenRosaResponse" in resp.data and b"revoked" in resp.data
    assert form_list(client, au["token"], project).status_code == 200
    assert admin.delete(f"/v1/projects/{project}/app-users/{au['id']}").status_code == 200
    assert form_list(client, au["token"], project).status_code == 403


def test_revoking_the_session_keeps_the_app_user_but_stops_the_key(admin, client, project):
    post_xml(admin, project, xform())
    au = app_user(admin, project, "thu")
    assert admin.delete(f"/v1/sessions/{au['token']}").status_code == 200
    assert form_list(client, au["token"], project).status_code == 403
    listed = admin.get(f"/v1/projects/{project}/app-users").get_json()
    assert [(a["id"], a["token"]) for a in listed] == [(au["id"], None)]


def test_app_user_key_cannot_reach_another_project(admin, client, project):
    other = admin.post("/v1/projects", json_body={"name": "other"}).get_json()["id"]
    post_xml(admin, other, xform())
    au = app_user(admin, project)
    assert form_list(client, au["token"], other).get_data().count(b"<xform>") == 0
    assert client.get(f"/v1/key/{au['token']}/projects/{other}/forms/thu.xml", headers=COLLECT_GET).status_code == 403
    assert client.get(f"/v1/key/{au['token']}/projects/{other}/forms", headers=COLLECT_GET).status_code == 403


def test_app_user_json_has_the_keys_pyodk_requires(admin, project):
    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Lan"}).get_json()
    for key in ("projectId", "id", "displayName", "createdAt", "type", "token", "updatedAt", "deletedAt"):
        assert key in au
    assert au["type"] == "field_key" and len(au["token"]) == 64
    assert set(au["token"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!$")


def test_st_query_parameter_works_like_the_key_prefix(admin, client, project):
    post_xml(admin, project, xform())
    au = app_user(admin, project, "thu")
    resp = client.get(f"/v1/projects/{project}/formList?st={au['token']}&{DEVICE}", headers=COLLECT_GET)
    assert resp.status_code == 200
    assert entries(resp)[0]["downloadUrl"].startswith(f"http://localhost/v1/key/{au['token']}/")


def test_web_user_form_list_with_bearer_token(admin, project):
    post_xml(admin, project, xform())
    resp = admin.get(f"/v1/projects/{project}/formList", headers=COLLECT_GET)
    assert resp.status_code == 200
    assert entries(resp)[0]["downloadUrl"] == f"http://localhost/v1/projects/{project}/forms/thu.xml"


@pytest.mark.behind_proxy
def test_urls_follow_the_proxy_headers_or_the_configured_base_url(admin, client, project, app):
    post_xml(admin, project, xform())
    au = app_user(admin, project, "thu")
    proxied = client.get(f"/v1/key/{au['token']}/projects/{project}/formList",
                         headers={**COLLECT_GET, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "hamlet.example.vn"})
    assert entries(proxied)[0]["downloadUrl"].startswith("https://hamlet.example.vn/v1/key/")
    from dataclasses import replace

    app.config["HAMLET"] = replace(app.config["HAMLET"], base_url="https://khaosat.danang.gov.vn")
    configured = form_list(client, au["token"], project)
    assert entries(configured)[0]["downloadUrl"].startswith("https://khaosat.danang.gov.vn/v1/key/")


def test_wrong_openrosa_version_is_an_openrosa_error(admin, client, project):
    au = app_user(admin, project)
    resp = client.get(f"/v1/key/{au['token']}/projects/{project}/formList", headers={"X-OpenRosa-Version": "2.0"})
    assert resp.status_code == 400 and b"<OpenRosaResponse" in resp.data


def test_form_ids_needing_escapes_are_url_encoded(admin, client, project):
    post_xml(admin, project, xform("khảo_sát"))
    au = app_user(admin, project, "khảo_sát")
    [entry] = entries(form_list(client, au["token"], project))
    assert entry["formID"] == "khảo_sát"
    assert entry["downloadUrl"].endswith("/forms/kh%E1%BA%A3o_s%C3%A1t.xml")
    assert collect_get(client, entry["downloadUrl"]).status_code == 200


def test_form_hash_is_the_md5_of_served_bytes_for_a_vietnamese_title(admin, client, project):
    body = SIMPLE_XFORM.format(id="vn", version="1").replace("Khảo sát thử", "Khảo sát hộ gia đình – Hòa Phước")
    post_xml(admin, project, body.encode("utf-8"))
    au = app_user(admin, project, "vn")
    [entry] = entries(form_list(client, au["token"], project))
    assert entry["name"] == "Khảo sát hộ gia đình – Hòa Phước"
    assert entry["hash"] == "md5:" + hashlib.md5(collect_get(client, entry["downloadUrl"]).data).hexdigest()
