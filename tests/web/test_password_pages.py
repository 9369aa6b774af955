"""The pages for forgotten passwords and emailed links (server/web/account.py, users.py): the forgot-password
page answers the same whatever the address, the set-password page (/account/claim?token=…) sets a password
once and says clearly when a link is used or expired, in both languages; administrators invite by email.
The REST side and the messages themselves are in tests/test_mail.py."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import update

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD, free_port
from server.db import utcnow
from server.models.password_tokens import PasswordToken

from .helpers import Browserish, sign_in, small_targets

NEW = "mật khẩu mới rất dài"


def ask_for_link(web: Browserish, email: str):
    web.get("/account/forgot")
    return web.post("/account/forgot", {"email": email})


def claim_path(link: str) -> str:
    return link.replace("https://hamlet.test", "")


def test_the_sign_in_page_links_to_the_forgot_password_page(web):
    page = web.get("/sign-in").get_data(as_text=True)
    assert 'href="/account/forgot"' in page and "Quên mật khẩu?" in page


def test_the_forgot_password_page_answers_the_same_whatever_the_address(web, mailbox):
    known = ask_for_link(web, ADMIN_EMAIL)
    unknown = ask_for_link(web, "khong-co@hamlet.test")
    assert known.status_code == unknown.status_code == 200

    def notice(resp, email):
        text = re.search(r'<p class="notice ok"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S).group(1)
        return text.replace(email, "…")
    assert notice(known, ADMIN_EMAIL) == notice(unknown, "khong-co@hamlet.test")
    assert "Nếu có tài khoản dùng địa chỉ" in notice(known, ADMIN_EMAIL)
    assert [m["To"] for m in mailbox.wait_for(2)] == [ADMIN_EMAIL, "khong-co@hamlet.test"]


def test_a_link_sets_the_password_once_then_says_it_was_used(web, app, mailbox):
    ask_for_link(web, ADMIN_EMAIL)
    path = claim_path(mailbox.link(mailbox.wait_for(1)[0]))
    form = web.get(path)
    assert form.status_code == 200 and form.headers["Referrer-Policy"] == "no-referrer"
    assert "Đặt mật khẩu của bạn" in form.get_data(as_text=True)
    mismatch = web.post(path, {"new": NEW, "repeat": NEW + "x"})
    assert mismatch.status_code == 400 and "không giống nhau" in mismatch.get_data(as_text=True)
    done = web.post(path, {"new": NEW, "repeat": NEW})
    assert done.status_code == 302 and done.headers["Location"].endswith("/sign-in")
    assert "Đã đặt mật khẩu" in web.get("/sign-in").get_data(as_text=True)
    Browserish(app.test_client()).sign_in(ADMIN_EMAIL, NEW)

    again = web.get(path)
    assert again.status_code == 410
    assert "Liên kết này đã được dùng rồi" in again.get_data(as_text=True)
    assert 'href="/account/forgot"' in again.get_data(as_text=True)
    assert web.post(path, {"new": "một mật khẩu khác nữa", "repeat": "một mật khẩu khác nữa"}).status_code == 410


def test_an_expired_or_broken_link_says_so_in_english_too(web, app, mailbox):
    web.get("/sign-in")
    web.post("/language", {"language": "en", "next": "/sign-in"})
    ask_for_link(web, ADMIN_EMAIL)
    path = claim_path(mailbox.link(mailbox.wait_for(1)[0]))
    with app.extensions["hamlet.sessionmaker"]() as s:
        s.execute(update(PasswordToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    expired = web.get(path)
    assert expired.status_code == 410 and "This link has expired." in expired.get_data(as_text=True)
    broken = web.get(path[:-5])
    assert broken.status_code == 404 and "copied whole from the email" in broken.get_data(as_text=True)
    assert web.get("/account/claim").status_code == 404


def test_asking_for_links_is_throttled(web, mailbox):
    for _ in range(5):
        assert ask_for_link(web, "lan@hamlet.test").status_code == 200
    refused = ask_for_link(web, "lan@hamlet.test")
    assert refused.status_code == 429 and "Hãy chờ" in refused.get_data(as_text=True)


def test_without_email_the_pages_say_to_ask_the_administrator(web, signed_in):
    page = web.get("/account/forgot").get_data(as_text=True)
    assert "Máy chủ này không gửi email" in page and 'name="email"' not in page
    users = signed_in.get("/users").get_data(as_text=True)
    assert "chưa đặt HAMLET_SMTP_URL" in users
    assert signed_in.post("/users", {"email": "lan@hamlet.test", "name": "Lan", "password": ""}).status_code == 400


def test_an_administrator_invites_a_user_by_email(signed_in, app, mailbox):
    assert "hoặc để trống" in signed_in.get("/users").get_data(as_text=True)
    resp = signed_in.post("/users", {"email": "lan@hamlet.test", "name": "Nguyễn Thị Lan", "password": ""})
    assert resp.status_code == 302
    assert "và gửi cho họ một email để tự chọn mật khẩu" in signed_in.get("/users").get_data(as_text=True)
    (message,) = mailbox.wait_for(1)
    assert message["To"] == "lan@hamlet.test"
    lan = Browserish(app.test_client())
    path = claim_path(mailbox.link(message))
    lan.get(path)
    assert lan.post(path, {"new": NEW, "repeat": NEW}).status_code == 302
    lan.sign_in("lan@hamlet.test", NEW)


def test_an_invitation_that_cannot_be_sent_keeps_the_user_and_says_so(signed_in, app, admin):
    app.config["HAMLET"] = replace(app.config["HAMLET"], smtp_url=f"smtp://127.0.0.1:{free_port()}",
                                   base_url="https://hamlet.test", smtp_timeout=2)
    assert signed_in.post("/users", {"email": "lan@hamlet.test", "name": "", "password": ""}).status_code == 302
    page = signed_in.get("/users").get_data(as_text=True)
    assert "không gửi được email mời" in page
    assert "lan@hamlet.test" in {u["email"] for u in admin.get("/v1/users").get_json()}


def test_an_administrator_emails_a_user_a_new_link(signed_in, app, mailbox, admin):
    me = admin.get("/v1/users/current").get_json()["id"]
    assert signed_in.post(f"/users/{me}/link").status_code == 302
    message = mailbox.wait_for(1)[0]
    assert "token=" in mailbox.text(message)
    # Until the link is used, the current password keeps working.
    Browserish(app.test_client()).sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)


def test_a_password_changed_on_the_account_page_tells_the_owner(signed_in, mailbox):
    signed_in.get("/account/password")
    resp = signed_in.post("/account/password", {"old": ADMIN_PASSWORD, "new": NEW, "repeat": NEW})
    assert resp.status_code == 200
    assert mailbox.wait_for(1)[0]["Subject"] == "Mật khẩu của bạn trên hamlet.test đã được đổi"


# --- in a real browser, on a phone ------------------------------------------------------------------

def test_forgot_password_then_the_emailed_link_then_sign_in_on_a_phone(page, app, live_server, mailbox, shot):
    app.config["HAMLET"] = replace(app.config["HAMLET"], base_url=live_server)   # the link opens this server
    page.goto("/sign-in")
    page.click("text=Quên mật khẩu?")
    page.wait_for_url("**/account/forgot")
    assert small_targets(page) == []
    page.fill("#email", ADMIN_EMAIL)
    page.click("form.stack button[type=submit]")
    assert "Nếu có tài khoản dùng địa chỉ" in page.inner_text("main")
    shot(page, "forgot-password-sent")

    link = mailbox.link(mailbox.wait_for(1)[0])
    assert link.startswith(live_server + "/account/claim?token=")
    page.goto(link)
    assert small_targets(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "set-password")
    page.fill("#new", NEW)
    page.fill("#repeat", NEW)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/sign-in")
    assert "Đã đặt mật khẩu" in page.inner_text("main")
    sign_in(page, ADMIN_EMAIL, NEW)

    page.goto(link)     # the same link again, now used
    assert "Liên kết này đã được dùng rồi" in page.inner_text("main")
    assert small_targets(page) == []
    shot(page, "set-password-used")


def test_the_users_page_with_email_on_fits_a_phone(page, mailbox, shot):
    sign_in(page)
    page.goto("/users")
    page.locator("ul.users details.reset summary").first.click()
    assert page.is_visible("text=Gửi email liên kết đặt mật khẩu")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert small_targets(page) == []
    shot(page, "users-email-on")
    page.click("text=Gửi email liên kết đặt mật khẩu")
    page.wait_for_url("**/users")
    assert "Đã gửi cho admin@hamlet.test một liên kết" in page.inner_text("main")
    assert mailbox.wait_for(1)[0]["To"] == ADMIN_EMAIL
