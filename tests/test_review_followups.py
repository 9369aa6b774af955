"""Follow-ups of the review of issue 13: a refused body ends its connection openly, `hamlet db upgrade`
does not tell the operator to run itself."""
from __future__ import annotations

import errno
import http.client
import random
from urllib.parse import urlsplit

import pytest

from collect import COLLECT, DEVICE_ID
from server.api.common import JSON_BODY_LIMIT
from server.models.blobs import LocalBlobStore
from server.synthetic import random_household, to_xml

BOUNDARY = "----HamletRefusedBody"


def refused(port: int, method: str, path: str, declared: int, sent: bytes, headers: dict) -> http.client.HTTPResponse:
    """Send the headers and the first bytes of a body declared `declared` bytes long, as a phone on a slow
    line is still sending when the answer comes; return the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest(method, path)
    for name, value in {**headers, "Content-Length": str(declared)}.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(sent)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def test_a_413_from_gunicorn_says_the_connection_closes(gunicorn):
    """gunicorn drains at most 64 KiB of an unread body and then drops the connection; it must not
    first promise keep-alive, or Collect's next request on that connection fails with a network error."""
    resp = refused(gunicorn, "POST", "/v1/sessions", 2 * JSON_BODY_LIMIT, b"{" + b" " * 65536,
                   {"Content-Type": "application/json"})
    assert resp.status == 413
    assert resp.getheader("Connection", "").lower() == "close"
    # An ordinary answer still keeps the connection, and the server still answers on a new one.
    conn = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=10)
    for _ in range(2):
        conn.request("GET", "/v1/projects")
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 401 and answer.getheader("Connection", "").lower() == "keep-alive"
    conn.close()


def test_a_413_from_the_threaded_server_says_so_too(live_server):
    port = urlsplit(live_server).port
    resp = refused(port, "POST", "/v1/sessions", 2 * JSON_BODY_LIMIT, b"{", {"Content-Type": "application/json"})
    assert resp.status == 413 and resp.getheader("Connection", "").lower() == "close"


def test_a_413_page_closes_the_connection(live_server):
    port = urlsplit(live_server).port
    resp = refused(port, "POST", "/sign-in", 10 * 1024 * 1024, b"email=a",
                   {"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 413 and resp.getheader("Connection", "").lower() == "close"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_507_to_collect_closes_the_connection(live_server, key_base, monkeypatch, code):
    def refuse(self, stream, limit=None):
        raise OSError(code, "No space left on device")
    monkeypatch.setattr(LocalBlobStore, "put_stream", refuse)  # the store the tests run on
    h = random_household(random.Random(3), "DN-HV-HP-01", members=2, photo=True)
    photo = b"\xff\xd8\xff" + b"x" * 1000
    body = b"".join([
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; filename=\"s.xml\"\r\n"
        f"Content-Type: text/xml\r\n\r\n".encode(), to_xml(h),
        f"\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{h.photo}\"; filename=\"{h.photo}\"\r\n"
        f"Content-Type: image/jpeg\r\n\r\n".encode(), photo, f"\r\n--{BOUNDARY}--\r\n".encode()])
    resp = refused(urlsplit(live_server).port, "POST", f"{key_base}/submission?deviceID={DEVICE_ID.replace(':', '%3A')}",
                   len(body), body, {**COLLECT, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert resp.status == 507
    assert resp.getheader("Connection", "").lower() == "close"
