"""Form delivery to ODK Collect at Central's paths (odk-protocol §1–2): formList and manifest.

The form XML and media downloads are the REST routes in api/forms.py, as in Central."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import exists, select

from server import problems
from server.access import entities_scope, list_owner, project_or_404, readable_form
from server.auth.permissions import can, verbs_for
from server.context import db
from server.models.accounts import FormAssignment
from server.models.blobs import Blob
from server.models.forms import Form, FormAttachment, FormDef
from server.openrosa.headers import add_openrosa_headers
from server.openrosa.render import ListedForm, ManifestFile, form_list, manifest

bp = Blueprint("openrosa", __name__)


def openrosa(view):
    """Marks a route as OpenRosa: errors become OpenRosaResponse XML, and the OpenRosa headers are set."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        problems.answer_as_openrosa()
        version = request.headers.get("X-OpenRosa-Version")
        if version is not None and version.strip() != "1.0":
            raise problems.InvalidHeader(f"Unsupported X-OpenRosa-Version '{version}'; this server speaks 1.0.",
                                         details={"field": "X-OpenRosa-Version", "value": version})
        resp = view(*args, **kwargs)
        return add_openrosa_headers(resp)

    return wrapper


def _xml(body: str) -> Response:
    return Response(body.encode("utf-8"), content_type="text/xml; charset=utf-8")


def public_base() -> str:
    """Scheme and host for absolute URLs: HAMLET_BASE_URL, or the request (after X-Forwarded-*)."""
    configured = current_app.config["HAMLET"].base_url
    return configured if configured else request.host_url.rstrip("/")


def project_base(project_id: int) -> str:
    prefix = request.environ.get("hamlet.prefix", "/v1")
    return f"{public_base()}{request.script_root}{prefix}/projects/{project_id}"


def listed_forms(project_id: int, xml_form_id: str | None) -> list[ListedForm]:
    """Open, published, live forms the caller may read; app users see only forms assigned to them."""
    verbs = verbs_for(db(), g.actor, project_id)
    from server.models.datasets import Dataset

    has_media = (exists().where(FormAttachment.form_def_id == FormDef.id, FormAttachment.blob_id.is_not(None))
                 | exists().where(FormAttachment.form_def_id == FormDef.id, FormAttachment.blob_id.is_(None),
                                  Dataset.project_id == Form.project_id, FormAttachment.name == Dataset.name + ".csv"))
    stmt = (select(Form.xml_form_id, FormDef.name, FormDef.version, FormDef.hash, has_media)
            .join(FormDef, FormDef.id == Form.current_def_id)
            .where(Form.project_id == project_id, Form.deleted_at.is_(None), Form.state == "open"))
    if not can(verbs, "form.list", "open_form.list"):
        if g.actor is None:
            raise problems.AuthenticationFailed("Sign in, or use an app user's server URL with its key.")
        # EXISTS uses the assignment primary key per form, whatever the planner's statistics say.
        stmt = stmt.where(exists().where(FormAssignment.actor_id == g.actor.id, FormAssignment.form_id == Form.id))
    if xml_form_id is not None:
        stmt = stmt.where(Form.xml_form_id == xml_form_id)
    rows = db().execute(stmt).all()
    forms = [ListedForm(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]
    forms.sort(key=lambda f: (f.name or f.xml_form_id).casefold())
    return forms


@bp.get("/v1/projects/<int:project_id>/formList")
@openrosa
def project_form_list(project_id: int):
    project_or_404(project_id)
    forms = listed_forms(project_id, request.args.get("formID"))
    verbose = request.args.get("verbose", "").lower() == "true"
    return _xml(form_list(forms, project_base(project_id), verbose=verbose))


@bp.get("/formList")
@bp.get("/v1/formList")
@openrosa
def root_form_list():
    """For Collect set up with the server's plain address and a username (Digest): every project."""
    if g.actor is None:
        raise problems.AuthenticationFailed("Sign in with your username and password.")
    from server.models.accounts import ProjectAssignment
    from server.models.projects import Project

    stmt = select(Project.id).where(Project.deleted_at.is_(None)).order_by(Project.id)
    if not g.actor.is_site_admin:
        stmt = stmt.where(Project.id.in_(select(ProjectAssignment.project_id)
                                         .where(ProjectAssignment.actor_id == g.actor.id)))
    verbose = request.args.get("verbose", "").lower() == "true"
    parts = []
    for project_id in db().scalars(stmt):
        listed = listed_forms(project_id, request.args.get("formID"))
        parts.append(form_list(listed, f"{public_base()}{request.script_root}/v1/projects/{project_id}", verbose))
    return _xml(_merge_lists(parts))


def _merge_lists(documents: list[str]) -> str:
    head = '<?xml version="1.0" encoding="UTF-8"?>\n<xforms xmlns="http://openrosa.org/xforms/xformsList">'
    bodies = [d.split(">", 2)[2].rsplit("</xforms>", 1)[0] for d in documents]
    return head + "".join(bodies) + "</xforms>\n"


@bp.get("/v1/projects/<int:project_id>/forms/<xml_form_id>/manifest")
@openrosa
def form_manifest(project_id: int, xml_form_id: str):
    form, form_def = readable_form(project_id, xml_form_id)
    return _xml(manifest(_manifest_files(form_def.id, project_id),
                         f"{project_base(project_id)}/forms/{_quote(form.xml_form_id)}"))


@bp.get("/v1/projects/<int:project_id>/forms/<xml_form_id>/draft/manifest")
@openrosa
def draft_manifest(project_id: int, xml_form_id: str):
    form, form_def = readable_form(project_id, xml_form_id, draft=True)
    return _xml(manifest(_manifest_files(form_def.id, project_id),
                         f"{project_base(project_id)}/forms/{_quote(form.xml_form_id)}/draft"))


def _manifest_files(form_def_id: int, project_id: int) -> list[ManifestFile]:
    """Uploaded files, and `{list}.csv` served from an Entity List when no file was uploaded over it."""
    from server.models.datasets import list_for_attachment, list_hash

    rows = db().execute(select(FormAttachment.name, Blob.md5, FormAttachment.dataset_link)
                        .outerjoin(Blob, Blob.id == FormAttachment.blob_id)
                        .where(FormAttachment.form_def_id == form_def_id).order_by(FormAttachment.id))
    files = []
    for name, md5, link in rows:
        if md5 is not None:
            files.append(ManifestFile(name, md5))
        elif (dataset := list_for_attachment(db(), project_id, name, link)) is not None:
            files.append(ManifestFile(name, list_hash(db(), dataset, list_owner(project_id, dataset.owner_only),
                                                      entities_scope(dataset, strict=False)),
                                      f"{project_base(project_id)}/datasets/{_quote(dataset.name)}/integrity"))
    return files


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
