"""Stored files sent back over the API — form media, submission attachments — as downloads that a
browser never runs, whatever content type their sender claimed.

Each is `Content-Disposition: attachment`, `X-Content-Type-Options: nosniff` and sandboxed by its
own Content-Security-Policy; a type a browser would render as a page or run as script (HTML, XHTML,
SVG, JavaScript) is sent as application/octet-stream. Other types are kept as stored, as Central
does, so that Collect and pyodk see what was uploaded."""
from __future__ import annotations

from pathlib import Path

from flask import Response, send_file

ACTIVE_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript",
                          "application/javascript", "application/ecmascript", "text/ecmascript"})
OCTET_STREAM = "application/octet-stream"


def download_type(content_type: str | None) -> str:
    """The type a stored file is sent with: its own, unless a browser would run it."""
    if not content_type:
        return OCTET_STREAM
    base = content_type.split(";")[0].strip().lower()
    return OCTET_STREAM if not base or base in ACTIVE_TYPES else content_type


def stored_file(path: Path, content_type: str | None, name: str, etag: str) -> Response:
    response = send_file(path, mimetype=download_type(content_type), as_attachment=True, download_name=name,
                         etag=etag, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
