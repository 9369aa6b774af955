"""Forms: upload (XLSForm or XForm), drafts and publishing, versions, media, state."""
from __future__ import annotations

from urllib.parse import unquote

from flask import Blueprint, Response, g, request
from sqlalchemy import func, select

from server import problems
from server.access import readable_form
from server.api.common import commit, form_or_404, is_true, json_body, project_or_404, read_body_limited, success
from server.api.files import send_blob, stored_file
from server.api.schemas import FormPatch, attachment_json, form_json
from server.auth.permissions import can, require, verbs_for
from server.context import audit, blobs, db, settings
from server.db import utcnow
from server.models import form_versions as fv
from server.models.blobs import Blob
from server.models.forms import Form, FormDef

bp = Blueprint("forms", __name__, url_prefix="/v1/projects/<int:project_id>")


def _shown_def(form: Form) -> FormDef | None:
    def_id = form.current_def_id or form.draft_def_id
    return db().get(FormDef, def_id) if def_id else None


def _upload() -> fv.Definition:
    data = read_body_limited(settings().max_form_bytes)
    fallback = request.headers.get("X-XlsForm-FormId-Fallback")
    return fv.read_definition(data, settings(), unquote(fallback) if fallback else None,
                              ignore_warnings=is_true(request.args.get("ignoreWarnings")))


def _with_report(body: dict, definition: fv.Definition) -> dict:
    body["warnings"] = definition.warnings
    body["validation"] = definition.validation
    return body


@bp.get("/forms")
def list_forms(project_id: int):
    project_or_404(project_id, "form.list", "open_form.list")
    verbs = verbs_for(db(), g.actor, project_id)
    stmt = (select(Form, FormDef).join(FormDef, FormDef.id == func.coalesce(Form.current_def_id, Form.draft_def_id))
            .where(Form.project_id == project_id, Form.deleted_at.is_(None)).order_by(Form.xml_form_id))
    if not can(verbs, "form.list"):
        stmt = stmt.where(Form.state != "closed", Form.current_def_id.is_not(None))
    return [_token_for(verbs, form_json(form, form_def)) for form, form_def in db().execute(stmt)]


def _token_for(verbs, body: dict) -> dict:
    """An unpublished form shows its draft, whose token opens the draft-testing routes: only to who may
    change the form (Central shows it to every reader)."""
    if body.get("draftToken") and not can(verbs, "form.update"):
        body["draftToken"] = None
    return body


@bp.post("/forms")
def create_form(project_id: int):
    project_or_404(project_id, "form.create")
    definition = _upload()
    form = fv.create_form(db(), blobs(), project_id, definition, g.actor.id if g.actor else None,
                          publish=is_true(request.args.get("publish")))
    audit("form.create", form)
    if form.current_def_id is not None:
        audit("form.update.publish", form, {"newDefId": form.current_def_id})
    commit()
    return _with_report(form_json(form, _shown_def(form)), definition)


def _submission_stats(form: Form) -> dict:
    """Central's X-Extended-Metadata for a form: counts by review state and the latest submission."""
    from server.access import submission_scope
    from server.auth.scope import AreaScopeUnavailable
    from server.models.submission_queries import review_state_counts

    try:
        scope = submission_scope(form)   # a caller limited to some areas counts only their households
    except AreaScopeUnavailable:
        return {"submissions": None, "reviewStates": {"received": None, "hasIssues": None, "edited": None},
                "lastSubmission": None, "excelContentType": None}
    rows = review_state_counts(db(), form.id, scope)
    counts = {state: n for state, n, _ in rows}
    last = max((latest for _, _, latest in rows if latest is not None), default=None)
    from server.db import isoformat

    return {"submissions": sum(counts.values()),
            "reviewStates": {"received": counts.get(None, 0), "hasIssues": counts.get("hasIssues", 0),
                             "edited": counts.get("edited", 0)},
            "lastSubmission": isoformat(last), "excelContentType": None}


@bp.get("/forms/<xml_form_id>")
def get_form(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.read", "open_form.read")
    extra = _submission_stats(form) if request.headers.get("X-Extended-Metadata", "").lower() == "true" else None
    return _token_for(verbs_for(db(), g.actor, project_id, form.id), form_json(form, _shown_def(form), extra))


@bp.patch("/forms/<xml_form_id>")
def patch_form(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    state = json_body(FormPatch())["state"]
    fv.set_state(form, state)
    audit("form.update", form, {"data": {"state": state}})
    commit()
    return form_json(form, _shown_def(form))


@bp.delete("/forms/<xml_form_id>")
def delete_form(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.delete")
    form.deleted_at = utcnow()
    audit("form.delete", form)
    commit()
    return success()


def xml_response(form_def: FormDef) -> Response:
    resp = Response(form_def.xml.encode("utf-8"), content_type="application/xml")
    resp.set_etag(form_def.hash)
    resp.make_conditional(request)
    return resp


@bp.get("/forms/<xml_form_id>.xml")
def form_xml(project_id: int, xml_form_id: str):
    _, form_def = readable_form(project_id, xml_form_id)
    return xml_response(form_def)


@bp.get("/forms/<xml_form_id>/draft.xml")
def draft_xml(project_id: int, xml_form_id: str):
    _, form_def = readable_form(project_id, xml_form_id, draft=True)
    return xml_response(form_def)


def _source_response(form: Form, form_def: FormDef, ext: str) -> Response:
    found = fv.xlsform_source(db(), blobs(), form, form_def, ext)
    return send_blob(blobs(), found.sha256, found.size, found.content_type, found.file_name, found.md5)


def _extension() -> str:
    return request.path.rsplit(".", 1)[-1]


@bp.get("/forms/<xml_form_id>.xlsx")
@bp.get("/forms/<xml_form_id>.xls")
def form_source(project_id: int, xml_form_id: str):
    form, form_def = readable_form(project_id, xml_form_id)
    return _source_response(form, form_def, _extension())


@bp.get("/forms/<xml_form_id>/draft.xlsx")
@bp.get("/forms/<xml_form_id>/draft.xls")
def draft_source(project_id: int, xml_form_id: str):
    form, form_def = readable_form(project_id, xml_form_id, draft=True)
    return _source_response(form, form_def, _extension())


@bp.get("/forms/<xml_form_id>/versions")
def versions(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.read")
    return [form_json(form, d) for d in fv.published_versions(db(), form)]


def _version(form: Form, version: str) -> FormDef:
    return fv.published_version(db(), form, version)


@bp.get("/forms/<xml_form_id>/versions/<version>")
def version(project_id: int, xml_form_id: str, version: str):
    form = form_or_404(project_id, xml_form_id, "form.read")
    return form_json(form, _version(form, version))


@bp.get("/forms/<xml_form_id>/versions/<version>.xml")
def version_xml(project_id: int, xml_form_id: str, version: str):
    form = form_or_404(project_id, xml_form_id, "form.read")
    return xml_response(_version(form, version))


@bp.get("/forms/<xml_form_id>/versions/<version>.xlsx")
@bp.get("/forms/<xml_form_id>/versions/<version>.xls")
def version_source(project_id: int, xml_form_id: str, version: str):
    form = form_or_404(project_id, xml_form_id, "form.read")
    return _source_response(form, _version(form, version), _extension())


# --- drafts ----------------------------------------------------------------------------------------

@bp.post("/forms/<xml_form_id>/draft")
def create_draft(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding", "").lower() == "chunked"
    definition = _upload() if has_body else None
    fv.create_draft(db(), blobs(), form, definition, g.actor.id if g.actor else None)
    audit("form.update.draft.set", form, {"newDraftDefId": form.draft_def_id})
    commit()
    body = success()
    if definition is not None:
        _with_report(body, definition)
    return body


@bp.get("/forms/<xml_form_id>/draft")
def get_draft(project_id: int, xml_form_id: str):
    form, form_def = readable_form(project_id, xml_form_id, draft=True)
    return form_json(form, form_def)


@bp.delete("/forms/<xml_form_id>/draft")
def delete_draft(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    fv.discard_draft(db(), form)
    commit()
    return success()


@bp.post("/forms/<xml_form_id>/draft/publish")
def publish(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    version = request.args.get("version")
    old = form.current_def_id
    fv.publish_draft(db(), form, version if version not in (None, "") else None)
    audit("form.update.publish", form, {"oldDefId": old, "newDefId": form.current_def_id})
    commit()
    return success()


def _attachments_json(project_id: int, form_def: FormDef) -> list[dict]:
    """A version's attachments; `datasetExists` for those served from an Entity List."""
    from server.models.datasets import list_for_attachment

    return [attachment_json(a, b, b is None and list_for_attachment(db(), project_id, a.name, a.dataset_link)
                            is not None)
            for a, b in fv.attachments_of(db(), form_def.id)]


@bp.get("/forms/<xml_form_id>/draft/attachments")
def draft_attachments(project_id: int, xml_form_id: str):
    _, form_def = readable_form(project_id, xml_form_id, draft=True)
    return _attachments_json(project_id, form_def)


@bp.patch("/forms/<xml_form_id>/draft/attachments/<path:name>")
def link_draft_attachment(project_id: int, xml_form_id: str, name: str):
    """Central's link of a draft's data file to an Entity List: {"dataset": true} or false."""
    from server.models.datasets import link_attachment

    form = form_or_404(project_id, xml_form_id, "form.update")
    fv.check_attachment_name(name)
    require(db(), g.actor, project_id, "entity.list")
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("dataset"), bool):
        raise problems.UnexpectedValue('Send {"dataset": true} to serve the file from the Entity List of its name, or '
                                       '{"dataset": false} to stop.', details={"field": "dataset"})
    slot = link_attachment(db(), form, name, body["dataset"])
    commit()
    return attachment_json(slot, None, body["dataset"])


@bp.post("/forms/<xml_form_id>/draft/attachments/<path:name>")
def upload_draft_attachment(project_id: int, xml_form_id: str, name: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    limit = settings().max_submission_bytes
    if request.content_length is not None and request.content_length > limit:
        raise problems.PayloadTooLarge(f"The file is {request.content_length:,} bytes; this server accepts at most {limit:,}.")
    slot = fv.upload_attachment(db(), blobs(), form, name, request.stream, request.headers.get("Content-Type"), limit)
    commit()
    return attachment_json(slot, db().get(Blob, slot.blob_id))


@bp.delete("/forms/<xml_form_id>/draft/attachments/<path:name>")
def clear_draft_attachment(project_id: int, xml_form_id: str, name: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    fv.check_attachment_name(name)
    fv.clear_attachment(db(), form, name)
    commit()
    return success()


@bp.get("/forms/<xml_form_id>/draft/attachments/<path:name>")
def draft_attachment(project_id: int, xml_form_id: str, name: str):
    fv.check_attachment_name(name)
    _, form_def = readable_form(project_id, xml_form_id, draft=True)
    return attachment_file(form_def, name)


@bp.get("/forms/<xml_form_id>/attachments")
def published_attachments(project_id: int, xml_form_id: str):
    _, form_def = readable_form(project_id, xml_form_id)
    return _attachments_json(project_id, form_def)


@bp.get("/forms/<xml_form_id>/attachments/<path:name>")
def published_attachment(project_id: int, xml_form_id: str, name: str):
    fv.check_attachment_name(name)
    _, form_def = readable_form(project_id, xml_form_id)
    return attachment_file(form_def, name)


def attachment_file(form_def: FormDef, name: str) -> Response:
    slot, blob = fv.attachment(db(), form_def.id, name)
    if blob is None:  # `households.csv` with no file uploaded over it: the Entity List (docs/entities.md)
        from server.api.datasets import entity_list_file

        served = entity_list_file(db().get_one(Form, form_def.form_id).project_id, name, slot.dataset_link)
        if served is not None:
            served.make_conditional(request)
            return served
        raise problems.NotFound(f"The media file '{name}' has not been uploaded for this form version.")
    return stored_file(blobs(), blob.sha256, blob.size, slot.content_type, name, blob.md5)
