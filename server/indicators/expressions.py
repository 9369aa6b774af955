"""Indicator expressions: the XLSForm subset of XPath 1.0, parsed once, evaluated a column at a time.

Why a parser of our own: form designers write an indicator's filter and condition in the syntax
they already use in `relevant` and `constraint` columns (`${age} >= 15 and selected(${ewallets},
'momo')`). They need mistakes reported with a 0-based character position they can find in a
spreadsheet cell, and the server needs to evaluate those expressions over hundreds of thousands
of roster rows at once. So: a tokenizer and a Pratt parser build a small tree (never Python's
`eval`), `resolve` checks `${name}` references against the form's schema, and `compile_expression`
evaluates the tree with numpy/pandas operations on whole columns, never row by row.

Values follow XPath 1.0 as ODK Collect (JavaRosa) applies it; the rules are spelled out on
`compile_expression`.
"""
from __future__ import annotations

import difflib
import functools
import itertools
import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from server.xforms.schema import Schema


class ExpressionError(ValueError):
    """A mistake in an expression: a human message and the 0-based character position it concerns
    (what a spreadsheet shows as the place in the cell)."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.message = message
        self.position = position


# ---------------------------------------------------------------------------------------------
# The tree

@dataclass(frozen=True)
class Expr:
    """A node of a parsed expression; `pos` is where it starts in the source text. str() gives the
    expression back fully parenthesised, so the grouping the parser chose is visible."""
    pos: int

    def children(self) -> tuple[Expr, ...]:
        values = [getattr(self, f.name) for f in fields(self)]
        return tuple(c for v in values for c in (v if isinstance(v, tuple) else (v,)) if isinstance(c, Expr))

    def walk(self) -> Iterator[Expr]:
        yield self
        for c in self.children():
            yield from c.walk()

    def references(self) -> set[str]:
        """The names of the fields the expression reads (`${name}`)."""
        return {n.name for n in self.walk() if isinstance(n, Ref)}


@dataclass(frozen=True)
class Literal(Expr):
    value: float | str

    def __str__(self) -> str:
        if isinstance(self.value, str):
            return f'"{self.value}"' if "'" in self.value else f"'{self.value}'"
        return _fmt_number(self.value)


@dataclass(frozen=True)
class Ref(Expr):
    name: str

    def __str__(self) -> str:
        return "${" + self.name + "}"


@dataclass(frozen=True)
class Negate(Expr):
    operand: Expr

    def __str__(self) -> str:
        return f"(-{self.operand})"


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


@dataclass(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(str, self.args))})"


# ---------------------------------------------------------------------------------------------
# Tokens and parsing

# XML name characters: a letter (any script) or '_' first, then letters, digits, '_', '-', '.'.
_NAME = r"[^\W\d][\w.\-\u00b7\u0300-\u036f]*"
_TOKEN = re.compile(rf"""
    (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<str>'[^']*'|"[^"]*")
  | \$\{{(?P<ref>{_NAME})\}}
  | (?P<op>!=|<=|>=|[=<>+\-*(),])
  | (?P<name>{_NAME}(?::{_NAME})?)""", re.VERBOSE)

_BINDING = {"or": 1, "and": 2, "=": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4,
            "+": 5, "-": 5, "*": 6, "div": 6, "mod": 6}    # XPath 1.0 precedence, all left-assoc.
_UNARY_MINUS = 7
_WORD_OPERATORS = ("and", "or", "div", "mod")

# name: (fewest, most arguments); None = any number.
_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "not": (1, 1), "boolean": (1, 1), "true": (0, 0), "false": (0, 0), "if": (3, 3),
    "selected": (2, 2), "count-selected": (1, 1), "coalesce": (2, 2),
    "number": (1, 1), "int": (1, 1), "round": (1, 2), "min": (1, None), "max": (1, None),
    "string": (1, 1), "string-length": (1, 1), "concat": (0, None), "regex": (2, 2),
    "contains": (2, 2), "starts-with": (2, 2), "ends-with": (2, 2), "substr": (2, 3),
}


class _Token(NamedTuple):
    kind: str    # num, str, ref, op, name, end
    text: str    # as written (the field name alone for a ref)
    pos: int


def _tokenize(text: str) -> Iterator[_Token]:
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i == n:
            yield _Token("end", "", n)
            return
        m = _TOKEN.match(text, i)
        if m is None:
            raise _lexical_error(text, i)
        kind = m.lastgroup
        assert kind is not None, "every alternative of _TOKEN is a named group"
        yield _Token(kind, m.group(kind), i)
        i = m.end()


def _lexical_error(text: str, i: int) -> ExpressionError:
    c = text[i]
    if c in "'\"":
        return ExpressionError(f"Unterminated string starting at position {i}; close it with {c}", i)
    if text.startswith("${", i):
        end = text.find("}", i)
        if end < 0:
            return ExpressionError(f"Unterminated field reference starting at position {i}; expected '}}'", i)
        return ExpressionError(f"Invalid field name {text[i:end + 1]!r} at position {i}", i)
    hint = "; XPath paths are not supported, refer to fields as ${name}" if c in "./[]@|" else ""
    return ExpressionError(f"Unexpected character {c!r} at position {i}{hint}", i)


def _unexpected(tok: _Token) -> ExpressionError:
    hint = ""
    if tok.kind == "name" and tok.text.lower() in _WORD_OPERATORS:
        hint = f"; operators are written in lower case: '{tok.text.lower()}'"
    return ExpressionError(f"Unexpected {_describe(tok)} at position {tok.pos}{hint}", tok.pos)


def _describe(tok: _Token) -> str:
    return "end of expression" if tok.kind == "end" else repr("${" + tok.text + "}" if tok.kind == "ref" else tok.text)


class _Parser:
    """Pratt parser: each binary operator binds by its XPath precedence (`_BINDING`)."""

    def __init__(self, text: str):
        self.tokens = list(_tokenize(text))
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expression(self, min_binding: int = 0) -> Expr:
        left = self.operand()
        while True:
            tok = self.peek()
            op = tok.text if tok.kind == "op" or (tok.kind == "name" and tok.text in _WORD_OPERATORS) else None
            if op is None:
                return left
            binding = _BINDING.get(op)
            if binding is None or binding <= min_binding:
                return left
            self.take()
            left = Binary(tok.pos, op, left, self.expression(binding))

    def operand(self) -> Expr:
        tok = self.take()
        if tok.kind == "num":
            return Literal(tok.pos, float(tok.text))
        if tok.kind == "str":
            return Literal(tok.pos, tok.text[1:-1])
        if tok.kind == "ref":
            return Ref(tok.pos, tok.text)
        if tok.kind == "op" and tok.text == "-":
            return Negate(tok.pos, self.expression(_UNARY_MINUS))
        if tok.kind == "op" and tok.text == "(":
            inner = self.expression()
            close = self.take()
            if close.text != ")":
                raise ExpressionError(f"Expected ')' at position {close.pos} to close the '(' at position "
                                      f"{tok.pos}, found {_describe(close)}", close.pos)
            return inner
        if tok.kind == "name" and tok.text.lower() not in _WORD_OPERATORS:
            if self.peek().text == "(":
                return self.call(tok)
            hint = (f"write {tok.text}()" if tok.text in ("true", "false")
                    else f"refer to a field as ${{{tok.text}}} and quote text as '{tok.text}'")
            raise ExpressionError(f"Unexpected name {tok.text!r} at position {tok.pos}; {hint}", tok.pos)
        raise _unexpected(tok)

    def call(self, name: _Token) -> Call:
        if name.text not in _FUNCTIONS:
            close = difflib.get_close_matches(name.text, _FUNCTIONS, n=1)
            raise ExpressionError(
                f"Unknown function {name.text!r} at position {name.pos}"
                + (f"; did you mean {close[0]!r}?" if close else ".")
                + " Supported functions: " + ", ".join(sorted(_FUNCTIONS)) + ".", name.pos)
        self.take()  # (
        args: list[Expr] = []
        if self.peek().text == ")":
            self.take()
        else:
            while True:
                args.append(self.expression())
                sep = self.take()
                if sep.kind == "op" and sep.text == ")":
                    break
                if not (sep.kind == "op" and sep.text == ","):
                    raise ExpressionError(f"Expected ',' or ')' at position {sep.pos} in the arguments of "
                                          f"{name.text}(), found {_describe(sep)}", sep.pos)
        fewest, most = _FUNCTIONS[name.text]
        if len(args) < fewest or (most is not None and len(args) > most):
            wanted = ("no arguments" if most == 0 else f"at least {fewest} argument{'s' * (fewest != 1)}"
                      if most is None else f"{fewest} argument{'s' * (fewest != 1)}" if fewest == most
                      else f"{fewest} or {most} arguments")
            raise ExpressionError(f"{name.text}() takes {wanted} but was given {len(args)}, "
                                  f"at position {name.pos}", name.pos)
        if name.text == "regex" and isinstance(args[1], Literal) and isinstance(args[1].value, str):
            try:
                re.compile(args[1].value)
            except re.error as e:
                raise ExpressionError(f"Invalid regular expression at position {args[1].pos}: {e}",
                                      args[1].pos) from None
        return Call(name.pos, name.text, tuple(args))


def parse(text: str) -> Expr:
    """Parse an expression into a tree; raises ExpressionError(message, position)."""
    parser = _Parser(text)
    if parser.peek().kind == "end":
        raise ExpressionError("Empty expression at position 0", 0)
    tree = parser.expression()
    tok = parser.peek()
    if tok.kind != "end":
        raise _unexpected(tok)
    return tree


# ---------------------------------------------------------------------------------------------
# Resolution against a form

def resolve(expr: Expr | str, schema: Schema, unit: tuple[str, ...] | None) -> dict[str, str]:
    """Map each `${name}` to the '/'-joined path of the field it denotes, seen from `unit`.

    A unit is a repeat path (('household', 'members')) or None for the form root. It sees the
    fields whose innermost repeat is itself, one of its enclosing repeats, or the root — one value
    per unit row. A field inside any other repeat has many values per row, so it is refused. If
    two visible fields share a name, the one closest to the unit wins, then the earlier one."""
    expr = parse(expr) if isinstance(expr, str) else expr
    unit = tuple(unit) if unit else None
    if unit is not None and unit not in {r.path for r in schema.repeats()}:
        raise ValueError(f"{'/'.join(unit)} is not a repeat of form {schema.root_name!r}")
    where = "the form root" if unit is None else f"repeat {'/'.join(unit)}"
    by_name: dict[str, list] = {}
    for f in schema.fields:
        by_name.setdefault(f.name, []).append(f)
    resolved: dict[str, str] = {}
    for ref in (n for n in expr.walk() if isinstance(n, Ref)):
        if ref.name in resolved:
            continue
        candidates = by_name.get(ref.name, [])
        leaves = [(f, schema.repeat_of(f) or ()) for f in candidates if f.is_leaf]
        visible = [(f, r) for f, r in leaves if (unit is not None and unit[:len(r)] == r) or not r]
        if visible:
            best, _ = max(visible, key=lambda fr: (len(fr[1]), -fr[0].order))
            resolved[ref.name] = "/".join(best.path)
        elif leaves:
            raise ExpressionError(
                f"Field ${{{ref.name}}} is in repeat {'/'.join(leaves[0][1])} and is not visible from {where}: "
                "an indicator can only use the fields of its own unit and of the levels that contain it", ref.pos)
        elif candidates:
            raise ExpressionError(f"${{{ref.name}}} is a {'repeat' if candidates[0].type == 'repeat' else 'group'}"
                                  ", not a question", ref.pos)
        else:
            close = difflib.get_close_matches(ref.name, [f.name for f in schema.leaves()], n=1)
            raise ExpressionError(f"Unknown field ${{{ref.name}}}" + (f"; did you mean ${{{close[0]}}}?" if close
                                                                     else ""), ref.pos)
    return resolved


# ---------------------------------------------------------------------------------------------
# Evaluation

def _fmt_number(x: float) -> str:
    """XPath string(): integers without '.0', no exponent, NaN and Infinity spelled out."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == int(x):
        return str(int(x))
    return np.format_float_positional(x, trim="-")


def _as_text(u: Any) -> str:
    if isinstance(u, str):
        return u
    if isinstance(u, (bool, np.bool_)):
        return "true" if u else "false"
    if isinstance(u, (int, float, np.number)):
        return _fmt_number(float(u))
    return str(u)


def _to_number(texts: np.ndarray) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce"), dtype=float)


class _Column:
    """One referenced column, factorised once per evaluation into its distinct texts and a code per
    row (the last distinct slot, '', stands for absent). Every conversion — number (to_numeric runs
    once, on the distinct values), text, truth, string functions — is computed on the distinct values
    and spread back with one numpy take: survey columns hold few distinct values (choices, ages)."""

    def __init__(self, values: Any):
        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        self.distinct = np.array([*map(_as_text, uniques), ""], dtype=object)
        codes[codes < 0] = len(uniques)
        self.codes = codes
        self._memo: dict[str, np.ndarray] = {}

    def _spread(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._memo:
            self._memo[key] = np.asarray(make())[self.codes]
        return self._memo[key]

    def text(self) -> np.ndarray:
        return self._spread("text", lambda: self.distinct)

    def number(self) -> np.ndarray:
        return self._spread("number", lambda: _to_number(self.distinct))

    def nonempty(self) -> np.ndarray:
        return self._spread("nonempty", lambda: self.distinct != "")


class _V(NamedTuple):
    kind: str    # bool, num, str, field
    data: Any    # a scalar, a numpy array with one value per row, or a _Column for a field


def _v(kind: str, data: Any) -> _V:
    if isinstance(data, np.ndarray) and data.ndim == 0:
        data = data.item()
    return _V(kind, data)


def _factorised(arg: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(a code per row, the distinct values) of a per-row argument; None for a scalar."""
    if isinstance(arg, _Column):
        return arg.codes, arg.distinct
    if np.ndim(arg) == 0:
        return None
    codes, uniques = pd.factorize(arg, use_na_sentinel=False)
    return codes, np.asarray(uniques)


def _apply(fn: Callable[..., Any], args: list[Any], dtype: Any) -> Any:
    """Run a scalar function once per distinct combination of its arguments and spread the results
    back to the rows with numpy indexing: string functions on a million rows of choice names run a
    handful of times. Arguments are scalars, arrays, or _Columns (already factorised)."""
    factors = [_factorised(a) for a in args]
    arrays = [f for f in factors if f is not None]
    if not arrays:
        return fn(*args)
    key, size = arrays[0][0], len(arrays[0][1])
    if len(key) == 0:
        return np.empty(0, dtype=dtype)
    for codes, distinct in arrays[1:]:
        key, uniques = pd.factorize(key * len(distinct) + codes)
        size = len(uniques)
    row_of = np.zeros(size, dtype=np.intp)
    row_of[key] = np.arange(len(key))          # any row holding each combination
    columns = [itertools.repeat(a) if f is None else f[1][f[0][row_of]] for a, f in zip(args, factors)]
    return np.array([fn(*combo) for combo in zip(*columns)], dtype=dtype)[key]


def _selected(value: str, choice: str) -> bool:
    return choice.strip() != "" and choice.strip() in value.split()


def _substr(s: str, start: float, end: float = math.nan) -> str:
    """XLSForm substr: 0-based start, exclusive end (not a length), negatives count from the end."""
    return s[(0 if math.isnan(start) else int(start)):(None if math.isnan(end) else int(end))]


def _regex(s: str, pattern: str) -> bool:
    try:
        return re.search(pattern, s) is not None
    except re.error:
        return False


def _order(cmp: Callable[[Any, Any], bool], x: str, y: str) -> bool:
    """< <= > >= on two texts: as numbers when both are numbers, else as text (ISO dates and times
    order correctly); an empty or absent side makes it false."""
    if x == "" or y == "":
        return False
    try:
        return cmp(float(x), float(y))
    except ValueError:
        return cmp(x, y)


# name: (scalar function, argument conversions: t = text, n = number, result kind)
_DISTINCT_FUNCTIONS: dict[str, tuple[Callable[..., Any], str, str]] = {
    "selected": (_selected, "tt", "bool"),
    "count-selected": (lambda s: float(len(s.split())), "t", "num"),
    "string-length": (lambda s: float(len(s)), "t", "num"),
    "contains": (lambda s, t: t in s, "tt", "bool"),
    "starts-with": (str.startswith, "tt", "bool"),
    "ends-with": (str.endswith, "tt", "bool"),
    "substr": (_substr, "tnn", "str"),
    "regex": (_regex, "tt", "bool"),
}
_DTYPES = {"bool": bool, "num": float, "str": object}
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "div": np.divide, "mod": np.fmod}
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_NUMERIC_ORDER = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def _num(v: _V) -> Any:
    kind, d = v
    if kind == "field":
        return d.number()
    if kind == "num":
        return d
    if kind == "bool":
        return np.asarray(d, dtype=float) if np.ndim(d) else float(d)
    return _Column(d).number() if np.ndim(d) else float(_to_number(np.array([d], dtype=object))[0])


def _text(v: _V) -> Any:
    kind, d = v
    if kind == "field":
        return d.text()
    if kind == "str":
        return d
    if kind == "bool":
        return np.where(d, "true", "false").astype(object) if np.ndim(d) else ("true" if d else "false")
    return _apply(_fmt_number, [d], object) if np.ndim(d) else _fmt_number(float(d))


def _text_arg(v: _V) -> Any:
    return v.data if v.kind == "field" else _text(v)


def _bool(v: _V) -> Any:
    kind, d = v
    if kind == "bool":
        return d
    if kind == "num":
        return np.logical_and(np.not_equal(d, 0), np.logical_not(np.isnan(d)))
    if kind == "field":
        return d.nonempty()
    return np.asarray(d, dtype=object) != ""


def _compare(op: str, a: _V, b: _V) -> Any:
    kinds = {a.kind, b.kind}
    if op in ("=", "!="):
        if "bool" in kinds:
            equal = np.equal(_bool(a), _bool(b))
        elif "num" in kinds:
            equal = np.equal(_num(a), _num(b))
        else:
            equal = _apply(operator.eq, [_text_arg(a), _text_arg(b)], bool)
        return equal if op == "=" else np.logical_not(equal)
    if kinds & {"bool", "num"}:
        return _NUMERIC_ORDER[op](_num(a), _num(b))
    return _apply(functools.partial(_order, _ORDER[op]), [_text_arg(a), _text_arg(b)], bool)


class _Evaluation:
    """One evaluation over one frame; holds the per-column factorisations so each column is
    converted once however often the expression mentions it."""

    def __init__(self, frame: pd.DataFrame, names: dict[str, str] | None = None,
                 memo: dict[str, _Column] | None = None):
        self.frame = frame
        self.names = names or {}
        self.columns: dict[str, _Column] = {} if memo is None else memo   # frame column -> factorised

    def eval(self, node: Expr) -> _V:
        if isinstance(node, Literal):
            return _V("str" if isinstance(node.value, str) else "num", node.value)
        if isinstance(node, Ref):
            column = self.names.get(node.name, node.name)
            if column not in self.columns:
                if column not in self.frame.columns:
                    raise KeyError(f"the frame has no column {column!r} for ${{{node.name}}}")
                self.columns[column] = _Column(self.frame[column])
            return _V("field", self.columns[column])
        if isinstance(node, Negate):
            return _v("num", np.negative(_num(self.eval(node.operand))))
        if isinstance(node, Binary):
            left, right = self.eval(node.left), self.eval(node.right)
            if node.op in ("and", "or"):
                return _v("bool", (np.logical_and if node.op == "and" else np.logical_or)(_bool(left), _bool(right)))
            if node.op in _ARITHMETIC:
                return _v("num", _ARITHMETIC[node.op](_num(left), _num(right)))
            return _v("bool", _compare(node.op, left, right))
        if isinstance(node, Call):
            return self.call(node)
        raise TypeError(f"not an expression node: {node!r}")  # pragma: no cover - the parser makes only the above

    def call(self, node: Call) -> _V:
        name, args = node.name, [self.eval(a) for a in node.args]
        if name in ("true", "false"):
            return _V("bool", name == "true")
        if name in ("not", "boolean"):
            return _v("bool", np.logical_not(_bool(args[0])) if name == "not" else _bool(args[0]))
        if name in ("number", "int"):
            return _v("num", _num(args[0]) if name == "number" else np.trunc(_num(args[0])))
        if name == "string":
            return _v("str", _text(args[0]))
        if name in ("min", "max"):
            return _v("num", functools.reduce(np.minimum if name == "min" else np.maximum, map(_num, args)))
        if name == "round":  # half rounds up (towards +infinity) as in XPath; round(x, n) to n places
            scale = np.power(10.0, np.trunc(_num(args[1]))) if len(args) > 1 else 1.0
            return _v("num", np.floor(np.round(np.multiply(_num(args[0]), scale), 9) + 0.5) / scale)
        if name == "concat":
            joined = functools.reduce(lambda x, y: np.add(np.asarray(x, dtype=object), np.asarray(y, dtype=object)),
                                      map(_text, args), "")
            return _v("str", joined)
        if name == "coalesce":  # the first argument unless it is empty (or NaN)
            if args[0].kind == args[1].kind == "num":
                first, second = _num(args[0]), _num(args[1])
                return _v("num", np.where(np.isnan(first), second, first))
            first, second = (np.asarray(_text(a), dtype=object) for a in args)
            return _v("str", np.where(first != "", first, second))
        if name == "if":
            kinds = {"str" if a.kind == "field" else a.kind for a in args[1:]}
            kind = kinds.pop() if len(kinds) == 1 else "num" if kinds == {"num", "bool"} else "str"
            convert = {"bool": _bool, "num": _num, "str": lambda v: np.asarray(_text(v), dtype=object)}[kind]
            return _v(kind, np.where(_bool(args[0]), convert(args[1]), convert(args[2])))
        fn, conversions, kind = _DISTINCT_FUNCTIONS[name]
        converted = [_text_arg(a) if c == "t" else _num(a) for a, c in zip(args, conversions)]
        return _v(kind, _apply(fn, converted, _DTYPES[kind]))


def compile_expression(expr: Expr | str, *, as_boolean: bool = False) -> Callable[..., pd.Series]:
    """A function evaluating `expr` over a frame with one column per referenced field NAME, holding
    the submitted XML text (str) or None/NaN where the question was not relevant or not answered.
    It returns a Series on the frame's index: bool for conditions (or always, with as_boolean=True,
    converted as XPath boolean() does), float for numbers, object (str) for text.

    `evaluate(frame, names=None, memo=None)`: `names` maps a field name to the frame column holding it
    (default: the column of that name); `memo` (a dict kept by the caller) holds each column's
    factorisation, so several expressions over one frame convert each column once.

    Semantics (XPath 1.0 as JavaRosa applies it):
    - An absent answer is '' as text and NaN as a number. `=`, `<`, `>`, ... involving NaN are
      false; `a != b` is always `not(a = b)`, so an absent answer `!= 'none'` and `!= 15` is TRUE,
      as in ODK Collect. Guard with `${x} != ''` when non-answers must not count.
    - `=`/`!=`: booleans if either side is one, else numbers if either side is one (text is
      converted with to_numeric), else the texts, exactly.
    - `<`, `<=`, `>`, `>=`: numbers if either side is a number or boolean; between texts (fields,
      strings) numerically when both are numbers, else as text (beyond XPath 1.0, which would give
      false: it lets ISO dates compare with `${d} >= '2024-01-01'`); an empty side gives false.
    - Truth of a value (and/or/not/if): booleans as is; numbers when non-zero and not NaN; text and
      fields when non-empty — a field is not parsed as a number ('0' is true).
    - Arithmetic converts to numbers; NaN propagates; `div` by 0 gives ±Infinity, `mod` is the
      remainder with the dividend's sign. min()/max() are NaN if any argument is.
    - selected(x, 'v'): 'v' (trimmed) is one of x's space-separated tokens; count-selected() counts
      them (0 when absent); regex() searches (anchor with ^...$ for a whole-value match);
      substr(s, start, end) is 0-based with an exclusive END index, as in ODK.
    """
    tree = parse(expr) if isinstance(expr, str) else expr

    def evaluate(frame: pd.DataFrame, names: dict[str, str] | None = None,
                 memo: dict | None = None) -> pd.Series:
        with np.errstate(all="ignore"):
            value = _Evaluation(frame, names, memo).eval(tree)
            kind = "bool" if as_boolean else "str" if value.kind == "field" else value.kind
            data = {"bool": _bool, "num": _num, "str": _text}[kind](value)
        dtype = _DTYPES[kind]
        data = np.full(len(frame), data, dtype=dtype) if np.ndim(data) == 0 else np.asarray(data, dtype=dtype)
        return pd.Series(data, index=frame.index, dtype=dtype)

    evaluate.expression = tree  # type: ignore[attr-defined]
    return evaluate
