"""`hamlet serve` as deployed: real gunicorn, threaded workers, Collect's keep-alive, clean access logs."""
import http.client
import random
import sys
import time
from pathlib import Path

import pytest

from collect import COLLECT, DEVICE_ID
from helpers import XLSFORMS, XLSX, free_port, running, server_env
from server.logs import AccessLogger, redact
from server.synthetic import random_household, to_xml

BOUNDARY = "----HamletServingTest"


@pytest.fixture
def served(app, settings, admin, project, tmp_path):
    """The test database behind `hamlet serve`, with the household survey and an assigned app user."""
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true",
                      data=(XLSFORMS / "household_digital_survey.xlsx").read_bytes(), content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    admin.post(f"/v1/projects/{project}/forms/household_digital_survey/assignments/app-user/{au['id']}")
    port, log = free_port(), tmp_path / "gunicorn.log"
    with running([str(Path(sys.executable).parent / "hamlet"), "serve", "--port", str(port), "--workers", "1",
                  "--threads", "2"], server_env(settings, tmp_path / "instance"), port, log):
        yield port, au["token"], project, log


def multipart(xml: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; filename=\"s.xml\"\r\n"
            f"Content-Type: text/xml\r\n\r\n").encode() + xml + f"\r\n--{BOUNDARY}--\r\n".encode()


def test_collect_sends_head_and_posts_over_one_connection_and_the_log_keeps_no_key(served):
    port, token, project, log = served
    path = f"/v1/key/{token}/projects/{project}/submission?deviceID={DEVICE_ID.replace(':', '%3A')}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    created = 0
    for seed in range(3):
        conn.request("HEAD", path, headers=COLLECT)
        head = conn.getresponse()
        head.read()
        assert head.status == 204 and head.getheader("Connection", "").lower() != "close"
        local = conn.sock.getsockname()
        xml = to_xml(random_household(random.Random(seed), "DN-HV-HP-01", members=4))
        conn.request("POST", path, body=multipart(xml),
                     headers={**COLLECT, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        post = conn.getresponse()
        post.read()
        assert post.status == 201
        assert conn.sock.getsockname() == local, "the POST needed a new connection: keep-alive is off"
        created += 1
    conn.close()
    time.sleep(0.3)  # the access log is written after the response
    text = log.read_text()
    assert text.count(f"/projects/{project}/submission") >= 2 * created
    assert token not in text
    assert "/v1/key/***/projects" in text


def test_redact_masks_keys_and_session_tokens_only():
    assert redact("POST /v1/key/AbC$12/projects/1/submission?deviceID=x HTTP/1.1") == \
        "POST /v1/key/***/projects/1/submission?deviceID=x HTTP/1.1"
    assert redact("/v1/projects/1/forms?st=secret&x=1") == "/v1/projects/1/forms?st=***&x=1"
    assert redact("a=1&st=secret") == "a=1&st=***"
    assert redact("/v1/projects/1/forms?last=2") == "/v1/projects/1/forms?last=2"
    assert redact(None) is None


def test_access_logger_masks_credentials_in_every_atom():
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    logger = AccessLogger(Config())
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/v1/key/tok/projects/1/formList", "SERVER_PROTOCOL": "HTTP/1.1",
               "PATH_INFO": "/v1/projects/1/formList", "QUERY_STRING": "st=tok2", "HTTP_REFERER": "/v1/key/tok/x"}
    resp = SimpleNamespace(status="200 OK", sent=10, headers=[("Set-Cookie", "session=abc")])
    req = SimpleNamespace(headers=[("AUTHORIZATION", "Bearer tok3"), ("COOKIE", "session=abc")])
    atoms = logger.atoms(resp, req, environ, timedelta(milliseconds=5))
    flat = " ".join(str(v) for v in atoms.values())
    for secret in ("tok/", "tok2", "tok3", "session=abc"):
        assert secret not in flat


def test_every_hundredth_answer_closes_and_collect_carries_on_over_a_new_connection(served):
    """server/gunicorn_config.py ends a kept-alive connection after 100 requests, saying so on the last answer,
    whose body was read whole: a phone sending HEAD and POST 60 times loses no submission, and reconnects once."""
    from server.gunicorn_config import KEEPALIVE_REQUESTS

    port, token, project, log = served
    path = f"/v1/key/{token}/projects/{project}/submission?deviceID={DEVICE_ID.replace(':', '%3A')}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    closing, sockets = [], set()
    for seed in range(60):
        for method, body in (("HEAD", None), ("POST", multipart(to_xml(random_household(random.Random(seed),
                                                                                              "DN-HV-HP-01", members=2))))):
            headers = {**COLLECT, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"} if body else COLLECT
            conn.request(method, path, body=body, headers=headers)
            sockets.add(conn.sock.getsockname())
            resp = conn.getresponse()
            resp.read()
            assert resp.status == (201 if body else 204)
            if resp.getheader("Connection", "").lower() == "close":
                closing.append(2 * seed + (2 if body else 1))
    conn.close()
    assert closing == [KEEPALIVE_REQUESTS] and len(sockets) == 2
    assert "Traceback" not in log.read_text()
