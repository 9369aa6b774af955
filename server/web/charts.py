"""Geometry for the dashboard's charts, drawn as SVG by the templates (templates/charts.html).

Why server-side SVG rather than a JavaScript chart library: the pages must read on a low-end phone
over a village connection, print, and work with JavaScript off; an inline SVG is a few kilobytes of
markup in the page itself (nothing else to download, nothing vendored to keep up to date), its text
and <title>s are read by screen readers and found by the browser's search, and the figures on it are
the same numbers the page prints, so a test reads them back. These functions only place things;
every number they are given comes from the report. Coordinates are formatted with a dot, whatever
the page's language (SVG attributes are not localised text)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from server.indicators.progress import Point


def fmt(x: float) -> str:
    """A coordinate for an SVG attribute: at most 2 decimals, no trailing zeros, always a dot."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def clamp(value: float | None, low: float = 0.0, high: float = 100.0) -> float | None:
    return None if value is None else max(low, min(high, value))


# --- indicators: horizontal bars with the target line and the 95% interval ------------------------------

@dataclass(frozen=True)
class Bar:
    """One indicator's bar on a 0–100 scale (the SVG's viewBox is 100 wide)."""
    value: str | None        # the bar's length; None: no denominator, no bar
    low: str | None          # the Wilson interval's ends (the whisker)
    high: str | None
    target: str | None       # where the target line stands
    state: str               # met | missed | uncertain | nodata | untargeted


BAR_STATES = {"met": "met", "not_met": "missed", "uncertain": "uncertain", "insufficient_data": "nodata"}


def bar(indicator: dict) -> Bar:
    """Place an entry of the report's `indicators` list (value, ciLow, ciHigh, target, verdict — or met)."""
    value = clamp(indicator.get("value"))
    target = clamp(indicator.get("target"))
    verdict = indicator.get("verdict")
    if verdict is None and target is not None:     # an entry without a verdict: by the value alone
        met = indicator.get("met")
        verdict = "met" if met is True else "not_met" if met is False else "insufficient_data"
    state = BAR_STATES.get(verdict or "", "untargeted")
    low, high = clamp(indicator.get("ciLow")), clamp(indicator.get("ciHigh"))
    return Bar(None if value is None else fmt(value), None if low is None else fmt(low),
               None if high is None else fmt(high), None if target is None else fmt(target), state)


# --- progress per day: columns ---------------------------------------------------------------------------

@dataclass
class Columns:
    days: list[dict] = field(default_factory=list)    # date (a datetime.date), households, x, y, height (of 100)
    width: int = 0                                    # viewBox width: COLUMN per day
    peak: int = 0
    total: int = 0
    hidden: int = 0                                   # earlier days left out of the chart (their households)


COLUMN = 10
MAX_DAYS = 92


def columns(by_day: list[dict], max_days: int = MAX_DAYS) -> Columns:
    """Households per day as columns, every calendar day from the first to the last (a day without a
    visit is a visible gap, not skipped); beyond `max_days`, the latest ones."""
    if not by_day:
        return Columns()
    counts = {date.fromisoformat(d["date"]): int(d["households"]) for d in by_day}
    first, last = min(counts), max(counts)
    span = (last - first).days + 1
    start = first if span <= max_days else last - timedelta(days=max_days - 1)
    days = [start + timedelta(days=i) for i in range((last - start).days + 1)]
    peak = max(counts.get(d, 0) for d in days) or 1
    out = Columns(width=COLUMN * len(days), peak=peak, total=sum(counts.values()),
                  hidden=sum(n for d, n in counts.items() if d < start))
    for i, d in enumerate(days):
        n = counts.get(d, 0)
        height = max(100 * n / peak, 1.5) if n else 0.0     # a day with one visit still shows
        out.days.append({"date": d, "households": n, "x": i * COLUMN + 1, "y": fmt(100 - height), "height": fmt(height)})
    return out


# --- the map: Web Mercator over the points' bounding box -------------------------------------------------

MAP_WIDTH = 1000
MAX_TILES = 48


@dataclass
class MapView:
    width: int
    height: int
    radius: str
    circles: list[tuple[str, str, str]]          # cx, cy, status
    across_km: float                             # the map's width on the ground
    tiles: list[dict] = field(default_factory=list)   # href, x, y, size


def mercator(lat: float, lon: float) -> tuple[float, float]:
    """Web Mercator on the unit square (x east, y south), the projection map tiles are cut in; over a
    commune or a district it is a plain scaled equirectangular view."""
    lat = max(-85.0511, min(85.0511, lat))
    s = math.sin(math.radians(lat))
    return (lon + 180.0) / 360.0, 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)


def map_view(points: list[Point], tiles: str | None = None, width: int = MAP_WIDTH) -> MapView | None:
    """Place the points in a `width`-wide box around them (a margin all round, an aspect ratio a phone
    can show); with a tile URL template ({z}, {x}, {y}, optional {s}), the tiles under that box."""
    if not points:
        return None
    xy = [mercator(p.lat, p.lon) for p in points]
    xs, ys = [x for x, _ in xy], [y for _, y in xy]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    span_x = max(max(xs) - min(xs), 2e-5) * 1.12     # 2e-5 of the world is ~0.8 km: a lone house gets a street
    span_y = max(max(ys) - min(ys), 2e-5) * 1.12
    span_x, span_y = max(span_x, span_y / 1.25), max(span_y, span_x * 0.6)   # height between 0.6 and 1.25 widths
    scale = width / span_x
    height = round(span_y * scale)
    left, top = cx - span_x / 2, cy - span_y / 2
    circles = [(fmt((x - left) * scale), fmt((y - top) * scale), p.status) for (x, y), p in zip(xy, points)]
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * cy))))
    # Dots big enough to tap and see on a phone (the SVG shrinks to a third there), smaller when many.
    radius = width / (100 if len(points) <= 200 else 140 if len(points) <= 800 else 200)
    view = MapView(width, height, fmt(radius), circles,
                   span_x * 40075.016686 * math.cos(math.radians(lat)))
    if tiles:
        view.tiles = _tiles(tiles, left, top, span_x, span_y, scale)
    return view


def _tiles(template: str, left: float, top: float, span_x: float, span_y: float, scale: float) -> list[dict]:
    z = max(0, min(19, round(math.log2(scale / 256))))    # a tile pixel about one SVG unit
    while True:
        n = 2 ** z
        x0, x1 = int(left * n), int((left + span_x) * n)
        y0, y1 = max(0, int(top * n)), min(n - 1, int((top + span_y) * n))
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= MAX_TILES or z == 0:
            break
        z -= 1
    size = scale / n
    out = []
    for ty in range(y0, y1 + 1):
        for tx in range(x0, x1 + 1):
            href = (template.replace("{z}", str(z)).replace("{x}", str(tx % n)).replace("{y}", str(ty))
                    .replace("{s}", "abc"[(tx + ty) % 3]))
            out.append({"href": href, "x": fmt((tx / n - left) * scale), "y": fmt((ty / n - top) * scale),
                        "size": fmt(size + 0.5)})    # half a unit of overlap: no hairline seams
    return out
