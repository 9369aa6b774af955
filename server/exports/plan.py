"""Which columns an export has, in which order, under which names: Central's CSV layout (odk-protocol §6).

A plan is made from a form's fields alone, before any row is read, so every format (CSV, XLSX,
GeoJSON) and every table (the root, one per repeat) shares one definition of the layout. Rows are
then plain sequences of stored texts, one per field, turned into cells by `TablePlan.cells`."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from server.xforms.schema import Field, Schema

ROOT_META = ["KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status",
             "ReviewState", "DeviceID", "Edits", "FormVersion"]
REPEAT_META = ["PARENT_KEY", "KEY"]
NUMERIC_TYPES = {"int", "integer", "decimal"}
GEOPOINT_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")
# JavaScript's \s, which Central splits geopoints and select multiples on. Python's \s differs: it
# also matches U+001C–U+001F and U+0085 (NEL), and does not match U+FEFF.
SPACE = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+")


def split_values(text: str) -> list[str]:
    """The values of a select multiple, as Central records them: split on whitespace, blanks dropped."""
    return [v for v in SPACE.split(text) if v]


@dataclass(frozen=True)
class ExportOptions:
    group_paths: bool = True
    split_select_multiples: bool = False
    deleted_fields: bool = False


@dataclass
class ColumnPlan:
    """One field of a table and the header cells it becomes."""

    field: Field
    headers: list[str]
    choices: tuple[str, ...] = ()      # the values seen in data, when select multiples are split

    @property
    def path(self) -> str:
        return "/".join(self.field.path)


@dataclass
class TablePlan:
    repeat: Field | None                      # None for the root table
    file_name: str = ""
    columns: list[ColumnPlan] = field(default_factory=list)

    @property
    def repeat_path(self) -> str:
        return "/".join(self.repeat.path) if self.repeat else ""

    @property
    def paths(self) -> list[str]:
        return [c.path for c in self.columns]

    def numeric(self) -> list[bool]:
        """Per data cell of `header()` (root: after SubmissionDate): whether it holds a number by its
        field's type, for formats that type their cells (XLSX numbers, GeoJSON properties)."""
        flags = [] if self.repeat is not None else [False]
        for col in self.columns:
            flags += [col.field.type in NUMERIC_TYPES or col.field.type == "geopoint"] * len(col.headers)
        return flags

    def header(self) -> list[str]:
        cells = [h for c in self.columns for h in c.headers]
        return (["SubmissionDate"] + cells + ROOT_META) if self.repeat is None else (cells + REPEAT_META)

    def cells(self, values: Sequence[str | None]) -> list:
        """The data cells of one row, from the stored texts of its fields (None: element absent)."""
        fn = self.__dict__.get("_cells")
        if fn is None:
            fn = self.__dict__["_cells"] = self._compile()
        return fn(values)

    def _compile(self):
        """Runs of plain columns are copied as slices; only geopoints and split selects are looked at
        one by one (an export calls this for every row)."""
        special = [(i, col.field.type == "geopoint", col.choices) for i, col in enumerate(self.columns)
                   if col.field.type == "geopoint" or col.choices]
        if not special:
            return list

        def cells(values):
            out: list = []
            start = 0
            for i, geopoint, choices in special:
                out.extend(values[start:i])
                value = values[i]
                if geopoint:
                    # Central: lat, lon, alt, acc = text.split(/\s+/), so a leading space makes an empty
                    # latitude and a fifth part is dropped.
                    parts = SPACE.split(value) if value else []
                    out += (parts + [None] * 4)[:4]
                else:
                    out.append(value)
                    chosen = set(SPACE.split(value)) if value else set()
                    out += [1 if c in chosen else 0 for c in choices]
                start = i + 1
            out.extend(values[start:])
            return out
        return cells


def merged_fields(versions: list[Schema]) -> list[Field]:
    """Fields of every published version, oldest first: a field a later version dropped keeps its
    place after the last field of its parent group (Central's deletedFields order)."""
    result: list[Field] = []
    for schema in versions:
        newer = list(schema.fields)
        if not result:
            result = newer
            continue
        known = {f.path for f in newer}
        older, merged = result, newer
        i = 0
        while i < len(older):
            f = older[i]
            if f.path in known:
                i += 1
                continue
            prefix = "/" + "/".join(f.path[:-1]) if len(f.path) > 1 else ""
            at = len(merged) - 1
            while at >= 0 and not ("/" + "/".join(merged[at].path)).startswith(prefix):
                at -= 1
            end = i + 1
            while end < len(older) and older[end].path[: len(f.path)] == f.path:
                end += 1
            merged[at + 1:at + 1] = older[i:end]
            i = end
        result = merged
    return result


def plan_tables(form_id_text: str, fields: list[Field], options: ExportOptions,
                select_values: dict[str, list[str]] | None = None) -> list[TablePlan]:
    """The root table and one table per repeat, in form order, with Central's headers and file names."""
    root = TablePlan(repeat=None, file_name=f"{form_id_text}.csv")
    tables = [root]
    repeats: list[tuple[Field, TablePlan]] = []
    stack: list[TablePlan] = [root]
    for f in fields:
        while stack[-1].repeat is not None and f.path[: len(stack[-1].repeat.path)] != stack[-1].repeat.path:
            stack.pop()
        if f.type == "repeat":
            table = TablePlan(repeat=f)
            tables.append(table)
            repeats.append((f, table))
            stack.append(table)
            continue
        if f.type == "structure":
            continue
        table = stack[-1]
        base = ("-".join(f.path[len(table.repeat.path) if table.repeat else 0:]) if options.group_paths
                else f.name)
        if f.type == "geopoint":
            table.columns.append(ColumnPlan(f, [f"{base}-{p}" for p in GEOPOINT_PARTS]))
        elif f.type == "select" and options.split_select_multiples:
            values = tuple((select_values or {}).get("/".join(f.path), ()))
            table.columns.append(ColumnPlan(f, [base] + [f"{base}/{v}" for v in values], values))
        else:
            table.columns.append(ColumnPlan(f, [base]))
    totals: dict[str, int] = {}
    for repeat, _ in repeats:
        totals[repeat.name] = totals.get(repeat.name, 0) + 1
    seen: dict[str, int] = {}
    for repeat, t in repeats:
        name = repeat.name
        if totals[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            t.file_name = f"{form_id_text}-{name}~{seen[name]}.csv"
        else:
            t.file_name = f"{form_id_text}-{name}.csv"
    for t in tables:
        t.file_name = sanitize_file_name(t.file_name)
    return tables


_UNSAFE = re.compile(r'[/\?<>\\:\*\|"\x00-\x1f\x80-\x9f]')
_RESERVED = re.compile(r"^\.+$")
_WINDOWS = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def sanitize_file_name(name: str) -> str:
    """What the sanitize-filename package Central uses would make of a name: unsafe characters
    dropped, reserved names emptied, trailing dots and spaces trimmed, at most 255 bytes."""
    name = _UNSAFE.sub("", name)
    name = _RESERVED.sub("", name)
    name = _WINDOWS.sub("", name)
    name = re.sub(r"[\. ]+$", "", name)
    encoded = name.encode("utf-8")[:255]
    return encoded.decode("utf-8", errors="ignore")


_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")


def content_disposition(file_name: str, kind: str = "attachment") -> str:
    """Central's Content-Disposition (lib/util/http.js): the sanitized name, with each run of non-ASCII
    characters as one '-' in the plain `filename`, and percent-encoded as encodeURIComponent does it,
    plus ' ( ) * encoded and | ` ^ left as they are (RFC 5987), in `filename*`."""
    name = sanitize_file_name(file_name)
    return f"{kind}; filename=\"{_NOT_ASCII.sub('-', name)}\"; filename*=UTF-8''{quote(name, safe='!|`^')}"
