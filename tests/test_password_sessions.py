"""A new password ends the user's other sessions, whichever face changed it (docs/security.md):
`PUT /v1/users/{id}/password` keeps only the token that asked, as the account page keeps its own."""
from __future__ import annotations

import re

from helpers import Api

OLD = "mật khẩu cũ đủ dài 1"
NEW = "mật khẩu mới đủ dài 2"


def user_with_password(app) -> int:
    from server.models.accounts import create_user

    with app.extensions["hamlet.sessionmaker"]() as s:
        user = create_user(s, "lan@example.vn", OLD)
        s.commit()
        return user.id


def signed_in_page(app, password: str):
    """A second browser signed in to the pages."""
    browser = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/sign-in").get_data(as_text=True)).group(1)
    resp = browser.post("/sign-in", data={"email": "lan@example.vn", "password": password, "csrf_token": csrf})
    assert resp.status_code == 302
    assert browser.get("/account/password").status_code == 200
    return browser


def tokens(app, client, count: int) -> list[Api]:
    out = []
    for _ in range(count):
        resp = client.post("/v1/sessions", json={"email": "lan@example.vn", "password": OLD})
        assert resp.status_code == 200
        out.append(Api(client, resp.get_json()["token"]))
    return out


def test_a_password_changed_over_rest_ends_the_users_other_sessions(app, client):
    user_id = user_with_password(app)
    asking, phone, laptop = tokens(app, client, 3)
    browser = signed_in_page(app, OLD)
    resp = asking.put(f"/v1/users/{user_id}/password", {"old": OLD, "new": NEW})
    assert resp.status_code == 200, resp.get_json()
    assert asking.get("/v1/users/current").status_code == 200  # the session that asked stays
    for other in (phone, laptop):
        assert other.get("/v1/users/current").status_code == 401
    assert browser.get("/account/password").status_code in (302, 401)  # the pages sign in again
    assert client.post("/v1/sessions", json={"email": "lan@example.vn", "password": NEW}).status_code == 200


def test_the_account_page_and_the_api_end_sessions_the_same_way(app, client):
    user_with_password(app)
    phone, = tokens(app, client, 1)
    browser = signed_in_page(app, OLD)
    page = browser.get("/account/password").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = browser.post("/account/password", data={"old": OLD, "new": NEW, "repeat": NEW, "csrf_token": csrf})
    assert resp.status_code == 200
    assert browser.get("/account/password").status_code == 200  # the page's own session stays
    assert phone.get("/v1/users/current").status_code == 401
