"""A form version's schema: its fields in document order, with types, groups and repeats.

Derived the way Central derives it (odk-protocol §9.4): the primary instance gives the tree, binds
give leaf types, body <repeat nodeset> marks repeats, body <select> marks select_multiple."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from lxml import etree

from server.xforms.safexml import XmlRejected, attr, child, local, parse


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]          # names from below the instance root, e.g. ("household", "members", "age")
    type: str                      # string, int, decimal, date, dateTime, time, geopoint, geotrace, geoshape,
                                   # binary, barcode, boolean, select1, select, structure, repeat, unknown
    order: int

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def is_leaf(self) -> bool:
        return self.type not in ("structure", "repeat")


@dataclass
class Schema:
    root_name: str
    fields: list[Field] = field(default_factory=list)

    def repeats(self) -> list[Field]:
        return [f for f in self.fields if f.type == "repeat"]

    @cached_property
    def kinds(self) -> dict[str, str]:
        """Each field's type by its slash-joined path, as intake's walk looks it up; built once per schema
        (a cached schema serves every submission to its version), after read_schema has filled it."""
        return {"/".join(f.path): f.type for f in self.fields}

    def repeat_of(self, f: Field) -> tuple[str, ...] | None:
        """The path of the innermost repeat that holds a field (None for the root table)."""
        best = None
        for r in self.repeats():
            inside = len(r.path) < len(f.path) and f.path[: len(r.path)] == r.path
            if inside and (best is None or len(r.path) > len(best)):
                best = r.path
        return best

    def leaves(self) -> list[Field]:
        return [f for f in self.fields if f.is_leaf]


def _body_refs(body: etree._Element | None, root_name: str) -> tuple[set[str], dict[str, str]]:
    repeats: set[str] = set()
    selects: dict[str, str] = {}
    if body is None:
        return repeats, selects
    for el in body.iter():
        name = local(el.tag)
        if name == "repeat":
            ref = attr(el, "nodeset") or attr(el, "ref")
            if ref:
                repeats.add(_normalise(ref, root_name))
        elif name in ("select", "select1", "odk:rank", "rank"):
            ref = attr(el, "ref") or attr(el, "nodeset")
            if ref:
                selects[_normalise(ref, root_name)] = "select" if name == "select" else ("select1" if name == "select1" else "string")
    return repeats, selects


def _normalise(ref: str, root_name: str) -> str:
    """Absolute ref (/data/a/b) → 'a/b'."""
    parts = [p for p in ref.strip().split("/") if p]
    if parts and parts[0] == root_name:
        parts = parts[1:]
    return "/".join(p.split(":")[-1] for p in parts)


def read_schema(xml: str | bytes) -> Schema:
    root = parse(xml.encode("utf-8") if isinstance(xml, str) else xml)
    head = child(root, "head")
    model = child(head, "model") if head is not None else None
    instance = child(model, "instance") if model is not None else None
    data = next((c for c in instance if isinstance(c.tag, str)), None) if instance is not None else None
    if model is None or data is None:  # every stored form passed read_xform, which checks this too
        raise XmlRejected("The XForm has no primary instance (h:head/model/instance/*).")
    root_name = local(data.tag)
    binds: dict[str, str] = {}
    for b in model:
        if local(b.tag) == "bind":
            nodeset = attr(b, "nodeset")
            if nodeset:
                t = attr(b, "type") or ""
                binds[_normalise(nodeset, root_name)] = t.split(":")[-1]
    repeats, selects = _body_refs(child(root, "body"), root_name)
    schema = Schema(root_name=root_name)

    def walk(el: etree._Element, path: tuple[str, ...]) -> None:
        seen: set[str] = set()
        for c in el:
            if not isinstance(c.tag, str):
                continue
            name = local(c.tag)
            if name in seen:  # a repeat's template and its default instances
                continue
            seen.add(name)
            p = path + (name,)
            key = "/".join(p)
            kids = [k for k in c if isinstance(k.tag, str)]
            if key in repeats:
                schema.fields.append(Field(p, "repeat", len(schema.fields)))
                walk(c, p)
            elif kids:
                schema.fields.append(Field(p, "structure", len(schema.fields)))
                walk(c, p)
            else:
                select = selects.get(key)
                t = "select" if select == "select" else (binds.get(key) or select or "unknown")
                schema.fields.append(Field(p, t, len(schema.fields)))

    walk(data, ())
    return schema
