"""The form page's designer parts in a real browser (Debian's Chromium at 360 × 740, as test_browser.py):
loading an indicators workbook with mistakes, then the right one, starting a draft that proposes a free
version, and the XLSForm links — each control at least 44 × 44 CSS px and nothing wider than the phone.
Screenshots land in tests/web/artifacts/ (form-designer-*.png)."""
from __future__ import annotations

from datetime import datetime

from openpyxl import load_workbook

from helpers import FORM, XLSFORMS
from server.web.i18n import TIMEZONE

from .helpers import sign_in

# The controls this page adds for form designers; the header, breadcrumbs and tabs are measured by the
# pages' own browser tests.
DESIGNER_TARGETS = """() => Array.from(document.querySelectorAll(
    '.designer button, .designer input[type=file], input#version, a.xlsform-link, #indicators a, #indicators button,'
    + ' #indicators input[type=file], .designer-links a'))
  .map(el => { const r = el.getBoundingClientRect();
               return {what: (el.tagName + ' ' + (el.textContent || el.name || el.id || '')).trim().slice(0, 60),
                       width: r.width, height: r.height}; })
  .filter(t => t.width > 0 && t.height > 0)"""


def _small_targets(page) -> list[dict]:
    found = page.evaluate(DESIGNER_TARGETS)
    assert found, "no designer control on the page"
    return [t for t in found if t["width"] < 44 or t["height"] < 44]


def _fits_the_phone(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate("""() => Array.from(document.querySelectorAll('main *'))
        .filter(el => el.getBoundingClientRect().right > 360)
        .map(el => el.tagName + ' ' + Math.round(el.getBoundingClientRect().right) + ' ' + (el.textContent || '').trim().slice(0, 40))""")
    assert width <= 360, f"the page is {width}px wide on a 360px screen: {wide[:10]}"


def test_a_form_designer_finishes_on_the_form_page_on_a_phone(page, project, survey, tmp_path, shot):
    broken = tmp_path / "chi_so.xlsx"
    wb = load_workbook(XLSFORMS / "household_digital_targets.xlsx")
    wb["targets"]["E2"] = "hh_broadbnd"
    wb["targets"]["G3"] = "nhiều"
    wb.save(broken)
    sign_in(page)
    page.goto(f"/projects/{project}/forms/{FORM}")
    page.set_input_files("#workbook", str(broken))
    page.click("#indicators button[type=submit]")
    page.wait_for_selector("ol.mistakes")
    items = page.locator("ol.mistakes > li")
    assert items.count() == 2
    assert "Không có chỉ số “hh_broadbnd”; có phải bạn muốn ghi “hh_broadband”?" in items.nth(0).inner_text()
    assert "Trang tính: targets · Dòng: 3" in items.nth(1).inner_text()
    assert _small_targets(page) == []
    _fits_the_phone(page)
    page.locator("#indicators").scroll_into_view_if_needed()
    shot(page, "form-designer-01-workbook-mistakes")

    page.set_input_files("#workbook", str(XLSFORMS / "household_digital_targets.xlsx"))
    page.click("#indicators button[type=submit]")
    page.wait_for_url("**#indicators")
    assert "Đã nạp tệp chỉ số" in page.locator(".notice.ok, [role=status]").first.inner_text()

    page.click("#draft button:has-text('Tạo bản nháp')")
    page.wait_for_selector("input#version")
    today = datetime.now(TIMEZONE).strftime("%Y%m%d")
    assert page.input_value("input#version") == f"{today}01"   # the survey's own version is published
    link = page.locator("#draft a.xlsform-link")
    assert link.get_attribute("href").endswith("/draft.xlsx")
    assert _small_targets(page) == []
    _fits_the_phone(page)
    shot(page, "form-designer-02-draft")
