"""Slowing down password guessing: every place a password is checked goes through `guarded`.

The web sign-in page, POST /v1/sessions, HTTP Basic, HTTP Digest and both password-change routes
call it with the email as typed; the client's address comes from the request. A check first
leaves a row in the database (committed, so every other worker and thread counts it), then counts
the rows of the window besides its own; over a limit (config.SignInLimits) it is refused with
429.91 (problems.SignInThrottled) and how long to wait, without looking at the password. A right
password removes its row and that account's failures from that address — never another
address's — and a wrong one leaves its row as the failure. Counting rows that are still being
checked makes the limit hold when many requests arrive at once: concurrent checks see each other
and are refused rather than let through.

HTTP Digest is different: ODK Collect signs every request with it, and its check is one MD5, so
`guarded(email, per_request=True)` counts without reserving: the limits are read before the check,
a failure is written after it, and a right answer writes nothing (unless that address's failures
must be cleared or its "known" mark is a day old). Concurrent guesses can then overshoot a limit by
at most the requests in flight at once (workers × threads), and a syncing phone pays no commit."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, request
from sqlalchemy.engine import Engine

from server import problems
from server.config import SignInLimits
from server.db import utcnow
from server.models import sign_in_attempts as rows
from server.models.accounts import password_matches, user_by_email
from server.models.recent import Recent

# A known address is written again at most this often, so a Digest client's every request is not a write.
_KNOWN_REFRESH = timedelta(days=1)


def account_key(secret: str, email: str) -> str:
    """The email as user_by_email compares it (trimmed, lower-case), as a keyed hash: what was typed
    is never stored."""
    return hmac.new(secret.encode(), (email or "").strip().lower().encode("utf-8", "replace"),
                    hashlib.sha256).hexdigest()


def address_key(address: str | None) -> str:
    """An IPv4 address as it is; an IPv6 address as its /64, which one client typically holds whole."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "unknown")[:64]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:   # ::ffff:203.0.113.5 is an IPv4 client
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass
class Check:
    """One password check; the caller sets `succeeded`."""

    account: str
    address: str
    id: int
    known_at: datetime | None
    succeeded: bool = False
    reserved: bool = True          # `id` is a row written before the check (see the module doc)
    had_failures: bool = True      # this account has failures from this address within the window


@contextmanager
def password_check(engine: Engine, limits: SignInLimits, account: str, address: str,
                   per_request: bool = False) -> Iterator[Check]:
    """Raises SignInThrottled before the check when a limit is reached; otherwise yields a Check
    whose `succeeded` the caller sets, and records the outcome when the block ends (an exception
    inside it counts as a failure). `account` and `address` as account_key and address_key make them;
    `per_request`: count without reserving (HTTP Digest, see the module doc)."""
    check = _begin_unreserved(engine, limits, account, address) if per_request else _begin(engine, limits, account, address)
    try:
        yield check
    finally:
        _settle(engine, limits, check)


@contextmanager
def guarded(email: str, per_request: bool = False) -> Iterator[Check]:
    """password_check for this request: the app's database and limits, the client's address
    (request.remote_addr, which ProxyFix takes from X-Forwarded-For behind a proxy). A refusal is
    written to the audit log (user.session.throttled) in a transaction of its own, since the
    request's own ends in the refusal."""
    engine, limits = current_app.extensions["hamlet.engine"], current_app.config["HAMLET"].sign_in
    address = address_key(request.remote_addr)
    entered = False
    try:
        with password_check(engine, limits, account_key(current_app.config["SECRET_KEY"], email), address,
                            per_request) as check:
            entered = True
            yield check
    except problems.SignInThrottled as exc:
        if not entered:
            from server.models.audits import record_throttled

            with engine.begin() as conn:
                record_throttled(conn, email, address, exc.retry_after, timedelta(minutes=limits.window_minutes))
        raise


class DigestMemo:
    """What one app remembers for a second about Digest requests (kept per app, as tests make many apps
    in one process): its users by email, and the (account, address) pairs whose last request found a
    clean record (no failures, a known address)."""

    def __init__(self) -> None:
        from server.models.accounts import Actor

        self.users = Recent("Digest users", lambda: (Actor,))
        self.clean = Recent("clean Digest standings", lambda: ())


def memo() -> DigestMemo:
    return current_app.extensions["hamlet.digest"]


def digest_allowed(email: str, correct: bool) -> bool:
    """The throttle around one Digest request whose answer was already checked (`correct`), as
    password_check(per_request=True) does it, except that a correct answer from an account and address
    whose record was clean less than a second ago (in this process) reads nothing: a phone syncing
    signs every HEAD and POST, and the standing query was a third of a Digest upload's cost
    (bench/ingest.py). A wrong answer always takes the full check and is counted; being clean needs a
    known address, so a guesser elsewhere gains nothing from it."""
    account = account_key(current_app.config["SECRET_KEY"], email)
    address = address_key(request.remote_addr)
    clean = memo().clean
    if correct and clean.get((account, address)):
        return True
    if not correct:
        clean.put((account, address), False)  # a failure here ends the shortcut at once
    with password_check(current_app.extensions["hamlet.engine"], current_app.config["HAMLET"].sign_in, account,
                        address, per_request=True) as check:
        check.succeeded = correct
    if correct and not check.had_failures and check.known_at is not None \
            and check.known_at >= utcnow() - _KNOWN_REFRESH:
        clean.put((account, address), True)
    return correct


def user_for_password(db, email: str, password: str):
    """The user these credentials sign in, or None, checked under the throttle (which may refuse the
    check first with SignInThrottled). Every password sign-in goes through here."""
    with guarded(email) as check:
        user = user_by_email(db, email)
        check.succeeded = password_matches(user, password)
    return user if check.succeeded else None


def is_own_password(user, password: str) -> bool:
    """A signed-in user's current password, before it is changed, checked under the throttle."""
    with guarded(user.email) as check:
        check.succeeded = password_matches(user, password)
    return check.succeeded


def _begin(engine: Engine, limits: SignInLimits, account: str, address: str) -> Check:
    now = utcnow()
    with engine.begin() as conn:
        attempt_id = rows.reserve(conn, account, address, now)
    with engine.begin() as conn:
        known_at, _, until = _standing(conn, limits, account, address, now, attempt_id)
        if until:
            rows.forget(conn, attempt_id)
            rows.purge(conn, now - timedelta(minutes=limits.window_minutes),
                       now - timedelta(days=limits.known_address_days))
    _refuse_until(until, now)
    return Check(account, address, attempt_id, known_at)


def _begin_unreserved(engine: Engine, limits: SignInLimits, account: str, address: str) -> Check:
    """_begin without the row: the limits as the committed failures stand now, in one query."""
    now = utcnow()
    with engine.connect() as conn:
        known_at, latest, until = _standing(conn, limits, account, address, now, NO_ROW)
    _refuse_until(until, now)
    return Check(account, address, NO_ROW, known_at, reserved=False, had_failures=latest is not None)


NO_ROW = -1


def _standing(conn, limits: SignInLimits, account: str, address: str, now: datetime, own_id: int):
    """(when the account last signed in from this address, its latest failure from it, when each limit
    reached lets go), counting every attempt in the window but `own_id`."""
    window = timedelta(minutes=limits.window_minutes)
    known_at, latest, *blocking = rows.standing(conn, account, address, now - window, limits.per_account_and_address,
                                                limits.per_address, limits.per_account, not_id=own_id)
    if known_at is not None and known_at >= now - timedelta(days=limits.known_address_days):
        blocking[2] = None      # the per-account limit spares an address the account signed in from
    return known_at, latest, [at + window for at in blocking if at is not None]


def _refuse_until(until: list[datetime], now: datetime) -> None:
    if until:
        raise problems.SignInThrottled(max(1, math.ceil((max(until) - now).total_seconds())))


def _settle(engine: Engine, limits: SignInLimits, check: Check) -> None:
    now = utcnow()
    remember = check.succeeded and (check.known_at is None or check.known_at < now - _KNOWN_REFRESH)
    if check.succeeded and not (check.reserved or check.had_failures or remember):
        return      # a Digest request from a known address with a clean record: nothing to write
    with engine.begin() as conn:
        if check.succeeded:
            rows.succeeded(conn, check.account, check.address, now, remember)
        else:
            if not check.reserved:
                rows.reserve(conn, check.account, check.address, now)   # the failure, counted from now on
            rows.purge(conn, now - timedelta(minutes=limits.window_minutes),
                       now - timedelta(days=limits.known_address_days))
