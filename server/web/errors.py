"""Errors as pages: the same Problems the REST API raises, shown to a person in their language."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, render_template, request, session
from werkzeug.exceptions import HTTPException

from server import problems
from server.auth.scope import AreaLimited, AreaScopeUnavailable
from server.web.i18n import DEFAULT_LOCALE, _, ngettext, normalise
from server.web.sessions import is_api_path


def _message(status: int) -> str:
    return {
        400: _("The request could not be used."),
        401: _("Sign in to see this page."),
        403: _("You do not have permission to do this in this project. Ask a project manager."),
        404: _("This page does not exist, or it belongs to something you cannot see."),
        405: _("This page cannot be used that way."),
        413: _("The file is larger than this server accepts."),
        429: _("Too many attempts. Wait a few minutes, then try again."),
        500: _("Something went wrong on the server. Try again; if it keeps happening, tell your administrator."),
        507: _("The server has run out of storage space, so nothing was saved. Try again later and tell your "
               "administrator."),
    }.get(status, _("The request could not be used."))


def page(status: int, message: str | None = None, back: str | None = None):
    """A full HTML page for an error, with the status code; `back` links to the page the visitor was on."""
    if "locale" not in g:  # a URL no route matched: the blueprint's before_request did not run
        g.locale = normalise(session.get("lang")) or DEFAULT_LOCALE
    return render_template("error.html", status=status, message=message or _message(status), back=back), status


def throttled_message(exc: problems.SignInThrottled) -> str:
    """What a person reads when a password check was refused (server/auth/throttle.py)."""
    return ngettext("Too many wrong passwords. Wait %(num)s minute, then try again. If you have forgotten "
                    "your password, ask a site administrator to set a new one.",
                    "Too many wrong passwords. Wait %(num)s minutes, then try again. If you have forgotten "
                    "your password, ask a site administrator to set a new one.", exc.minutes)


def _area_unavailable(exc: AreaScopeUnavailable) -> str:
    """Why a caller limited to some areas sees none of a form's submissions or of an Entity List."""
    details = exc.details or {}
    areas = ", ".join(details.get("areas") or [])
    if details.get("datasetName"):
        return _("You may see only the households of %(areas)s, and the list %(name)s does not record which area "
                 "each household is in, so none of it can be shown to you. Ask a project manager of the whole "
                 "project.", areas=areas, name=details["datasetName"])
    return _("You may see only the households of %(areas)s, and this form has no question the indicators workbook "
             "names as the household's area, so none of its submissions can be shown to you. Ask a project manager "
             "to upload the form's indicators workbook.", areas=areas)


def register_pages(bp: Blueprint) -> None:
    @bp.errorhandler(problems.Problem)
    def _problem(exc: problems.Problem):
        # The API's messages are English; a page shows its own translated sentence for the status.
        if isinstance(exc, problems.SignInThrottled):
            return *page(exc.status, throttled_message(exc)), exc.headers
        if isinstance(exc, AreaLimited):
            return page(403, _("You hold your role in this project only for %(areas)s. You may not change what the "
                               "whole project shares (its forms, areas, indicators or app users), nor the roles of "
                               "users who see more than you. Ask a project manager of the whole project.",
                               areas=", ".join(exc.areas)))
        if isinstance(exc, AreaScopeUnavailable):
            return page(403, _area_unavailable(exc))
        return page(exc.status)

    @bp.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return page(exc.code or 500)

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if problems.storage_full(exc):
            current_app.logger.error("storage full on %s %s: %s", request.method, request.path, exc)
            return page(507)
        current_app.logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return page(500)


def register_not_found(app: Flask) -> None:
    @app.errorhandler(404)
    def _not_found(exc):
        """Unknown URLs outside the API get a page; the API's answer stays Central's JSON."""
        if is_api_path(request.path):
            return problems.render(problems.NotFound())
        return page(404)
