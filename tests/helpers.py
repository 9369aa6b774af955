"""Plain code the tests share: where the test data lives, a signed-in REST caller, and the few steps many
tests take (publish a form, make an app user, send the encrypted case). Fixtures are in hamlet_fixtures.py;
Collect's side of the protocol is in collect.py and Central's CSV test harness in central.py."""
from __future__ import annotations

import csv
import functools
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lxml import etree

from collect import submit
from server.config import normalise_database_url

TESTS = Path(__file__).resolve().parent
CORPUS = TESTS / "data" / "corpus"  # copied in, with SOURCES.md and LICENSES/
CORPUS_CASES = json.loads((CORPUS / "cases.json").read_text())
XLSFORMS = TESTS.parent / "xlsforms"
SURVEY = XLSFORMS / "household_digital_survey.xlsx"  # the shipped household survey
FORM = "household_digital_survey"  # its form ID
ADMIN_EMAIL = "admin@hamlet.test"
ADMIN_PASSWORD = "correct horse battery"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS = "application/vnd.ms-excel"

AREAS = """code,name,level,parent,expected_households
DN,Đà Nẵng,province,,
DN-HV,Hòa Vang,district,DN,
DN-HV-HP,Hòa Phước,commune,DN-HV,
DN-HV-HP-01,Thôn Giáng Nam 1,village,DN-HV-HP,300
DN-HV-HP-02,Thôn Giáng Nam 2,village,DN-HV-HP,200
DN-HV-HN,Hòa Nhơn,commune,DN-HV,
DN-HV-HN-01,Thôn Thạch Nham Tây,village,DN-HV-HN,250
"""

SIMPLE_XFORM = """<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
  <h:head>
    <h:title>Khảo sát thử</h:title>
    <model>
      <instance><data id="{id}" version="{version}"><name/><photo/><meta><instanceID/></meta></data></instance>
      <bind nodeset="/data/name" type="string"/>
      <bind nodeset="/data/photo" type="binary"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
    </model>
  </h:head>
  <h:body>
    <input ref="/data/name"><label>Tên</label></input>
    <upload ref="/data/photo" mediatype="image/*"><label>Ảnh <output value="jr://images/logo.png"/></label></upload>
  </h:body>
</h:html>
"""

ENCRYPTED_CASE = CORPUS / "briefcase-encrypted-form"  # Briefcase's encrypted form, its key and one submission


def database_url_for(tmp: Path) -> str:
    """HAMLET_TEST_DATABASE_URL when set (PostgreSQL in CI), else a SQLite file under tmp."""
    url = os.environ.get("HAMLET_TEST_DATABASE_URL")
    return normalise_database_url(url) if url else f"sqlite:///{tmp / 'hamlet-test.db'}"


class Api:
    """A signed-in REST caller over the Flask test client."""

    def __init__(self, client, token: str):
        self.client = client
        self.token = token

    def _headers(self, headers=None):
        h = {"Authorization": f"Bearer {self.token}"}
        h.update(headers or {})
        return h

    def get(self, path, **kw):
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path, json_body=None, data=None, content_type=None, **kw):
        headers = self._headers(kw.pop("headers", None))
        if json_body is not None:
            return self.client.post(path, data=json.dumps(json_body), content_type="application/json",
                                    headers=headers, **kw)
        return self.client.post(path, data=data, content_type=content_type, headers=headers, **kw)

    def patch(self, path, json_body, **kw):
        return self.client.patch(path, data=json.dumps(json_body), content_type="application/json",
                                 headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path, json_body, **kw):
        return self.client.put(path, data=json.dumps(json_body), content_type="application/json",
                               headers=self._headers(kw.pop("headers", None)), **kw)


def sign_in(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD) -> str:
    resp = client.post("/v1/sessions", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["token"]


# --- forms ------------------------------------------------------------------------------------------

def publish_file(api: Api, project_id: int, path: Path, fallback: str | None = None, publish=True,
                 ignore_warnings=True):
    data = path.read_bytes()
    ctype = {".xlsx": XLSX, ".xls": XLS}.get(path.suffix, "application/xml")
    headers = {"X-XlsForm-FormId-Fallback": fallback} if fallback else {}
    query = f"?publish={'true' if publish else 'false'}&ignoreWarnings={'true' if ignore_warnings else 'false'}"
    return api.post(f"/v1/projects/{project_id}/forms{query}", data=data, content_type=ctype, headers=headers)


@functools.cache
def tiny_xlsform(version: str, label: str = "Tên chủ hộ", form_id: str = "so_ho") -> bytes:
    """A one-question XLSForm (form ID `so_ho`) whose bytes differ with the version and the label. Made once
    per arguments: openpyxl stamps the time of saving into the file, so two makings a second apart differ."""
    from openpyxl import Workbook

    wb = Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["text", "head_name", label])
    settings = wb.create_sheet("settings")
    settings.append(["form_id", "version", "form_title"])
    settings.append([form_id, version, "Sổ hộ"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xform(form_id="thu", version="1", **kw) -> bytes:
    return SIMPLE_XFORM.format(id=form_id, version=version).encode()


def indicators_workbook(indicators, targets, area_field: str = "village") -> bytes:
    """An indicators workbook: its `indicators` rows (name, vi, en, unit, filter, condition), its `targets`
    rows (target_set, vi, en, criterion, indicator, comparator, threshold, level, year) and the area field."""
    from openpyxl import Workbook

    vi, en = "label::Tiếng Việt (vi)", "label::English (en)"
    wb = Workbook()
    ws = wb.active
    ws.title = "indicators"
    ws.append(["name", vi, en, "unit", "filter", "condition"])          # A B C D E F
    for row in indicators:
        ws.append(list(row))
    ws = wb.create_sheet("targets")
    ws.append(["target_set", vi, en, "criterion", "indicator", "comparator", "threshold", "level", "year"])  # A–I
    for row in targets:
        ws.append(list(row))
    ws = wb.create_sheet("settings")
    ws.append(["area_field"])
    ws.append([area_field])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def inputs_xform(form_id: str, title: str, fields: list[tuple[str, str, str]], version: str = "1") -> bytes:
    """An XForm of one input per field, each (name, bind type, Vietnamese label), and the instanceID."""
    ns = ('xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" '
          'xmlns:jr="http://openrosa.org/javarosa"')
    nodes = "".join(f"<{name}/>" for name, _, _ in fields)
    binds = "".join(f'<bind nodeset="/data/{name}" type="{kind}"/>' for name, kind, _ in fields)
    inputs = "".join(f'<input ref="/data/{name}"><label>{label}</label></input>' for name, _, label in fields)
    return (f'<?xml version="1.0"?>\n<h:html {ns}><h:head><h:title>{title}</h:title><model>'
            f'<instance><data id="{form_id}" version="{version}">{nodes}<meta><instanceID/></meta></data></instance>'
            f'{binds}<bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>'
            f"</model></h:head><h:body>{inputs}</h:body></h:html>").encode()


def post_xml(api, project, body, query="?publish=true"):
    return api.post(f"/v1/projects/{project}/forms{query}", data=body, content_type="application/xml")


def app_user(admin, project, *form_ids, name="Tổ công nghệ số thôn 1"):
    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": name}).get_json()
    for f in form_ids:
        assert admin.post(f"/v1/projects/{project}/forms/{f}/assignments/app-user/{au['id']}").get_json() == {"success": True}
    return au


def publish_case(admin, project, case):
    """Publish the case's form, plus the versions its instances were collected with.

    Upstream servers (Ona, Briefcase) stamped versions at publish time that their XLSForms do not
    carry, so each version an instance names is published too — as that server had it. The
    transportation case is left as shipped: its stray versions are the test of refusal."""
    fallback = case.get("pyxform_form_name") or Path(case["upstream_form_name"]).stem
    resp = publish_file(admin, project, CORPUS / case["name"] / case["form_file"], fallback=fallback)
    assert resp.status_code == 200, resp.get_json()
    form_id, published = resp.get_json()["xmlFormId"], {resp.get_json()["version"]}
    base = f"/v1/projects/{project}/forms/{form_id}"
    if case["name"] != "onadata-transportation":
        for version in {i["version"] or "" for i in case.get("instances", [])} - published:
            xml = etree.fromstring(admin.get(f"{base}.xml").data)
            data = xml.find("{*}head/{*}model/{*}instance")[0]
            data.attrib.pop("version", None)
            if version:
                data.set("version", version)
            body = etree.tostring(xml, xml_declaration=True, encoding="utf-8")
            assert admin.post(f"{base}/draft", data=body, content_type="application/xml").status_code == 200
            assert admin.post(f"{base}/draft/publish").status_code == 200
    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "t"}).get_json()
    admin.post(f"{base}/assignments/app-user/{au['id']}")
    return form_id, f"/v1/key/{au['token']}/projects/{project}"


# --- submissions and exports ------------------------------------------------------------------------

def encrypted_envelope() -> bytes:
    return next((ENCRYPTED_CASE / "instances").glob("*.xml")).read_bytes()


def encrypted_form_with_one_submission(admin, client, project):
    case = next(c for c in CORPUS_CASES if c["name"] == "briefcase-encrypted-form")
    form_id, base = publish_case(admin, project, case)
    parts = {"submission.xml.enc": (ENCRYPTED_CASE / "attachments/submission.xml.enc").read_bytes()}
    assert submit(client, base, encrypted_envelope(), parts).status_code == 201
    return f"/v1/projects/{project}/forms/{form_id}"


def table(data: bytes) -> list[dict]:
    """A CSV download's rows, BOM or not."""
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


# --- a project whose households lie in several communes (area limits) ---------------------------------

HP = "DN-HV-HP"
HP_VILLAGES = {"DN-HV-HP-01", "DN-HV-HP-02", "DN-HV-HP-03", "DN-HV-HP-04", "DN-HV-HP-05"}

# (seed, village, members, with a photo)
HOMES = [(1, "DN-HV-HP-01", 3, True), (2, "DN-HV-HP-01", 4, False), (3, "DN-HV-HP-02", 2, False),
         (4, "DN-TK-TG-01", 4, True), (5, "DN-TK-TG-02", 3, False), (6, "DN-LC-HHB-01", 2, False),
         (7, "XX-99", 2, False)]



class Field:
    """The project as the tests find it."""

    def __init__(self, admin, survey, project, households):
        self.admin, self.survey, self.project, self.households = admin, survey, project, households
        self.village = {h.instance_id: h.village for h in households}
        self.inside = {h.instance_id for h in households if h.village in HP_VILLAGES}
        self.outside = set(self.village) - self.inside
        self.members_inside = sum(len(h.members) for h in households if h.village in HP_VILLAGES)


def web_user(app, client, email: str) -> tuple[Api, int]:
    """A web user signed in (a session made directly: sign-in itself is tested elsewhere)."""
    from server.models.accounts import create_session, create_user

    with app.extensions["hamlet.sessionmaker"]() as s:
        user = create_user(s, email, None)
        token = create_session(s, user, hours=1).token
        s.commit()
        return Api(client, token), user.id


def give(admin, project: int, role: str, actor_id: int, areas: list[str] | None = None) -> None:
    if areas is not None:  # areas first, so the role never reaches the whole project even for a moment
        resp = admin.put(f"/v1/projects/{project}/assignments/{actor_id}/areas", {"areas": areas})
        assert resp.status_code == 200, resp.get_json()
    assert admin.post(f"/v1/projects/{project}/assignments/{role}/{actor_id}").status_code == 200


def listed(api: Api, survey: str) -> set[str]:
    resp = api.get(f"{survey}/submissions")
    assert resp.status_code == 200, resp.get_json()
    ids = {s["instanceId"] for s in resp.get_json()}
    assert int(resp.headers["X-Total-Count"]) == len(ids)
    return ids


# --- a real server in a subprocess --------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(settings, instance: Path, **extra: str) -> dict[str, str]:
    """The environment a Hamlet server process needs to serve the test's database and blobs."""
    return {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HAMLET_DATABASE_URL": settings.database_url,
            "HAMLET_DATA_DIR": str(settings.data_dir), "HAMLET_SECRET_KEY": "test-secret",
            "HAMLET_INSTANCE_DIR": str(instance), "HAMLET_ODK_VALIDATE": "off", **extra}


@contextmanager
def running(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    """`command` started with its output in `log`, once it accepts connections on `port` (30 s at most);
    yields the process; always stopped (terminated, then killed)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- a real SMTP server on loopback -------------------------------------------------------------------

class Mailbox:
    """What an aiosmtpd server on loopback received (the `mailbox` fixture runs it): each message parsed,
    with the envelope's recipients."""

    def __init__(self):
        import threading

        self.messages: list = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, count: int, timeout: float = 10):
        """The messages once `count` have arrived; fails after `timeout` seconds."""
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.messages) >= count, timeout), \
                f"{len(self.messages)} message(s) arrived, not {count}"
        return self.messages

    @staticmethod
    def text(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    @classmethod
    def link(cls, message) -> str:
        """The one link in a message that carries a token."""
        import re

        found = re.findall(r"https?://\S+\?token=[A-Za-z0-9_-]+", cls.text(message))
        assert len(found) == 1, cls.text(message)
        return found[0]

    @classmethod
    def token(cls, message) -> str:
        return cls.link(message).rsplit("token=", 1)[1]


def forget_recent_lookups() -> None:
    """Empty the one-second memos of keys, tokens and Digest callers (server/models/recent.py), as a second
    passing would: the next request goes through Flask's full checks."""
    from server.models import recent

    for remembered in recent._caches:
        remembered.clear()


def downloads_by_database_and_by_python(admin, paths: list[str], monkeypatch, used: list | None = None
                                        ) -> tuple[dict, dict]:
    """The downloads made by the database (`used`: whether copy_csv.cells_usable said it could, each time)
    and by Python, for holding the two paths of an export to the same bytes."""
    from server.exports import copy_csv

    cells_usable = copy_csv.cells_usable

    def asked(*args, **kwargs):
        found = cells_usable(*args, **kwargs)
        if used is not None:
            used.append(found)
        return found

    monkeypatch.setattr(copy_csv, "cells_usable", asked)
    by_database = {p: admin.get(p).data for p in paths}
    monkeypatch.setattr(copy_csv, "usable", lambda *args, **kwargs: False)
    monkeypatch.setattr(copy_csv, "cells_usable", lambda *args, **kwargs: False)
    by_python = {p: admin.get(p).data for p in paths}
    return by_database, by_python


class sessions_begun:  # a context manager read as a phrase: `with sessions_begun(app) as begun`
    """Counts the ORM Session transactions of `app` begun while it is entered (intake's short cut stores
    in a lean transaction without one, server/db.py `ConnectionOnly`). Only this app's sessionmaker is
    watched, so another app's threads cannot change the count."""

    def __init__(self, app):
        self.sessions = app.extensions["hamlet.sessionmaker"]
        self.count = 0

    def _begun(self, *_):
        self.count += 1

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.sessions, "after_begin", self._begun)
        return self

    def __exit__(self, *_):
        from sqlalchemy import event

        event.remove(self.sessions, "after_begin", self._begun)
