"""A message the SMTP server did not take is tried again on the job queue (server/jobs.py): after a
minute, doubling up to half an hour, for six hours — an invitation or a reset link is worth little
later. The first attempt stays in the request, so the page can say at once that sending failed."""
from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage

from server.config import Settings
from server.jobs import Jobs, RetryLater
from server.mail.smtp import SendFailed, send, transport

JOB = "mail.send"
log = logging.getLogger("hamlet.mail")


def retry_later(jobs: Jobs, message: EmailMessage) -> None:
    jobs.defer(JOB, base64.b64encode(message.as_bytes(policy=policy.SMTP)).decode("ascii"))


def register(jobs: Jobs, settings: Callable[[], Settings], min_backoff_ms: int = 60_000,
             max_backoff_ms: int = 1_800_000) -> None:
    """`settings` gives the app's settings as they are when the job runs (the SMTP server may have changed)."""

    def send_again(encoded: str) -> None:
        t = transport(settings())
        if t is None:  # email was switched off since: nothing to send with
            return
        message = message_from_bytes(base64.b64decode(encoded), policy=policy.default)
        try:
            send(t, message)
        except SendFailed as exc:
            raise RetryLater(f"{message['Subject']!r} to {message['To']}: {exc}") from None
        log.info("sent %r to %s on a later attempt", message["Subject"], message["To"])

    jobs.register(JOB, send_again, retry_when=lambda _n, exc: isinstance(exc, RetryLater),
                  min_backoff=min_backoff_ms, max_backoff=max_backoff_ms, max_age=6 * 3600 * 1000, time_limit=120_000)
