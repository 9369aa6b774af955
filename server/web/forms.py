"""One form: its state, draft and publishing, versions and their XLSForms, media files, the
indicators workbook, and a preview of its questions.

A form designer finishes here without the API: a new version's XLSForm becomes the draft, each
version's workbook downloads back, and the indicators workbook loads with its mistakes listed by
sheet and row — each through the same function as its REST route, with the same verbs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from server import problems
from server.access import form_or_404, project_or_404
from server.api.files import send_blob
from server.auth.permissions import can, require, verbs_for
from server.context import audit, blobs, db, settings
from server.indicators.workbook import Workbook
from server.models import form_versions as fv
from server.models.forms import FORM_STATES, Form, FormDef
from server.models.indicators import indicator_set, upload_workbook
from server.models.submission_queries import counts_by_form
from server.web.i18n import N_, TIMEZONE, _, current_locale, size_text
from server.web.limits import takes_file
from server.web.projects import check_upload, located, pyxform_error
from server.web.workbook_errors import in_page_language
from server.xforms.labels import UnknownLanguage, languages, read_labels
from server.xforms.schema import read_schema

bp = Blueprint("forms", __name__, url_prefix="/projects/<int:project_id>/forms/<xml_form_id>")


STATE_LABELS = {"open": N_("Open"), "closing": N_("Closing"), "closed": N_("Closed")}
# XForm data types as a form designer would call them in the preview.
TYPE_LABELS = {
    "string": N_("text"), "int": N_("integer"), "decimal": N_("decimal"), "date": N_("date"),
    "dateTime": N_("date and time"), "time": N_("time"), "geopoint": N_("GPS point"), "geotrace": N_("GPS line"),
    "geoshape": N_("GPS area"), "binary": N_("file or photo"), "barcode": N_("barcode"), "boolean": N_("yes/no"),
    "select1": N_("select one"), "select": N_("select multiple"), "structure": N_("group"),
    "repeat": N_("repeated group"), "unknown": N_("other"),
}


def _form(project_id: int, xml_form_id: str, *verbs: str):
    project = project_or_404(project_id)
    return project, form_or_404(project_id, xml_form_id, *verbs)


def render_form(project, form: Form, status: int = 200, error: str | None = None, media_errors: dict | None = None,
                upload_error: dict | None = None, workbook_errors: list | None = None, workbook_error: str | None = None):
    verbs = verbs_for(db(), g.actor, project.id, form.id)
    current = db().get(FormDef, form.current_def_id) if form.current_def_id else None
    draft = db().get(FormDef, form.draft_def_id) if form.draft_def_id and can(verbs, "form.update") else None
    versions = fv.published_versions(db(), form) if can(verbs, "form.read") else []
    return render_template(
        "form.html", project=project, form=form, current=current, draft=draft, versions=versions, verbs=verbs,
        can=can, states=FORM_STATES, draft_media=fv.attachments_of(db(), draft.id) if draft else [],
        current_media=fv.attachments_of(db(), current.id) if current else [],
        warnings=[located(w) for w in (draft.warnings or [])] if draft else [],
        submissions=counts_by_form(db(), [form.id], actor=g.actor).get(form.id, 0) if can(verbs, "submission.list") else None,
        error=error, media_errors=media_errors or {}, source_extension=fv.source_extension,
        proposed_version=fv.version_to_propose(db(), form, datetime.now(TIMEZONE).date()) if draft else None,
        indicators=_indicators_summary(form) if can(verbs, "form.update") else None,
        draft_test=_draft_test(project, form, draft, verbs) if draft is not None else None,
        upload_error=upload_error, workbook_errors=workbook_errors, workbook_error=workbook_error), status


# The web forms' page that fills a draft in the browser (server/web/webforms.py), taking
# (project_id, xml_form_id, token); the draft box links to it.
DRAFT_WEBFORM_ENDPOINT = "web.webforms.draft_page"


@dataclass(frozen=True)
class DraftTest:
    """Trying the draft on a phone (models/draft_tests.py): Collect's QR code and server URL."""

    server_url: str
    svg: object
    submissions: int | None      # test submissions so far (None: the caller may not list them)
    webform_url: str | None


def _draft_test(project, form: Form, draft: FormDef, verbs) -> DraftTest | None:
    from flask import current_app

    from server.models.submission_queries import count_for_form
    from server.web.app_users import base_url
    from server.web.qr import draft_server_url, draft_settings, encode_settings, qr_svg

    if not draft.draft_token:
        return None
    server_url = draft_server_url(base_url(), draft.draft_token, project.id, form.xml_form_id)
    name = _("[Draft] %(name)s", name=draft.name or form.xml_form_id)
    svg = qr_svg(encode_settings(draft_settings(server_url, name)), _("ODK Collect settings for %(name)s", name=name),
                 error="q")
    count = count_for_form(db(), form.id, draft=True) if can(verbs, "submission.list") else None
    webform = (url_for(DRAFT_WEBFORM_ENDPOINT, project_id=project.id, xml_form_id=form.xml_form_id,
                       token=draft.draft_token) if DRAFT_WEBFORM_ENDPOINT in current_app.view_functions else None)
    return DraftTest(server_url, svg, count, webform)


@dataclass(frozen=True)
class IndicatorsSummary:
    updated_at: datetime
    indicators: int
    target_sets: list[str]   # their names in the page's language, else their codes


def _indicators_summary(form: Form) -> IndicatorsSummary | None:
    """What the form's indicators workbook defines, for the form page."""
    found = indicator_set(db(), form.id)
    if found is None:
        return None
    workbook = Workbook.from_json(found.definition)
    sets = workbook.target_sets()
    return IndicatorsSummary(found.updated_at, len(workbook.indicators),
                             [sets[code].get(current_locale()) or code for code in sorted(sets)])


@bp.get("")
def form(project_id: int, xml_form_id: str):
    project, form = _form(project_id, xml_form_id, "form.read", "open_form.read")
    return render_form(project, form)


@bp.post("/publish")
def publish(project_id: int, xml_form_id: str):
    project, form = _form(project_id, xml_form_id, "form.update")
    version = (request.form.get("version") or "").strip() or None
    old = form.current_def_id
    try:
        published = fv.publish_draft(db(), form, version)
    except problems.VersionUniquenessViolation as exc:
        db().rollback()
        taken = (exc.details or {}).get("version", "")
        return render_form(project, form, 409, _(
            "Version “%(version)s” of this form is already published. Change the version in the XLSForm's "
            "settings sheet and upload it again, or type a new version below.", version=taken))
    except problems.NotFound:
        db().rollback()
        return render_form(project, form, 409, _("This form has no draft to publish."))
    audit("form.update.publish", form, {"oldDefId": old, "newDefId": form.current_def_id})
    db().commit()
    flash(_("Published version “%(version)s”. ODK Collect will offer it at the next form update.",
            version=published.version), "ok")
    return redirect(url_for(".form", project_id=project_id, xml_form_id=xml_form_id))


@bp.post("/state")
def state(project_id: int, xml_form_id: str):
    project, form = _form(project_id, xml_form_id, "form.update")
    chosen = request.form.get("state")
    if chosen not in FORM_STATES:
        return render_form(project, form, 400, _("Choose open, closing or closed."))
    fv.set_state(form, chosen)
    audit("form.update", form, {"data": {"state": chosen}})
    db().commit()
    flash(_("The form is now: %(state)s.", state=_(STATE_LABELS[chosen])), "ok")
    return redirect(url_for(".form", project_id=project_id, xml_form_id=xml_form_id))


@bp.post("/draft")
def new_draft(project_id: int, xml_form_id: str):
    """A draft copied from the published version: where media files are changed, as in Central."""
    _, form = _form(project_id, xml_form_id, "form.update")
    if form.draft_def_id is None:
        fv.create_draft(db(), blobs(), form, None, g.actor.id)
        db().commit()
    return redirect(url_for(".form", project_id=project_id, xml_form_id=xml_form_id))


@bp.post("/draft/discard")
def discard_draft(project_id: int, xml_form_id: str):
    project, form = _form(project_id, xml_form_id, "form.update")
    try:
        fv.discard_draft(db(), form)
    except problems.Problem:
        db().rollback()
        return render_form(project, form, 409, _("A form that was never published keeps its draft."))
    db().commit()
    flash(_("The draft was discarded."), "ok")
    return redirect(url_for(".form", project_id=project_id, xml_form_id=xml_form_id))


def _media_too_large(limit: int) -> str:
    return _("The file is too large: this server accepts media files up to %(size)s.", size=size_text(limit))


@bp.post("/media")
@takes_file(lambda s: s.max_submission_bytes, _media_too_large)
def upload_media(project_id: int, xml_form_id: str):
    project, form = _form(project_id, xml_form_id, "form.update")
    name = request.form.get("name") or ""
    upload = request.files.get("file")
    if form.draft_def_id is None:
        return render_form(project, form, 409, _("Create a draft before changing media files."))
    declared = {slot.name for slot, _blob in fv.attachments_of(db(), form.draft_def_id)}
    if name not in declared:
        return render_form(project, form, 400, _("This form declares no media file with that name."))
    if upload is None or not upload.filename:
        return render_form(project, form, 400, media_errors={name: _("Choose a file to upload.")})
    limit = settings().max_submission_bytes
    try:
        fv.upload_attachment(db(), blobs(), form, name, upload.stream, upload.mimetype, limit)
    except problems.PayloadTooLarge:
        db().rollback()
        return render_form(project, form, 413, media_errors={name: _media_too_large(limit)})
    db().commit()
    flash(_("Uploaded %(name)s.", name=name), "ok")
    return redirect(url_for(".form", project_id=project_id, xml_form_id=xml_form_id))


def _form_file_too_large(limit: int) -> str:
    return _("The file is too large: this server accepts form files up to %(size)s.", size=size_text(limit))


def _uploaded(field: str) -> bytes:
    """The chosen file's bytes, one past the limit at most (the page route's limit stops larger bodies)."""
    upload = request.files.get(field)
    return upload.read(settings().max_form_bytes + 1) if upload is not None and upload.filename else b""


@bp.post("/draft/xlsform")
@takes_file(lambda s: s.max_form_bytes, _form_file_too_large)
def upload_version(project_id: int, xml_form_id: str):
    """A new version's XLSForm becomes this form's draft, as `POST …/forms/{f}/draft` with a body."""
    project, form = _form(project_id, xml_form_id, "form.update")
    data = _uploaded("xlsform")
    error = check_upload(data)
    if error is not None:
        return render_form(project, form, 413 if len(data) > settings().max_form_bytes else 400, upload_error=error)
    try:
        definition = fv.read_definition(data, settings(), form.xml_form_id, ignore_warnings=True)
        if definition.info.xml_form_id != form.xml_form_id:
            return render_form(project, form, 400, upload_error={"title": _(
                "This workbook is the form “%(other)s”, not “%(form)s”: its settings sheet has another form_id. "
                "Upload it on the project page, or correct form_id.", other=definition.info.xml_form_id,
                form=form.xml_form_id)})
        fv.create_draft(db(), blobs(), form, definition, g.actor.id)
        audit("form.update.draft.set", form, {"newDraftDefId": form.draft_def_id})
    except problems.XlsFormInvalid as exc:
        db().rollback()
        return render_form(project, form, 400, upload_error=pyxform_error(exc))
    except problems.Problem as exc:
        db().rollback()
        return render_form(project, form, exc.status if exc.status < 500 else 400,
                           upload_error={"title": _("The form could not be used."), "message": exc.message})
    db().commit()
    flash(_("Uploaded as the draft. Check the questions and the warnings, then publish."), "ok")
    return redirect(url_for(".form", project_id=project_id, xml_form_id=xml_form_id) + "#draft")


@bp.post("/indicators")
@takes_file(lambda s: s.max_form_bytes, _form_file_too_large)
def upload_indicators(project_id: int, xml_form_id: str):
    """The indicators and targets workbook, checked and saved as `PUT …/forms/{f}/indicators` does."""
    project, form = _form(project_id, xml_form_id, "form.update")
    data = _uploaded("workbook")
    if not data:
        return render_form(project, form, 400, workbook_error=_("Choose the indicators workbook (.xlsx) to upload."))
    if len(data) > settings().max_form_bytes:
        return render_form(project, form, 413, workbook_error=_form_file_too_large(settings().max_form_bytes))
    try:
        workbook, _saved = upload_workbook(db(), blobs(), form, data)
    except problems.IndicatorsInvalid as exc:
        db().rollback()
        return render_form(project, form, 400, workbook_errors=in_page_language((exc.details or {}).get("errors", [])))
    except problems.NotFound:
        db().rollback()
        return render_form(project, form, 409, workbook_error=_("Publish the form before giving it indicators."))
    db().commit()
    flash(_("Loaded the indicators workbook: %(indicators)s indicators, target sets: %(sets)s.",
            indicators=len(workbook.indicators), sets=", ".join(sorted(workbook.target_sets())) or "—"), "ok")
    return redirect(url_for(".form", project_id=project_id, xml_form_id=xml_form_id) + "#indicators")


def _source_file(form: Form, form_def: FormDef, ext: str):
    found = fv.xlsform_source(db(), blobs(), form, form_def, ext)
    return send_blob(blobs(), found.sha256, found.size, found.content_type, found.file_name, found.md5)


@bp.get("/versions/<version>.xlsx", defaults={"ext": "xlsx"})
@bp.get("/versions/<version>.xls", defaults={"ext": "xls"})
def version_source(project_id: int, xml_form_id: str, version: str, ext: str):
    """A published version's XLSForm, as `GET …/versions/{v}.xlsx` serves it."""
    _project, form = _form(project_id, xml_form_id, "form.read")
    return _source_file(form, fv.published_version(db(), form, version), ext)


@bp.get("/draft.xlsx", defaults={"ext": "xlsx"})
@bp.get("/draft.xls", defaults={"ext": "xls"})
def draft_source(project_id: int, xml_form_id: str, ext: str):
    _project, form = _form(project_id, xml_form_id, "form.update")
    if form.draft_def_id is None:
        raise problems.NotFound()
    return _source_file(form, db().get_one(FormDef, form.draft_def_id), ext)


@bp.get("/preview")
def preview(project_id: int, xml_form_id: str):
    """The questions with their labels in the page's language (or the form's default language)."""
    project, form = _form(project_id, xml_form_id, "form.read", "open_form.read")
    want_draft = request.args.get("draft") == "1"
    if want_draft:
        require(db(), g.actor, project_id, "form.update", form_id=form.id)
    def_id = form.draft_def_id if want_draft else form.current_def_id
    if def_id is None:
        raise problems.NotFound()
    form_def = db().get_one(FormDef, def_id)
    try:
        labels = read_labels(form_def.xml, current_locale())
    except UnknownLanguage:
        labels = read_labels(form_def.xml, None)
    schema = read_schema(form_def.xml)
    rows = [{"depth": len(f.path) - 1, "name": f.name, "path": "/".join(f.path), "type": f.type,
             "type_label": _(TYPE_LABELS.get(f.type, TYPE_LABELS["unknown"])),
             "label": labels.questions.get("/".join(f.path)), "choices": labels.choices.get("/".join(f.path), {})}
            for f in schema.fields]
    return render_template("preview.html", project=project, form=form, form_def=form_def, rows=rows,
                           draft=want_draft, languages=languages(form_def.xml))
