"""The dashboard judges an area by the target set for it, remembers a user's choice, and gives a verdict
only when the figures allow one: "chưa đủ dữ liệu" on a few households, "chưa chắc chắn" when the 95%
interval holds the target, and "N/M tiêu chí đạt" for the set (docs/indicators.md#verdicts)."""
from __future__ import annotations

import pytest

from .dashboard_data import BUSY_VILLAGE, load
from .dashboard_pages import VERDICT, check_chart, css, parse, text


@pytest.fixture
def data(admin, client, app, project):
    return load(admin, client, app, project)


def chosen_set(doc) -> str:
    [option] = css(doc, "select#f-target option[selected]")
    return option.get("value")


def box(doc) -> str:
    return text(doc.get_element_by_id("achieved"))


def api_entry(admin, data, area: str, level: str, query: str = "") -> dict:
    areas = admin.get(f"{data.form}/indicators?level={level}&area={area}{query}").get_json()["areas"]
    return next(a for a in areas if a["code"] == area)


@pytest.mark.parametrize("area, level, target_set", [
    ("DN-TK-TT", "commune", "tam_thuan_2025"),    # the ward's own standard before the city's
    ("DN-TK-TG", "commune", "da_nang_2023"),      # a commune of Đà Nẵng: the city's commune standard
    ("DN-TK-TG-02", "village", "thac_gian_kdc"),  # one of its residential areas: the ward's
    ("BD-TU-UH-01", "village", "tan_uyen_2025"),
    ("DL-KP", "district", "krong_pac_2025"),
])
def test_an_area_opens_on_the_set_that_applies_to_it(signed_in, admin, data, area, level, target_set):
    doc = parse(signed_in.get(f"{data.page}?area={area}"))
    assert chosen_set(doc) == target_set
    entry = api_entry(admin, data, area, level)            # the API's own default for that area
    assert entry["targetSet"] == target_set
    said = box(doc)
    assert "không có tiêu chí ở cấp này" not in said and "bộ tiêu chí áp dụng cho khu vực này" in said
    assert f"{entry['criteriaMet']}/{entry['criteria']} tiêu chí đạt" in said
    # The bars are the API's for that set, with its verdicts in words.
    check_chart(doc, api_entry(admin, data, area, level, f"&targetSet={target_set}"))


def test_a_place_without_a_standard_shows_every_indicator_without_targets(signed_in, data):
    doc = parse(signed_in.get(f"{data.page}?area=QN-HL-BC"))
    assert chosen_set(doc) == "" and not css(doc, "#achieved") and not css(doc, "ol.hbars .badge")
    doc = parse(signed_in.get(data.page))      # the whole project: no set is for all of it
    assert chosen_set(doc) == ""


def test_a_choice_is_remembered_for_that_user_and_area_only(app, signed_in, admin, data, admin_password_hash):
    from .helpers import Browserish, make_user

    assert chosen_set(parse(signed_in.get(f"{data.page}?area=DN-TK-TT&targetSet=da_nang_2023"))) == "da_nang_2023"
    doc = parse(signed_in.get(f"{data.page}?area=DN-TK-TT"))
    assert chosen_set(doc) == "da_nang_2023" and "lựa chọn gần nhất của bạn ở đây" in box(doc)
    # "None" is a choice too; other areas keep their own sets.
    signed_in.get(f"{data.page}?area=DN-TK-TG&targetSet=")
    assert chosen_set(parse(signed_in.get(f"{data.page}?area=DN-TK-TG"))) == ""
    assert chosen_set(parse(signed_in.get(f"{data.page}?area=DN-LC-HHB"))) == "da_nang_2023"
    # Another user sees the defaults.
    make_user(app, "viewer@hamlet.test", admin_password_hash, "viewer", data.project)
    other = Browserish(app.test_client()).sign_in("viewer@hamlet.test")
    assert chosen_set(parse(other.get(f"{data.page}?area=DN-TK-TT"))) == "tam_thuan_2025"


def test_few_households_give_no_verdict(signed_in, admin, data):
    """40 of 820 households (4.9%, below the 30% threshold): "chưa đủ dữ liệu" for every criterion of the
    Thạc Gián standard, and for the set, never "chưa đạt"."""
    doc = parse(signed_in.get(f"{data.page}?area={BUSY_VILLAGE}&targetSet=thac_gian_kdc"))
    entry = api_entry(admin, data, BUSY_VILLAGE, "village", "&targetSet=thac_gian_kdc")
    assert entry["lowCoverage"] and {i["verdict"] for i in entry["indicators"]} == {"insufficient_data"}
    assert [text(b) for b in css(doc, "ol.hbars .badge")] == ["chưa đủ dữ liệu"] * 5
    assert "chưa đủ dữ liệu" in box(doc) and "0/5 tiêu chí đạt" in box(doc)
    assert "chưa đạt" not in text(doc.get_element_by_id("indicators"))


def test_an_interval_around_the_target_says_uncertain(signed_in, admin, data):
    """With the low-coverage threshold at 0 the few households get verdicts — "chưa chắc chắn" where the
    interval holds the target — exactly the API's."""
    query = "&targetSet=tam_thuan_2025&lowCoverage=0"
    doc = parse(signed_in.get(f"{data.page}?area=DN-TK-TT{query}"))
    entry = api_entry(admin, data, "DN-TK-TT", "commune", query)
    verdicts = [i["verdict"] for i in entry["indicators"]]
    assert "uncertain" in verdicts
    assert [text(b) for b in css(doc, "ol.hbars .badge")] == [VERDICT[v] for v in verdicts]
    for i in entry["indicators"]:
        if i["verdict"] == "uncertain":
            assert i["ciLow"] < i["target"] < i["ciHigh"]
    assert f"{entry['criteriaMet']}/3 tiêu chí đạt" in box(doc)


@pytest.mark.parametrize("query", ["area=DN-HV-HP", "area=DN-HV-HP&lowCoverage=0", "targetSet=&area=DN-HV-HP"])
def test_the_legend_has_a_swatch_of_each_colour_its_bars_have_and_explains_the_interval_once(signed_in, data, query):
    """Issue 15, item 9: the key's swatches are drawn with the bars' own classes (so their fill), one for
    each kind of bar the box holds — "chưa chắc chắn" and "chưa đủ dữ liệu" included — and the 95% interval
    is explained in one line for the box, its range alone on each line."""
    doc = parse(signed_in.get(f"{data.page}?{query}"))
    [indicators] = css(doc, "section#indicators")
    bar_kinds = {s.get("class").split()[1] for s in css(indicators, "li.hbar-row > svg.hbar")}
    key_kinds = {(s.get("class").split() + ["untargeted"])[1] for s in css(indicators, "p.legend svg.key")
                 if css(s, "rect.value")}
    assert key_kinds == bar_kinds
    assert len(css(indicators, "p.ci-explained")) == 1
    assert "95%" in text(css(indicators, "p.ci-explained")[0])
    assert not any("95%" in text(n) for n in css(indicators, "span.hbar-notes"))
