"""The SQL behind every export: which submissions, and their rows, streamed in Central's order.

Answers are read from the per-form column tables (server/models/form_data.py), never by parsing
stored XML, and through a server-side cursor, so memory stays flat however many rows there are."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, case, func, null, or_, select, true

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
    draft: bool = False                 # the draft's test submissions instead (models/draft_tests.py)

    def where(self, s: Table, root: Table | None) -> list[ColumnElement]:
        clauses: list[ColumnElement] = [s.c.form_id == self.form_id, s.c.draft.is_(self.draft)]
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
    """The form version the first version of the submission was made with (Central's FormVersion).
    The first version is the submission's `min(id)`, grouped so that PostgreSQL reads it from the
    submission's versions (its index) and never turns it into a walk of every version in id order,
    as without statistics it did for `ORDER BY id LIMIT 1` with sorts off, and for a bare min()."""
    first, by_id = DEFS.alias("first_def"), DEFS.alias("first_def_by_id")
    fd = FormDef.__table__.alias("first_form_def")
    first_id = (select(func.min(first.c.id)).where(first.c.submission_id == SUBMISSIONS.c.id)
                .group_by(first.c.submission_id).correlate_except(first).scalar_subquery())
    return (select(fd.c.version).select_from(by_id.join(fd, fd.c.id == by_id.c.form_def_id))
            .where(by_id.c.id == first_id).scalar_subquery())


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
    """root_query's rows, streamed."""
    yield from conn.execution_options(**STREAM).execute(root_query(tables, columns, selection))


def root_query(tables: DataTables, columns: list[str], selection: Selection, lateral: bool = False) -> Select:
    """(submission id, instance id, created at, submitter id, submitter name, attachments present,
    attachments expected, encrypted state, review state, device id, edits, form version, *answers), newest
    first. The encrypted state is 0 for a plain submission, 1 for an encrypted one, 2 for an encrypted one
    whose encrypted data never arrived. `lateral` (PostgreSQL): both attachment counts from one look-up
    of the version's attachments, a LATERAL join, rather than a subquery each."""
    s, d, root = SUBMISSIONS, DEFS.alias("current_def"), tables.root
    actor = Actor.__table__
    counts = None
    present: ColumnElement
    expected: ColumnElement
    if lateral:
        counts = (select(func.count(ATTACHMENTS.c.blob_id).label("present"), func.count().label("expected"))
                  .where(ATTACHMENTS.c.submission_def_id == s.c.current_def_id).lateral("attachment_counts"))
        present, expected = counts.c.present, counts.c.expected
    else:
        present = (select(func.count(ATTACHMENTS.c.blob_id))
                   .where(ATTACHMENTS.c.submission_def_id == s.c.current_def_id).scalar_subquery())
        expected = (select(func.count()).select_from(ATTACHMENTS)
                    .where(ATTACHMENTS.c.submission_def_id == s.c.current_def_id).scalar_subquery())
    encrypted = case((d.c.encrypted.is_(False), 0), (_encrypted_data_missing(), 2), else_=1)
    fd = FormDef.__table__.alias("current_form_def")
    version = case((s.c.edits == 0, fd.c.version), else_=_original_version())
    answers = [root.c[c] for c in columns]
    joined = (s.join(d, d.c.id == s.c.current_def_id).join(fd, fd.c.id == d.c.form_def_id)
              .outerjoin(actor, actor.c.id == s.c.submitter_id)
              .outerjoin(root, root.c.submission_id == s.c.id))
    if counts is not None:
        joined = joined.join(counts, true())   # an aggregate without GROUP BY: always one row
    stmt = (select(s.c.id, s.c.instance_id, s.c.created_at, s.c.submitter_id, actor.c.display_name, present, expected,
                   encrypted, s.c.review_state, s.c.device_id, s.c.edits, version, *answers)
            .select_from(joined)
            .where(*selection.where(s, root))
            .order_by(s.c.created_at.desc(), s.c.id.desc()))
    return stmt


def row_counts(conn: Connection, tables: DataTables, selection: Selection) -> tuple[int, dict[str, int]]:
    """(submissions, {repeat path: rows}) an export of `selection` holds: root_rows' and repeat_rows'
    joins and WHERE, counted. Repeat rows of encrypted submissions are not stored, so not counted."""
    s, root = SUBMISSIONS, tables.root
    submissions = conn.scalar(select(func.count()).select_from(s.outerjoin(root, root.c.submission_id == s.c.id))
                              .where(*selection.where(s, root))) or 0
    repeats: dict[str, int] = {}
    for path, rep in tables.repeats.items():
        joined = s.join(rep, rep.c.submission_id == s.c.id)
        if selection.needs_root:
            joined = joined.join(root, root.c.submission_id == s.c.id)
        repeats[path] = conn.scalar(select(func.count()).select_from(joined).where(*selection.where(s, root))) or 0
    return submissions, repeats


def repeat_rows(conn: Connection, tables: DataTables, repeat_path: str, columns: list[str],
                selection: Selection, ordered: bool = False) -> Iterator[tuple]:
    """repeat_query's rows, streamed."""
    yield from conn.execution_options(**STREAM).execute(repeat_query(tables, repeat_path, columns, selection, ordered))


def repeat_query(tables: DataTables, repeat_path: str, columns: list[str], selection: Selection,
                 ordered: bool = False) -> Select:
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
    return stmt


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


# Central's client audit log (odk-protocol §6.1): the file a submission's meta/audit names, or for an
# encrypted submission the envelope's audit.csv.enc (lib/model/query/submission-attachments.js).
CLIENT_AUDIT_FIELD = "meta/audit"
ENCRYPTED_CLIENT_AUDIT = "audit.csv.enc"


def _client_audit_column(tables: DataTables):
    """The root table's meta/audit column, when some version of the form has the field."""
    found = tables.columns.get(CLIENT_AUDIT_FIELD)
    return tables.root.c[found[1]] if found is not None and found[0] == "" and found[1] in tables.root.c else None


def _is_client_audit(name: str, encrypted: bool, audit_value: str | None) -> bool:
    # Intake names the attachment after the stripped text of meta/audit (xforms/submission.py).
    return name == ENCRYPTED_CLIENT_AUDIT if encrypted else (audit_value is not None and name == audit_value.strip())


def _current_attachments(tables: DataTables, selection: Selection, audit, current_def, blob, received_only: bool):
    """submissions ⋈ current version ⋈ its attachments ⋈ blobs (inner when `received_only`), with the
    root data row when the selection's filters or the audit column need it."""
    s, a, d = SUBMISSIONS, ATTACHMENTS, current_def
    joined = s.join(d, d.c.id == s.c.current_def_id).join(a, a.c.submission_def_id == d.c.id)
    joined = (joined.join if received_only else joined.outerjoin)(blob, blob.c.id == a.c.blob_id)
    if selection.needs_root or audit is not None:
        joined = joined.outerjoin(tables.root, tables.root.c.submission_id == s.c.id)
    return joined


def attachment_blobs(conn: Connection, tables: DataTables, selection: Selection) -> Iterator[tuple[str, str, str]]:
    """(file name, blob sha256, instance id) of every attachment present on the exported submissions'
    current versions, newest submission first.

    Not those of encrypted submissions (Central's export leaves them out unless it decrypts them), nor
    client audit logs, which go to their own merged file (client_audit_logs)."""
    from server.models.blobs import Blob

    s, a, b, d = SUBMISSIONS, ATTACHMENTS, Blob.__table__, DEFS.alias("current_def")
    audit = _client_audit_column(tables)
    joined = _current_attachments(tables, selection, audit, d, b, received_only=True)
    stmt = (select(a.c.name, b.c.sha256, s.c.instance_id, audit if audit is not None else null())
            .select_from(joined)
            .where(*selection.where(s, tables.root), d.c.encrypted.is_(False))
            .order_by(s.c.created_at.desc(), s.c.id.desc(), a.c.name))
    for name, sha, instance_id, audit_value in conn.execution_options(**STREAM).execute(stmt):
        if not _is_client_audit(name, False, audit_value):
            yield name, sha, instance_id


def client_audit_logs(conn: Connection, tables: DataTables, selection: Selection,
                      encrypted: bool = False) -> Iterator[tuple[int, str, bool, str | None]]:
    """(submission id, instance id, encrypted, blob sha256 or None while not received) of the client
    audit log of each exported submission's current version that has one, in Central's order: by
    when that version arrived, oldest first. Encrypted submissions only with `encrypted` (a key was
    given); deleted submissions never, whatever the $filter (Central's query)."""
    from server.models.blobs import Blob

    s, a, b, d = SUBMISSIONS, ATTACHMENTS, Blob.__table__, DEFS.alias("current_def")
    audit = _client_audit_column(tables)
    joined = _current_attachments(tables, selection, audit, d, b, received_only=False)
    kinds = [and_(d.c.encrypted.is_(True), a.c.name == ENCRYPTED_CLIENT_AUDIT)] if encrypted else []
    if audit is not None:
        kinds.append(and_(d.c.encrypted.is_(False), audit.is_not(None)))
    if not kinds:
        return
    stmt = (select(s.c.id, s.c.instance_id, d.c.encrypted, a.c.name, b.c.sha256,
                   audit if audit is not None else null())
            .select_from(joined)
            .where(*selection.where(s, tables.root), s.c.deleted_at.is_(None), or_(*kinds))
            .order_by(d.c.created_at, d.c.id, a.c.name))
    for submission_id, instance_id, is_encrypted, name, sha, audit_value in \
            conn.execution_options(**STREAM).execute(stmt):
        if _is_client_audit(name, is_encrypted, audit_value):
            yield submission_id, instance_id, bool(is_encrypted), sha


def person_rows(conn: Connection, tables: DataTables, repeat_path: str, columns: list[str], root_columns: list[str],
                selection: Selection) -> Iterator[tuple[tuple, tuple]]:
    """(household answers, (instance id, created at, row key, parent key, *roster answers)): each roster
    row beside its household's answers, in the repeat export's order. Two streams in the same order
    merged here: each household's answers are read once, not once per member (4 times the data)."""
    s, rep, root = SUBMISSIONS, tables.repeats[repeat_path], tables.root
    order = (s.c.created_at.desc(), s.c.id.desc())
    members = (select(s.c.id, s.c.instance_id, s.c.created_at, rep.c.row_key, rep.c.parent_key,
                      *[rep.c[c] for c in columns])
               .select_from(s.join(rep, rep.c.submission_id == s.c.id).join(root, root.c.submission_id == s.c.id))
               .where(*selection.where(s, root))
               .order_by(*order, rep.c.id))
    households = (select(s.c.id, *[root.c[c] for c in root_columns])
                  .select_from(s.join(root, root.c.submission_id == s.c.id))
                  .where(*selection.where(s, root))
                  .order_by(*order))
    streamed = conn.execution_options(**STREAM)
    theirs = iter(streamed.execute(households))
    at, answers = None, ()
    for row in streamed.execute(members):
        if row[0] != at:
            for household in theirs:   # households without members are passed over
                if household[0] == row[0]:
                    break
            else:
                raise AssertionError("a roster row's household is missing from the same snapshot")
            at, answers = row[0], tuple(household[1:])
        yield answers, tuple(row[1:])
