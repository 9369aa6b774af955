"""Progress of a survey: households visited per area, per enumerator and per day, and the visited
households as points coloured by an indicator — each one SQL statement over the stored contributions.

Reads `ic{form}` (one row per household: its area code, its state, its numerator and denominator per
indicator; see server/indicators/contributions.py), so the caller must have brought it up to date first
(`results.report` does). A household counts here exactly when it counts in the indicators report: its
state is counted (not deleted), or rejected when rejected ones are asked for, and it was received in
the date range when one is given. Nothing grows with the number of households but the map's points,
which are capped: a sample spread over the whole area, never the first N received."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from server.indicators.contributions import REJECTED, contributions_table, counted_states
from server.indicators.workbook import Workbook
from server.models.accounts import Actor
from server.models.form_data import FormColumn, data_tables
from server.models.submissions import Submission

# Days are counted in Vietnam's time (UTC+7, no daylight saving since 1975), as the teams live them.
VIETNAM_OFFSET = 7 * 3600
EPOCH = date(1970, 1, 1)


def _where(ic, s, area_codes: set[str] | None, include_rejected: bool, since: datetime | None,
           until: datetime | None) -> list:
    where = [ic.c.state.in_(counted_states(include_rejected))]
    if area_codes is not None:
        where.append(ic.c.area_code.in_(sorted(area_codes)))
    if since is not None:
        where.append(s.c.created_at >= since)
    if until is not None:
        where.append(s.c.created_at < until)
    return where


def _day(db: Session, created_at):
    """The calendar day of a UTC timestamp in Vietnam: PostgreSQL, days since 1970-01-01 as an integer
    (cheaper than formatting every row's date); SQLite, YYYY-MM-DD text (it keeps naive UTC text)."""
    if db.get_bind().dialect.name == "postgresql":
        return (cast(func.extract("epoch", created_at), BigInteger) + VIETNAM_OFFSET) // 86400   # floor division
    return func.date(created_at, "+7 hours")


def _iso_day(value) -> str:
    if isinstance(value, str):
        return value
    return (EPOCH + timedelta(days=int(value))).isoformat()


def coverage_counts(db: Session, form_id: int, workbook: Workbook, area_codes: set[str] | None,
                    include_rejected: bool = False, since: datetime | None = None,
                    until: datetime | None = None) -> dict:
    """Households visited per area code (`byArea`), per submitter (`byEnumerator`: households and areas,
    most first) and per day in Vietnam (`byDay`, oldest first), of the areas given (None: all); and
    each area code's last day with a visit (`lastByArea`, for the pages: the API does not return it)."""
    count = len(workbook.indicators)
    ic = contributions_table(form_id, count)
    s = Submission.__table__
    joined = ic.join(s, s.c.id == ic.c.submission_id)
    where = _where(ic, s, area_codes, include_rejected, since, until)
    # One pass over the households, grouped by submitter, area and day (a hash aggregate: few groups, as an
    # enumerator works in a few villages), summed here three ways; COUNT(DISTINCT) would sort every row.
    day = _day(db, s.c.created_at).label("day")
    per: dict = {}
    days: dict = {}
    by_area: dict = {}
    last: dict = {}
    for sid, _area, d, n in db.execute(select(s.c.submitter_id, ic.c.area_code, day, func.count()).select_from(joined)
                                       .where(*where).group_by(s.c.submitter_id, ic.c.area_code, day)):
        areas = per.setdefault(sid, {})
        areas[_area] = areas.get(_area, 0) + int(n)
        days[d] = days.get(d, 0) + int(n)
        by_area[_area] = by_area.get(_area, 0) + int(n)
        if _area not in last or d > last[_area]:
            last[_area] = d
    ids = [int(sid) for sid in per if sid is not None]
    names = dict(db.execute(select(Actor.id, Actor.display_name).where(Actor.id.in_(ids))).all()) if ids else {}
    by_enumerator = [{"submitterId": None if sid is None else int(sid), "displayName": names.get(sid),
                      "households": sum(areas.values()), "areas": len(areas)} for sid, areas in per.items()]
    by_enumerator.sort(key=lambda e: (-e["households"], e["submitterId"] or 0))
    by_day = [{"date": _iso_day(d), "households": n} for d, n in sorted(days.items())]
    return {"byArea": by_area, "byEnumerator": by_enumerator, "byDay": by_day,
            "lastByArea": {code: _iso_day(d) for code, d in last.items()}}


# --- the map ---------------------------------------------------------------------------------------------

MEETS, PARTLY, LACKS, NOT_CONCERNED = "meets", "partly", "lacks", "none"


@dataclass
class Point:
    lat: float
    lon: float
    status: str          # MEETS, PARTLY (some of its people), LACKS, NOT_CONCERNED (not in the denominator)
    submission_id: int = 0
    area: str = ""       # the household's area code


@dataclass
class MapPoints:
    field: str | None                    # the geopoint question, None when the form has none
    households: int = 0                  # households of the selection
    read: int = 0                        # households read for the map: all, or every `step`-th
    points: list[Point] = dataclasses.field(default_factory=list)   # those of them with a usable point
    step: int = 1

    @property
    def sampled(self) -> bool:
        return self.step > 1

    @property
    def unlocated(self) -> int:
        """Households read that have no usable point."""
        return self.read - len(self.points)


def geopoint_column(db: Session, form_id: int) -> tuple[str, str] | None:
    """(field path, column) of the form's first geopoint outside repeats, as the GeoJSON export picks it."""
    row = db.execute(select(FormColumn.path, FormColumn.column_name)
                     .where(FormColumn.form_id == form_id, FormColumn.repeat_path == "",
                            FormColumn.type == "geopoint").order_by(FormColumn.id).limit(1)).first()
    return (row[0], row[1]) if row else None


def status_of(numerator: int, denominator: int) -> str:
    if denominator <= 0:
        return NOT_CONCERNED
    if numerator >= denominator:
        return MEETS
    return LACKS if numerator <= 0 else PARTLY


def household_points(db: Session, form_id: int, workbook: Workbook, indicator: str, area_codes: set[str] | None,
                     households: int, include_rejected: bool = False, since: datetime | None = None,
                     until: datetime | None = None, cap: int = 1500) -> MapPoints:
    """The households of the selection (`households` of them, as the report counts them) with their point
    and their status for `indicator`; beyond `cap`, every `step`-th by id (step = households / cap, rounded
    up), so the sample covers every village and every day rather than the first ones received. One
    query: the household table is read only for the households drawn."""
    column = geopoint_column(db, form_id)
    if column is None:
        return MapPoints(None, households)
    k = next(i for i, ind in enumerate(workbook.indicators) if ind.name == indicator)
    ic = contributions_table(form_id, len(workbook.indicators))
    s = Submission.__table__
    root = data_tables(db, form_id).root
    joined = ic.join(root, root.c.submission_id == ic.c.submission_id)
    if since is not None or until is not None:
        joined = joined.join(s, s.c.id == ic.c.submission_id)
    step = max(1, math.ceil(households / cap)) if cap > 0 else 1
    stmt = (select(root.c[column[1]], ic.c[f"n{k}"], ic.c[f"d{k}"], ic.c.submission_id, ic.c.area_code)
            .select_from(joined)
            .where(*_where(ic, s, area_codes, include_rejected, since, until)))
    if step > 1:
        stmt = stmt.where(ic.c.submission_id % step == 0)
    out = MapPoints(column[0], households, step=step)
    for value, n, d, sid, area in db.execute(stmt.order_by(ic.c.submission_id).limit(cap)):
        out.read += 1
        at = parse_geopoint(value)
        if at is not None:
            out.points.append(Point(at[0], at[1], status_of(int(n), int(d)), int(sid), area))
    return out


def parse_geopoint(value: str | None) -> tuple[float, float] | None:
    """(lat, lon) of an ODK geopoint "lat lon [altitude [accuracy]]", None when it is not one."""
    parts = (value or "").split()
    if len(parts) < 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        return None
    return lat, lon


__all__ = [
    "LACKS",
    "MEETS",
    "NOT_CONCERNED",
    "PARTLY",
    "MapPoints",
    "Point",
    "coverage_counts",
    "geopoint_column",
    "household_points",
    "parse_geopoint",
    "status_of",
]


def rejected_households(db: Session, form_id: int, workbook: Workbook, area_codes: set[str] | None,
                        since: datetime | None = None, until: datetime | None = None) -> int:
    """How many rejected households of the areas given (None: all) a report leaves out, so a page can
    say why its count is below the submissions table's."""
    ic = contributions_table(form_id, len(workbook.indicators))
    s = Submission.__table__
    where = _where(ic, s, area_codes, False, since, until)
    where[0] = ic.c.state == REJECTED
    return int(db.scalar(select(func.count()).select_from(ic.join(s, s.c.id == ic.c.submission_id)).where(*where)) or 0)


def latest_received(db: Session, form_id: int, workbook: Workbook, area_codes: set[str] | None,
                    include_rejected: bool = False, since: datetime | None = None,
                    until: datetime | None = None) -> datetime | None:
    """When the newest household counted here was received: what a printed page's figures are as of."""
    ic = contributions_table(form_id, len(workbook.indicators))
    s = Submission.__table__
    return db.scalar(select(func.max(s.c.created_at)).select_from(ic.join(s, s.c.id == ic.c.submission_id))
                     .where(*_where(ic, s, area_codes, include_rejected, since, until)))
