"""The visiting sheet of a village or a commune (server/web/visiting.py) without a browser: every household
still missing a criterion of the set that applies there, with what it misses — the API's follow-up lists
of the set's indicators, merged — village then address, linked to its submission, reached from the
dashboards of both, and its CSV in the page's language with area names; a limited supervisor gets only
their areas, on the page and in the CSV."""
from __future__ import annotations

import csv
import io
import re

import pytest

from server.indicators.visiting import address_order

from .dashboard_data import BUSY_VILLAGE, load
from .dashboard_pages import css, parse, text
from .helpers import Browserish, make_user

COMMUNE = "DN-HV-HP"   # Xã Hòa Phước: Đà Nẵng's commune standard (da_nang_2023), no hamlet standard


@pytest.fixture
def data(admin, client, app, project):
    return load(admin, client, app, project)


def sheet_url(data, area: str) -> str:
    return f"{data.page}/visits?area={area}"


def expected_missing(admin, data, area: str, target_set: str) -> dict[str, set[str]]:
    """instanceId -> the indicators it still misses: the API's follow-up list of each indicator of the set."""
    targets = [i["name"] for i in admin.get(f"{data.form}/indicators?area={area}&targetSet={target_set}")
               .get_json()["areas"][0]["indicators"]]
    out: dict[str, set[str]] = {}
    for name in targets:
        for h in admin.get(f"{data.form}/follow-up?indicator={name}&area={area}").get_json()["households"]:
            out.setdefault(h["instanceId"], set()).add(name)
    return out


def sheet_rows(doc) -> list:
    return css(doc, "table#sheet tbody tr")


def test_a_village_sheet_lists_each_household_with_every_criterion_it_misses(signed_in, admin, data):
    resp = signed_in.get(sheet_url(data, BUSY_VILLAGE))
    assert resp.status_code == 200
    doc = parse(resp)
    # A village of Hòa Phước has no hamlet standard: its households are judged by their commune's.
    assert css(doc, ".target-set")[0].get("data-name") == "da_nang_2023"
    expected = expected_missing(admin, data, BUSY_VILLAGE, "da_nang_2023")
    rows = sheet_rows(doc)
    assert len(rows) == len(expected) == int(css(doc, "#sheet-count")[0].get("data-households")) > 5
    for row in rows:
        shown = {li.get("data-criterion") for li in css(row, "td.missing li")}
        indicators = {"dn1": "adult_smartphone", "dn2": "hh_fibre", "dn3": "adult_bank_or_ewallet",
                      "dn4": "adult_eid", "dn5": "adult_digital_signature"}
        assert {indicators[c] for c in shown} == expected[row.get("data-instance")]
        # Linked to its submission; a box to tick; the phone to tap.
        link = css(row, "td.head a")[0].get("href")
        assert link.endswith(f"/submissions/{row.get('data-instance')}")
        assert len(css(row, "td.tick-col span.tick")) == 1
        assert css(row, "td.phone a")[0].get("href").startswith("tel:")
    assert signed_in.get(css(rows[0], "td.head a")[0].get("href")).status_code == 200
    # Sorted by address, numbers as numbers ("Số 9" before "Số 12").
    addresses = [r.get("data-address") for r in rows]
    assert addresses == sorted(addresses, key=address_order)
    # In a village the village column would say the same thing on every row.
    assert css(doc, "td.village") == []


def test_a_commune_sheet_goes_village_by_village_then_by_address(signed_in, admin, data):
    doc = parse(signed_in.get(sheet_url(data, COMMUNE)))
    villages = [a["code"] for a in admin.get(f"{data.form}/indicators?level=village&area={COMMUNE}")
                .get_json()["areas"]]
    rows = sheet_rows(doc)
    assert len(rows) == len(expected_missing(admin, data, COMMUNE, "da_nang_2023"))
    order = [(villages.index(r.get("data-area")), address_order(r.get("data-address"))) for r in rows]
    assert order == sorted(order)
    assert len({r.get("data-area") for r in rows}) > 1
    # Each row names its village (its registry name, not its code).
    names = {a["code"]: a["name"] for a in admin.get(f"/v1/projects/{data.project}/areas").get_json()}
    assert all(text(css(r, "td.village")[0]) == names[r.get("data-area")] for r in rows)
    assert re.fullmatch(r"số liệu đến \d\d/\d\d/2026 \d\d:\d\d", text(css(doc, "#as-of")[0]))


def test_the_sheet_is_reached_from_the_village_and_commune_dashboards_only(signed_in, data):
    for area in (BUSY_VILLAGE, COMMUNE):
        link = css(parse(signed_in.get(f"{data.page}?area={area}")), "a#visiting-sheet")
        assert len(link) == 1 and f"area={area}" in link[0].get("href")
        assert signed_in.get(link[0].get("href")).status_code == 200
    for area in ("DN-HV", "DN"):
        assert css(parse(signed_in.get(f"{data.page}?area={area}")), "a#visiting-sheet") == []
        assert signed_in.get(sheet_url(data, area)).status_code == 404    # a district or a province has none


def _csv(resp) -> list[list[str]]:
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert resp.data.startswith(b"\xef\xbb\xbf")     # a BOM: Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))


def test_the_csv_is_the_sheet_in_the_pages_language_with_area_names(app, signed_in, data, admin_password_hash):
    doc = parse(signed_in.get(sheet_url(data, COMMUNE)))
    href = css(doc, "a#sheet-csv")[0].get("href")
    rows = _csv(signed_in.get(href))
    assert rows[0] == ["STT", "Đã đến", "Thôn", "Địa chỉ", "Chủ hộ", "Điện thoại", "Còn thiếu", "Mã phiếu"]
    page_rows = sheet_rows(doc)
    assert [r[7] for r in rows[1:]] == [r.get("data-instance") for r in page_rows]
    assert [r[2] for r in rows[1:]] == [text(css(r, "td.village")[0]) for r in page_rows]
    assert all(r[1] == "" for r in rows[1:])          # the box to tick, empty
    assert "Xã Hòa Phước" not in rows[1][2] and rows[1][2].startswith("Thôn")
    assert not any(code in line for line in map(",".join, rows) for code in ("DN-HV-HP-0",))
    missing = css(page_rows[0], "td.missing li")
    assert rows[1][6] == "; ".join(text(li) for li in missing)
    assert "phieu-di-tham" in signed_in.get(href).headers["Content-Disposition"]

    make_user(app, "english@hamlet.test", admin_password_hash, "viewer", data.project, language="en")
    english = Browserish(app.test_client()).sign_in("english@hamlet.test")
    doc = parse(english.get(sheet_url(data, COMMUNE)))
    assert text(css(doc, "h1")[0]).startswith("Visiting sheet")
    rows_en = _csv(english.get(css(doc, "a#sheet-csv")[0].get("href")))
    assert rows_en[0] == ["No.", "Visited?", "Village", "Address", "Head of household", "Phone", "Still missing",
                          "Submission ID"]
    assert [r[7] for r in rows_en[1:]] == [r[7] for r in rows[1:]]


def test_a_supervisor_limited_to_a_commune_gets_only_its_sheets(app, admin, data, admin_password_hash):
    uid = make_user(app, "hoaphuoc@hamlet.test", admin_password_hash, "viewer", data.project)
    assert admin.put(f"/v1/projects/{data.project}/assignments/{uid}/areas", {"areas": [COMMUNE]}).status_code == 200
    web = Browserish(app.test_client()).sign_in("hoaphuoc@hamlet.test")
    # Their commune, as the sheet with no area asked (their whole project), and its villages.
    own = parse(web.get(f"{data.page}/visits"))
    assert text(css(own, "h1")[0]).startswith("Phiếu đi thăm hộ: Xã Hòa Phước")
    assert {r.get("data-area") for r in sheet_rows(own)} <= {f"{COMMUNE}-0{i}" for i in range(1, 10)}
    assert web.get(sheet_url(data, BUSY_VILLAGE)).status_code == 200
    # Their dashboard offers it.
    assert len(css(parse(web.get(data.page)), "a#visiting-sheet")) == 1
    # Anything outside is absent, page and CSV alike.
    for area in ("DN-TK-TG", "DN-TK-TG-01", "DN-HV"):
        assert web.get(sheet_url(data, area)).status_code == 404, area
        assert web.get(f"{data.page}/visits.csv?area={area}").status_code == 404, area
    rows = _csv(web.get(f"{data.page}/visits.csv?area={COMMUNE}"))
    assert len(rows) - 1 == len(sheet_rows(own))


def test_people_without_a_read_role_get_no_sheet(app, data, admin_password_hash):
    make_user(app, "collector@hamlet.test", admin_password_hash, "formfill", data.project)
    web = Browserish(app.test_client()).sign_in("collector@hamlet.test")
    assert web.get(sheet_url(data, COMMUNE)).status_code == 403
    assert web.get(f"{data.page}/visits.csv?area={COMMUNE}").status_code == 403
