"""Broken and hostile submissions: each gets a precise 4xx with a message, and stored data stays as it was."""
import http.client
import random
import socket
from dataclasses import replace
from urllib.parse import urlparse

import pytest
from lxml import etree

from collect import COLLECT, submit
from server.synthetic import random_household, to_xml


def message(resp) -> str:
    return etree.fromstring(resp.data).find("{http://openrosa.org/http/response}message").text


@pytest.fixture
def stored(admin, client, key_base, survey):
    """One good submission already on the server, to check nothing disturbs it."""
    h = random_household(random.Random(99), "DN-HV-HP-01")
    assert submit(client, key_base, to_xml(h)).status_code == 201
    return h


def unchanged(admin, survey, stored):
    listed = admin.get(f"{survey}/submissions").get_json()
    assert [s["instanceId"] for s in listed] == [stored.instance_id]
    assert admin.get(f"{survey}/submissions/{stored.instance_id}.xml").data == to_xml(stored)


def test_malformed_xml(admin, client, key_base, survey, stored):
    resp = submit(client, key_base, b"<data id='household_digital_survey'><meta>")
    assert resp.status_code == 400 and "not well-formed" in message(resp)
    unchanged(admin, survey, stored)


def test_root_without_id(admin, client, key_base, survey, stored):
    resp = submit(client, key_base, b"<data><a>1</a></data>")
    assert resp.status_code == 400 and "no id attribute" in message(resp)
    unchanged(admin, survey, stored)


def test_entity_expansion_and_external_entities_are_never_resolved(admin, client, key_base, survey, stored, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("TOP-SECRET")
    body = to_xml(random_household(random.Random(5), "DN-HV-HP-01")).replace(b"<notes/>", b"<notes>&x;</notes>")
    evil = f'<!DOCTYPE data [<!ENTITY x SYSTEM "file://{secret}">]>'.encode() + body
    resp = submit(client, key_base, evil)
    assert resp.status_code == 400 and "DOCTYPE" in message(resp)
    lol = b'<!DOCTYPE data [<!ENTITY a "' + b"a" * 100 + b'">' + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)) + b"]>"
    resp = submit(client, key_base, lol + body.replace(b"<notes/>", b"<notes>&i;</notes>"))
    assert resp.status_code == 400
    assert b"TOP-SECRET" not in resp.data
    unchanged(admin, survey, stored)


def test_ten_thousand_repeat_instances_are_refused_with_the_limit(admin, client, key_base, survey, stored):
    h = random_household(random.Random(3), "DN-HV-HP-01", members=1)
    one = to_xml(h)
    start, end = one.index(b"<members>"), one.index(b"</members>") + len(b"</members>")
    huge = one[:start] + one[start:end] * 10_000 + one[end:]
    resp = submit(client, key_base, huge)
    assert resp.status_code == 400 and "10,000 repeat instances" in message(resp)
    unchanged(admin, survey, stored)


@pytest.mark.parametrize("name", ["../../etc/passwd.jpg", "a\\b.jpg", "./../x.jpg"])
def test_attachment_names_with_path_tricks(admin, client, key_base, survey, stored, name):
    h = random_household(random.Random(4), "DN-HV-HP-01", photo=True)
    xml = to_xml(h).replace(h.photo.encode(), name.encode())
    resp = submit(client, key_base, xml, {name: b"evil"})
    assert resp.status_code == 400 and "cannot be stored" in message(resp)
    unchanged(admin, survey, stored)


def test_nul_in_xml_is_refused(admin, client, key_base, survey, stored):
    h = random_household(random.Random(6), "DN-HV-HP-01", photo=True)
    resp = submit(client, key_base, to_xml(h).replace(h.photo.encode(), b"a\x00.jpg"))
    assert resp.status_code == 400
    unchanged(admin, survey, stored)


def test_body_over_the_limit_is_413_before_reading_it(live_server, admin, key_base, survey, stored):
    url = urlparse(live_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", f"{key_base}/submission?deviceID=collect%3Ax")
    for k, v in COLLECT.items():
        conn.putheader(k, v)
    conn.putheader("Content-Type", "multipart/form-data; boundary=xyz")
    conn.putheader("Content-Length", str(150 * 1024 * 1024))
    conn.endheaders()
    conn.send(b"--xyz\r\n")  # a trickle, then the server answers without waiting for 150 MB
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 413 and b"at most" in body and b"<OpenRosaResponse" in body
    conn.close()
    unchanged(admin, survey, stored)


def test_chunked_body_over_the_limit_is_413(app, admin, client, key_base, survey, stored):
    app.config["HAMLET"] = replace(app.config["HAMLET"], max_submission_bytes=200_000)
    h = random_household(random.Random(8), "DN-HV-HP-01", photo=True)
    resp = submit(client, key_base, to_xml(h), {h.photo: b"x" * 300_000})
    assert resp.status_code == 413 and "200,000" in message(resp)
    unchanged(admin, survey, stored)


def test_connection_killed_halfway_stores_nothing(live_server, app, admin, key_base, survey, stored):
    h = random_household(random.Random(10), "DN-HV-HP-01", photo=True)
    boundary = "----hamlet"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; filename=\"s.xml\"\r\n"
            f"Content-Type: text/xml\r\n\r\n").encode() + to_xml(h) + (
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{h.photo}\"; filename=\"{h.photo}\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + b"j" * 500_000 + f"\r\n--{boundary}--\r\n".encode()
    url = urlparse(live_server)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    head = (f"POST {key_base}/submission?deviceID=collect%3Ax HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"X-OpenRosa-Version: 1.0\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[: len(body) // 2])
    sock.close()  # the phone lost its signal
    import time

    time.sleep(0.5)
    unchanged(admin, survey, stored)
    blob_dir = app.config["HAMLET"].data_dir / "blobs"
    leftovers = [p for p in blob_dir.rglob("*") if p.is_file() and p.name.startswith(".incoming")] if blob_dir.exists() else []
    assert leftovers == []
    # The full upload then goes through.
    from collect import submit as post

    resp = post(app.test_client(), key_base, to_xml(h), {h.photo: b"j" * 500_000})
    assert resp.status_code == 201


def test_two_identical_posts_at_the_same_moment_store_one(live_server, admin, key_base, survey):
    import concurrent.futures

    import requests

    h = random_household(random.Random(11), "DN-HV-HP-01")
    xml = to_xml(h)

    def post(_):
        files = {"xml_submission_file": ("s.xml", xml, "text/xml")}
        return requests.post(f"{live_server}{key_base}/submission", files=files, headers=COLLECT, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, range(8)))
    assert codes == [201] * 8
    assert [s["instanceId"] for s in admin.get(f"{survey}/submissions").get_json()] == [h.instance_id]
