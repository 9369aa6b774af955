"""Typed errors with ODK Central's numeric codes, and the one place they become HTTP responses.

REST routes answer `{"message", "code", "details"}` as Central does (pyodk reads `code`); OpenRosa
routes answer an OpenRosaResponse envelope, which ODK Collect shows to the enumerator."""
from __future__ import annotations

import errno
import math
import sqlite3
from typing import Any
from xml.sax.saxutils import escape

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException


class Problem(Exception):
    code: str = "500.1"
    message: str = "An internal error occurred."

    def __init__(self, message: str | None = None, details: dict | None = None, code: str | None = None):
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        self.details = details
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return int(self.code.split(".")[0])

    def to_json(self) -> dict[str, Any]:
        # Central sends codes as JSON numbers (409.3) and skips minor numbers ending in 0 for that reason.
        body: dict[str, Any] = {"message": self.message, "code": float(self.code)}
        if self.details is not None:
            body["details"] = self.details
        return body


def problem(code: str, default_message: str):
    return type(f"Problem_{code.replace('.', '_')}", (Problem,), {"code": code, "message": default_message})


# 400: the request cannot be used as it is.
Unparseable = problem("400.1", "Could not parse the request body.")
MissingParameter = problem("400.2", "A required parameter is missing.")
UnexpectedAttribute = problem("400.4", "A parameter was not expected.")
InvalidHeader = problem("400.6", "A request header has an invalid value.")
MissingMultipartField = problem("400.7", "Required multipart POST field xml_submission_file missing.")
UnexpectedValue = problem("400.8", "A value was not expected here.")
XlsFormInvalid = problem("400.15", "The given XLSForm file was not valid. Please see the error details for more information.")
FormWarnings = problem("400.16", "The form is valid, but with warnings. Check the warnings and, if they are acceptable, resubmit with ?ignoreWarnings=true.")
# Hamlet's own (Central has no such resources): numbered from .91 so they never collide with Central's.
AreaRegistryInvalid = problem("400.91", "The area registry has errors; nothing was changed.")
IndicatorsInvalid = problem("400.92", "The indicators workbook has errors; nothing was changed.")
ExpectedDeprecation = problem("400.19", "This PUT endpoint expects a deprecatedID metadata tag pointing at the current version instanceID.")
PasswordTooShort = problem("400.21", "The password must be at least 10 characters long.")
MultipartFailed = problem("400.39", "Multipart form content failed to parse.")
# 401/403: who you are, and what you may do.
AuthenticationFailed = problem("401.2", "Could not authenticate with the provided credentials.")
HttpsOnly = problem("401.3", "This authentication method is only available over HTTPS.")
InsufficientRights = problem("403.1", "The authentication you provided does not have rights to perform that action.")
# 404: not there.
NotFound = problem("404.1", "Could not find the resource you were looking for.")
DeprecatedIdNotFound = problem("404.5", "You tried to update a submission that cannot be found.")
FormVersionNotFound = problem("404.6", "The form version specified in this submission does not exist.")
# 406, 409, 413, 415.
NotAcceptable = problem("406.1", "Requested format not acceptable.")
XmlConflict = problem("409.1", "A submission already exists with this ID, but with different XML. Resubmissions to attach additional multimedia must resubmit an identical xml_submission_file.")
NotAcceptingSubmissions = problem("409.2", "This form is not currently accepting submissions. Please talk to your program staff if this is unexpected.")
UniquenessViolation = problem("409.3", "A resource already exists with these values.")
VersionUniquenessViolation = problem("409.6", "A published version of this form already has this version string.")
NoPublishedVersion = problem("409.7", "Could not delete the draft, because the form has not been published.")
DeprecatingOldSubmission = problem("409.9", "The copy you were editing is now out of date. Get the new version and make your edits again.")
DeletedSubmission = problem("409.18", "This submission has been deleted. You may not resubmit it.")
PayloadTooLarge = problem("413.1", "The upload is larger than this server accepts.")
InternalError = problem("500.1", "An internal error occurred.")
# Hamlet's own (Central has no 507): the disk or quota is full; nothing of the request was kept.
StorageFull = problem("507.1", "The server has run out of storage space, so nothing of this request was stored. "
                               "Keep your copy and send it again later; tell the server's administrator.")
# Hamlet's own: the S3-compatible store for files does not answer; nothing of the request was kept.
StorageUnavailable = problem("503.1", "The server cannot reach its file storage just now, so nothing was stored or "
                                      "sent. Keep your copy and try again in a few minutes.")
# Hamlet's own: HAMLET_SMTP_URL is not set, so no reset link can be sent (the same answer for every address).
EmailOff = problem("501.91", "This server does not send email, so it cannot send a password reset link. "
                             "Ask a site administrator to set a new password for you.")
NotImplementedYet = problem("501.1", "This feature is not supported by this server.")
# OData (odk-protocol §7.3): Central's codes for what its OData subset refuses.
ODataUnparseable = problem("400.18", "The OData filter expression you provided could not be parsed.")
ODataPropertyNotFound = problem("400.23", "Could not find a property with that name.")
ODataSelectUnsupported = problem("400.24", "The given OData select property uses features not supported by this server.")
ODataSkiptokenNotFound = problem("400.34", "Record associated with the provided $skiptoken not found.")
ODataSkiptokenInvalid = problem("400.35", "Invalid $skiptoken")
ODataExpressionUnsupported = problem("501.4", "The given OData filter expression uses features not supported by this server.")
ODataFieldUnsupported = problem("501.5", "The given OData filter expression references fields not supported by this server.")
ODataExpandUnsupported = problem("501.6", 'The given OData expand expression is not supported by this server. Currently, only "$expand=*" is supported.')
ODataSelectExpandUnsupported = problem("501.11", "This server doesn't support $select query parameter with $expand.")
# Entities (docs/entities.md): Central's codes for Entity Lists and their entities.
EntityFormInvalid = problem("400.25", "The entity definition within the form is invalid.")
DatasetLinkNotAllowed = problem("400.26", 'Dataset can only be linked to attachments with "Data File" type.')
InvalidEntity = problem("400.28", "The entity is invalid.")
EntityActionNotPermitted = problem("403.2", "The submission attempts an entity action the form does not permit.")
DatasetNotFound = problem("404.7", "The Entity List specified in the submission does not exist.")
EntityNotFound = problem("404.8", "The entity specified in the submission does not exist.")
EntityVersionNotFound = problem("404.9", "The base version specified does not exist for this entity.")
EntityDeleted = problem("404.11", "The entity has been deleted.")
DeliveryUnderWay = problem("409.101", "An attempt at this delivery is under way; resend it once its outcome is in the log.")
EntityVersionConflict = problem("409.15", "The entity has changed since the version you provided.")
DatasetNameConflict = problem("409.16", "An Entity List with the same name but different capitalization exists.")


class SignInThrottled(Problem):
    """429.91 (Hamlet's): a password check refused before it ran (server/auth/throttle.py), with how
    long to wait in Retry-After and in the message."""

    code = "429.91"
    message = "Too many failed sign-in attempts."

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(f"Too many failed sign-in attempts. Wait {minutes} minute{'s' if minutes > 1 else ''}, "
                         "then try again; if the password is forgotten, ask a site administrator to set a new one.",
                         details={"retryAfter": retry_after, "minutes": minutes})
        self.retry_after = retry_after
        self.minutes = minutes
        self.headers = {"Retry-After": str(retry_after)}


def openrosa_envelope(message: str, nature: str = "") -> str:
    return (
        '<OpenRosaResponse xmlns="http://openrosa.org/http/response" items="0">'
        f'<message nature="{escape(nature)}">{escape(message)}</message>'
        "</OpenRosaResponse>"
    )


def answer_as_openrosa() -> None:
    """Marks this request as OpenRosa, for routes outside the openrosa blueprint too: its errors are
    rendered as an OpenRosaResponse envelope, which ODK Collect shows, instead of JSON."""
    request.environ["hamlet.openrosa"] = True


def render(prob: Problem) -> Response:
    if request.environ.get("hamlet.openrosa") or (request.endpoint or "").startswith("openrosa."):
        from server.openrosa.messages import bilingual

        resp = Response(openrosa_envelope(bilingual(prob.code, prob.message, prob.details), "error"),
                        status=prob.status, content_type="text/xml; charset=utf-8")
        resp.headers.extend(getattr(prob, "headers", {}))
        from server.openrosa.headers import add_openrosa_headers

        add_openrosa_headers(resp)
        if prob.status == 401:
            # Without a challenge (quoted realm) Collect reports an error instead of asking (§4.1).
            from flask import current_app

            from server.auth.digest import challenges

            for value in challenges(current_app.config["SECRET_KEY"], request.is_secure, getattr(prob, "stale", False)):
                resp.headers.add("WWW-Authenticate", value)
        return resp
    return Response(json.dumps(prob.to_json(), ensure_ascii=False), status=prob.status,
                    content_type="application/json; charset=utf-8", headers=getattr(prob, "headers", None))


# Refusals sent while the request body may still be arriving unread: too large, or no room to keep it.
_BODY_LEFT_UNREAD = ("413", "507")


class CloseAfterRefusedBody:
    """WSGI middleware: a 413 or 507 answered to a request that carries a body says `Connection: close`.

    The body was refused before it was read whole, so the server cannot find the next request on
    that connection: gunicorn drains at most 64 KiB and then drops it. Said in the answer, ODK Collect
    and browsers open a new connection; unsaid, Collect's next request on it fails as a network error.
    An application cannot send Connection itself (PEP 3333: hop-by-hop; gunicorn drops it), so the
    server is told: gunicorn's Response, the owner of `start_response`, through its `force_close()`.
    werkzeug's server already closes, and says so, when the app left the body unread."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        has_body = environ.get("CONTENT_LENGTH", "") not in ("", "0") or "chunked" in environ.get(
            "HTTP_TRANSFER_ENCODING", "").lower()
        force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
        if not has_body or not callable(force_close):
            return self.app(environ, start_response)

        def start(status: str, headers: list, exc_info=None):
            if status[:3] in _BODY_LEFT_UNREAD:
                force_close()
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


_HTTP_TO_PROBLEM = {
    404: NotFound,
    405: lambda: Problem("This method is not allowed on this resource.", code="405.1"),
    413: PayloadTooLarge,
}


_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def storage_full(exc: BaseException | None) -> bool:
    """Whether `exc`, or an error it was raised from, says the disk or quota is full: ENOSPC or EDQUOT
    from a blob write, SQLite's "database or disk is full", PostgreSQL's disk_full (SQLSTATE 53100)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if getattr(exc, "sqlstate", None) == "53100":
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
        seen += 1
    return False


def register(app: Flask) -> None:
    app.register_error_handler(Problem, render)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        factory = _HTTP_TO_PROBLEM.get(exc.code or 500)
        prob = factory() if factory is not None else Problem(exc.description or exc.name, code=f"{exc.code}.1")
        return render(prob)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if storage_full(exc):
            app.logger.error("storage full on %s %s: %s", request.method, request.path, exc)
            return render(StorageFull())
        app.logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return render(InternalError())
