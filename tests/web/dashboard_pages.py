"""What the dashboard tests read from a page: a small CSS selector over lxml, the API's values written
as the page writes them in Vietnamese, and the check that the scope's bars are the API's entry."""
from __future__ import annotations

import re

import lxml.html
import pytest

from server.web import i18n


def parse(resp) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(resp.get_data(as_text=True))


_STEP = re.compile(r"(>)?\s*([a-z0-9]*|\*)((?:[.#][\w-]+|\[[\w-]+(?:=[\w-]+)?\])*)")


def css(el, selector: str) -> list:
    """The elements a small CSS selector picks (tags, .class, #id, [attr], [attr=value], descendant and
    child combinators), through XPath: lxml's cssselect needs a package this project does not use."""
    xpath = "."
    for m in _STEP.finditer(selector.strip()):
        child, tag, rest = m.groups()
        if not (tag or rest):
            continue
        conds = []
        for part in re.findall(r"[.#][\w-]+|\[[^\]]+\]", rest):
            if part[0] == ".":
                conds.append(f"contains(concat(' ', normalize-space(@class), ' '), ' {part[1:]} ')")
            elif part[0] == "#":
                conds.append(f"@id='{part[1:]}'")
            else:
                name, _, value = part[1:-1].partition("=")
                conds.append(f"@{name}='{value}'" if value else f"@{name}")
        xpath += ("/" if child else "//") + (tag or "*") + "".join(f"[{c}]" for c in conds)
    return el.xpath(xpath)


def text(el) -> str:
    return " ".join(el.text_content().split())


# What the page writes for the API's values, in Vietnamese (the default language).
def pct(value, locale="vi") -> str:
    return "—" if value is None else i18n.percent(value, locale)


def num(value, locale="vi") -> str:
    return i18n.number(value, locale)


SIGNS = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
# The verdicts (server/indicators/report.py), as the page writes them: a criterion's, an area's.
VERDICT = {"met": "đạt", "not_met": "chưa đạt", "uncertain": "chưa chắc chắn", "insufficient_data": "chưa đủ dữ liệu"}
ACHIEVED = {"achieved": "đạt chuẩn", "not_achieved": "chưa đạt chuẩn", "uncertain": "chưa chắc chắn",
            "insufficient_data": "chưa đủ dữ liệu", None: "—"}


def coverage_text(area: dict) -> str:
    visited = num(area["households"])
    if area["expectedHouseholds"] is None:
        return visited
    shown = pct(area["coverage"]) if not 0 < area["coverage"] < 0.1 else f"< {pct(0.1)}"
    return f"{visited} trên {num(area['expectedHouseholds'])} ({shown})"


def check_chart(doc, entry: dict) -> None:
    """The scope's bars: every indicator of the API's entry, written as the API says, in its order."""
    rows = css(doc, "ol.hbars li.hbar-row")
    assert [r.get("data-indicator") for r in rows] == [i["name"] for i in entry["indicators"]]
    for row, i in zip(rows, entry["indicators"]):
        assert (int(row.get("data-numerator")), int(row.get("data-denominator"))) == (i["numerator"], i["denominator"])
        assert text(css(row, ".hbar-value .value")[0]) == pct(i["value"])
        assert text(css(row, ".hbar-value .frac")[0]) == f"{num(i['numerator'])}/{num(i['denominator'])}"
        if i["value"] is not None:
            assert text(css(row, "span.ci")[0]) == f"{pct(i['ciLow'])}–{pct(i['ciHigh'])}"
            svg = css(row, "svg.hbar")[0]
            assert float(css(svg, "rect.value")[0].get("width")) == pytest.approx(i["value"], abs=0.01)
            whisker = css(svg, "line.ci")[0]
            assert (float(whisker.get("x1")), float(whisker.get("x2"))) == pytest.approx((i["ciLow"], i["ciHigh"]), abs=0.01)
        badges = [text(b) for b in css(row, ".badge")]
        if i["target"] is None:
            assert not css(row, ".target") and not badges
        else:
            assert text(css(row, "span.target")[0]) == f"{SIGNS[i['comparator']]} {pct(i['target'])}"
            assert float(css(row, "line.target")[0].get("x1")) == pytest.approx(min(i["target"], 100))
            assert badges == [VERDICT[i["verdict"]]]
