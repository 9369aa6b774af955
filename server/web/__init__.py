"""The web pages for supervisors and form designers: server-rendered, Vietnamese first.

One parent blueprint (`web`) carries what every page needs — who is signed in, the language, the
CSRF check on every POST, HTML error pages — and holds one child blueprint per area of the site
(account, projects and forms, app users). Later areas (submissions, the progress dashboard) are
further children; base.html's navigation and the project tabs already leave room for them.

Like api/ and openrosa/, web/ knows about requests and imports the domain (models/, xforms/,
access.py); it never imports api/ or openrosa/."""
from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, request, session, url_for
from jinja2 import FileSystemBytecodeCache

from server.web import errors, i18n, limits
from server.web import sessions as web_session
from server.web.webforms import TOKEN_ENDPOINTS

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/web-static")

# Endpoints a visitor may reach before signing in.
PUBLIC = {"web.static", "web.account.sign_in", "web.account.language", "web.account.forgot", "web.account.claim"}


@bp.before_request
def _who_and_which_language():
    web_session.load_user()
    user = g.get("user")
    g.locale = (i18n.normalise(user.language) if user is not None else None) \
        or i18n.normalise(session.get("lang")) or i18n.DEFAULT_LOCALE


@bp.before_request
def _body_size():
    """Each page's limit on the request body, before anything reads it (the CSRF check below does)."""
    return limits.apply()


@bp.errorhandler(413)
def _too_large(_exc):
    """A chunked body cut at the limit while it was read."""
    return limits.too_large()


@bp.before_request
def _csrf():
    """Every state-changing request must carry this session's token; refused before any view runs. A
    web form's link posts with its token in the URL and no cookie (server/web/webforms.py)."""
    if request.endpoint in TOKEN_ENDPOINTS:
        return None
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not web_session.csrf_ok():
        return errors.page(400, i18n._("This form has expired or did not come from this site, so nothing "
                                       "was changed. Go back, reload the page and try again."))


@bp.before_request
def _signed_in():
    if g.actor is None and request.endpoint not in PUBLIC and request.endpoint not in TOKEN_ENDPOINTS:
        return redirect(url_for("web.account.sign_in", next=request.full_path.rstrip("?")))


@bp.after_request
def _private(response):
    # Pages show tokens (QR codes) and personal data: never keep them in a shared cache.
    if request.endpoint != "web.static":
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def _policy(response):
    """Every HTML page (error pages for unknown URLs too) gets the pages' policy; an attachment sets
    its own, stricter one (a sandbox)."""
    # The raw header's start first: parsing it (`mimetype`) for every OpenRosa and API answer cost more.
    if response.headers.get("Content-Type", "")[:9].lower() == "text/html" and response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", page_policy(current_app.config["HAMLET"].map_tiles))
    return response


@functools.lru_cache(maxsize=8)
def page_policy(map_tiles: str | None) -> str:
    """The pages' Content-Security-Policy. Every script and style is a file under static/ (no inline
    <script>, <style> or style=""), so nothing inline is allowed and an injected one would not run;
    images are the site's own and data: URIs, plus the map tile server's origin when one is set."""
    images = "'self' data:"
    if map_tiles:
        parts = urlsplit(map_tiles.replace("{s}", "a"))
        if parts.scheme in ("http", "https") and parts.hostname:
            host = parts.netloc.replace("a.", "*.", 1) if "{s}." in map_tiles else parts.netloc
            images += f" {parts.scheme}://{host}"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src " + images + "; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@bp.get("/")
def home():
    from server.web.account import landing_page
    return redirect(landing_page(g.actor))


def _assemble() -> None:
    """Children and error pages are attached once, at import: create_app may run many times (tests)."""
    from server.web import account, app_users, dashboard, forms, projects

    for child in (account.bp, projects.bp, forms.bp, app_users.bp, dashboard.bp):
        bp.register_blueprint(child)
    from server.web import audits, downloads, register, roles, submissions, users, visiting, webforms, webhooks

    for child in (submissions.bp, downloads.bp, users.bp, roles.bp, register.bp, visiting.bp, webforms.bp,
                  webhooks.bp, audits.bp):
        bp.register_blueprint(child)
    errors.register_pages(bp)


_assemble()


def register_web(app: Flask) -> None:
    """Wire the pages into the app: the blueprint, the cookie session, Jinja's i18n, the 404 page."""
    app.register_blueprint(bp)
    web_session.install(app)
    i18n.init_jinja(app)
    # Compiled templates kept on disk (the system temp folder, per user; keyed by each template's source),
    # so a new worker renders its first page without compiling it again: 0.3 s for the dashboard's.
    app.jinja_env.bytecode_cache = FileSystemBytecodeCache()
    # Globals, not a context processor: imported macros (macros.html) see globals only.
    app.jinja_env.globals.update(csrf_token=web_session.csrf_token, CSRF_FIELD=web_session.CSRF_FIELD)
    errors.register_not_found(app)
    app.after_request(_policy)
