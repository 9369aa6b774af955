"""Headers every OpenRosa response carries (odk-protocol §1.2)."""
from __future__ import annotations

from flask import Response, current_app
from werkzeug.http import http_date


def add_openrosa_headers(resp: Response) -> Response:
    resp.headers["X-OpenRosa-Version"] = "1.0"
    resp.headers["X-OpenRosa-Accept-Content-Length"] = str(current_app.config["HAMLET"].max_submission_bytes)
    resp.headers["Content-Language"] = "en"
    resp.headers.setdefault("Date", http_date())
    return resp
