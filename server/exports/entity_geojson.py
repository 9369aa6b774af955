"""An Entity List as GeoJSON (Central's `…/datasets/{name}/entities.geojson`): the property named
`geometry`, holding an ODK geopoint, geotrace or geoshape, becomes each Feature's geometry.

As in Central the kind is read from the value itself: one point is a Point; four or more points
whose first and last are the same are a Polygon; anything else with two or more is a LineString.
Entities whose `geometry` is empty or not readable are left out; Features carry no properties."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from server.exports.geojson import feature_chunks
from server.odata.values import geoline, geopoint


def geometry(text: str | None) -> dict[str, Any] | None:
    if not text or not any(c.isdigit() for c in text):
        return None
    points = [p for p in text.strip().strip(";").split(";") if p.strip()]
    if len(points) == 1:
        value = geopoint(points[0], wkt=False)
    else:
        closed = len(points) > 3 and points[0].split()[:3] == points[-1].split()[:3]
        value = geoline(";".join(points), wkt=False, polygon=closed)
    if not isinstance(value, dict):
        return None
    coordinates = value["coordinates"]
    assert isinstance(coordinates, list), "values.py builds coordinates as lists"
    if value["type"] != "Point" and len(coordinates[0] if value["type"] == "Polygon" else coordinates) < 2:
        return None
    value.pop("properties", None)  # accuracy is not part of a GeoJSON geometry
    return value


def feature_collection(entities: Iterable[tuple[str, str | None]]) -> Iterator[bytes]:
    """(uuid, geometry text) pairs as a streamed FeatureCollection."""
    shapes = ((uuid, geometry(text)) for uuid, text in entities)
    yield from feature_chunks({"type": "Feature", "id": uuid, "properties": None, "geometry": shape}
                              for uuid, shape in shapes if shape is not None)
