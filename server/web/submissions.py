"""A form's submissions: the table (paged, filtered, newest first), one submission's page, review
actions and comments, and its photos.

Reviews and comments take the same steps as the REST API (server/models/submissions.py) with the
same roles: reviewing needs submission.update, reading and commenting submission.read."""
from __future__ import annotations

import contextlib
import dataclasses
import math

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from server import problems
from server.access import form_or_404, project_or_404, submission_scope
from server.api.files import send_blob
from server.auth.permissions import can, verbs_for
from server.context import audit, blobs, cache, db
from server.exports import options as opts
from server.models import submission_list as listing
from server.models import submission_queries as q
from server.models.areas import areas_of
from server.models.forms import Form, FormDef
from server.models.indicators import indicator_set
from server.models.submissions import MAX_COMMENT, REVIEW_CHOICES, add_comment, set_review_state
from server.web.account import safe_next
from server.web.filters import REVIEW_LABELS, Filters, area_field, message_for, read_filters, schema_fields
from server.web.i18n import N_, _, current_locale
from server.web.pointmap import point_svg
from server.web.submission_view import IMAGE_TYPES, gather
from server.xforms.xform import unsafe_file_name

bp = Blueprint("submissions", __name__, url_prefix="/projects/<int:project_id>/forms/<xml_form_id>/submissions")


REVIEW_ACTIONS = {"approved": N_("Approve"), "hasIssues": N_("Has issues"), "rejected": N_("Reject")}


def _form(project_id: int, xml_form_id: str, *verbs: str):
    project = project_or_404(project_id)
    return project, form_or_404(project_id, xml_form_id, *verbs)


def _selection(form, filters: Filters, scope):
    """The export's selection for these filters (within the caller's areas, when it is limited to
    some), with the area column for the village names; an area the export code refuses is dropped
    with its message, so the page still shows the rest."""
    fields = schema_fields(db(), form)
    fallback = area_field(db(), form, fields)
    try:
        found = opts.from_request(db(), form, filters.export_args(fallback), scope=scope)
    except problems.Problem as exc:
        name, message = message_for(exc)
        filters.errors[name if name in ("from", "to", "review") else "area"] = message
        filters.area = ""
        found = opts.from_request(db(), form, filters.export_args(fallback), scope=scope)
    export = found.export
    if export.selection.area_column is None:
        with contextlib.suppress(problems.Problem):
            opts.attach_area_field(db(), form, export)
    return export


def _name_column(form, export) -> str | None:
    """The respondent's name from the indicators workbook's name_field, when the form has one."""
    found = indicator_set(db(), form.id)
    path = (found.definition.get("contacts") or {}).get("name_field") if found is not None else None
    column = export.tables.columns.get(path) if path else None
    return column[1] if column and column[0] == "" else None


@bp.get("")
def table(project_id: int, xml_form_id: str):
    project, form = _form(project_id, xml_form_id, "submission.list")
    verbs = verbs_for(db(), g.actor, project.id, form.id)
    filters = read_filters(request.args)
    context = dict(project=project, form=form, verbs=verbs, can=can, filters=filters, rows=[], total=0, page=1,
                   pages=1, submitters=[], areas=[], area_names={}, review_labels=REVIEW_LABELS,
                   review_actions=REVIEW_ACTIONS, form_def=None)
    if form.current_def_id is None:
        return render_template("submissions.html", **context)
    scope = submission_scope(form)
    export = _selection(form, filters, scope)
    total = listing.count(db(), export.tables, export.selection, filters.submitter)
    states = export.selection.review_states
    # The dashboard leaves rejected submissions out of its counts: say how many of these it does not count.
    rejected = listing.count(db(), export.tables, dataclasses.replace(export.selection, review_states=["rejected"]),
                             filters.submitter) if total and (not states or "rejected" in states) else 0
    pages = max(1, math.ceil(total / listing.PAGE_SIZE))
    raw_page = request.args.get("page", "1")
    page = min(int(raw_page), pages) if raw_page.isdigit() and int(raw_page) > 0 else 1
    rows = listing.page(db(), export.tables, export.selection, filters.submitter, listing.PAGE_SIZE,
                        (page - 1) * listing.PAGE_SIZE, _name_column(form, export))
    context.update(
        rows=rows, total=total, rejected=rejected, page=page, pages=pages, submitters=listing.submitters(db(), form.id, scope),
        areas=[a for a in areas_of(db(), project.id) if scope is None or a.code in scope.codes]
        if export.selection.area_column else [],
        area_names=listing.area_names(db(), project.id, {r.area_code for r in rows if r.area_code}),
        form_def=db().get(FormDef, form.current_def_id))
    return render_template("submissions.html", **context), 400 if filters.errors else 200


def _submission(form, instance_id: str):
    """The submission and its current version; outside the caller's areas it reads as absent (404)."""
    scope = submission_scope(form)
    row = q.by_instance(db(), form.id, instance_id, scope=scope)
    if row is None:
        root = q.root_of_version(db(), form.id, instance_id, scope=scope)
        if root is not None and root != instance_id:
            # A later version's instanceID leads to the logical submission, as the REST API does (§5.3).
            raise _Moved(form, root)
        raise problems.NotFound()
    return row[0], row[1]


class _Moved(Exception):
    def __init__(self, form: Form, root: str):
        self.project_id, self.xml_form_id = form.project_id, form.xml_form_id
        self.root = root


@bp.errorhandler(_Moved)
def _to_root(exc: _Moved):
    return redirect(url_for(".detail", project_id=exc.project_id, xml_form_id=exc.xml_form_id,
                            instance_id=exc.root), code=301)


def render_detail(project, form, sub, sdef, status: int = 200, comment_error: str | None = None, comment: str = "",
                  review_error: str | None = None, note: str = ""):
    verbs = verbs_for(db(), g.actor, project.id, form.id)
    page = gather(db(), cache(), project.id, sub, sdef, current_locale())
    svg = point_svg(page.point, page.point_label or _("GPS point"), _("N")) if page.point else None
    return render_template("submission.html", project=project, form=form, verbs=verbs, can=can, page=page,
                           review_labels=REVIEW_LABELS, review_actions=REVIEW_ACTIONS, map_svg=svg,
                           comment_error=comment_error, comment=comment, review_error=review_error, note=note,
                           max_comment=MAX_COMMENT), status


@bp.get("/<instance_id>")
def detail(project_id: int, xml_form_id: str, instance_id: str):
    project, form = _form(project_id, xml_form_id, "submission.read")
    sub, sdef = _submission(form, instance_id)
    return render_detail(project, form, sub, sdef)


@bp.post("/<instance_id>/review")
def review(project_id: int, xml_form_id: str, instance_id: str):
    project, form = _form(project_id, xml_form_id, "submission.update")
    sub, sdef = _submission(form, instance_id)
    state = request.form.get("state") or ""
    note = (request.form.get("note") or "").strip()
    back = safe_next(request.form.get("next"), url_for(".detail", project_id=project.id, xml_form_id=form.xml_form_id,
                                                       instance_id=sub.instance_id))
    if state not in REVIEW_CHOICES:
        return render_detail(project, form, sub, sdef, 400, review_error=_("Choose approve, has issues or reject."),
                             note=note)
    if len(note) > MAX_COMMENT:
        return render_detail(project, form, sub, sdef, 400, note=note, review_error=_(
            "The comment is too long (at most %(n)s characters).", n=MAX_COMMENT))
    set_review_state(sub, state)
    if note:
        add_comment(db(), sub, g.actor.id, note)
    audit("submission.update", form, {"submissionId": sub.id, "submissionDefId": sdef.id, "instanceId": sub.instance_id,
                                     "reviewState": state})
    db().commit()
    flash(_("Review saved: %(state)s.", state=_(REVIEW_LABELS[state])), "ok")
    return redirect(back)


@bp.post("/<instance_id>/comments")
def comment(project_id: int, xml_form_id: str, instance_id: str):
    project, form = _form(project_id, xml_form_id, "submission.read")
    sub, sdef = _submission(form, instance_id)
    body = (request.form.get("body") or "").strip()
    if not body:
        return render_detail(project, form, sub, sdef, 400, _("Write a comment before sending it."))
    if len(body) > MAX_COMMENT:
        return render_detail(project, form, sub, sdef, 400, _("The comment is too long (at most %(n)s characters).",
                                                              n=MAX_COMMENT), body)
    add_comment(db(), sub, g.actor.id, body)
    db().commit()
    flash(_("Comment added."), "ok")
    return redirect(url_for(".detail", project_id=project.id, xml_form_id=form.xml_form_id,
                            instance_id=sub.instance_id) + "#comments")


@bp.get("/<instance_id>/attachments/<path:name>")
def attachment(project_id: int, xml_form_id: str, instance_id: str, name: str):
    """A file of the current version, with the REST attachment route's checks. Photos are shown in
    the page; anything else (or an image type the browser might run, like SVG) is a download."""
    _project, form = _form(project_id, xml_form_id, "submission.read")
    _sub, sdef = _submission(form, instance_id)
    if unsafe_file_name(name):
        abort(404)
    found = next(((a, b) for a, b in q.attachments(db(), sdef.id) if a.name == name), None)
    if found is None:
        abort(404)
    slot, blob = found
    if blob is None:
        abort(404)
    mimetype = (slot.content_type or "application/octet-stream").split(";")[0].strip().lower()
    inline = mimetype in IMAGE_TYPES and request.args.get("download") != "1"
    response = send_blob(blobs(), blob.sha256, blob.size, mimetype if inline else "application/octet-stream", name,
                         blob.md5, as_attachment=not inline)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
