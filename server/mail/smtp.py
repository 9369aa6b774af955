"""Sending one message through the SMTP server HAMLET_SMTP_URL names, with the standard library.

The URL's scheme says how the connection is protected:
  smtp://host[:25]            plain (a relay on the same machine or network); `?starttls=1` upgrades it
  smtp+starttls://host[:587]  STARTTLS required (submission port)
  smtps://host[:465]          TLS from the first byte
Credentials come from the URL's user:password@ (percent-encoded) or HAMLET_SMTP_USER and
HAMLET_SMTP_PASSWORD, which win. Mail is sent while the request waits (there is no job queue), so every
conversation has a short timeout, and callers send only after their transaction has committed: a slow or
failing mail server never holds the database, and never undoes what was stored."""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from server.config import Settings

log = logging.getLogger("hamlet.mail")

_SCHEMES = {"smtp": (25, "plain"), "smtp+starttls": (587, "starttls"), "smtps": (465, "tls")}


class MailConfigError(ValueError):
    """HAMLET_SMTP_URL cannot be used; the message says why."""


class SendFailed(Exception):
    """The mail server could not be reached or refused the message; the message says what happened."""


@dataclass(frozen=True)
class Transport:
    host: str
    port: int
    security: str          # "plain", "starttls" or "tls"
    user: str | None
    password: str | None = field(repr=False)
    sender: str = ""
    timeout: int = 10

    def describe(self) -> str:
        """For the startup log: never the password."""
        who = f" as {self.user}" if self.user else ""
        return f"{self.security} SMTP to {self.host}:{self.port}{who}, from {self.sender}"


def transport(settings: Settings) -> Transport | None:
    """The configured transport, or None when email is off (why: email_off_reason)."""
    if email_off_reason(settings):
        return None
    return _parse(settings)


def email_off_reason(settings: Settings) -> str | None:
    """Why email is off, in words for the startup log, or None when it is on."""
    if not settings.smtp_url:
        return "HAMLET_SMTP_URL is not set"
    if not settings.base_url:
        # Links built from a request's Host header could point a reset link at an attacker's site.
        return "HAMLET_BASE_URL is not set, and the links in the messages are built on it"
    try:
        _parse(settings)
    except MailConfigError as exc:
        return str(exc)
    return None


def _parse(settings: Settings) -> Transport:
    url = urlsplit(settings.smtp_url or "")
    if url.scheme not in _SCHEMES:
        raise MailConfigError(f"HAMLET_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://, not {url.scheme}://")
    if not url.hostname:
        raise MailConfigError("HAMLET_SMTP_URL names no host")
    try:
        port = url.port
    except ValueError:
        raise MailConfigError("HAMLET_SMTP_URL has a port that is not a number") from None
    default_port, security = _SCHEMES[url.scheme]
    if security == "plain" and parse_qs(url.query).get("starttls", ["0"])[0].lower() in ("1", "true", "yes"):
        security = "starttls"
    user = settings.smtp_user or (unquote(url.username) if url.username else None)
    password = settings.smtp_password or (unquote(url.password) if url.password else None)
    host = settings.base_url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0] if settings.base_url else "localhost"
    return Transport(url.hostname, port or default_port, security, user, password,
                     settings.mail_from or f"noreply@{host}", settings.smtp_timeout)


def send(t: Transport, message: EmailMessage) -> None:
    """Send one message or raise SendFailed; never called inside a database transaction."""
    for header in ("From", "Date", "Message-ID"):  # set anew on a second attempt (server/mail/retry.py)
        del message[header]
    message["From"] = t.sender
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=t.sender.rpartition("@")[2].strip(">") or None)
    try:
        if t.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(t.host, t.port, timeout=t.timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(t.host, t.port, timeout=t.timeout)
        with smtp:
            if t.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if t.user:
                smtp.login(t.user, t.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
