"""Page tests: a signed-in browser-like client over the test app, and a real Chromium for the browser tests.

The browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright's Python package;
no browser is ever downloaded (never `playwright install`). Without /usr/bin/chromium they are
skipped with a message saying so. Screenshots go to tests/web/artifacts/ (git-ignored), or to the folder
HAMLET_TEST_ARTIFACTS names (keep them out of the worktree: HAMLET_TEST_ARTIFACTS=/tmp/shots)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from .helpers import Browserish

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("HAMLET_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")
PHONE = {"width": 360, "height": 740}


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
