"""The visiting sheet and the printed dashboard in a real browser (Debian's Chromium) at 360 px and 1366 px:
reached from a village's and a commune's dashboard, rows in address order, a box to tick and a link on
each, nothing wider than the screen, every tap target at least 44 × 44 CSS px; and on paper (print
media): no header or tabs, the title, the area and "số liệu đến …", the table's headings on every page.
Screenshots and the PDFs land in tests/web/artifacts/ (git-ignored) to be looked at."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.indicators.visiting import address_order

from .dashboard_data import BUSY_VILLAGE, load
from .helpers import sign_in, small_targets

COMMUNE = "DN-HV-HP"
SIZES = {"phone": {"width": 360, "height": 740}, "laptop": {"width": 1366, "height": 800}}


@pytest.fixture
def data(admin, client, app, project):
    return load(admin, client, app, project)


def _fits(page, width: int) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= width, f"the page is {wide}px wide on a {width}px screen"


@pytest.mark.parametrize("size", SIZES)
def test_the_sheet_is_reached_from_both_dashboards_and_reads_on_a_phone_and_a_laptop(page, data, shot, size):
    viewport = SIZES[size]
    page.set_viewport_size(viewport)
    sign_in(page)
    for area, name in ((BUSY_VILLAGE, "village"), (COMMUNE, "commune")):
        page.goto(f"{data.page}?area={area}")
        link = page.locator("a#visiting-sheet")
        box = link.bounding_box()
        assert box is not None and box["height"] >= 44 and box["y"] < viewport["height"] * 2   # near the top
        link.click()
        page.wait_for_url(re.compile(rf"/visits\?area={area}(&|$)"))
        assert page.inner_text("h1").startswith("Phiếu đi thăm hộ")
        rows = page.locator("table#sheet tbody tr")
        assert rows.count() > 0
        # Village by village (a commune's), then by address.
        codes = rows.evaluate_all("rs => rs.map(r => [r.dataset.area, r.dataset.address])")
        addresses = [a for _c, a in codes]
        if area == BUSY_VILLAGE:
            assert addresses == sorted(addresses, key=address_order)
        else:
            villages = [c for c, _a in codes]
            assert villages == sorted(villages) and len(set(villages)) > 1
        # Every row: a box to tick, the head's name linking to the submission, what is missing.
        assert page.locator("table#sheet tbody tr td.tick-col .tick").count() == rows.count()
        assert page.locator("table#sheet tbody tr td.head a[href*='/submissions/']").count() == rows.count()
        assert page.locator("table#sheet tbody tr td.missing li").count() >= rows.count()
        tick = page.locator("table#sheet tbody tr .tick").first.bounding_box()
        assert tick is not None and tick["width"] >= 20 and tick["height"] >= 20
        _fits(page, viewport["width"])
        assert small_targets(page) == []
        shot(page, f"sheet-{size}-{name}")
        if area == BUSY_VILLAGE:
            href = rows.first.locator("td.head a").get_attribute("href")
            page.goto(href)
            assert page.locator("h1").count() == 1 and "/submissions/" in page.url


def test_the_dashboard_and_the_sheet_print_on_a4_without_the_header(page, data, shot):
    sign_in(page)
    page.set_viewport_size(SIZES["laptop"])
    page.goto(f"{data.page}?area={COMMUNE}")
    screen_as_of = page.inner_text("#as-of")
    assert re.fullmatch(r"số liệu đến \d\d/\d\d/2026 \d\d:\d\d", screen_as_of)
    assert not page.locator(".print-kicker").is_visible()
    page.emulate_media(media="print")
    # On paper: no header, tabs, trail, filters or buttons; a title, the area and the data's date.
    for hidden in ("header.top", "nav.crumbs", "nav.tabs", "nav.trail", "details.filters", "a#visiting-sheet"):
        assert not page.locator(hidden).first.is_visible(), hidden
    assert page.locator(".print-kicker").is_visible()
    assert page.locator(".print-kicker").text_content().strip() == "Tiến độ khảo sát"
    assert page.inner_text("h1").startswith("Xã Hòa Phước")
    assert page.locator("#as-of").is_visible() and page.inner_text("#as-of") == screen_as_of
    shot(page, "print-dashboard-commune")
    page.pdf(path=str(_pdf("print-dashboard-commune")), format="A4", print_background=True)

    page.emulate_media(media="screen")
    page.goto(f"{data.page}/visits?area={COMMUNE}")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator(".sheet-actions").is_visible()
    assert page.locator("#as-of").is_visible() and page.inner_text("#as-of").startswith("số liệu đến")
    # The headings repeat on every printed page; a row is never cut in two.
    styles = page.evaluate("""() => { const t = document.querySelector('table#sheet');
        return [getComputedStyle(t.tHead).display, getComputedStyle(t.tBodies[0].rows[0]).breakInside]; }""")
    assert styles == ["table-header-group", "avoid"]
    pdf = _pdf("print-sheet-commune")
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes().startswith(b"%PDF")
    shot(page, "print-sheet-commune")



def _pdf(name: str) -> Path:
    """Where a printed page goes, beside the screenshots (tests/web/artifacts/, git-ignored)."""
    folder = Path(__file__).parent / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder / f"{name}.pdf"


def test_the_member_table_fits_its_card_on_a_laptop(page, data, admin, shot):
    """Issue 15, item 10: a household's roster on a 1366 px laptop needs no sideways scrolling."""
    sign_in(page)
    page.set_viewport_size(SIZES["laptop"])
    iid = admin.get(f"{data.form}/follow-up?indicator=adult_smartphone&area={BUSY_VILLAGE}").get_json()["households"][0]["instanceId"]
    page.goto(f"/projects/{data.project}/forms/household_digital_survey/submissions/{iid}")
    table = page.locator("table.roster").first
    widths = table.evaluate("t => [t.scrollWidth, t.closest('.scroll').clientWidth, t.closest('.box').clientWidth]")
    assert widths[0] <= widths[1] <= widths[2], widths
    # No column is named by a field: every heading is a question (no member_no, no member_label).
    headings = table.locator("thead th").all_inner_texts()
    assert not [h for h in headings if re.fullmatch(r"[a-z_0-9]+", h)], headings
    # Nor is any answer, the technical details' included (start, deviceid, instanceID, village_name…).
    questions = [q.strip() for q in page.locator(".answers .question").all_text_contents()]
    assert questions and not [q for q in questions if re.fullmatch(r"[A-Za-z_0-9]+", q)], questions
    _fits(page, 1366)
    shot(page, "submission-laptop")
