"""Collect's HEAD before an upload, answered in front of Flask from the hot path's caches (server/openrosa/head.py):
the same bytes as Flask's answer, and everything it cannot vouch for still answered by Flask."""
from dataclasses import replace
from email.utils import parsedate_to_datetime

from collect import COLLECT
from helpers import forget_recent_lookups


def _answer(resp):
    headers = [(k, v) for k, v in resp.headers.items() if k != "Date"]
    return resp.status, headers, resp.data


def test_second_head_skips_flask_with_the_same_answer(client, key_base, flask_calls):
    forget_recent_lookups()
    url = f"{key_base}/submission?deviceID=collect%3Ax"
    by_flask = client.head(url, headers=COLLECT)
    assert len(flask_calls) == 1 and by_flask.status_code == 204
    thin = client.head(url, headers=COLLECT)
    assert len(flask_calls) == 1, "the token and project were just looked up: Flask is not needed"
    assert _answer(thin) == _answer(by_flask)
    assert list(thin.headers.keys()) == list(by_flask.headers.keys())  # same order, Date included
    assert parsedate_to_datetime(thin.headers["Date"]).tzinfo is not None
    assert thin.headers["X-OpenRosa-Accept-Content-Length"] == "100000000"
    # Without X-OpenRosa-Version, as Flask's route accepts it, and through the ?st= form of the key.
    token, rest = key_base.removeprefix("/v1/key/").split("/", 1)
    assert _answer(client.head(url)) == _answer(by_flask)
    assert _answer(client.head(f"/v1/{rest}/submission?st={token}", headers=COLLECT)) == _answer(by_flask)
    assert len(flask_calls) == 1


def test_what_the_caches_cannot_vouch_for_goes_to_flask(admin, client, key_base, project, flask_calls):
    url = f"{key_base}/submission"
    assert client.head(url, headers=COLLECT).status_code == 204
    seen = len(flask_calls)
    wrong_version = client.head(url, headers={**COLLECT, "X-OpenRosa-Version": "2.0"})
    assert wrong_version.status_code == 400
    other_project = client.head(url.replace(f"/projects/{project}/", f"/projects/{project + 1000}/"), headers=COLLECT)
    assert other_project.status_code == 404
    assert client.head(url + "/", headers=COLLECT).status_code != 204
    assert client.get(url, headers=COLLECT).status_code == 204   # GET shares the route, not the short cut
    assert len(flask_calls) == seen + 4


def test_a_revoked_key_is_refused_at_once(admin, client, key_base, project, flask_calls):
    url = f"{key_base}/submission"
    assert client.head(url, headers=COLLECT).status_code == 204
    assert client.head(url, headers=COLLECT).status_code == 204
    [au] = admin.get(f"/v1/projects/{project}/app-users").get_json()
    assert admin.delete(f"/v1/projects/{project}/app-users/{au['id']}").status_code == 200
    refused = client.head(url, headers=COLLECT)
    assert refused.status_code == 403 and refused.headers["X-OpenRosa-Version"] == "1.0"


def test_a_deleted_project_is_gone_at_once(admin, client, key_base, project):
    url = f"{key_base}/submission"
    assert client.head(url, headers=COLLECT).status_code == 204
    assert client.head(url, headers=COLLECT).status_code == 204
    assert admin.delete(f"/v1/projects/{project}").status_code == 200
    assert client.head(url, headers=COLLECT).status_code in (403, 404)


def test_the_policy_and_limit_follow_the_settings(app, client, key_base, flask_calls):
    app.config["HAMLET"] = replace(app.config["HAMLET"], map_tiles="https://{s}.tile.example.org/{z}/{x}/{y}.png",
                                   max_submission_bytes=12_345_678)
    forget_recent_lookups()
    url = f"{key_base}/submission"
    by_flask = client.head(url, headers=COLLECT)
    thin = client.head(url, headers=COLLECT)
    assert len(flask_calls) == 1
    assert _answer(thin) == _answer(by_flask)
    assert "https://*.tile.example.org" in thin.headers["Content-Security-Policy"]
    assert thin.headers["X-OpenRosa-Accept-Content-Length"] == "12345678"
