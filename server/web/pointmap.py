"""A household's GPS point on a small map drawn as SVG on the server: no tiles, no script, no network.

What a supervisor checks on it is whether the point is plausible and how precise it was: a dot with
its accuracy circle, a 100 m scale bar and north, in a frame about 600 m wide. The page links the
point to the phone's own map app (a `geo:` URI), which may have offline maps."""
from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 320, 200
METRES_ACROSS = 600.0


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float
    altitude: float | None = None
    accuracy: float | None = None

    @property
    def geo_uri(self) -> str:
        return f"geo:{self.latitude:.6f},{self.longitude:.6f}"


def parse_geopoint(text: str | None) -> Point | None:
    """ODK's geopoint text, "lat lon [alt [accuracy]]"; None when it is not a usable point."""
    parts = (text or "").split()
    try:
        numbers = [float(p) for p in parts[:4]]
    except ValueError:
        return None
    if len(numbers) < 2 or not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
        return None
    if not all(math.isfinite(n) for n in numbers):
        return None
    padded: list[float | None] = [*numbers, None, None][:4]
    return Point(numbers[0], numbers[1], padded[2], padded[3] if padded[3] is None or padded[3] >= 0 else None)


def point_svg(point: Point, title: str, north: str = "N") -> Markup:
    """The map: the point in the middle of a frame, its accuracy circle, a scale bar and north."""
    metres_per_px = METRES_ACROSS / WIDTH
    cx, cy = WIDTH / 2, HEIGHT / 2
    scale_px = 100 / metres_per_px
    grid = "".join(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{HEIGHT}"/>'
                   for x in _ticks(cx, WIDTH, scale_px)) + \
        "".join(f'<line x1="0" y1="{y:.1f}" x2="{WIDTH}" y2="{y:.1f}"/>' for y in _ticks(cy, HEIGHT, scale_px))
    accuracy = ""
    if point.accuracy:
        r = min(point.accuracy / metres_per_px, WIDTH)
        accuracy = (f'<circle class="accuracy" cx="{cx}" cy="{cy}" r="{max(r, 4):.1f}" fill="#0b6e4f" '
                    f'fill-opacity=".15" stroke="#0b6e4f" stroke-opacity=".5"/>')
    label = f"{point.latitude:.6f}, {point.longitude:.6f}"
    return Markup(
        f'<svg class="pointmap" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}: {label}" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#eef3ee" stroke="#9aa5b1"/>'
        f'<g stroke="#c9d4cc" stroke-width="1">{grid}</g>'
        f"{accuracy}"
        f'<circle class="dot" cx="{cx}" cy="{cy}" r="6" fill="#b42318" stroke="#fff" stroke-width="2"/>'
        f'<g font-family="sans-serif" font-size="11" fill="#1d2733">'
        f'<path d="M{WIDTH - 18} 26 l6 -16 l6 16 l-6 -4 z" fill="#1d2733"/>'
        f'<text x="{WIDTH - 12}" y="40" text-anchor="middle">{escape(north)}</text>'
        f'<rect x="10" y="{HEIGHT - 22}" width="{scale_px:.1f}" height="5" fill="#1d2733"/>'
        f'<text x="10" y="{HEIGHT - 27}">100 m</text>'
        f"</g></svg>")


def _ticks(centre: float, size: float, step: float) -> list[float]:
    """Grid lines every `step` pixels, one of them through the point."""
    first = centre - step * math.floor(centre / step)
    out, at = [], first
    while at <= size:
        out.append(at)
        at += step
    return out
