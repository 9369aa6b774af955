"""A real app over a real database: SQLite by default, PostgreSQL when HAMLET_TEST_DATABASE_URL says so."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from server import create_app
from server.cli import upgrade_database
from server.config import Settings, normalise_database_url
from server.db import Base

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"  # copied in, with SOURCES.md and LICENSES/
XLSFORMS = Path(__file__).resolve().parents[1] / "xlsforms"
ADMIN_EMAIL = "admin@hamlet.test"
ADMIN_PASSWORD = "correct horse battery"


def pytest_report_header(config):
    return f"hamlet database: {_database_url(Path('/tmp'))}"


def _database_url(tmp: Path) -> str:
    url = os.environ.get("HAMLET_TEST_DATABASE_URL")
    return normalise_database_url(url) if url else f"sqlite:///{tmp / 'hamlet-test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = _database_url(tmp_path_factory.mktemp("db"))
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade_database(url)  # the migrations are under test too
    return url


def _empty_all_tables(app) -> None:
    import re

    from sqlalchemy import inspect

    engine = app.extensions["hamlet.engine"]
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    data_tables = [t for t in inspect(engine).get_table_names() if re.fullmatch(r"(d\d+(_r\d+)?|i[abc]\d+)", t)]
    with engine.begin() as conn:
        for t in sorted(data_tables, reverse=True):  # repeat tables (d1_r1) before their root (d1)
            conn.execute(text(f"DROP TABLE {t}"))
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for t in tables:
                conn.execute(text(f"DELETE FROM {t}"))
            conn.execute(text("PRAGMA foreign_keys=ON"))


def pytest_configure(config):
    config.addinivalue_line("markers", "behind_proxy: serve as behind one proxy (HAMLET_TRUSTED_PROXIES=1), "
                            "so X-Forwarded-* headers are believed")


@pytest.fixture
def settings(database_url, tmp_path, request) -> Settings:
    """The server as deployed by default (no proxy trusted), or behind one proxy for `@pytest.mark.behind_proxy`."""
    proxies = 1 if request.node.get_closest_marker("behind_proxy") else 0
    return Settings(database_url=database_url, data_dir=tmp_path / "data", secret_key="test-secret",
                    admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD, odk_validate="off",
                    trusted_proxies=proxies)


@pytest.fixture(scope="session")
def admin_password_hash() -> str:
    """scrypt is slow on purpose; hash the fixture admin's password once per run."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(ADMIN_PASSWORD, method="scrypt")


@pytest.fixture
def app(settings, admin_password_hash):
    from dataclasses import replace

    application = create_app(replace(settings, admin_email=None, admin_password=None))
    application.config["HAMLET"] = settings
    _empty_all_tables(application)
    from server.models.accounts import create_user

    with application.extensions["hamlet.sessionmaker"]() as s:
        admin = create_user(s, ADMIN_EMAIL, None, site_role="admin")
        admin.password_hash = admin_password_hash
        s.commit()
    yield application
    application.extensions["hamlet.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


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


@pytest.fixture
def admin(client, app) -> Api:
    """Signed in without paying for a password check; sign-in itself is tested in test_accounts."""
    from server.models.accounts import create_session, user_by_email

    with app.extensions["hamlet.sessionmaker"]() as s:
        token = create_session(s, user_by_email(s, ADMIN_EMAIL), hours=1).token
        s.commit()
    return Api(client, token)


@pytest.fixture
def project(admin) -> int:
    resp = admin.post("/v1/projects", json_body={"name": "Phường Thạc Gián"})
    assert resp.status_code == 200
    return resp.get_json()["id"]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS = "application/vnd.ms-excel"


def publish_file(api: Api, project_id: int, path: Path, fallback: str | None = None, publish=True,
                 ignore_warnings=True):
    data = path.read_bytes()
    ctype = {".xlsx": XLSX, ".xls": XLS}.get(path.suffix, "application/xml")
    headers = {"X-XlsForm-FormId-Fallback": fallback} if fallback else {}
    query = f"?publish={'true' if publish else 'false'}&ignoreWarnings={'true' if ignore_warnings else 'false'}"
    return api.post(f"/v1/projects/{project_id}/forms{query}", data=data, content_type=ctype, headers=headers)


@pytest.fixture
def live_server(app):
    """The app on a real port, for real HTTP clients (pyodk, requests)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def odk(live_server, tmp_path, project):
    """The real pyodk client, signed in as the administrator, its default project the fixture's."""
    pyodk_client = pytest.importorskip("pyodk.client")
    config = tmp_path / "pyodk_config.toml"
    config.write_text(f'[central]\nbase_url = "{live_server}"\nusername = "{ADMIN_EMAIL}"\n'
                      f'password = "{ADMIN_PASSWORD}"\ndefault_project_id = {project}\n')
    with pyodk_client.Client(config_path=config, cache_path=tmp_path / "pyodk_cache.toml") as client:
        yield client
