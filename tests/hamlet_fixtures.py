"""The fixtures every test may ask for, loaded as a plugin by conftest.py: a real app over a real database
(SQLite by default, PostgreSQL when HAMLET_TEST_DATABASE_URL says so), a signed-in administrator, a project,
the app on a real port, the real pyodk client, the shipped household survey with households sent to it,
and Central's CSV test harness."""
from __future__ import annotations

import random
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

import server
from central import Central
from collect import submit
from helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    AREAS,
    FORM,
    HOMES,
    HP,
    SURVEY,
    XLSFORMS,
    XLSX,
    Api,
    Field,
    Mailbox,
    database_url_for,
    free_port,
    give,
    running,
    server_env,
    web_user,
)
from server import create_app
from server.cli import upgrade_database
from server.config import S3Settings, Settings
from server.db import Base, make_engine
from server.models import recent
from server.models.accounts import create_session, create_user, user_by_email
from server.synthetic import random_household, to_xml


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = database_url_for(tmp_path_factory.mktemp("db"))
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade_database(url)  # the migrations are under test too
    return url


def _empty_all_tables(app) -> None:
    engine = app.extensions["hamlet.engine"]
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    data_tables = [t for t in inspect(engine).get_table_names() if re.fullmatch(r"(d\d+(_r\d+)?|i[abc]\d+)", t)]
    with engine.begin() as conn:
        for t in sorted(data_tables, reverse=True):  # repeat tables (d1_r1) before their root (d1)
            conn.execute(text(f"DROP TABLE {t}"))
        if engine.dialect.name == "postgresql":
            # DELETE and the sequences set back, as TRUNCATE … RESTART IDENTITY left them: TRUNCATE makes new
            # files for every table, 0.25-0.3 s a test, where deleting the few rows a test wrote takes ms. One
            # statement, so that the foreign keys (forms and form_defs name each other) are checked at its end.
            deletes = [f"emptied_{i} AS (DELETE FROM {t})" for i, t in enumerate(tables[:-1])]
            conn.execute(text(f"WITH {', '.join(deletes)} DELETE FROM {tables[-1]}"))
            conn.execute(text("SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
                              "FROM pg_sequences WHERE schemaname = current_schema()"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for t in tables:
                conn.execute(text(f"DELETE FROM {t}"))
            conn.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture(scope="session", autouse=True)
def url_builders_made_once() -> Iterator[None]:
    """Each test makes its own app, and most of create_app's time went to werkzeug writing, compiling and
    exec'ing the same ~240 URL-building functions again (0.15–0.3 s an app). The function werkzeug makes
    depends only on the rule and its defaults, so the run keeps each one and gives it to the next app's rule."""
    from werkzeug.routing.rules import Rule

    made: dict = {}
    compile_builder = Rule._compile_builder

    def builder(rule: Rule, append_unknown: bool = True):
        assert rule.map is not None
        key = (append_unknown, rule.rule, rule.host if rule.map.host_matching else rule.subdomain, rule.merge_slashes,
               tuple(rule._trace), tuple(sorted((k, repr(v)) for k, v in (rule.defaults or {}).items())),
               tuple((name, type(c)) for name, c in rule._converters.items()))
        if key not in made:
            made[key] = compile_builder(rule, append_unknown)
        return made[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", builder)
        yield


@pytest.fixture(scope="session", autouse=True)
def xlsforms_converted_once() -> Iterator[None]:
    """pyxform takes 0.1–0.3 s for the household survey, and hundreds of tests publish the same workbook
    bytes. Its conversion is a function of the bytes, the file type and the fallback ID, so each successful
    one is kept for the run (a copy handed out each time); a refused workbook is converted, and refused, anew."""
    from server.models import form_versions

    converted: dict = {}
    convert = form_versions.convert

    def convert_once(data: bytes, file_type: str, fallback_id: str | None):
        key = (data, file_type, fallback_id)
        if key not in converted:
            converted[key] = convert(data, file_type, fallback_id)
        return replace(converted[key], warnings=list(converted[key].warnings))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(form_versions, "convert", convert_once)
        yield


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[str]:
    """An S3 emulator (moto's standalone server) on a loopback port: the S3 store's code talks HTTP to it
    exactly as to a real bucket. Its endpoint URL. It runs in a process of its own, as a bucket does, so what
    it allocates while sending never counts in a test's measure of this process's memory."""
    import os

    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    with running([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], dict(os.environ), port, log):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def s3_bucket(s3_server) -> S3Settings:
    """A new, empty bucket of the emulator, and the settings that name it."""
    import boto3

    found = S3Settings(bucket=f"hamlet-{uuid.uuid4().hex[:12]}", endpoint=s3_server, access_key="test",
                       secret_key="test", region="us-east-1")
    boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket=found.bucket)
    return found


@pytest.fixture
def settings(database_url, tmp_path, request) -> Settings:
    """The server as deployed by default (no proxy trusted), or behind one proxy for `@pytest.mark.behind_proxy`,
    with its blobs in an emulated S3 bucket for `@pytest.mark.s3`."""
    proxies = 1 if request.node.get_closest_marker("behind_proxy") else 0
    s3 = request.getfixturevalue("s3_bucket") if request.node.get_closest_marker("s3") else None
    return Settings(database_url=database_url, data_dir=tmp_path / "data", secret_key="test-secret",
                    admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD, odk_validate="off",
                    trusted_proxies=proxies, s3=s3)


@pytest.fixture(scope="session")
def admin_password_hash() -> str:
    """scrypt is slow on purpose; hash the fixture admin's password once per run."""
    return generate_password_hash(ADMIN_PASSWORD, method="scrypt")


@pytest.fixture(scope="session")
def app_engine(database_url) -> Iterator[Engine]:
    """The one engine the `app` fixture's apps share. SQLAlchemy keeps the SQL it has compiled per engine, so
    an engine per test compiled every statement afresh in every test. Each test's app still starts on a
    new pool: the `app` fixture disposes of it afterwards, as it did of its own engine."""
    shared = make_engine(database_url)
    yield shared
    shared.dispose()


@pytest.fixture
def app(settings, admin_password_hash, app_engine, database_url):
    with pytest.MonkeyPatch.context() as patch:  # other apps a test makes keep engines of their own
        patch.setattr(server, "make_engine", lambda url: app_engine if url == database_url else make_engine(url))
        application = create_app(replace(settings, admin_email=None, admin_password=None))
    application.config["HAMLET"] = settings
    _empty_all_tables(application)
    for remembered in recent._caches:  # the hot path's one-second memory of rows just deleted
        remembered.clear()
    with application.extensions["hamlet.sessionmaker"]() as s:
        admin = create_user(s, ADMIN_EMAIL, None, site_role="admin")
        admin.password_hash = admin_password_hash
        s.commit()
    yield application
    application.extensions["hamlet.jobs"].stop()  # its in-process worker, if a job started one
    application.extensions["hamlet.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin(client, app) -> Api:
    """Signed in without paying for a password check; sign-in itself is tested in test_accounts."""
    with app.extensions["hamlet.sessionmaker"]() as s:
        token = create_session(s, user_by_email(s, ADMIN_EMAIL), hours=1).token
        s.commit()
    return Api(client, token)


@pytest.fixture
def project(admin) -> int:
    resp = admin.post("/v1/projects", json_body={"name": "Phường Thạc Gián"})
    assert resp.status_code == 200
    return resp.get_json()["id"]


@pytest.fixture
def flask_calls(app, monkeypatch):
    """How many requests reached Flask's dispatch (the middlewares in front of it answer the others)."""
    calls = []
    dispatch = app.full_dispatch_request

    def counted():
        calls.append(1)
        return dispatch()

    monkeypatch.setattr(app, "full_dispatch_request", counted)
    return calls


@pytest.fixture
def live_server(app):
    """The app on a real port, for real HTTP clients (pyodk, requests, Chromium). Its teardown waits for the
    requests still running — a page the browser left mid-load goes on computing — before the next test
    empties the tables they write to: the database is the same file (or the same PostgreSQL database) from
    test to test, so such a request could otherwise hold its locks into the next test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = False  # so that socketserver keeps a list of the request threads
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    for request in list(getattr(server, "_threads", None) or []):
        request.join(timeout=10)
    server.block_on_close = False  # joined above, with a limit; server_close must not wait again
    server.server_close()
    thread.join(timeout=5)


MAIL_FROM = "Hamlet <hamlet@hamlet.test>"
BASE_URL = "https://hamlet.test"


@pytest.fixture
def mailbox(app):
    """A real SMTP server (aiosmtpd) on loopback, and the app sending its email there, links on BASE_URL."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config["HAMLET"] = replace(app.config["HAMLET"], smtp_url=f"smtp://127.0.0.1:{controller.port}",
                                   mail_from=MAIL_FROM, base_url=BASE_URL)
    yield box
    controller.stop()


@pytest.fixture
def gunicorn_log(tmp_path) -> Path:
    """Where the `gunicorn` fixture's server writes its error and access logs."""
    return tmp_path / "gunicorn.log"


@pytest.fixture
def gunicorn(app, settings, tmp_path, gunicorn_log):
    """The app under a real gunicorn with the shipped server/gunicorn_config.py, as the Procfile and
    `hamlet serve` run it, on 127.0.0.1 with the test's proxy setting. Yields its port; always stopped."""
    port = free_port()
    env = server_env(settings, tmp_path / "instance", HAMLET_MAX_FORM_BYTES=str(settings.max_form_bytes),
                     HAMLET_TRUSTED_PROXIES=str(settings.trusted_proxies))
    with running([sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_config", "--bind", f"127.0.0.1:{port}",
                  "--workers", "1", "--threads", "2", "server:create_app()"], env, port, gunicorn_log):
        yield port


@pytest.fixture
def odk(live_server, tmp_path, project):
    """The real pyodk client, signed in as the administrator, its default project the fixture's."""
    pyodk_client = pytest.importorskip("pyodk.client")
    config = tmp_path / "pyodk_config.toml"
    config.write_text(f'[central]\nbase_url = "{live_server}"\nusername = "{ADMIN_EMAIL}"\n'
                      f'password = "{ADMIN_PASSWORD}"\ndefault_project_id = {project}\n')
    with pyodk_client.Client(config_path=config, cache_path=tmp_path / "pyodk_cache.toml") as client:
        yield client


# --- the shipped household survey --------------------------------------------------------------

@pytest.fixture
def survey(admin, project):
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=SURVEY.read_bytes(), content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    return f"/v1/projects/{project}/forms/{FORM}"


@pytest.fixture
def key_base(admin, project, survey):
    """Collect's server URL for an app user assigned to the survey: /v1/key/{token}/projects/{p}."""
    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    admin.post(f"{survey}/assignments/app-user/{au['id']}")
    return f"/v1/key/{au['token']}/projects/{project}"


@pytest.fixture
def households(admin, client, project, survey, key_base):
    """Five households in three villages of two communes, 2–4 members each."""
    admin.client.put(f"/v1/projects/{project}/areas", data=AREAS.encode(), content_type="text/csv",
                     headers={"Authorization": f"Bearer {admin.token}"})
    made = []
    for seed, village, members in [(1, "DN-HV-HP-01", 3), (2, "DN-HV-HP-01", 4), (3, "DN-HV-HP-02", 2),
                                   (4, "DN-HV-HN-01", 4), (5, "DN-HV-HN-01", 3)]:
        h = random_household(random.Random(seed), village, members=members)
        h.village, h.commune = village, village.rsplit("-", 1)[0]
        resp = submit(client, key_base, to_xml(h))
        assert resp.status_code == 201, resp.data
        made.append(h)
    return made


# --- Central's CSV cases --------------------------------------------------------------------------

@pytest.fixture
def central(app, admin, project) -> Central:
    return Central(app, admin, project)


@pytest.fixture
def alice(central):
    """Central's fixture user Alice (actor 5), an administrator, signed in."""
    return central.actor(5, "Alice", admin=True)


@pytest.fixture
def field(admin, client, project, survey, key_base) -> Field:
    """The shipped survey with the sample registry, its indicators workbook, and HOMES sent to it."""
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=(XLSFORMS / "areas.csv").read_bytes(),
                            content_type="text/csv", headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()
    resp = admin.client.put(f"{survey}/indicators", data=(XLSFORMS / "household_digital_targets.xlsx").read_bytes(),
                            content_type=XLSX, headers=admin._headers())
    assert resp.status_code == 200 and resp.get_json()["areaField"] == "village"
    made = []
    for seed, village, members, photo in HOMES:
        h = random_household(random.Random(seed), village, members=members, photo=photo)
        resp = submit(client, key_base, to_xml(h), {h.photo: f"photo of {seed}".encode()} if photo else None)
        assert resp.status_code == 201, resp.data
        made.append(h)
    return Field(admin, survey, project, made)


@pytest.fixture
def viewer(app, client, field) -> Api:
    """A viewer limited to the commune of Hòa Phước."""
    api, actor_id = web_user(app, client, "hoaphuoc@example.vn")
    give(field.admin, field.project, "viewer", actor_id, [HP])
    api.actor_id = actor_id
    return api


@pytest.fixture
def wide_viewer(app, client, field) -> Api:
    """A viewer of the whole project (no areas)."""
    api, actor_id = web_user(app, client, "danang@example.vn")
    give(field.admin, field.project, "viewer", actor_id)
    return api


@pytest.fixture
def commune_manager(app, client, field):
    """A project manager limited to the commune of Hòa Phước."""
    api, actor_id = web_user(app, client, "truongxa@example.vn")
    give(field.admin, field.project, "manager", actor_id, [HP])
    api.actor_id = actor_id
    return api
