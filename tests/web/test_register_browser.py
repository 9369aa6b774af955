"""The register pages in a real browser (Debian's Chromium at 360 × 740, as test_browser.py): from the
project to a list and one household, every tap target at least 44 × 44 CSS px (the header and breadcrumbs too), nothing wider than the
phone (the table scrolls inside its card), and a manager resolving a conflict. Screenshots land in
tests/web/artifacts/ (register-*.png)."""
from __future__ import annotations

import pytest

from .helpers import sign_in, small_targets
from .register_data import three_households


@pytest.fixture
def reg(admin, client, project):
    r = three_households(admin, client, project)
    r.visit("Trần Thị Bình", 1, 5)
    r.visit("Trần Thị Bình", 1, 6, "no")     # from the same base: a conflict
    return r


def _fits_the_phone(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width}px wide on a 360px screen"


def test_the_register_and_a_household_read_and_tap_well_on_a_phone(page, reg, shot):
    sign_in(page)
    page.goto(f"/projects/{reg.project}")
    page.click("nav.tabs >> text=Danh sách hộ")
    page.click("a.register-link")
    page.wait_for_url(f"**{reg.base}")
    assert page.locator("table.register tbody tr").count() == 3
    page.click("details.filters > summary")
    page.select_option("#f-area", "DN-HV-HP")
    page.click("details.filters button[type=submit]")
    page.wait_for_url("**area=DN-HV-HP**")
    assert page.locator("table.register tbody tr").count() == 2
    assert small_targets(page) == []
    _fits_the_phone(page)
    scroller = page.locator("table.register").locator("xpath=..")
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")    # the table scrolls inside its card
    shot(page, "register-01-list")
    shot(page, "register-01-list-top", full_page=False)

    page.click("table.register >> text=Hộ Trần Thị Bình")
    page.wait_for_url(f"**{reg.page_of('Trần Thị Bình')}")
    assert page.inner_text("h1") == "Hộ Trần Thị Bình"
    assert page.locator("#history li[data-version]").count() == 3
    assert page.locator(".entity-conflict .badge").inner_text() == "Xung đột"
    assert small_targets(page) == []
    _fits_the_phone(page)
    shot(page, "register-02-household")

    page.click("#conflict button[type=submit]")
    page.wait_for_url(f"**{reg.page_of('Trần Thị Bình')}")
    assert page.locator("p.notice.ok").inner_text() == "Đã xử lý xung đột."
    assert page.locator("#conflict").count() == 0
    assert small_targets(page) == []
    _fits_the_phone(page)
    shot(page, "register-03-resolved")

    page.click("form.lang button")
    page.wait_for_load_state()
    assert page.inner_text("#history h2") == "Change history"
    assert "Head of household" in page.inner_text("#properties")
    _fits_the_phone(page)
    shot(page, "register-04-english")
