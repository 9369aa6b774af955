"""Signing in, tokens, users and site roles, as Central's API does them."""
import pytest

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD, Api, sign_in


def test_sign_in_returns_a_bearer_token_that_identifies_the_user(client):
    resp = client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert resp.status_code == 200
    body = resp.get_json()
    assert len(body["token"]) == 64 and body["csrf"] and body["expiresAt"].endswith("Z")
    me = client.get("/v1/users/current", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["email"] == ADMIN_EMAIL
    assert isinstance(me.get_json()["id"], int)


def test_wrong_password_is_401_with_central_error_body(client):
    resp = client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": "nope"})
    assert resp.status_code == 401
    assert resp.get_json()["code"] == 401.2
    assert "password" in resp.get_json()["message"]


def test_session_body_must_be_json_with_email_and_password(client):
    resp = client.post("/v1/sessions", data="{not json", content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.1
    resp = client.post("/v1/sessions", json={"email": ADMIN_EMAIL})
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.2
    assert "password" in resp.get_json()["message"]


def test_an_unknown_bearer_token_is_refused(client):
    resp = client.get("/v1/users/current", headers={"Authorization": "Bearer " + "x" * 64})
    assert resp.status_code == 401 and resp.get_json()["code"] == 401.2


@pytest.mark.behind_proxy
def test_basic_auth_only_over_https(client):
    import base64

    cred = base64.b64encode(f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}".encode()).decode()
    plain = client.get("/v1/users/current", headers={"Authorization": f"Basic {cred}"})
    assert plain.status_code == 401 and plain.get_json()["code"] == 401.3
    proxied = client.get("/v1/users/current", headers={"Authorization": f"Basic {cred}", "X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200 and proxied.get_json()["email"] == ADMIN_EMAIL


def test_logout_ends_the_session(client):
    token = sign_in(client)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.delete("/v1/sessions/current", headers=headers).status_code == 200
    assert client.get("/v1/users/current", headers=headers).status_code == 401


def test_admin_creates_users_who_can_sign_in_but_not_administer(admin, client):
    resp = admin.post("/v1/users", json_body={"email": "Lan@Example.vn", "password": "mật khẩu đủ dài"})
    assert resp.status_code == 200
    assert resp.get_json()["email"] == "lan@example.vn"
    lan = Api(client, sign_in(client, "lan@example.vn", "mật khẩu đủ dài"))
    assert lan.get("/v1/users").status_code == 403
    assert lan.post("/v1/users", json_body={"email": "x@example.vn"}).get_json()["code"] == 403.1
    assert lan.post("/v1/projects", json_body={"name": "x"}).status_code == 403


def test_duplicate_email_and_short_password_are_refused(admin):
    assert admin.post("/v1/users", json_body={"email": ADMIN_EMAIL}).get_json()["code"] == 409.3
    resp = admin.post("/v1/users", json_body={"email": "b@example.vn", "password": "short"})
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.21


def test_password_change_needs_the_old_password(admin, client):
    me = admin.get("/v1/users/current").get_json()
    bad = admin.put(f"/v1/users/{me['id']}/password", {"old": "wrong", "new": "a brand new password"})
    assert bad.status_code == 401
    ok = admin.put(f"/v1/users/{me['id']}/password", {"old": ADMIN_PASSWORD, "new": "a brand new password"})
    assert ok.status_code == 200
    assert client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).status_code == 401
    assert sign_in(client, ADMIN_EMAIL, "a brand new password")


def test_passwords_are_stored_with_a_kdf_not_in_clear(app):
    from server.models.accounts import user_by_email

    with app.extensions["hamlet.sessionmaker"]() as s:
        user = user_by_email(s, ADMIN_EMAIL)
        assert user.password_hash.startswith("scrypt:")
        assert ADMIN_PASSWORD not in user.password_hash


def test_deleted_user_loses_access_at_once(admin, client):
    uid = admin.post("/v1/users", json_body={"email": "c@example.vn", "password": "long enough pw"}).get_json()["id"]
    token = sign_in(client, "c@example.vn", "long enough pw")
    assert admin.delete(f"/v1/users/{uid}").status_code == 200
    assert client.get("/v1/users/current", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_unknown_route_is_a_central_404(client):
    resp = client.get("/v1/nothing-here")
    assert resp.status_code == 404 and resp.get_json()["code"] == 404.1


def test_without_a_trusted_proxy_forwarded_headers_are_not_believed(settings, admin_password_hash):
    """Served with HAMLET_TRUSTED_PROXIES=0 (clients reach gunicorn directly), a client cannot claim
    https to send a password in the clear, nor another address to dodge the sign-in throttle."""
    import base64
    from dataclasses import replace

    from flask import request

    from server import create_app

    app = create_app(replace(settings, admin_email=None, admin_password=None, trusted_proxies=0))
    seen = {}

    @app.get("/test-remote-addr")
    def remote_addr():
        seen["addr"], seen["scheme"] = request.remote_addr, request.scheme
        return ""

    client = app.test_client()
    cred = base64.b64encode(f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}".encode()).decode()
    resp = client.get("/v1/users/current", headers={"Authorization": f"Basic {cred}", "X-Forwarded-Proto": "https"})
    assert resp.status_code == 401 and resp.get_json()["code"] == 401.3
    client.get("/test-remote-addr", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert seen == {"addr": "127.0.0.1", "scheme": "http"}
    app.extensions["hamlet.engine"].dispose()


def test_trusted_proxies_setting_is_read_from_the_environment():
    from server.config import Settings

    assert Settings.from_env({"HAMLET_SECRET_KEY": "x"}).trusted_proxies == 0
    assert Settings.from_env({"HAMLET_SECRET_KEY": "x", "HAMLET_TRUSTED_PROXIES": "1"}).trusted_proxies == 1
