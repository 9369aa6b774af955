"""Resolve the caller of each request: app-user key in the URL, Bearer token, or Basic over HTTPS."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from flask import Request, g

from server.auth.throttle import DigestMemo, account_key, address_key, digest_allowed, memo, user_for_password
from server.models.accounts import Caller, actor_for_token, digest_user, is_wellformed_token
from server.problems import AuthenticationFailed, HttpsOnly, InsufficientRights

_KEY_PATH = re.compile(r"^/v1/key/([^/]*)(/.*)?$")


class KeyPrefixMiddleware:
    """Central's app-user URLs carry the token as a path prefix: /v1/key/{token}/projects/…

    The prefix is moved out of PATH_INFO so every route is defined once, and kept in the environ so
    OpenRosa responses can build URLs under the same prefix (odk-protocol §4.2). `?st=` is the query
    form of the same thing."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        m = _KEY_PATH.match(path)
        if m:
            environ["hamlet.key"] = m.group(1)
            environ["hamlet.prefix"] = f"/v1/key/{m.group(1)}"
            environ["PATH_INFO"] = "/v1" + (m.group(2) or "/")
        else:
            query = environ.get("QUERY_STRING", "")
            if "st=" in query:
                pairs = parse_qsl(query, keep_blank_values=True)
                st = [v for k, v in pairs if k == "st"]
                if st:
                    environ["hamlet.key"] = st[0]
                    environ["hamlet.prefix"] = f"/v1/key/{st[0]}"
                    environ["QUERY_STRING"] = urlencode([(k, v) for k, v in pairs if k != "st"])
        return self.app(environ, start_response)


def identify(request: Request, db) -> None:
    """Set g.actor (or None) and g.auth_session. Raises a Problem for credentials that fail."""
    g.actor = None
    g.auth_session = None
    key = request.environ.get("hamlet.key")
    if key is not None:
        # A bad key is 403, never 401: a 401 would make ODK Collect prompt for a password (§4.2).
        found = actor_for_token(db, key) if is_wellformed_token(key) else None
        if found is None:
            raise InsufficientRights("This app user key is not valid or has been revoked. Ask your supervisor for a new QR code.")
        g.actor, g.auth_session = found
        return
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and request.endpoint == "users.reset_verify":
        return  # the Bearer token is an emailed password link's, which that route checks itself
    if scheme == "bearer":
        found = actor_for_token(db, value.strip())
        if found is None:
            raise AuthenticationFailed("The session token is not valid or has expired; sign in again.")
        g.actor, g.auth_session = found
    elif scheme == "digest":
        g.actor = _digest_user(request, db)
    elif scheme == "basic":
        if not request.is_secure:
            raise HttpsOnly()
        auth = request.authorization
        if auth is None or not auth.username:
            raise AuthenticationFailed()
        user = user_for_password(db, auth.username, auth.password or "")
        if user is None:
            raise AuthenticationFailed()
        g.actor = user


def _digest_user(request: Request, db):
    from flask import current_app

    from server.auth import digest

    auth = request.authorization
    if auth is None or auth.type != "digest":
        raise AuthenticationFailed()
    state = digest.nonce_state(current_app.config["SECRET_KEY"], auth.parameters.get("nonce") or "")
    uri_path = (auth.parameters.get("uri") or "").split("?", 1)[0]
    if state == "bad" or not auth.username or not uri_path.endswith(request.path):
        # Not a password guess: a forged nonce or another request's answer proves nothing either way.
        raise AuthenticationFailed("The username or password is not correct.")
    found = digest_user(db, auth.username, memo().users)
    correct = found is not None and digest.check(auth, found[1], request.method)
    if not digest_allowed(auth.username, correct):  # throttled: SignInThrottled before any answer
        raise AuthenticationFailed("The username or password is not correct.")
    user = found[0] if found is not None else None
    if state == "stale":
        problem = AuthenticationFailed("The sign-in has expired; sign in again.")
        problem.stale = True
        raise problem
    return user


def recent_digest_caller(environ, secret: str, remembered: DigestMemo) -> Caller | None:
    """The caller of a right Digest answer that `_digest_user` would accept without the database: a
    fresh nonce signed here, the user and the clean standing of its account and address both looked
    up within the last second (server/auth/throttle.py `digest_allowed`). None means "ask
    `identify`", which answers everything else (a wrong or stale answer, a throttled address, an
    unknown user) as before. For the WSGI layers in front of Flask (server/openrosa/head.py, post.py)."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() != "digest " or "hamlet.key" in environ:
        return None
    from werkzeug.datastructures import Authorization

    from server.auth import digest

    auth = Authorization.from_header(header)
    if auth is None or auth.type != "digest" or not auth.username:
        return None
    uri_path = (auth.parameters.get("uri") or "").split("?", 1)[0]
    if not uri_path.endswith(environ.get("PATH_INFO", "")) \
            or digest.nonce_state(secret, auth.parameters.get("nonce") or "") != "ok":
        return None
    found = remembered.users.get(auth.username.strip().lower())
    if found is None or not digest.check(auth, found[1], environ.get("REQUEST_METHOD", "")):
        return None
    if not remembered.clean.get((account_key(secret, auth.username), address_key(environ.get("REMOTE_ADDR")))):
        return None
    return found[0]
