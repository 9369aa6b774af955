"""Stored files sent back over the API — form media, submission attachments — as downloads that a
browser never runs, whatever content type their sender claimed.

Each is `Content-Disposition: attachment`, `X-Content-Type-Options: nosniff` and sandboxed by its
own Content-Security-Policy; a type a browser would render as a page or run as script (HTML, XHTML,
SVG, JavaScript) is sent as application/octet-stream. Other types are kept as stored, as Central
does, so that Collect and pyodk see what was uploaded."""
from __future__ import annotations

from flask import Response, send_file

from server.models.blobs import BlobStore

ACTIVE_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript",
                          "application/javascript", "application/ecmascript", "text/ecmascript"})
OCTET_STREAM = "application/octet-stream"


def download_type(content_type: str | None) -> str:
    """The type a stored file is sent with: its own, unless a browser would run it."""
    if not content_type:
        return OCTET_STREAM
    base = content_type.split(";")[0].strip().lower()
    return OCTET_STREAM if not base or base in ACTIVE_TYPES else content_type


def send_blob(store: BlobStore, sha256: str, size: int, mimetype: str, name: str, etag: str,
              as_attachment: bool = True) -> Response:
    """A blob as an HTTP response: sendfile from a local store; from a bucket, its body streamed in
    chunks as they are sent (a 100 MB photo never sits whole in a worker's memory), with the same headers either way."""
    path = store.local_path(sha256)
    if path is not None:
        return send_file(path, mimetype=mimetype, as_attachment=as_attachment, download_name=name, etag=etag,
                         conditional=True)
    response = send_file(store.open(sha256), mimetype=mimetype, as_attachment=as_attachment, download_name=name,
                         etag=etag, conditional=True, max_age=None)
    if response.status_code == 200:
        response.content_length = size
    return response


def stored_file(store: BlobStore, sha256: str, size: int, content_type: str | None, name: str, etag: str) -> Response:
    response = send_blob(store, sha256, size, download_type(content_type), name, etag)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
