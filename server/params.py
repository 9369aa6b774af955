"""Numbers and dates read from query strings and URLs, with the bounds the database can hold.

`$top=99999999999999999999` or `/v1/projects/99999999999999999999` reached the database as an
integer no column holds (a 500), and `to=9999-12-31` overflowed Python's datetime when the day was
turned into its end. Every such value is read here, and one out of range is refused like one that
does not parse, with a message naming the range."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from werkzeug.routing import IntegerConverter

from server import problems

# PostgreSQL's integer: every id, limit and offset fits, and so does any count a person would ask for.
MAX_INT = 2**31 - 1
# The dates a filter may name: whole days and their end stay inside datetime's range in every zone.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in routes: an id past MAX_INT matches no route (a 404), as an unknown id does."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def non_negative_int(name: str, value: str | None) -> int | None:
    """A count or position such as $top, $skip, limit or offset; empty is absent (Central reads NaN
    as "no limit"); anything else is Central's 400.11."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise problems.Problem(f"Invalid input data type: expected ({name}) to be (a non-negative integer)",
                               code="400.11", details={"field": name, "value": value})
    if len(text) > 10 or int(text) > MAX_INT:
        raise problems.Problem(f"Invalid input data type: expected ({name}) to be (a non-negative integer) of at "
                               f"most {MAX_INT:,}", code="400.11", details={"field": name, "value": value})
    return int(text)


def _in_range(day: date) -> date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"{day.isoformat()} is outside {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}")
    return day


def parse_day(raw: str) -> date:
    """A calendar day (2026-11-23) between EARLIEST_DAY and LATEST_DAY; ValueError otherwise."""
    return _in_range(date.fromisoformat(raw))


def parse_moment(raw: str, day_zone: tzinfo = UTC, end: bool = False) -> datetime:
    """A `from`/`to` value: a bare day starts at its midnight in `day_zone` (with `end`, the day is
    included: it ends at the next midnight); an ISO date-time is UTC unless it says otherwise.
    ValueError for text that is neither, or a day outside EARLIEST_DAY to LATEST_DAY."""
    raw = raw.strip()
    if len(raw) == 10:
        day = parse_day(raw)
        return datetime.combine(day + timedelta(days=1 if end else 0), time.min, tzinfo=day_zone)
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    _in_range(value.date())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d{1,6})\d*)?)?"
                        r"\s*([zZ]|[+-]\d{2}(?::?\d{2})?)?")


def parse_timestamp(name: str, raw: str | None) -> datetime | None:
    """`start`/`end` of GET /v1/audits as Central (PostgreSQL) reads them: an ISO 8601 date or date-time,
    `z` or an offset such as `+08` optional (none: the server's time, UTC); `2000-01-01` is its
    midnight. Empty is absent; anything else a 400 naming the parameter."""
    if raw is None or not raw.strip():
        return None
    m = _TIMESTAMP.fullmatch(raw.strip())
    try:
        if m is None:
            raise ValueError(raw)
        day, hour, minute, second, fraction, zone = m.groups()
        offset = timedelta(0)
        if zone and zone not in "zZ":
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0)) * (-1 if zone[0] == "-" else 1)
        value = datetime.combine(parse_day(day), time(int(hour or 0), int(minute or 0), int(second or 0),
                                                      int((fraction or "0").ljust(6, "0"))),
                                 tzinfo=timezone(offset))
    except ValueError:
        raise problems.UnexpectedValue(f"Could not read {name}={raw!r} as a date or time; write it as ISO 8601, "
                                       "for example 2026-12-01z or 2026-12-01T08:00:00+07.",
                                       details={"field": name, "value": raw}) from None
    return value.astimezone(UTC)
