"""Submissions over REST, as Central serves them to pyodk: list, get, XML, create, edit, review,
delete/restore, versions, comments and attachments.

A caller limited to some areas (server/auth/scope.py) finds only its areas' households: any other
is 404, as if it were not there. Creating one is not limited (an enumerator may collect anywhere).

Under `…/draft/submissions` the same reads (and create) serve the draft's test submissions
(models/draft_tests.py), with the same roles and area limits; 404 when the form has no draft."""
from __future__ import annotations

import json

from flask import Blueprint, Response, g, redirect, request
from marshmallow import fields, validate

from server import problems
from server.access import form_or_404, submission_scope
from server.api.common import commit, is_true, json_body, read_body_limited, success
from server.api.files import stored_file
from server.api.schemas import In
from server.auth.permissions import can, verbs_for
from server.context import audit, blobs, cache, db, settings
from server.db import isoformat, utcnow
from server.models import submission_queries as q
from server.models.blobs import ensure_blob
from server.models.forms import FormDef
from server.models.intake import identify, published_version, receive
from server.models.submissions import (
    MAX_COMMENT,
    REVIEW_STATES,
    Submission,
    SubmissionDef,
    comments_of,
    set_review_state,
)
from server.models.submissions import add_comment as store_comment
from server.params import non_negative_int
from server.xforms.xform import unsafe_file_name

bp = Blueprint("submissions", __name__, url_prefix="/v1/projects/<int:project_id>/forms/<xml_form_id>")


class ReviewIn(In):
    reviewState = fields.String(required=True, validate=validate.OneOf(REVIEW_STATES))


class CommentIn(In):
    body = fields.String(required=True, validate=validate.Length(min=1, max=MAX_COMMENT))


def version_json(sdef: SubmissionDef) -> dict:
    return {"instanceId": sdef.instance_id, "instanceName": sdef.instance_name, "submitterId": sdef.submitter_id,
            "deviceId": sdef.device_id, "userAgent": sdef.user_agent, "createdAt": isoformat(sdef.created_at),
            "current": sdef.current}


def submission_json(sub: Submission, sdef: SubmissionDef, names: dict[int, str] | None = None) -> dict:
    """Central's Submission; no `attachments` key, which pyodk adds itself (odk-protocol §7.2)."""
    body = {
        "instanceId": sub.instance_id,
        "submitterId": sub.submitter_id,
        "deviceId": sub.device_id,
        "userAgent": sdef.user_agent,
        "instanceName": sdef.instance_name,
        "reviewState": sub.review_state,
        "createdAt": isoformat(sub.created_at),
        "updatedAt": isoformat(sub.updated_at),
        "deletedAt": isoformat(sub.deleted_at),
        "currentVersion": version_json(sdef),
    }
    if names is not None:
        name = names.get(sub.submitter_id) if sub.submitter_id is not None else None
        body["submitter"] = {"id": sub.submitter_id, "displayName": name}
    return body


def _extended() -> bool:
    return request.headers.get("X-Extended-Metadata", "").lower() == "true"


def _names(subs) -> dict[int, str] | None:
    return q.display_names(db(), {s.submitter_id for s in subs if s.submitter_id}) if _extended() else None


def _form(project_id: int, xml_form_id: str, *verbs: str, draft: bool = False):
    form = form_or_404(project_id, xml_form_id, *verbs)
    if draft and form.draft_def_id is None:
        raise problems.NotFound(f"Form '{xml_form_id}' has no draft, so no test submissions.")
    return form


def _one(project_id: int, xml_form_id: str, instance_id: str, *verbs: str, include_deleted: bool = False,
         scoped: bool = True, draft: bool = False):
    form = _form(project_id, xml_form_id, *verbs, draft=draft)
    scope = submission_scope(form) if scoped else None
    row = q.by_instance(db(), form.id, instance_id, include_deleted, scope=scope, draft=draft)
    if row is None:
        root = q.root_of_version(db(), form.id, instance_id, scope=scope, draft=draft)
        if root is not None and root != instance_id:
            raise _Redirect(instance_id, root)
        raise problems.NotFound(f"There is no submission {instance_id} of form '{xml_form_id}'.")
    return form, row[0], row[1]


class _Redirect(Exception):
    def __init__(self, instance_id: str, root: str):
        self.instance_id = instance_id
        self.root = root


@bp.errorhandler(_Redirect)
def _to_root(exc: _Redirect):
    # A later version's instanceID leads to the logical submission (§5.3).
    path = request.path.replace(exc.instance_id, exc.root, 1)
    return redirect(path, code=301)


# Both rules of a view carry `draft`, so that werkzeug never redirects one to the other.
REAL, DRAFT = {"draft": False}, {"draft": True}


@bp.get("/submissions", defaults=REAL)
@bp.get("/draft/submissions", defaults=DRAFT)
def list_submissions(project_id: int, xml_form_id: str, draft: bool = False):
    form = _form(project_id, xml_form_id, "submission.list", draft=draft)
    limit = non_negative_int("limit", request.args.get("limit"))
    offset = non_negative_int("offset", request.args.get("offset")) or 0
    scope = submission_scope(form)
    rows = q.list_for_form(db(), form.id, deleted=is_true(request.args.get("deleted")), limit=limit, offset=offset,
                           scope=scope, draft=draft)
    names = _names([s for s, _ in rows])
    resp = [submission_json(s, d, names) for s, d in rows]
    return Response(json.dumps(resp, ensure_ascii=False), content_type="application/json",
                    headers={"X-Total-Count": str(q.count_for_form(db(), form.id, scope, draft=draft))})


@bp.post("/submissions", defaults=REAL)
@bp.post("/draft/submissions", defaults=DRAFT)
def create_submission(project_id: int, xml_form_id: str, draft: bool = False):
    """pyodk's submissions.create: a raw XML body; 200 with the Submission (§5.4). Under /draft, a
    test submission to the draft, whatever version it names (Central)."""
    form = _form(project_id, xml_form_id, "submission.create", draft=draft)
    xml = read_body_limited(settings().max_submission_bytes)
    root, parsed = identify(xml)
    if parsed.xml_form_id != form.xml_form_id:
        raise problems.UnexpectedValue(f"The submission is for form '{parsed.xml_form_id}', not '{form.xml_form_id}'.",
                                       details={"field": "form ID", "value": parsed.xml_form_id})
    form_def = db().get_one(FormDef, form.draft_def_id) if draft else published_version(db(), form, parsed.version)
    received = receive(db(), blobs(), cache(), form, form_def, root, parsed, xml, {}, g.actor.id if g.actor else None,
                       request.args.get("deviceID"), request.headers.get("User-Agent"),
                       settings().max_submission_bytes, openrosa=False,
                       max_repeats=settings().max_repeat_instances, draft=draft)
    commit()
    sub = db().get_one(Submission, received.submission_id)
    return submission_json(sub, db().get_one(SubmissionDef, sub.current_def_id))


@bp.get("/submissions/<instance_id>", defaults=REAL)
@bp.get("/draft/submissions/<instance_id>", defaults=DRAFT)
def get_submission(project_id: int, xml_form_id: str, instance_id: str, draft: bool = False):
    _, sub, sdef = _one(project_id, xml_form_id, instance_id, "submission.read", draft=draft)
    return submission_json(sub, sdef, _names([sub]))


@bp.get("/submissions/<instance_id>.xml", defaults=REAL)
@bp.get("/draft/submissions/<instance_id>.xml", defaults=DRAFT)
def submission_xml(project_id: int, xml_form_id: str, instance_id: str, draft: bool = False):
    """The current version's XML exactly as it was received."""
    _, _, sdef = _one(project_id, xml_form_id, instance_id, "submission.read", draft=draft)
    return Response(sdef.xml, content_type="application/xml")


@bp.put("/submissions/<instance_id>")
def edit_submission(project_id: int, xml_form_id: str, instance_id: str):
    form, sub, sdef = _one(project_id, xml_form_id, instance_id, "submission.update")
    xml = read_body_limited(settings().max_submission_bytes)
    root, parsed = identify(xml)
    if not parsed.deprecated_id:
        raise problems.ExpectedDeprecation()
    if parsed.xml_form_id != form.xml_form_id:
        raise problems.UnexpectedValue(f"The submission is for form '{parsed.xml_form_id}', not '{form.xml_form_id}'.")
    if parsed.deprecated_id != sdef.instance_id:
        raise problems.DeprecatingOldSubmission(
            f"The deprecatedID {parsed.deprecated_id} is not the current version ({sdef.instance_id}) of this submission.")
    receive(db(), blobs(), cache(), form, published_version(db(), form, parsed.version), root, parsed, xml, {},
            g.actor.id if g.actor else None,
            request.args.get("deviceID"), request.headers.get("User-Agent"), settings().max_submission_bytes,
            max_repeats=settings().max_repeat_instances)
    audit("submission.update.version", form, {"submissionId": sub.id, "instanceId": sub.instance_id,
                                              "newInstanceId": parsed.instance_id})
    commit()
    db().refresh(sub)
    return submission_json(sub, db().get_one(SubmissionDef, sub.current_def_id))


@bp.patch("/submissions/<instance_id>")
def review(project_id: int, xml_form_id: str, instance_id: str):
    form, sub, sdef = _one(project_id, xml_form_id, instance_id, "submission.update")
    state = json_body(ReviewIn())["reviewState"]
    set_review_state(sub, state)
    audit("submission.update", form, {"submissionId": sub.id, "submissionDefId": sdef.id, "instanceId": sub.instance_id,
                                     "reviewState": state})
    commit()
    return submission_json(sub, sdef)


@bp.delete("/submissions/<instance_id>")
def delete_submission(project_id: int, xml_form_id: str, instance_id: str):
    form, sub, _ = _one(project_id, xml_form_id, instance_id, "submission.delete")
    sub.deleted_at = utcnow()
    audit("submission.delete", form, {"submissionId": sub.id, "instanceId": sub.instance_id})
    commit()
    return success()


@bp.post("/submissions/<instance_id>/restore")
def restore_submission(project_id: int, xml_form_id: str, instance_id: str):
    form, sub, _ = _one(project_id, xml_form_id, instance_id, "submission.delete", include_deleted=True)
    if sub.deleted_at is None:
        raise problems.NotFound("This submission is not deleted.")
    sub.deleted_at = None
    audit("submission.restore", form, {"submissionId": sub.id, "instanceId": sub.instance_id})
    commit()
    return success()


@bp.get("/submissions/<instance_id>/versions", defaults=REAL)
@bp.get("/draft/submissions/<instance_id>/versions", defaults=DRAFT)
def list_versions(project_id: int, xml_form_id: str, instance_id: str, draft: bool = False):
    _, sub, _ = _one(project_id, xml_form_id, instance_id, "submission.read", draft=draft)
    return [version_json(v) for v in q.versions(db(), sub.id)]


@bp.get("/submissions/<instance_id>/versions/<version_id>.xml")
def version_xml(project_id: int, xml_form_id: str, instance_id: str, version_id: str):
    _, sub, _ = _one(project_id, xml_form_id, instance_id, "submission.read")
    for v in q.versions(db(), sub.id):
        if v.instance_id == version_id:
            return Response(v.xml, content_type="application/xml")
    raise problems.NotFound(f"Submission {instance_id} has no version {version_id}.")


@bp.get("/submissions/<instance_id>/comments")
def list_comments(project_id: int, xml_form_id: str, instance_id: str):
    _, sub, _ = _one(project_id, xml_form_id, instance_id, "submission.read")
    return [{"body": c.body, "actorId": c.actor_id, "createdAt": isoformat(c.created_at)}
            for c in comments_of(db(), sub.id)]


@bp.post("/submissions/<instance_id>/comments")
def add_comment(project_id: int, xml_form_id: str, instance_id: str):
    _, sub, _ = _one(project_id, xml_form_id, instance_id, "submission.read")
    body = json_body(CommentIn())["body"]
    comment = store_comment(db(), sub, g.actor.id, body)
    commit()
    return {"body": comment.body, "actorId": comment.actor_id, "createdAt": isoformat(comment.created_at)}


@bp.get("/submissions/<instance_id>/attachments", defaults=REAL)
@bp.get("/draft/submissions/<instance_id>/attachments", defaults=DRAFT)
def list_attachments(project_id: int, xml_form_id: str, instance_id: str, draft: bool = False):
    _, _, sdef = _one(project_id, xml_form_id, instance_id, "submission.read", draft=draft)
    return [{"name": a.name, "exists": b is not None, "updatedAt": isoformat(a.updated_at)}
            for a, b in q.attachments(db(), sdef.id)]


def _slot(sdef: SubmissionDef, name: str):
    reason = unsafe_file_name(name)
    if reason:
        raise problems.UnexpectedValue(f"The attachment name '{name}' cannot be used: {reason}.")
    for a, b in q.attachments(db(), sdef.id):
        if a.name == name:
            return a, b
    raise problems.NotFound(f"This submission does not expect an attachment named '{name}'.")


@bp.get("/submissions/<instance_id>/attachments/<path:name>", defaults=REAL)
@bp.get("/draft/submissions/<instance_id>/attachments/<path:name>", defaults=DRAFT)
def get_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str, draft: bool = False):
    _, _, sdef = _one(project_id, xml_form_id, instance_id, "submission.read", draft=draft)
    slot, blob = _slot(sdef, name)
    if blob is None:
        raise problems.NotFound(f"The attachment '{name}' has not been uploaded yet.")
    return stored_file(blobs(), blob.sha256, blob.size, slot.content_type, name, blob.md5)


@bp.post("/submissions/<instance_id>/attachments/<path:name>")
def upload_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str):
    """Staff may replace any attachment; a submitter may only fill an empty slot of their own submission."""
    form, sub, sdef = _one(project_id, xml_form_id, instance_id, scoped=False)
    own = g.actor is not None and sub.submitter_id == g.actor.id
    if not own:
        # Staff outside their areas: as if the submission were not there. A submitter's own upload is
        # collecting, which no area limits.
        scope = submission_scope(form)
        if scope is not None and not q.in_scope(db(), sub.id, scope):
            raise problems.NotFound(f"There is no submission {instance_id} of form '{xml_form_id}'.")
    slot, blob = _slot(sdef, name)
    verbs = verbs_for(db(), g.actor, project_id, form.id)
    own_empty = can(verbs, "submission.create") and own and blob is None
    if not (can(verbs, "submission.update") or own_empty):
        raise problems.InsufficientRights()
    limit = settings().max_submission_bytes
    if request.content_length is not None and request.content_length > limit:
        raise problems.PayloadTooLarge(f"The file is larger than {limit:,} bytes.")
    try:
        sha, md5, size = blobs().put_stream(request.stream, limit=limit)
    except ValueError:
        raise problems.PayloadTooLarge(f"The file is larger than {limit:,} bytes.") from None
    slot.blob_id = ensure_blob(db(), sha, md5, size)
    slot.content_type = request.headers.get("Content-Type") or None
    slot.updated_at = utcnow()
    sub.updated_at = slot.updated_at
    commit()
    return success()


@bp.delete("/submissions/<instance_id>/attachments/<path:name>")
def clear_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str):
    _, _, sdef = _one(project_id, xml_form_id, instance_id, "submission.update")
    slot, _ = _slot(sdef, name)
    slot.blob_id = None
    slot.updated_at = utcnow()
    commit()
    return success()
