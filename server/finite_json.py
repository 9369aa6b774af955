"""JSON that never carries NaN or Infinity.

Python's json writes a non-finite float as `Infinity` or `NaN`, which no JSON parser accepts: one
submission with the geopoint `1e400 1e400 1 1` made a whole form's submissions.geojson unreadable.
Like JavaScript's JSON.stringify (and Central's OData), such a number becomes null. The first
attempt refuses non-finite numbers outright, so the usual all-finite document is written once."""
from __future__ import annotations

import json
import math
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float inside it replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """json.dumps, with non-finite numbers as null."""
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError:
        return json.dumps(finite(value), allow_nan=False, **kwargs)


class FiniteJSONProvider(DefaultJSONProvider):
    """Flask's JSON (every REST response built from a dict or list) without NaN or Infinity."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return dumps(obj, **kwargs)


class ReprFloat(float):
    """A float orjson would print unlike Python's repr: 1e-05 as `0.00001`, 1.25e-07 as `1.25e-7`
    (orjson 3.13; every other finite float prints alike). orjson hands it to `_default`, which writes
    repr's text; json writes a float subclass by float's repr anyway."""


def exact_float(value: float) -> float:
    """`value`, marked as a ReprFloat where orjson's text would differ (0 < |value| < 1e-4)."""
    return ReprFloat(value) if 0.0 < abs(value) < 1e-4 else value


def _default(value: Any) -> Any:
    if type(value) is ReprFloat:
        return orjson.Fragment(float.__repr__(value))
    raise TypeError(type(value).__name__)


# Subclasses of str, int, dict and list, dates and dataclasses go to `_default`, which refuses them:
# json writes those its own way, so they take json's path.
_OPTIONS = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def list_items(values: list) -> bytes:
    """The UTF-8 JSON of `values`' items, comma-separated (the list without its brackets): the bytes
    `dumps(value, ensure_ascii=False, separators=(",", ":"))` gives item by item, joined by commas.

    orjson writes them ~4× faster, the same bytes (tests/test_finite_json_bytes.py holds it to json's):
    non-finite numbers as null, the same escapes. Floats with 0 < |x| < 1e-4 must come marked by
    `exact_float`. What orjson refuses (integers beyond 64 bits, non-str keys, lone surrogates,
    subclasses) is written by json, as before. Only where json itself refuses (a UUID, an Enum)
    may orjson write a value."""
    try:
        return orjson.dumps(values, default=_default, option=_OPTIONS)[1:-1]
    except orjson.JSONEncodeError:
        pass
    try:
        text = _ENCODER.encode(values)[1:-1]
    except ValueError:
        text = ",".join(dumps(v, ensure_ascii=False, separators=(",", ":")) for v in values)
    return text.encode("utf-8")
