"""The progress dashboard in a real browser (Debian's Chromium at 360 × 740, as test_browser.py): it
renders, a click drills down to a commune, the language switch changes how numbers are written, and
nothing is wider than the phone. Screenshots land in tests/web/artifacts/ (dashboard-*.png)."""
from __future__ import annotations

import re

import pytest

from server.web import i18n

from .dashboard_data import load
from .helpers import sign_in


@pytest.fixture
def data(admin, client, app, project):
    return load(admin, client, app, project)


def _fits_the_phone(page) -> None:
    """No horizontal scrolling of the page itself (tables may scroll inside their box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width}px wide on a 360px screen"


def test_the_dashboard_renders_and_drills_down_to_a_commune(page, data, shot):
    sign_in(page)
    page.click("text=Phường Thạc Gián")
    page.click("nav.tabs >> text=Tiến độ")   # the project's tab; one form has indicators: straight to it
    page.wait_for_url(f"**{data.page}")
    assert page.inner_text("h1").startswith("Phường Thạc Gián")   # the project's name: the whole project
    assert page.locator("li.hbar-row").count() == 14  # no target set is for the whole project: every indicator
    assert page.locator("li.hbar-row svg.hbar rect.value").count() >= 1
    marks = page.locator("#map svg a.mark")     # a mark per province, sized by its households
    assert sum(int(marks.nth(i).get_attribute("data-households")) for i in range(marks.count())) == data.households
    assert page.locator("#progress figure.days rect").count() == 7
    _fits_the_phone(page)
    shot(page, "dashboard-01-project")
    shot(page, "dashboard-01-project-top", full_page=False)

    page.click("table.areas >> text=Thành phố Đà Nẵng")
    page.wait_for_url(re.compile(r"area=DN(&|$)"))
    page.click("table.areas >> text=Huyện Hòa Vang")
    page.wait_for_url(re.compile(r"area=DN-HV(&|$)"))
    page.click("table.areas >> text=Xã Hòa Phước")
    page.wait_for_url(re.compile(r"area=DN-HV-HP(&|$)"))
    assert page.inner_text("h1").startswith("Xã Hòa Phước")
    assert page.inner_text("nav.trail") == "Cả dự án › Thành phố Đà Nẵng › Huyện Hòa Vang › Xã Hòa Phước"
    summary = page.inner_text("#coverage-summary .stat-value")
    assert re.fullmatch(r"\d+ trên 3\.800 \(\d,\d%\)", summary), summary      # 3,800 expected: low coverage
    assert page.locator("#coverage-summary .badge.low").count() == 1
    assert page.locator("table.areas tbody tr").count() == 5                    # its villages
    # Judged by Đà Nẵng's commune standard, the one for it, and too few households for a verdict.
    assert page.locator("li.hbar-row").count() == 5
    assert "· Xã hội số cấp xã – Đà Nẵng 2023 ·" in page.inner_text("h1 + p.muted")
    assert page.inner_text("#achieved .target-origin") == "bộ tiêu chí áp dụng cho khu vực này"
    assert page.inner_text("#achieved .criteria-met") == "0/5 tiêu chí đạt"
    assert page.locator("li.hbar-row .badge", has_text="chưa đủ dữ liệu").count() == 5
    _fits_the_phone(page)
    shot(page, "dashboard-02-commune")
    shot(page, "dashboard-02-commune-top", full_page=False)

    page.click("table.areas >> text=Thôn Quá Giáng 1")
    page.wait_for_url(re.compile(r"area=DN-HV-HP-01(&|$)"))
    assert page.locator("#follow-up ol.follow > li").count() > 0
    assert page.locator("#follow-up .badge.missed", has_text="có thể trùng").count() >= 1
    _fits_the_phone(page)
    shot(page, "dashboard-03-village")


def test_the_language_switch_changes_how_numbers_are_written(page, data, admin, shot):
    sign_in(page)
    page.goto(data.page + "?targetSet=&area=DN-HV-HP")
    api = admin.get(f"{data.form}/indicators?area=DN-HV-HP&level=commune").get_json()
    # An indicator whose value has a decimal to write (75,4% against 75.4%).
    entry = next(i for i in api["areas"][0]["indicators"] if i["value"] and round(i["value"], 1) != round(i["value"]))
    name, value = entry["name"], entry["value"]
    row = page.locator(f"li.hbar-row[data-indicator={name}]")
    shown_vi = row.locator(".hbar-value .value").inner_text()
    assert shown_vi == i18n.percent(value, "vi") and "," in shown_vi
    shot(page, "dashboard-04-vietnamese", full_page=False)
    page.click("form.lang button")
    page.wait_for_load_state()
    assert "area=DN-HV-HP" in page.url
    shown_en = page.locator(f"li.hbar-row[data-indicator={name}]").locator(".hbar-value .value").inner_text()
    assert shown_en == i18n.percent(value, "en") and "." in shown_en
    assert shown_en.replace(".", ",") == shown_vi
    assert page.inner_text("nav.trail").startswith("Whole project")
    assert "of 3,800" in page.inner_text("#coverage-summary .stat-value")
    _fits_the_phone(page)
    shot(page, "dashboard-05-english")
    page.click("form.lang button")   # back to Vietnamese for the tests that follow
