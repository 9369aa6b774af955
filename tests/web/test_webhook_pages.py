"""The webhooks page of a form (docs/webhooks.md): a manager adds a receiver's address and sees its
signing key once, reads each delivery's status, attempts and last error in Vietnamese, sends one again,
pauses and deletes; an address Hamlet will not call is refused in the page's words; only those who may
change the form reach the page."""
from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest

from collect import submit
from helpers import FORM, free_port
from server.synthetic import to_xml

from .helpers import Browserish, make_user


@pytest.fixture
def settings(settings):
    return replace(settings, webhook_allow_private=True, webhook_backoff_ms=(100, 400), webhook_poll_seconds=0.1)


def test_a_manager_adds_a_webhook_and_reads_its_log(app, signed_in, client, key_base, households):
    page = f"/projects/1/forms/{FORM}/webhooks"
    html = signed_in.get(page).get_data(as_text=True)
    assert "Chưa có webhook nào." in html and 'aria-current="page">Webhook<' in html

    dead = f"http://127.0.0.1:{free_port()}/nhan"
    resp = signed_in.post(page, {"url": dead, "include_xml": "1"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Khóa ký" in html and "kèm XML" in html
    assert re.search(r'<code class="secret">[0-9a-f]{64}</code>', html)
    assert "Khóa ký" not in signed_in.get(page).get_data(as_text=True), "the key is shown only once"

    h = households[0]
    h.instance_id = "uuid:5b1c9a2e-0000-4000-8000-000000000001"
    assert submit(client, key_base, to_xml(h)).status_code == 201
    deadline = time.monotonic() + 15
    while "Sẽ gửi lại" not in (html := signed_in.get(page).get_data(as_text=True)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Sẽ gửi lại" in html and "Connection refused" in html
    assert "Số lần gửi không thành công liên tiếp" in html  # the receiver is left alone, and the page says so
    resend = re.search(r'action="([^"]+/resend)"', html).group(1)
    assert signed_in.post(resend).status_code == 302

    toggle = re.search(r'action="([^"]+/active)"', html).group(1)
    signed_in.post(toggle, {"active": "0"})
    assert "Đang tạm dừng" in signed_in.get(page).get_data(as_text=True)
    delete = re.search(r'action="([^"]+/delete)"', html).group(1)
    signed_in.post(delete)
    assert "Chưa có webhook nào." in signed_in.get(page).get_data(as_text=True)


def test_an_address_on_the_servers_own_network_is_refused_in_plain_words(app, signed_in, survey):
    app.config["HAMLET"] = replace(app.config["HAMLET"], webhook_allow_private=False)
    page = f"/projects/1/forms/{FORM}/webhooks"
    signed_in.get(page)
    resp = signed_in.post(page, {"url": "http://127.0.0.1:5432/"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "mạng nội bộ của máy chủ này" in html
    assert "Chưa có webhook nào." in html


def test_only_those_who_may_change_the_form_reach_the_page(app, client, admin, households, admin_password_hash):
    make_user(app, "xem@example.vn", admin_password_hash, role="viewer", project_id=1)
    viewer = Browserish(client).sign_in("xem@example.vn")
    assert viewer.get(f"/projects/1/forms/{FORM}/webhooks").status_code == 403
    assert "/webhooks" not in viewer.get(f"/projects/1/forms/{FORM}/submissions").get_data(as_text=True)
