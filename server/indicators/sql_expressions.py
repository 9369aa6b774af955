"""Indicator expressions compiled to PostgreSQL, for computing every household in the database at once.

The first report after a new workbook computes every household; fetching 100,000s of answer rows into
Python cost most of its time (bench/README.md, "bench/indicators_first.py"). So the expressions whose
meaning SQL can reproduce exactly are compiled to SQL here, and server/indicators/in_database.py sums
them in one `INSERT … SELECT`. Exactly means: the rows stored must be those the Python evaluator
(server/indicators/expressions.py) would store, so the subset is small and every conversion that
could differ is guarded:

- A number read from an answer is cast only when it is a plain integer of at most 15 digits (where
  every parser agrees); an answer used as a number that is anything else (`1.5`, ` 7`, `1e3`) marks
  its row *odd*, and the households with odd rows are left to the Python evaluator.
- A list answer (`selected()`, `count-selected()`) is split on spaces only; an answer holding any
  other whitespace Python's `str.split()` splits on marks its row odd.
- Text equality compares the answer's exact text ('' when absent), as the evaluator does.

Anything else (arithmetic, string functions, text ordering, `if()`…) raises NotCompilable and that
indicator is computed by the Python evaluator. Pure: no database here, only SQL text and its
parameters (psycopg's `%(name)s`), never a value written into the text."""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from server.indicators.expressions import Binary, Call, Expr, Literal, Negate, Ref

# A number PostgreSQL and pandas read alike.
PLAIN_NUMBER = "^-?[0-9]{1,15}$"
# Every character Python's str.split() and str.strip() treat as whitespace.
WHITESPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
OTHER_WHITESPACE = WHITESPACE.replace(" ", "")


class NotCompilable(ValueError):
    """An expression (or a part of it) SQL cannot evaluate exactly as the Python evaluator does."""


@dataclass
class Parameters:
    """The bound parameters of one statement, named p0, p1, …"""

    values: dict[str, object] = field(default_factory=dict)

    def add(self, value: object) -> str:
        """The placeholder of `value`: the same one for the same value, so that equal expressions compile
        to equal SQL (the caller computes each once)."""
        for name, known in self.values.items():
            if type(known) is type(value) and known == value:
                return f"%({name})s"
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"


@dataclass
class Reads:
    """How a compiled expression reads its answers: the SQL columns read as numbers and as lists (their
    rows are odd when the value is not one SQL reads exactly)."""

    numbers: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)

    def odd(self, params: Parameters, number: Callable[[str], str] | None = None) -> str:
        """A condition true (never NULL) on a row that must be left to the Python evaluator; `number(c)`, when
        given, is a column holding `number_of(c)` already."""
        tests = [f"({c} IS NOT NULL AND {c} <> '' AND " + (f"{number(c)} IS NULL)" if number else f"NOT {_plain(c)})")
                 for c in sorted(self.numbers)]
        tests += [f"({c} IS NOT NULL AND {c} ~ {params.add('[' + OTHER_WHITESPACE + ']')})" for c in sorted(self.lists)]
        return " OR ".join(tests) or "false"


def number_of(column: str, params: Parameters) -> str:
    """An answer's text read as a number (NULL: not one) where it is a plain number; other rows are odd."""
    return f"(CASE WHEN {_plain(column)} THEN ({column})::float8 END)"


def _plain(c: str) -> str:
    """`c` is a plain number: PLAIN_NUMBER, without a regular expression (three times as slow). Digits only,
    else a minus and digits; those are ASCII, so the byte length (no scan) is the number of characters. Half
    the time of the translate/strpos/length form it replaces (once per roster row: 0.6 s at 4M rows)."""
    digits = "'0123456789'"
    return (f"(CASE WHEN ltrim({c}, {digits}) = '' THEN {c} <> '' AND octet_length({c}) <= 15 "
            f"ELSE left({c}, 1) = '-' AND ltrim(substr({c}, 2), {digits}) = '' AND octet_length({c}) BETWEEN 2 AND 16 END)")


class _S:
    """A compiled value: its kind (bool, num, str, field) and SQL text. bool and str are never NULL; num is
    NULL for NaN; field is the answer's column (NULL when absent)."""

    def __init__(self, kind: str, sql: str):
        self.kind, self.sql = kind, sql


class _Compiler:
    def __init__(self, column: Callable[[str], str], params: Parameters, reads: Reads,
                 number: Callable[[str], str] | None):
        self.column, self.params, self.reads = column, params, reads
        self.number = number or (lambda c: number_of(c, params))

    def bool(self, v: _S) -> str:
        if v.kind == "bool":
            return v.sql
        if v.kind == "num":
            return f"coalesce({v.sql} <> 0, false)"
        if v.kind == "field":
            return f"coalesce({v.sql} <> '', false)"
        return f"({v.sql} <> '')"

    def num(self, v: _S) -> str:
        if v.kind == "num":
            return v.sql
        if v.kind == "bool":
            return f"(CASE WHEN {v.sql} THEN 1.0 ELSE 0.0 END)::float8"
        if v.kind == "field":
            if v.sql == "NULL":
                return "NULL::float8"
            self.reads.numbers.add(v.sql)
            return self.number(v.sql)
        raise NotCompilable("text used as a number")

    def text(self, v: _S) -> str:
        if v.kind == "field":
            return f"coalesce({v.sql}, '')"
        if v.kind == "str":
            return v.sql
        raise NotCompilable("a number or truth value used as text")

    def eval(self, node: Expr) -> _S:
        if isinstance(node, Literal):
            if isinstance(node.value, str):
                return _S("str", self.params.add(node.value))
            return _S("num", f"{self.params.add(float(node.value))}::float8")
        if isinstance(node, Ref):
            return _S("field", self.column(node.name))
        if isinstance(node, Negate):
            return _S("num", f"(-{self.num(self.eval(node.operand))})")
        if isinstance(node, Binary):
            left, right = self.eval(node.left), self.eval(node.right)
            if node.op in ("and", "or"):
                return _S("bool", f"({self.bool(left)} {node.op.upper()} {self.bool(right)})")
            if node.op in ("=", "!="):
                return _S("bool", self.equal(left, right) if node.op == "=" else f"(NOT {self.equal(left, right)})")
            if node.op in ("<", "<=", ">", ">="):
                if not {left.kind, right.kind} & {"bool", "num"}:
                    raise NotCompilable("text ordering")
                return _S("bool", f"coalesce({self.num(left)} {node.op} {self.num(right)}, false)")
            raise NotCompilable(f"arithmetic ({node.op})")
        if isinstance(node, Call):
            return self.call(node)
        raise NotCompilable(f"{node!r}")

    def equal(self, a: _S, b: _S) -> str:
        kinds = {a.kind, b.kind}
        if "bool" in kinds:
            return f"({self.bool(a)} = {self.bool(b)})"
        if "num" in kinds:
            for v in (a, b):   # a text literal compared with a number: converted as the evaluator does, once
                if v.kind == "str":
                    raise NotCompilable("a text literal compared with a number")
            return f"coalesce({self.num(a)} = {self.num(b)}, false)"
        return f"({self.text(a)} = {self.text(b)})"

    def call(self, node: Call) -> _S:
        name = node.name
        if name in ("true", "false"):
            return _S("bool", name)
        args = [self.eval(a) for a in node.args]
        if name == "not":
            return _S("bool", f"(NOT {self.bool(args[0])})")
        if name == "boolean":
            return _S("bool", self.bool(args[0]))
        if name == "number":
            return _S("num", self.num(args[0]))
        if name == "selected" and args[0].kind == "field" and isinstance(node.args[1], Literal) \
                and isinstance(node.args[1].value, str):
            choice = node.args[1].value.strip()
            if choice == "" or args[0].sql == "NULL":
                return _S("bool", "false")
            self.reads.lists.add(args[0].sql)
            if choice.split() == [choice]:
                # One of the space-separated tokens (a choice holds no whitespace): found between spaces, the
                # answer padded with one on each side — no array built per row.
                return _S("bool", f"coalesce(strpos(' ' || {args[0].sql} || ' ', {self.params.add(f' {choice} ')}) > 0, false)")
            return _S("bool", f"coalesce({self.params.add(choice)} = ANY(string_to_array({args[0].sql}, ' ')), false)")
        if name == "count-selected" and args[0].kind == "field":
            if args[0].sql == "NULL":
                return _S("num", "0.0::float8")
            self.reads.lists.add(args[0].sql)
            return _S("num", f"cardinality(array_remove(string_to_array(coalesce({args[0].sql}, ''), ' '), ''))::float8")
        raise NotCompilable(f"{name}()")


def compile_condition(tree: Expr, column: Callable[[str], str], params: Parameters, reads: Reads,
                      number: Callable[[str], str] | None = None) -> str:
    """SQL for `tree` as a truth value (as `compile_expression(…, as_boolean=True)`: never NULL), reading the
    field `${name}` from the SQL `column(name)` ('NULL' for a field the unit's rows do not have). Raises
    NotCompilable; `params` and `reads` gain what the SQL needs. `number(column)` is the SQL of a column
    read as a number (default: number_of, where it is used; a caller may compute it once per row)."""
    compiler = _Compiler(column, params, reads, number)
    return compiler.bool(compiler.eval(tree))

