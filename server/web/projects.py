"""Projects the user can see, and each project's forms with the XLSForm upload."""
from __future__ import annotations

from pathlib import PurePath

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from server import problems
from server.access import project_or_404
from server.auth.permissions import can, require_site_admin, verbs_for
from server.context import audit, blobs, db, settings
from server.db import utcnow
from server.models import areas as registry
from server.models import form_versions as fv
from server.models.forms import Form, live_form, project_forms
from server.models.projects import Project, visible_projects
from server.models.submission_queries import counts_by_form
from server.web.i18n import _, size_text
from server.web.limits import takes_file
from server.xforms.xlsform import locate, sniff

bp = Blueprint("projects", __name__)


@bp.get("/projects")
def list_projects():
    return render_template("projects.html", projects=visible_projects(db(), g.actor), errors={})


@bp.post("/projects")
def create_project():
    require_site_admin(g.actor)
    name = (request.form.get("name") or "").strip()
    if not name or len(name) > 255:
        error = _("Give the project a name.") if not name else _("The name is too long.")
        return render_template("projects.html", projects=visible_projects(db(), g.actor),
                               errors={"name": error}, name=name), 400
    project = Project(name=name, created_at=utcnow())
    db().add(project)
    db().flush()
    audit("project.create", project, {"data": {"name": name}})
    db().commit()
    return redirect(url_for("web.projects.project", project_id=project.id))


def render_project(project: Project, status: int = 200, upload_error: dict | None = None):
    verbs = verbs_for(db(), g.actor, project.id)
    forms = project_forms(db(), project.id, include_unlisted=can(verbs, "form.list"))
    counts = counts_by_form(db(), [f.id for f, _def in forms], actor=g.actor) if can(verbs, "submission.list") else {}
    return render_template("project.html", project=project, forms=forms, counts=counts, verbs=verbs,
                           can=can, upload_error=upload_error), status


@bp.get("/projects/<int:project_id>")
def project(project_id: int):
    return render_project(project_or_404(project_id, "project.read"))


@bp.post("/projects/<int:project_id>/forms")
@takes_file(lambda s: s.max_form_bytes, lambda n: _("The file is too large: this server accepts form files up to "
                                                   "%(size)s.", size=size_text(n)))
def upload_form(project_id: int):
    """A new form, or a new draft of the form with the same form ID; publishing is a separate step."""
    project = project_or_404(project_id, "form.create")
    upload = request.files.get("xlsform")
    if upload is None or not upload.filename:
        file_name, data = "", b""
    else:
        file_name, data = upload.filename, upload.read(settings().max_form_bytes + 1)
    error = check_upload(data)
    if error is not None:
        return render_project(project, 413 if len(data) > settings().max_form_bytes else 400, error)
    try:
        definition = fv.read_definition(data, settings(), PurePath(file_name).stem, ignore_warnings=True)
        form = _store(project, definition)
    except problems.XlsFormInvalid as exc:
        db().rollback()
        return render_project(project, 400, pyxform_error(exc))
    except problems.Problem as exc:
        db().rollback()
        return render_project(project, exc.status if exc.status < 500 else 400,
                              {"title": _("The form could not be used."), "message": exc.message})
    db().commit()
    flash(_("Uploaded as a draft. Check the questions and the warnings, then publish."), "ok")
    return redirect(url_for("web.forms.form", project_id=project.id, xml_form_id=form.xml_form_id))


def check_upload(data: bytes) -> dict | None:
    """The mistakes worth a sentence of our own, before pyxform sees the file."""
    if not data:
        return {"title": _("Choose an XLSForm file (.xlsx or .xls) to upload.")}
    if len(data) > settings().max_form_bytes:
        return {"title": _("The file is too large: this server accepts form files up to %(size)s.",
                           size=size_text(settings().max_form_bytes))}
    if sniff(data) is None:
        return {"title": _("This file is not an XLSForm. Choose the .xlsx or .xls workbook of the form "
                           "(or its XForm .xml).")}
    return None


def pyxform_error(exc: problems.Problem) -> dict:
    details = exc.details or {}
    title = _("ODK Validate found errors in this form.") if details.get("validator") else \
        _("pyxform could not convert this XLSForm.")
    return {"title": title, "sheet": details.get("sheet"),
            "row": details.get("row"), "message": details.get("error") or exc.message,
            "lines": details.get("errors") or []}


def _store(project: Project, definition: fv.Definition) -> Form:
    actor_id = g.actor.id
    form = live_form(db(), project.id, definition.info.xml_form_id)
    if form is None:
        form = fv.create_form(db(), blobs(), project.id, definition, actor_id)
        audit("form.create", form)
    else:
        fv.create_draft(db(), blobs(), form, definition, actor_id)
        audit("form.update.draft.set", form, {"newDraftDefId": form.draft_def_id})
    if registry.MEDIA_NAME in definition.info.media and registry.areas_of(db(), project.id):
        # The survey's location cascade reads the project's area registry (README: Areas).
        registry.sync_form_media(db(), blobs(), project.id)
    return form


def located(warning: str) -> dict:
    """A pyxform warning with the sheet and row it names, for the page."""
    return {"message": warning, **locate(warning)}
