"""The progress dashboard of a form, as data: one area (or the whole project) and the areas below it,
with coverage, indicators against a target set, progress per day and per enumerator, the visited
households for a map, and — for a village — the follow-up list.

Every figure comes from the functions the REST API serves (`results.report`, `results.follow_up_list`)
or from the same stored contributions (`progress`), so a page and `GET …/indicators` with the same
filter always show the same numbers. No Flask here; the pages (server/web/dashboard.py) render it."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from server.indicators.progress import MapPoints, coverage_counts, household_points
from server.indicators.report import AreaNode, area_result
from server.indicators.results import ReportQuery, follow_up_list, report
from server.indicators.workbook import Workbook
from server.models.areas import LEVELS, Area, areas_of


@dataclass(frozen=True)
class DashboardQuery:
    report: ReportQuery              # target set, level listed, area (the scope), dates, rejected, low coverage
    indicator: str | None = None     # the one the areas, the map and the follow-up list show
    map_cap: int = 1500


@dataclass
class Dashboard:
    workbook: Workbook
    query: ReportQuery               # as asked, with the level listed filled in
    area: dict                       # the scope's report entry, or the whole project's totals (code "")
    trail: list[Area]                # the scope's ancestors, top first
    level: str | None                # the level of `rows`
    rows: list[dict]                 # the report's entries at that level inside the scope, in registry order
    indicators: list[dict]           # name, labels, unit — every indicator of the workbook
    indicator: str | None            # the one chosen
    progress: dict                   # byDay, byEnumerator, byArea (coverage_counts)
    points: MapPoints
    follow_up: dict | None = None    # the scope's follow-up list for `indicator`, when the scope is a village
    unmatched: list[dict] = field(default_factory=list)
    has_children: set[str] = field(default_factory=set)   # codes of areas that have areas below them


def child_level(level: str | None) -> str | None:
    """The level below `level` (None: the top one, province); None below a village."""
    if level is None:
        return LEVELS[0]
    i = LEVELS.index(level)
    return LEVELS[i + 1] if i + 1 < len(LEVELS) else None


def listed_level(entries: list[dict], area_level: str | None) -> str:
    """The level of the areas a dashboard lists when none is asked for: the one below its area (a village
    lists itself); for the whole project, the highest level among the report's `entries` — provinces, or
    the areas a limited supervisor holds."""
    if area_level is not None:
        return child_level(area_level) or area_level
    shown = {a["code"] for a in entries}
    return min((a["level"] for a in entries if a["parent"] not in shown), key=LEVELS.index, default=LEVELS[0])


def default_target_set(workbook: Workbook, registry: list[Area], area: str | None,
                       roots: frozenset[str] | None = None) -> str | None:
    """The target set a dashboard page judges by when the user has not chosen one: the set that applies to
    its area at the area's own level, else at the first level below it that has one (a district page
    shows the standard of its hamlets). The whole project is judged by a set for everywhere, if any —
    or, for a supervisor limited to one area (`roots`), as that area's page."""
    by_code = {a.code: a for a in registry}
    if area is None and roots is not None and len(roots) == 1:
        area = next(iter(roots))
    found = by_code.get(area) if area else None
    lineage = found.path.split("/") if found is not None else []
    levels = LEVELS[LEVELS.index(found.level):] if found is not None else LEVELS
    for level in levels:
        name = workbook.applicable_set(lineage, level)
        if name is not None:
            return name
    return None


def dashboard(db: Session, form, workbook: Workbook, query: DashboardQuery, project_name: str = "") -> Dashboard:
    """The dashboard for `query`. The caller has checked the target set, level, area and indicator."""
    registry = areas_of(db, form.project_id)
    by_code = {a.code: a for a in registry}
    limit = query.report.scope          # a supervisor limited to some areas sees only those (server/auth/scope.py)
    scope = by_code.get(query.report.area) if query.report.area else None
    # One report over the whole scope, every level: the scope's own entry and the rows listed. The
    # entries are the API's for the same filter (the level only selects which ones it returns).
    result = report(db, form, replace(query.report, level=None))
    entries = result["areas"]
    shown = {a["code"] for a in entries}
    tops = [a for a in entries if a["parent"] not in shown]     # the project's provinces, or a supervisor's areas
    level = query.report.level or listed_level(entries, scope.level if scope is not None else None)
    asked = replace(query.report, level=level)
    rows = [a for a in entries if a["level"] == level]
    if scope is not None:
        area = next(a for a in entries if a["code"] == scope.code)
    else:
        area = _whole(workbook, asked, tops, project_name)
    trail: list[Area] = []
    cur = by_code.get(scope.parent_code) if scope is not None and scope.parent_code else None
    while cur is not None and (limit is None or cur.code in limit):
        trail.insert(0, cur)
        cur = by_code.get(cur.parent_code) if cur.parent_code else None
    codes = shown if scope is not None or limit is not None else None
    names = [i["name"] for i in area["indicators"]]
    chosen = query.indicator if query.indicator in names else (names[0] if names else None)
    progress = coverage_counts(db, form.id, workbook, codes, asked.include_rejected, asked.since, asked.until)
    points = household_points(db, form.id, workbook, chosen, codes, area["households"], asked.include_rejected,
                              asked.since, asked.until, query.map_cap) if chosen else MapPoints(None)
    follow = None
    if scope is not None and chosen and not any(a.parent_code == scope.code for a in registry):
        follow = follow_up_list(db, form, chosen, scope.code, asked.include_rejected, scope=limit)
    return Dashboard(workbook, asked, area, trail, level, rows, result["indicators"], chosen, progress, points,
                     follow, result["unmatchedAreas"], {a.parent_code for a in registry if a.parent_code})


def _whole(workbook: Workbook, query: ReportQuery, tops: list[dict], project_name: str) -> dict:
    """The project as one area: the sums of its top-level areas — or of a limited supervisor's areas — (sums,
    never averages), judged against no target (targets apply to a registry level) — except a supervisor's one
    area, which it is, and judged as such."""
    node = AreaNode("", project_name, tops[0]["level"] if len(tops) == 1 else "", None, None)
    node.households = sum(a["households"] for a in tops)
    expected = [a["expectedHouseholds"] for a in tops]
    node.expected_households = sum(expected) if tops and all(e is not None for e in expected) else None
    for a in tops:
        for i in a["indicators"]:
            acc = node.sums.setdefault(i["name"], [0, 0])
            acc[0] += i["numerator"]
            acc[1] += i["denominator"]
    criteria = [c for c in workbook.criteria if c.target_set == query.target_set] if query.target_set else None
    return area_result(node, workbook, criteria, query.low_coverage)
