"""A JSON request body is small: one over the cap is refused (413) before it is read."""
from __future__ import annotations

import io
import json

from werkzeug.test import EnvironBuilder, run_wsgi_app

from server.api.common import JSON_BODY_LIMIT


class WatchedBody(io.RawIOBase):
    """A request body that counts what the server reads of it; `size` bytes of JSON-ish filler."""

    def __init__(self, size: int):
        self.size = size
        self.read_so_far = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.read_so_far > 4 * JSON_BODY_LIMIT:
            raise OSError("the server kept reading a body it should have refused")
        n = min(len(buffer), self.size - self.read_so_far)
        buffer[:n] = b" " * n
        self.read_so_far += n
        return n


def post_stream(app, path: str, body: WatchedBody, **environ) -> tuple[int, bytes]:
    """POST a body that is never in memory, as a real server hands it over (a socket stream)."""
    env = EnvironBuilder(path=path, method="POST", content_type="application/json").get_environ()
    env.update({"wsgi.input": body, **environ})
    chunks, status, _ = run_wsgi_app(app.wsgi_app, env)
    return int(status.split()[0]), b"".join(chunks)


def test_a_body_over_the_json_cap_is_413_naming_the_limit(client):
    body = json.dumps({"email": "a@b.vn", "password": "x" * (JSON_BODY_LIMIT + 10)})
    resp = client.post("/v1/sessions", data=body, content_type="application/json")
    assert resp.status_code == 413
    assert resp.get_json()["code"] == 413.1
    assert f"{JSON_BODY_LIMIT:,}" in resp.get_json()["message"]


def test_a_declared_huge_length_is_refused_without_reading(app):
    body = WatchedBody(200 * 10**9)
    status, answer = post_stream(app, "/v1/sessions", body, CONTENT_LENGTH=str(200 * 10**9))
    assert status == 413 and json.loads(answer)["code"] == 413.1
    assert body.read_so_far == 0


def test_a_chunked_body_stops_being_read_at_the_cap(app):
    body = WatchedBody(50 * JSON_BODY_LIMIT)
    status, _ = post_stream(app, "/v1/sessions", body, HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input_terminated": True})
    assert status == 413
    assert body.read_so_far <= JSON_BODY_LIMIT + 1


def test_a_body_under_the_cap_is_read_as_before(client):
    resp = client.post("/v1/sessions", data=json.dumps({"email": "nobody@hamlet.test", "password": "x" * 10_000}),
                       content_type="application/json")
    assert resp.status_code == 401
    resp = client.post("/v1/sessions", data=b'{"email": ', content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.1
