"""Invitations, password resets and "your password was changed": the email side of accounts, shared by
the REST API (server/api/users.py) and the pages (server/web/account.py, server/web/users.py).

Each step prepares its message while its transaction is open (a token is stored with the account), the
caller commits, and only then is the message sent (`deliver`): a slow or failing mail server never holds
the database open and never undoes the account or the new password. A failure is logged and returned,
for the pages to show where it matters.

A reset asked for an address with no account sends that address a note saying so, as Central does
(accountResetFailure): both answers are the same and both cost one SMTP conversation, so neither the
answer nor its time tells which addresses have accounts. Asking is throttled like a password check
(server/auth/throttle.py), counted under the address asked for, apart from that account's sign-ins."""
from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from email.message import EmailMessage

from flask import current_app, request
from sqlalchemy.orm import Session

from server.auth import throttle
from server.context import jobs
from server.db import utcnow
from server.mail import messages
from server.mail.retry import retry_later
from server.mail.smtp import SendFailed, Transport, email_off_reason, send, transport
from server.models import accounts, audits, password_tokens
from server.models.accounts import Actor, user_by_email

log = logging.getLogger("hamlet.mail")

CLAIM_PATH = "/account/claim"   # Central's frontend route for the same links


def mail_transport() -> Transport | None:
    """The app's transport, or None when email is off."""
    return transport(current_app.config["HAMLET"])


def email_is_on() -> bool:
    return mail_transport() is not None


def startup_line(settings) -> str:
    """What the server says about email when it starts."""
    reason = email_off_reason(settings)
    if reason:
        return (f"email is off ({reason}): no invitations or reset links are sent; site administrators set "
                "passwords on the Users page")
    t = transport(settings)
    assert t is not None
    return f"email is on: {t.describe()}"


def _base() -> str:
    return current_app.config["HAMLET"].base_url or ""


def _site() -> str:
    return _base().split("//", 1)[-1]


def claim_link(token: str) -> str:
    return f"{_base()}{CLAIM_PATH}?token={token}"


def _name(user: Actor) -> str:
    return user.display_name or user.email or ""


def prepare_invitation(db: Session, user: Actor) -> EmailMessage | None:
    """A new account without a password: a link to choose one (Central's accountCreated). None when email is off."""
    if not email_is_on():
        return None
    token = password_tokens.issue(db, user.id, password_tokens.INVITE)
    return messages.compose("invite", user.email or "", user.language, site=_site(), name=_name(user),
                            link=claim_link(token), days=password_tokens.LIFETIME["invite"].days)


def prepare_reset(db: Session, email: str, invalidate: bool = False) -> EmailMessage:
    """The reset link for the account with this address, or the note to an address without one.
    `invalidate` (an administrator's choice, checked by the caller): the current password stops working
    and the account is signed out everywhere at once."""
    address = email.strip()
    user = user_by_email(db, address)
    if user is None:
        return messages.compose("no_account", address, None, site=_site())
    if invalidate:
        accounts.invalidate_password(db, user)
    token = password_tokens.issue(db, user.id, password_tokens.RESET)
    return messages.compose("reset", user.email or address, user.language, site=_site(), name=_name(user),
                            link=claim_link(token), hours=int(password_tokens.LIFETIME["reset"].total_seconds() // 3600))


def plausible_email(text: str) -> bool:
    """Worth a lookup and a message: one @ with something on each side, no spaces or control characters
    (a line break would be a header injection), at most 320 characters. Public knowledge, so refusing
    anything else tells nothing about accounts."""
    local, at, domain = text.rpartition("@")
    return bool(at and local and "." in domain.strip(".") and len(text) <= 320
                and text.isprintable() and not any(c.isspace() for c in text))


def reset_guard(email: str) -> AbstractContextManager[throttle.Check]:
    """The sign-in throttle for a reset request: SignInThrottled past its limits. Counted under its own key,
    so asking for links never locks the account's sign-in (the per-address limit is shared)."""
    app = current_app
    return throttle.password_check(app.extensions["hamlet.engine"], app.config["HAMLET"].sign_in,
                                   throttle.account_key(app.config["SECRET_KEY"], "reset\0" + email),
                                   throttle.address_key(request.remote_addr))


def set_password_by_link(db: Session, token: str, password: str) -> Actor | None:
    """Use the token once and set the password; every session of the account ends (whoever had the old
    password is out). None when the token is unknown, used or expired, or its account is gone."""
    user_id = password_tokens.consume(db, token)
    user = accounts.web_user(db, user_id) if user_id is not None else None
    if user is None:
        return None
    accounts.change_password(db, user, password)
    audits.record(db, user, "user.update", user, {"data": {"password": True}, "via": "password link"})
    return user


def password_changed_notice(user: Actor) -> EmailMessage | None:
    """Tell the owner their password changed (Central's accountPasswordChanged), whoever changed it."""
    if not email_is_on() or not user.email:
        return None
    return messages.compose("password_changed", user.email, user.language, site=_site(), name=_name(user),
                            when=utcnow().strftime("%Y-%m-%d %H:%M"), sign_in=f"{_base()}/sign-in")


def deliver(message: EmailMessage | None) -> str | None:
    """Send a prepared message after the commit. None when sent (or nothing to send); otherwise what went
    wrong, already logged — and the message is queued to be tried again (server/mail/retry.py)."""
    t = mail_transport()
    if message is None or t is None:
        return None
    try:
        send(t, message)
    except SendFailed as exc:
        log.error("could not send %r to %s: %s; trying again later", message["Subject"], message["To"], exc)
        retry_later(jobs(), message)
        return str(exc)
    log.info("sent %r to %s", message["Subject"], message["To"])
    return None
