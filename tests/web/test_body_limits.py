"""Each page refuses a body over its limit before reading it (server/web/limits.py): a 413 page in the
page's language saying what it accepts, nothing changed; the API's and OpenRosa's own limits untouched."""
from __future__ import annotations

import http.client
import io
import random
from dataclasses import replace
from urllib.parse import urlparse

from sqlalchemy import func, select

from collect import submit
from helpers import FORM, SURVEY, XLSX
from server.synthetic import random_household, to_xml

from .helpers import Browserish


def _settings(app, **changes) -> None:
    app.config["HAMLET"] = replace(app.config["HAMLET"], **changes)


def _count(app, model) -> int:
    with app.extensions["hamlet.sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model))


def _upload(web, project: int, data: bytes, **kw):
    return web.post(f"/projects/{project}/forms", {"xlsform": (io.BytesIO(data), "household_digital_survey.xlsx")},
                    content_type="multipart/form-data", **kw)


def test_an_xlsform_over_hamlet_max_form_bytes_is_a_413_page_and_nothing_is_stored(signed_in, app, project):
    from server.models.forms import Form

    _settings(app, max_form_bytes=100_000)
    here = f"http://localhost/projects/{project}"
    resp = _upload(signed_in, project, b"x" * 300_000, headers={"Referer": here})
    assert resp.status_code == 413
    page = resp.get_data(as_text=True)
    assert "Tệp quá lớn: máy chủ chỉ nhận tệp biểu mẫu tối đa 100 KB." in page
    assert "Không có gì bị thay đổi." in page and f'href="/projects/{project}"' in page
    assert _count(app, Form) == 0
    signed_in.post("/language", {"language": "en"})
    english = _upload(signed_in, project, b"x" * 300_000).get_data(as_text=True)
    assert "The file is too large: this server accepts form files up to 100 KB." in english
    assert "Nothing was changed." in english


def test_a_file_just_over_the_limit_gets_the_same_status_from_the_page_itself(signed_in, app, project):
    """Inside the allowance for multipart's own bytes the body is read, and the page refuses the file."""
    from server.models.forms import Form

    _settings(app, max_form_bytes=100_000)
    resp = _upload(signed_in, project, b"x" * 100_001)
    assert resp.status_code == 413 and "tối đa 100 KB" in resp.get_data(as_text=True)
    assert _count(app, Form) == 0
    # A workbook within the limit still goes through.
    _settings(app, max_form_bytes=10 * 1024 * 1024)
    assert _upload(signed_in, project, SURVEY.read_bytes()).status_code == 302


def test_the_limit_is_applied_before_the_body_is_sent(live_server, app, project):
    """Headers announcing 50 MB and a trickle of body: the 413 page comes back without waiting for the rest."""
    url = urlparse(live_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", f"/projects/{project}/forms")
    conn.putheader("Content-Type", "multipart/form-data; boundary=xyz")
    conn.putheader("Content-Length", str(50 * 1024 * 1024))
    conn.endheaders()
    conn.send(b"--xyz\r\n")
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    assert resp.status == 413 and "tối đa 10 MB" in body and 'lang="vi"' in body


def test_a_chunked_body_is_cut_at_the_limit(live_server, app):
    """No Content-Length to check first: the body is read up to the limit, then refused."""
    from server.models.projects import Project

    url = urlparse(live_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    chunks = (b"name=" + b"a" * 1024 for _ in range(400))   # 400 KB of typed "text"
    conn.request("POST", "/projects", body=chunks, encode_chunked=True,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    assert resp.status == 413 and "Trang này chỉ nhận nội dung nhập tay tối đa 256 KB" in body
    assert _count(app, Project) == 0


def test_a_chunked_upload_is_refused_past_the_limit(live_server, app, project):
    from server.models.forms import Form

    _settings(app, max_form_bytes=100_000)
    url = urlparse(live_server)
    head = (b'--xyz\r\nContent-Disposition: form-data; name="xlsform"; filename="f.xlsx"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("POST", f"/projects/{project}/forms", body=iter([head] + [b"x" * 4096] * 100 + [b"\r\n--xyz--\r\n"]),
                 encode_chunked=True, headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    assert resp.status == 413 and "tối đa 100 KB" in body
    assert _count(app, Form) == 0


def test_text_pages_refuse_a_file_sent_to_them(signed_in, app, project, survey):
    from server.models.projects import Project

    before = _count(app, Project)
    resp = signed_in.post("/projects", {"name": "Dự án", "junk": (io.BytesIO(b"x" * 400_000), "big.bin")},
                          content_type="multipart/form-data")
    assert resp.status_code == 413 and "256 KB" in resp.get_data(as_text=True)
    assert _count(app, Project) == before


def test_media_and_private_key_uploads_have_their_own_limits(signed_in, app, project, survey):
    _settings(app, max_submission_bytes=200_000)
    media = signed_in.post(f"/projects/{project}/forms/{FORM}/media",
                           {"name": "areas.csv", "file": (io.BytesIO(b"x" * 500_000), "areas.csv")},
                           content_type="multipart/form-data")
    assert media.status_code == 413
    assert "Tệp quá lớn: máy chủ chỉ nhận tệp đa phương tiện tối đa 200 KB." in media.get_data(as_text=True)
    key = signed_in.post(f"/projects/{project}/forms/{FORM}/downloads/csv",
                         {"privateKey": (io.BytesIO(b"x" * 200_000), "key.pem")}, content_type="multipart/form-data")
    assert key.status_code == 413 and "Tệp này quá lớn để là khóa bí mật" in key.get_data(as_text=True)


def test_the_api_and_openrosa_keep_their_own_limits(app, admin, client, project, key_base, live_server):
    """A submission near HAMLET_MAX_SUBMISSION_BYTES and a form near HAMLET_MAX_FORM_BYTES, both far
    over any page's limit, are still accepted, through the test client and over real HTTP."""
    import requests

    _settings(app, max_submission_bytes=3_000_000)
    h = random_household(random.Random(21), "DN-HV-HP-01", photo=True)
    resp = submit(client, key_base, to_xml(h), {h.photo: b"j" * 2_900_000})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    h2 = random_household(random.Random(22), "DN-HV-HP-01", photo=True)
    files = {"xml_submission_file": ("submission.xml", to_xml(h2), "text/xml"),
             h2.photo: (h2.photo, b"j" * 2_900_000, "image/jpeg")}
    resp = requests.post(f"{live_server}{key_base}/submission", files=files, timeout=60,
                         headers={"X-OpenRosa-Version": "1.0"})
    assert resp.status_code == 201, resp.text
    # 1 MB to the REST form upload: read (and refused as not a workbook), not cut at a page's 256 KB.
    big = admin.post(f"/v1/projects/{project}/forms", data=b"x" * 1_000_000, content_type=XLSX)
    assert big.status_code == 400 and big.get_json()["code"] != 413.1


def test_a_signed_out_visitor_gets_the_same_413(app):
    web = Browserish(app.test_client())
    resp = web.post("/sign-in", {"email": "a@b.vn", "password": "x" * 300_000}, csrf=False)
    assert resp.status_code == 413 and "256 KB" in resp.get_data(as_text=True)
