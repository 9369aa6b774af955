"""Sign-in throttling on the pages: the sign-in form and the password change (server/auth/throttle.py;
the API's entry points are in tests/test_sign_in_throttle.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import Browserish

# Each client is told apart by its X-Forwarded-For, as behind the proxy of a real deployment.
pytestmark = pytest.mark.behind_proxy

HOME, CAFE = "203.0.113.7", "198.51.100.20"


def sign_in(web, password, ip=HOME, email=ADMIN_EMAIL):
    return web.post("/sign-in", {"email": email, "password": password}, headers={"X-Forwarded-For": ip})


def test_the_sign_in_page_says_how_long_to_wait_in_vietnamese_and_english(web):
    web.get("/sign-in")
    for _ in range(5):
        wrong = sign_in(web, "sai mật khẩu")
        assert wrong.status_code == 401 and "Địa chỉ email hoặc mật khẩu không đúng." in wrong.get_data(as_text=True)
    refused = sign_in(web, ADMIN_PASSWORD)
    assert refused.status_code == 429 and 840 < int(refused.headers["Retry-After"]) <= 900
    text = refused.get_data(as_text=True)
    assert "Bạn đã nhập sai mật khẩu quá nhiều lần. Hãy đợi 15 phút rồi thử lại." in text
    assert "nhờ quản trị viên hệ thống đặt mật khẩu mới" in text and 'role="alert"' in text
    assert f'value="{ADMIN_EMAIL}"' in text    # the form is still there, filled in
    assert web.get("/projects").status_code == 302   # not signed in
    web.post("/language", {"language": "en", "next": "/sign-in"})
    english = sign_in(web, ADMIN_PASSWORD).get_data(as_text=True)
    assert "Too many wrong passwords. Wait 15 minutes, then try again." in english


def test_one_address_held_back_does_not_hold_back_another(web, app):
    web.get("/sign-in")
    for _ in range(5):
        sign_in(web, "sai")
    elsewhere = Browserish(app.test_client())
    elsewhere.get("/sign-in")
    assert sign_in(elsewhere, ADMIN_PASSWORD, ip=CAFE).status_code == 302
    assert sign_in(web, ADMIN_PASSWORD).status_code == 429   # the other address's success reset nothing here


def test_an_unknown_email_reads_the_same(web):
    web.get("/sign-in")
    pages = {}
    for email in (ADMIN_EMAIL, "khong-co@hamlet.test"):
        codes = [sign_in(web, "sai", email=email).status_code for _ in range(5)]
        refused = sign_in(web, "sai", email=email)
        pages[email] = (codes, refused.status_code,
                        refused.get_data(as_text=True).replace(email, "EMAIL").split('name="csrf_token"')[0])
    assert pages[ADMIN_EMAIL] == pages["khong-co@hamlet.test"]


def test_after_the_window_the_right_password_works_again(web, app):
    from server.models.sign_in_attempts import SignInAttempt

    web.get("/sign-in")
    for _ in range(5):
        sign_in(web, "sai")
    assert sign_in(web, ADMIN_PASSWORD).status_code == 429
    with app.extensions["hamlet.sessionmaker"]() as s:
        for row in s.scalars(select(SignInAttempt)):
            row.at -= timedelta(minutes=15, seconds=5)
        s.commit()
    assert sign_in(web, ADMIN_PASSWORD).status_code == 302
    assert web.get("/projects").status_code == 200


def test_the_password_page_counts_a_wrong_current_password(signed_in, app):
    for _ in range(5):
        resp = signed_in.post("/account/password", {"old": "sai", "new": "mật khẩu mới đủ dài",
                                                    "repeat": "mật khẩu mới đủ dài"})
        assert resp.status_code == 400 and "Mật khẩu hiện tại không đúng." in resp.get_data(as_text=True)
    refused = signed_in.post("/account/password", {"old": ADMIN_PASSWORD, "new": "mật khẩu mới đủ dài",
                                                   "repeat": "mật khẩu mới đủ dài"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Hãy đợi 15 phút rồi thử lại." in refused.get_data(as_text=True)
    # Nothing changed: the old password still signs in from elsewhere.
    assert app.test_client().post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                                  headers={"X-Forwarded-For": CAFE}).status_code == 200
