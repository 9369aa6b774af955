"""An export's tables as rows of cells: the root table and one per repeat, in Central's layout.

`Export` holds everything decided while the request is still open (the form's fields, the plan,
the selection, the labels); `root_table`/`repeat_table` then turn streamed database rows into
cells. Every file format (CSV, XLSX, GeoJSON) reads its rows from here."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from server import problems
from server.db import isoformat
from server.exports import source
from server.exports.plan import ExportOptions, TablePlan, merged_fields, plan_tables
from server.models.form_data import DataTables, data_tables
from server.models.forms import Form, FormDef
from server.xforms.labels import FormLabels, read_labels
from server.xforms.schema import Field, read_schema

if TYPE_CHECKING:  # for the annotation only; the code imports decrypted where it runs, as before
    from server.exports.decrypted import Decryptor

NOT_DECRYPTED = "not decrypted"
MISSING_ENCRYPTED_DATA = "missing encrypted form data"


@dataclass
class Export:
    form: Form
    fields: list[Field]
    tables: DataTables
    selection: source.Selection
    options: ExportOptions
    labels: FormLabels | None = None
    plans: list[TablePlan] = field(default_factory=list)
    decryptor: Decryptor | None = None  # with a private key given

    @property
    def root(self) -> TablePlan:
        return self.plans[0]


def prepare(db: Session, form: Form, selection: source.Selection, options: ExportOptions,
            language: str | None = None) -> Export:
    """Fields of the published version (or of every published version with deletedFields); of the
    draft for its test submissions."""
    current = db.scalar(select(FormDef.xml).where(
        FormDef.id == (form.draft_def_id if selection.draft else form.current_def_id)))
    if current is None:  # the callers turn unpublished forms away first; this says the same
        raise problems.NotFound("This form has no draft." if selection.draft else
                                "This form has not been published yet, so it has no submissions to export.")
    if options.deleted_fields and not selection.draft:
        xmls = db.scalars(select(FormDef.xml).where(FormDef.form_id == form.id, FormDef.published_at.is_not(None))
                          .order_by(FormDef.published_at, FormDef.id))
        fields = merged_fields([read_schema(x) for x in xmls])
    else:
        fields = read_schema(current).fields
    tables = data_tables(db, form.id)
    # A field no stored version ever had a column for (a form without data yet) still gets its header.
    labels = read_labels(current, language) if language else None
    export = Export(form=form, fields=fields, tables=tables, selection=selection, options=options, labels=labels)
    return export


def make_plans(conn: Connection, export: Export) -> list[TablePlan]:
    values = None
    if export.options.split_select_multiples:
        paths = ["/".join(f.path) for f in export.fields if f.type == "select" and "/".join(f.path) in export.tables.columns]
        values = source.select_values(conn, export.tables, paths, export.selection)
    export.plans = plan_tables(export.form.xml_form_id, export.fields, export.options, values)
    return export.plans


def _answers(export: Export, plan: TablePlan) -> tuple[list[str], list[int]]:
    """The stored columns a plan reads, and where each field's value sits among them (-1: none yet)."""
    columns: list[str] = []
    where: list[int] = []
    for path in plan.paths:
        found = export.tables.columns.get(path)
        if found is None or found[0] != plan.repeat_path:
            where.append(-1)
        else:
            where.append(len(columns))
            columns.append(found[1])
    return columns, where


def _picker(where: list[int], offset: int):
    if all(w == i for i, w in enumerate(where)):
        return lambda row: row[offset:]
    return lambda row: [row[offset + w] if w >= 0 else None for w in where]


def root_table(conn: Connection, export: Export) -> Iterator[list]:
    plan = export.root
    columns, where = _answers(export, plan)
    pick = _picker(where, 12)
    label = labeller(export, plan)
    unread = [None] * (len(plan.header()) - 11)   # an encrypted submission's answer cells
    for row in source.root_rows(conn, export.tables, columns, export.selection):
        (_, instance_id, created_at, submitter_id, submitter_name, present, expected, encrypted, review_state,
         device_id, edits, version) = row[:12]
        status = None
        if not encrypted:
            values = pick(row)
        else:
            opened = None
            if export.decryptor is not None and encrypted != 2:
                opened, status = export.decryptor.open(conn, row[0])
            values = [opened.root.get(p) for p in plan.paths] if opened is not None else None
            if opened is None and status is None:
                status = MISSING_ENCRYPTED_DATA if encrypted == 2 else NOT_DECRYPTED
        cells = unread if values is None else plan.cells(label(values) if label else values)
        yield [isoformat(created_at), *cells, instance_id, submitter_id, submitter_name, present, expected,
               status, review_state, device_id, edits, version]


def _repeat_row(plan: TablePlan, label, values, instance_id: str, key: str, parent_key: str) -> list:
    """A repeat file's row: its cells, then Central's PARENT_KEY and KEY."""
    cells = plan.cells(label(values) if label else values)
    return [*cells, f"{instance_id}/{parent_key}" if parent_key else instance_id, f"{instance_id}/{key}"]


def repeat_table(conn: Connection, export: Export, plan: TablePlan) -> Iterator[list]:
    if plan.repeat_path not in export.tables.repeats:
        return
    columns, where = _answers(export, plan)
    label = labeller(export, plan)
    if export.decryptor is not None:
        yield from _repeat_with_decrypted(conn, export, export.decryptor, plan, columns, where, label)
        return
    pick = _picker(where, 3)
    for row in source.repeat_rows(conn, export.tables, plan.repeat_path, columns, export.selection):
        yield _repeat_row(plan, label, pick(row), row[0], row[1], row[2])


def _repeat_with_decrypted(conn: Connection, export: Export, decryptor: Decryptor, plan: TablePlan, columns, where,
                           label) -> Iterator[list]:
    """The stored rows and those of decrypted submissions, merged in the export's order (newest first)."""
    from server.exports.decrypted import encrypted_in_order

    pick = _picker(where, 5)
    # Listed before the stored rows stream, as both use this connection.
    pending = list(encrypted_in_order(conn, export.selection, export.tables))
    at = 0

    def decrypted_until(created_at=None, submission_id=None) -> Iterator[list]:
        """Rows of the encrypted submissions newer than (created_at, id); all that remain with None."""
        nonlocal at
        while at < len(pending) and (created_at is None or (pending[at][2], pending[at][0]) > (created_at, submission_id)):
            submission_id_, instance_id, _ = pending[at]
            at += 1
            opened, _ = decryptor.open(conn, submission_id_)
            for r in (opened.repeats if opened is not None else ()):
                if r.repeat == plan.repeat_path:
                    yield _repeat_row(plan, label, [r.values.get(p) for p in plan.paths], instance_id, r.key,
                                      r.parent_key)

    for row in source.repeat_rows(conn, export.tables, plan.repeat_path, columns, export.selection, ordered=True):
        yield from decrypted_until(row[0], row[1])
        yield _repeat_row(plan, label, pick(row), row[2], row[3], row[4])
    yield from decrypted_until()


def header(export: Export, plan: TablePlan) -> list[str]:
    names = plan.header()
    if export.labels is None:
        return names
    out = list(names)
    i = 0 if plan.repeat is not None else 1
    for col in plan.columns:
        question = export.labels.questions.get(col.path)
        choices = export.labels.choices.get(col.path, {})
        if question and col.field.type == "geopoint":
            for j, name in enumerate(col.headers):
                out[i + j] = f"{question} ({name.rsplit('-', 1)[-1]})"
        elif question:
            out[i] = question
            for j, value in enumerate(col.choices, start=1):
                out[i + j] = f"{question} ({choices.get(value, value)})"
        i += len(col.headers)
    return out


def labeller(export: Export, plan: TablePlan):
    """With labels asked for: choice values become their labels (select multiples joined by '; ')."""
    if export.labels is None:
        return None
    # Split select-multiple columns keep their values: the 0/1 columns are computed from them.
    lookups = [(None if c.choices else export.labels.choices.get(c.path), c.field.type == "select")
               for c in plan.columns]
    if not any(lookup for lookup, _ in lookups):
        return None

    def label(values):
        out = list(values)
        for i, (lookup, multiple) in enumerate(lookups):
            v = out[i]
            if lookup and v:
                out[i] = "; ".join(lookup.get(x, x) for x in v.split()) if multiple else lookup.get(v.strip(), v)
        return out
    return label
