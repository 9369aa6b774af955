"""Sending a delivery: the submission as JSON (and its XML when the hook asks), signed with the
hook's secret, POSTed with a short timeout; a failure is logged on the delivery and retried with
exponential backoff (30 s doubling up to an hour) until a day has passed, then given up.

The receiver checks `X-Hamlet-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body under the
hook's secret, and may drop a repeat by `X-Hamlet-Delivery` (a delivery can arrive twice: at least
once is what a queue can promise)."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from server.db import utcnow
from server.jobs import Jobs, RetryLater
from server.models.form_data import VersionCache
from server.models.forms import Form, FormDef
from server.models.projects import Project
from server.models.submissions import Submission, SubmissionDef
from server.webhooks.models import DELIVERED, FAILED, QUEUED_KEY, RETRYING, Webhook, WebhookDelivery, pending_too_long
from server.xforms.safexml import local, parse
from server.xforms.schema import Schema

JOB = "webhooks.deliver"
TIMEOUT_SECONDS = 10
GIVE_UP_AFTER = timedelta(days=1)


class UnsafeUrl(ValueError):
    """A webhook URL Hamlet will not call; the message says why, `kind` which rule it broke."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def check_url(url: str, allow_private: bool) -> str:
    """http(s) only; and unless the operator allows it, no loopback, private or link-local address, so a
    manager cannot point the server at its own database port or a cloud metadata service."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("scheme", "the URL must start with http:// or https:// and name a host")
    if len(url) > 2000:
        raise UnsafeUrl("length", "the URL is longer than 2,000 characters")
    if allow_private:
        return url
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)}
    except OSError:
        raise UnsafeUrl("host", f"the host {parts.hostname} cannot be found") from None
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
            raise UnsafeUrl("private", f"{parts.hostname} is a local or private address ({ip}); set HAMLET_WEBHOOK_ALLOW_PRIVATE=1 "
                            "to allow receivers on the server's own network")
    return url


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def answers(xml: bytes, schema: Schema) -> dict:
    """The answers as KoboToolbox's REST services send them: `group/question` keys, a repeat as a
    list of objects keyed the same way."""
    repeats = {f.path for f in schema.repeats()}

    def walk(el, path: tuple[str, ...], into: dict) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            here = (*path, local(child.tag))
            key = "/".join(here)
            if here in repeats:
                item: dict = {}
                walk(child, here, item)
                into.setdefault(key, []).append(item)
            elif len(child):
                walk(child, here, into)
            else:
                into[key] = child.text or ""

    root = parse(xml)
    found: dict = {}
    walk(root, (), found)
    return found


def payload(db: Session, delivery: WebhookDelivery, hook: Webhook, cache: VersionCache) -> bytes:
    """The body. The form version's schema comes from the app's cache: reading it from the form's XML
    costs more CPU than taking in the submission did (14 ms against ~6 ms, bench/README.md), and an
    in-process worker shares the web workers' CPU."""
    sdef = db.get_one(SubmissionDef, delivery.submission_def_id)
    sub = db.get_one(Submission, sdef.submission_id)
    form = db.get_one(Form, sdef.form_id)
    version = db.scalars(select(FormDef.version).where(FormDef.id == sdef.form_def_id)).one()
    project = db.get_one(Project, form.project_id)
    body = {
        "event": delivery.event, "deliveryId": delivery.id, "projectId": project.id, "xmlFormId": form.xml_form_id,
        "version": version, "instanceId": sdef.instance_id, "deprecatedId": sdef.deprecated_id,
        "submitterId": sdef.submitter_id, "deviceId": sdef.device_id, "createdAt": sdef.created_at.isoformat(),
        "reviewState": sub.review_state,
        "data": None if sdef.encrypted else answers(sdef.xml, cache.schema(db, sdef.form_def_id)),
    }
    if hook.include_xml:
        body["xml"] = sdef.xml.decode("utf-8", "replace")
    return json.dumps(body, ensure_ascii=False).encode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new address to call: following it would skip check_url."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def deliver(sessions: sessionmaker[Session], allow_private: bool, delivery_id: int,
            cache: VersionCache | None = None) -> None:
    """The job: one attempt at one delivery. Raises RetryLater to be tried again with backoff."""
    with sessions() as db:
        delivery = db.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status in (DELIVERED, FAILED):
            return
        hook = db.get_one(Webhook, delivery.webhook_id)
        body = payload(db, delivery, hook, cache or VersionCache())
        delivery.attempts += 1
        delivery.updated_at = utcnow()
        error, status = None, None
        try:
            check_url(hook.url, allow_private)
            status = post(hook.url, body, {
                "Content-Type": "application/json; charset=utf-8", "User-Agent": "Hamlet-Webhook/1",
                "X-Hamlet-Event": delivery.event, "X-Hamlet-Delivery": str(delivery.id),
                "X-Hamlet-Signature": sign(hook.secret, body)})
        except (OSError, ValueError) as exc:  # refused, timed out, unresolvable, unsafe
            error = f"{type(exc).__name__}: {exc}"[:500]
        delivery.last_status_code = status
        if status is not None and 200 <= status < 300:
            delivery.status, delivery.last_error, delivery.delivered_at = DELIVERED, None, utcnow()
        else:
            delivery.last_error = error or f"the receiver answered HTTP {status}"
            delivery.status = FAILED if utcnow() - delivery.created_at > GIVE_UP_AFTER else RETRYING
        retry = delivery.status == RETRYING
        try:
            db.commit()
        except StaleDataError:  # the hook (and its log) was deleted while this attempt ran
            return
    if retry:
        raise RetryLater(f"delivery {delivery_id}: {error or status}")


def _retry_when(_retries: int, exc: BaseException) -> bool:
    return isinstance(exc, RetryLater)


def register(jobs: Jobs, sessions: sessionmaker[Session], allow_private: bool, min_backoff_ms: int,
             max_backoff_ms: int, cache: VersionCache | None = None) -> None:
    """The delivery job on the app's queue, and its queuing after each commit that recorded deliveries.
    `cache`: the app's cache of form versions' schemas (one of its own if not given)."""
    schemas = cache or VersionCache()
    jobs.register(JOB, lambda delivery_id: deliver(sessions, allow_private, delivery_id, schemas), retry_when=_retry_when,
                  min_backoff=min_backoff_ms, max_backoff=max_backoff_ms, time_limit=60_000)

    @event.listens_for(sessions, "after_commit")
    def _queue(session: Session) -> None:
        for delivery_id in session.info.pop(QUEUED_KEY, ()):
            jobs.defer(JOB, delivery_id)

    @event.listens_for(sessions, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(QUEUED_KEY, None)


def sweep(jobs: Jobs, sessions: sessionmaker[Session], older_than: timedelta = timedelta(minutes=10)) -> int:
    """Queue again what a crash or a lost in-memory queue left unsent; returns how many."""
    with sessions() as db:
        found = pending_too_long(db, older_than)
        for delivery in db.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(found))):
            delivery.updated_at = utcnow()
        db.commit()
    for delivery_id in found:
        jobs.defer(JOB, delivery_id)
    return len(found)
