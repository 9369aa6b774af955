"""The OData query string as Central reads it: which options exist, what is refused and with which
code, and the `$skiptoken` format.

- An option Central does not know is 501.1; `$expand` other than `*` is 501.6; `$expand` with
  `$select` is 501.11; `$orderby` with `$skiptoken` is 501.1 (as in Central).
- `$top`, `$skip`: non-negative integers (400.11 otherwise); `$count`, `$wkt`: `true` in any case.
- `$skiptoken`: `01` then base64 of a JSON object (400.35 otherwise). Central's tokens carry
  `{"instanceId"}` (Submissions) or `{"repeatId"}` (repeat tables); Hamlet's repeat-table tokens also
  carry the row's instanceID and KEY, so the next page is found through indexes."""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from server import problems
from server.params import non_negative_int

KNOWN = ("$format", "$count", "$skip", "$top", "$filter", "$wkt", "$expand", "$select", "$skiptoken",
         "$orderby", "$search")


@dataclass
class ODataQuery:
    top: int | None = None
    skip: int = 0
    count: bool = False
    wkt: bool = False
    filter: str | None = None
    expand: bool = False
    select: list[str] | None = None      # None: everything ($select absent or `*`)
    orderby: str | None = None
    skiptoken: dict | None = None

    @property
    def metadata(self) -> set[str] | None:
        """The `__…` properties named in `$select` (None: no `$select`, so all of them)."""
        if self.select is None:
            return None
        return {p for p in self.select if p.startswith("__")}


def _true(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"


_non_negative = non_negative_int  # bounded by what the database holds (server/params.py)


def check_options(args: Mapping[str, str]) -> None:
    """Central's preprocessor: unknown options, then `$expand`, then `$expand` with `$select`."""
    for key in args:
        if key not in KNOWN:
            raise problems.NotImplementedYet(f"The requested feature {key} is not supported by this server.",
                                             details={"feature": key})
    expand = args.get("$expand")
    if expand and expand != "*":
        raise problems.ODataExpandUnsupported(
            f'The given OData expand expression is not supported by this server: "{expand}". Currently, only '
            '"$expand=*" is supported.', details={"text": expand})
    if expand and args.get("$select"):
        raise problems.ODataSelectExpandUnsupported()


def parse_query(args: Mapping[str, str]) -> ODataQuery:
    check_options(args)
    select = args.get("$select")
    q = ODataQuery(
        top=_non_negative("$top", args.get("$top")),
        count=_true(args.get("$count")),
        wkt=_true(args.get("$wkt")),
        filter=args.get("$filter"),
        expand=args.get("$expand") == "*",
        select=None if select is None or select.strip() in ("", "*") else [p.strip() for p in select.split(",")],
        orderby=args.get("$orderby"),
    )
    token = args.get("$skiptoken")
    if token is not None:
        q.skiptoken = parse_skiptoken(token)
    else:
        q.skip = _non_negative("$skip", args.get("$skip")) or 0
    if q.orderby is not None and q.skiptoken is not None:
        raise problems.NotImplementedYet(
            "The requested feature using $orderby and $skiptoken together is not supported by this server.",
            details={"feature": "using $orderby and $skiptoken together"})
    return q


def parse_skiptoken(token: str) -> dict:
    if not token.startswith("01"):
        raise problems.ODataSkiptokenInvalid()
    try:
        data = json.loads(base64.b64decode(token[2:], validate=False).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise problems.ODataSkiptokenInvalid() from None
    if not isinstance(data, dict):
        raise problems.ODataSkiptokenInvalid()
    return data


def make_skiptoken(data: dict) -> str:
    return "01" + base64.b64encode(json.dumps(data, separators=(",", ":"), ensure_ascii=False)
                                   .encode("utf-8")).decode("ascii")
