"""Central's OData `$filter` and `$orderby` subset over the `submissions` table (odk-protocol §6.5, §7.3).

A tokenizer and a precedence-climbing parser build a small tree (nothing is ever evaluated as
Python); the tree is then compiled to a SQLAlchemy clause that runs on SQLite and PostgreSQL alike.

    submission_filter("__system/submissionDate ge 2026-08-01 and __system/reviewState ne 'rejected'")
    exclude_deleted(text)      # `deleted_at IS NULL`, unless the filter itself speaks of deletedAt
    order_spec("__system/submitterId desc, __system/submissionDate")   # (column, descending) pairs

What is understood, as Central understands it:
- fields `__id`, `__system/submissionDate`, `__system/updatedAt`, `__system/submitterId`,
  `__system/reviewState`, `__system/deletedAt`, each also spelled `$root/Submissions/…` (repeat
  tables accept only that spelling, `root_only=True`); any other name is 501.5;
- literals `null`, `true`, `false`, numbers, 'strings' ('' for a quote), dates `2026-08-01` and
  date-times `2026-08-01T07:30:00.123+07:00` (no offset means UTC);
- `eq ne lt le gt ge`, `and or not`, parentheses; `not` applies to the comparison after it, so
  `not __system/deletedAt eq null` means `not (… eq null)`, as in Central's tests;
- `year month day hour minute second` of a date-time (in UTC) and `now()`.
Other OData operators (`add`, `mul`, …) and functions (`contains`, `trim`, …) parse but are refused
with 501.4; anything that does not parse is 400.18 with the position where reading stopped.

Comparisons follow Central's SQL: `eq null` is IS NULL, `eq`/`ne` treat null as a value (so
`reviewState ne 'rejected'` keeps unreviewed submissions), `lt`… with null match nothing.
Timestamps are shown with millisecond precision (2026-08-22T03:15:07.123Z) but stored with
microseconds; comparing a timestamp field with a literal compares the millisecond value shown, so
`submissionDate gt <the last submissionDate you saw>` never returns that submission again."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Integer, and_, cast, false, literal, not_, null, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from server import problems
from server.db import UTCDateTime, utcnow
from server.models.submissions import Submission
from server.params import MAX_INT

SUBMISSIONS = Submission.__table__

# OData name → (column, kind). Kinds: datetime, int, string.
_FIELDS = {
    "__id": (SUBMISSIONS.c.instance_id, "string"),
    "__system/submissionDate": (SUBMISSIONS.c.created_at, "datetime"),
    "__system/updatedAt": (SUBMISSIONS.c.updated_at, "datetime"),
    "__system/submitterId": (SUBMISSIONS.c.submitter_id, "int"),
    "__system/reviewState": (SUBMISSIONS.c.review_state, "string"),
    "__system/deletedAt": (SUBMISSIONS.c.deleted_at, "datetime"),
}
ROOT_PREFIX = "$root/Submissions/"
DELETED_AT = ("__system/deletedAt", ROOT_PREFIX + "__system/deletedAt")

_EXTRACT = ("year", "month", "day", "hour", "minute", "second")
# OData's other canonical functions: they parse, and are refused as unsupported (501.4).
_OTHER_FUNCTIONS = {"contains", "endswith", "startswith", "length", "indexof", "substring", "tolower", "toupper",
                    "trim", "concat", "fractionalseconds", "totalseconds", "date", "time", "totaloffsetminutes",
                    "mindatetime", "maxdatetime", "round", "floor", "ceiling", "geo.distance", "geo.length",
                    "geo.intersects", "isof", "cast", "matchespattern", "hassubset", "hassubsequence"}
_COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
_ARITHMETIC = {"add": "AddExpression", "sub": "SubExpression", "mul": "MulExpression", "div": "DivExpression",
               "divby": "DivbyExpression", "mod": "ModExpression"}
_KEYWORDS = set(_COMPARISONS) | set(_ARITHMETIC) | {"and", "or", "not", "has", "in"}


# --- tokens ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str      # name, string, number, date, datetime, "(", ")", ",", end
    text: str      # the token's source text
    start: int
    end: int


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,12})?)?(?:[Zz]|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_.]*(?:/\$?[A-Za-z_][A-Za-z0-9_.]*)*")
_SPACE = re.compile(r"[ \t\r\n]+")


class _OutOfRange(ValueError):
    """A literal that parses but names a value the database or Python cannot hold; `why` says the range."""


_INT_RANGE = f"a number from {-MAX_INT - 1:,} to {MAX_INT:,}"
_WHEN_RANGE = "a date-time from 0001-01-01 to 9999-12-31 in UTC"


def _bounded_number(value: int | float) -> int | float:
    """Whole numbers must fit PostgreSQL's integer (every int field is one, and year() gives one);
    SQLite could not even bind a number past 64 bits. A decimal must be finite."""
    if isinstance(value, int) and not -MAX_INT - 1 <= value <= MAX_INT:
        raise _OutOfRange(f"expected {_INT_RANGE}")
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise _OutOfRange("expected a finite number")
    return value


def _out_of_range(text: str, start: int, end: int, why: str) -> problems.Problem:
    return problems.ODataUnparseable(
        f"The OData filter expression you provided could not be parsed: {why} at {start} (\"{text[start:end]}\")",
        details={"reason": why, "at": start, "expression": text})


def _unparseable(text: str, at: int) -> problems.Problem:
    return problems.ODataUnparseable(
        f"The OData filter expression you provided could not be parsed: Unexpected character at {at}",
        details={"reason": f"Unexpected character at {at}", "expression": text})


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        m = _SPACE.match(text, i)
        if m:
            i = m.end()
            continue
        c = text[i]
        if c in "(),":
            tokens.append(Token(c, c, i, i + 1))
            i += 1
            continue
        if c == "'":
            j, parts = i + 1, []
            while True:
                k = text.find("'", j)
                if k < 0:
                    raise _unparseable(text, i)
                parts.append(text[j:k])
                if text.startswith("''", k):  # '' is a quote inside a string
                    parts.append("'")
                    j = k + 2
                    continue
                break
            tokens.append(Token("string", "".join(parts), i, k + 1))
            i = k + 1
            continue
        for kind, pattern in (("datetime", _DATETIME), ("date", _DATE), ("number", _NUMBER), ("name", _NAME)):
            m = pattern.match(text, i)
            if m and not (kind in ("date", "number") and m.end() < n and (text[m.end()].isalpha() or text[m.end()] == "_")):
                tokens.append(Token(kind, m.group(), i, m.end()))
                i = m.end()
                break
        else:
            raise _unparseable(text, tokens[-1].end if tokens else i)
    tokens.append(Token("end", "", n, n))
    return tokens


# --- syntax tree -------------------------------------------------------------------------------------

@dataclass
class Node:
    kind: str                 # literal, member, call, compare, arithmetic, and, or, not
    start: int
    end: int
    value: Any = None         # literal: python value; member/call: name; compare/arithmetic: operator
    literal: str = ""         # literal kind: null, bool, number, string, date, datetime
    args: list[Node] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self):
        # Where reading stopped: the end of the last token understood (Central reports it this way).
        raise _unparseable(self.text, self.tokens[self.i - 1].end if self.i else 0)

    def keyword(self, *words: str) -> str | None:
        if self.tok.kind == "name" and self.tok.text in words:
            self.i += 1
            return self.tokens[self.i - 1].text
        return None

    def parse(self) -> Node:
        if self.tok.kind == "end":
            self.fail()
        node = self.parse_or()
        if self.tok.kind != "end":
            self.fail()
        return node

    def parse_or(self) -> Node:
        return self.left_chain("or", self.parse_and)

    def parse_and(self) -> Node:
        return self.left_chain("and", self.parse_not)

    def left_chain(self, word: str, operand: Callable[[], Node]) -> Node:
        """`a word b word c` read as ((a word b) word c): `and` and `or` group from the left."""
        node = operand()
        while self.keyword(word):
            right = operand()
            node = Node(word, node.start, right.end, args=[node, right])
        return node

    def parse_not(self) -> Node:
        start = self.tok.start
        if self.keyword("not"):
            inner = self.parse_not()
            return Node("not", start, inner.end, args=[inner])
        return self.parse_compare()

    def parse_compare(self) -> Node:
        node = self.parse_additive()
        op = self.keyword(*_COMPARISONS)
        if op:
            right = self.parse_additive()
            node = Node("compare", node.start, right.end, value=op, args=[node, right])
        return node

    def parse_additive(self) -> Node:
        node = self.parse_multiplicative()
        while True:
            op = self.keyword("add", "sub")
            if not op:
                return node
            right = self.parse_multiplicative()
            node = Node("arithmetic", node.start, right.end, value=op, args=[node, right])

    def parse_multiplicative(self) -> Node:
        node = self.parse_primary()
        while True:
            op = self.keyword("mul", "div", "divby", "mod")
            if not op:
                return node
            right = self.parse_primary()
            node = Node("arithmetic", node.start, right.end, value=op, args=[node, right])

    def parse_primary(self) -> Node:
        t = self.tok
        if t.kind == "(":
            self.i += 1
            inner = self.parse_or()
            if self.tok.kind != ")":
                self.fail()
            self.i += 1
            return inner
        if t.kind in ("string", "number", "date", "datetime"):
            self.i += 1
            return Node("literal", t.start, t.end, value=_literal_value(self.text, t), literal=t.kind)
        if t.kind != "name" or t.text in _KEYWORDS:
            self.fail()
        self.i += 1
        if t.text in ("null", "true", "false"):
            return Node("literal", t.start, t.end, value={"null": None, "true": True, "false": False}[t.text],
                        literal="null" if t.text == "null" else "bool")
        if self.tok.kind != "(":
            return Node("member", t.start, t.end, value=t.text)
        # A function call: only OData's canonical names, spelled in lower case, parse.
        if t.text not in _EXTRACT and t.text != "now" and t.text not in _OTHER_FUNCTIONS:
            self.fail()
        self.i += 1
        args: list[Node] = []
        if self.tok.kind != ")":
            args.append(self.parse_or())
            while self.tok.kind == ",":
                self.i += 1
                args.append(self.parse_or())
        if self.tok.kind != ")":
            self.fail()
        end = self.tok.end
        self.i += 1
        if (t.text in _EXTRACT and len(args) != 1) or (t.text == "now" and args):
            raise _unparseable(self.text, t.end)
        return Node("call", t.start, end, value=t.text, args=args)


def _literal_value(text: str, t: Token):
    try:
        if t.kind == "number":
            return _bounded_number(int(t.text) if re.fullmatch(r"[+-]?\d+", t.text) else float(t.text))
        if t.kind == "date":
            return _parse_when(t.text)
        if t.kind == "datetime":
            return _parse_when(t.text)
    except _OutOfRange as e:
        raise _out_of_range(text, t.start, t.end, str(e)) from None
    except ValueError:
        raise _unparseable(text, t.start) from None
    return t.text


def _parse_when(raw: str) -> datetime:
    """An ISO date or date-time as an aware UTC datetime; a date is midnight UTC, no offset is UTC."""
    if _DATE.fullmatch(raw):
        d = date.fromisoformat(raw)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    if not _DATETIME.fullmatch(raw):
        raise ValueError(raw)
    s = raw[:-1] + "+00:00" if raw[-1] in "Zz" else raw
    main, _, rest = s.partition(".")
    if rest:  # fromisoformat wants 3 or 6 fraction digits; keep microseconds
        found = re.match(r"\d+", rest)
        digits = found.group() if found else ""
        s = f"{main}.{(digits + '000000')[:6]}{rest[len(digits):]}"
    value = datetime.fromisoformat(s)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+07:00 is in year 0 in UTC
        raise _OutOfRange(f"expected {_WHEN_RANGE}") from None


def parse(text: str) -> Node:
    """The syntax tree of a `$filter` expression; 400.18 if it does not parse."""
    return _Parser(text).parse()


# --- compiling to SQL --------------------------------------------------------------------------------

class utc_part(FunctionElement):
    """An integer part (year … second) of a UTC timestamp, on SQLite and PostgreSQL alike."""

    type = Integer()
    inherit_cache = True
    _traverse_internals = FunctionElement._traverse_internals + [("part", InternalTraversal.dp_string)]

    def __init__(self, part: str, expr):
        self.part = part
        super().__init__(expr)


_STRFTIME = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M", "second": "%S"}


@compiles(utc_part)
def _utc_part_default(element, compiler, **kw):
    # SQLite keeps UTC timestamps as text ('2026-08-22 03:15:07.123456'), which strftime reads.
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(STRFTIME('{_STRFTIME[element.part]}', {arg}) AS INTEGER)"


@compiles(utc_part, "postgresql")
def _utc_part_pg(element, compiler, **kw):
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(FLOOR(EXTRACT({element.part.upper()} FROM ({arg}) AT TIME ZONE 'UTC')) AS INTEGER)"


@dataclass
class _Operand:
    kind: str                       # bool, datetime, int, number, string, null, literal
    expr: Any = None                # SQL expression (not for literals)
    node: Node | None = None        # the literal's node
    column: bool = False            # a stored timestamp column (millisecond comparison applies)


class _Compiler:
    def __init__(self, text: str, root_only: bool, fields: dict | None = None, prefix: str = ROOT_PREFIX):
        self.text = text
        self.root_only = root_only
        self.now = utcnow()
        self.fields = _FIELDS if fields is None else fields
        self.prefix = prefix

    def raw(self, node: Node) -> str:
        return self.text[node.start:node.end]

    def unsupported(self, node: Node, kind: str):
        return problems.ODataExpressionUnsupported(
            f"The given OData filter expression uses features not supported by this server: {kind} at "
            f"{node.start} (\"{self.raw(node)}\")", details={"at": node.start, "type": kind, "text": self.raw(node)})

    def mismatch(self, node: Node, why: str):
        return problems.ODataUnparseable(
            f"The OData filter expression you provided could not be parsed: {why} at {node.start} "
            f"(\"{self.raw(node)}\")", details={"reason": why, "at": node.start, "expression": self.text})

    def condition(self, node: Node) -> ColumnElement:
        got = self.operand(node)
        if got.kind == "bool":
            return got.expr
        if got.kind == "literal" and node.literal == "bool":
            return true() if node.value else false()
        raise self.mismatch(node, "expected a condition")

    def operand(self, node: Node) -> _Operand:
        if node.kind == "literal":
            return _Operand("null" if node.literal == "null" else "literal", node=node)
        if node.kind == "member":
            name = node.value
            if name.startswith(self.prefix):
                name = name[len(self.prefix):]
            elif self.root_only:
                name = None
            found = self.fields.get(name) if name else None
            if found is None:
                raise problems.ODataFieldUnsupported(
                    "The given OData filter expression references fields not supported by this server: "
                    f"{node.value} at {node.start}", details={"at": node.start, "text": node.value})
            column, kind = found
            return _Operand(kind, column, column=kind == "datetime")
        if node.kind == "call":
            if node.value == "now":
                return _Operand("datetime", literal(self.now, UTCDateTime()))
            if node.value in _EXTRACT:
                arg = self.operand(node.args[0])
                if arg.kind == "literal" and arg.node is not None:  # a literal operand always has its node
                    arg = _Operand("datetime", literal(self.coerce(arg.node, "datetime"), UTCDateTime()))
                if arg.kind != "datetime":
                    raise self.mismatch(node, f"{node.value}() needs a date-time")
                return _Operand("number", utc_part(node.value, arg.expr))
            raise self.unsupported(node, "MethodCallExpression")
        if node.kind == "arithmetic":
            raise self.unsupported(node, _ARITHMETIC[node.value])
        if node.kind in ("and", "or"):
            left, right = self.condition(node.args[0]), self.condition(node.args[1])
            return _Operand("bool", and_(left, right) if node.kind == "and" else or_(left, right))
        if node.kind == "not":
            return _Operand("bool", not_(self.condition(node.args[0])))
        if node.kind == "compare":
            return _Operand("bool", self.compare(node))
        raise self.unsupported(node, node.kind)  # pragma: no cover - every parsed kind is handled above

    def coerce(self, node: Node, kind: str):
        """A literal as a value of the kind it is compared with."""
        value, lit = node.value, node.literal
        if kind == "datetime":
            if isinstance(value, datetime):
                return value
            if lit == "string":
                try:
                    return _parse_when(value)
                except _OutOfRange as e:
                    raise self.mismatch(node, str(e)) from None
                except ValueError:
                    pass
            raise self.mismatch(node, "expected a date or date-time")
        if kind in ("int", "number"):
            if lit == "number":
                return value
            if lit == "string" and _NUMBER.fullmatch(value.strip()):
                try:
                    return _bounded_number(int(value) if re.fullmatch(r"\s*[+-]?\d+\s*", value) else float(value))
                except _OutOfRange as e:
                    raise self.mismatch(node, str(e)) from None
            raise self.mismatch(node, "expected a number")
        if kind == "string":
            if lit == "string":
                return value
            if lit == "bool":
                return "true" if value else "false"
            return self.raw(node)
        raise self.mismatch(node, f"cannot compare with a {kind}")  # pragma: no cover

    def compare(self, node: Node) -> ColumnElement:
        op = node.value
        left, right = self.operand(node.args[0]), self.operand(node.args[1])
        for side, other_node in ((left, node.args[0]), (right, node.args[1])):
            if side.kind == "bool":
                raise self.mismatch(other_node, "a condition cannot be compared")
        if left.kind == "null" or right.kind == "null":
            other = right if left.kind == "null" else left
            if other.kind == "null":
                return {"eq": true(), "ne": false()}.get(op, cast(null(), Boolean))
            if other.kind == "literal":  # a value compared with null
                return {"eq": false(), "ne": true()}.get(op, cast(null(), Boolean))
            if op == "eq":
                return other.expr.is_(None)
            if op == "ne":
                return other.expr.is_not(None)
            return cast(null(), Boolean)
        if left.kind == "literal" and right.kind == "literal":
            a, b = node.args[0], node.args[1]
            la, lb = self._plain(a), self._plain(b)
            if type(la) is not type(lb) and not (isinstance(la, (int, float)) and isinstance(lb, (int, float))):
                raise self.mismatch(node, "the two values are not of the same type")
            return _operator(op, literal(la), literal(lb), literal_sides=True)
        if left.kind == "literal" or right.kind == "literal":
            flipped = left.kind == "literal"
            lit_node = node.args[0] if flipped else node.args[1]
            other = right if flipped else left
            if flipped:
                op = _FLIP[op]
            value = self.coerce(lit_node, other.kind)
            if other.kind == "datetime" and other.column:
                return _millisecond_compare(op, other.expr, value)
            bound = literal(value, UTCDateTime()) if other.kind == "datetime" else value
            return _operator(op, other.expr, bound, literal_sides=True)
        if _family(left.kind) != _family(right.kind):
            raise self.mismatch(node, f"a {left.kind} cannot be compared with a {right.kind}")
        return _operator(op, left.expr, right.expr, literal_sides=False)

    @staticmethod
    def _plain(node: Node):
        value = node.value
        if isinstance(value, datetime):
            return value.isoformat()
        return value


_FLIP = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _family(kind: str) -> str:
    return "number" if kind in ("int", "number") else kind


def _operator(op: str, left, right, literal_sides: bool) -> ColumnElement:
    if op == "eq":
        # Against a value, IS NOT DISTINCT FROM is `x IS NOT NULL AND x = value`: true or false, never
        # null (so `not … eq …` keeps the nulls, as in Central), and it can use an index. Between two
        # fields, null equals null, as in Central.
        return and_(left.is_not(None), left == right) if literal_sides else left.is_not_distinct_from(right)
    if op == "ne":
        return left.is_distinct_from(right)
    return {"lt": left < right, "le": left <= right, "gt": left > right, "ge": left >= right}[op]


_MS = timedelta(milliseconds=1)


def _plus_ms(moment: datetime) -> datetime | None:
    """One millisecond later, or None past 9999-12-31T23:59:59.999 (`lt` that moment means "any time")."""
    try:
        return moment + _MS
    except OverflowError:
        return None


def _millisecond_compare(op: str, column, value: datetime) -> ColumnElement:
    """Compare the timestamp as shown (truncated to milliseconds) with a literal, using the column as
    stored: `trunc(col) > L` is `col >= floor(L) + 1 ms`, and so on; both sides stay indexable."""
    floor = value.replace(microsecond=value.microsecond // 1000 * 1000)
    after = _plus_ms(floor)
    ceil = floor if floor == value else after
    bind = lambda v: literal(v, UTCDateTime())  # noqa: E731
    if op == "gt":
        return false() if after is None else column >= bind(after)
    if op == "ge":
        return false() if ceil is None else column >= bind(ceil)
    if op == "lt":
        return column.is_not(None) if ceil is None else column < bind(ceil)
    if op == "le":
        return column.is_not(None) if after is None else column < bind(after)
    if after is None:  # the last millisecond there is: nothing lies after it
        equal = and_(column.is_not(None), column >= bind(floor)) if floor == value else false()
        return equal if op == "eq" else not_(equal)
    equal = and_(column.is_not(None), column >= bind(floor), column < bind(after)) if floor == value else false()
    return equal if op == "eq" else not_(equal)


# --- the public API ----------------------------------------------------------------------------------

def submission_filter(text: str | None, *, root_only: bool = False) -> ColumnElement:
    """A `$filter` expression as a boolean clause over `submissions`. Raises 400.18 when it does not
    parse, 501.4 for operators and functions Central does not support, 501.5 for other fields.
    `root_only`: only the `$root/Submissions/…` spellings (what Central accepts on repeat tables)."""
    if text is None:
        return true()
    return _Compiler(text, root_only).condition(parse(text))


def compile_filter(text: str | None, fields: dict, prefix: str) -> ColumnElement:
    """A `$filter` expression as a boolean clause over other columns: `fields` maps each OData name
    to (column, kind), as `_FIELDS` does for submissions; `prefix` is the `$root/…/` spelling."""
    if text is None:
        return true()
    return _Compiler(text, False, fields, prefix).condition(parse(text))


def references(text: str | None, names: tuple[str, ...]) -> bool:
    """Whether the filter names one of these fields (Central's rule for deletedAt)."""
    if text is None:
        return False

    def walk(node: Node) -> bool:
        return (node.kind == "member" and node.value in names) or any(walk(a) for a in node.args)

    return walk(parse(text))


def references_deleted_at(text: str | None) -> bool:
    if text is None:
        return False

    def walk(node: Node) -> bool:
        return (node.kind == "member" and node.value in DELETED_AT) or any(walk(a) for a in node.args)

    return walk(parse(text))


def exclude_deleted(text: str | None) -> ColumnElement:
    """Central leaves deleted submissions out unless the filter itself mentions `__system/deletedAt`
    (`$filter=__system/deletedAt ne null` lists the deleted ones)."""
    return true() if references_deleted_at(text) else SUBMISSIONS.c.deleted_at.is_(None)


def order_spec(text: str, fields: dict | None = None, prefix: str = ROOT_PREFIX, tiebreak=None) -> list[tuple]:
    """`$orderby` as (column, descending) pairs: fields as in `$filter`, `asc` (the default) or `desc`
    (501.5 for anything else), then `submissions.id` (or `tiebreak`) in the first direction so the
    order is total."""
    fields = _FIELDS if fields is None else fields
    spec, first_desc = [], None
    for item in text.split(","):
        words = item.split()
        name = words[0] if words else ""
        direction = words[1] if len(words) > 1 else "asc"
        key = name[len(prefix):] if name.startswith(prefix) else name
        if key not in fields:
            raise problems.ODataFieldUnsupported(
                f"The given OData filter expression references fields not supported by this server: {name}",
                details={"text": name})
        if direction.lower() not in ("asc", "desc"):
            raise problems.ODataFieldUnsupported(
                f"The given OData filter expression references fields not supported by this server: {direction}",
                details={"text": direction})
        desc = direction.lower() == "desc"
        spec.append((fields[key][0], desc))
        if first_desc is None:
            first_desc = desc
    spec.append((SUBMISSIONS.c.id if tiebreak is None else tiebreak, bool(first_desc)))
    return spec


def order_clause(column, desc: bool, nulls: bool = True):
    """Central's sort of one column: ascending with nulls first, or descending with nulls last."""
    if not nulls:
        return column.desc() if desc else column.asc()
    return column.desc().nulls_last() if desc else column.asc().nulls_first()

