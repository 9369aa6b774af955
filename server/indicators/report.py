"""From per-area sums to the report: roll-ups up the registry tree, Wilson intervals, targets met,
areas achieved. Pure functions over plain values."""
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
                low_coverage: float) -> dict:
    """One area's entry in the report: households, coverage, and each indicator against its target."""
    wanted = [c for c in (criteria or []) if c.level == node.level]
    names = [i.name for i in workbook.indicators] if criteria is None else \
        list(dict.fromkeys([c.indicator for c in criteria]))
    by_indicator = {c.indicator: c for c in wanted}
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
        })
    judged = [i["met"] for i in indicators if i["criterion"] is not None]
    achieved = None
    if judged:
        achieved = False if any(m is False for m in judged) else (True if all(m is True for m in judged) else None)
    expected = node.expected_households
    coverage = round(100 * node.households / expected, 2) if expected else None
    return {"code": node.code, "name": node.name, "level": node.level, "parent": node.parent,
            "households": node.households, "expectedHouseholds": expected, "coverage": coverage,
            "lowCoverage": coverage is not None and coverage < low_coverage * 100,
            "achieved": achieved, "indicators": indicators}
