"""JSON that never carries NaN or Infinity.

Python's json writes a non-finite float as `Infinity` or `NaN`, which no JSON parser accepts: one
submission with the geopoint `1e400 1e400 1 1` made a whole form's submissions.geojson unreadable.
Like JavaScript's JSON.stringify (and Central's OData), such a number becomes null. The first
attempt refuses non-finite numbers outright, so the usual all-finite document is written once."""
from __future__ import annotations

import json
import math
from typing import Any

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
