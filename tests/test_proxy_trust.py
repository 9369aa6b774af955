"""No proxy is trusted unless the deployment says so (HAMLET_TRUSTED_PROXIES, default 0).

Reached directly, as `scripts/start.sh` and `hamlet serve` run it, a client must not pick its own
address for the sign-in throttle with X-Forwarded-For, nor claim https with X-Forwarded-Proto."""
from __future__ import annotations

import base64
import http.client
import json

import pytest

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD
from server.config import Settings


def test_the_default_trusts_no_proxy():
    assert Settings.from_env({"HAMLET_SECRET_KEY": "x"}).trusted_proxies == 0
    assert Settings(database_url="sqlite://", data_dir=".", secret_key="x").trusted_proxies == 0


def test_forged_forwarded_for_does_not_escape_the_sign_in_throttle(client):
    answers = [client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": "not the password"},
                           headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(8)]
    assert answers[:5] == [401] * 5
    assert answers[5:] == [429] * 3


def test_forged_forwarded_proto_does_not_allow_basic_over_http(client):
    cred = base64.b64encode(f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}".encode()).decode()
    resp = client.get("/v1/users/current", headers={"Authorization": f"Basic {cred}", "X-Forwarded-Proto": "https"})
    assert resp.status_code == 401 and resp.get_json()["code"] == 401.3


@pytest.mark.behind_proxy
def test_behind_a_trusted_proxy_its_headers_count(client):
    cred = base64.b64encode(f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}".encode()).decode()
    resp = client.get("/v1/users/current", headers={"Authorization": f"Basic {cred}", "X-Forwarded-Proto": "https"})
    assert resp.status_code == 200 and resp.get_json()["email"] == ADMIN_EMAIL


@pytest.mark.parametrize("claim", [{"X-Forwarded-Proto": "https"}, {"X-Forwarded-Ssl": "on"},
                                   {"X-Forwarded-Protocol": "ssl"}])
def test_gunicorn_as_shipped_does_not_believe_a_claimed_https_either(gunicorn, claim):
    """gunicorn has its own trust list (127.0.0.1 by default) and its own https headers; reached directly
    from loopback, it must leave the scheme to Hamlet's setting, so Basic over plain http stays refused."""
    cred = base64.b64encode(f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=10)
    try:
        conn.request("GET", "/v1/users/current", headers={"Authorization": f"Basic {cred}", **claim})
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 401 and body["code"] == 401.3


@pytest.mark.behind_proxy
def test_gunicorn_behind_a_trusted_proxy_passes_its_https_on(gunicorn):
    cred = base64.b64encode(f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=10)
    try:
        conn.request("GET", "/v1/users/current", headers={"Authorization": f"Basic {cred}", "X-Forwarded-Proto": "https"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 200 and body["email"] == ADMIN_EMAIL
