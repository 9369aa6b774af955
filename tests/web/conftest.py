"""Page tests: a signed-in browser-like client over the test app, and a real Chromium for the browser tests.

The browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright's Python package;
no browser is ever downloaded (never `playwright install`). Without /usr/bin/chromium they are
skipped with a message saying so. Screenshots go to tests/web/artifacts/ (git-ignored)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, XLSFORMS

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
PHONE = {"width": 360, "height": 740}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

__all__ = ["ADMIN_EMAIL", "ADMIN_PASSWORD", "XLSFORMS", "csrf_of", "make_user"]


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def make_user(app, email: str, password_hash: str, role: str | None = None, project_id: int | None = None,
              language: str | None = None) -> int:
    """A web user with the fixture admin's password (its scrypt hash is computed once per run)."""
    from server.models.accounts import ProjectAssignment, create_user

    with app.extensions["hamlet.sessionmaker"]() as s:
        user = create_user(s, email, None, email.split("@")[0])
        user.password_hash = password_hash
        user.language = language
        if role:
            s.add(ProjectAssignment(actor_id=user.id, project_id=project_id, role=role))
        s.commit()
        return user.id


class Browserish:
    """The Flask test client used as a browser would: cookies kept, CSRF token read from each page."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    def get(self, path, **kw):
        resp = self.client.get(path, **kw)
        m = _CSRF.search(resp.get_data(as_text=True))
        if m:
            self.csrf = m.group(1)
        return resp

    def post(self, path, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=data, **kw)

    def sign_in(self, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
        self.get("/sign-in")
        resp = self.post("/sign-in", {"email": email, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[-500:]
        self.get("/projects")
        return self


@pytest.fixture
def web(client) -> Browserish:
    return Browserish(client)


@pytest.fixture
def signed_in(web) -> Browserish:
    return web.sign_in()


# --- the real browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium), "
                    "so the browser tests did not run")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                   "(pip install -e '.[test]'), so the browser tests did not run")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(viewport=PHONE, base_url=live_server, device_scale_factor=2)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@pytest.fixture
def shot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
