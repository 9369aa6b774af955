"""Simultaneous edits of the same version: exactly one is stored, the others are told theirs is out of
date (Central's 409.9), and a submission never has more than one current version.

Real threads against the app on a real port (conftest's live_server, a threaded werkzeug server),
started together behind a barrier; on PostgreSQL each request has its own connection and
transaction, as under gunicorn."""
from __future__ import annotations

import random
import threading

import pytest
import requests

from collect import COLLECT, submit
from server.synthetic import random_household, to_xml

RACERS = 16


def edit_of(h, new_id: str) -> bytes:
    xml = to_xml(h, deprecated_id=h.instance_id)
    return xml.replace(h.instance_id.encode(), new_id.encode(), 1)


def together(send, count: int = RACERS) -> list[requests.Response]:
    """Call send(i) from `count` threads released at the same moment; their responses, in order."""
    barrier = threading.Barrier(count)
    out: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = send(i)
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, requests.Response) for r in out), out
    return out


@pytest.fixture
def household(client, key_base):  
    h = random_household(random.Random(5), "DN-HV-HP-01", members=3)
    assert submit(client, key_base, to_xml(h)).status_code == 201
    return h


def versions(admin, survey: str, instance_id: str) -> list[dict]:  
    resp = admin.get(f"{survey}/submissions/{instance_id}/versions")
    assert resp.status_code == 200
    return resp.get_json()


def test_racing_openrosa_edits_store_one_and_answer_the_rest_409(admin, survey, key_base, household,  
                                                                 live_server):
    url = f"{live_server}{key_base}/submission"
    edits = [edit_of(household, f"uuid:race-{i}") for i in range(RACERS)]
    answers = together(lambda i: requests.post(
        url, files={"xml_submission_file": ("submission.xml", edits[i], "text/xml")}, headers=COLLECT, timeout=120))
    codes = [r.status_code for r in answers]
    assert sorted(codes) == [201] + [409] * (RACERS - 1), codes
    winner = f"uuid:race-{codes.index(201)}"
    for r in answers:
        if r.status_code == 409:
            assert "out of date" in r.text and household.instance_id in r.text
    listed = versions(admin, survey, household.instance_id)
    assert [v["instanceId"] for v in listed if v["current"]] == [winner]
    assert len(listed) == 2
    sub = admin.get(f"{survey}/submissions/{household.instance_id}").get_json()
    assert sub["currentVersion"]["instanceId"] == winner and sub["reviewState"] == "edited"
    # One household row, the winner's answers, in every read.
    rows = admin.get(f"{survey}.svc/Submissions?$count=true").get_json()
    assert rows["@odata.count"] == 1
    assert admin.get(f"{survey}/submissions/{household.instance_id}.xml").data == edits[codes.index(201)]
    # The losers' instanceIDs were stored nowhere.
    for i, code in enumerate(codes):
        if code == 409:
            assert admin.get(f"{survey}/submissions/uuid:race-{i}").status_code == 404


def test_racing_rest_edits_store_one_and_answer_the_rest_409(admin, survey, household, live_server):  
    url = f"{live_server}{survey}/submissions/{household.instance_id}"
    headers = {"Authorization": f"Bearer {admin.token}", "Content-Type": "application/xml"}
    edits = [edit_of(household, f"uuid:put-{i}") for i in range(RACERS)]
    answers = together(lambda i: requests.put(url, data=edits[i], headers=headers, timeout=120))
    codes = [r.status_code for r in answers]
    assert sorted(codes) == [200] + [409] * (RACERS - 1), codes
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {409.9}
    listed = versions(admin, survey, household.instance_id)
    assert [v["instanceId"] for v in listed if v["current"]] == [f"uuid:put-{codes.index(200)}"]


def test_the_same_edit_sent_twice_at_once_is_stored_once_and_both_told_so(admin, survey, key_base,  
                                                                          household, live_server):
    """Collect retrying an edit whose answer it missed: the copy that loses the race is a resend (201)."""
    url = f"{live_server}{key_base}/submission"
    edit = edit_of(household, "uuid:retried")
    answers = together(lambda i: requests.post(
        url, files={"xml_submission_file": ("submission.xml", edit, "text/xml")}, headers=COLLECT, timeout=120), 8)
    assert [r.status_code for r in answers] == [201] * 8
    listed = versions(admin, survey, household.instance_id)
    assert [v["instanceId"] for v in listed if v["current"]] == ["uuid:retried"] and len(listed) == 2


def test_the_database_refuses_a_second_current_version(app, admin, survey, household):  
    """Whatever the code does, the partial unique index (migration 0009) holds."""
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from server.models.submissions import SubmissionDef

    with app.extensions["hamlet.sessionmaker"]() as s:
        first = s.scalars(select(SubmissionDef).where(SubmissionDef.instance_id == household.instance_id)).one()
        s.add(SubmissionDef(submission_id=first.submission_id, form_id=first.form_id, form_def_id=first.form_def_id,
                            instance_id="uuid:second-current", deprecated_id=first.instance_id, xml=b"<x/>",
                            xml_sha256="0" * 64, encrypted=False, current=True, created_at=first.created_at))
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
        # A version no longer current is fine beside it.
        s.add(SubmissionDef(submission_id=first.submission_id, form_id=first.form_id, form_def_id=first.form_def_id,
                            instance_id="uuid:old-copy", xml=b"<x/>", xml_sha256="0" * 64, encrypted=False,
                            current=False, created_at=first.created_at))
        s.flush()
        s.rollback()
