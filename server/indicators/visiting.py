"""The visiting sheet of a village or a commune: every household that still misses a criterion of the
target set that applies there, with what it misses, in the order a team walks — village, then address.

It is the follow-up lists (server/indicators/followup.py) of every indicator the set judges, merged
per household, so each household is judged on its latest state (its entity's follow-up updates over
its survey answers) exactly as the per-indicator list and `GET …/follow-up` judge it. No Flask here;
server/web/visiting.py renders it as a page and a CSV."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from server.auth.scope import AreaScope
from server.indicators.dashboard import default_target_set
from server.indicators.followup import follow_up
from server.indicators.results import areas_within, up_to_date
from server.indicators.workbook import Criterion, Workbook
from server.models.areas import Area, areas_of

SHEET_LEVELS = ("commune", "village")


@dataclass
class Sheet:
    area: Area
    target_set: str | None           # the set judged by (None: no set applies here, nothing to list)
    criteria: list[Criterion]        # its criteria, in workbook order
    households: list[dict]           # the households to visit, village then address
    villages: dict[str, str] = field(default_factory=dict)   # code -> name, for the households' areas


def sheet_target_set(workbook: Workbook, registry: list[Area], area: Area) -> str | None:
    """The set a visiting sheet judges by: the one for the area (as its dashboard's default), else the
    one for the nearest area above it — a village of Đà Nẵng has no hamlet standard, but its households
    count towards its commune's."""
    found = default_target_set(workbook, registry, area.code)
    if found is not None:
        return found
    by_code = {a.code: a for a in registry}
    lineage = area.path.split("/")
    for i in range(len(lineage) - 1, 0, -1):
        above = by_code.get(lineage[i - 1])
        if above is not None:
            found = workbook.applicable_set(lineage[:i], above.level)
            if found is not None:
                return found
    return None


def address_order(text: str | None) -> tuple:
    """"Số 9" before "Số 12": digits compared as numbers, the rest without case."""
    parts = re.split(r"(\d+)", (text or "").strip().casefold())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def visiting_sheet(db: Session, form, area_code: str, target_set: str | None = None,
                   include_rejected: bool = False, scope: AreaScope | None = None) -> Sheet:
    """The sheet of `area_code` (a commune or a village, checked by the caller) within the caller's
    `scope`, judged by `target_set` or, when None, by the set that applies (sheet_target_set)."""
    workbook = up_to_date(db, form)
    registry = areas_of(db, form.project_id)
    by_code = {a.code: a for a in registry}
    area = by_code[area_code]
    _, codes = areas_within(db, form.project_id, area_code, limit=scope)
    name = target_set if target_set is not None else sheet_target_set(workbook, registry, area)
    criteria = [c for c in workbook.criteria if c.target_set == name]
    indicators = {i.name: i for i in workbook.indicators}
    merged: dict[str, dict] = {}
    done: set[str] = set()
    for c in criteria:     # one visit per indicator, even when the set judges it at two levels
        indicator = indicators.get(c.indicator)
        if indicator is None or c.indicator in done:
            continue
        done.add(c.indicator)
        for h in follow_up(db, form.id, workbook, indicator, codes, include_rejected,
                           lacking_when_met=c.comparator in ("<", "<=")):
            entry = merged.setdefault(h["instanceId"], {
                "instanceId": h["instanceId"], "instanceName": h["instanceName"], "area": h["area"],
                "areaName": by_code[h["area"]].name if h["area"] in by_code else h["area"],
                "headName": h.get("headName") or h["name"], "name": h["name"], "address": h["address"],
                "phone": h["phone"], "duplicateOf": h["duplicateOf"], "missing": []})
            entry["missing"].append({"criterion": c.criterion, "indicator": c.indicator, "labels": indicator.labels,
                                     "unit": indicator.unit,
                                     "count": h["count"], "people": [p for p in h.get("people", []) if p]})
    order = {a.code: i for i, a in enumerate(registry)}
    households = sorted(merged.values(), key=lambda h: (order.get(h["area"], len(order)), h["areaName"] or "",
                                                         address_order(h["address"]), address_order(h["headName"])))
    return Sheet(area, name, criteria, households,
                 {h["area"]: h["areaName"] for h in households})
