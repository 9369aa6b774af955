"""The SQL behind every export: which submissions, and their rows, streamed in Central's order.

Answers are read from the per-form column tables (server/models/form_data.py), never by parsing
stored XML, and through a server-side cursor, so memory stays flat however many rows there are."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

from sqlalchemy import ColumnElement, Connection, Table, case, func, or_, select

from server.auth.scope import FormScope
from server.exports.plan import split_values
from server.models.accounts import Actor
from server.models.form_data import DataTables
from server.models.forms import FormDef
from server.models.submissions import Submission, SubmissionAttachment, SubmissionDef

STREAM = {"stream_results": True, "yield_per": 2000}


@dataclass
class Selection:
    """Which submissions of a form an export holds: Central's `$filter`, and Hamlet's own filters."""

    form_id: int
    odata_filter: ColumnElement | None = None
    keeps_deleted: bool = False         # the $filter itself speaks of __system/deletedAt
    since: datetime | None = None
    until: datetime | None = None
    review_states: list[str | None] = field(default_factory=list)   # None: not reviewed yet
    area_path: str | None = None        # the field holding the household's area code
    area_column: str | None = None      # and its column in the root table
    area_codes: list[str] | None = None  # the area asked for and every area below it
    # The caller's areas (server/auth/scope.py), when it is limited: on the workbook's area field,
    # whatever `areaField` the request named, and always applied.
    scope: FormScope | None = None

    def where(self, s: Table, root: Table | None) -> list[ColumnElement]:
        clauses: list[ColumnElement] = [s.c.form_id == self.form_id, s.c.draft.is_(False)]
        if self.odata_filter is not None:
            clauses.append(self.odata_filter)
        if not self.keeps_deleted:
            clauses.append(s.c.deleted_at.is_(None))
        if self.since is not None:
            clauses.append(s.c.created_at >= self.since)
        if self.until is not None:
            clauses.append(s.c.created_at < self.until)
        if self.review_states:
            named = [r for r in self.review_states if r is not None]
            options = [s.c.review_state.in_(named)] if named else []
            if None in self.review_states:
                options.append(s.c.review_state.is_(None))
            clauses.append(or_(*options))
        if self.area_codes is not None and root is not None and self.area_column:
            clauses.append(root.c[self.area_column].in_(self.area_codes))
        if self.scope is not None:
            clauses.append(self.scope.clause(s, root))
        return clauses

    @property
    def needs_root(self) -> bool:
        """Whether `where` reads the root table, which the caller must then join."""
        return (self.area_codes is not None and bool(self.area_column)) or self.scope is not None


SUBMISSIONS = Submission.__table__
DEFS = SubmissionDef.__table__
ATTACHMENTS = SubmissionAttachment.__table__


def _original_version():
    """The form version the first version of the submission was made with (Central's FormVersion)."""
    first = DEFS.alias("first_def")
    fd = FormDef.__table__.alias("first_form_def")
    return (select(fd.c.version).select_from(first.join(fd, fd.c.id == first.c.form_def_id))
            .where(first.c.submission_id == SUBMISSIONS.c.id).order_by(first.c.id).limit(1).scalar_subquery())


# The file an encrypted submission's answers travel in. Central looks it up by the name the envelope
# gives (<encryptedXmlFile>), which the envelope is not parsed for here; every ODK client (Collect,
# Enketo, Briefcase) names it so.
ENCRYPTED_DATA_FILE = "submission.xml.enc"


def _encrypted_data_missing():
    """True when the current version's encrypted data file was named but never received: Central's
    'missing encrypted form data' (its encHasData is false)."""
    a = ATTACHMENTS.alias("enc_data")
    return (select(a.c.name).where(a.c.submission_def_id == SUBMISSIONS.c.current_def_id,
                                   a.c.name == ENCRYPTED_DATA_FILE, a.c.blob_id.is_(None))
            .exists())


def root_rows(conn: Connection, tables: DataTables, columns: list[str], selection: Selection) -> Iterator[tuple]:
    """(submission id, instance id, created at, submitter id, submitter name, attachments present,
    attachments expected, encrypted state, review state, device id, edits, form version, *answers), newest
    first. The encrypted state is 0 for a plain submission, 1 for an encrypted one, 2 for an encrypted one
    whose encrypted data never arrived."""
    s, d, root = SUBMISSIONS, DEFS.alias("current_def"), tables.root
    actor = Actor.__table__
    present = (select(func.count(ATTACHMENTS.c.blob_id)).where(ATTACHMENTS.c.submission_def_id == s.c.current_def_id)
               .scalar_subquery())
    expected = (select(func.count()).select_from(ATTACHMENTS)
                .where(ATTACHMENTS.c.submission_def_id == s.c.current_def_id).scalar_subquery())
    encrypted = case((d.c.encrypted.is_(False), 0), (_encrypted_data_missing(), 2), else_=1)
    fd = FormDef.__table__.alias("current_form_def")
    version = case((s.c.edits == 0, fd.c.version), else_=_original_version())
    answers = [root.c[c] for c in columns]
    stmt = (select(s.c.id, s.c.instance_id, s.c.created_at, s.c.submitter_id, actor.c.display_name, present, expected,
                   encrypted, s.c.review_state, s.c.device_id, s.c.edits, version, *answers)
            .select_from(s.join(d, d.c.id == s.c.current_def_id).join(fd, fd.c.id == d.c.form_def_id)
                         .outerjoin(actor, actor.c.id == s.c.submitter_id)
                         .outerjoin(root, root.c.submission_id == s.c.id))
            .where(*selection.where(s, root))
            .order_by(s.c.created_at.desc(), s.c.id.desc()))
    yield from conn.execution_options(**STREAM).execute(stmt)


def repeat_rows(conn: Connection, tables: DataTables, repeat_path: str, columns: list[str],
                selection: Selection, ordered: bool = False) -> Iterator[tuple]:
    """(instance id, row key, parent key, *answers) of one repeat, submissions newest first, rows in
    document order within each; `ordered` puts the submission's (created at, id) first, for merging."""
    s, rep, root = SUBMISSIONS, tables.repeats[repeat_path], tables.root
    joined = s.join(rep, rep.c.submission_id == s.c.id)
    if selection.needs_root:
        joined = joined.join(root, root.c.submission_id == s.c.id)
    order = [s.c.created_at, s.c.id] if ordered else []
    stmt = (select(*order, s.c.instance_id, rep.c.row_key, rep.c.parent_key, *[rep.c[c] for c in columns])
            .select_from(joined).where(*selection.where(s, root))
            .order_by(s.c.created_at.desc(), s.c.id.desc(), rep.c.id))
    yield from conn.execution_options(**STREAM).execute(stmt)


def select_values(conn: Connection, tables: DataTables, paths: list[str], selection: Selection) -> dict[str, list[str]]:
    """Every value chosen in each select-multiple field, sorted: the split columns Central adds."""
    out: dict[str, list[str]] = {}
    s, root = SUBMISSIONS, tables.root
    for path in paths:
        repeat_path, column = tables.columns[path]
        t = root if repeat_path == "" else tables.repeats[repeat_path]
        joined = s.join(t, t.c.submission_id == s.c.id)
        if t is not root and selection.needs_root:
            joined = joined.join(root, root.c.submission_id == s.c.id)
        stmt = select(t.c[column]).distinct().select_from(joined).where(*selection.where(s, root), t.c[column].is_not(None))
        values: set[str] = set()
        for (text,) in conn.execute(stmt):
            values.update(split_values(text))
        if values:
            out[path] = sorted(values)
    return out


def attachment_blobs(conn: Connection, tables: DataTables, selection: Selection) -> Iterator[tuple[str, str]]:
    """(file name, blob sha256) of every attachment present on the exported submissions' current versions.

    Not those of encrypted submissions: Central's export leaves them out unless it decrypts them."""
    from server.models.blobs import Blob

    s, a, b, d = SUBMISSIONS, ATTACHMENTS, Blob.__table__, DEFS.alias("current_def")
    joined = (s.join(d, d.c.id == s.c.current_def_id).join(a, a.c.submission_def_id == d.c.id)
              .join(b, b.c.id == a.c.blob_id))
    if selection.needs_root:
        joined = joined.join(tables.root, tables.root.c.submission_id == s.c.id)
    stmt = (select(a.c.name, b.c.sha256).select_from(joined)
            .where(*selection.where(s, tables.root), d.c.encrypted.is_(False))
            .order_by(s.c.created_at.desc(), s.c.id.desc(), a.c.name))
    yield from conn.execution_options(**STREAM).execute(stmt)



def person_rows(conn: Connection, tables: DataTables, repeat_path: str, columns: list[str], root_columns: list[str],
                selection: Selection) -> Iterator[tuple]:
    """(instance id, created at, row key, parent key, *roster answers, *household answers): each roster
    row beside its household's answers, in the repeat export's order."""
    s, rep, root = SUBMISSIONS, tables.repeats[repeat_path], tables.root
    stmt = (select(s.c.instance_id, s.c.created_at, rep.c.row_key, rep.c.parent_key, *[rep.c[c] for c in columns],
                   *[root.c[c] for c in root_columns])
            .select_from(s.join(rep, rep.c.submission_id == s.c.id).join(root, root.c.submission_id == s.c.id))
            .where(*selection.where(s, root))
            .order_by(s.c.created_at.desc(), s.c.id.desc(), rep.c.id))
    yield from conn.execution_options(**STREAM).execute(stmt)
