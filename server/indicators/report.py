"""From per-area sums to the report: roll-ups up the registry tree, Wilson intervals, targets met,
areas achieved, and the verdict a person may draw from them. Pure functions over plain values.

The verdict on a criterion (docs/indicators.md#verdicts): "insufficient_data" when nobody is in the
denominator or the area's coverage is below the low-coverage threshold — a percentage of the few
households visited says little about the area; "uncertain" when the 95% interval has the target
strictly inside it — the households not yet visited could tip it either way — unless every expected
household has been visited (the figure is then a count, not an estimate); otherwise "met" or
"not_met" by the value itself."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from server.indicators.workbook import Criterion, Workbook

Z = 1.959963984540054  # 95%


def wilson(num: int, den: int) -> tuple[float | None, float | None]:
    """95% Wilson score interval, in percent; None when there is no denominator."""
    if den <= 0:
        return None, None
    p = num / den
    z2 = Z * Z
    centre = (p + z2 / (2 * den)) / (1 + z2 / den)
    half = Z * math.sqrt(p * (1 - p) / den + z2 / (4 * den * den)) / (1 + z2 / den)
    return round(max(0.0, centre - half) * 100, 2), round(min(1.0, centre + half) * 100, 2)


def compare(value: float | None, comparator: str, threshold: float) -> bool | None:
    if value is None:
        return None
    return {">=": value >= threshold, ">": value > threshold, "<=": value <= threshold, "<": value < threshold}[comparator]


MET, NOT_MET, UNCERTAIN, INSUFFICIENT = "met", "not_met", "uncertain", "insufficient_data"
ACHIEVED, NOT_ACHIEVED = "achieved", "not_achieved"


def verdict(value: float | None, ci_low: float | None, ci_high: float | None, comparator: str, threshold: float,
            low_coverage: bool, census: bool = False) -> str:
    """What may be said of one criterion (the rule is in this module's docstring)."""
    if value is None or ci_low is None or ci_high is None or low_coverage:
        return INSUFFICIENT
    if not census and ci_low < threshold < ci_high:
        return UNCERTAIN
    return MET if compare(value, comparator, threshold) else NOT_MET


def area_verdict(verdicts: list[str]) -> str | None:
    """An area against a target set: achieved when every criterion is met, not achieved as soon as one is
    surely not; else short of data, or uncertain. None when no criterion applies at its level."""
    if not verdicts:
        return None
    if all(v == MET for v in verdicts):
        return ACHIEVED
    if NOT_MET in verdicts:
        return NOT_ACHIEVED
    return INSUFFICIENT if INSUFFICIENT in verdicts else UNCERTAIN


@dataclass
class AreaNode:
    code: str
    name: str
    level: str
    parent: str | None
    expected_households: int | None
    households: int = 0
    sums: dict[str, list[int]] = field(default_factory=dict)  # indicator -> [num, den]
    children: list[str] = field(default_factory=list)


def roll_up(nodes: dict[str, AreaNode], leaf_sums: dict[str, tuple[int, dict[str, tuple[int, int]]]]) -> None:
    """Add each area's own households and sums to it and to every ancestor (sums, never averages).

    Expected households roll up the same way where a parent leaves them blank."""
    for code, (households, sums) in leaf_sums.items():
        cur = nodes.get(code)
        while cur is not None:
            cur.households += households
            for name, (n, d) in sums.items():
                acc = cur.sums.setdefault(name, [0, 0])
                acc[0] += n
                acc[1] += d
            cur = nodes.get(cur.parent) if cur.parent else None
    for node in sorted(nodes.values(), key=lambda x: -len(_ancestors(nodes, x))):
        if node.expected_households is None and node.children:
            kids = [k for c in node.children if (k := nodes[c].expected_households) is not None]
            if len(kids) == len(node.children):
                node.expected_households = sum(kids)


def _ancestors(nodes: dict[str, AreaNode], node: AreaNode) -> list[str]:
    out, cur = [], node
    while cur.parent and cur.parent in nodes:
        out.append(cur.parent)
        cur = nodes[cur.parent]
    return out


def area_result(node: AreaNode, workbook: Workbook, criteria: list[Criterion] | None,
                low_coverage: float, every_indicator: bool = False) -> dict:
    """One area's entry in the report: households, coverage, and each indicator against its target —
    the target set's indicators, or every indicator when there is no set or `every_indicator`."""
    wanted = [c for c in (criteria or []) if c.level == node.level]
    names = [i.name for i in workbook.indicators] if criteria is None or every_indicator else \
        list(dict.fromkeys([c.indicator for c in criteria]))
    by_indicator = {c.indicator: c for c in wanted}
    expected = node.expected_households
    coverage = round(100 * node.households / expected, 2) if expected else None
    low = coverage is not None and coverage < low_coverage * 100
    census = coverage is not None and coverage >= 100
    indicators = []
    for name in names:
        n, d = node.sums.get(name, [0, 0])
        value = round(100 * n / d, 2) if d else None
        lo, hi = wilson(n, d)
        crit = by_indicator.get(name)
        indicators.append({
            "name": name, "numerator": n, "denominator": d, "value": value, "ciLow": lo, "ciHigh": hi,
            "target": crit.threshold if crit else None, "comparator": crit.comparator if crit else None,
            "criterion": crit.criterion if crit else None,
            "met": compare(value, crit.comparator, crit.threshold) if crit else None,
            "verdict": verdict(value, lo, hi, crit.comparator, crit.threshold, low, census) if crit else None,
        })
    judged = [i["met"] for i in indicators if i["criterion"] is not None]
    achieved = None
    if judged:
        achieved = False if any(m is False for m in judged) else (True if all(m is True for m in judged) else None)
    verdicts = [str(i["verdict"]) for i in indicators if i["criterion"] is not None]
    return {"code": node.code, "name": node.name, "level": node.level, "parent": node.parent,
            "households": node.households, "expectedHouseholds": expected, "coverage": coverage,
            "lowCoverage": low, "targetSet": criteria[0].target_set if criteria else None,
            "achieved": achieved, "verdict": area_verdict(verdicts),
            "criteria": len(verdicts), "criteriaMet": verdicts.count(MET), "indicators": indicators}
