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


# --- progress over time: a column a day, and the running total against the expected households ----------

@dataclass
class Columns:
    days: list[dict] = field(default_factory=list)    # date (a datetime.date), households, x, y, height (of 100)
    width: int = 0                                    # viewBox width: COLUMN per day
    peak: int = 0
    total: int = 0
    hidden: int = 0                                   # earlier days left out of the chart (their households)
    scale: int = 0                                    # the axis' top value
    ticks: list[int] = field(default_factory=list)    # the axis' values, top to bottom


COLUMN = 10
MAX_DAYS = 92


def _window(counts: dict[date, int], max_days: int, end: date | None) -> list[date]:
    """Every calendar day from the first visit to `end` (today, or the last day asked for; at least the
    last visit), the latest `max_days` of them."""
    first, last = min(counts), max(counts)
    if end is not None and end > last:
        last = end
    start = max(first, last - timedelta(days=max_days - 1))
    return [start + timedelta(days=i) for i in range((last - start).days + 1)]


def columns(by_day: list[dict], max_days: int = MAX_DAYS, end: date | None = None) -> Columns:
    """Households per day as columns, every calendar day from the first to the last — or to `end`, so a
    village where nobody has been for a week shows that week empty (a day without a visit is a visible
    gap, not skipped); beyond `max_days`, the latest ones."""
    if not by_day:
        return Columns()
    counts = {date.fromisoformat(d["date"]): int(d["households"]) for d in by_day}
    days = _window(counts, max_days, end)
    start = days[0]
    peak = max(counts.get(d, 0) for d in days) or 1
    scale = nice_scale(peak, 2)
    out = Columns(width=COLUMN * len(days), peak=peak, total=sum(counts.values()),
                  hidden=sum(n for d, n in counts.items() if d < start), scale=scale, ticks=[scale, scale // 2, 0])
    for i, d in enumerate(days):
        n = counts.get(d, 0)
        height = max(100 * n / scale, 1.5) if n else 0.0     # a day with one visit still shows
        out.days.append({"date": d, "households": n, "x": i * COLUMN + 1, "y": fmt(100 - height), "height": fmt(height)})
    return out


@dataclass
class Running:
    """Households visited so far, day by day, on a 0–`scale` axis; the viewBox is `width` × 100."""
    days: list[dict] = field(default_factory=list)    # date, households (that day), total (so far)
    width: int = 0
    scale: int = 0                                    # the axis' top value
    ticks: list[int] = field(default_factory=list)    # the axis' values, top to bottom (scale … 0)
    line: str = ""                                    # the running total, a step a day (polyline points)
    area: str = ""                                    # the same, closed down to 0 (polygon points)
    expected: int | None = None
    expected_y: str | None = None                     # where the expected households' line stands, when drawn
    total: int = 0


def nice_scale(top: float, steps: int = 4) -> int:
    """The smallest round axis top (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten a step) at or above `top`."""
    top = max(top, 1)
    raw = top / steps
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, 20)
                if m * power >= raw and float(m * power).is_integer())    # whole households a step
    return int(step) * steps


def running(by_day: list[dict], expected: int | None, max_days: int = MAX_DAYS, end: date | None = None) -> Running:
    """The running total of households visited up to `end` (today, or the last day asked for) — flat
    on days without a visit, so a stalled area shows it — against the `expected` households."""
    if not by_day:
        return Running(expected=expected)
    counts = {date.fromisoformat(d["date"]): int(d["households"]) for d in by_day}
    days = _window(counts, max_days, end)
    total = sum(n for d, n in counts.items() if d < days[0])
    grand = sum(counts.values())
    # Against the expected households while they are within four times the visits; beyond, the line
    # would lie flat on the floor and a stall would not show: the axis fits the visits, the page says it.
    shown = expected if expected and expected <= 4 * grand else None
    scale = nice_scale(max(grand, shown or 0))
    out = Running(width=COLUMN * len(days), scale=scale, ticks=[scale * k // 4 for k in (4, 3, 2, 1, 0)],
                  expected=expected, total=grand)

    def y(n: int) -> str:
        return fmt(100 - 100 * n / scale)

    points = [f"0,{y(total)}"]
    for i, d in enumerate(days):
        total += counts.get(d, 0)
        out.days.append({"date": d, "households": counts.get(d, 0), "total": total})
        points += [f"{i * COLUMN},{y(total)}", f"{(i + 1) * COLUMN},{y(total)}"]
    out.line = " ".join(points)
    out.area = " ".join([*points, f"{out.width},100", "0,100"])
    if shown:
        out.expected_y = y(shown)
    return out


# --- the map: Web Mercator over the points' bounding box -------------------------------------------------

MAP_WIDTH = 1000
MAX_TILES = 48
MARK_RADIUS = (28.0, 90.0)       # an area's mark, smallest and largest (of MAP_WIDTH), by its households


@dataclass(frozen=True)
class Place:
    """An area drawn on the map: its name where its households are (their centroid)."""
    code: str
    name: str
    lat: float
    lon: float
    households: int = 0


@dataclass
class MapView:
    width: int
    height: int
    radius: str
    circles: list[tuple[str, str, str, int]]     # cx, cy, status, submission id
    across_km: float                             # the map's width on the ground
    tiles: list[dict] = field(default_factory=list)   # href, x, y, size
    marks: list[dict] = field(default_factory=list)   # code, name, households, x, y, r, anchor, label_x, label_y
    labels: list[dict] = field(default_factory=list)  # name, x, y: the areas' names over their dots


def mercator(lat: float, lon: float) -> tuple[float, float]:
    """Web Mercator on the unit square (x east, y south), the projection map tiles are cut in; over a
    commune or a district it is a plain scaled equirectangular view."""
    lat = max(-85.0511, min(85.0511, lat))
    s = math.sin(math.radians(lat))
    return (lon + 180.0) / 360.0, 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)


def centroid(points: list[Point]) -> tuple[float, float]:
    """Where a group of households is, on the map's projection: the mean of their projected points."""
    xy = [mercator(p.lat, p.lon) for p in points]
    x, y = sum(a for a, _ in xy) / len(xy), sum(b for _, b in xy) / len(xy)
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y)))), x * 360.0 - 180.0


LABEL_EM = 44.0            # an area's name, in SVG units as a phone shows it (dashboard.css)
MARK_MARGIN = 1.6          # room round the outer marks for their size and their names


def _frame(xy: list[tuple[float, float]], margin: float, width: int) -> tuple[float, float, float, float, float]:
    """(left, top, span_x, span_y, scale) of a box round projected points: a margin all round, a height
    between 0.6 and 1.25 widths (what a phone can show), `width` SVG units across."""
    xs, ys = [x for x, _ in xy], [y for _, y in xy]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    span_x = max(max(xs) - min(xs), 2e-5) * margin     # 2e-5 of the world is ~0.8 km: a lone house gets a street
    span_y = max(max(ys) - min(ys), 2e-5) * margin
    span_x, span_y = max(span_x, span_y / 1.25), max(span_y, span_x * 0.6)
    return cx - span_x / 2, cy - span_y / 2, span_x, span_y, width / span_x


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """The area two boxes (left, top, right, bottom) share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def crowded(places: list[Place], width: int = MAP_WIDTH, most: int = 60) -> bool:
    """Whether these areas' marks would be a heap rather than a map: more than `most`, or more than one
    in ten of them closer to another than a small mark's width."""
    if len(places) > most:
        return True
    if len(places) < 2:
        return False
    xy = [mercator(p.lat, p.lon) for p in places]
    _l, _t, _sx, _sy, scale = _frame(xy, MARK_MARGIN, width)
    near = 2 * MARK_RADIUS[0] * width / MAP_WIDTH
    close = sum(1 for i, (x, y) in enumerate(xy)
                if any(math.hypot((x - a) * scale, (y - b) * scale) < near for j, (a, b) in enumerate(xy) if j != i))
    return close > len(places) / 10


def map_view(points: list[Point], tiles: str | None = None, width: int = MAP_WIDTH,
             marks: list[Place] | None = None, labels: list[Place] | None = None) -> MapView | None:
    """Place the points in a `width`-wide box around them (a margin all round, an aspect ratio a phone
    can show); with a tile URL template ({z}, {x}, {y}, optional {s}), the tiles under that box. With
    `marks`, one circle per area instead of the points, its area by its households (a wide area's
    households would be specks); `labels`, area names drawn where their households are."""
    if marks:
        xy = [mercator(m.lat, m.lon) for m in marks]
    elif points:
        xy = [mercator(p.lat, p.lon) for p in points]
    else:
        return None
    left, top, span_x, span_y, scale = _frame(xy, MARK_MARGIN if marks else 1.12, width)
    height = round(span_y * scale)
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (top + span_y / 2)))))
    # Dots big enough to tap and see on a phone (the SVG shrinks to a third there), smaller when many.
    radius = width / (100 if len(points) <= 200 else 140 if len(points) <= 800 else 200)
    view = MapView(width, height, fmt(radius), [], span_x * 40075.016686 * math.cos(math.radians(lat)))

    def place(lat: float, lon: float) -> tuple[float, float]:
        x, y = mercator(lat, lon)
        return (x - left) * scale, (y - top) * scale

    if marks:
        most = max(m.households for m in marks) or 1
        small, big = (r * width / MAP_WIDTH for r in MARK_RADIUS)
        placed = []
        for m in sorted(marks, key=lambda m: -m.households):       # big first: a small one stays on top
            x, y = place(m.lat, m.lon)
            placed.append((m, x, y, small + (big - small) * math.sqrt(m.households / most)))
        # The marks' and the names' boxes placed so far: a name goes where it covers neither.
        taken: list[tuple[float, float, float, float]] = [(x - r, y - r, x + r, y + r) for _m, x, y, r in placed]
        for m, x, y, r in placed:
            # The name under its mark, else over it when that would cover a name already placed.
            half = len(m.name) * LABEL_EM * 0.32 * width / MAP_WIDTH
            tall = LABEL_EM * width / MAP_WIDTH
            gap = tall * 0.3
            # (anchor, x, baseline, box): under, over, right of, left of the mark.
            options = [("middle", x, y + r + tall, (x - half, y + r, x + half, y + r + tall)),
                       ("middle", x, y - r - gap, (x - half, y - r - gap - tall, x + half, y - r - gap)),
                       ("start", x + r + gap, y + tall * 0.35, (x + r + gap, y - tall * 0.65, x + r + gap + 2 * half, y + tall * 0.35)),
                       ("end", x - r - gap, y + tall * 0.35, (x - r - gap - 2 * half, y - tall * 0.65, x - r - gap, y + tall * 0.35))]
            chosen = min(options, key=lambda o: sum(_overlap(o[3], b) for b in taken))   # the first free, else the least covered
            taken.append(chosen[3])
            view.marks.append({"code": m.code, "name": m.name, "households": m.households, "x": fmt(x),
                               "y": fmt(y), "r": fmt(r), "anchor": chosen[0], "label_x": fmt(chosen[1]),
                               "label_y": fmt(chosen[2])})
    else:
        for p in points:
            x, y = place(p.lat, p.lon)
            view.circles.append((fmt(x), fmt(y), p.status, p.submission_id))
    for label in labels or []:
        x, y = place(label.lat, label.lon)
        view.labels.append({"name": label.name, "x": fmt(x), "y": fmt(y)})
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
