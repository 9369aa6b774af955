"""How large a request each page accepts, refused before its body is read.

Werkzeug reads a whole form body (a multipart upload into temporary files) the first time the form
is touched — for the pages, by the CSRF check before any view runs — so a size check in the view
came after the whole upload had arrived. Instead each request gets its route's limit as
`request.max_content_length` before anything reads the body: a declared Content-Length over it is a
413 page at once, and a chunked body is refused when it reaches it (werkzeug's LimitedStream). A route
that takes a file names its limit with @takes_file; every other page takes typed text only.

Only the pages: /v1 and the OpenRosa routes never pass through here and keep their own limits
(HAMLET_MAX_FORM_BYTES, HAMLET_MAX_SUBMISSION_BYTES, read by read_body_limited and read_parts)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, request

from server.config import Settings
from server.context import settings
from server.web import errors
from server.web.i18n import _, size_text

# Typed text: a 10,000-character comment in Vietnamese is about 90 KB once URL-encoded.
TEXT_BYTES = 256 * 1024
# Besides the file: its part's headers and name, the boundaries, the CSRF token and the other fields.
MULTIPART_ALLOWANCE = 64 * 1024


@dataclass(frozen=True)
class FileLimit:
    largest: Callable[[Settings], int]
    message: Callable[[int], str]   # the sentence for a file over `largest`, given `largest`


def takes_file(largest: Callable[[Settings], int], message: Callable[[int], str]):
    """Marks a page route that receives a file of at most `largest(settings)` bytes."""
    def mark(view):
        view.file_limit = FileLimit(largest, message)
        return view
    return mark


def _file_limit() -> FileLimit | None:
    return getattr(current_app.view_functions.get(request.endpoint or ""), "file_limit", None)


def body_limit() -> int:
    """The most this request's body may hold."""
    found = _file_limit()
    return found.largest(settings()) + MULTIPART_ALLOWANCE if found is not None else TEXT_BYTES


def apply():
    """before_request: this route's limit on the body, and a 413 page for a declared length over it."""
    request.max_content_length = body_limit()
    if request.content_length is not None:
        return too_large() if request.content_length > request.max_content_length else None
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        # Chunked: nothing to check first. Werkzeug raises 413 when a multipart body runs past the
        # limit, but reads a URL-encoded one only up to it and parses what it got; a body that filled
        # the limit is refused here rather than acted on cut short.
        _ = request.form   # parsed now, within the limit
        if getattr(request.stream, "is_exhausted", False):
            return too_large()
    return None


def too_large():
    """The 413 page: what this page accepts, that nothing changed, and the way back."""
    found = _file_limit()
    if found is not None:
        message = found.message(found.largest(settings()))
    else:
        message = _("This page takes typed text of at most %(size)s; what was sent is larger.",
                    size=size_text(TEXT_BYTES))
    return errors.page(413, message, back=_came_from())


def _came_from() -> str | None:
    """The page the form was on, when the browser says and it is on this site."""
    parts = urlsplit(request.referrer or "")
    if parts.netloc != request.host or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
