"""finite_json.list_items writes with orjson the bytes json wrote (issue 19: no export changes a byte).

Every value here is compared with what `finite_json.dumps(v, ensure_ascii=False, separators=(",", ":"))`
gives, item by item, joined by commas: the GeoJSON export's text before orjson. A hand-made table of
hostile values, then seeded random documents built from them and from random floats, strings and
integers."""
from __future__ import annotations

import math
import random
import struct

import orjson
import pytest

from server import finite_json
from server.exports.geojson import _number, _point, feature_chunks


def reference(values: list) -> bytes:
    return ",".join(finite_json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in values).encode("utf-8")


FLOATS = [0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 100.0, 1e15, 1e16, 9999999999999998.0, 1.5e17, 1e22, 1e100,
          1.7976931348623157e308, 5e-324, 1e-300, 1e-10, 9.999999999999999e-10, 1e-9, 1.25e-7, 1e-6, 1e-5,
          1.25e-5, 9.999999999999999e-05, 1e-4, 0.000125, 123456789012345.6, -2.5e-8,
          math.nan, math.inf, -math.inf]
INTS = [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -2**63, -2**63 - 1, 10**30, -10**30]
STRINGS = ["", "plain", "é ñ 中文 😀", "\x00", "\x01\x08\t\n\x0b\x0c\r\x0e\x1f", "\x1f", "\x7f", "\x80\x9f",
           "\u2028\u2029", "\ufeff", "\ufffe\uffff", '"quoted" \\back\\ /slash/', "</script>", "'", "1e-05",
           "0.00001", "NaN", "Infinity", "\U0010ffff", "a" * 5000]
OTHERS = [None, True, False, [], {}, [[]], {"": None}, (1, "two", 3.0)]
NON_STR_KEYS = [{1: "a"}, {1.5: "b"}, {True: "c"}, {None: "d"}]


def marked(value):
    """Floats as the GeoJSON export hands them over (finite_json.exact_float), anywhere inside."""
    if isinstance(value, float):
        return finite_json.exact_float(value)
    if isinstance(value, dict):
        return {k: marked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [marked(v) for v in value]
    return value


@pytest.mark.parametrize("value", FLOATS + INTS + STRINGS + OTHERS + NON_STR_KEYS, ids=repr)
def test_each_hostile_value_is_written_as_json_writes_it(value):
    values = [marked(value), {"k": marked(value), "n": [marked(value), 1]}]
    assert finite_json.list_items(values) == reference(values)


def test_non_finite_numbers_are_null_and_the_rest_unchanged():
    values = [{"a": math.nan, "b": [math.inf, 1.5, "x"]}, -math.inf, 2]
    assert finite_json.list_items(values) == b'{"a":null,"b":[null,1.5,"x"]},null,2'


def test_a_lone_surrogate_fails_as_it_did():
    with pytest.raises(UnicodeEncodeError):
        reference(["\ud800"])
    with pytest.raises(UnicodeEncodeError):
        finite_json.list_items([{"s": "\ud800"}])


def test_exact_float_marks_every_float_orjson_writes_unlike_repr():
    rng = random.Random(19)
    draws = [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(100_000)]
    draws += [m * 10.0 ** e for e in range(-30, 30) for m in (1.0, 1.25, 9.999999999999999)]
    checked = 0
    for x in draws:
        if not math.isfinite(x):
            continue
        if orjson.dumps(x).decode() != repr(x):
            assert type(finite_json.exact_float(x)) is finite_json.ReprFloat, x
            checked += 1
        assert finite_json.list_items([finite_json.exact_float(x)]) == repr(x).encode()
    assert checked > 0   # orjson still differs for some tiny floats: the mark is what keeps json's bytes


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice(FLOATS + INTS + STRINGS + OTHERS)
    if kind == 1:
        return struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
    if kind == 2:
        return rng.choice([-1, 1]) * rng.getrandbits(rng.choice([8, 32, 63, 64, 65]))
    if kind == 3:
        return "".join(chr(rng.choice([rng.randrange(0x80), rng.randrange(0x80, 0xd800),
                                       rng.randrange(0xe000, 0x110000)])) for _ in range(rng.randrange(12)))
    if kind == 4:
        return float(f"{rng.randrange(-10**6, 10**6)}e{rng.randrange(-12, 20)}")
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {str(_random_value(rng, 3)): _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def test_random_documents_are_written_as_json_writes_them():
    rng = random.Random(2026)
    for _ in range(3000):
        values = [marked(_random_value(rng)) for _ in range(rng.randrange(1, 6))]
        assert finite_json.list_items(values) == reference(values), values


def test_features_from_hostile_cells_keep_json_bytes():
    """The export's own path: cells as the database gives them, through _number and _point."""
    cells = ["1e-05", "0.00001", "-1.25e-7", "1e16", "12.50", "1e400", "-1e400", "nan", "12", "99999999999999999999999",
             "-0", "-0.0", "abc", "", None, "\x1f\n\t\x7f\u2028", "😀"]
    features = []
    for i, c in enumerate(cells):
        for d in cells:
            features.append({"type": "Feature", "id": f"uuid:{i}", "geometry": _point([c, d, c, "5"]),
                             "properties": {"n": _number(c), "m": _number(d), "t": c}})
    got = b"".join(feature_chunks(iter(features)))
    want = (b'{"type":"FeatureCollection","features":[' + reference(features) + b"]}")
    assert got == want
    assert b"1e-05" in got and b"-1.25e-07" in got and b"1e+16" in got and b"null" in got
