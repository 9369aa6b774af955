"""Collect's HEAD before each upload, with an app-user key or Digest, answered in front of Flask when it cannot fail.

Every upload starts with `HEAD …/v1/key/{token}/projects/{p}/submission` (odk-protocol §3.1). When this
worker looked the token and the project up within the last second (server/models/recent.py), the route
in submission.py would answer 204 without the database, and Flask's request, context, session and
response objects are most of that answer's cost (~0.3 ms of ~2 per upload). This middleware gives the
same 204, byte for byte, from the same caches; anything else — another method or path, no key, an
unknown, expired or not-recently-seen key, a project not seen within the second, an X-OpenRosa-Version
other than 1.0 — goes to Flask as before, which answers it (and its refusals) itself. Collect set up
with a username and password signs each HEAD with Digest: a right answer that server/auth/identify.py
`recent_digest_caller` vouches for without the database is answered here too."""
from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

from werkzeug.http import http_date

from server.auth.identify import recent_digest_caller
from server.models.accounts import is_wellformed_token, recent_token_is_valid
from server.models.projects import project_recently_live
from server.web import page_policy

# PATH_INFO after KeyPrefixMiddleware moved the key out; the digits are those Werkzeug's int converter takes.
_PATH = re.compile(r"/v1/projects/([1-9][0-9]{0,15})/submission")


class SubmissionHead:
    """WSGI middleware between KeyPrefixMiddleware and Flask (server/__init__.py)."""

    def __init__(self, app, config: MutableMapping[str, Any], extensions: MutableMapping[str, Any]):
        self.app, self.config, self.extensions = app, config, extensions

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "HEAD" and self._answerable(environ):
            settings = self.config["HAMLET"]
            # The headers, their order and the status text are Flask's for `Response(status=204)` through
            # add_openrosa_headers (tests/test_openrosa_head.py compares the two answers).
            start_response("204 NO CONTENT", [
                ("Content-Type", "text/html; charset=utf-8"),
                ("X-OpenRosa-Version", "1.0"),
                ("X-OpenRosa-Accept-Content-Length", str(settings.max_submission_bytes)),
                ("Content-Language", "en"),
                ("Date", http_date()),
                # Flask's 204 says text/html, so the pages' after_request hook adds their policy.
                ("Content-Security-Policy", page_policy(settings.map_tiles)),
            ])
            return []
        return self.app(environ, start_response)

    def _answerable(self, environ) -> bool:
        project_id = vouched_project(environ, self.config["SECRET_KEY"], self.extensions["hamlet.digest"])
        return project_id is not None and project_recently_live(project_id)


def vouched_project(environ, secret: str, digest_memo) -> int | None:
    """The project of a request to `…/submission` (X-OpenRosa-Version 1.0 or none) whose app-user key this
    worker saw within the last second, or whose Digest answer `recent_digest_caller` vouches for without
    the database; None: Flask's to answer. Shared by the HEAD and POST short cuts (post.py), so both trust
    the same callers."""
    match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
    if match is None:
        return None
    version = environ.get("HTTP_X_OPENROSA_VERSION")
    if version is not None and version.strip() != "1.0":
        return None
    key = environ.get("hamlet.key")
    if key is not None:
        if not (is_wellformed_token(key) and recent_token_is_valid(key)):
            return None
    elif recent_digest_caller(environ, secret, digest_memo) is None:
        return None
    return int(match.group(1))
