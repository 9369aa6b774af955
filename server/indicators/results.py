"""The indicators report of a form: refresh what changed, sum per area, roll up, judge targets.

A caller limited to some areas (server/auth/scope.py) passes its AreaScope: only the areas in it are
listed — its assigned areas and those below them, never a parent above them, whose roll-up holds other
communes' households — households outside the registry are not listed, and naming an area outside it
is AreaNotVisible (404 over REST)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.scope import AreaScope
from server.indicators import contributions as store
from server.indicators.report import AreaNode, area_result, roll_up
from server.indicators.workbook import Workbook
from server.models.areas import LEVELS, Area, areas_of
from server.models.indicators import indicator_set
from server.models.projects import Project


class ReportError(ValueError):
    pass


class AreaNotVisible(ReportError):
    """An area outside the caller's scope: reported as absent (404), not as a bad request."""


def _check_visible(scope: AreaScope | None, area: str | None) -> None:
    if scope is not None and area and area not in scope:
        raise AreaNotVisible(f"There is no area '{area}' among the areas you may see ({scope.describe()}).")


@dataclass(frozen=True)
class ReportQuery:
    target_set: str | None = None
    level: str | None = None
    area: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_rejected: bool = False
    low_coverage: float = 0.3
    scope: AreaScope | None = None    # the caller's areas when it is limited (part of the cache key)
    # No target set named: judge each area by the set that applies to it (Workbook.applicable_set),
    # rather than by none.
    applicable: bool = False


@dataclass
class _Entry:
    result: dict
    body: bytes | None = None    # the result as the API serves it, made once


_cache: OrderedDict[tuple, _Entry] = OrderedDict()
_lock = threading.Lock()


def _registry_version(db: Session, project_id: int) -> int:
    return db.execute(select(Project.areas_generation).where(Project.id == project_id)).scalar_one()


def report(db: Session, form, query: ReportQuery) -> dict:
    return _report(db, form, query).result


def report_body(db: Session, form, query: ReportQuery, serialise: Callable[[dict], bytes]) -> bytes:
    """The report serialised by `serialise`, kept with it: a report whose inputs have not changed is
    served without being serialised again (half a megabyte of JSON for 500 villages)."""
    entry = _report(db, form, query)
    if entry.body is None:
        entry.body = serialise(entry.result)
    return entry.body


def _report(db: Session, form, query: ReportQuery) -> _Entry:
    found = indicator_set(db, form.id)
    if found is None:
        raise ReportError("This form has no indicators yet; upload an indicators workbook (PUT …/indicators).")
    workbook = Workbook.from_json(found.definition)
    criteria = None
    if query.target_set:
        criteria = [c for c in workbook.criteria if c.target_set == query.target_set]
        if not criteria:
            raise ReportError(f"Unknown target set '{query.target_set}'; this form has "
                              f"{', '.join(workbook.target_sets()) or 'none'}.")
    if query.level and query.level not in LEVELS:
        raise ReportError(f"Unknown level '{query.level}'; use one of {', '.join(LEVELS)}.")
    version = store.data_version(db, form.id)
    key = (form.id, found.generation, query, version, _registry_version(db, form.project_id))
    cached = _cache.get(key)
    if cached is not None:
        return cached
    store.refresh_if_changed(db, form.id, workbook, found.generation, version)
    sums = store.aggregate(db, form.id, workbook, query.include_rejected, query.since, query.until)
    entry = _Entry(_assemble(db, form.project_id, workbook, criteria, sums, query))
    with _lock:
        _cache[key] = entry
        while len(_cache) > 128:
            _cache.popitem(last=False)
    return entry


def _assemble(db, project_id, workbook, criteria, sums, query: ReportQuery) -> dict:
    areas = areas_of(db, project_id)
    nodes = {a.code: AreaNode(a.code, a.name, a.level, a.parent_code, a.expected_households) for a in areas}
    for a in areas:
        if a.parent_code in nodes:
            nodes[a.parent_code].children.append(a.code)
    unmatched = {code: households for code, (households, _) in sums.items() if code not in nodes}
    roll_up(nodes, {code: v for code, v in sums.items() if code in nodes})
    scope: Set[str] | None = None
    if query.area:
        if query.area not in nodes:
            raise ReportError(f"Unknown area '{query.area}' in this project's registry.")
        _check_visible(query.scope, query.area)
        root_path = next(a.path for a in areas if a.code == query.area)
        scope = {a.code for a in areas if a.path == root_path or a.path.startswith(root_path + "/")}
    if query.scope is not None:
        scope = query.scope.narrow(scope)
        unmatched = {}   # not in the registry, so in nobody's areas
    chosen = [a for a in areas if (query.level is None or a.level == query.level) and (scope is None or a.code in scope)]
    return {
        "targetSet": query.target_set,
        "level": query.level,
        "areas": [_judged(nodes[a.code], a, workbook, criteria, query) for a in chosen],
        # Households whose area code is not in the registry are reported, not dropped.
        "unmatchedAreas": [{"code": code or None, "households": n} for code, n in sorted(unmatched.items())],
        "indicators": [{"name": i.name, "labels": i.labels, "unit": i.unit} for i in workbook.indicators],
    }


def _judged(node: AreaNode, area: Area, workbook: Workbook, criteria, query: ReportQuery) -> dict:
    """An area's entry: against the set asked for, or — when none is named and `query.applicable` — the
    set that applies to the area and its level, listing every indicator so that areas judged by
    different sets still share their columns."""
    if criteria is None and query.applicable:
        name = workbook.applicable_set(area.path.split("/"), area.level)
        own = [c for c in workbook.criteria if c.target_set == name] if name else None
        return area_result(node, workbook, own, query.low_coverage, every_indicator=True)
    return area_result(node, workbook, criteria, query.low_coverage)


def areas_within(db: Session, project_id: int, area: str | None, level: str | None = None,
           limit: AreaScope | None = None) -> tuple[list[Area], set[str] | None]:
    """The registry areas under `area` (all when None) and their codes (None: no restriction), within
    the caller's `limit` when it is limited to some areas."""
    areas = areas_of(db, project_id)
    if not area:
        if limit is None:
            return areas, None
        return [a for a in areas if a.code in limit], set(limit.codes)
    found = next((a for a in areas if a.code == area), None)
    if found is None:
        raise ReportError(f"Unknown area '{area}' in this project's registry.")
    _check_visible(limit, area)
    inside = [a for a in areas if a.path == found.path or a.path.startswith(found.path + "/")]
    if limit is not None:
        inside = [a for a in inside if a.code in limit]
    return inside, {a.code for a in inside}


def up_to_date(db: Session, form) -> Workbook:
    """The form's workbook with its stored contributions brought up to date: what every report and any
    page that reads the contributions directly (one household's card, the visiting sheet) starts from."""
    found = indicator_set(db, form.id)
    if found is None:
        raise ReportError("This form has no indicators workbook yet; its settings name the area field.")
    workbook = Workbook.from_json(found.definition)
    store.refresh_if_changed(db, form.id, workbook, found.generation, store.data_version(db, form.id))
    return workbook


def coverage_report(db: Session, form, level: str | None, area: str | None, low_coverage: float,
                    include_rejected: bool = False, scope: AreaScope | None = None) -> dict:
    """Households visited against expected per area (rolled up), per enumerator and per day; with
    `scope`, of the caller's areas only (enumerators and days counted over those households)."""
    from server.indicators.progress import coverage_counts

    if level and level not in LEVELS:
        raise ReportError(f"Unknown level '{level}'; use one of {', '.join(LEVELS)}.")
    workbook = up_to_date(db, form)
    areas, codes = areas_within(db, form.project_id, area, limit=scope)
    counts = coverage_counts(db, form.id, workbook, codes, include_rejected)
    nodes = {a.code: AreaNode(a.code, a.name, a.level, a.parent_code, a.expected_households) for a in areas_of(db, form.project_id)}
    for child in nodes.values():
        if child.parent in nodes:
            nodes[child.parent].children.append(child.code)
    roll_up(nodes, {code: (n, {}) for code, n in counts["byArea"].items() if code in nodes})
    rows = []
    for a in areas:
        if level and a.level != level:
            continue
        node = nodes[a.code]
        expected = node.expected_households
        pct = round(100 * node.households / expected, 2) if expected else None
        rows.append({"code": a.code, "name": a.name, "level": a.level, "parent": a.parent_code,
                     "households": node.households, "expectedHouseholds": expected, "coverage": pct,
                     "lowCoverage": pct is not None and pct < low_coverage * 100})
    unmatched = [{"code": c or None, "households": n} for c, n in sorted(counts["byArea"].items())
                 if c not in nodes and scope is None]
    return {"areas": rows, "byEnumerator": counts["byEnumerator"], "byDay": counts["byDay"],
            "unmatchedAreas": unmatched, "lowCoverageThreshold": round(low_coverage * 100, 2)}


def follow_up_list(db: Session, form, indicator_name: str, area: str | None, include_rejected: bool = False,
                   scope: AreaScope | None = None) -> dict:
    """The households to visit again for an indicator, in `area` (all when None), within `scope`."""
    from server.indicators.followup import follow_up

    workbook = up_to_date(db, form)
    indicator = next((i for i in workbook.indicators if i.name == indicator_name), None)
    if indicator is None:
        raise ReportError(f"Unknown indicator '{indicator_name}'; this form has "
                          f"{', '.join(i.name for i in workbook.indicators)}.")
    _, codes = areas_within(db, form.project_id, area, limit=scope)
    rows = follow_up(db, form.id, workbook, indicator, codes, include_rejected)
    return {"indicator": indicator.name, "labels": indicator.labels, "unit": indicator.unit, "area": area,
            "households": rows}
