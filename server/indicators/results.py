"""The indicators report of a form: refresh what changed, sum per area, roll up, judge targets."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.indicators.report import AreaNode, area_result, roll_up
from server.indicators.workbook import Workbook
from server.models import indicators as store
from server.models.areas import LEVELS, Area, areas_of


class ReportError(ValueError):
    pass


@dataclass(frozen=True)
class ReportQuery:
    target_set: str | None = None
    level: str | None = None
    area: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_rejected: bool = False
    low_coverage: float = 0.3


_cache: "OrderedDict[tuple, dict]" = OrderedDict()
_lock = threading.Lock()


def _registry_version(db: Session, project_id: int) -> tuple:
    return tuple(db.execute(select(func.count(), func.max(Area.id)).where(Area.project_id == project_id)).one())


def report(db: Session, form, query: ReportQuery) -> dict:
    found = store.indicator_set(db, form.id)
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
    key = (form.id, found.generation, query, store.data_version(db, form.id), _registry_version(db, form.project_id))
    cached = _cache.get(key)
    if cached is not None:
        return cached
    computed = store.refresh(db, form.id, workbook, found.generation)
    if computed:
        db.commit()
    sums = store.aggregate(db, form.id, workbook, query.include_rejected, query.since, query.until)
    result = _assemble(db, form.project_id, workbook, criteria, sums, query)
    with _lock:
        _cache[key] = result
        while len(_cache) > 128:
            _cache.popitem(last=False)
    return result


def _assemble(db, project_id, workbook, criteria, sums, query: ReportQuery) -> dict:
    areas = areas_of(db, project_id)
    nodes = {a.code: AreaNode(a.code, a.name, a.level, a.parent_code, a.expected_households) for a in areas}
    for a in areas:
        if a.parent_code in nodes:
            nodes[a.parent_code].children.append(a.code)
    unmatched = {code: households for code, (households, _) in sums.items() if code not in nodes}
    roll_up(nodes, {code: v for code, v in sums.items() if code in nodes})
    scope = None
    if query.area:
        if query.area not in nodes:
            raise ReportError(f"Unknown area '{query.area}' in this project's registry.")
        root_path = next(a.path for a in areas if a.code == query.area)
        scope = {a.code for a in areas if a.path == root_path or a.path.startswith(root_path + "/")}
    chosen = [a for a in areas if (query.level is None or a.level == query.level) and (scope is None or a.code in scope)]
    return {
        "targetSet": query.target_set,
        "level": query.level,
        "areas": [area_result(nodes[a.code], workbook, criteria, query.low_coverage) for a in chosen],
        # Households whose area code is not in the registry are reported, not dropped.
        "unmatchedAreas": [{"code": code or None, "households": n} for code, n in sorted(unmatched.items())],
        "indicators": [{"name": i.name, "labels": i.labels, "unit": i.unit} for i in workbook.indicators],
    }
