"""Webhooks (KoboToolbox's REST services): each new or edited submission of a form is POSTed as JSON to
the URLs its managers configured, signed with the hook's secret, retried with backoff while the receiver
is down, logged per delivery, resendable — and intake never waits for a receiver, nor one slow receiver
for the others (docs/webhooks.md)."""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
import threading
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from collect import submit
from helpers import FORM, free_port, give, sessions_begun, web_user
from server import create_app
from server.synthetic import random_household, to_xml


@pytest.fixture
def settings(settings):
    """Receivers on loopback allowed (they are the tests'), retries after 0.1 s instead of 30 s, and the
    dispatcher looking every 0.1 s instead of every second."""
    return replace(settings, webhook_allow_private=True, webhook_backoff_ms=(100, 400), webhook_poll_seconds=0.1)


class Receiver:
    """A webhook receiver on loopback that keeps what it got; `status` is what it answers."""

    def __init__(self, port: int | None = None, status: int = 200, delay: float = 0.0):
        self.port = port or free_port()
        self.got: list[tuple[dict, bytes]] = []
        self.status, self.delay = status, delay
        self.busy = self.most_at_once = 0  # requests being answered now; the most ever at once
        self.gate: threading.Event | None = None  # when set, each request waits for it before answering
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    receiver.busy += 1
                    receiver.most_at_once = max(receiver.most_at_once, receiver.busy)
                time.sleep(receiver.delay)
                if receiver.gate is not None:
                    receiver.gate.wait(30)
                with lock:
                    receiver.busy -= 1
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hamlet"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def household(seed: int):
    h = random_household(random.Random(seed), "DN-HV-HP-01", members=2)
    h.village, h.commune = "DN-HV-HP-01", "DN-HV-HP"
    return h


def wait_for(check, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def deliveries(admin, hook_id: int) -> list[dict]:
    return admin.get(f"/v1/projects/1/forms/{FORM}/webhooks/{hook_id}/deliveries").get_json()


def make_hook(admin, url: str, **extra) -> dict:
    resp = admin.post(f"/v1/projects/1/forms/{FORM}/webhooks", json_body={"url": url, **extra})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_new_and_edited_submissions_reach_the_receiver_signed(app, admin, client, key_base, receiver):
    hook = make_hook(admin, receiver.url, includeXml=True)
    assert len(hook["secret"]) == 64 and "secret" not in admin.get(f"/v1/projects/1/forms/{FORM}/webhooks").get_json()[0]
    h = household(1)
    first = to_xml(h)
    assert submit(client, key_base, first).status_code == 201
    old_id = h.instance_id
    h.instance_id = f"uuid:{uuid.uuid4()}"
    assert submit(client, key_base, to_xml(h, deprecated_id=old_id)).status_code == 201

    wait_for(lambda: len(receiver.got) == 2)
    (headers, body), (edit_headers, edit_body) = sorted(receiver.got, key=lambda g: g[0]["x-hamlet-delivery"])
    expected = "sha256=" + hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-hamlet-signature"] == expected and headers["content-type"].startswith("application/json")
    sent = json.loads(body)
    assert sent["event"] == "submission.create" and headers["x-hamlet-event"] == "submission.create"
    assert sent["instanceId"] == old_id and sent["xmlFormId"] == FORM and sent["projectId"] == 1
    assert sent["xml"].encode() == first
    assert sent["data"]["meta/instanceID"] == old_id
    roster = next(v for v in sent["data"].values() if isinstance(v, list))
    assert len(roster) == 2 and all(isinstance(m, dict) for m in roster)
    edited = json.loads(edit_body)
    assert edited["event"] == "submission.update" == edit_headers["x-hamlet-event"] and edited["deprecatedId"] == old_id
    assert edited["instanceId"] == h.instance_id and edited["reviewState"] == "edited"

    log = deliveries(admin, hook["id"])
    assert [(d["status"], d["attempts"], d["lastStatusCode"]) for d in log] == [("delivered", 1, 200)] * 2


def test_a_receiver_that_is_down_gets_the_delivery_when_it_comes_back(app, admin, client, key_base):
    port = free_port()
    hook = make_hook(admin, f"http://127.0.0.1:{port}/hamlet")
    assert submit(client, key_base, to_xml(household(2))).status_code == 201
    [failed] = wait_for(lambda: [d for d in deliveries(admin, hook["id"]) if d["attempts"] >= 2])
    assert failed["status"] == "retrying" and "Connection refused" in failed["lastError"]

    back = Receiver(port=port)
    try:
        [done] = wait_for(lambda: [d for d in deliveries(admin, hook["id"]) if d["status"] == "delivered"])
        # >= 2: the attempt under way when the receiver came back may be the one that gets through
        assert done["attempts"] >= 2 and done["lastError"] is None and len(back.got) == 1
    finally:
        back.stop()


def test_an_error_answer_is_logged_and_a_resend_delivers_again(app, admin, client, key_base, receiver):
    receiver.status = 500
    hook = make_hook(admin, receiver.url)
    assert submit(client, key_base, to_xml(household(3))).status_code == 201
    [d] = wait_for(lambda: [d for d in deliveries(admin, hook["id"]) if d["attempts"] >= 2])
    assert d["lastStatusCode"] == 500 and d["lastError"] == "the receiver answered HTTP 500"
    receiver.status = 200
    wait_for(lambda: deliveries(admin, hook["id"])[0]["status"] == "delivered")
    before = len(receiver.got)
    resent = admin.post(f"/v1/projects/1/forms/{FORM}/webhooks/{hook['id']}/deliveries/{d['id']}/resend")
    assert resent.status_code == 200
    wait_for(lambda: len(receiver.got) == before + 1)
    assert receiver.got[-1][0]["x-hamlet-delivery"] == str(d["id"])


def test_intake_never_waits_for_a_slow_receiver(app, admin, client, key_base, receiver):
    receiver.delay = 3.0
    make_hook(admin, receiver.url)
    started = time.monotonic()
    for seed in range(4):
        assert submit(client, key_base, to_xml(household(10 + seed))).status_code == 201
    assert time.monotonic() - started < 2.0


def test_a_paused_or_deleted_hook_sends_nothing_more(app, admin, client, key_base, receiver):
    hook = make_hook(admin, receiver.url)
    path = f"/v1/projects/1/forms/{FORM}/webhooks/{hook['id']}"
    assert admin.patch(path, {"active": False}).get_json()["active"] is False
    assert submit(client, key_base, to_xml(household(20))).status_code == 201
    assert deliveries(admin, hook["id"]) == []
    assert admin.delete(path).status_code == 200
    assert admin.get(path).status_code == 404


def test_only_those_who_may_change_the_form_see_or_set_webhooks(app, admin, client, households, receiver):
    hooks = f"/v1/projects/1/forms/{FORM}/webhooks"
    make_hook(admin, receiver.url)
    viewer, viewer_id = web_user(app, client, "xem@example.vn")
    give(admin, 1, "viewer", viewer_id)
    limited, limited_id = web_user(app, client, "xa@example.vn")
    give(admin, 1, "manager", limited_id, areas=["DN-HV-HP"])
    for caller in (viewer, limited):
        assert caller.get(hooks).status_code == 403
        assert caller.post(hooks, json_body={"url": receiver.url}).status_code == 403
    assert client.get(hooks).status_code == 401


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://example.vn/x", "must start with http"),
    ("http://127.0.0.1:5432/", "local or private address"),
    ("http://169.254.169.254/latest/meta-data/", "local or private address"),
    ("http://10.0.0.8/hook", "local or private address"),
])
def test_a_url_hamlet_will_not_call_is_refused_with_the_reason(app, admin, survey, url, reason):
    app.config["HAMLET"] = replace(app.config["HAMLET"], webhook_allow_private=False)
    resp = admin.post(f"/v1/projects/1/forms/{FORM}/webhooks", json_body={"url": url})
    assert resp.status_code == 400 and reason in resp.get_json()["message"]


def rabbitmq_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
        return True
    except OSError:
        return False


def test_deliveries_run_through_rabbitmq_when_a_broker_is_set(app, admin, key_base, receiver, settings):
    if not rabbitmq_up():
        pytest.skip("RabbitMQ is not running at 127.0.0.1:5672 (an external service): the broker path is untested")
    queued = replace(settings, broker_url="amqp://guest:guest@127.0.0.1:5672/%2F",
                     jobs_queue=f"hamlet-test-{uuid.uuid4().hex[:8]}", admin_email=None, admin_password=None)
    node = create_app(queued)
    jobs = node.extensions["hamlet.jobs"]
    try:
        hook = make_hook(admin, receiver.url)
        assert submit(node.test_client(), key_base, to_xml(household(30))).status_code == 201
        time.sleep(0.5)
        assert receiver.got == [], "a web node with a broker only queues; the worker sends"
        jobs.start_worker(threads=1)  # what `hamlet jobs worker` runs
        wait_for(lambda: deliveries(admin, hook["id"])[0]["status"] == "delivered")
        assert len(receiver.got) == 1
    finally:
        jobs.stop()
        node.extensions["hamlet.engine"].dispose()
        drop_queues(queued.jobs_queue)


def drop_queues(name: str) -> None:
    """The test's queues, with Dramatiq's delay (.DQ) and dead-letter (.XQ) queues, leave the broker."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
    channel = connection.channel()
    for queue in (name, f"{name}.DQ", f"{name}.XQ"):
        channel.queue_delete(queue)
    connection.close()


# --- what the independent review found (docs/webhooks.md) ---------------------------------------------

def test_a_name_that_resolves_to_the_servers_own_network_on_sending_is_refused(app, monkeypatch, receiver):
    """DNS rebinding: the check and the connection use the same lookup, so a name that answers a public
    address when checked and a loopback one a moment later never reaches the loopback server."""
    from server.webhooks import delivery

    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    def lookup(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in next(answers)]

    monkeypatch.setattr(delivery.socket, "getaddrinfo", lookup)
    url = f"http://rebind.example:{receiver.port}/internal"
    assert delivery.check_url(url, allow_private=False) == url
    with pytest.raises(delivery.UnsafeUrl, match="local or private"):
        delivery.post(url, False, b"{}", {})
    assert receiver.got == []


@pytest.mark.parametrize("address", ["100.100.100.200", "100.64.0.1", "2002:7f00:1::1", "::ffff:10.0.0.1", "0.0.0.0"])
def test_shared_and_embedded_private_addresses_are_not_public(address):
    import ipaddress

    from server.webhooks.delivery import _public

    assert not _public(ipaddress.ip_address(address))


def test_the_dispatcher_hands_out_only_what_is_due(app, admin, client, key_base):
    """A delivery waiting out its backoff, or in a worker's hands, is not queued again; one whose job was
    lost (its lease ran out: a worker killed, a broker that dropped it) is, once, with a new lease token."""
    from server.db import utcnow
    from server.webhooks.models import Webhook, WebhookDelivery, claim_due

    hook = make_hook(admin, f"http://127.0.0.1:{free_port()}/nhan")
    assert submit(client, key_base, to_xml(household(40))).status_code == 201
    wait_for(lambda: deliveries(admin, hook["id"])[0]["attempts"] >= 1)
    sessions, jobs = app.extensions["hamlet.sessionmaker"], app.extensions["hamlet.jobs"]
    jobs.stop()  # nothing runs by itself from here: only these calls hand deliveries out
    with sessions() as s:
        h = s.get_one(Webhook, hook["id"])
        h.failures, h.resume_at = 0, None  # the receiver is not being left alone: only the delivery decides
        d = s.scalars(select(WebhookDelivery)).one()
        d.status, d.next_attempt_at, d.leased_until = "retrying", utcnow() + timedelta(minutes=50), None
        s.commit()
        assert claim_due(s, per_hook=2) == []  # still waiting out a 1-hour backoff
        d.next_attempt_at = d.leased_until = utcnow() + timedelta(minutes=4)
        s.commit()
        assert claim_due(s, per_hook=2) == []  # a worker holds it
        d.next_attempt_at = d.leased_until = utcnow() - timedelta(seconds=1)
        token = d.lease
        s.commit()
        assert claim_due(s, per_hook=2) == [(d.id, token + 1)]  # its job was lost
        assert claim_due(s, per_hook=2) == []  # and it is leased again, to one dispatcher only


def test_without_a_broker_a_delivery_lost_with_the_process_is_sent_after_the_next_submission(
        app, admin, client, key_base, receiver):
    """The in-memory queue dies with its process; the restarted process's dispatcher, woken by the next
    submission, finds in the table what it lost."""
    from server.db import utcnow
    from server.webhooks.models import WebhookDelivery

    hook = make_hook(admin, receiver.url)
    assert submit(client, key_base, to_xml(household(41))).status_code == 201
    wait_for(lambda: len(receiver.got) == 1)
    app.extensions["hamlet.jobs"].stop()  # the process ends ...
    with app.extensions["hamlet.sessionmaker"]() as s:  # ... with the delivery queued but never sent
        d = s.scalars(select(WebhookDelivery)).one()
        d.status, d.attempts, d.delivered_at = "pending", 0, None
        d.next_attempt_at = d.leased_until = utcnow() - timedelta(seconds=1)
        s.commit()
    assert submit(client, key_base, to_xml(household(42))).status_code == 201
    wait_for(lambda: len(receiver.got) == 3)
    wait_for(lambda: [d["status"] for d in deliveries(admin, hook["id"])] == ["delivered", "delivered"])


def test_a_slow_receiver_holds_only_its_share_of_the_workers(app, admin, client, key_base, receiver):
    """Each webhook has at most two deliveries in the workers' hands: a receiver that does not answer holds
    two, and another hook of the same form is served meanwhile; once it answers, the rest follow."""
    receiver.gate = threading.Event()
    slow = make_hook(admin, receiver.url)
    quick = Receiver()
    try:
        fast = make_hook(admin, quick.url)
        for seed in range(6):
            assert submit(client, key_base, to_xml(household(50 + seed))).status_code == 201
        wait_for(lambda: len(quick.got) == 6)
        wait_for(lambda: receiver.busy == 2)
        time.sleep(0.3)  # room for a third, were the share not kept
        assert receiver.busy == 2 and receiver.got == []
        receiver.gate.set()
        wait_for(lambda: len(receiver.got) == 6)
        assert receiver.most_at_once == 2
        # The receiver has the body before the attempt records its answer: the last rows follow a moment later.
        wait_for(lambda: {d["status"] for d in deliveries(admin, slow["id"]) + deliveries(admin, fast["id"])}
                 == {"delivered"})
    finally:
        quick.stop()


def test_a_webhook_stops_when_its_creator_may_no_longer_change_the_form(app, admin, client, key_base, households,
                                                                         receiver):
    manager, manager_id = web_user(app, client, "quanly@example.vn")
    give(admin, 1, "manager", manager_id)
    hook = manager.post(f"/v1/projects/1/forms/{FORM}/webhooks", json_body={"url": receiver.url}).get_json()
    assert admin.delete(f"/v1/projects/1/assignments/manager/{manager_id}").status_code == 200
    assert submit(client, key_base, to_xml(household(43))).status_code == 201
    [d] = wait_for(lambda: [d for d in deliveries(admin, hook["id"]) if d["status"] == "failed"])
    assert "may no longer change the form" in d["lastError"] and receiver.got == []
    assert admin.get(f"/v1/projects/1/forms/{FORM}/webhooks/{hook['id']}").get_json()["active"] is False


def test_a_broker_outage_never_turns_a_stored_submission_into_an_error(app, admin, client, key_base, monkeypatch):
    hook = make_hook(admin, f"http://127.0.0.1:{free_port()}/nhan")
    jobs = app.extensions["hamlet.jobs"]

    def down(*args, **kwargs):
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(jobs, "defer", down)
    assert submit(client, key_base, to_xml(household(44))).status_code == 201
    assert [d["status"] for d in deliveries(admin, hook["id"])] == ["pending"]  # handed out again later


def test_a_dead_receiver_is_probed_by_one_delivery_and_the_backlog_flows_when_it_is_back(app, admin, client,
                                                                                         key_base):
    """While a receiver is down, one delivery probes it after each wait instead of every delivery trying on
    its own: five deliveries over two seconds of waits of at most 0.4 s make about one attempt per wait
    (each on its own schedule would make about 30); the first success sends the rest."""
    port = free_port()
    hook = make_hook(admin, f"http://127.0.0.1:{port}/hamlet")
    for seed in range(5):
        assert submit(client, key_base, to_xml(household(60 + seed))).status_code == 201
    time.sleep(2.0)
    log = deliveries(admin, hook["id"])
    attempts = sum(d["attempts"] for d in log)
    assert 1 <= attempts <= 12, log
    back = Receiver(port=port)
    try:
        wait_for(lambda: len(back.got) == 5)
        # The receiver has the body before the attempt records its answer: the last rows follow a moment later.
        wait_for(lambda: {d["status"] for d in deliveries(admin, hook["id"])} == {"delivered"})
    finally:
        back.stop()


# --- what the second review found: one attempt at a time, an end to every delivery -------------------------

def test_a_job_whose_lease_moved_on_sends_nothing(app, admin, client, key_base, receiver):
    """A second job of one delivery (its lease ran out while it waited, a broker's redelivery) carries an old
    token: while the first attempt is under way it neither sends nor writes."""
    from server.webhooks import delivery as dl
    from server.webhooks.models import WebhookDelivery, claim_due

    hook = make_hook(admin, receiver.url)
    sessions, jobs = app.extensions["hamlet.sessionmaker"], app.extensions["hamlet.jobs"]
    assert submit(client, key_base, to_xml(household(70))).status_code == 201
    wait_for(lambda: len(receiver.got) == 1)
    jobs.stop()
    with sessions() as s:  # as if it were due again, and handed out
        d = s.scalars(select(WebhookDelivery)).one()
        d.status, d.next_attempt_at, d.leased_until = "retrying", None, None
        s.commit()
    with sessions() as s:
        from server.db import utcnow
        s.get_one(WebhookDelivery, d.id).next_attempt_at = utcnow()
        s.commit()
        [(delivery_id, token)] = claim_due(s, per_hook=2)
    receiver.delay, receiver.most_at_once = 1.0, 0
    first = threading.Thread(target=dl.deliver, args=(sessions, True, (100, 400), delivery_id, token))
    first.start()
    wait_for(lambda: receiver.busy == 1)
    assert dl.deliver(sessions, True, (100, 400), delivery_id, token) is None  # the same token, again
    assert dl.deliver(sessions, True, (100, 400), delivery_id, token - 1) is None  # an older one
    assert dl.deliver(sessions, True, (100, 400), delivery_id) is None  # a job from before tokens
    first.join()
    assert receiver.most_at_once == 1 and len(receiver.got) == 2
    assert deliveries(admin, hook["id"])[0]["status"] == "delivered"


def test_a_resend_while_an_attempt_is_under_way_is_refused(app, admin, client, key_base, receiver):
    receiver.gate = threading.Event()
    hook = make_hook(admin, receiver.url)
    assert submit(client, key_base, to_xml(household(71))).status_code == 201
    wait_for(lambda: receiver.busy == 1)
    [d] = deliveries(admin, hook["id"])
    resent = admin.post(f"/v1/projects/1/forms/{FORM}/webhooks/{hook['id']}/deliveries/{d['id']}/resend")
    assert resent.status_code == 409 and "under way" in resent.get_json()["message"]
    receiver.gate.set()
    wait_for(lambda: deliveries(admin, hook["id"])[0]["status"] == "delivered")
    assert receiver.most_at_once == 1 and len(receiver.got) == 1


def test_deliveries_past_their_day_are_given_up_while_the_receiver_is_left_alone(app, admin, client, key_base):
    """A receiver down for hours is probed once an hour, not once per delivery: the dispatcher's tidy-up gives
    up what is past its day (or a resend's), so the backlog ends and is never all sent weeks later."""
    from server.db import utcnow
    from server.webhooks.models import Webhook, WebhookDelivery, tidy

    hook = make_hook(admin, f"http://127.0.0.1:{free_port()}/x")
    for seed in range(3):
        assert submit(client, key_base, to_xml(household(80 + seed))).status_code == 201
    wait_for(lambda: any(d["attempts"] for d in deliveries(admin, hook["id"])))
    app.extensions["hamlet.jobs"].stop()
    with app.extensions["hamlet.sessionmaker"]() as s:
        old, recent, resent = s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        old.created_at = resent.created_at = utcnow() - timedelta(days=3)
        resent.retry_until = utcnow() + timedelta(hours=5)  # resent by hand this morning
        for d in (old, recent, resent):
            d.leased_until = None
        h = s.get_one(Webhook, hook["id"])
        h.failures, h.resume_at = 9, utcnow() + timedelta(minutes=50)
        s.commit()
        assert tidy(s) == 1
        statuses = {d.id: (d.status, d.last_error is not None, d.next_attempt_at)
                    for d in s.scalars(select(WebhookDelivery).execution_options(populate_existing=True))}
    assert statuses[old.id] == ("failed", True, None)
    assert statuses[recent.id][0] in ("pending", "retrying") and statuses[resent.id][0] in ("pending", "retrying")


def test_an_error_inside_an_attempt_is_logged_and_frees_the_hooks_share(app, admin, client, key_base, receiver,
                                                                        monkeypatch):
    from server.webhooks import delivery as dl

    real = dl.payload
    broken: set[int] = set()

    def payload(db, d, hook, cache):
        if d.id in broken:
            raise RuntimeError("the form version's schema could not be read")
        return real(db, d, hook, cache)

    monkeypatch.setattr(dl, "payload", payload)
    hook = make_hook(admin, receiver.url)
    broken.update({1, 2})
    for seed in range(4):
        assert submit(client, key_base, to_xml(household(90 + seed))).status_code == 201
    wait_for(lambda: len(receiver.got) == 2)  # the two sound ones, past the two broken ones
    log = {d["id"]: d for d in deliveries(admin, hook["id"])}
    wait_for(lambda: all(d["lastError"] for d in deliveries(admin, hook["id"]) if d["id"] in broken))
    log = {d["id"]: d for d in deliveries(admin, hook["id"])}
    for i in broken:
        assert log[i]["status"] == "retrying" and "schema could not be read" in log[i]["lastError"]


def test_a_submission_for_a_hook_wakes_the_dispatcher_when_it_commits(app, admin, client, key_base, receiver,
                                                                     monkeypatch, flask_calls):
    make_hook(admin, receiver.url)
    woken = []
    monkeypatch.setattr(app.extensions["hamlet.jobs"], "nudge", lambda: woken.append(True))
    assert submit(client, key_base, to_xml(household(3))).status_code == 201
    assert woken == [True], "the listener, holding the jobs weakly, still reaches them while the app lives"
    # The next one is stored in front of Flask, in a transaction without a Session (and its listener).
    seen = len(flask_calls)
    with sessions_begun(app) as begun:
        assert submit(client, key_base, to_xml(household(4))).status_code == 201
    assert len(flask_calls) == seen and begun.count == 0 and woken == [True, True]


def test_an_app_no_longer_used_is_freed_with_its_dispatchers_listener(settings):
    """The dispatcher's after-commit listener lives in SQLAlchemy's class-level registry; it must not keep
    the app it belongs to alive (every test's app did, 4.9 GB by the end of the suite)."""
    import gc
    import weakref

    app = create_app(settings)
    with app.extensions["hamlet.sessionmaker"]() as s:
        s.commit()   # the listener runs once
    gone = weakref.ref(app)
    app.extensions["hamlet.engine"].dispose()
    del app, s
    gc.collect()
    assert gone() is None
