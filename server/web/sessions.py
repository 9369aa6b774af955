"""Who is signed in to the pages, and the CSRF token every POST must carry.

Why a server-side session: the browser keeps Flask's signed cookie, but all the cookie holds for a
signed-in user is the token of a row in the existing `sessions` table (the same rows the REST API's
bearer tokens use, with their `expires_at` and per-session `csrf`). So signing out, changing the
password (which ends the user's other sessions) or deleting the user (which deletes their rows)
takes effect at the next request on every device; a signed-only cookie would stay valid until it
expired, whatever happened on the server. Anonymous visitors' cookie holds only their language
and the CSRF token of the sign-in form.

The cookie is HttpOnly, SameSite=Lax, and Secure whenever the request came over https (directly
or through a proxy's X-Forwarded-Proto, which ProxyFix applies). The REST and OpenRosa APIs keep
NoCookieSessions: they never open this cookie, so a browser's cookie cannot authenticate an API
call (no CSRF exposure there) and API requests pay nothing for it."""
from __future__ import annotations

import hmac
import secrets

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface, SessionInterface
from sqlalchemy import delete

from server.context import audit, db, settings
from server.models.accounts import USER, Actor, AuthSession, actor_for_token, create_session

COOKIE_NAME = "hamlet_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Paths the pages never serve: the REST API and ODK Collect's root OpenRosa endpoints.
_API_PREFIX = "/v1"
_OPENROSA_ROOT = frozenset({"/formList", "/submission"})


def is_api_path(path: str) -> bool:
    return path == _API_PREFIX or path.startswith(_API_PREFIX + "/") or path in _OPENROSA_ROOT


class WebSessions(SecureCookieSessionInterface):
    """Flask's signed cookie for the pages; the API's interface (no session at all) for the API."""

    def __init__(self, api: SessionInterface):
        self.api = api

    def open_session(self, app, request):
        if is_api_path(request.path):
            return self.api.open_session(app, request)
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if is_api_path(request.path):
            return self.api.save_session(app, session, response)
        return super().save_session(app, session, response)

    def get_cookie_name(self, app) -> str:
        return COOKIE_NAME

    def get_cookie_httponly(self, app) -> bool:
        return True

    def get_cookie_samesite(self, app) -> str:
        return "Lax"

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure


def install(app: Flask) -> None:
    app.session_interface = WebSessions(app.session_interface)


def load_user() -> None:
    """Set g.actor from the cookie's session row (web users only), or None.

    Whatever the API's identify() found from an Authorization header is dropped: the pages accept
    only their own cookie, so credentials a browser sends by itself (Basic) never act for a page."""
    g.actor = None
    g.web_session = None
    g.user = None
    token = session.get("sid")
    if not token:
        return
    found = actor_for_token(db(), token)
    if found is None or found[0].type != USER:
        session.pop("sid", None)
        return
    g.actor, g.web_session = found
    g.user = db().get(Actor, g.actor.id)


def sign_in(user: Actor) -> None:
    """A new session row and a fresh cookie (a new token, so a planted cookie is never reused)."""
    row = create_session(db(), user, settings().session_hours)
    language = session.get("lang")
    session.clear()
    session["sid"] = row.token
    if user.language is None and language:
        user.language = language  # a choice made before signing in is kept
    audit("user.session.create", user, {"userAgent": request.headers.get("User-Agent")}, actor=user)
    db().commit()


def sign_out() -> None:
    if g.get("web_session") is not None:
        db().execute(delete(AuthSession).where(AuthSession.token == g.web_session.token))
        db().commit()
    language = (g.user.language if g.get("user") is not None else None) or session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def csrf_token() -> str:
    """The token forms carry: the session row's for a signed-in user, the cookie's before that."""
    if g.get("web_session") is not None:
        return g.web_session.csrf
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok() -> bool:
    """Whether this POST carries the token of this browser's session."""
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = g.web_session.csrf if g.get("web_session") is not None else session.get("csrf")
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())
