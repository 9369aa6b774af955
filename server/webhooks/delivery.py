"""Sending a delivery: the submission as JSON (and its XML when the hook asks), signed with the
hook's secret, POSTed with a short timeout; a failure is logged on the delivery and retried with
exponential backoff (30 s doubling up to an hour) until a day has passed, then given up.

Who sends what when: a dispatcher (`dispatch`, a periodic task of whichever process runs the jobs)
hands out due deliveries from the table a few per hook at a time and queues one job each; the job
makes one attempt, writes its outcome and the time of the next, and hands out the next due delivery
of its hook. So intake only writes a row, retries are in the table (found again by the next dispatcher
to run after a restart), and a slow receiver holds at most its share of the worker threads while the
other hooks' deliveries go on.

The receiver checks `X-Hamlet-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body under the
hook's secret, and may drop a repeat by `X-Hamlet-Delivery` (a delivery can arrive twice: at least
once is what a queue can promise)."""
from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import random
import socket
import ssl
import weakref
from datetime import timedelta
from typing import cast
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import event, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from server.db import utcnow
from server.jobs import Jobs
from server.models.form_data import VersionCache
from server.models.forms import Form, FormDef
from server.models.projects import Project
from server.models.submissions import Submission, SubmissionDef
from server.webhooks.models import (
    DELIVERED,
    FAILED,
    GIVE_UP_AFTER,
    LEASE,
    PENDING,
    RECORDED_KEY,
    RETRYING,
    Webhook,
    WebhookDelivery,
    claim_due,
    mark_for_resend,
    note_outcome,
    tidy,
)
from server.xforms.safexml import local, parse
from server.xforms.schema import Schema

log = logging.getLogger("hamlet.webhooks")
JOB = "webhooks.deliver"
TIMEOUT_SECONDS = 10


class UnsafeUrl(ValueError):
    """A webhook URL Hamlet will not call; the message says why, `kind` which rule it broke."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address on the public internet: not loopback, private, link-local, shared (100.64/10, where
    some clouds keep their metadata service), reserved or multicast — nor an IPv6 form of one."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return _public(embedded)
    return ip.is_global and not ip.is_multicast


def resolve(url: str, allow_private: bool) -> tuple[SplitResult, list[str]]:
    """The URL's parts and the addresses it may be reached at. http(s) only; unless the operator allows
    it, only public addresses, so a manager cannot point the server at its own database port or a cloud
    metadata service. The caller connects to these very addresses (`post`), so a name that resolves
    differently a moment later (DNS rebinding) changes nothing."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("scheme", "the URL must start with http:// or https:// and name a host")
    if len(url) > 2000:
        raise UnsafeUrl("length", "the URL is longer than 2,000 characters")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        raise UnsafeUrl("host", f"the host {parts.hostname} cannot be found") from None
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in found))
    if not allow_private:
        for address in addresses:
            if not _public(ipaddress.ip_address(address)):
                raise UnsafeUrl("private", f"{parts.hostname} is a local or private address ({address}); set "
                                "HAMLET_WEBHOOK_ALLOW_PRIVATE=1 to allow receivers on the server's own network")
    return parts, addresses


def check_url(url: str, allow_private: bool) -> str:
    resolve(url, allow_private)
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


class _Pinned(http.client.HTTPConnection):
    """HTTP to an address already checked, whatever the name resolves to now."""

    def __init__(self, address: str, host: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to an address already checked; the certificate is still checked against the URL's name."""

    def __init__(self, address: str, host: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, allow_private: bool, body: bytes, headers: dict[str, str]) -> int:
    """POST to the URL at an address `resolve` accepted; the status. A redirect is an answer, not a new
    address to call (following it would skip the check)."""
    parts, addresses = resolve(url, allow_private)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    kind = _PinnedTLS if parts.scheme == "https" else _Pinned
    connection = kind(addresses[0], parts.hostname or "", port, TIMEOUT_SECONDS)
    try:
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                           headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def _stopped(db: Session, hook: Webhook, delivery: WebhookDelivery) -> str | None:
    """Why this delivery must not be sent: the hook is paused; its creator may no longer change the form
    (a manager who left must not go on receiving households: the hook is paused); the submission is gone."""
    from server.auth.permissions import can, verbs_for
    from server.models.accounts import Actor

    if not hook.active:
        return "not sent: the webhook is paused"
    sdef = db.get(SubmissionDef, delivery.submission_def_id)
    sub = db.get(Submission, sdef.submission_id) if sdef is not None else None
    if sub is None or sub.deleted_at is not None:
        return "not sent: the submission was deleted"
    form = db.get_one(Form, hook.form_id)
    creator = db.get(Actor, hook.created_by) if hook.created_by is not None else None
    if creator is None or creator.deleted_at is not None \
            or not can(verbs_for(db, creator, form.project_id, form.id), "form.update"):
        hook.active = False
        return "not sent: whoever set up this webhook may no longer change the form, so it was paused"
    return None


def deliver(sessions: sessionmaker[Session], allow_private: bool, backoff_ms: tuple[int, int],
            delivery_id: int, lease: int | None = None, cache: VersionCache | None = None) -> int | None:
    """The job: one attempt at one delivery, made only by the holder of its lease token; its outcome and the
    time of the next written on its row, the lease released. Returns the hook's id, for its next due
    delivery to be handed out."""
    if lease is None:  # a job queued by a release before 0022: its delivery is handed out again from the table
        return None
    d = WebhookDelivery
    with sessions() as db:
        delivery = db.get(d, delivery_id)
        if delivery is None or delivery.status not in (PENDING, RETRYING) or delivery.lease != lease:
            return None
        hook = db.get_one(Webhook, delivery.webhook_id)
        reason = _stopped(db, hook, delivery)
        if reason is not None:
            db.execute(update(d).where(d.id == delivery_id, d.lease == lease)
                       .values(status=FAILED, last_error=reason, next_attempt_at=None, leased_until=None,
                               updated_at=utcnow()))
            _commit(db)
            return None
        # The attempt takes the token on, so that neither a second job with the same token (a broker's
        # redelivery) nor an older one can attempt it or write its outcome while this one runs.
        mine, now = lease + 1, utcnow()
        claimed = cast(CursorResult, db.execute(
            update(d).where(d.id == delivery_id, d.lease == lease, d.status.in_((PENDING, RETRYING)))
            .values(lease=mine, attempts=d.attempts + 1, updated_at=now, leased_until=now + LEASE,
                    next_attempt_at=now + LEASE))).rowcount
        if not claimed:
            db.rollback()
            return None
        db.commit()
        db.refresh(delivery)
        error, status = None, None
        try:
            body = payload(db, delivery, hook, cache or VersionCache())
            db.commit()  # no transaction stays open while the receiver takes its time (up to TIMEOUT_SECONDS)
            status = post(hook.url, allow_private, body, {
                "Content-Type": "application/json; charset=utf-8", "User-Agent": "Hamlet-Webhook/1",
                "X-Hamlet-Event": delivery.event, "X-Hamlet-Delivery": str(delivery.id),
                "X-Hamlet-Signature": sign(hook.secret, body)})
        except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, timed out, unsafe, garbled
            error = f"{type(exc).__name__}: {exc}"[:500]
        except BaseException as exc:  # anything else (a bug, the database, the job's time limit): a failed
            db.rollback()              # attempt in the log, the lease released, then raised as usual
            _outcome(db, delivery, mine, hook, None, f"{type(exc).__name__}: {exc}"[:500], backoff_ms)
            raise
        return hook.id if _outcome(db, delivery, mine, hook, status, error, backoff_ms) else None


def _outcome(db: Session, delivery: WebhookDelivery, token: int, hook: Webhook, status: int | None,
             error: str | None, backoff_ms: tuple[int, int]) -> bool:
    """Write an attempt's outcome, if the attempt still holds the delivery; whether it did."""
    now = utcnow()
    ok = status is not None and 200 <= status < 300
    values: dict = {"last_status_code": status, "updated_at": now, "leased_until": None}
    if ok:
        values.update(status=DELIVERED, last_error=None, delivered_at=now, next_attempt_at=None)
    else:
        give_up = now > (delivery.retry_until or delivery.created_at + GIVE_UP_AFTER)
        values.update(status=FAILED if give_up else RETRYING, last_error=error or f"the receiver answered HTTP {status}",
                      next_attempt_at=None if give_up else now + backoff(backoff_ms, delivery.attempts))
    d = WebhookDelivery
    written = cast(CursorResult, db.execute(update(d).where(d.id == delivery.id, d.lease == token).values(**values)
                                            .execution_options(synchronize_session=False))).rowcount
    if written:
        note_outcome(db, hook.id, ok, backoff(backoff_ms, hook.failures + 1))
    return _commit(db) and bool(written)


def backoff(backoff_ms: tuple[int, int], attempt: int) -> timedelta:
    """The wait after failed attempt n: min × 2^(n-1), at most max, less up to a quarter of it at random so
    that a receiver coming back is not met by every delivery at once."""
    wait_ms = min(backoff_ms[0] * 2 ** min(attempt - 1, 32), backoff_ms[1])
    return timedelta(milliseconds=wait_ms * random.uniform(0.75, 1.0))


def _commit(db: Session) -> bool:
    try:
        db.commit()
        return True
    except StaleDataError:  # the hook (and its log) was deleted while this attempt ran
        db.rollback()
        return False


def dispatch(db: Session, jobs: Jobs, per_hook: int, webhook_id: int | None = None) -> int:
    """Queue a job for each delivery due now (of one hook, or all), within each hook's share; how many."""
    found = claim_due(db, per_hook, webhook_id)
    for delivery_id, lease in found:
        jobs.defer(JOB, delivery_id, lease)
    return len(found)


# How often the dispatcher gives up what is past its day (models.tidy).
TIDY_EVERY_SECONDS = 60.0


def register(jobs: Jobs, sessions: sessionmaker[Session], allow_private: bool, backoff_ms: tuple[int, int],
             per_hook: int, poll_seconds: float, cache: VersionCache | None = None) -> None:
    """The delivery job and the dispatcher on the app's jobs. `cache`: the app's cache of form versions'
    schemas (one of its own if not given)."""
    schemas = cache or VersionCache()

    def attempt(delivery_id: int, lease: int | None = None) -> None:
        hook_id = deliver(sessions, allow_private, backoff_ms, delivery_id, lease, schemas)
        if hook_id is not None:  # the hook's share is free again: its next due delivery, without waiting
            with sessions() as db:
                dispatch(db, jobs, per_hook, hook_id)

    def dispatch_due() -> None:
        with sessions() as db:
            dispatch(db, jobs, per_hook)

    def give_up_overdue() -> None:
        with sessions() as db:
            tidy(db)

    jobs.register(JOB, attempt, max_retries=0, time_limit=60_000)
    jobs.every(poll_seconds, dispatch_due)
    jobs.every(TIDY_EVERY_SECONDS, give_up_overdue, on_nudge=False)

    # Held weakly: SQLAlchemy keeps a sessionmaker's listeners in a WeakKeyDictionary keyed by its Session
    # class, and a listener reaching that class again (jobs → their actors → the app → the sessionmaker)
    # kept the entry, and with it the whole app, alive after the app was gone (every test's app did).
    jobs_ref = weakref.ref(jobs)

    @event.listens_for(sessions, "after_commit")
    def _nudge(session: Session) -> None:
        nudge_if_recorded(session.info, jobs_ref())

    @event.listens_for(sessions, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(RECORDED_KEY, None)


def nudge_if_recorded(info: dict, jobs: Jobs | None) -> None:
    """After a commit that recorded deliveries (`info`: the session's, or intake's lean transaction's):
    in-process, the dispatcher runs in this very process, so wake it. With a broker, nothing: the
    worker's dispatcher finds the rows, and intake sends nothing to the broker."""
    if info.pop(RECORDED_KEY, False) and jobs is not None and jobs.in_process:
        jobs.nudge()


def resend(db: Session, jobs: Jobs, delivery: WebhookDelivery, per_hook: int) -> None:
    """Send again now, with a fresh day of retries (REST and the page); the log keeps its attempts. Queued
    at once unless the hook's share is full, then by the dispatcher as soon as it is not; refused (409)
    while an attempt is under way."""
    mark_for_resend(db, delivery)
    db.commit()
    dispatch(db, jobs, per_hook, delivery.webhook_id)
    db.refresh(delivery)
