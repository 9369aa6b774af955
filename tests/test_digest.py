"""Username and password in ODK Collect: HTTP Digest at the server root and per project (§4.1, check 7)."""
import hashlib
import random
import re

import pytest
import requests
from requests.auth import HTTPDigestAuth

from collect import COLLECT
from helpers import XLSFORMS, XLSX
from server.synthetic import random_household, to_xml

EMAIL, PASSWORD = "tcn01@hamlet.test", "mật khẩu của tổ 1"


@pytest.fixture
def collector(admin, project):
    """A data collector (formfill role) with a password, and the survey published."""
    uid = admin.post("/v1/users", json_body={"email": EMAIL, "password": PASSWORD}).get_json()["id"]
    assert admin.post(f"/v1/projects/{project}/assignments/formfill/{uid}").status_code == 200
    admin.post(f"/v1/projects/{project}/forms?publish=true", data=(XLSFORMS / "household_digital_survey.xlsx").read_bytes(),
               content_type=XLSX)
    return uid


def _digest_header(challenge: str, method: str, uri: str, nc: int, password=PASSWORD) -> str:
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
    ha1 = hashlib.md5(f"{EMAIL}:{fields['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    cnonce, ncv = "0a4f113b0a4f113b", f"{nc:08x}"
    response = hashlib.md5(f"{ha1}:{fields['nonce']}:{ncv}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{EMAIL}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", uri="{uri}", '
            f'response="{response}", qop=auth, nc={ncv}, cnonce="{cnonce}", opaque="{fields["opaque"]}", algorithm=MD5')


def test_challenge_then_digest_then_proactive_requests(client, collector, project):
    uri = "/formList?deviceID=collect%3AAbCdEfGh12345678"
    first = client.get(uri, headers=COLLECT)
    assert first.status_code == 401
    challenges = first.headers.getlist("WWW-Authenticate")
    assert len(challenges) == 1  # no Basic over plain http: Collect would not answer it anyway
    assert challenges[0].startswith('Digest realm="Hamlet"') and 'qop="auth"' in challenges[0] and "nonce=" in challenges[0]
    assert b"<OpenRosaResponse" in first.data
    ok = client.get(uri, headers={**COLLECT, "Authorization": _digest_header(challenges[0], "GET", uri, 1)})
    assert ok.status_code == 200 and b"<formID>household_digital_survey</formID>" in ok.data
    assert f"/v1/projects/{project}/forms/household_digital_survey.xml".encode() in ok.data
    # Collect then sends credentials proactively with the next nonce count.
    head_uri = "/submission?deviceID=collect%3AAbCdEfGh12345678"
    again = client.head(head_uri, headers={**COLLECT, "Authorization": _digest_header(challenges[0], "HEAD", head_uri, 2)})
    assert again.status_code == 204


@pytest.mark.behind_proxy
def test_https_offers_basic_after_digest(client, collector):
    resp = client.get("/formList", headers={**COLLECT, "X-Forwarded-Proto": "https"})
    values = resp.headers.getlist("WWW-Authenticate")
    assert values[0].startswith("Digest ") and values[1] == 'Basic realm="Hamlet"'


def test_wrong_password_is_challenged_again(client, collector):
    challenge = client.get("/formList", headers=COLLECT).headers["WWW-Authenticate"]
    bad = client.get("/formList", headers={**COLLECT, "Authorization": _digest_header(challenge, "GET", "/formList", 1, "sai")})
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"].startswith("Digest")


def test_forged_nonce_is_refused(client, collector):
    challenge = 'Digest realm="Hamlet", nonce="bm90LWEtcmVhbC1ub25jZQ", opaque="x"'
    resp = client.get("/formList", headers={**COLLECT, "Authorization": _digest_header(challenge, "GET", "/formList", 1)})
    assert resp.status_code == 401


def test_nonce_without_a_value_is_refused_not_an_error(client, collector):
    header = f'Digest username="{EMAIL}", realm="Hamlet", nonce, uri="/formList", response="0", qop=auth'
    resp = client.get("/formList", headers={**COLLECT, "Authorization": header})
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Digest")


def test_digest_with_a_real_http_client_submits_at_root_and_per_project(live_server, collector, project, admin):
    auth = HTTPDigestAuth(EMAIL, PASSWORD)
    h = random_household(random.Random(7), "DN-HV-HP-02")
    files = {"xml_submission_file": ("submission.xml", to_xml(h), "text/xml")}
    resp = requests.post(f"{live_server}/submission?deviceID=collect%3Aabc", files=files, auth=auth, headers=COLLECT, timeout=30)
    assert resp.status_code == 201, resp.text
    h2 = random_household(random.Random(8), "DN-HV-HP-02")
    files = {"xml_submission_file": ("submission.xml", to_xml(h2), "text/xml")}
    resp = requests.post(f"{live_server}/v1/projects/{project}/submission", files=files, auth=auth, headers=COLLECT, timeout=30)
    assert resp.status_code == 201
    listed = admin.get(f"/v1/projects/{project}/forms/household_digital_survey/submissions").get_json()
    assert {s["instanceId"] for s in listed} == {h.instance_id, h2.instance_id}
    assert {s["submitterId"] for s in listed} == {collector}


def test_deleted_user_can_no_longer_digest(live_server, collector, admin):
    auth = HTTPDigestAuth(EMAIL, PASSWORD)
    assert requests.get(f"{live_server}/formList", auth=auth, headers=COLLECT, timeout=30).status_code == 200
    admin.delete(f"/v1/users/{collector}")
    assert requests.get(f"{live_server}/formList", auth=auth, headers=COLLECT, timeout=30).status_code == 401


def test_digest_user_without_a_role_sees_no_forms(live_server, admin, project, collector):
    admin.post("/v1/users", json_body={"email": "other@hamlet.test", "password": "another password"})
    resp = requests.get(f"{live_server}/formList", auth=HTTPDigestAuth("other@hamlet.test", "another password"),
                        headers=COLLECT, timeout=30)
    assert resp.status_code == 200 and b"<xform>" not in resp.content
