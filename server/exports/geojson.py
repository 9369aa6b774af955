"""Households as a GeoJSON FeatureCollection, one Feature per submission, streamed.

The geometry is the household's geopoint (the root table's first, or the one asked for); its
properties are the root table's columns, so a GIS user sees what the CSV shows. A household with
no location keeps its Feature with a null geometry rather than disappearing from the map's table."""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Engine

from server import finite_json, problems
from server.exports.csv_files import connect
from server.exports.tables import Export, header, make_plans, root_table


def geometry_column(export: Export, field_name: str | None) -> int | None:
    """Where, in a root row, the geopoint's four cells start (None: the form has no geopoint)."""
    at = 1  # SubmissionDate
    for col in export.root.columns:
        if col.field.type == "geopoint" and (field_name is None or col.field.name == field_name
                                             or col.path == field_name):
            return at
        at += len(col.headers)
    if field_name:
        raise problems.UnexpectedValue(f"The form has no geopoint question '{field_name}' outside its repeats.",
                                       details={"field": "geometry"})
    return None


def _number(value):
    if value is None or value == "":
        return None
    try:
        return float(value) if any(c in value for c in ".eE") else int(value)
    except ValueError:
        return value


def _point(cells: list) -> dict | None:
    """The Point, or None (a null geometry) when latitude or longitude is missing or not a finite
    number: `1e400` is Infinity, which no map can place and JSON cannot carry."""
    lat, lon, alt = (_number(c) for c in cells[:3])
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if isinstance(alt, float) and not math.isfinite(alt):
        alt = None
    coords = [lon, lat] + ([alt] if isinstance(alt, (int, float)) else [])
    return {"type": "Point", "coordinates": coords}


def feature_chunks(features: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Features as a streamed FeatureCollection, 500 a chunk; non-finite numbers become null."""
    yield b'{"type":"FeatureCollection","features":['
    first = True
    out: list[str] = []
    for feature in features:
        out.append(("" if first else ",") + finite_json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
        first = False
        if len(out) >= 500:
            yield "".join(out).encode("utf-8")
            out.clear()
    out.append("]}")
    yield "".join(out).encode("utf-8")


def geojson_chunks(engine: Engine, export: Export, geometry_field: str | None = None) -> Iterator[bytes]:
    with connect(engine) as conn:
        make_plans(conn, export)
        names = header(export, export.root)
        at = geometry_column(export, geometry_field)
        numeric = export.root.numeric()
        keep = [i for i in range(len(names)) if at is None or not at <= i < at + 4]
        key_at = len(names) - 10
        features = ({"type": "Feature", "id": row[key_at],
                     "geometry": _point(row[at:at + 4]) if at is not None else None,
                     "properties": {names[i]: (_number(row[i]) if i < len(numeric) and numeric[i] else row[i])
                                    for i in keep}}
                    for row in root_table(conn, export))
        yield from feature_chunks(features)
