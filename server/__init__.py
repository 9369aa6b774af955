"""Hamlet: an ODK-compatible survey server. create_app() wires the pieces together and nothing else."""
from __future__ import annotations

import logging

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from server import problems
from server.auth.throttle import DigestMemo
from server.config import Settings
from server.db import make_engine, make_sessionmaker
from server.finite_json import FiniteJSONProvider
from server.jobs import Jobs
from server.mail import retry as mail_retry
from server.models.accounts import warm_password_checks
from server.models.blobs import make_store
from server.models.form_data import VersionCache
from server.params import BoundedIntConverter
from server.webhooks import delivery as webhook_delivery

log = logging.getLogger("hamlet")


class NoCookieSessions(SessionInterface):
    """Flask opens a cookie session on every request by default; the REST and OpenRosa APIs never use one."""

    def open_session(self, app, request):
        return None

    def save_session(self, app, session, response):
        return None


def create_app(settings: Settings | None = None, *, create_admin: bool = True) -> Flask:
    """The app. `create_admin`: make the HAMLET_ADMIN_EMAIL administrator now if it is missing (the
    server does; `hamlet db upgrade` does it itself once the tables exist)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.json = FiniteJSONProvider(app)  # NaN and Infinity become null, never invalid JSON
    app.url_map.converters["int"] = BoundedIntConverter  # before any route: an id past the database's is a 404
    app.config["HAMLET"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    if isinstance(app.json, DefaultJSONProvider):   # Flask's own: keep key order and non-ASCII text as is
        app.json.sort_keys = False
        app.json.ensure_ascii = False

    engine = make_engine(settings.database_url)
    app.extensions["hamlet.engine"] = engine
    app.extensions["hamlet.sessionmaker"] = make_sessionmaker(engine)
    app.extensions["hamlet.blobs"] = make_store(settings)
    app.extensions["hamlet.cache"] = VersionCache()
    jobs = Jobs(settings.broker_url, settings.jobs_queue)
    app.extensions["hamlet.jobs"] = jobs
    webhook_delivery.register(jobs, app.extensions["hamlet.sessionmaker"], settings.webhook_allow_private,
                              settings.webhook_backoff_ms, settings.webhook_per_hook, settings.webhook_poll_seconds,
                              cache=app.extensions["hamlet.cache"])
    mail_retry.register(jobs, lambda: app.config["HAMLET"], *settings.mail_backoff_ms)
    app.extensions["hamlet.digest"] = DigestMemo()  # per app: its users, its database (server/auth/throttle.py)
    # The stand-in hash an unknown email is checked against, made now rather than by the first such sign-in.
    warm_password_checks()

    problems.register(app)
    app.session_interface = NoCookieSessions()  # the API authenticates by token; no cookie session to open

    from server.api import register_api
    from server.auth.identify import KeyPrefixMiddleware, identify
    from server.context import close_db, db
    from server.openrosa import bp as openrosa_bp
    from server.openrosa.head import SubmissionHead
    from server.openrosa.post import SubmissionPost
    from server.web import register_web

    app.register_blueprint(openrosa_bp)
    register_api(app)
    register_web(app)  # the pages, with their own cookie session; /v1 keeps NoCookieSessions

    @app.before_request
    def _identify():
        identify(request, db())

    app.teardown_appcontext(close_db)

    # ProxyFix outermost: X-Forwarded-* from the trusted proxies decide the scheme, host and client
    # address; with none trusted, those headers are ignored.
    app.wsgi_app = SubmissionHead(app.wsgi_app, app.config, app.extensions)  # type: ignore[method-assign]  # Collect's HEAD
    app.wsgi_app = SubmissionPost(app.wsgi_app, app)  # type: ignore[method-assign]  # and its accepted POST
    app.wsgi_app = KeyPrefixMiddleware(app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented way
    app.wsgi_app = problems.CloseAfterRefusedBody(app.wsgi_app)  # type: ignore[method-assign]
    hops = settings.trusted_proxies
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)

    from server.auth.password_links import startup_line
    from server.mail.smtp import email_off_reason

    (log.warning if email_off_reason(settings) else log.info)(startup_line(settings))

    if create_admin and settings.admin_email and settings.admin_password:
        from server.bootstrap import ensure_site_admin

        ensure_site_admin(app, settings.admin_email, settings.admin_password)
    return app
