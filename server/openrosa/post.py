"""Collect's POST of a submission, with an app-user key or Digest, stored in front of Flask when it is accepted.

Every upload is `HEAD` then `POST …/v1/key/{token}/projects/{p}/submission` (odk-protocol §3). When this
worker looked the token up within the last second (server/models/recent.py, as head.py does), or the
request carries a right Digest answer that server/auth/identify.py `recent_digest_caller` vouches for
without the database (Collect set up with a username and password, …/v1/projects/{p}/submission), the POST
needs none of Flask's request, context, routing and response objects, which cost about a fifth of its
CPU. This middleware reads the body (up to `BUFFERED` bytes, declared by Content-Length), stores the
submission with the same functions as the route in submission.py, commits, and answers the same 201,
byte for byte. Anything it is not sure of goes to Flask — before the body is read when it can tell,
as Flask refuses a bad credential unread: another method, path or X-OpenRosa-Version, no key or one not
seen within the second, a Digest answer not vouched for; after, with the body put back: a public link,
a chunked or larger body, a submission without its own instanceID — and every refusal. A refusal is
rolled back here and the route runs again, so Flask answers every refusal itself, exactly as before;
only the accepted case is answered here."""
from __future__ import annotations

import io
import logging
from typing import cast

from sqlalchemy.orm import Session
from werkzeug.http import http_date
from werkzeug.wrappers import Request

from server import problems
from server.auth.identify import recent_digest_caller
from server.db import ConnectionOnly, SessionNeeded
from server.models.accounts import actor_for_token
from server.models.intake import identify, receive, resolve
from server.models.public_links import PUBLIC_LINK
from server.openrosa.head import vouched_project
from server.openrosa.submission import RECEIVED, RESENT, read_post, user_agent
from server.problems import openrosa_envelope
from server.webhooks.delivery import nudge_if_recorded

log = logging.getLogger(__name__)

# A body up to this size is read into memory here (Collect's XML and a photo or two); a larger one is
# streamed to temporary files by Flask's route as before.
BUFFERED = 4 * 1024 * 1024

_ANSWERS = {True: openrosa_envelope(RECEIVED).encode("utf-8"), False: openrosa_envelope(RESENT).encode("utf-8")}


class SubmissionPost:
    """WSGI middleware between KeyPrefixMiddleware and Flask (server/__init__.py)."""

    def __init__(self, app, flask_app):
        self.app, self.flask_app = app, flask_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            project_id = self._answerable(environ)
            if project_id is not None:
                length = int(environ["CONTENT_LENGTH"])
                body = environ["wsgi.input"].read(length)
                created = self._store(environ, project_id, body) if len(body) == length else None
                if created is not None:
                    settings = self.flask_app.config["HAMLET"]
                    answer = _ANSWERS[created]
                    # Flask's headers for this answer, in its order (tests/test_openrosa_post.py compares them).
                    start_response("201 CREATED", [
                        ("Content-Type", "text/xml; charset=utf-8"),
                        ("Content-Length", str(len(answer))),
                        ("X-OpenRosa-Version", "1.0"),
                        ("X-OpenRosa-Accept-Content-Length", str(settings.max_submission_bytes)),
                        ("Content-Language", "en"),
                        ("Date", http_date()),
                    ])
                    return [answer]
                environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    def _answerable(self, environ) -> int | None:
        """The project of a POST this middleware may store, or None for Flask. The caller is vouched for
        before the body is read, as Flask refuses a bad credential unread."""
        if "HTTP_TRANSFER_ENCODING" in environ:
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or not 0 < int(length) <= min(BUFFERED, self.flask_app.config["HAMLET"].max_submission_bytes):
            return None
        return vouched_project(environ, self.flask_app.config["SECRET_KEY"], self.flask_app.extensions["hamlet.digest"])

    def _caller(self, environ, session):
        key = environ.get("hamlet.key")
        if key is not None:
            found = actor_for_token(session, key)
            return found[0] if found is not None else None
        # Again: the second may have passed while the body came.
        return recent_digest_caller(environ, self.flask_app.config["SECRET_KEY"], self.flask_app.extensions["hamlet.digest"])

    def _store(self, environ, project_id: int, body: bytes) -> bool | None:
        """True for a new submission, False for a resend that was taken; None: let Flask answer.
        Tried first in a lean transaction (server/db.py `ConnectionOnly`); whatever needs the ORM (a
        resend, an edit, an entity update, a cache being filled) is rolled back and run again with a
        Session, from the same body."""
        try:
            try:
                return self._store_in(environ, project_id, body, lean=True)
            except SessionNeeded:
                return self._store_in(environ, project_id, body, lean=False)
        except Exception:  # the database gone, say: Flask's route meets it again and answers it (and logs it)
            log.debug("submission POST left to Flask", exc_info=True)
            return None

    def _store_in(self, environ, project_id: int, body: bytes, lean: bool) -> bool | None:
        app = self.flask_app
        settings = app.config["HAMLET"]
        session = cast(Session, ConnectionOnly(app.extensions["hamlet.engine"]) if lean
                       else app.extensions["hamlet.sessionmaker"]())
        try:
            actor = self._caller(environ, session)
            if actor is None or actor.type == PUBLIC_LINK:
                return None
            xml, uploads = read_post(io.BytesIO(body), environ.get("CONTENT_TYPE", ""), settings.max_submission_bytes)
            root, parsed = identify(xml)
            if parsed.instance_id is None:
                # The route would give it a fresh instanceID; were the commit below to fail after PostgreSQL
                # kept the row, Flask's second try would then store a second copy. With the device's own
                # instanceID the second try finds the first and answers it as a resend.
                return None
            form, form_def = resolve(session, project_id, parsed.xml_form_id, parsed.version, actor)
            request = Request(environ)   # the query string and headers as Flask's route reads them
            received = receive(session, app.extensions["hamlet.blobs"], app.extensions["hamlet.cache"], form, form_def,
                               root, parsed, xml, uploads, submitter_id=actor.id,
                               device_id=request.args.get("deviceID"), user_agent=user_agent(request.headers),
                               limit=settings.max_submission_bytes, max_repeats=settings.max_repeat_instances)
            session.commit()
            if lean:  # a Session's own commit does this in its listener (server/webhooks/delivery.py)
                nudge_if_recorded(session.info, app.extensions["hamlet.jobs"])
            return received.created
        except SessionNeeded:
            session.rollback()
            raise
        except problems.Problem:
            session.rollback()
            return None
        finally:
            session.close()
