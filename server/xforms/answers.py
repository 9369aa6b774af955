"""A submission's answers as a person reads them: labelled in one language, grouped in sections as
the form groups them, each repeat group (the household roster) as a table, and what changed
between two versions.

Pure functions over a Schema, the form's FormLabels and a ParsedSubmission (xforms/submission.py):
nothing here knows about the database or the web."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from server.xforms.labels import FormLabels
from server.xforms.schema import Field, Schema
from server.xforms.submission import ParsedSubmission

_REFERENCE = re.compile(r"\$\{([^}\s]+)\}")
_ROW_NUMBER = re.compile(r"\[(\d+)\]$")
META = "meta"


@dataclass
class Answer:
    path: str
    name: str
    type: str
    label: str | None    # the question in the chosen language; None for calculations and metadata
    value: str           # as stored
    text: str            # as shown: choice labels instead of values


@dataclass
class Column:
    path: str
    name: str
    type: str
    label: str | None


@dataclass
class RosterRow:
    key: str             # Central's KEY suffix: "household/members[2]"
    number: int          # its position among its siblings, from 1
    parent_key: str
    cells: list[Answer | None]


@dataclass
class Roster:
    path: str
    name: str
    label: str | None
    columns: list[Column]
    rows: list[RosterRow] = field(default_factory=list)


@dataclass
class Section:
    path: str            # the group's path; "" for questions outside any group, "meta" for metadata
    label: str | None
    depth: int
    items: list[Answer | Roster] = field(default_factory=list)

    @property
    def is_metadata(self) -> bool:
        return self.path == META


@dataclass
class Change:
    roster: str | None   # the repeat group's label (or name) when the answer is in a roster row
    row: int | None
    label: str
    before: str | None   # None: no answer
    after: str | None


def fill_references(label: str, value_of: Callable[[str], str | None]) -> str:
    """`${member_name}` in a label replaced by what `value_of(name)` gives (or an ellipsis)."""
    return _REFERENCE.sub(lambda m: value_of(m.group(1)) or "…", label)


def shown(f: Field, value: str, choices: dict[str, str] | None) -> str:
    """A stored value as a person reads it: a choice's label, select multiples' labels joined by '; '."""
    if not choices:
        return value
    if f.type == "select":
        return "; ".join(choices.get(v, v) for v in value.split())
    return choices.get(value.strip(), value)


def read_answers(schema: Schema, labels: FormLabels, parsed: ParsedSubmission,
                 extra_choices: dict[str, dict[str, str]] | None = None) -> list[Section]:
    """The answers given, in form order: one section per group outside repeats, each repeat as a
    roster table in its group's section, unlabelled top-level fields and meta/ in a metadata section.
    Questions left unanswered (absent or empty) are left out."""
    choices = {**labels.choices, **(extra_choices or {})}
    leaves = {"/".join(f.path): f for f in schema.leaves()}
    by_name = {f.name: path for path, f in leaves.items()}
    top = Section("", None, 0)
    meta = Section(META, None, 0)
    sections: list[Section] = [top]
    by_path: dict[str, Section] = {"": top}
    rosters: dict[str, Roster] = {}

    def answer(f: Field, row: dict[str, str], context: dict[str, str]) -> Answer | None:
        path = "/".join(f.path)
        value = row.get(path)
        if value is None or not value.strip():
            return None
        label = labels.questions.get(path)
        if label:
            label = fill_references(label, lambda name: _text_of(name, context, by_name, leaves, choices))
        return Answer(path, f.name, f.type, label, value, shown(f, value, choices.get(path)))

    for f in schema.fields:
        path = "/".join(f.path)
        repeat = schema.repeat_of(f)
        if f.type == "repeat":
            roster = Roster(path, f.name, _plain_label(labels.questions.get(path)), [
                Column("/".join(c.path), c.name, c.type, _plain_label(labels.questions.get("/".join(c.path))))
                # an unlabelled column is the form's own working (member_no, a calculated label), not asked
                for c in leaves.values() if schema.repeat_of(c) == f.path and labels.questions.get("/".join(c.path))])
            rosters[path] = roster
            _section_for(f, by_path, top, meta).items.append(roster)
            continue
        if repeat is not None:
            continue  # a roster's own groups and fields: its columns
        if f.type == "structure":
            if f.path[0] == META:
                continue
            section = Section(path, labels.questions.get(path), len(f.path) - 1)
            by_path[path] = section
            sections.append(section)
            continue
        found = answer(f, parsed.root, parsed.root)
        if found is None:
            continue
        home = _section_for(f, by_path, top, meta)
        if home is top and found.label is None:
            home = meta  # start, end, today, deviceid…: what Collect records, not what was asked
        home.items.append(found)

    for r in parsed.repeats:
        home_roster = rosters.get(r.repeat)
        if home_roster is None:
            continue
        cells = [answer(leaves[c.path], r.values, {**parsed.root, **r.values}) for c in home_roster.columns]
        home_roster.rows.append(RosterRow(r.key, _row_number(r.key), r.parent_key, cells))
    sections.append(meta)
    for s in sections:
        s.items = [i for i in s.items if not isinstance(i, Roster) or i.rows]
    return [s for s in sections if s.items]


def _section_for(f: Field, by_path: dict[str, Section], top: Section, meta: Section) -> Section:
    if f.path[0] == META:
        return meta
    for n in range(len(f.path) - 1, 0, -1):
        found = by_path.get("/".join(f.path[:n]))
        if found is not None:
            return found
    return top


def _plain_label(label: str | None) -> str | None:
    """A label for a column heading: references to the row's answers become an ellipsis."""
    return fill_references(label, lambda name: None) if label else label


def _text_of(name: str, row: dict[str, str], by_name: dict[str, str], leaves: dict[str, Field],
             choices: dict[str, dict[str, str]]) -> str | None:
    path = by_name.get(name)
    if not path:
        return None
    value = row.get(path)
    if not value:
        return None
    return shown(leaves[path], value, choices.get(path))


def _row_number(key: str) -> int:
    m = _ROW_NUMBER.search(key)
    return int(m.group(1)) if m else 0


def changes(schema: Schema, labels: FormLabels, before: ParsedSubmission, after: ParsedSubmission,
            extra_choices: dict[str, dict[str, str]] | None = None) -> list[Change]:
    """The answers that differ between two versions, in form order (meta/ left out: the instance
    IDs always change). Roster rows are matched by their key, so a row added or removed shows as
    answers going from or to nothing."""
    choices = {**labels.choices, **(extra_choices or {})}
    kinds = {"/".join(f.path): f for f in schema.fields}
    out: list[Change] = []

    def text(path: str, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        f = kinds.get(path)
        return shown(f, value, choices.get(path)) if f is not None else value

    def label_of(path: str) -> str:
        return _plain_label(labels.questions.get(path)) or path.rsplit("/", 1)[-1]

    order = {p: i for i, p in enumerate(kinds)}
    for path in sorted(set(before.root) | set(after.root), key=lambda p: (order.get(p, len(order)), p)):
        if path.split("/", 1)[0] == META:
            continue
        old, new = text(path, before.root.get(path)), text(path, after.root.get(path))
        if old != new:
            out.append(Change(None, None, label_of(path), old, new))
    rows_before = {(r.repeat, r.key): r for r in before.repeats}
    rows_after = {(r.repeat, r.key): r for r in after.repeats}
    for repeat, key in sorted(set(rows_before) | set(rows_after),
                              key=lambda k: (order.get(k[0], len(order)), _row_number(k[1]), k[1])):
        old_row, new_row = rows_before.get((repeat, key)), rows_after.get((repeat, key))
        values_before = old_row.values if old_row else {}
        values_after = new_row.values if new_row else {}
        roster = label_of(repeat)
        for path in sorted(set(values_before) | set(values_after), key=lambda p: (order.get(p, len(order)), p)):
            old, new = text(path, values_before.get(path)), text(path, values_after.get(path))
            if old != new:
                out.append(Change(roster, _row_number(key), label_of(path), old, new))
    return out
