"""Households as a GeoJSON FeatureCollection, one Feature per submission, streamed.

The geometry is the household's geopoint (the root table's first, or the one asked for); its
properties are the root table's columns, so a GIS user sees what the CSV shows. A household with
no location keeps its Feature with a null geometry rather than disappearing from the map's table."""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine

from server import finite_json, problems
from server.exports import copy_csv, source
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
        if "." in value or "e" in value or "E" in value:
            return finite_json.exact_float(float(value))
        return int(value)
    except ValueError:
        return value


def _point(cells: Sequence) -> dict | None:
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
    """Features as a streamed FeatureCollection, 500 a chunk; non-finite numbers become null. The 500
    are encoded as one JSON list, its brackets dropped (the same text as one by one, a tenth of the
    calls), by orjson where it writes json's bytes (`finite_json.list_items`)."""
    yield b'{"type":"FeatureCollection","features":['
    first = True
    batch: list[dict[str, Any]] = []
    for feature in chain(features, [None]):
        if feature is not None:
            batch.append(feature)
            if len(batch) < 500:
                continue
        if batch:
            data = finite_json.list_items(batch)
            yield data if first else b"," + data
            first = False
            batch.clear()
    yield b"]}"


def geojson_chunks(engine: Engine, export: Export, geometry_field: str | None = None) -> Iterator[bytes]:
    with connect(engine) as conn:
        make_plans(conn, export)
        names = header(export, export.root)
        at = geometry_column(export, geometry_field)
        numeric = export.root.numeric()
        keep = [i for i in range(len(names)) if at is None or not at <= i < at + 4]
        keys = [names[i] for i in keep]
        numbers = [j for j, i in enumerate(keep) if i < len(numeric) and numeric[i]]
        pick = itemgetter(*keep)
        key_at = len(names) - 10
        by_database = copy_csv.cells_usable(conn, export)

        def features() -> Iterator[dict[str, Any]]:
            for row in rows:
                values = list(pick(row))
                for j in numbers:
                    values[j] = _number(values[j])
                yield {"type": "Feature", "id": row[key_at],
                       "geometry": _point(row[at:at + 4]) if at is not None else None,
                       "properties": dict(zip(keys, values))}
        if not by_database:
            rows: Iterable[Sequence] = root_table(conn, export)
            yield from feature_chunks(features())
            return
        # The same cells made by PostgreSQL (timestamps, geopoints split), a third of the Python per row.
        with copy_csv.streaming_plan(conn):
            result = conn.execution_options(**source.STREAM).execute(copy_csv.root_select(export, empty_as_null=False))
            rows = map(tuple, result)   # plain tuples: a Row's slices and items cost more
            yield from feature_chunks(features())
