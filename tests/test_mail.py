"""Email through a real SMTP server on loopback (the `mailbox` fixture, aiosmtpd): invitations, Central's
password reset (POST /v1/users/reset/initiate and /verify), the notice of a changed password, and the
server without email. The pages for the same are in tests/web/test_password_pages.py."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD, Api, Mailbox, free_port, sign_in
from server import create_app
from server.db import utcnow
from server.mail.smtp import MailConfigError, _parse, email_off_reason
from server.models.password_tokens import PasswordToken

NEW = "mật khẩu mới rất dài"


@pytest.fixture
def settings(settings):
    """A message the mail server refused is tried again after 0.1 s rather than a minute."""
    return replace(settings, mail_backoff_ms=(100, 400))


def initiate(client, email: str, query: str = "", headers=None):
    return client.post(f"/v1/users/reset/initiate{query}", json={"email": email}, headers=headers or {})


def verify(client, token: str, new: str = NEW):
    return client.post("/v1/users/reset/verify", json={"new": new}, headers={"Authorization": f"Bearer {token}"})


def new_user(admin, email="lan@hamlet.test", **body):
    resp = admin.post("/v1/users", json_body={"email": email, **body})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


# --- invitations --------------------------------------------------------------------------------------

def test_a_user_created_without_a_password_is_invited_to_choose_one(admin, client, mailbox):
    user = new_user(admin, displayName="Nguyễn Thị Lan")
    (message,) = mailbox.wait_for(1)
    assert message["To"] == "lan@hamlet.test"
    assert message["From"] == "Hamlet <hamlet@hamlet.test>"
    assert message["Subject"] == "Tài khoản của bạn trên máy chủ khảo sát hamlet.test"   # Vietnamese by default
    text = mailbox.text(message)
    assert "Nguyễn Thị Lan" in text and "7 ngày" in text
    assert mailbox.link(message).startswith("https://hamlet.test/account/claim?token=")
    # The link sets the password once, and the new user signs in with it.
    assert verify(client, mailbox.token(message)).get_json() == {"success": True}
    assert sign_in(client, "lan@hamlet.test", NEW)
    assert user["email"] == "lan@hamlet.test"


def test_a_user_created_with_a_password_gets_no_invitation(admin, mailbox):
    new_user(admin, password="một mật khẩu đủ dài")
    new_user(admin, email="hoa@hamlet.test")
    mailbox.wait_for(1)
    assert [m["To"] for m in mailbox.messages] == ["hoa@hamlet.test"]


def test_an_invitation_lasts_a_week_and_a_reset_a_day(admin, client, app, mailbox):
    new_user(admin)
    initiate(client, ADMIN_EMAIL)
    with app.extensions["hamlet.sessionmaker"]() as s:
        rows = {t.purpose: t.expires_at - t.created_at for t in s.query(PasswordToken)}
    assert rows == {"invite": timedelta(days=7), "reset": timedelta(days=1)}


def test_an_invitation_that_cannot_be_sent_never_loses_the_account(admin, app, caplog):
    closed = free_port()
    app.config["HAMLET"] = replace(app.config["HAMLET"], smtp_url=f"smtp://127.0.0.1:{closed}",
                                   base_url="https://hamlet.test", smtp_timeout=2)
    with caplog.at_level(logging.ERROR, "hamlet.mail"):
        user = new_user(admin)
    assert admin.get(f"/v1/users/{user['id']}").status_code == 200
    assert "could not send" in caplog.text and "lan@hamlet.test" in caplog.text


def test_a_message_the_mail_server_did_not_take_is_sent_when_it_comes_back(admin, app, client, settings):
    """The first attempt fails (nothing listens yet); the job queue tries again until the server answers."""
    from aiosmtpd.controller import Controller

    port = free_port()
    app.config["HAMLET"] = replace(app.config["HAMLET"], smtp_url=f"smtp://127.0.0.1:{port}",
                                   base_url="https://hamlet.test", smtp_timeout=2)
    assert initiate(client, ADMIN_EMAIL).status_code == 200
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        [message] = box.wait_for(1, timeout=20)
        assert message["To"] == ADMIN_EMAIL and "https://hamlet.test/account/claim?token=" in message.get_content()
    finally:
        controller.stop()


# --- reset: initiate and verify -----------------------------------------------------------------------

def test_a_reset_link_sets_the_password_once_and_ends_every_session(app, client, admin, mailbox):
    old_session = sign_in(client)
    assert initiate(client, ADMIN_EMAIL).get_json() == {"success": True}
    (message,) = mailbox.wait_for(1)
    assert message["Subject"] == "Đặt lại mật khẩu trên hamlet.test"
    link = mailbox.link(message)
    assert link.startswith("https://hamlet.test/account/claim?token=")   # ?token= as Central's link

    assert verify(client, mailbox.token(message)).get_json() == {"success": True}
    # Every session that existed ends: whoever knew the old password is out.
    assert Api(client, old_session).get("/v1/users/current").status_code == 401
    assert admin.get("/v1/users/current").status_code == 401
    assert client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).status_code == 401
    assert sign_in(client, ADMIN_EMAIL, NEW)

    # The same token a second time: refused, and the password stays the one it set.
    again = verify(client, mailbox.token(message), new="một mật khẩu khác nữa")
    assert again.status_code == 401
    assert again.get_json()["code"] == 401.2
    assert "already been used or has expired" in again.get_json()["message"]
    assert sign_in(client, ADMIN_EMAIL, NEW)


def test_an_expired_token_is_refused(app, client, mailbox):
    initiate(client, ADMIN_EMAIL)
    (message,) = mailbox.wait_for(1)
    with app.extensions["hamlet.sessionmaker"]() as s:
        s.execute(update(PasswordToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    resp = verify(client, mailbox.token(message))
    assert resp.status_code == 401 and resp.get_json()["code"] == 401.2
    assert sign_in(client)      # the old password still works


def test_old_tokens_are_deleted_a_month_after_they_expire(app, client, mailbox):
    initiate(client, ADMIN_EMAIL)
    with app.extensions["hamlet.sessionmaker"]() as s:
        s.execute(update(PasswordToken).values(expires_at=utcnow() - timedelta(days=31)))
        s.commit()
    initiate(client, ADMIN_EMAIL)
    with app.extensions["hamlet.sessionmaker"]() as s:
        assert [t.expires_at > utcnow() for t in s.query(PasswordToken)] == [True]


def test_verify_refuses_what_is_not_a_reset_token(client, admin, mailbox):
    assert verify(client, "x" * 43).status_code == 401
    assert client.post("/v1/users/reset/verify", json={"new": NEW}).status_code == 401
    session_token = verify(client, admin.token)          # a sign-in token is not a password link (Central: 403.1)
    assert session_token.status_code == 403 and session_token.get_json()["code"] == 403.1


def test_a_short_password_is_refused_and_the_link_still_works(client, mailbox):
    initiate(client, ADMIN_EMAIL)
    token = mailbox.token(mailbox.wait_for(1)[0])
    short = verify(client, token, new="ngắn")
    assert short.status_code == 400 and short.get_json()["code"] == 400.21
    assert verify(client, token).status_code == 200


def test_a_newer_password_retires_older_links(client, admin, mailbox):
    initiate(client, ADMIN_EMAIL)
    token = mailbox.token(mailbox.wait_for(1)[0])
    changed = admin.put(f"/v1/users/{admin.get('/v1/users/current').get_json()['id']}/password",
                        {"old": ADMIN_PASSWORD, "new": NEW})
    assert changed.status_code == 200
    assert verify(client, token, new="một mật khẩu khác nữa").status_code == 401


def test_an_unknown_address_is_answered_exactly_like_a_known_one(client, mailbox):
    known = initiate(client, ADMIN_EMAIL)
    unknown = initiate(client, "khong-co@hamlet.test")
    assert (known.status_code, known.get_data(), known.headers["Content-Type"]) == \
           (unknown.status_code, unknown.get_data(), unknown.headers["Content-Type"]) == \
           (200, b'{"success":true}\n', "application/json")
    # Both cost one message (Central's accountResetFailure for the unknown one), so the time tells nothing either.
    known_mail, unknown_mail = mailbox.wait_for(2)
    assert "token=" in mailbox.text(known_mail)
    assert unknown_mail["To"] == "khong-co@hamlet.test"
    assert "token=" not in mailbox.text(unknown_mail)
    assert "không có tài khoản nào" in mailbox.text(unknown_mail) and "no account uses" in mailbox.text(unknown_mail)


@pytest.mark.parametrize("email", ["khong-co", "a@b", "lan@hamlet.test\r\nBcc: x@evil.test", "lan @hamlet.test", ""])
def test_what_is_not_an_email_address_is_refused_before_anything_is_sent(client, mailbox, email):
    resp = initiate(client, email)
    assert resp.status_code == 400
    assert initiate(client, ADMIN_EMAIL).status_code == 200
    assert [m["To"] for m in mailbox.wait_for(1)] == [ADMIN_EMAIL]


def test_resets_are_throttled_like_sign_ins(client, mailbox):
    for _ in range(5):
        assert initiate(client, "lan@hamlet.test").status_code == 200
    refused = initiate(client, "lan@hamlet.test")
    assert refused.status_code == 429 and refused.get_json()["code"] == 429.91
    assert refused.get_json()["message"].startswith("Too many requests for a password link. Wait 15 minutes")
    assert int(refused.headers["Retry-After"]) > 0
    assert len(mailbox.wait_for(5)) == 5
    # Asking for links does not lock the account's sign-in.
    assert sign_in(client)


def test_invalidate_is_for_administrators_and_locks_the_account_at_once(app, client, admin, mailbox):
    new_user(admin, password="một mật khẩu đủ dài")
    lan = sign_in(client, "lan@hamlet.test", "một mật khẩu đủ dài")
    as_lan = {"Authorization": f"Bearer {lan}"}
    assert initiate(client, "lan@hamlet.test", "?invalidate=true").status_code == 401
    assert initiate(client, "lan@hamlet.test", "?invalidate=true", headers=as_lan).status_code == 403
    # The same refusal for an address without an account: it tells nothing.
    assert initiate(client, "khong-co@hamlet.test", "?invalidate=true", headers=as_lan).status_code == 403
    assert Api(client, lan).get("/v1/users/current").status_code == 200

    resp = initiate(client, "lan@hamlet.test", "?invalidate=true", headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code == 200
    assert Api(client, lan).get("/v1/users/current").status_code == 401
    assert client.post("/v1/sessions", json={"email": "lan@hamlet.test",
                                             "password": "một mật khẩu đủ dài"}).status_code == 401
    assert verify(client, mailbox.token(mailbox.wait_for(1)[0])).status_code == 200


def test_messages_follow_the_users_language(admin, client, app, mailbox):
    user = new_user(admin, password="một mật khẩu đủ dài")
    lan = Api(client, sign_in(client, "lan@hamlet.test", "một mật khẩu đủ dài"))
    from server.models.accounts import Actor
    with app.extensions["hamlet.sessionmaker"]() as s:
        s.get(Actor, user["id"]).language = "en"
        s.commit()
    initiate(client, "lan@hamlet.test")
    (message,) = mailbox.wait_for(1)
    assert message["Subject"] == "Reset your password on hamlet.test"
    assert "expires in 24 hours" in mailbox.text(message)
    assert lan.put(f"/v1/users/{user['id']}/password", {"old": "một mật khẩu đủ dài", "new": NEW}).status_code == 200
    assert mailbox.wait_for(2)[1]["Subject"] == "Your password on hamlet.test was changed"


# --- the notice of a changed password -----------------------------------------------------------------

def test_a_password_change_tells_the_owner(client, admin, mailbox):
    me = admin.get("/v1/users/current").get_json()["id"]
    assert admin.put(f"/v1/users/{me}/password", {"old": ADMIN_PASSWORD, "new": NEW}).status_code == 200
    (message,) = mailbox.wait_for(1)
    assert message["To"] == ADMIN_EMAIL
    assert message["Subject"] == "Mật khẩu của bạn trên hamlet.test đã được đổi"
    assert "https://hamlet.test/sign-in" in mailbox.text(message)


def test_a_reset_tells_the_owner_too(client, mailbox):
    initiate(client, ADMIN_EMAIL)
    assert verify(client, mailbox.token(mailbox.wait_for(1)[0])).status_code == 200
    assert "đã được đổi" in mailbox.wait_for(2)[1]["Subject"]


# --- without email ------------------------------------------------------------------------------------

def test_without_smtp_settings_the_server_starts_and_says_email_is_off(settings, caplog):
    with caplog.at_level(logging.WARNING, "hamlet"):
        app = create_app(replace(settings, admin_email=None, admin_password=None))
    assert app is not None
    assert "email is off (HAMLET_SMTP_URL is not set)" in caplog.text


def test_without_email_a_reset_is_refused_the_same_way_for_every_address(client, admin):
    for email in (ADMIN_EMAIL, "khong-co@hamlet.test"):
        resp = initiate(client, email)
        assert resp.status_code == 501
        assert resp.get_json()["code"] == 501.91
        assert "Ask a site administrator" in resp.get_json()["message"]
    # A user can still be created without a password (Central allows it); an administrator sets one later.
    assert new_user(admin)["email"] == "lan@hamlet.test"


def test_links_are_never_built_from_the_request_so_email_needs_a_base_url(settings):
    reason = email_off_reason(replace(settings, smtp_url="smtp://127.0.0.1:25", base_url=None))
    assert reason and "HAMLET_BASE_URL" in reason


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example.org", ("mail.example.org", 25, "plain", None, None)),
    ("smtp://127.0.0.1:2525?starttls=1", ("127.0.0.1", 2525, "starttls", None, None)),
    ("smtp+starttls://lan%40so.vn:p%40ss%3Aw@smtp.example.org", ("smtp.example.org", 587, "starttls", "lan@so.vn", "p@ss:w")),
    ("smtps://u:p@smtp.example.org:10465", ("smtp.example.org", 10465, "tls", "u", "p")),
])
def test_the_smtp_url_says_host_port_protection_and_credentials(settings, url, expected):
    t = _parse(replace(settings, smtp_url=url, base_url="https://hamlet.test"))
    assert (t.host, t.port, t.security, t.user, t.password) == expected
    assert t.sender == "noreply@hamlet.test"


def test_separate_credentials_win_over_the_urls(settings):
    t = _parse(replace(settings, smtp_url="smtps://u:p@h", smtp_user="lan", smtp_password="bí mật", base_url="https://x"))
    assert (t.user, t.password) == ("lan", "bí mật")
    assert "bí mật" not in t.describe()


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "smtp://host:port"])
def test_an_unusable_smtp_url_is_refused_with_a_reason(settings, url):
    with pytest.raises(MailConfigError):
        _parse(replace(settings, smtp_url=url))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_credentials_in_the_url_sign_in_to_the_mail_server(app, admin):
    """A real SMTP AUTH exchange: the server refuses mail without the right user and password."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd answers a refusal with 535 itself; left handled, it says nothing and the
        # client waits out its 10 s timeout before giving up.
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"lan@so.vn", b"p@ss:w"), handled=False)

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        settings = replace(app.config["HAMLET"], base_url="https://hamlet.test", mail_from="hamlet@hamlet.test")
        app.config["HAMLET"] = replace(settings, smtp_url=f"smtp://lan%40so.vn:p%40ss%3Aw@127.0.0.1:{controller.port}")
        assert initiate(admin.client, ADMIN_EMAIL).status_code == 200
        assert [m["To"] for m in box.wait_for(1)] == [ADMIN_EMAIL]
        app.config["HAMLET"] = replace(settings, smtp_url=f"smtp://lan%40so.vn:sai@127.0.0.1:{controller.port}")
        assert initiate(admin.client, ADMIN_EMAIL).status_code == 200     # the failure is logged, not shown
        assert len(box.messages) == 1 and seen[-1] == (b"lan@so.vn", b"sai")
    finally:
        controller.stop()


def self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key, as files; the client trusts it through SSL_CERT_FILE."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps", "smtp-query"])
def test_mail_goes_over_tls_and_the_certificate_is_checked(app, client, tmp_path, monkeypatch, scheme):
    import ssl

    from aiosmtpd.controller import Controller

    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    box = Mailbox()
    port = free_port()
    if scheme == "smtps":
        controller = Controller(box, hostname="127.0.0.1", port=port, ssl_context=context)
        url = f"smtps://127.0.0.1:{port}"
    else:
        controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
        url = f"smtp+starttls://127.0.0.1:{port}" if scheme == "smtp+starttls" else f"smtp://127.0.0.1:{port}?starttls=1"
    controller.start()
    try:
        app.config["HAMLET"] = replace(app.config["HAMLET"], smtp_url=url, base_url="https://hamlet.test")
        # Not trusted yet: the certificate is refused and nothing is sent; the message waits on the job queue.
        assert initiate(client, ADMIN_EMAIL).status_code == 200
        assert box.messages == []
        # Trusted: the queued message goes out on its next attempt.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        assert [m["To"] for m in box.wait_for(1)] == [ADMIN_EMAIL]
    finally:
        controller.stop()


def test_hamlet_mail_test_checks_the_settings(tmp_path, monkeypatch):
    from aiosmtpd.controller import Controller
    from click.testing import CliRunner

    from server.cli import main

    for key in ("HAMLET_DATABASE_URL", "HAMLET_ADMIN_EMAIL", "HAMLET_ADMIN_PASSWORD", "HAMLET_SMTP_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HAMLET_INSTANCE_DIR", str(tmp_path / "instance"))
    off = CliRunner().invoke(main, ["mail", "test", "lan@hamlet.test"])
    assert off.exit_code == 1 and "email is off: HAMLET_SMTP_URL is not set" in off.output

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        monkeypatch.setenv("HAMLET_SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
        monkeypatch.setenv("HAMLET_BASE_URL", "https://hamlet.test")
        sent = CliRunner().invoke(main, ["mail", "test", "lan@hamlet.test"])
        assert sent.exit_code == 0, sent.output
        assert "sent a test message to lan@hamlet.test (plain SMTP to 127.0.0.1" in sent.output
        assert box.wait_for(1)[0]["Subject"] == "Thư thử từ hamlet.test"
    finally:
        controller.stop()
    monkeypatch.setenv("HAMLET_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    failed = CliRunner().invoke(main, ["mail", "test", "lan@hamlet.test"])
    assert failed.exit_code == 1 and "not sent" in failed.output
