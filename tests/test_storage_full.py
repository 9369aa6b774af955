"""A full disk (or quota) during an upload: a 507 with a message Collect and the pages show, and
nothing half-stored."""
from __future__ import annotations

import errno
import io
import random

import pytest
from lxml import etree

from collect import submit
from helpers import XLSFORMS, XLSX
from server import problems
from server.models.blobs import LocalBlobStore
from server.synthetic import random_household, to_xml


@pytest.fixture(params=[errno.ENOSPC, errno.EDQUOT])
def full_disk(monkeypatch, request):
    def refuse(self, stream, limit=None):
        raise OSError(request.param, "No space left on device")
    monkeypatch.setattr(LocalBlobStore, "put_stream", refuse)  # the store the tests run on
    return request.param


def test_a_submission_on_a_full_disk_is_507_with_a_message_collect_shows(admin, client, survey, key_base,
                                                                         monkeypatch, full_disk):
    h = random_household(random.Random(3), "DN-HV-HP-01", members=2, photo=True)
    resp = submit(client, key_base, to_xml(h), files={h.photo: b"\xff\xd8\xff" + b"x" * 1000})
    assert resp.status_code == 507
    message = etree.fromstring(resp.data).findtext("{http://openrosa.org/http/response}message")
    assert "hết dung lượng" in message and "run out of storage" in message
    assert admin.get(f"{survey}/submissions").get_json() == []
    monkeypatch.undo()
    again = submit(client, key_base, to_xml(h), files={h.photo: b"\xff\xd8\xff" + b"x" * 1000})
    assert again.status_code == 201  # once there is room, the same submission goes in whole


def test_a_form_upload_on_a_full_disk_is_507_and_no_form_is_made(admin, project, full_disk):
    data = (XLSFORMS / "household_digital_survey.xlsx").read_bytes()
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=data, content_type=XLSX)
    assert resp.status_code == 507 and resp.get_json()["code"] == 507.1
    assert "run out of storage" in resp.get_json()["message"]
    assert admin.get(f"/v1/projects/{project}/forms").get_json() == []


def test_the_upload_page_on_a_full_disk_says_so(admin, client, project, full_disk):
    from web.helpers import Browserish

    page = Browserish(client).sign_in()
    page.get(f"/projects/{project}")
    data = (XLSFORMS / "household_digital_survey.xlsx").read_bytes()
    resp = page.post(f"/projects/{project}/forms", {"xlsform": (io.BytesIO(data), "household_digital_survey.xlsx")},
                     content_type="multipart/form-data")
    assert resp.status_code == 507
    assert "Máy chủ đã hết dung lượng lưu trữ" in resp.get_data(as_text=True)
    assert admin.get(f"/v1/projects/{project}/forms").get_json() == []


def test_a_full_database_counts_as_a_full_disk():
    import sqlite3

    from sqlalchemy.exc import OperationalError

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL
    assert problems.storage_full(OperationalError("INSERT …", {}, full))
    assert problems.storage_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not problems.storage_full(OSError(errno.EACCES, "Permission denied"))
    assert not problems.storage_full(ValueError("x"))
