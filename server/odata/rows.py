"""OData data documents read straight from the column tables (README, "How submissions are stored").

    page(db, form, "Submissions.household.members", {"$top": "1000"})   # → the JSON document as a dict

A page is a few indexed queries, never a scan of the form's submissions:
1. the page's submissions, picked by a narrow query on `submissions` alone in Central's order
   (newest first: `created_at DESC, id DESC` on the (form_id, created_at) index, or `$orderby`),
   filtered by `$filter`, without drafts and (unless the filter speaks of deletedAt) deleted ones,
   continuing after a `$skiptoken` by keyset; for `Submissions` they are then joined by primary key
   to the submitter, the current version, the root data row, attachment counts and one EXISTS per
   repeat (its navigation link);
2. for a repeat table, its rows for those submissions (`submission_id IN (…)`, the index every
   repeat table has), in document order; submissions are taken in batches sized from the rows per
   submission seen so far, until the page is full. `$skip` there counts repeat rows: one query sums
   them per submission, in order, and stops at the submission where the page begins;
3. with `$expand=*`, the nested rows of the page's submissions, again by `submission_id IN (…)`.

A caller limited to some areas (server/auth/scope.py) passes its `scope`: one more condition on
`submissions` (a semi-join on the form's root table), so pages, counts, `$skip`, repeat tables,
`$expand` and single entities hold only its areas' households, and another's entity is 404.

JSON shapes, ids and key order are Central's (odk-protocol §7.3): groups nested, fields first, then
`__id`, `__system` (or the parent's id), then navigation links; a repeat row's `__id` is the SHA-1
Central computes, its parent key `__Submissions-id` or `__Submissions-<path>-id`."""
from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from urllib.parse import quote_plus

from sqlalchemy import Row, and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from server import problems
from server.db import isoformat
from server.models.accounts import Actor
from server.models.form_data import DataTables, VersionCache, data_tables
from server.models.forms import Form, FormDef
from server.models.submissions import SubmissionAttachment, SubmissionDef
from server.odata.filter import SUBMISSIONS, exclude_deleted, order_clause, order_spec, submission_filter
from server.odata.query import ODataQuery, make_skiptoken, parse_query
from server.odata.schema import FormView, Node, Table, form_view, navigation_link, parent_id, repeat_id
from server.odata.values import converter
from server.xforms.schema import read_schema

SYSTEM_FIELDS = ("submissionDate", "updatedAt", "submitterId", "submitterName", "attachmentsPresent",
                 "attachmentsExpected", "status", "reviewState", "deviceId", "edits", "formVersion", "deletedAt")
_SELECTABLE_SYSTEM = {"__system"} | {f"__system/{f}" for f in SYSTEM_FIELDS}

SD = SubmissionDef.__table__
FD = FormDef.__table__
ACTORS = Actor.__table__
ATTACHMENTS = SubmissionAttachment.__table__

# --- what a request shows: the shape of its rows -------------------------------------------------

@dataclass
class Shape:
    """How one table's row (or a group in it) becomes a JSON object. Leaves name their data column
    (`c12`); groups nest; repeats get a navigation link (or their rows). `resolved` gives the same
    shape with each leaf's column replaced by its position in one query's rows, so that filling an
    object reads each cell by index: the names are looked up once per query, never per cell."""
    entries: list[tuple] = field(default_factory=list)     # (key, column, convert, None) / (key, None, None, Shape)
    repeats: list[Node] = field(default_factory=list)

    def resolved(self, at: Mapping[str, int]) -> Shape:
        return Shape([(key, None if column is None else at[column], convert, None) if group is None
                      else (key, None, None, group.resolved(at)) for key, column, convert, group in self.entries],
                     self.repeats)


def _positions(columns: list) -> dict[str, int]:
    """{label: position} of a query's selected columns: how its rows are read by name."""
    return {name: i for i, name in enumerate(select(*columns).selected_columns.keys())}


def _reader(at: Mapping[str, int], *names: str) -> Callable:
    """A function giving the named columns of a row as a tuple, for unpacking by name."""
    return itemgetter(*(at[n] for n in names))


def _live(form_id: int, scope, draft: bool = False) -> list:
    """The conditions every OData query puts on `submissions`: the form's, not a draft's test
    submissions (only those, with `draft`: the draft's own service), and within the caller's areas
    when it is limited to some."""
    s = SUBMISSIONS
    return [s.c.form_id == form_id, s.c.draft.is_(draft), *([scope.clause(s)] if scope is not None else [])]


def _selection(view: FormView, table: Table, select: list[str] | None) -> set[Node] | None:
    """Central's `$select`: named fields (paths relative to the table, `/` between groups), the
    groups on their way (a repeat on the way is 400.24), and everything in a named group; `__id`,
    the parent key and (on Submissions) `__system[/…]` are metadata. Unknown names are 400.23."""
    if select is None:
        return None
    chosen: set[Node] = set()
    ids = {"__id"} if table.is_root else {"__id", table.parent_key}
    base = "" if table.is_root else table.node.odata_path
    for prop in select:
        if prop in ids or (table.is_root and prop in _SELECTABLE_SYSTEM):
            continue
        node = view.by_odata_path.get(f"{base}/{prop}")
        if node is None:
            raise problems.ODataPropertyNotFound(f"Could not find a property named '{prop}'",
                                                 details={"property": prop})
        chosen.add(node)
        up = node.parent
        while up is not None and up is not table.node and up.type != "root" and up not in chosen:
            if up.type == "repeat":
                raise problems.ODataSelectUnsupported(
                    f"The given OData select property '{prop}' uses features not supported by this server.",
                    details={"property": prop})
            chosen.add(up)
            up = up.parent
        if node.type == "structure":
            stack = [node]
            while stack:
                for c in stack.pop().children:
                    chosen.add(c)
                    if c.type == "structure":
                        stack.append(c)
    return chosen


def _shape(container: Node, chosen: set[Node] | None, columns: list[str], wkt: bool) -> Shape:
    shape = Shape()
    for c in container.children:
        if chosen is not None and c not in chosen:
            continue
        if c.type == "structure":
            shape.entries.append((c.key, None, None, _shape(c, chosen, columns, wkt)))
        elif c.type == "repeat":
            shape.repeats.append(c)
        else:
            if c.column is not None:
                columns.append(c.column)
            shape.entries.append((c.key, c.column, converter(c.type, wkt), None))
    return shape


def _descendant_repeats(node: Node) -> list[Node]:
    out = []
    for c in node.children:
        if c.type == "repeat":
            out.append(c)
        if c.type in ("structure", "repeat"):
            out.extend(_descendant_repeats(c))
    return out


# --- the plan of one request ---------------------------------------------------------------------

_VIEWS: weakref.WeakKeyDictionary[VersionCache, dict[int, FormView]] = weakref.WeakKeyDictionary()


def form_view_of(db: Session, form: Form, cache: VersionCache | None,
                 draft: bool = False) -> tuple[FormView, DataTables]:
    """The OData view of the form's published version (or, with `draft`, of its draft), and its data
    tables (cached per version)."""
    def_id = form.draft_def_id if draft else form.current_def_id
    if def_id is None:
        raise problems.NotFound("This form has no draft." if draft else "This form has not been published yet.")
    if cache is None:
        schema = read_schema(db.execute(select(FD.c.xml).where(FD.c.id == def_id)).scalar_one())
        tables = data_tables(db, form.id)
        return form_view(form.xml_form_id, schema, tables.columns), tables
    tables = cache.tables(db, form.id, def_id)
    views = _VIEWS.setdefault(cache, {})
    view = views.get(def_id)
    if view is None:
        view = views[def_id] = form_view(form.xml_form_id, cache.schema(db, def_id), tables.columns)
    return view, tables


@dataclass
class Plan:
    db: Session
    form_id: int
    view: FormView
    tables: DataTables
    table: Table
    query: ODataQuery
    service_root: str
    shape: Shape
    columns: list[str]                        # data columns of the table's rows, in shape order
    metadata: set[str] | None                 # $select's metadata names (None: all of them)
    child_shapes: dict[str, tuple[Shape, list[str]]]   # repeat path → shape (for $expand)
    where: list
    order: list
    order_spec: list                          # (column, descending, Central's nulls rule)
    keyset: bool = True                       # default order: pages continue by (created_at, id)
    scope: object = None                      # the caller's FormScope, when limited to some areas
    draft: bool = False                       # the draft's test submissions (models/draft_tests.py)

    @property
    def data_table(self):
        return self.tables.root if self.table.is_root else self.tables.repeats[self.table.repeat_path]


def make_plan(db: Session, form: Form, table_name: str, query: ODataQuery | Mapping[str, str],
              cache: VersionCache | None = None, service_root: str = "", scope=None, draft: bool = False) -> Plan:
    """`scope`: the caller's FormScope when it is limited to some areas (None: every household).
    `draft`: the draft's service, over its test submissions."""
    if not isinstance(query, ODataQuery):
        query = parse_query(query)
    view, tables = form_view_of(db, form, cache, draft)
    table = view.table(table_name)
    if table is None or (not table.is_root and table.repeat_path not in tables.repeats):
        raise problems.NotFound(f"There is no table '{table_name}' in this form's OData service.")
    chosen = _selection(view, table, query.select)
    columns: list[str] = []
    shape = _shape(table.node, chosen, columns, query.wkt)
    child_shapes: dict[str, tuple[Shape, list[str]]] = {}
    if query.expand:
        for r in _descendant_repeats(table.node):
            cols: list[str] = []
            child_shapes[r.path] = (_shape(r, None, cols, query.wkt), cols)
    s = SUBMISSIONS
    where = [*_live(form.id, scope, draft), exclude_deleted(query.filter),
             submission_filter(query.filter, root_only=not table.is_root)]
    if query.orderby is not None:
        spec = order_spec(query.orderby)
        ordering = [(c, d, True) for c, d in spec[:-1]] + [(*spec[-1], False)]
        keyset = False
    else:
        # Central's order, newest first; no NULLS clause, so the (form_id, created_at) index serves it.
        ordering = [(s.c.created_at, True, False), (s.c.id, True, False)]
        keyset = True
    return Plan(db, form.id, view, tables, table, query, service_root, shape=shape, columns=columns,
                metadata=query.metadata, child_shapes=child_shapes, where=where,
                order=[order_clause(c, d, n) for c, d, n in ordering], order_spec=ordering, keyset=keyset,
                scope=scope, draft=draft)


# --- building JSON objects ----------------------------------------------------------------------

@dataclass
class _Expanded:
    """One nested repeat's rows for `$expand=*`, by (submission id, parent key), and how to read them."""
    rows: dict
    shape: Shape            # resolved against the rows' positions
    row_key: int            # position of `row_key`


class _Builder:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.expand = plan.query.expand
        self.exists: dict[str, set] = {}            # repeat path → {(submission id, parent key)}
        self.children: dict[str, _Expanded] = {}    # repeat path → its rows under each parent

    def load_expanded(self, submission_ids: list[int]) -> None:
        """`$expand=*`: every nested repeat row of these submissions, by (submission, parent key)."""
        if not submission_ids:
            return
        conn = self.plan.db.connection()
        for path, (shape, cols) in self.plan.child_shapes.items():
            t = self.plan.tables.repeats.get(path)
            if t is None:
                self.children.pop(path, None)
                continue
            columns = [t.c.submission_id, t.c.row_key, t.c.parent_key, *[t.c[c] for c in cols]]
            at = _positions(columns)
            parent_of = _reader(at, "submission_id", "parent_key")
            groups: dict = {}
            for row in conn.execute(select(*columns).where(t.c.submission_id.in_(submission_ids)).order_by(t.c.id)):
                groups.setdefault(parent_of(row), []).append(row)
            self.children[path] = _Expanded(groups, shape.resolved(at), at["row_key"])

    def note_links(self, links: list[tuple[Node, int]], row, sub_id: int, row_key: str) -> None:
        """Record which nested repeats have rows, from the EXISTS columns of a row ((node, position))."""
        for node, at in links:
            if row[at]:
                self.exists.setdefault(node.path, set()).add((sub_id, row_key))

    def fill(self, shape: Shape, values, sub_id: int, iid: str, row_key: str, extras) -> dict:
        """The JSON object of a row (`values`) through a resolved shape."""
        d: dict = {}
        for key, index, convert, group in shape.entries:
            if group is not None:
                d[key] = self.fill(group, values, sub_id, iid, row_key, None)
                continue
            v = None if index is None else values[index]
            if v is None or v == "":
                d[key] = None
            else:
                d[key] = v if convert is None else convert(v)
        if extras:
            d.update(extras)
        for node in shape.repeats:
            key = (sub_id, row_key)
            if self.expand:
                found = self.children.get(node.path)
                if found is not None and (rows := found.rows.get(key)):
                    d[node.key + "@odata.navigationLink"] = navigation_link(iid, row_key, node)
                    d[node.key] = [self.fill(found.shape, r, sub_id, iid, r[found.row_key],
                                             (("__id", repeat_id(iid, r[found.row_key])),)) for r in rows]
            elif key in self.exists.get(node.path, ()):
                d[node.key + "@odata.navigationLink"] = navigation_link(iid, row_key, node)
        return d


def _all_repeats(shape: Shape) -> list[Node]:
    out = list(shape.repeats)
    for _key, _column, _convert, group in shape.entries:
        if group is not None:
            out.extend(_all_repeats(group))
    return out


def _link_label(node: Node) -> str:
    return f"link:{node.path}"


def _link_columns(plan: Plan, nodes: list[Node], submission_id, row_key) -> list:
    """EXISTS columns telling, per row, whether each nested repeat has rows under it (its link),
    each labelled by its repeat (`_link_label`)."""
    out = []
    for node in nodes:
        t = plan.tables.repeats.get(node.path)
        if t is None:
            out.append(literal(False).label(_link_label(node)))
            continue
        cond = t.c.submission_id == submission_id
        if row_key is not None:
            cond = and_(cond, t.c.parent_key == row_key)
        out.append(exists().where(cond).label(_link_label(node)))
    return out


def _links(nodes: list[Node], at: Mapping[str, int]) -> list[tuple[Node, int]]:
    """(repeat, position of its EXISTS column) for `_Builder.note_links`."""
    return [(node, at[_link_label(node)]) for node in nodes]


# --- walking submissions -------------------------------------------------------------------------

def _submission_batches(plan: Plan, columns: list, joined, cursor: tuple | None, inclusive: bool,
                        first_offset: int, sizes: Iterator[int]) -> Iterator[Sequence[Row]]:
    """The plan's submissions in order, in batches: `columns` selected from `joined` (which holds
    `submissions`), for the ids a narrow ordered query on `submissions` alone picks. `cursor`:
    (created_at, id) to continue after (or from, when `inclusive`), in the default order only.
    `columns` must hold the submission's `id` and `created_at` under those names."""
    s = SUBMISSIONS
    conn = plan.db.connection()
    position_of = _reader(_positions(columns), "created_at", "id")
    last, offset = None, first_offset
    while True:
        n = next(sizes)
        ids = select(s.c.id.label("page_id")).where(*plan.where)
        after = last or cursor
        if plan.keyset and after is not None:
            created_at, sub_id = after
            same = s.c.id <= sub_id if (inclusive and last is None) else s.c.id < sub_id
            ids = ids.where(or_(s.c.created_at < created_at, and_(s.c.created_at == created_at, same)))
        ids = ids.order_by(*plan.order).limit(n)
        if offset:
            ids = ids.offset(offset)
        page = ids.subquery("page")
        stmt = select(*columns).select_from(page.join(joined, s.c.id == page.c.page_id)).order_by(*plan.order)
        rows = conn.execute(stmt).all()
        if not rows:
            return
        yield rows
        if len(rows) < n:
            return
        if plan.keyset:
            last, offset = position_of(rows[-1]), 0
        else:
            offset += len(rows)


def _cursor_of(plan: Plan, instance_id) -> tuple | None:
    s = SUBMISSIONS
    if not isinstance(instance_id, str):
        raise problems.ODataSkiptokenInvalid()
    stmt = select(s.c.created_at, s.c.id).where(*_live(plan.form_id, plan.scope, plan.draft), s.c.instance_id == instance_id)
    row = plan.db.connection().execute(stmt).first()
    return (row.created_at, row.id) if row else None


def _sizes(first: int | None, then: int) -> Iterator[int]:
    yield first if first else then
    while True:
        yield then


# --- Submissions ---------------------------------------------------------------------------------

def _root_meta() -> list:
    """The root query's columns about each submission, by name (before its links and data columns)."""
    s, a = SUBMISSIONS, ATTACHMENTS
    present = (select(func.count(a.c.blob_id)).where(a.c.submission_def_id == s.c.current_def_id)
               .scalar_subquery())
    expected = select(func.count()).where(a.c.submission_def_id == s.c.current_def_id).scalar_subquery()
    return [s.c.id.label("id"), s.c.created_at.label("created_at"), s.c.instance_id.label("instance_id"),
            s.c.updated_at.label("updated_at"), s.c.deleted_at.label("deleted_at"),
            s.c.submitter_id.label("submitter_id"), s.c.device_id.label("device_id"),
            s.c.review_state.label("review_state"), s.c.edits.label("edits"),
            s.c.current_def_id.label("current_def_id"), ACTORS.c.display_name.label("submitter_name"),
            SD.c.encrypted.label("encrypted"), FD.c.version.label("version"), present.label("present"),
            expected.label("expected")]


_SYSTEM_COLUMNS = ("id", "created_at", "updated_at", "submitter_id", "submitter_name", "present", "expected",
                   "current_def_id", "review_state", "device_id", "edits", "version", "deleted_at")


def _system(plan: Plan, rows: Sequence[Row], at: Mapping[str, int]) -> dict[int, dict]:
    """`__system` of each submission row (read by the positions `at`), keyed by submission id."""
    wanted = plan.metadata
    if wanted is not None and "__system" not in wanted and not any(m.startswith("__system/") for m in wanted):
        return {}
    conn = plan.db.connection()
    edited = [sub_id for sub_id, edits in map(_reader(at, "id", "edits"), rows) if edits]
    first_versions: dict[int, str] = {}
    if edited:
        firsts = (select(func.min(SD.c.id)).where(SD.c.submission_id.in_(edited)).group_by(SD.c.submission_id))
        first_versions = dict(conn.execute(select(SD.c.submission_id, FD.c.version)
                                           .join(FD, FD.c.id == SD.c.form_def_id).where(SD.c.id.in_(firsts))).all())
    status = _encryption_status(plan, [d for d, enc in map(_reader(at, "current_def_id", "encrypted"), rows) if enc])
    out = {}
    for (sub_id, created, updated, submitter, name, present, expected, def_id, review, device, edits, current,
         deleted) in map(_reader(at, *_SYSTEM_COLUMNS), rows):
        version = first_versions.get(sub_id, current) if edits else current
        system = {
            "submissionDate": isoformat(created),
            "updatedAt": isoformat(updated),
            "submitterId": None if submitter is None else str(submitter),
            "submitterName": name or None,
            "attachmentsPresent": present or 0,
            "attachmentsExpected": expected or 0,
            "status": status.get(def_id),
            "reviewState": review or None,
            "deviceId": device or None,
            "edits": edits or 0,
            "formVersion": version if version is not None else "",
            "deletedAt": isoformat(deleted),
        }
        if wanted is not None and "__system" not in wanted:
            system = {k: v for k, v in system.items() if f"__system/{k}" in wanted}
        out[sub_id] = system
    return out


def _encryption_status(plan: Plan, def_ids: list[int]) -> dict[int, str]:
    """Central's `status` of a submission still encrypted (by its current version's id):
    notDecrypted when its encrypted XML file has arrived, missingEncryptedFormData when not."""
    if not def_ids:
        return {}
    from server.xforms.safexml import child, parse

    conn = plan.db.connection()
    out = {}
    for def_id, xml in conn.execute(select(SD.c.id, SD.c.xml).where(SD.c.id.in_(def_ids))):
        name = None
        try:
            el = child(parse(bytes(xml)), "encryptedXmlFile")
            name = (el.text or "").strip() if el is not None else None
        except Exception:  # noqa: BLE001 - a broken envelope is simply missing its data
            name = None
        has = name and conn.execute(select(ATTACHMENTS.c.blob_id).where(
            ATTACHMENTS.c.submission_def_id == def_id, ATTACHMENTS.c.name == name,
            ATTACHMENTS.c.blob_id.is_not(None))).first() is not None
        out[def_id] = "notDecrypted" if has else "missingEncryptedFormData"
    return out


def _root_rows(plan: Plan, first_batch: int | None) -> Iterator[tuple[dict, tuple]]:
    """(JSON object, position) of every Submissions row of the plan, in order; the position is what
    a `$skiptoken` continues after."""
    s, d = SUBMISSIONS, plan.tables.root
    q = plan.query
    cursor = None
    if q.skiptoken is not None:
        cursor = _cursor_of(plan, q.skiptoken.get("instanceId"))
        if cursor is None:  # Central: a token whose submission is gone continues nowhere
            return
    linked = [] if plan.query.expand else _all_repeats(plan.shape)
    columns = _root_meta() + _link_columns(plan, linked, s.c.id, None) + [d.c[c] for c in plan.columns]
    at = _positions(columns)
    shape, links = plan.shape.resolved(at), _links(linked, at)
    identity = _reader(at, "id", "instance_id", "encrypted")
    joined = (s.join(SD, SD.c.id == s.c.current_def_id).join(FD, FD.c.id == SD.c.form_def_id)
              .outerjoin(ACTORS, ACTORS.c.id == s.c.submitter_id))
    if plan.columns:
        joined = joined.outerjoin(d, d.c.submission_id == s.c.id)
    sizes = _sizes(first_batch, 1000)
    builder = _Builder(plan)
    wanted = plan.metadata
    for rows in _submission_batches(plan, columns, joined, cursor, False, q.skip, sizes):
        if plan.query.expand:
            builder.load_expanded([sub_id for sub_id, _, _ in map(identity, rows)])
        systems = _system(plan, rows, at)
        for r in rows:
            sub_id, iid, encrypted = identity(r)
            builder.note_links(links, r, sub_id, "")
            extras = []
            if wanted is None or "__id" in wanted:
                extras.append(("__id", iid))
            if sub_id in systems:
                extras.append(("__system", systems[sub_id]))
            # Still encrypted: nothing but its metadata.
            obj = dict(extras) if encrypted else builder.fill(shape, r, sub_id, iid, "", extras)
            yield obj, (iid,)


# --- repeat tables -------------------------------------------------------------------------------

def _landing(plan: Plan, skip: int) -> tuple | None:
    """Where `$skip` repeat rows end: the submission holding row number `skip` (0-based), as (its
    0-based position among the plan's submissions, id, created_at, rows of it to skip). One query:
    repeat rows counted per submission (through the index) and summed in the plan's order; the
    submission where the running sum passes `skip` is the only row with `before <= skip < upto`, so
    the database can stop reading there. That costs one index probe per submission before the
    landing, so in the default order a landing past about 62% of the rows is counted from the oldest
    end, after one count of the rows. Whether it is there is judged from the span of row ids (read
    off the primary key, at least the number of rows), so shallow pages never pay for the count."""
    if plan.keyset and skip >= _REVERSE_FROM * _row_id_span(plan):
        total = _repeat_total(plan)
        if skip >= total:
            return None
        if skip >= total // 2:
            # Row `skip` from the newest end is row total-1-skip from the oldest end.
            found = _running_sum(plan, total - 1 - skip, reverse=True)
            if found is None:
                return None
            _, sub_id, created_at, before_rev, n = found
            first_row = total - before_rev - n            # where that submission's rows start, newest first
            return -1, sub_id, created_at, skip - first_row   # the position is not used with a keyset
    found = _running_sum(plan, skip, reverse=False)
    if found is None:
        return None
    position, sub_id, created_at, before, _ = found
    return position - 1, sub_id, created_at, skip - before


# Counting all rows costs about as much as probing a sixth of the submissions, so walking from the
# oldest end pays when the landing is past about 62% of the rows.
_REVERSE_FROM = 0.62


def _row_id_span(plan: Plan) -> int:
    """max(id) - min(id) + 1 of the repeat table: never fewer than its rows, from two index reads."""
    t = plan.data_table
    low, high = plan.db.connection().execute(select(func.min(t.c.id), func.max(t.c.id))).one()
    return 0 if low is None else int(high) - int(low) + 1


def _repeat_total(plan: Plan) -> int:
    """Rows of the plan's repeat table over the plan's submissions."""
    s, t = SUBMISSIONS, plan.data_table
    ids = select(s.c.id).where(*plan.where)
    return int(plan.db.connection().execute(
        select(func.count()).select_from(t).where(t.c.submission_id.in_(ids))).scalar_one())


def _running_sum(plan: Plan, index: int, reverse: bool) -> tuple | None:
    """(1-based position, id, created_at, rows before it, its rows) of the submission holding repeat
    row `index`, walking the plan's order (or, with `reverse`, the default order backwards)."""
    s, t = SUBMISSIONS, plan.data_table
    n = select(func.count()).where(t.c.submission_id == s.c.id).scalar_subquery()
    spec = [(s.c.created_at, False, False), (s.c.id, False, False)] if reverse else plan.order_spec
    # OFFSET 0 keeps PostgreSQL from copying the count into every expression that uses it.
    per_submission = select(s.c.id, s.c.created_at, n.label("n"),
                            *[c.label(f"o{i}") for i, (c, _, _) in enumerate(spec)]).where(*plan.where)
    counted = per_submission.order_by(*[order_clause(c, d, nulls) for c, d, nulls in spec]).offset(0).subquery("counted")
    order = [order_clause(counted.c[f"o{i}"], d, nulls) for i, (_, d, nulls) in enumerate(spec)]
    upto = func.sum(counted.c.n).over(order_by=order, rows=(None, 0))
    position = func.row_number().over(order_by=order, rows=(None, 0))  # the same window: one pass
    running = select(counted.c.id, counted.c.created_at, counted.c.n, upto.label("upto"),
                     position.label("position")).subquery("running")
    found = plan.db.connection().execute(
        select(running.c.position, running.c.id, running.c.created_at, (running.c.upto - running.c.n).label("before"),
               running.c.n)
        .where(running.c.upto > index, running.c.upto - running.c.n <= index).limit(1)).first()
    if found is None:
        return None
    return int(found.position), found.id, found.created_at, int(found.before), int(found.n)


def _repeat_rows(plan: Plan, need: int | None) -> Iterator[tuple[dict, tuple]]:
    """(JSON object, position) of every row of a repeat table, in order: submissions in the plan's
    order, rows within one in document order. Position: (row id, instanceID, KEY, parent id)."""
    s, t = SUBMISSIONS, plan.data_table
    q = plan.query
    conn = plan.db.connection()
    cursor, resume_sub, resume_row, first_offset, skip_in_first = None, None, None, 0, 0
    if q.skiptoken is not None:
        cursor, resume_sub, resume_row = _repeat_cursor(plan, q.skiptoken)
    elif q.skip:
        landing = _landing(plan, q.skip)
        if landing is None:
            return
        position, sub_id, created_at, skip_in_first = landing
        if plan.keyset:
            cursor = (created_at, sub_id)
        else:
            first_offset = position
    builder = _Builder(plan)
    wanted = plan.metadata
    parent_key_name = plan.table.parent_key
    linked = [] if q.expand else _all_repeats(plan.shape)
    row_columns = ([t.c.id.label("row_id"), t.c.submission_id, t.c.row_key, t.c.parent_key]
                   + _link_columns(plan, linked, t.c.submission_id, t.c.row_key) + [t.c[c] for c in plan.columns])
    at = _positions(row_columns)
    shape, links = plan.shape.resolved(at), _links(linked, at)
    row_of = _reader(at, "submission_id", "row_key", "parent_key")
    submission_of = itemgetter(at["submission_id"])

    # Batch sizes follow the rows per submission seen so far, so a page of n rows costs about one
    # batch of submissions.
    seen = {"subs": 0, "rows": 0, "emitted": 0}

    def sizes() -> Iterator[int]:
        while True:
            if need is None:
                yield 1000
            else:
                ratio = seen["rows"] / seen["subs"] if seen["subs"] else 4.0
                left = max(need + skip_in_first - seen["emitted"], 1)
                yield max(20, min(5000, int(left / max(ratio, 0.05) * 1.2) + 10))

    first_sub = None
    sub_columns = [s.c.id.label("id"), s.c.created_at.label("created_at"), s.c.instance_id.label("instance_id")]
    submission = _reader(_positions(sub_columns), "id", "instance_id")
    for batch in _submission_batches(plan, sub_columns, s, cursor, True, first_offset, sizes()):
        subs = [submission(r) for r in batch]
        ids = [sub_id for sub_id, _ in subs]
        if first_sub is None:
            first_sub = ids[0]
        seen["subs"] += len(subs)
        stmt = select(*row_columns).where(t.c.submission_id.in_(ids)).order_by(t.c.id)
        if resume_sub is not None:
            stmt = stmt.where(or_(t.c.submission_id != resume_sub, t.c.id > resume_row))
        by_sub: dict[int, list[Row]] = {}
        fetched = 0
        for row in conn.execute(stmt).all():
            by_sub.setdefault(submission_of(row), []).append(row)
            fetched += 1
        seen["rows"] += fetched
        if q.expand:
            builder.load_expanded([i for i in ids if i in by_sub])
        for sub_id, iid in subs:
            found: Sequence[Row] = by_sub.get(sub_id, ())
            if sub_id == first_sub and skip_in_first:
                found = found[skip_in_first:]
            for row in found:
                _, key, parent_key = row_of(row)
                builder.note_links(links, row, sub_id, key)
                rid, pid = repeat_id(iid, key), parent_id(iid, parent_key)
                extras = []
                if wanted is None or "__id" in wanted:
                    extras.append(("__id", rid))
                if wanted is None or parent_key_name in wanted:
                    extras.append((parent_key_name, pid))
                obj = builder.fill(shape, row, sub_id, iid, key, extras)
                seen["emitted"] += 1
                yield obj, (rid, iid, key, pid)


def _repeat_cursor(plan: Plan, token: dict) -> tuple:
    """Where a repeat-table `$skiptoken` (the plan's, parsed: `token`) continues: the submission's
    (created_at, id), and the row."""
    iid, key, rid = token.get("instanceId"), token.get("key"), token.get("repeatId")
    if rid is None:
        raise problems.ODataSkiptokenInvalid()
    if not isinstance(iid, str) or not isinstance(key, str) or repeat_id(iid, key) != rid:
        raise problems.ODataSkiptokenNotFound()
    s, t = SUBMISSIONS, plan.data_table
    stmt = (select(s.c.created_at, s.c.id, t.c.id.label("row_id")).join(t, t.c.submission_id == s.c.id)
            .where(*_live(plan.form_id, plan.scope, plan.draft), s.c.instance_id == iid, t.c.row_key == key))
    found = plan.db.connection().execute(stmt).first()
    if found is None:
        raise problems.ODataSkiptokenNotFound()
    return (found.created_at, found.id), found.id, found.row_id


# --- counting, pages and whole tables ------------------------------------------------------------

def count(plan: Plan) -> int:
    """`@odata.count`: every row the filter selects, whatever the paging."""
    s = SUBMISSIONS
    stmt = select(func.count()).select_from(s).where(*plan.where)
    if not plan.table.is_root:
        t = plan.data_table
        stmt = select(func.count()).select_from(t.join(s, s.c.id == t.c.submission_id)).where(*plan.where)
    return plan.db.connection().execute(stmt).scalar_one()


def rows(plan: Plan, need: int | None = None) -> Iterator[tuple[dict, tuple]]:
    """Every row of the plan's table after its `$skip`/`$skiptoken`, as (object, position)."""
    if plan.table.is_root:
        return _root_rows(plan, need)
    return _repeat_rows(plan, need)


def context_url(plan: Plan) -> str:
    return f"{plan.service_root}/$metadata#{plan.table.name}"


def next_token(plan: Plan, position: tuple) -> dict:
    if plan.table.is_root:
        return {"instanceId": position[0]}
    return {"repeatId": position[0], "instanceId": position[1], "key": position[2]}


def next_link(base_url: str, args: list[tuple[str, str]], token: dict | None = None,
              skip: int | None = None) -> str:
    """The request's URL with `$skip` dropped and `$skiptoken` set (or, for `$orderby`, a new
    `$skip`), encoded as Central encodes it (URLSearchParams: `%24top=1&%24skiptoken=01…`)."""
    out, placed = [], False
    new_key, new_value = ("$skiptoken", make_skiptoken(token)) if token is not None else ("$skip", str(skip))
    for k, v in args:
        if k == "$skip" or k == "$skiptoken":
            if k == new_key and not placed:
                out.append((k, new_value))
                placed = True
            continue
        out.append((k, v))
    if not placed:
        out.append((new_key, new_value))
    return base_url + "?" + "&".join(f"{_form_encode(k)}={_form_encode(v)}" for k, v in out)


def _form_encode(text: str) -> str:
    return quote_plus(text, safe="*").replace("~", "%7E")


def page(db: Session, form: Form, table: str, query: ODataQuery | Mapping[str, str], *,
         cache: VersionCache | None = None, service_root: str = "", url: str | None = None,
         args: list[tuple[str, str]] | None = None, scope=None) -> dict:
    """One OData data document of a table (`Submissions`, `Submissions.household.members`, …) of the
    form's published version, as a dict ready for JSON: `value`, `@odata.context`, and
    `@odata.nextLink` when `$top` left rows over, `@odata.count` with `$count=true`.
    `query`: an ODataQuery or the raw query options (`{"$top": "1000", "$filter": …}`).
    `url`/`args`: the request's absolute URL (without query) and its query pairs, for the next link.
    `scope`: the caller's FormScope when it is limited to some areas."""
    plan = make_plan(db, form, table, query, cache=cache, service_root=service_root, scope=scope)
    return document(plan, url, args)


def document(plan: Plan, url: str | None = None, args: list[tuple[str, str]] | None = None) -> dict:
    q = plan.query
    if url is None:
        url = f"{plan.service_root}/{plan.table.name}"
    if args is None:  # called directly (not for a request): the options this query has
        args = [(k, v) for k, v in (
            ("$top", str(q.top) if q.top is not None else None), ("$skip", str(q.skip) if q.skip else None),
            ("$count", "true" if q.count else None), ("$wkt", "true" if q.wkt else None), ("$filter", q.filter),
            ("$expand", "*" if q.expand else None), ("$select", ",".join(q.select) if q.select else None),
            ("$orderby", q.orderby)) if v is not None]
    body: dict = {"value": []}
    if q.top != 0:
        limit = q.top
        values: list[dict] = []
        last: tuple | None = None
        more = False
        for obj, position in rows(plan, None if limit is None else limit + 1):
            if limit is not None and len(values) == limit:
                more = True
                break
            values.append(obj)
            last = position
        body["value"] = values
        body["@odata.context"] = context_url(plan)
        if more and limit is not None and last is not None:   # `more` only ever set under a limit
            if plan.keyset:
                body["@odata.nextLink"] = next_link(url, args, token=next_token(plan, last))
            else:
                body["@odata.nextLink"] = next_link(url, args, skip=q.skip + limit)
    else:
        body["@odata.context"] = context_url(plan)
    if q.count:
        body["@odata.count"] = count(plan)
    return body


def entity_document(db: Session, form: Form, segments: list[tuple[str, str | None]],
                    query: ODataQuery | Mapping[str, str], *, cache: VersionCache | None = None,
                    service_root: str = "", url: str = "", args: list[tuple[str, str]] | None = None,
                    scope=None, draft: bool = False) -> dict:
    """Central's single-entity form: `Submissions('uuid:…')`, `Submissions('uuid:…')/household/members`,
    `…/children/child('<row id>')/toys/toy`. The rows of one (live) submission, narrowed to the
    children of the last row named by id; `$top`, `$skip`, `$count`, `$select`, `$expand` apply,
    `$skiptoken` carries `{"repeatId"}` (or `{"instanceId"}`), `$filter` and `$orderby` do not."""
    from dataclasses import replace

    if not isinstance(query, ODataQuery):
        query = parse_query(query)
    names = [name for name, _ in segments]
    instance_id = segments[0][1]
    if names[0] != "Submissions" or instance_id is None:
        raise problems.NotFound()
    plan = make_plan(db, form, ".".join(names), replace(query, skip=0, skiptoken=None, orderby=None, filter=None),
                     cache=cache, service_root=service_root, scope=scope, draft=draft)
    s = SUBMISSIONS
    # With a scope, another area's household is 404, as if it were not there.
    plan.where = [*_live(form.id, scope, draft), s.c.deleted_at.is_(None), s.c.instance_id == instance_id]
    plan.order, plan.keyset = [s.c.created_at.desc(), s.c.id.desc()], True
    if db.connection().execute(select(s.c.id).where(*plan.where)).first() is None:
        raise problems.NotFound(f"There is no submission {instance_id} of form '{form.xml_form_id}'.")
    found = list(rows(plan))
    last_named = max(i for i, (_, ident) in enumerate(segments) if ident is not None)
    if last_named > 0:
        field_name = "__" + "-".join(names[:last_named + 1]) + "-id"
        wanted = segments[last_named][1]
        found = [(obj, pos) for obj, pos in found
                 if field_name == plan.table.parent_key and len(pos) > 3 and pos[3] == wanted]
    total = len(found)
    offset = query.skip
    if query.skiptoken is not None:
        token_id = query.skiptoken.get("repeatId")
        if not token_id:
            raise problems.ODataSkiptokenInvalid()
        ids = [pos[0] for _, pos in found]
        if token_id not in ids:
            raise problems.ODataSkiptokenNotFound()
        offset = ids.index(token_id) + 1
    end = total if query.top is None else offset + query.top
    pared = found[offset:end]
    body: dict = {"value": [obj for obj, _ in pared], "@odata.context": context_url(plan)}
    if pared and total - end > 0:
        last = pared[-1][1]
        token = {"instanceId": last[0]} if plan.table.is_root else {"repeatId": last[0]}
        body["@odata.nextLink"] = next_link(url, args or [], token=token)
    if query.count:
        body["@odata.count"] = total
    return body
