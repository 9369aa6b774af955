"""Sign-in throttling (server/auth/throttle.py) on every way a password is checked over the API:
POST /v1/sessions, PUT /v1/users/{id}/password, HTTP Basic and HTTP Digest. The pages' sign-in and
password change are in tests/web/test_sign_in_throttle.py."""
from __future__ import annotations

import base64
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from collect import COLLECT
from helpers import ADMIN_EMAIL, ADMIN_PASSWORD
from server.auth.throttle import account_key
from server.config import SignInLimits
from server.models.sign_in_attempts import ATTEMPT, SignInAttempt

# Each client is told apart by its X-Forwarded-For, as behind the proxy of a real deployment.
pytestmark = pytest.mark.behind_proxy

HOME, CAFE, PHONE = "203.0.113.7", "198.51.100.20", "2001:db8:1:2:aaaa::1"


def post_session(client, email=ADMIN_EMAIL, password="sai mật khẩu", ip=HOME):
    return client.post("/v1/sessions", json={"email": email, "password": password}, headers={"X-Forwarded-For": ip})


def limits(app, **kw) -> None:
    app.config["HAMLET"] = replace(app.config["HAMLET"], sign_in=SignInLimits(**kw))


def failures(app, email: str | None = None, address: str | None = None) -> int:
    with app.extensions["hamlet.sessionmaker"]() as s:
        query = select(func.count()).select_from(SignInAttempt).where(SignInAttempt.kind == ATTEMPT)
        if email is not None:
            query = query.where(SignInAttempt.account == account_key(app.config["SECRET_KEY"], email))
        if address is not None:
            query = query.where(SignInAttempt.address == address)
        return s.scalar(query)


def age_all_rows(app, minutes: int) -> None:
    """As if every attempt had been made `minutes` earlier."""
    with app.extensions["hamlet.sessionmaker"]() as s:
        for row in s.scalars(select(SignInAttempt)):
            row.at = row.at - timedelta(minutes=minutes)
        s.commit()


def assert_throttled_json(resp) -> int:
    assert resp.status_code == 429, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == 429.91 and "Wait" in body["message"] and "administrator" in body["message"]
    retry = int(resp.headers["Retry-After"])
    assert 0 < retry <= 15 * 60 and body["details"]["retryAfter"] == retry
    return retry


# --- POST /v1/sessions -------------------------------------------------------------------------------

def test_five_wrong_passwords_then_429_even_with_the_right_one(client, app):
    for _ in range(5):
        assert post_session(client).status_code == 401
    retry = assert_throttled_json(post_session(client, password=ADMIN_PASSWORD))
    assert retry > 14 * 60   # the oldest of the five leaves the 15-minute window in about 15 minutes
    assert failures(app, email=ADMIN_EMAIL) == 5   # a refused check is not a sixth failure


def test_another_address_is_not_held_back_and_its_success_resets_only_its_own_count(client, app):
    for _ in range(5):
        post_session(client, ip=HOME)
    assert post_session(client, password=ADMIN_PASSWORD, ip=CAFE).status_code == 200
    assert post_session(client, password=ADMIN_PASSWORD, ip=HOME).status_code == 429
    assert failures(app, address=HOME) == 5
    # A success clears that address's failures for the account.
    for _ in range(4):
        assert post_session(client, ip=CAFE).status_code == 401
    assert post_session(client, password=ADMIN_PASSWORD, ip=CAFE).status_code == 200
    assert failures(app, address=CAFE) == 0
    for _ in range(5):
        assert post_session(client, ip=CAFE).status_code == 401


def test_the_window_moves_on(client, app):
    for _ in range(5):
        post_session(client)
    assert post_session(client, password=ADMIN_PASSWORD).status_code == 429
    age_all_rows(app, 16)
    assert post_session(client, password=ADMIN_PASSWORD).status_code == 200


def test_an_unknown_email_is_throttled_exactly_like_a_real_one(client):
    answers = {}
    for email in (ADMIN_EMAIL, "khong-co@hamlet.test"):
        wrong = [post_session(client, email=email) for _ in range(5)]
        refused = post_session(client, email=email)
        answers[email] = ([(r.status_code, r.get_json()) for r in wrong],
                          refused.status_code, {k: v for k, v in refused.get_json().items() if k != "details"})
    assert answers[ADMIN_EMAIL] == answers["khong-co@hamlet.test"]


def test_email_case_and_spaces_do_not_give_more_tries(client):
    for email in (ADMIN_EMAIL, ADMIN_EMAIL.upper(), f"  {ADMIN_EMAIL} ", ADMIN_EMAIL.title(), ADMIN_EMAIL):
        assert post_session(client, email=email).status_code == 401
    assert post_session(client, email=ADMIN_EMAIL.upper(), password=ADMIN_PASSWORD).status_code == 429


def test_one_address_trying_many_accounts_is_held_back(client, app):
    limits(app, per_account_and_address=5, per_address=4, per_account=100)
    for i in range(4):
        assert post_session(client, email=f"nguoi{i}@hamlet.test").status_code == 401
    assert_throttled_json(post_session(client, email="nguoi9@hamlet.test"))
    assert post_session(client, password=ADMIN_PASSWORD, ip=CAFE).status_code == 200


def test_many_addresses_guessing_one_account_spare_an_address_it_signed_in_from(client, app):
    limits(app, per_account_and_address=5, per_address=30, per_account=6)
    assert post_session(client, password=ADMIN_PASSWORD, ip=HOME).status_code == 200   # remembered
    for i in range(6):
        assert post_session(client, ip=f"192.0.2.{i + 1}").status_code == 401
    assert_throttled_json(post_session(client, password=ADMIN_PASSWORD, ip="192.0.2.200"))
    assert post_session(client, password=ADMIN_PASSWORD, ip=HOME).status_code == 200


def test_an_ipv6_client_is_counted_by_its_64(client, app):
    for i in range(5):
        assert post_session(client, ip=f"2001:db8:1:2::{i + 10}").status_code == 401
    assert post_session(client, password=ADMIN_PASSWORD, ip=PHONE).status_code == 429
    assert post_session(client, password=ADMIN_PASSWORD, ip="2001:db8:1:3::1").status_code == 200


def test_the_count_holds_across_threads(live_server, app):
    """Twelve wrong passwords at once against a threaded server: at most five are checked."""
    def attempt(_):
        return requests.post(f"{live_server}/v1/sessions", json={"email": ADMIN_EMAIL, "password": "đoán"},
                             timeout=60).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(attempt, range(12)))
    assert set(codes) <= {401, 429} and codes.count(401) <= 5 and codes.count(429) >= 7
    assert failures(app, email=ADMIN_EMAIL) == codes.count(401)
    assert requests.post(f"{live_server}/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                         timeout=60).status_code == (200 if codes.count(401) < 5 else 429)


def test_the_count_holds_across_workers(app, settings):
    """Two apps over one database, as two gunicorn workers are: the second sees the first's failures."""
    from server import create_app

    other = create_app(replace(settings, admin_email=None, admin_password=None))
    try:
        first, second = app.test_client(), other.test_client()
        for i in range(5):
            assert post_session(first if i % 2 else second).status_code == 401
        assert post_session(second, password=ADMIN_PASSWORD).status_code == 429
        assert post_session(first, password=ADMIN_PASSWORD).status_code == 429
    finally:
        other.extensions["hamlet.engine"].dispose()


def test_unknown_emails_and_users_without_a_password_cost_the_same_scrypt_check(client, app, admin, monkeypatch):
    from server.models import accounts

    calls = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: calls.append(h.split("$")[0]) or real(h, p))
    admin.post("/v1/users", json_body={"email": "chua-co-mat-khau@hamlet.test"})   # no password yet
    for email in (ADMIN_EMAIL, "khong-co@hamlet.test", "chua-co-mat-khau@hamlet.test"):
        assert post_session(client, email=email, ip=CAFE).status_code == 401
    cred = base64.b64encode(b"khong-co@hamlet.test:x").decode()
    assert client.get("/v1/users/current", headers={"Authorization": f"Basic {cred}",
                                                     "X-Forwarded-Proto": "https"}).status_code == 401
    assert calls == ["scrypt:32768:8:1"] * 4


# --- PUT /v1/users/{id}/password ----------------------------------------------------------------------

def test_a_wrong_current_password_counts_as_a_failed_sign_in(client, admin):
    me = admin.get("/v1/users/current").get_json()["id"]
    for _ in range(3):
        assert post_session(client, ip="127.0.0.1").status_code == 401
    for _ in range(2):
        resp = admin.put(f"/v1/users/{me}/password", {"old": "không phải", "new": "một mật khẩu mới dài"})
        assert resp.status_code == 401
    resp = admin.put(f"/v1/users/{me}/password", {"old": ADMIN_PASSWORD, "new": "một mật khẩu mới dài"})
    assert_throttled_json(resp)
    assert post_session(client, password=ADMIN_PASSWORD, ip="127.0.0.1").status_code == 429


# --- HTTP Basic ----------------------------------------------------------------------------------------

def basic(client, password, ip=HOME):
    cred = base64.b64encode(f"{ADMIN_EMAIL}:{password}".encode()).decode()
    return client.get("/v1/users/current", headers={"Authorization": f"Basic {cred}", "X-Forwarded-Proto": "https",
                                                    "X-Forwarded-For": ip})


def test_basic_auth_is_throttled(client):
    for _ in range(5):
        assert basic(client, "sai").status_code == 401
    assert_throttled_json(basic(client, ADMIN_PASSWORD))
    assert basic(client, ADMIN_PASSWORD, ip=CAFE).status_code == 200
    assert post_session(client, password=ADMIN_PASSWORD).status_code == 429   # one count for both


def test_basic_auth_over_http_is_refused_without_counting(client, app):
    cred = base64.b64encode(f"{ADMIN_EMAIL}:sai".encode()).decode()
    for _ in range(6):
        assert client.get("/v1/users/current", headers={"Authorization": f"Basic {cred}"}).status_code == 401
    assert failures(app) == 0


# --- HTTP Digest (ODK Collect with a username and password) ---------------------------------------------

COLLECTOR, COLLECTOR_PASSWORD = "tcn01@hamlet.test", "mật khẩu của tổ 1"


@pytest.fixture
def collector(admin, project):
    uid = admin.post("/v1/users", json_body={"email": COLLECTOR, "password": COLLECTOR_PASSWORD}).get_json()["id"]
    assert admin.post(f"/v1/projects/{project}/assignments/formfill/{uid}").status_code == 200
    return uid


def digest(client, password, ip=HOME, nc=1):
    first = client.get("/formList", headers={**COLLECT, "X-Forwarded-For": ip})
    assert first.status_code == 401
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', first.headers["WWW-Authenticate"]))
    ha1 = hashlib.md5(f"{COLLECTOR}:{fields['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(b"GET:/formList").hexdigest()
    cnonce, ncv = "0a4f113b0a4f113b", f"{nc:08x}"
    response = hashlib.md5(f"{ha1}:{fields['nonce']}:{ncv}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    header = (f'Digest username="{COLLECTOR}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
              f'uri="/formList", response="{response}", qop=auth, nc={ncv}, cnonce="{cnonce}", algorithm=MD5')
    return client.get("/formList", headers={**COLLECT, "Authorization": header, "X-Forwarded-For": ip})


def test_digest_is_throttled_with_a_message_collect_shows(client, app, collector):
    for _ in range(5):
        assert digest(client, "sai").status_code == 401
    refused = digest(client, COLLECTOR_PASSWORD)
    assert refused.status_code == 429 and "WWW-Authenticate" not in refused.headers
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    text = refused.get_data(as_text=True)
    assert "<OpenRosaResponse" in text and "Đăng nhập sai quá nhiều lần; hãy đợi 15 phút" in text
    assert "Too many failed sign-in attempts. Wait 15 minutes" in text
    assert digest(client, COLLECTOR_PASSWORD, ip=CAFE).status_code == 200
    # The challenges themselves (no credentials yet) were never counted.
    assert failures(app, email=COLLECTOR) == 5


def test_a_phone_syncing_a_moment_ago_is_throttled_all_the_same_after_failures(client, app, collector):
    """A correct Digest request from a clean, known address skips the counts for a second; a failure from
    that address ends the shortcut, so the limit still refuses the right password right after."""
    for nc in range(1, 4):
        assert digest(client, COLLECTOR_PASSWORD, nc=nc).status_code == 200
    for _ in range(5):
        assert digest(client, "sai").status_code == 401
    assert digest(client, COLLECTOR_PASSWORD, nc=4).status_code == 429


def test_digest_successes_leave_no_rows_behind(client, app, collector):
    for nc in range(1, 4):
        assert digest(client, COLLECTOR_PASSWORD, nc=nc).status_code == 200
    assert failures(app) == 0


def test_a_syncing_phone_writes_nothing_once_its_address_is_known(client, app, collector):
    """Collect signs every request with Digest: after the first success marks the address as the
    account's, further successes read the counts and write no row (no commit per request)."""
    def all_rows():
        with app.extensions["hamlet.sessionmaker"]() as s:
            return s.execute(select(SignInAttempt.id, SignInAttempt.kind, SignInAttempt.at)
                             .order_by(SignInAttempt.id)).all()

    assert digest(client, COLLECTOR_PASSWORD, nc=1).status_code == 200
    after_first = all_rows()
    assert [kind for _, kind, _ in after_first] == ["known"]
    for nc in range(2, 6):
        assert digest(client, COLLECTOR_PASSWORD, nc=nc).status_code == 200
    assert all_rows() == after_first


def test_a_digest_failure_is_counted_and_a_later_success_clears_it(client, app, collector):
    assert digest(client, COLLECTOR_PASSWORD, nc=1).status_code == 200
    for _ in range(2):
        assert digest(client, "sai").status_code == 401
    assert failures(app, email=COLLECTOR, address=HOME) == 2
    assert digest(client, COLLECTOR_PASSWORD, nc=2).status_code == 200
    assert failures(app, email=COLLECTOR) == 0


def test_what_was_typed_as_the_email_is_not_stored(client, app):
    post_session(client, email="mật-khẩu-gõ-nhầm-chỗ")
    with app.extensions["hamlet.sessionmaker"]() as s:
        (row,) = s.scalars(select(SignInAttempt)).all()
    assert "mật" not in row.account and len(row.account) == 64 and row.address == HOME
