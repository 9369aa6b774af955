"""Every page a signed-in manager reaches, in a real browser on a 360 px phone and a 1366 px laptop
(issue 15, item 6): every visible tap target — links, buttons, fields, menus, a checkbox's label, the
breadcrumbs and the header too — is at least 44 × 44 CSS px, the page is never wider than the screen
(a table scrolls inside its own card), and the form's tabs all stay on screen. Screenshots land in
tests/web/artifacts/every-{width}-{page}.png (git-ignored) to be looked at."""
from __future__ import annotations

import json

import pytest

from helpers import FORM

from .helpers import sign_in, small_targets
from .register_data import GIANG_NAM_1, load

# The innermost elements whose right edge passes the screen's, to say what widens a page.
STICKING_OUT = """(w) => Array.from(document.querySelectorAll('body *'))
  .filter(el => el.getBoundingClientRect().right > w + 0.5 ||
                (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible'))
  .filter(el => !el.closest('.scroll'))
  .slice(-5).map(el => el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 40))"""
PHONE, LAPTOP = {"width": 360, "height": 740}, {"width": 1366, "height": 800}


@pytest.fixture
def pages(field, client) -> dict[str, str]:
    """Name: path of each page: the shipped survey with its households and a draft, and a register of
    households in a second project."""
    p = f"/projects/{field.project}"
    f = f"{p}/forms/{FORM}"
    assert field.admin.post(f"{field.survey}/draft").status_code == 200
    app_user = field.admin.get(f"/v1/projects/{field.project}/app-users").get_json()[0]["id"]
    reg = load(field.admin, client, field.admin.post("/v1/projects", {"name": "Sổ hộ"}).get_json()["id"])
    reg.register("Nguyễn Văn An", GIANG_NAM_1, 4)
    reg.register("Trần Thị Bình", GIANG_NAM_1, 3)
    reg.visit("Trần Thị Bình", 1, 5)
    home = next(h for h in field.households if h.village == "DN-HV-HP-01")
    return {
        "projects": "/projects", "project": p, "form": f, "preview": f"{f}/preview", "versions": f"{f}#versions",
        "submissions": f"{f}/submissions", "submission": f"{f}/submissions/{home.instance_id}",
        "downloads": f"{f}/downloads", "dashboard": f"{f}/dashboard", "webhooks": f"{f}/webhooks",
        "dashboard-village": f"{f}/dashboard?area=DN-HV-HP-01", "app-users": f"{p}/app-users",
        "app-user": f"{p}/app-users/{app_user}", "roles": f"{p}/roles", "users": "/users",
        "registers": f"/projects/{reg.project}/entity-lists", "register": reg.base,
        "household": reg.page_of("Trần Thị Bình"), "account": "/account/password", "audit-log": "/audit-log",
        "public-links": f"{f}/public-links" if field.admin.post(
            f"{field.survey}/public-links", {"displayName": "Hộ tự khai", "once": True}).status_code == 200 else ""}


@pytest.mark.parametrize("screen", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_every_page_taps_and_fits(page, pages, screen, shot):
    page.set_viewport_size(screen)
    sign_in(page)
    problems: dict[str, object] = {}
    for name, path in pages.items():
        resp = page.goto(path)
        assert resp is not None and resp.status == 200, (name, resp and resp.status)
        small = small_targets(page)
        if small:
            problems[f"{name}: small"] = small
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > screen["width"]:
            problems[f"{name}: wider"] = [width, *page.evaluate(STICKING_OUT, screen["width"])]
        shot(page, f"every-{screen['width']}-{name}")
    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)


def test_the_forms_tabs_all_stay_on_a_phones_screen(page, pages, shot):
    sign_in(page)
    page.goto(pages["form"])
    tabs = page.locator("nav.tabs a")
    assert tabs.count() >= 4
    for i in range(tabs.count()):
        box = tabs.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, tabs.nth(i).inner_text()
    assert "Tiến độ" in page.inner_text("nav.tabs")
    shot(page, "every-360-form-tabs", full_page=False)
