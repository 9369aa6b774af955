"""Creating forms, drafts and published versions, and their media attachments.

The rules follow ODK Central (odk-protocol §7.2, §9.1): a form starts as a draft; publishing makes
the draft current and keeps every earlier published version; a version string is never published
twice for one form; media declared by the XForm are attachment slots filled by upload."""
from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from itertools import count
from typing import IO

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import problems
from server.config import Settings
from server.db import utcnow
from server.models.blobs import Blob, BlobStore, ensure_blob
from server.models.forms import FORM_STATES, Form, FormAttachment, FormDef, live_form
from server.xforms.entities import EntityFormRefused, read_declarations
from server.xforms.safexml import XmlRejected
from server.xforms.safezip import WorkbookTooLarge, WorkbookUnreadable
from server.xforms.xform import XFormInfo, decode_xml, read_xform, unsafe_file_name, with_version
from server.xforms.xlsform import XLS_TYPE, XLSX_TYPE, XlsFormError, convert, odk_validate, sniff

ITEMSETS = "itemsets.csv"


@dataclass
class Definition:
    """An uploaded form definition, converted and checked, ready to store."""

    info: XFormInfo
    warnings: list[str] = field(default_factory=list)
    validation: dict = field(default_factory=dict)
    source: bytes | None = None  # the XLSForm bytes, kept for download
    source_type: str | None = None
    generated_media: dict[str, bytes] = field(default_factory=dict)


def read_definition(data: bytes, settings: Settings, fallback_id: str | None = None,
                    ignore_warnings: bool = False) -> Definition:
    """Turn an uploaded XLSX, XLS or XForm into a Definition, or raise the Problem a designer can act on."""
    if not data or not data.strip():
        raise problems.Unparseable("The request body is empty. Send an XLSForm (.xlsx or .xls) or an XForm (.xml) as the body.")
    kind = sniff(data)
    if kind is None:
        raise problems.Unparseable("The upload is neither an XLSForm (.xlsx or .xls workbook) nor an XForm (XML). Check that you chose the right file.")
    warnings: list[str] = []
    source = source_type = None
    generated: dict[str, bytes] = {}
    if kind == "xml":
        try:
            xml = decode_xml(data)
        except XmlRejected as exc:
            raise problems.Unparseable(str(exc)) from None
    else:
        try:
            result = convert(data, kind, fallback_id)
        except WorkbookTooLarge as exc:
            raise problems.PayloadTooLarge(str(exc), details=exc.details) from None
        except WorkbookUnreadable as exc:
            raise problems.XlsFormInvalid(f"The XLSForm could not be converted: {exc}", details={"error": str(exc)}) from None
        except XlsFormError as exc:
            raise problems.XlsFormInvalid(f"The XLSForm could not be converted: {exc}", details=exc.details) from None
        xml, warnings = result.xml, result.warnings
        source, source_type = data, (XLSX_TYPE if kind == "xlsx" else XLS_TYPE)
        if result.itemsets_csv:
            generated[ITEMSETS] = result.itemsets_csv.encode("utf-8")
    try:
        info = read_xform(xml)
    except XmlRejected as exc:
        raise problems.Unparseable(f"The XForm cannot be used: {exc}") from None
    try:
        read_declarations(info.xml)  # entity features Hamlet lacks are refused by name (docs/entities.md)
    except EntityFormRefused as exc:
        raise problems.EntityFormInvalid(f"The entity definition within the form is invalid. {exc}",
                                         details={"reason": str(exc)}) from None
    if warnings and not ignore_warnings:
        raise problems.FormWarnings(details={"warnings": {"xlsFormWarnings": warnings}})
    checked = odk_validate(info.xml, settings.odk_validate)
    if checked.status == "failed":
        raise problems.XlsFormInvalid(checked.message, details={"error": checked.message, "validator": "ODK Validate",
                                                                "errors": checked.errors})
    if checked.status == "skipped" and settings.odk_validate == "on":
        raise problems.InternalError(checked.message)
    return Definition(info=info, warnings=warnings, validation={"odkValidate": checked.status, "message": checked.message},
                      source=source, source_type=source_type, generated_media=generated)


def _store_source(db: Session, store: BlobStore, definition: Definition) -> int | None:
    if definition.source is None:
        return None
    sha, md5, size = store.put_bytes(definition.source)
    return ensure_blob(db, sha, md5, size)


def _new_def(db: Session, store: BlobStore, form: Form, definition: Definition, actor_id: int | None) -> FormDef:
    info = definition.info
    form_def = FormDef(form_id=form.id, version=info.version, name=info.title, xml=info.xml, hash=info.md5,
                       sha=info.sha1, sha256=info.sha256, key_id=info.key,
                       xls_blob_id=_store_source(db, store, definition), xls_content_type=definition.source_type,
                       warnings=definition.warnings or None, created_by_id=actor_id, created_at=utcnow())
    db.add(form_def)
    db.flush()
    return form_def


def _declare_attachments(db: Session, store: BlobStore, form_def: FormDef, info: XFormInfo,
                         carry_from: FormDef | None, generated: dict[str, bytes]) -> None:
    """One slot per declared media file; files of the previous version with the same name come along."""
    previous = {}
    if carry_from is not None:
        previous = {a.name: a for a in db.scalars(select(FormAttachment).where(FormAttachment.form_def_id == carry_from.id))}
    for name, kind in info.media.items():
        attachment = FormAttachment(form_def_id=form_def.id, name=name, type=kind)
        if name in generated:
            sha, md5, size = store.put_bytes(generated[name])
            attachment.blob_id = ensure_blob(db, sha, md5, size)
            attachment.content_type = "text/csv"
            attachment.updated_at = utcnow()
        elif name in previous and previous[name].blob_id is not None:
            attachment.blob_id = previous[name].blob_id
            attachment.content_type = previous[name].content_type
            attachment.updated_at = previous[name].updated_at
        elif name in previous:  # an explicit link to an Entity List (or its removal) carries on too
            attachment.dataset_link = previous[name].dataset_link
        db.add(attachment)
    db.flush()


def create_form(db: Session, store: BlobStore, project_id: int, definition: Definition, actor_id: int | None,
                publish: bool = False) -> Form:
    info = definition.info
    if live_form(db, project_id, info.xml_form_id) is not None:
        raise problems.UniquenessViolation(
            f"A form with ID '{info.xml_form_id}' already exists in this project. To publish a new version, "
            f"upload it as a draft of that form (POST …/forms/{info.xml_form_id}/draft).",
            details={"fields": ["xmlFormId"], "values": [info.xml_form_id]})
    form = Form(project_id=project_id, xml_form_id=info.xml_form_id, state="open", created_by_id=actor_id,
                created_at=utcnow())
    db.add(form)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise problems.UniquenessViolation(f"A form with ID '{info.xml_form_id}' was just created in this project.") from None
    form_def = _new_def(db, store, form, definition, actor_id)
    _declare_attachments(db, store, form_def, info, None, definition.generated_media)
    form.draft_def_id = form_def.id
    _open_for_testing(db, form, form_def, None)
    if publish:
        publish_draft(db, form)
    return form


def create_draft(db: Session, store: BlobStore, form: Form, definition: Definition | None, actor_id: int | None) -> FormDef:
    """Replace the form's draft with a new definition, or with a copy of the published one."""
    current = db.get(FormDef, form.current_def_id) if form.current_def_id else None
    old_draft = db.get(FormDef, form.draft_def_id) if form.draft_def_id else None
    if definition is None:
        if current is None:
            raise problems.MissingParameter("This form has no published version to copy; send a form definition as the body.",
                                            details={"field": "xml"})
        definition = Definition(info=read_xform(current.xml))
        copied_from: FormDef | None = current
    else:
        copied_from = None
        if definition.info.xml_form_id != form.xml_form_id:
            raise problems.UnexpectedValue(
                f"The uploaded definition has form ID '{definition.info.xml_form_id}', but this is form "
                f"'{form.xml_form_id}'. A new version must keep the same form_id.",
                details={"field": "xmlFormId", "value": definition.info.xml_form_id})
    form_def = _new_def(db, store, form, definition, actor_id)
    if copied_from is not None and copied_from.xls_blob_id is not None and form_def.xls_blob_id is None:
        form_def.xls_blob_id, form_def.xls_content_type = copied_from.xls_blob_id, copied_from.xls_content_type
    _declare_attachments(db, store, form_def, definition.info, old_draft or current, definition.generated_media)
    form.draft_def_id = form_def.id
    form.updated_at = utcnow()
    replaced = old_draft if old_draft is not None and old_draft.published_at is None else None
    _open_for_testing(db, form, form_def, replaced)
    if replaced is not None:
        _drop_def(db, replaced)
    return form_def


def _open_for_testing(db: Session, form: Form, draft: FormDef, replaced: FormDef | None) -> None:
    """Central's draft testing (models/draft_tests.py): a new draft gets a new token, a draft that
    replaces another keeps its token (the tester's phone goes on working) but not its test
    submissions; the form's tables get the columns of the draft's new fields, so test submissions
    are stored like real ones. Column types stay the published version's until this one is."""
    from server.models.accounts import new_token
    from server.models.draft_tests import discard_test_submissions
    from server.models.form_data import ensure_tables
    from server.xforms.schema import read_schema

    draft.draft_token = replaced.draft_token if replaced is not None and replaced.draft_token else new_token()
    discard_test_submissions(db, form.id)
    ensure_tables(db, form.id, read_schema(draft.xml), retype=False)
    db.flush()


def _drop_def(db: Session, form_def: FormDef) -> None:
    db.execute(delete(FormAttachment).where(FormAttachment.form_def_id == form_def.id))
    db.delete(form_def)
    db.flush()


def discard_draft(db: Session, form: Form) -> None:
    if form.draft_def_id is None:
        raise problems.NotFound("This form has no draft.")
    if form.current_def_id is None:
        raise problems.NoPublishedVersion()
    draft = db.get_one(FormDef, form.draft_def_id)
    from server.models.draft_tests import discard_test_submissions

    discard_test_submissions(db, form.id)   # as Central does when a draft is abandoned
    form.draft_def_id = None
    db.flush()
    _drop_def(db, draft)


def publish_draft(db: Session, form: Form, version: str | None = None) -> FormDef:
    if form.draft_def_id is None:
        raise problems.NotFound("This form has no draft to publish.")
    draft = db.get_one(FormDef, form.draft_def_id)
    if version is not None:
        draft.xml = with_version(draft.xml, version)
        info = read_xform(draft.xml)
        draft.version, draft.hash, draft.sha, draft.sha256 = info.version, info.md5, info.sha1, info.sha256
    taken = db.scalar(select(func.count()).select_from(FormDef).where(
        FormDef.form_id == form.id, FormDef.version == draft.version, FormDef.published_at.is_not(None)))
    if taken:
        raise _version_taken(form, draft.version)
    draft.published_at = utcnow()
    draft.draft_token = None      # the test routes answer 404 from now on
    from server.models.draft_tests import discard_test_submissions

    discard_test_submissions(db, form.id)   # test submissions never become real ones (Central)
    from server.models.form_data import ensure_tables
    from server.xforms.schema import read_schema

    ensure_tables(db, form.id, read_schema(draft.xml))
    from server.models.datasets import publish_form_entities

    publish_form_entities(db, form, draft)  # its Entity List and properties, in the same transaction
    form.current_def_id = draft.id
    form.draft_def_id = None
    form.updated_at = draft.published_at
    try:
        db.flush()
    except IntegrityError:  # a concurrent publish of the same version
        db.rollback()
        raise _version_taken(form, draft.version) from None
    return draft


def _version_taken(form: Form, version: str) -> problems.Problem:
    return problems.VersionUniquenessViolation(
        f"You tried to publish the form '{form.xml_form_id}' with version '{version}', but that version is "
        "already published. Change the version in the settings sheet (or publish with ?version=…) and try again.",
        details={"xmlFormId": form.xml_form_id, "version": version})


def set_state(form: Form, state: str) -> None:
    if state not in FORM_STATES:
        raise problems.UnexpectedValue(f"Unexpected state value '{state}'; use one of open, closing, closed.",
                                       details={"field": "state", "value": state})
    form.state = state
    form.updated_at = utcnow()


def attachments_of(db: Session, form_def_id: int) -> list[tuple[FormAttachment, Blob | None]]:
    rows = db.execute(select(FormAttachment, Blob).outerjoin(Blob, Blob.id == FormAttachment.blob_id)
                      .where(FormAttachment.form_def_id == form_def_id).order_by(FormAttachment.id))
    return [(a, b) for a, b in rows]


def attachment(db: Session, form_def_id: int, name: str) -> tuple[FormAttachment, Blob | None]:
    row = db.execute(select(FormAttachment, Blob).outerjoin(Blob, Blob.id == FormAttachment.blob_id)
                     .where(FormAttachment.form_def_id == form_def_id, FormAttachment.name == name)).first()
    if row is None:
        raise problems.NotFound(f"This form version declares no media file named '{name}'.")
    return row[0], row[1]


def check_attachment_name(name: str) -> None:
    reason = unsafe_file_name(name)
    if reason:
        raise problems.UnexpectedValue(f"The attachment name '{name}' cannot be used: {reason}.",
                                       details={"field": "name", "value": name})


def upload_attachment(db: Session, store: BlobStore, form: Form, name: str, stream: IO[bytes],
                      content_type: str | None, limit: int) -> FormAttachment:
    check_attachment_name(name)
    if form.draft_def_id is None:
        raise problems.NotFound("This form has no draft; create one (POST …/draft) before uploading media.")
    slot, _ = attachment(db, form.draft_def_id, name)
    try:
        sha, md5, size = store.put_stream(stream, limit=limit)
    except ValueError:
        raise problems.PayloadTooLarge(f"The file '{name}' is larger than the {limit:,} bytes this server accepts.") from None
    slot.blob_id = ensure_blob(db, sha, md5, size)
    if not content_type or content_type.startswith("application/x-www-form-urlencoded"):
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    slot.content_type = content_type
    slot.updated_at = utcnow()
    db.flush()
    return slot


def clear_attachment(db: Session, form: Form, name: str) -> None:
    if form.draft_def_id is None:
        raise problems.NotFound("This form has no draft.")
    slot, _ = attachment(db, form.draft_def_id, name)
    slot.blob_id = None
    slot.updated_at = utcnow()
    db.flush()


def published_versions(db: Session, form: Form) -> list[FormDef]:
    return list(db.scalars(select(FormDef).where(FormDef.form_id == form.id, FormDef.published_at.is_not(None))
                           .order_by(FormDef.published_at.desc(), FormDef.id.desc())))


def published_version(db: Session, form: Form, version: str) -> FormDef:
    """One published version by its string; Central's `___` names the empty version."""
    for d in published_versions(db, form):
        if d.version == version or (version == "___" and d.version == ""):
            return d
    raise problems.NotFound(f"Form '{form.xml_form_id}' has no published version '{version}'.")


@dataclass(frozen=True)
class SourceFile:
    """The XLSForm a version was made from, as stored: its blob and how to serve it."""

    sha256: str
    size: int
    content_type: str
    file_name: str
    md5: str


def xlsform_source(db: Session, store: BlobStore, form: Form, form_def: FormDef, ext: str) -> SourceFile:
    """The version's XLSForm, byte for byte. As Central's getXls: only under the extension of its own
    kind (an .xlsx asked for as .xls is 404), named `{xmlFormId}.{ext}`."""
    found = source_extension(form_def)
    if found is None:
        raise problems.NotFound("This form version was uploaded as an XForm; there is no XLSForm to download.")
    if found != ext:
        raise problems.NotFound(f"This form version was uploaded as .{found}, not .{ext}.")
    blob = db.get_one(Blob, form_def.xls_blob_id)
    return SourceFile(blob.sha256, blob.size, form_def.xls_content_type or XLSX_TYPE, f"{form.xml_form_id}.{ext}",
                      blob.md5)


def source_extension(form_def: FormDef) -> str | None:
    """The extension of the XLSForm a version was made from (`xlsx`, `xls`), None for an XForm upload."""
    if form_def.xls_blob_id is None:
        return None
    return "xls" if form_def.xls_content_type == XLS_TYPE else "xlsx"


def free_version(taken: Iterable[str], day: date) -> str:
    """The day as YYYYMMDDnn with the first nn (01, 02, …) not in `taken`: the version form designers
    write by hand, so the next one published today is obvious at a glance."""
    used = set(taken)
    return next(v for n in count(1) if (v := f"{day:%Y%m%d}{n:02d}") not in used)


def version_to_propose(db: Session, form: Form, day: date) -> str | None:
    """For the draft's publish box: None when the draft's own version is free, else a free one for `day`."""
    if form.draft_def_id is None:
        return None
    draft = db.get_one(FormDef, form.draft_def_id)
    taken = [d.version for d in published_versions(db, form)]
    return free_version(taken, day) if draft.version in taken else None
