"""Stored answers (the XML element's exact text) → OData JSON values, as Central renders them.

- An absent or empty element is null.
- int: the leading integer, as JavaScript's parseInt reads it (`"42"` → 42, `"4x"` → 4, `"x"` → null).
- decimal: the leading number, as parseFloat reads it (`"3.14"` → 3.14).
- geopoint: GeoJSON `{"type": "Point", "coordinates": [lon, lat(, alt)], "properties": {"accuracy": a}}`,
  or WKT `POINT (lon lat alt)` with `$wkt=true`; geotrace/geoshape: LineString/Polygon (points split
  on `;`), WKT `LINESTRING (…)`/`POLYGON ((…))`. Numbers in WKT are written as JavaScript writes them.
- dateTime: trimmed, and an offset written `+07` becomes `+07:00`.
- everything else: the text unchanged (select_multiple stays space-separated, binary is the file name).
Text is never normalised, so Vietnamese written in NFC or NFD comes back exactly as it was sent."""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal

_INT = re.compile(r"[ \t\n\r\f\v\u00a0\u2028\u2029\ufeff]*([+-]?[0-9]+)")
_FLOAT = re.compile(r"[ \t\n\r\f\v\u00a0\u2028\u2029\ufeff]*([+-]?(?:Infinity|[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?))")
_SPACES = re.compile(r"\s+")
_POINTS = re.compile(r"; ?")
_SHORT_OFFSET = re.compile(r"[+-]\d\d$")


def parse_int(text: str) -> int | None:
    if text.isascii() and text.isdigit():  # the usual case, without a regular expression
        return int(text)
    m = _INT.match(text)
    return int(m.group(1)) if m else None


_PLAIN_NUMBER = str.maketrans("", "", "0123456789.-")


def parse_float(text: str) -> float | None:
    """JavaScript's parseFloat; None for NaN."""
    if text and text.isascii() and not text.translate(_PLAIN_NUMBER) and text[0] != ".":
        try:  # digits, dots and minus signs only: float() agrees with parseFloat when it accepts it
            return float(text)
        except ValueError:
            pass
    m = _FLOAT.match(text)
    if not m:
        return None
    s = m.group(1)
    if s.lstrip("+-") == "Infinity":
        return -math.inf if s.startswith("-") else math.inf
    return float(s)


def json_number(x: float | None) -> float | None:
    """A float as JSON would carry it from JavaScript: integral values without `.0`, NaN and
    infinities as null."""
    if x is None or x != x or x in _INFINITIES:
        return None
    if x.is_integer() and -_SAFE < x < _SAFE:
        return int(x)
    return x


_INFINITIES = (math.inf, -math.inf)
_SAFE = 2.0 ** 53


def js_number(x: float) -> str:
    """Number.prototype.toString: the shortest round-trip digits, in JavaScript's notation."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    _, digits, exponent = Decimal(repr(abs(x))).as_tuple()
    assert isinstance(exponent, int), "only NaN and infinities have a letter for exponent, and they returned above"
    s = "".join(map(str, digits)).rstrip("0") or "0"
    # value = 0.s × 10^n
    n = len(digits) + exponent
    k = len(s)
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + s
    else:
        e = n - 1
        mantissa = s if k == 1 else s[0] + "." + s[1:]
        out = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + out


def _split_point(text: str) -> list[float | None]:
    parts = text.split(" ") if "\t" not in text and "\n" not in text and "  " not in text else _SPACES.split(text)
    return [parse_float(p) for p in parts]


_Point = tuple[float, float, float | None, float | None]


def _point(text: str) -> _Point | None:
    """(lon, lat, alt|None, accuracy|None) or None when the text has no latitude and longitude."""
    parts = _split_point(text)
    if len(parts) < 2:
        return None
    lat, lon = parts[0], parts[1]
    if lat is None or lon is None:
        return None
    alt = parts[2] if len(parts) > 2 else None
    acc = parts[3] if len(parts) > 3 else None
    return lon, lat, alt, acc


def geopoint(text: str, wkt: bool) -> str | dict[str, object] | None:
    p = _point(text)
    if p is None:
        return None
    lon, lat, alt, acc = p
    coordinates = [lon, lat] + ([alt] if alt is not None else [])
    if wkt:
        return "POINT (" + " ".join(js_number(c) for c in coordinates) + ")"
    value: dict[str, object] = {"type": "Point", "coordinates": [json_number(c) for c in coordinates]}
    if acc is not None:
        value["properties"] = {"accuracy": json_number(acc)}
    return value


def _line(text: str) -> list[_Point] | None:
    chunks = _POINTS.split(text)
    points: list[_Point] = []
    for chunk in chunks:
        parts = _split_point(chunk)
        if len(parts) < 2:
            if len(chunks) == 1:
                return None
            continue
        lat, lon = parts[0], parts[1]
        if lat is None or lon is None:
            continue
        alt = parts[2] if len(parts) > 2 else None
        acc = parts[3] if len(parts) > 3 else None
        points.append((lon, lat, alt, acc))
    return points


def geoline(text: str, wkt: bool, polygon: bool) -> str | dict[str, object] | None:
    points = _line(text)
    if points is None:
        return None
    if wkt:
        body = ",".join(" ".join(js_number(c) for c in ([lon, lat] + ([alt] if alt is not None else [])))
                        for lon, lat, alt, _ in points)
        return f"POLYGON (({body}))" if polygon else f"LINESTRING ({body})"
    coordinates = [[json_number(lon), json_number(lat)] + ([json_number(alt)] if alt is not None else [])
                   for lon, lat, alt, _ in points]
    value: dict[str, object] = ({"type": "Polygon", "coordinates": [coordinates]} if polygon
             else {"type": "LineString", "coordinates": coordinates})
    accuracies = [json_number(acc) if acc else None for _, _, _, acc in points]
    if any(a is not None for a in accuracies):
        value["properties"] = {"accuracies": accuracies}
    return value


def _int(text: str) -> int | None:
    return parse_int(text)


def _decimal(text: str) -> float | None:
    return json_number(parse_float(text))


def _datetime(text: str) -> str:
    trimmed = text.strip()
    return trimmed + ":00" if _SHORT_OFFSET.search(trimmed) else trimmed


def converter(kind: str, wkt: bool) -> Callable[[str], object] | None:
    """The function turning a non-empty stored text of this field type into its OData value (None:
    the text is the value)."""
    if kind == "int":
        return _int
    if kind == "decimal":
        return _decimal
    if kind == "geopoint":
        return lambda t: geopoint(t, wkt)
    if kind == "geotrace":
        return lambda t: geoline(t, wkt, polygon=False)
    if kind == "geoshape":
        return lambda t: geoline(t, wkt, polygon=True)
    if kind == "dateTime":
        return _datetime
    return None  # the text itself


EDM_TYPES = {
    "int": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
}


def edm_type(kind: str) -> str:
    return EDM_TYPES.get(kind, "Edm.String")
