"""ODK Entities in an XForm and in a submission: pure functions, no Flask, no database.

A form declares entities with `entities:entities-version` on its model, a
`<meta><entity dataset=… create=… update=… id=… baseVersion=…><label/></entity></meta>` block in the
primary instance and `entities:saveto` on the binds of the fields it saves (ODK's entities spec,
getodk/xforms-spec `entities.md`; odk-protocol §11). Since 2025.1 a form may declare several blocks,
one per Entity List, each in the `meta` of the group or repeat it belongs to: a block in a repeat
makes one entity per repeat instance, and a saved field belongs to the block of the closest group
holding it (Central's lib/data/dataset.js `matchFieldsWithDatasets`). What Hamlet cannot honour is
refused by name when the form is uploaded, so a designer never believes a register is being built
when it is not (issue 14)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from server.xforms.safexml import attr, child, local, parse

# 2022.1 creation, 2023.1 updates, 2024.1 offline entities (branchId/trunkVersion), 2025.1 entities
# in repeats and several lists per form (spec; Central's lib/data/dataset.js accepts the same range).
KNOWN_VERSIONS = ("2022.1", "2023.1", "2024.1", "2025.1")
_JR_TEMPLATE = "{http://openrosa.org/javarosa}template"
# Central's validateDatasetName / validatePropertyName, with Python's letter class for \p{L}.
_LETTER = r"[^\W\d_]"
_DATASET_NAME = re.compile(rf"^(?!__)(?:{_LETTER}|[:_])(?:{_LETTER}|[:\d_-])*$")
_PROPERTY_NAME = re.compile(rf"^(?!__)(?!name$)(?!label$)(?:{_LETTER}|_)(?:{_LETTER}|[\d._-])*$")
# Entity IDs are version 4 UUIDs, optionally with Collect's `uuid:` prefix (spec; Central normalizeUuid).
_UUID = re.compile(r"^(?:uuid:)?([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$", re.I)


class EntityFormRefused(ValueError):
    """The form's entity declaration is invalid or uses a feature Hamlet does not support; the
    message names it for the designer."""


class EntityDataInvalid(ValueError):
    """A submission's or a request's entity values cannot be used (missing label, bad UUID …)."""

    def __init__(self, message: str, field_name: str):
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class EntityProperty:
    name: str                      # the Entity List property (the saveto value)
    path: tuple[str, ...]          # the field below the instance root that fills it


@dataclass(frozen=True)
class EntityDeclaration:
    """What one entity block of a form version says about the Entity List it creates or updates."""

    dataset: str
    spec_version: str
    create: bool                   # the form may create entities (a create attribute is present)
    update: bool                   # the form may update entities (an update attribute is present)
    has_label: bool
    properties: tuple[EntityProperty, ...] = ()
    path: tuple[str, ...] = ()     # the group or repeat whose meta holds the block; () is the form's own meta
    repeat: bool = False           # one entity per instance of the repeat at or around `path`

    @property
    def actions(self) -> list[str]:
        return [a for a, on in (("create", self.create), ("update", self.update)) if on]


@dataclass
class SubmittedEntity:
    """The entity block of one submission, as sent (values are still strings)."""

    dataset: str
    id: str
    create: bool
    update: bool
    base_version: str
    trunk_version: str
    branch_id: str
    label: str | None
    data: dict[str, str] = field(default_factory=dict)


def valid_dataset_name(name: str) -> bool:
    return bool(_DATASET_NAME.match(name or ""))


def valid_property_name(name: str) -> bool:
    return bool(_PROPERTY_NAME.match((name or "").lower()))


def normalise_uuid(value: str | None, field_name: str = "uuid") -> str:
    """The bare lowercase UUID of an entity ID (Collect sends `uuid:…`)."""
    if value is None or not value.strip():
        raise EntityDataInvalid(f"The entity has no {field_name}.", field_name)
    found = _UUID.match(value.strip())
    if found is None:
        raise EntityDataInvalid(f"The entity's {field_name} '{value}' is not a version 4 UUID.", field_name)
    return found.group(1).lower()


def _is_true(value: str | None) -> bool:
    return (value or "").strip() in ("1", "true")


def _repeat_paths(root: etree._Element, instance_root: etree._Element) -> list[tuple[str, ...]]:
    """Repeats as paths below the instance root: body <repeat nodeset> and jr:template in the instance."""
    found: set[tuple[str, ...]] = set()
    for el in root.iter():
        if local(el.tag) == "repeat":
            nodeset = attr(el, "nodeset") or ""
            parts = tuple(p for p in nodeset.split("/") if p)
            if parts:
                found.add(parts[1:])
    for el in instance_root.iter():
        if isinstance(el.tag, str) and _JR_TEMPLATE in el.attrib:
            names: list[str] = []
            node = el
            while node is not None and node is not instance_root:
                names.append(local(node.tag))
                node = node.getparent()
            found.add(tuple(reversed(names)))
    return sorted(found)


def read_declaration(xml: str | bytes) -> EntityDeclaration | None:
    """The form's entity declaration when it has exactly one block (None without entities); a form with
    several blocks answers its first. Raises EntityFormRefused. See `read_declarations`."""
    found = read_declarations(xml)
    return found[0] if found else None


def read_declarations(xml: str | bytes) -> tuple[EntityDeclaration, ...]:
    """Every entity block the form declares, in document order (empty for a form without entities);
    raises EntityFormRefused, naming what Hamlet does not support."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    if b"entity" not in data:  # most forms: no need to walk the tree
        return ()
    root = parse(data)
    head = child(root, "head")
    model = child(head, "model") if head is not None else None
    instance = child(model, "instance") if model is not None else None
    data_root = next((c for c in instance if isinstance(c.tag, str)), None) if instance is not None else None
    if data_root is None:
        return ()
    blocks: dict[tuple[str, ...], etree._Element] = {}
    for el in data_root.iter():
        if isinstance(el.tag, str) and local(el.tag) == "entity" and local(el.getparent().tag) == "meta":
            names: list[str] = []
            node = el.getparent().getparent()
            while node is not None and node is not data_root:
                names.append(local(node.tag))
                node = node.getparent()
            # A repeat's template and its first instance repeat the same block: one declaration per path.
            blocks.setdefault(tuple(reversed(names)), el)
    if not blocks:
        return ()
    version = attr(model, "entities-version")
    if not version:
        raise EntityFormRefused("The form declares an entity (meta/entity) but its model has no "
                                "entities:entities-version. Convert the XLSForm again with pyxform 2 or later.")
    if not any(version == v or version.startswith(v + ".") for v in KNOWN_VERSIONS):
        raise EntityFormRefused(f"Entities specification version {version} is not supported; Hamlet accepts "
                                "2022.1.x to 2025.1.x.")
    repeats = _repeat_paths(root, data_root)
    declared = []
    for path, el in blocks.items():
        # In a repeat, or in a group inside one: one entity per repeat instance (nested repeats too).
        declared.append((path, el, any(path[:len(r)] == r for r in repeats)))
    if (len(declared) > 1 or any(r for _, _, r in declared)) and not version.startswith("2025.1"):
        raise EntityFormRefused(f"Entities specification version {version} does not allow entities from repeats "
                                "or several Entity Lists in one form; convert the XLSForm with pyxform 4 or later "
                                "(entities-version 2025.1.0).")
    lists: dict[str, tuple[str, ...]] = {}
    for path, el, _ in declared:
        dataset = (attr(el, "dataset") or "").strip()
        if dataset in lists:
            raise EntityFormRefused(f"The Entity List '{dataset}' is declared twice in this form (/{'/'.join(lists[dataset])} "
                                    f"and /{'/'.join(path)}); Hamlet supports one declaration per list in a form.")
        lists[dataset] = path
    fields = _properties(model, data_root, repeats, [p for p, _, _ in declared])
    return tuple(_declaration(el, version, path, repeat, fields.get(path, ())) for path, el, repeat in declared)


def _declaration(el: etree._Element, version: str, path: tuple[str, ...], repeat: bool,
                 properties: tuple[EntityProperty, ...]) -> EntityDeclaration:
    dataset = (attr(el, "dataset") or "").strip()
    if not dataset:
        raise EntityFormRefused("The entity declaration has no dataset (the entities sheet's list_name).")
    if not valid_dataset_name(dataset):
        raise EntityFormRefused(f"The Entity List name '{dataset}' is invalid: use letters, digits, '_', ':' or "
                                "'-', start with a letter, '_' or ':', and do not start with '__' or contain '.'.")
    create, update = attr(el, "create") is not None, attr(el, "update") is not None
    if not (create or update):
        raise EntityFormRefused(f"The entity declaration of '{dataset}' neither creates nor updates; give it "
                                "entity_id (update) or a label (create) in the entities sheet.")
    return EntityDeclaration(dataset=dataset, spec_version=version, create=create, update=update,
                             has_label=child(el, "label") is not None, properties=properties, path=path,
                             repeat=repeat)


def _properties(model: etree._Element, data_root: etree._Element, repeats: list[tuple[str, ...]],
                paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[EntityProperty, ...]]:
    """The saved fields of each declaration (by its path): a field belongs to the closest declaring
    group holding it; one in a repeat closer than that group is refused, as Central does."""
    root_name = local(data_root.tag)
    by_length = sorted(paths, key=len, reverse=True)
    seen: dict[tuple[str, ...], dict[str, EntityProperty]] = {p: {} for p in paths}
    lowered: dict[tuple[str, ...], dict[str, str]] = {p: {} for p in paths}
    for bind in model:
        if local(bind.tag) != "bind":
            continue
        name = attr(bind, "saveto")
        if name is None:
            continue
        name = name.strip()
        parts = tuple(p for p in (attr(bind, "nodeset") or "").split("/") if p)
        if not parts or parts[0] != root_name:
            raise EntityFormRefused(f"The field saved to the entity property '{name}' is not in the form's "
                                    "primary instance.")
        path = parts[1:]
        where = "/" + "/".join(parts)
        if not valid_property_name(name):
            raise EntityFormRefused(f"The entity property name '{name}' (save_to of {where}) is invalid: "
                                    "it may not be 'name' or 'label', may not start with '__', and must start "
                                    "with a letter or '_'.")
        owner = next((p for p in by_length if path[:len(p)] == p and len(path) > len(p)), None)
        if owner is None:
            raise EntityFormRefused(f"The field {where} saves to the entity property '{name}' but lies outside "
                                    "every group that declares an entity; move it into that group or repeat.")
        closest_repeat = max((r for r in repeats if path[:len(r)] == r and len(path) > len(r)), key=len, default=())
        if len(closest_repeat) > len(owner):
            raise EntityFormRefused(f"The field {where} inside the repeat /{'/'.join(closest_repeat)} saves to the "
                                    f"entity property '{name}' of an entity declared outside that repeat; "
                                    "declare the entity on the repeat (the entities sheet's repeat column).")
        if name in seen[owner] or name.lower() in lowered[owner]:
            raise EntityFormRefused(f"Two fields save to the entity property '{name}'; each property may be "
                                    "saved by one field.")
        seen[owner][name] = EntityProperty(name, path)
        lowered[owner][name.lower()] = name
    return {p: tuple(found.values()) for p, found in seen.items()}


class _Children:
    """The first child of each name below the nodes on the properties' paths (as `child` finds it), each
    node's children read once: the shipped survey's 19 properties share a few groups, and walking every
    child of the root for each was ~40% of what reading the entity block cost (bench/entities.py)."""

    def __init__(self, root: etree._Element):
        self.root = root
        self.tables: dict[tuple[str, ...], dict[str, etree._Element]] = {}

    def text_at(self, path: tuple[str, ...]) -> str | None:
        node = self.root
        for depth, name in enumerate(path):
            prefix = path[:depth]
            table = self.tables.get(prefix)
            if table is None:
                table = self.tables[prefix] = {}
                for c in node:
                    tag = c.tag
                    if tag.__class__ is str:   # not a comment or processing instruction; safexml.local, inlined
                        table.setdefault(tag[tag.rfind("}") + 1:], c)
            found = table.get(name)
            if found is None:
                return None
            node = found
        if not len(node):   # a leaf, as nearly every saved field is: its text is all its text
            return node.text or ""
        return "".join(node.itertext())


def read_submitted(root: etree._Element, declaration: EntityDeclaration) -> SubmittedEntity | None:
    """The entity block of a submission made with a form whose one declaration is `declaration` (a
    block in the form's own meta or a group's).

    None when the submission has no entity block (a create_if that was false leaves it out, or
    sets create to 0, which the caller reads from the flags)."""
    container = root
    for name in declaration.path:
        container = child(container, name)
        if container is None:
            return None
    return _read_block(container, declaration)


def read_all_submitted(root: etree._Element,
                       declarations: tuple[EntityDeclaration, ...]) -> list[tuple[EntityDeclaration, SubmittedEntity]]:
    """Every entity block of a submission, in the order of the form's declarations and, within a repeat,
    of its instances (Central's `submissionXmlToEntityData`). A declaration in a top-level meta with no
    repeat around it is read as `read_submitted` reads it."""
    out = []
    for declaration in declarations:
        for container in _containers(root, declaration.path):
            found = _read_block(container, declaration)
            if found is not None:
                out.append((declaration, found))
    return out


def _containers(root: etree._Element, path: tuple[str, ...]) -> list[etree._Element]:
    """The elements at `path` below the root, every instance of each repeat on the way."""
    nodes = [root]
    for name in path:
        nodes = [c for node in nodes for c in node if isinstance(c.tag, str) and local(c.tag) == name]
    return nodes


def _read_block(container: etree._Element, declaration: EntityDeclaration) -> SubmittedEntity | None:
    meta = child(container, "meta")
    el = child(meta, "entity") if meta is not None else None
    if el is None:
        return None
    label_el = child(el, "label")
    data = {}
    depth = len(declaration.path)
    children = _Children(container)
    for prop in declaration.properties:
        value = children.text_at(prop.path[depth:])
        if value is not None:
            data[prop.name] = value
    return SubmittedEntity(dataset=(attr(el, "dataset") or "").strip(), id=attr(el, "id") or "",
                           create=_is_true(attr(el, "create")), update=_is_true(attr(el, "update")),
                           base_version=(attr(el, "baseVersion") or "").strip(),
                           trunk_version=(attr(el, "trunkVersion") or "").strip(),
                           branch_id=(attr(el, "branchId") or "").strip(),
                           label="".join(label_el.itertext()) if label_el is not None else None, data=data)
