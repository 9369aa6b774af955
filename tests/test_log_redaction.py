"""The access log never carries the token of a session signed out by name."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from server.logs import AccessLogger, redact

TOKEN = "Jq3v~b8Zk1xW0yTq5mN2pR7sU4vX6zA9cE1gH3jK5lM7nP9qS1tV3wY5zB7dF9hJ"


def test_a_drafts_test_token_is_masked_like_an_app_user_key():
    line = f"POST /v1/test/{TOKEN}/projects/1/forms/thu/draft/submission?deviceID=x HTTP/1.1"
    assert redact(line) == "POST /v1/test/***/projects/1/forms/thu/draft/submission?deviceID=x HTTP/1.1"
    assert redact(f"GET /v1//test/{TOKEN}/projects/1/forms/thu/draft/formList HTTP/1.1") == \
        "GET /v1//test/***/projects/1/forms/thu/draft/formList HTTP/1.1"


def test_signing_a_session_out_by_name_does_not_log_its_token():
    assert redact(f"DELETE /v1/sessions/{TOKEN} HTTP/1.1") == "DELETE /v1/sessions/*** HTTP/1.1"
    assert redact(f"/v1/sessions/{TOKEN}?x=1") == "/v1/sessions/***?x=1"


@pytest.mark.parametrize("line, masked", [
    (f"DELETE /v1//sessions/{TOKEN} HTTP/1.1", "DELETE /v1//sessions/*** HTTP/1.1"),
    (f"DELETE /v1/sessions//{TOKEN} HTTP/1.1", "DELETE /v1/sessions//*** HTTP/1.1"),
    (f"DELETE //v1///sessions/{TOKEN}?x=1 HTTP/1.1", "DELETE //v1///sessions/***?x=1 HTTP/1.1"),
    (f"POST /v1//key/{TOKEN}/projects/1/submission HTTP/1.1", "POST /v1//key/***/projects/1/submission HTTP/1.1"),
    (f"GET /v1/key//{TOKEN}/projects/1/formList HTTP/1.1", "GET /v1/key//***/projects/1/formList HTTP/1.1"),
])
def test_repeated_slashes_do_not_unmask_a_credential(line, masked):
    """A client (or a proxy) may double a slash; the path still reaches the route, so the log masks it."""
    assert redact(line) == masked


@pytest.mark.parametrize("line", [
    f"POST /v1/k%65y/{TOKEN}/projects/1/submission HTTP/1.1",
    f"DELETE /v1/session%73/{TOKEN} HTTP/1.1",
    f"GET /v1/key%2F{TOKEN}/projects/1/formList%0D%0AX: 1 HTTP/1.1",
    f"GET /v1/projects/1/forms?%73t={TOKEN} HTTP/1.1",
])
def test_percent_escapes_do_not_unmask_a_credential(line):
    """The route sees the path decoded (`/v1/k%65y/…` is `/v1/key/…`), so the log masks what it decodes to."""
    logged = redact(line)
    assert TOKEN not in logged and "***" in logged
    assert "\r" not in logged and "\n" not in logged


@pytest.mark.parametrize(("line", "masked"), [
    (f"GET /account/claim?token={TOKEN} HTTP/1.1", "GET /account/claim?token=*** HTTP/1.1"),
    (f"POST /account/claim?lang=vi&token={TOKEN}#x HTTP/1.1", "POST /account/claim?lang=vi&token=***#x HTTP/1.1"),
    (f"GET /account/claim?%74oken={TOKEN} HTTP/1.1", "GET /account/claim?token=*** HTTP/1.1"),
    ("GET /v1/projects?mytoken=visible HTTP/1.1", "GET /v1/projects?mytoken=visible HTTP/1.1"),
])
def test_an_emailed_password_links_token_is_masked(line, masked):
    assert redact(line) == masked


def test_other_escapes_are_logged_as_sent():
    assert redact("GET /v1/projects/1/forms/kh%E1%BA%A3o%20s%C3%A1t HTTP/1.1") == \
        "GET /v1/projects/1/forms/kh%E1%BA%A3o%20s%C3%A1t HTTP/1.1"


def test_the_named_session_routes_stay_readable():
    for line in ("DELETE /v1/sessions/current HTTP/1.1", "GET /v1/sessions/restore HTTP/1.1", "POST /v1/sessions HTTP/1.1",
                 "DELETE /v1//sessions//current HTTP/1.1"):
        assert redact(line) == line


def test_the_access_logger_masks_it_in_every_atom():
    from gunicorn.config import Config

    environ = {"REQUEST_METHOD": "DELETE", "RAW_URI": f"/v1/sessions/{TOKEN}", "SERVER_PROTOCOL": "HTTP/1.1",
               "PATH_INFO": f"/v1/sessions/{TOKEN}", "QUERY_STRING": ""}
    resp = SimpleNamespace(status="200 OK", sent=16, headers=[])
    req = SimpleNamespace(headers=[])
    atoms = AccessLogger(Config()).atoms(resp, req, environ, timedelta(milliseconds=5))
    assert TOKEN not in " ".join(str(v) for v in atoms.values())
    assert "/v1/sessions/***" in atoms["r"]
