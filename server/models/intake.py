"""Receiving a submission: Central's decision flow (odk-protocol §5.2) over the storage of
models/submissions.py and models/form_data.py. Every refusal is a typed Problem; nothing is written
unless the whole submission is accepted, in one transaction."""
from __future__ import annotations

import hashlib
import mimetypes
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import ColumnElement, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import problems
from server.db import require_session, utcnow
from server.models.blobs import BlobStore, ensure_blob
from server.models.form_data import DataTables, VersionCache
from server.models.forms import Form, FormDef
from server.models.recent import Recent
from server.models.submissions import Submission, SubmissionAttachment, SubmissionDef, def_by_instance
from server.webhooks.models import announce
from server.xforms.submission import ParsedSubmission, SubmissionRejected, read_identity, read_rows
from server.xforms.xform import unsafe_file_name


@dataclass
class Upload:
    """A file part of the multipart POST, named by its field name as Collect names it (§3.2)."""

    name: str
    stream: BinaryIO
    content_type: str | None = None


@dataclass
class Received:
    submission_id: int
    created: bool           # False for an identical resend (attachment top-up)
    attachments_added: int
    def_id: int | None = None   # the version stored, when `created`
    entity_made: bool = False   # its registration's entity was written by the same statement (PostgreSQL)
    entity_waiting: bool = False  # … and an offline update of that entity waits in the backlog


def identify(xml: bytes) -> tuple[object, ParsedSubmission]:
    if not xml or not xml.strip():
        raise problems.MissingMultipartField("The submission XML is empty.")
    try:
        return read_identity(xml)
    except SubmissionRejected as exc:
        raise problems.MissingParameter(f"The submission XML cannot be used: {exc}", details={"field": "form ID"}) from None


@dataclass(frozen=True)
class FormRef:
    id: int
    project_id: int
    xml_form_id: str
    state: str


@dataclass(frozen=True)
class VersionRef:
    id: int
    version: str


_RESOLVE: dict[bool, object] = {}


def _resolve_statement(check_roles: bool):
    """Built once: form, published version and the caller's right to submit, as one Core query."""
    found = _RESOLVE.get(check_roles)
    if found is None:
        from sqlalchemy import and_, exists, literal

        from server.auth.permissions import ROLES
        from server.models.accounts import FormAssignment, ProjectAssignment
        from server.models.projects import Project

        f, d, p = Form.__table__, FormDef.__table__, Project.__table__
        allowed: ColumnElement[bool]
        if check_roles:
            roles = [r.system for r in ROLES.values() if "submission.create" in r.verbs]
            pa, fa = ProjectAssignment.__table__, FormAssignment.__table__
            allowed = (exists().where(pa.c.actor_id == bindparam("actor"), pa.c.project_id == f.c.project_id,
                                      pa.c.role.in_(roles))
                       | exists().where(fa.c.actor_id == bindparam("actor"), fa.c.form_id == f.c.id,
                                        fa.c.role.in_(roles)))
        else:
            allowed = literal(True)
        found = (select(f.c.id, f.c.project_id, f.c.xml_form_id, f.c.state, d.c.id.label("def_id"),
                        d.c.version, allowed.label("allowed"))
                 .join(p, p.c.id == f.c.project_id)
                 .outerjoin(d, and_(d.c.form_id == f.c.id, d.c.version == bindparam("version"),
                                    d.c.published_at.is_not(None)))
                 .where(f.c.project_id == bindparam("project"), f.c.xml_form_id == bindparam("form"),
                        f.c.deleted_at.is_(None), p.c.deleted_at.is_(None)))
        _RESOLVE[check_roles] = found
    return found


def _watched() -> tuple:
    from server.models.accounts import FormAssignment, ProjectAssignment
    from server.models.projects import Project

    return (Form, FormDef, Project, ProjectAssignment, FormAssignment)


# An enumerator's uploads come in bursts (server/models/recent.py).
_recent_forms = Recent("resolved forms", _watched)


def resolve(db: Session, project_id: int, xml_form_id: str, version: str,
            caller=None) -> tuple[FormRef, VersionRef]:
    """The live form and the published version a submission names — and, given the caller, whether
    they may submit to it — in one query (the hot path). Raises the Problem for each refusal."""
    check = caller is not None and not caller.is_site_admin
    key = (project_id, xml_form_id, version, caller.id if check else None)
    hit = _recent_forms.get(key)
    if hit is not None:
        return hit
    params = {"project": project_id, "form": xml_form_id, "version": version}
    if check:
        params["actor"] = caller.id
    row = db.connection().execute(_resolve_statement(check), params).first()
    if row is None:
        raise problems.NotFound(f"There is no form '{xml_form_id}' in this project. Check that the form is "
                                "published here, or download the form again.")
    if not row.allowed:
        raise problems.InsufficientRights("You may not submit to this form. Ask your supervisor to give your "
                                          "account or app user access to it.")
    form = FormRef(row.id, row.project_id, row.xml_form_id, row.state)
    if row.def_id is None:
        raise _unknown_version(form, version)
    found = (form, VersionRef(row.def_id, row.version))
    _recent_forms.put(key, found)
    return found



def _unknown_version(form: Form | FormRef, version: str) -> problems.Problem:
    return problems.FormVersionNotFound(
        f"The form version specified in this submission '{version}' does not exist. Download the current "
        f"version of form '{form.xml_form_id}' and fill it in again.", details={"formVersion": version})


def published_version(db: Session, form: Form, version: str) -> FormDef:
    form_def = db.scalars(select(FormDef).where(FormDef.form_id == form.id, FormDef.version == version,
                                                FormDef.published_at.is_not(None))).first()
    if form_def is None:
        raise _unknown_version(form, version)
    return form_def


def receive(db: Session, store: BlobStore, cache: VersionCache, form: Form | FormRef, form_def: FormDef | VersionRef, root,
            parsed: ParsedSubmission, xml: bytes, uploads: Mapping[str, Upload], submitter_id: int | None,
            device_id: str | None, user_agent: str | None, limit: int, openrosa: bool = True,
            max_repeats: int = 5000, draft: bool = False) -> Received:
    """Store a new submission, top up an identical resend, or store an edit. Caller commits.

    `draft`: a test submission to the form's draft (models/draft_tests.py), stored flagged so that
    nothing of the published form counts it; it is taken whatever the form's state, as in Central,
    and never touches entities."""
    if form.state == "closed" and not draft:
        raise problems.NotAcceptingSubmissions()
    if parsed.instance_id is None:
        if parsed.encrypted:
            raise problems.MissingParameter("An encrypted submission must carry meta/instanceID.",
                                            details={"field": "instanceID"})
        parsed.instance_id = f"uuid:{uuid.uuid4()}"
    read_rows(root, parsed, cache.schema(db, form_def.id))
    if len(parsed.repeats) > max_repeats:
        raise problems.UnexpectedValue(
            f"The submission has {len(parsed.repeats):,} repeat instances; this server accepts at most "
            f"{max_repeats:,} in one submission (HAMLET_MAX_REPEAT_INSTANCES).",
            details={"field": "repeat instances", "value": len(parsed.repeats)})
    for name in parsed.attachments:
        reason = unsafe_file_name(name)
        if reason:
            raise problems.UnexpectedValue(f"The submission names an attachment '{name}' that cannot be stored: {reason}.",
                                           details={"field": "attachment", "value": name})
    if parsed.deprecated_id:
        require_session(db, "an edit")
        edited = _edit(db, store, cache, form, form_def, parsed, xml, uploads, submitter_id, device_id, user_agent, limit,
                       draft)
        if not draft:  # a test submission makes no entity and is announced to no webhook
            _entities(db, cache, form, form_def, root, parsed, edited, submitter_id, user_agent, "edit")
            if edited.created and edited.def_id is not None:
                announce(db, form.id, edited.def_id, "submission.update")
        return edited
    form_id = form.id
    entity, blocks_left = _entity_plan(db, cache, form, form_def, root, parsed, draft)
    if blocks_left:
        require_session(db, "an entity step beyond a plain registration")
    try:
        received = _create(db, store, cache, form, form_def, parsed, xml, uploads, submitter_id, device_id,
                           user_agent, limit, draft, entity)
    except IntegrityError:  # the instanceID is a later version of another submission: nothing was kept
        db.rollback()
        received = None
    if received is not None:
        if not draft:
            if received.entity_made and entity is not None:
                from server.models.entities import registered_in_intake

                registered_in_intake(db, entity["e_uuid"], received.entity_waiting, cache)
            elif entity is not None or blocks_left:  # a UUID already taken goes through the entity step too
                _entities(db, cache, form, form_def, root, parsed, received, submitter_id, user_agent, "create")
            if received.def_id is not None:
                announce(db, form.id, received.def_id, "submission.create")
        return received
    # The instanceID is already stored (or was, a moment ago, by a concurrent identical POST).
    found = def_by_instance(db, form_id, parsed.instance_id)
    if found is None:
        raise problems.InternalError("The submission could not be stored; please send it again.")
    if found[1].draft != draft:   # a test submission and a real one never meet
        raise problems.UniquenessViolation(
            f"A {'real' if draft else 'test'} submission with instanceID {parsed.instance_id} is already stored "
            f"for this form; fill the form again to get a new instanceID.",
            details={"fields": ["instanceID"], "values": [parsed.instance_id]})
    return _resend(db, store, found, parsed, xml, uploads, limit, openrosa)


def _entity_plan(db, cache, form, form_def, root, parsed, draft: bool) -> tuple[dict | None, bool]:
    """(A plain registration's entity for the submission's own statement to write, PostgreSQL only; whether
    an entity block is left for the entity step after the insert): server/models/entities.py
    `entity_in_intake`. A draft never makes an entity, and an encrypted submission's blocks cannot be read."""
    if draft or parsed.encrypted:
        return None, False
    from server.models.entities import entity_in_intake

    return entity_in_intake(db, form.project_id, form_def.id, root, cache,
                            in_statement=db.connection().dialect.name == "postgresql")


def _entities(db, cache, form, form_def, root, parsed, received: Received, submitter_id, user_agent, event) -> None:
    """The submission's entity blocks become entity creates or updates in this same transaction."""
    from server.models.entities import Source, apply_submission, declaration_for

    if not received.created or received.def_id is None or parsed.encrypted \
            or not declaration_for(db, form_def.id, cache):
        return
    sdef_id = received.def_id  # the version just stored: no need to read it back
    apply_submission(db, form.project_id, form_def.id, root, received.submission_id, sdef_id,
                     Source(submitter_id, user_agent, received.submission_id, sdef_id), event, cache)


def _resend(db, store, found, parsed, xml, uploads, limit, openrosa) -> Received:
    sdef, sub = found
    if sub.deleted_at is not None:
        raise problems.DeletedSubmission()
    if not openrosa:
        raise problems.UniquenessViolation(f"A submission with instanceID {parsed.instance_id} already exists.",
                                           details={"fields": ["instanceID"], "values": [parsed.instance_id]})
    if not sdef.current:
        raise problems.DeprecatingOldSubmission(
            f"The submission {parsed.instance_id} has since been edited; this copy is out of date.")
    if sdef.xml != xml:
        raise problems.XmlConflict()
    added = _store_attachments(db, store, sdef.id, parsed.attachments, uploads, limit)
    if added:
        sub.updated_at = utcnow()
    return Received(sub.id, False, added)


def _new_def(db, sub: Submission, form, form_def: FormDef | VersionRef, parsed, xml, submitter_id, device_id,
             user_agent) -> SubmissionDef:
    sdef = SubmissionDef(**_def_values(sub.id, form, form_def, parsed, xml, submitter_id,
                                       (device_id or None) and device_id[:255], user_agent, utcnow()))
    db.add(sdef)
    db.flush()
    return sdef


_statements: dict[str, tuple] = {}


def _insert_statements(dialect: str):
    """Built once per dialect: SQLAlchemy then reuses their compiled form on every submission."""
    found = _statements.get(dialect)
    if found is None:
        dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
        subs, defs = Submission.__table__, SubmissionDef.__table__
        found = (dialect_insert(subs).on_conflict_do_nothing(index_elements=["form_id", "instance_id"])
                 .returning(subs.c.id),
                 insert(defs).returning(defs.c.id),
                 update(subs).where(subs.c.id == bindparam("sub_id")).values(current_def_id=bindparam("def_id")))
        _statements[dialect] = found
    return found


def _create(db, store, cache, form, form_def, parsed, xml, uploads, submitter_id, device_id, user_agent,
            limit, draft: bool = False, entity: dict | None = None) -> Received | None:
    """Insert a new submission; None when its instanceID is already there (the database decides).
    `entity` (PostgreSQL): a registration's entity, written by the same statement."""
    now = utcnow()
    device_id = (device_id or None) and device_id[:255]
    conn = db.connection()
    values = _def_values(0, form, form_def, parsed, xml, submitter_id, device_id, user_agent, now)
    tables = cache.tables(db, form.id, form_def.id)
    made = waiting = False
    if conn.dialect.name == "postgresql":
        statement = _pg_create_all(tables, entity is not None)
        row = _run_create_all(conn, statement.sql, {**statement.params(values, parsed), "draft": draft,
                                                    **(entity or {})})
        if row is None:
            return None
        sub_id, def_id = row[0], row[1]
        if entity is not None:
            made, waiting = row[2] is not None, row[3] is not None
    else:
        sub_id, def_id = _create_stepwise(conn, form, parsed, submitter_id, device_id, now, values, draft)
        if sub_id is None:
            return None
        _write_rows(conn, tables, sub_id, parsed)
    added = _store_attachments(db, store, def_id, parsed.attachments, uploads, limit, new=True)
    return Received(sub_id, True, added, def_id, made, made and waiting)


_DEF_COLUMNS = ("form_id", "form_def_id", "instance_id", "deprecated_id", "instance_name", "xml", "xml_sha256",
                "encrypted", "submitter_id", "device_id", "user_agent", "created_at")


@dataclass(frozen=True)
class _AllInOne:
    """PostgreSQL: submission, first version, household row and roster rows in one statement.

    One round trip instead of four, sent as driver SQL (no per-call compilation), and prepared by
    psycopg after a few uses, so PostgreSQL parses and plans it once per connection. The household's
    answers arrive as one array and the roster as one array per column (unnested into the repeat
    table), which keeps the statement under psycopg's 50 parameters and 4 KB, so its conversion
    is cached too."""

    sql: str
    root: tuple[tuple[str, str], ...]          # (field path, column): the household's answers, one array
    repeats: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...]  # (repeat path, keys, parents, columns)

    def params(self, values: dict, parsed: ParsedSubmission) -> dict:
        out = {c: values[c] for c in _DEF_COLUMNS}
        out["household"] = _text_array([parsed.root.get(path) for path, _ in self.root])
        for repeat, keys, parents, columns in self.repeats:
            rows = [r for r in parsed.repeats if r.repeat == repeat]
            out[keys] = _text_array([r.key for r in rows])
            out[parents] = _text_array([r.parent_key for r in rows])
            for path, param in columns:
                out[param] = _text_array([r.values.get(path) for r in rows])
        return out


def _text_array(values: list[str | None]) -> str:
    """PostgreSQL's text form of a `text[]`, which the statement casts: every element quoted (backslash
    and double quote escaped), None as NULL. psycopg's list dumper inspected every element of every
    array to choose a type, ~0.3 ms per submission; this is one join."""
    return "{" + ",".join("NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "}"


# By the identity of the VersionCache's tables object, which is kept alive here so its id is never reused.
_ALL_IN_ONE: dict[tuple[int, bool], tuple[DataTables, _AllInOne]] = {}


def _pg_create_all(tables: DataTables, with_entity: bool = False) -> _AllInOne:
    """`with_entity`: also a registration's entity and its first version (server/models/entities.py
    INTAKE_PARTS), answering its id and whether an offline update waits for it."""
    found = _ALL_IN_ONE.get((id(tables), with_entity))
    if found is not None and found[0] is tables:
        return found[1]
    by_table: dict[str, list[tuple[str, str]]] = {}
    for path, (repeat, column) in tables.columns.items():
        if repeat == "" or repeat in tables.repeats:
            by_table.setdefault(repeat, []).append((path, column))
    root_cols = [(p, c) for p, c in by_table.get("", []) if c in tables.root.c]
    root = tuple((p, c) for p, c in root_cols)
    parts = ["""WITH ids AS (SELECT nextval(pg_get_serial_sequence('submission_defs', 'id')) AS def_id),
sub AS (
  INSERT INTO submissions (form_id, instance_id, current_def_id, submitter_id, device_id, review_state, edits,
                           draft, created_at)
  SELECT %(form_id)s, %(instance_id)s, ids.def_id, %(submitter_id)s, %(device_id)s, NULL, 0, %(draft)s, %(created_at)s
  FROM ids ON CONFLICT (form_id, instance_id) DO NOTHING
  RETURNING id, current_def_id
),
def AS (
  INSERT INTO submission_defs (id, submission_id, form_id, form_def_id, instance_id, deprecated_id, instance_name,
                               xml, xml_sha256, encrypted, submitter_id, device_id, user_agent, current, created_at)
  SELECT sub.current_def_id, sub.id, %(form_id)s, %(form_def_id)s, %(instance_id)s, %(deprecated_id)s,
         %(instance_name)s, %(xml)s, %(xml_sha256)s, %(encrypted)s, %(submitter_id)s, %(device_id)s, %(user_agent)s,
         true, %(created_at)s FROM sub
  RETURNING submission_id, id
)""",
             f""",
household AS (
  INSERT INTO {tables.root.name} (submission_id{''.join(', ' + c for _, c in root_cols)})
  SELECT def.submission_id{''.join(f', v[{i + 1}]' for i in range(len(root)))}
  FROM def, (SELECT CAST(%(household)s AS text[]) AS v) AS answers
)"""]
    repeats = []
    for i, (repeat, table) in enumerate(tables.repeats.items()):
        cols = [(p, c) for p, c in by_table.get(repeat, []) if c in table.c]
        params = tuple((p, f"a{i}_{c}") for p, c in cols)
        keys, parents = f"k{i}", f"p{i}"
        repeats.append((repeat, keys, parents, params))
        arrays = "".join(f", CAST(%({param})s AS text[])" for _, param in params)
        parts.append(f""",
roster{i} AS (
  INSERT INTO {table.name} (submission_id, row_key, parent_key{''.join(', ' + c for _, c in cols)})
  SELECT def.submission_id, u.* FROM def,
         unnest(CAST(%({keys})s AS text[]), CAST(%({parents})s AS text[]){arrays}) AS u
)""")
    if with_entity:
        from server.models.entities import INTAKE_ANSWERS, INTAKE_PARTS

        parts.append(INTAKE_PARTS)
        parts.append(f"\nSELECT submission_id, id, {INTAKE_ANSWERS} FROM def")
    else:
        parts.append("\nSELECT submission_id, id FROM def")
    statement = _AllInOne("".join(parts), root, tuple(repeats))
    _ALL_IN_ONE[(id(tables), with_entity)] = (tables, statement)
    return statement


def _run_create_all(conn, sql: str, params: dict):
    """The all-in-one statement through the driver's own cursor: SQLAlchemy's result object for a
    statement it did not compile cost ~0.1 ms per submission. A unique violation is still raised as
    SQLAlchemy's IntegrityError, which `receive` answers."""
    dbapi = conn.dialect.dbapi
    try:
        with conn.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except dbapi.IntegrityError as exc:
        raise IntegrityError(sql, params, exc) from exc


def _create_stepwise(conn, form, parsed, submitter_id, device_id, now, values, draft: bool = False):
    insert_sub, insert_def, set_current = _insert_statements(conn.dialect.name)
    sub_id = conn.execute(insert_sub, dict(form_id=form.id, instance_id=parsed.instance_id, submitter_id=submitter_id,
                                           device_id=device_id, review_state=None, edits=0, draft=draft,
                                           created_at=now)).scalar()
    if sub_id is None:
        return None, None
    def_id = conn.execute(insert_def, {**values, "submission_id": sub_id}).scalar()
    conn.execute(set_current, dict(sub_id=sub_id, def_id=def_id))
    return sub_id, def_id


def _def_values(sub_id, form, form_def, parsed, xml, submitter_id, device_id, user_agent, now) -> dict:
    return dict(submission_id=sub_id, form_id=form.id, form_def_id=form_def.id, instance_id=parsed.instance_id,
                deprecated_id=parsed.deprecated_id, instance_name=parsed.instance_name, xml=xml,
                xml_sha256=hashlib.sha256(xml).hexdigest(), encrypted=parsed.encrypted, submitter_id=submitter_id,
                device_id=device_id, user_agent=(user_agent or None) and user_agent[:255], current=True,
                created_at=now)


def _edit(db, store, cache, form, form_def, parsed, xml, uploads, submitter_id, device_id, user_agent, limit,
          draft: bool = False) -> Received:
    """Store a new version of the submission whose current version is `deprecatedID` (§5.3).

    Of simultaneous edits of the same version exactly one is stored: the version being edited is
    retired by one conditional UPDATE (`current` still true), which the database runs for one of them
    at a time (PostgreSQL's row lock, SQLite's write lock), and a partial unique index allows one
    current version per submission (migration 0009). The others get Central's 409.9, as a stale
    edit does, and store nothing."""
    found = def_by_instance(db, form.id, parsed.deprecated_id)
    if found is None or found[1].draft != draft or not _within_callers_areas(db, form, found[1], submitter_id):
        raise problems.DeprecatedIdNotFound(
            f"You tried to update a submission, but it cannot be found ({parsed.deprecated_id}).",
            details={"deprecatedId": parsed.deprecated_id})
    old, sub = found
    if sub.deleted_at is not None:
        raise problems.DeletedSubmission()
    # The conditional UPDATE comes last, so nothing after it refuses the edit.
    if not old.current or def_by_instance(db, form.id, parsed.instance_id) is not None or not _retire(db, old):
        return _edit_again(db, store, form, sub, parsed, xml, uploads, limit)
    sdef = _new_def(db, sub, form, form_def, parsed, xml, submitter_id, device_id, user_agent)
    sub.current_def_id = sdef.id
    sub.edits = Submission.edits + 1
    sub.review_state = "edited"
    sub.updated_at = utcnow()
    tables = cache.tables(db, form.id, form_def.id)
    _delete_rows(db, tables, sub.id)
    _write_rows(db, tables, sub.id, parsed)
    # Attachments not sent again come along by name from the version being edited (§5.3).
    previous = {a.name: a for a in db.scalars(select(SubmissionAttachment)
                                                  .where(SubmissionAttachment.submission_def_id == old.id))}
    for name in parsed.attachments:
        if name in previous and previous[name].blob_id is not None and name not in uploads:
            db.add(SubmissionAttachment(submission_def_id=sdef.id, name=name, blob_id=previous[name].blob_id,
                                        content_type=previous[name].content_type, updated_at=utcnow()))
    db.flush()
    added = _store_attachments(db, store, sdef.id, parsed.attachments, uploads, limit)
    return Received(sub.id, True, added, sdef.id)


def _retire(db: Session, old: SubmissionDef) -> bool:
    """Mark the edited version no longer current, if it still is; False when another edit got there first."""
    defs = SubmissionDef.__table__
    retired = db.execute(update(defs).where(defs.c.id == old.id, defs.c.current.is_(True))
                         .values(current=False).returning(defs.c.id)).first()
    db.expire(old, ["current"])
    return retired is not None


def _edit_again(db, store, form, sub, parsed, xml, uploads, limit) -> Received:
    """An edit that cannot be stored as new: the same edit sent again (Collect retrying, or racing
    itself) is a resend that tops up its attachments; an instanceID already used is 409.3; any other
    edit of a version no longer current is out of date (409.9)."""
    again = def_by_instance(db, form.id, parsed.instance_id)
    if again is not None and again[1].id == sub.id and again[0].current and again[0].xml == xml:
        added = _store_attachments(db, store, again[0].id, parsed.attachments, uploads, limit)
        return Received(sub.id, False, added)
    if again is not None:
        raise problems.UniquenessViolation(f"A resource already exists with instanceID value(s) of {parsed.instance_id}.",
                                           details={"fields": ["instanceID"], "values": [parsed.instance_id]})
    raise problems.DeprecatingOldSubmission(
        f"You tried to update a submission, but the copy you were editing ({parsed.deprecated_id}) is now out "
        "of date. Get the new version and make your edits again.", details={"deprecatedId": parsed.deprecated_id})


def _within_callers_areas(db: Session, form, sub: Submission, caller_id: int | None) -> bool:
    """An edit reaches only a household the caller may see (server/auth/scope.py): one elsewhere is
    answered as if it were not there, by every route (OpenRosa, REST POST and PUT). The submitter is
    the caller; None is the operator (the command line), who is never limited."""
    if caller_id is None:
        return True
    from server.auth.scope import form_scope
    from server.models.accounts import Actor

    scope = form_scope(db, db.get(Actor, caller_id), form)
    if scope is None:
        return True
    subs = Submission.__table__
    return db.scalar(select(subs.c.id).where(subs.c.id == sub.id, scope.clause(subs))) is not None


def _write_rows(db, tables: DataTables, submission_id: int, parsed: ParsedSubmission) -> None:
    """`db` is a Session or a Connection; inserts are plain Core executemany calls."""
    cols = tables.columns
    root_values: dict[str, int | str] = {"submission_id": submission_id}
    for path, value in parsed.root.items():
        where = cols.get(path)
        if where is not None and where[0] == "":
            root_values[where[1]] = value
    db.execute(insert(tables.root), [root_values])
    by_repeat: dict[str, list[dict]] = {}
    for row in parsed.repeats:
        values = {"submission_id": submission_id, "row_key": row.key, "parent_key": row.parent_key}
        for path, value in row.values.items():
            where = cols.get(path)
            if where is not None and where[0] == row.repeat:
                values[where[1]] = value
        by_repeat.setdefault(row.repeat, []).append(values)
    for repeat, rows in by_repeat.items():
        table = tables.repeats.get(repeat)
        if table is None:
            continue
        # executemany needs the same keys in every row.
        keys = set().union(*rows)
        db.execute(insert(table), [{k: r.get(k) for k in keys} for r in rows])


def _delete_rows(db: Session, tables: DataTables, submission_id: int) -> None:
    for table in tables.repeats.values():
        db.execute(delete(table).where(table.c.submission_id == submission_id))
    db.execute(delete(tables.root).where(tables.root.c.submission_id == submission_id))


def _store_attachments(db: Session, store: BlobStore, sdef_id: int, expected: list[str],
                       uploads: Mapping[str, Upload], limit: int, new: bool = False) -> int:
    """Store the parts whose names the XML expects; other parts are ignored, as Central does.
    `new`: the version was just inserted, so its slots are plain rows in one Core insert (no ORM objects)."""
    if not expected:
        return 0
    if new:
        rows = []
        for name in expected:
            upload = uploads.get(name)
            blob_id, ctype = _put(db, store, name, upload, limit) if upload is not None else (None, None)
            rows.append({"submission_def_id": sdef_id, "name": name, "blob_id": blob_id, "content_type": ctype,
                         "updated_at": None if upload is None else utcnow()})
        db.connection().execute(insert(SubmissionAttachment.__table__), rows)
        return sum(1 for r in rows if r["blob_id"] is not None)
    existing = {a.name: a for a in db.scalars(
        select(SubmissionAttachment).where(SubmissionAttachment.submission_def_id == sdef_id))}
    added = 0
    for name in expected:
        upload = uploads.get(name)
        slot = existing.get(name)
        if slot is None:
            slot = SubmissionAttachment(submission_def_id=sdef_id, name=name)
            db.add(slot)
        if upload is None:
            continue
        slot.blob_id, slot.content_type = _put(db, store, name, upload, limit)
        slot.updated_at = utcnow()
        added += 1
    db.flush()
    return added


def _put(db: Session, store: BlobStore, name: str, upload: Upload, limit: int) -> tuple[int, str]:
    """One attachment into the store and its blob row: (blob id, content type)."""
    try:
        sha, md5, size = store.put_stream(upload.stream, limit=limit)
    except ValueError:
        raise problems.PayloadTooLarge(f"The attachment '{name}' is larger than {limit:,} bytes.") from None
    ctype = upload.content_type
    if not ctype or ctype == "application/octet-stream":
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return ensure_blob(db, sha, md5, size), ctype
