"""A form version's fields as OData sees them: a tree of groups, repeats and leaves with sanitised
names, the tables (`Submissions` and one per repeat), and the ids Central gives repeat rows.

Names follow Central: a name that does not start with a letter or `_` gets a `_` in front, and every
run of other characters than ASCII letters, digits and `_` becomes one `_` (`q1.8` → `q1_8`,
`2.4` → `_2_4`). A repeat table is named by its whole path, `Submissions.household.members`; its rows
carry the parent's id as `__Submissions-id` (a top-level repeat) or `__Submissions-<path>-id`
(a repeat inside another repeat, the path being the enclosing repeat's, joined by `-`)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from server.xforms.schema import Schema

_LEADING = re.compile(r"^([^A-Za-z_])")
_OTHERS = re.compile(r"[^A-Za-z0-9_]+")
_KEY_SEGMENT = re.compile(r"(.*)\[(\d+)\]")


def sanitize(name: str) -> str:
    return _OTHERS.sub("_", _LEADING.sub(r"_\1", name))


@dataclass(eq=False)
class Node:
    name: str                       # the XML element's local name
    key: str                        # its OData name
    path: str                       # XML path below the instance root, "household/members/age"
    type: str                       # structure, repeat, or a leaf type (int, decimal, geopoint, …)
    order: int
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    column: str | None = None       # leaves: the TEXT column holding the value
    table: Table | None = None    # repeats: the table of their rows

    @property
    def is_leaf(self) -> bool:
        return self.type not in ("structure", "repeat")

    @property
    def odata_path(self) -> str:
        """`/household/members/age`: how `$select` and Central's field tree name a node."""
        names: list[str] = []
        node: Node | None = self
        while node is not None and node.type != "root":
            names.append(node.key)
            node = node.parent
        return "/" + "/".join(reversed(names))


@dataclass(eq=False)
class Table:
    name: str                       # Submissions, Submissions.household.members
    node: Node                      # the root node, or the repeat's node
    parent: Table | None
    parent_key: str                 # "" for Submissions; else __Submissions[-…]-id
    repeat_path: str                # "" for Submissions; else the repeat's XML path (data table key)

    @property
    def is_root(self) -> bool:
        return self.parent is None


@dataclass
class FormView:
    xml_form_id: str
    root: Node
    tables: dict[str, Table]        # by OData name, in document order
    by_odata_path: dict[str, Node]  # "/household/members/age" → node

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)


def form_view(xml_form_id: str, schema: Schema, columns: dict[str, tuple[str, str]]) -> FormView:
    """Build the OData view of a schema. `columns`: field path → (repeat path, column name), as in
    server.models.form_data.DataTables.columns."""
    root = Node("", "", "", "root", -1)
    root_table = Table("Submissions", root, None, "", "")
    root.table = root_table
    tables = {"Submissions": root_table}
    by_path: dict[str, Node] = {}
    nodes: dict[tuple[str, ...], Node] = {(): root}
    for f in schema.fields:
        parent = nodes.get(f.path[:-1])
        if parent is None:  # pragma: no cover - fields come in document order, parents first
            continue
        node = Node(f.name, sanitize(f.name), "/".join(f.path), f.type, f.order, parent)
        parent.children.append(node)
        nodes[f.path] = node
        by_path[node.odata_path] = node
        if node.is_leaf:
            found = columns.get(node.path)
            node.column = found[1] if found else None
        elif node.type == "repeat":
            enclosing = _enclosing_table(node)
            parts = [n.key for n in _chain(node)]
            if enclosing.is_root:
                parent_key = "__Submissions-id"
            else:
                parent_key = "__Submissions-" + "-".join(n.key for n in _chain(enclosing.node)) + "-id"
            table = Table("Submissions." + ".".join(parts), node, enclosing, parent_key, node.path)
            node.table = table
            tables[table.name] = table
    return FormView(xml_form_id, root, tables, by_path)


def _chain(node: Node) -> list[Node]:
    """The node and its ancestors below the root, outermost first."""
    out = []
    up: Node | None = node
    while up is not None and up.type != "root":
        out.append(up)
        up = up.parent
    return list(reversed(out))


def _enclosing_table(node: Node) -> Table:
    up = node.parent
    while up is not None and up.type not in ("repeat", "root"):
        up = up.parent
    # Every node hangs below the root, and form_view gives the root and each repeat their table
    # before it reaches their children.
    assert up is not None and up.table is not None, f"no enclosing table for {node.path}"
    return up.table


# --- repeat-row ids and navigation links ------------------------------------------------------------

def repeat_id(instance_id: str, row_key: str) -> str:
    """Central's id of a repeat row: the SHA-1 of `Submissions#<instanceId>` and, for each element on
    the way down, `<group>#` or `<repeat>#<0-based index among its siblings>`, joined by `%%`.
    `row_key` is the KEY suffix the column tables keep, e.g. `household/members[2]`."""
    parts = ["Submissions#" + instance_id]
    for segment in row_key.split("/"):
        if segment.endswith("]"):  # name[n]; XML names never hold brackets
            at = segment.rindex("[")
            parts.append(f"{segment[:at]}#{int(segment[at + 1:-1]) - 1}")
        else:
            parts.append(segment + "#")
    return hashlib.sha1("%%".join(parts).encode("utf-8")).hexdigest()


def parent_id(instance_id: str, parent_row_key: str) -> str:
    """The value of a repeat row's `__Submissions…-id`: the instanceID for a top-level repeat."""
    return repeat_id(instance_id, parent_row_key) if parent_row_key else instance_id


_URI_SAFE = re.compile(r"[A-Za-z0-9\-_.!~*'():]*")


def encode_component(value: str) -> str:
    """JavaScript's encodeURIComponent, as Central writes ids into links."""
    if _URI_SAFE.fullmatch(value):  # `uuid:…`, the usual case
        return value.replace(":", "%3A")
    return quote(value, safe="-_.!~*'()")


def navigation_link(instance_id: str, parent_row_key: str, repeat: Node) -> str:
    """`Submissions('uuid%3A…')/household/members`, or for a repeat inside a repeat row,
    `Submissions('…')/children/child('<id of that row>')/toys/toy`."""
    out = [f"Submissions('{encode_component(instance_id)}')"]
    prefix: list[str] = []
    if parent_row_key:
        for segment in parent_row_key.split("/"):
            prefix.append(segment)
            m = _KEY_SEGMENT.fullmatch(segment)
            if m:
                out.append(f"{sanitize(m.group(1))}('{repeat_id(instance_id, '/'.join(prefix))}')")
            else:
                out.append(sanitize(segment))
    depth = len(parent_row_key.split("/")) if parent_row_key else 0
    out.extend(n.key for n in _chain(repeat)[depth:])
    return "/".join(out)
