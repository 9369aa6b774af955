"""Collect's POST with a recently seen app-user key, stored in front of Flask (server/openrosa/post.py): the
same 201, byte for byte, as Flask's route, the same rows, and every refusal still answered by Flask."""
import hashlib
import io
import random
import re

import pytest

from collect import COLLECT, submit
from helpers import forget_recent_lookups, sessions_begun
from server.models import recent
from server.synthetic import random_household, to_xml


def _answer(resp):
    return resp.status, [(k, v) for k, v in resp.headers.items() if k != "Date"], resp.data


def _household(seed: int) -> bytes:
    return to_xml(random_household(random.Random(seed), "DN-HV-HP-01", members=3))


def _stored(app, submission_id: int) -> dict:
    """What one submission left in the database, without its own ids and times."""
    from sqlalchemy import inspect, text

    out = {}
    with app.extensions["hamlet.sessionmaker"]() as s:
        conn = s.connection()
        d = conn.execute(text("SELECT form_id, form_def_id, deprecated_id, instance_name, encrypted, submitter_id, "
                              "device_id, user_agent, current, instance_id, xml FROM submission_defs "
                              "WHERE submission_id = :id"), {"id": submission_id}).one()
        out["def"] = tuple(d[:9]) + (bytes(d[10]).replace(d[9].encode(), b"IID"),)
        sub = conn.execute(text("SELECT form_id, submitter_id, device_id, review_state, edits, draft FROM submissions "
                                "WHERE id = :id"), {"id": submission_id}).one()
        out["submission"] = tuple(sub)
        out["attachments"] = [tuple(r) for r in conn.execute(text(
            "SELECT a.name, a.content_type, b.sha256 FROM submission_attachments a JOIN submission_defs d "
            "ON d.id = a.submission_def_id LEFT JOIN blobs b ON b.id = a.blob_id WHERE d.submission_id = :id "
            "ORDER BY a.name"), {"id": submission_id})]
        for name in sorted(inspect(conn).get_table_names()):
            if name.startswith("d") and name[1:].split("_r")[0].isdigit():
                rows = conn.execute(text(f"SELECT * FROM {name} WHERE submission_id = :id"), {"id": submission_id})
                out[name] = sorted(tuple("IID" if v == d[9] else v for k, v in r._mapping.items()
                                         if k not in ("id", "submission_id")) for r in rows)
    return out


def test_an_accepted_post_skips_flask_with_the_same_answer(admin, client, key_base, survey, flask_calls):
    forget_recent_lookups()
    by_flask = submit(client, key_base, _household(1))
    assert by_flask.status_code == 201 and len(flask_calls) == 1
    thin = submit(client, key_base, _household(2))
    assert len(flask_calls) == 1, "the key was just looked up: Flask is not needed"
    assert _answer(thin) == _answer(by_flask)
    assert list(thin.headers.keys()) == list(by_flask.headers.keys())  # same order, Date included
    # An identical resend is taken (Central's answer for it), also without Flask.
    again = submit(client, key_base, _household(2))
    assert again.status_code == 201 and len(flask_calls) == 1
    forget_recent_lookups()
    again_by_flask = submit(client, key_base, _household(2))
    assert len(flask_calls) == 2
    assert _answer(again) == _answer(again_by_flask)
    assert b"Already received" in again.data


def test_rows_stored_by_either_path_are_the_same(app, admin, client, key_base, survey, flask_calls):
    household = random_household(random.Random(3), "DN-HV-HP-01", members=4, photo=True)
    assert household.photo
    photo = b"\xff\xd8\xff" + bytes(range(256)) * 40
    xml = to_xml(household)
    forget_recent_lookups()
    assert submit(client, key_base, xml, {household.photo: photo}).status_code == 201
    assert len(flask_calls) == 1
    resent = xml.replace(household.instance_id.encode(), b"uuid:00000000-0000-4000-8000-000000000001")
    assert submit(client, key_base, resent, {household.photo: photo}).status_code == 201
    assert len(flask_calls) == 1
    listed = admin.get(f"{survey}/submissions").get_json()
    assert len(listed) == 2
    with app.extensions["hamlet.sessionmaker"]() as s:
        from sqlalchemy import text

        ids = [r[0] for r in s.execute(text("SELECT id FROM submissions ORDER BY id"))]
    by_flask, thin = _stored(app, ids[0]), _stored(app, ids[1])
    assert by_flask == thin
    assert by_flask["attachments"] and by_flask["attachments"][0][2] is not None
    assert any(k.startswith("d") and v for k, v in by_flask.items())
    assert by_flask["def"][6] == "collect:AbCdEfGh12345678" and by_flask["def"][7] == COLLECT["User-Agent"]


def test_a_new_submission_is_stored_in_a_lean_transaction_without_a_session(app, admin, client, key_base, survey,
                                                                            flask_calls):
    """The short cut's statements go through a connection alone (server/db.py ConnectionOnly): a Session's
    bookkeeping was the largest single cost left in it. What it writes is committed all the same."""
    assert submit(client, key_base, _household(60)).status_code == 201   # the key, form and caches, by Flask
    with sessions_begun(app) as begun:
        thin = submit(client, key_base, _household(61))
    assert thin.status_code == 201 and b"in full" in thin.data and len(flask_calls) == 1
    assert begun.count == 0
    assert len(admin.get(f"{survey}/submissions").get_json()) == 2


def test_what_needs_a_session_is_run_again_with_one_and_kept_once(app, admin, client, key_base, survey,
                                                                   flask_calls, monkeypatch):
    """A step that asks for more than the connection (here: the ORM's pending objects, after the submission's
    rows were written) rolls the lean try back; the same body is then stored with a Session, once."""
    from server.models import intake

    assert submit(client, key_base, _household(62)).status_code == 201
    real, asked = intake.announce, []

    def announce_with_the_orm(db, *args):
        asked.append(type(db).__name__)
        assert not db.new   # a Session has it; the lean transaction has only its connection
        return real(db, *args)

    monkeypatch.setattr(intake, "announce", announce_with_the_orm)
    with sessions_begun(app) as begun:
        thin = submit(client, key_base, _household(63))
    assert thin.status_code == 201 and b"in full" in thin.data and len(flask_calls) == 1, "no Flask either way"
    assert asked == ["ConnectionOnly", "Session"] and begun.count == 1
    listed = admin.get(f"{survey}/submissions").get_json()
    assert len(listed) == 2 and len({s["instanceId"] for s in listed}) == 2
    # A resend needs the stored version (the ORM): the same two tries, and nothing more is kept.
    monkeypatch.setattr(intake, "announce", real)
    with sessions_begun(app) as begun:
        again = submit(client, key_base, _household(63))
    assert again.status_code == 201 and b"Already received" in again.data and begun.count == 1
    assert len(admin.get(f"{survey}/submissions").get_json()) == 2


def test_an_entity_update_goes_to_a_session_before_anything_is_written(app, admin, client, project, monkeypatch):
    """A revisit updates its household's entity with the ORM: the lean try gives way before the insert
    (server/db.py `require_session`), so the submission is written once, not written and rolled back."""
    from entity_forms import Phone, new_id, published, register_xml, registration, revisit, visit_xml
    from server.models import intake

    published(admin, project, registration(), revisit())
    phone, household, other = Phone(admin, client, project), new_id(), new_id()
    phone.send(register_xml(household, "Lê Văn Tám"))
    phone.send(register_xml(other, "Phạm Thị Hoa"))
    phone.send(visit_xml(other, "1", members="3"))   # the key and both forms' versions are now known
    written, real = [], intake._create

    def counted(db, *args, **kwargs):
        written.append(type(db).__name__)
        return real(db, *args, **kwargs)

    monkeypatch.setattr(intake, "_create", counted)
    with sessions_begun(app) as begun:
        phone.send(visit_xml(household, "1", members="6"))
    assert written == ["Session"] and begun.count >= 1, "no insert in the lean try, then the Session's"
    entity = admin.get(f"/v1/projects/{project}/datasets/households/entities/{household}").get_json()
    assert entity["currentVersion"]["version"] == 2 and entity["currentVersion"]["data"]["members"] == "6"


def test_a_connection_the_short_cut_cannot_get_leaves_the_post_to_flask(admin, client, key_base, survey, flask_calls,
                                                                        monkeypatch):
    """The lean transaction connects as it starts: a database that refuses it (down, or the pool exhausted)
    gives the POST to Flask's route, which answers it as it would any other, never a bare error."""
    from sqlalchemy.exc import OperationalError

    from server.openrosa import post

    assert submit(client, key_base, _household(70)).status_code == 201

    def refused(engine):
        raise OperationalError("connect", {}, Exception("the database is restarting"))

    monkeypatch.setattr(post, "ConnectionOnly", refused)
    seen = len(flask_calls)
    resp = submit(client, key_base, _household(71))
    assert resp.status_code == 201 and len(flask_calls) == seen + 1
    assert len(admin.get(f"{survey}/submissions").get_json()) == 2


def test_refusals_are_answered_by_flask(admin, client, key_base, survey, flask_calls):
    forget_recent_lookups()
    first = _household(4)
    assert submit(client, key_base, first).status_code == 201
    seen = len(flask_calls)
    # The same instanceID with other content: Central's 409, by Flask's route, after the short cut gave way.
    conflict = submit(client, key_base, first.replace(b"</data>", b"<x/></data>") if b"</data>" in first
                      else first.replace(b"<meta>", b"<extra/><meta>", 1))
    assert conflict.status_code == 409 and conflict.headers["X-OpenRosa-Version"] == "1.0"
    assert len(flask_calls) == seen + 1
    forget_recent_lookups()
    by_flask_only = submit(client, key_base, first.replace(b"</data>", b"<x/></data>") if b"</data>" in first
                           else first.replace(b"<meta>", b"<extra/><meta>", 1))
    assert _answer(by_flask_only) == _answer(conflict)
    # No XML part, and a form this project does not have.
    assert submit(client, key_base, _household(5)).status_code == 201
    seen = len(flask_calls)
    bare = client.post(f"{key_base}/submission", data={"other": "x"}, headers=COLLECT, content_type="multipart/form-data")
    assert bare.status_code == 400
    unknown = submit(client, key_base, _household(6).replace(b'id="household_digital_survey"', b'id="nope"'))
    assert unknown.status_code == 404
    assert len(flask_calls) == seen + 2


def test_a_closed_form_and_a_revoked_key_are_refused_at_once(admin, client, key_base, project, survey, flask_calls):
    assert submit(client, key_base, _household(7)).status_code == 201
    assert submit(client, key_base, _household(8)).status_code == 201
    assert admin.patch(survey, json_body={"state": "closed"}).status_code == 200
    closed = submit(client, key_base, _household(9))
    assert closed.status_code == 409
    assert admin.patch(survey, json_body={"state": "open"}).status_code == 200
    assert submit(client, key_base, _household(10)).status_code == 201
    [au] = admin.get(f"/v1/projects/{project}/app-users").get_json()
    assert admin.delete(f"/v1/projects/{project}/app-users/{au['id']}").status_code == 200
    refused = submit(client, key_base, _household(11))
    assert refused.status_code == 403 and refused.headers["X-OpenRosa-Version"] == "1.0"
    assert len(admin.get(f"{survey}/submissions").get_json()) == 3


def test_what_the_short_cut_cannot_vouch_for_goes_to_flask(app, client, key_base, survey, flask_calls):
    assert submit(client, key_base, _household(12)).status_code == 201
    seen = len(flask_calls)
    other_version = submit(client, key_base, _household(13), headers={"X-OpenRosa-Version": "2.0"})
    assert other_version.status_code == 400
    assert len(flask_calls) == seen + 1
    # Larger than the server accepts: Flask's 413, as before.
    from dataclasses import replace

    app.config["HAMLET"] = replace(app.config["HAMLET"], max_submission_bytes=1000)
    too_big = submit(client, key_base, _household(14))
    assert too_big.status_code == 413
    assert len(flask_calls) == seen + 2


DIGEST_EMAIL, DIGEST_PASSWORD = "tcn02@hamlet.test", "mật khẩu của tổ 2"


@pytest.fixture
def collector(admin, project, survey):
    """A data collector (formfill role) signing in with a username and password, as Collect does with Digest."""
    uid = admin.post("/v1/users", json_body={"email": DIGEST_EMAIL, "password": DIGEST_PASSWORD}).get_json()["id"]
    assert admin.post(f"/v1/projects/{project}/assignments/formfill/{uid}").status_code == 200
    return uid


def _signed(challenge: str, method: str, uri: str, nc: int, password: str = DIGEST_PASSWORD) -> dict:
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
    ha1 = hashlib.md5(f"{DIGEST_EMAIL}:{fields['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    cnonce, ncv = "0a4f113b0a4f113b", f"{nc:08x}"
    response = hashlib.md5(f"{ha1}:{fields['nonce']}:{ncv}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return {**COLLECT, "Authorization": f'Digest username="{DIGEST_EMAIL}", realm="{fields["realm"]}", '
            f'nonce="{fields["nonce"]}", uri="{uri}", response="{response}", qop=auth, nc={ncv}, '
            f'cnonce="{cnonce}", opaque="{fields["opaque"]}", algorithm=MD5'}


def test_digest_head_and_post_skip_flask_once_vouched_for(admin, client, project, survey, collector, flask_calls):
    forget_recent_lookups()
    base = f"/v1/projects/{project}"
    uri = f"{base}/submission?deviceID=collect%3AAbCdEfGh12345678"
    challenge = client.head(uri, headers=COLLECT).headers["WWW-Authenticate"]
    heads = [client.head(uri, headers=_signed(challenge, "HEAD", uri, nc)) for nc in (1, 2, 3)]
    assert [h.status_code for h in heads] == [204, 204, 204]
    # The first signed HEAD makes the address known, the second finds a clean standing: the third needs no Flask.
    assert len(flask_calls) == 3
    assert _answer(heads[2]) == _answer(heads[1])
    assert list(heads[2].headers.keys()) == list(heads[1].headers.keys())
    thin = submit(client, base, _household(20), headers=_signed(challenge, "POST", uri, 4))
    assert thin.status_code == 201 and len(flask_calls) == 3
    forget_recent_lookups()
    by_flask = submit(client, base, _household(21), headers=_signed(challenge, "POST", uri, 5))
    assert len(flask_calls) == 4
    assert _answer(thin) == _answer(by_flask)
    listed = admin.get(f"{survey}/submissions").get_json()
    assert len(listed) == 2 and {s["submitterId"] for s in listed} == {collector}


def test_a_wrong_digest_answer_is_always_checked_by_flask(client, project, survey, collector, flask_calls):
    forget_recent_lookups()
    base = f"/v1/projects/{project}"
    uri = f"{base}/submission?deviceID=collect%3AAbCdEfGh12345678"
    challenge = client.head(uri, headers=COLLECT).headers["WWW-Authenticate"]
    for nc in (1, 2):
        assert client.head(uri, headers=_signed(challenge, "HEAD", uri, nc)).status_code == 204
    seen = len(flask_calls)
    wrong = client.head(uri, headers=_signed(challenge, "HEAD", uri, 3, password="not the password"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Digest ")
    refused = submit(client, base, _household(22), headers=_signed(challenge, "POST", uri, 4, password="nope"))
    assert refused.status_code == 401
    assert len(flask_calls) == seen + 2
    # A failure ends the short cut: the next right answer goes through the full check again.
    assert submit(client, base, _household(23), headers=_signed(challenge, "POST", uri, 5)).status_code == 201
    assert len(flask_calls) == seen + 3


class _CountedBody(io.BytesIO):
    """A request body that counts the bytes the server read of it."""

    read_bytes = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.read_bytes += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.read_bytes += len(line)
        return line


def test_a_post_no_one_vouched_for_is_refused_before_its_body_is_read(client, project, survey, collector):
    """Flask refuses a bad Digest answer before the route reads the body; a layer in front of it must not
    take a few MB into memory first for any request that merely carries an Authorization header."""
    forget_recent_lookups()
    body = b"--x\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; filename=\"s.xml\"\r\n\r\n" \
        + _household(24) + b"\r\n--x\r\nContent-Disposition: form-data; name=\"p.jpg\"; filename=\"p.jpg\"\r\n\r\n" \
        + b"\xff" * 1_000_000 + b"\r\n--x--\r\n"
    for authorization in ('Digest username="nobody@hamlet.test", realm="x", nonce="forged", uri="/", response="0"',
                          "Bearer not-a-session-token"):
        counted = _CountedBody(body)
        refused = client.post(f"/v1/projects/{project}/submission", input_stream=counted, content_length=len(body),
                              content_type="multipart/form-data; boundary=x",
                              headers={**COLLECT, "Authorization": authorization})
        assert refused.status_code == 401
        assert counted.read_bytes == 0, f"{counted.read_bytes:,} bytes read for {authorization.split()[0]}"


def _warm_digest(client, uri):
    """Three signed HEADs: the user and a clean standing are then remembered (the short cut's condition)."""
    challenge = client.head(uri, headers=COLLECT).headers["WWW-Authenticate"]
    assert [client.head(uri, headers=_signed(challenge, "HEAD", uri, nc)).status_code for nc in (1, 2, 3)] == [204] * 3
    return challenge


def test_a_digest_user_demoted_repassworded_or_removed_is_refused_at_once(admin, client, project, survey, collector,
                                                                          flask_calls):
    forget_recent_lookups()
    base = f"/v1/projects/{project}"
    uri = f"{base}/submission?deviceID=collect%3AAbCdEfGh12345678"
    challenge = _warm_digest(client, uri)
    seen = len(flask_calls)
    assert submit(client, base, _household(30), headers=_signed(challenge, "POST", uri, 4)).status_code == 201
    assert len(flask_calls) == seen, "vouched for: the short cut took it"
    # The role withdrawn a moment ago: Flask's 403, nothing stored.
    assert admin.delete(f"/v1/projects/{project}/assignments/formfill/{collector}").status_code == 200
    demoted = submit(client, base, _household(31), headers=_signed(challenge, "POST", uri, 5))
    assert demoted.status_code == 403 and demoted.headers["X-OpenRosa-Version"] == "1.0"
    assert admin.post(f"/v1/projects/{project}/assignments/formfill/{collector}").status_code == 200
    # A new password: the old one's answers stop working at once.
    challenge = _warm_digest(client, uri)
    token = client.post("/v1/sessions", json={"email": DIGEST_EMAIL, "password": DIGEST_PASSWORD}).get_json()["token"]
    changed = client.put(f"/v1/users/{collector}/password", headers={"Authorization": f"Bearer {token}"},
                         json={"old": DIGEST_PASSWORD, "new": "một mật khẩu mới hẳn"})
    assert changed.status_code == 200
    stale = submit(client, base, _household(32), headers=_signed(challenge, "POST", uri, 6))
    assert stale.status_code == 401
    # The account removed.
    assert admin.delete(f"/v1/users/{collector}").status_code == 200
    gone = submit(client, base, _household(33),
                  headers=_signed(challenge, "POST", uri, 7, password="một mật khẩu mới hẳn"))
    assert gone.status_code == 401
    assert len(admin.get(f"{survey}/submissions").get_json()) == 1


def test_another_workers_revocation_holds_within_a_second(app, admin, client, key_base, project, survey, flask_calls,
                                                          monkeypatch):
    """A key revoked by another worker (no session event here) stops working when this worker's second is up,
    on the short cut as on Flask's route: the window is the `Recent` caches' ttl, no longer."""
    from sqlalchemy import text

    assert submit(client, key_base, _household(34)).status_code == 201
    with app.extensions["hamlet.sessionmaker"]() as s:  # as another process would: plain SQL, no ORM events
        s.execute(text("DELETE FROM sessions WHERE token = :t"), {"t": key_base.split("/")[3]})
        s.commit()
    later = recent.time.monotonic() + 1.01
    monkeypatch.setattr(recent.time, "monotonic", lambda: later)
    refused = submit(client, key_base, _household(35))
    assert refused.status_code == 403
    assert len(admin.get(f"{survey}/submissions").get_json()) == 1


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), RuntimeError("boom")])
def test_a_failure_inside_the_short_cut_gets_flasks_answer_and_keeps_nothing(app, admin, client, key_base, survey,
                                                                             flask_calls, monkeypatch, failure):
    from server.models import intake

    assert submit(client, key_base, _household(40)).status_code == 201
    real = intake._store_attachments

    def failing(*args, **kwargs):
        raise failure

    monkeypatch.setattr(intake, "_store_attachments", failing)
    seen = len(flask_calls)
    warm = submit(client, key_base, _household(41))
    assert len(flask_calls) == seen + 1, "the short cut gave way to Flask"
    forget_recent_lookups()
    cold = submit(client, key_base, _household(41))
    assert warm.status_code == cold.status_code == (507 if isinstance(failure, OSError) else 500)
    assert _answer(warm) == _answer(cold)
    monkeypatch.setattr(intake, "_store_attachments", real)
    again = submit(client, key_base, _household(41))
    assert again.status_code == 201 and b"in full" in again.data, "nothing of the failed tries was kept"
    assert len(admin.get(f"{survey}/submissions").get_json()) == 2


_REFUSED = {
    "malformed XML": lambda xml: xml[: len(xml) // 2],
    "another form": lambda xml: xml.replace(b'id="household_digital_survey"', b'id="nope"'),
    "another version": lambda xml: re.sub(rb'version="[^"]*"', b'version="not-published"', xml, count=1),
}


@pytest.mark.parametrize("change", sorted(_REFUSED))
def test_each_refusal_after_the_short_cut_is_flasks_byte_for_byte(client, key_base, survey, flask_calls, change):
    assert submit(client, key_base, _household(50)).status_code == 201
    seen = len(flask_calls)
    xml = _REFUSED[change](_household(51))
    warm = submit(client, key_base, xml)
    assert len(flask_calls) == seen + 1 and warm.status_code >= 400
    forget_recent_lookups()
    cold = submit(client, key_base, xml)
    assert _answer(warm) == _answer(cold)
    assert submit(client, key_base, _household(52)).status_code == 201
    bare = client.post(f"{key_base}/submission", data={"other": (io.BytesIO(b"x"), "x.jpg")}, headers=COLLECT,
                       content_type="multipart/form-data")
    forget_recent_lookups()
    bare_cold = client.post(f"{key_base}/submission", data={"other": (io.BytesIO(b"x"), "x.jpg")}, headers=COLLECT,
                            content_type="multipart/form-data")
    assert bare.status_code == 400 and _answer(bare) == _answer(bare_cold)


def test_digest_answers_for_another_request_go_to_flask_and_are_refused(app, admin, client, project, survey, collector,
                                                                        flask_calls, monkeypatch):
    """Vouched for or not, an answer signed for another method or path, or with a nonce past its day, is not the
    short cut's: Flask refuses it as before (401, stale=true for the old nonce) and nothing is stored."""
    from server.auth import digest

    forget_recent_lookups()
    base = f"/v1/projects/{project}"
    uri = f"{base}/submission?deviceID=collect%3AAbCdEfGh12345678"
    challenge = _warm_digest(client, uri)
    seen = len(flask_calls)
    head_answer = _signed(challenge, "HEAD", uri, 4)   # a HEAD's answer replayed on a POST
    other_path = _signed(challenge, "POST", "/v1/projects/999/submission", 5)
    for headers in (head_answer, other_path):
        assert submit(client, base, _household(60), headers=headers).status_code == 401
    assert len(flask_calls) == seen + 2
    _warm_digest(client, uri)
    seen = len(flask_calls)
    later = __import__("time").time() + digest.NONCE_SECONDS + 5
    monkeypatch.setattr(digest.time, "time", lambda: later)
    stale = submit(client, base, _household(61), headers=_signed(challenge, "POST", uri, 6))
    assert stale.status_code == 401 and "stale=true" in stale.headers["WWW-Authenticate"]
    assert len(flask_calls) == seen + 1
    assert admin.get(f"{survey}/submissions").get_json() == []


def test_a_submission_without_an_instance_id_is_stored_by_flask_once(app, client, key_base, survey, flask_calls):
    """The route names such a submission itself; only a device's own instanceID makes a second try after a
    commit that failed late a resend rather than a second copy, so the short cut leaves these to Flask."""
    assert submit(client, key_base, _household(30)).status_code == 201
    seen = len(flask_calls)
    bare = re.sub(rb"<instanceID>[^<]*</instanceID>", b"", _household(31))
    assert b"instanceID" not in bare
    resp = submit(client, key_base, bare)
    assert resp.status_code == 201
    assert len(flask_calls) == seen + 1
    from sqlalchemy import text

    with app.extensions["hamlet.sessionmaker"]() as s:
        ids = s.execute(text("SELECT instance_id FROM submissions ORDER BY id")).scalars().all()
    assert len(ids) == 2 and ids[1].startswith("uuid:") and ids[1] != ids[0]
