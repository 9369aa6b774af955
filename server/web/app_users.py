"""App users of a project: create, give forms, revoke, and the QR codes that configure ODK Collect."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from server import problems
from server.access import project_or_404
from server.auth.permissions import can, verbs_for
from server.auth.scope import check_hand_out
from server.context import audit, db, settings
from server.models import accounts
from server.models.forms import project_forms
from server.models.projects import Project
from server.web.i18n import _
from server.web.qr import collect_settings, encode_settings, qr_svg

bp = Blueprint("app_users", __name__, url_prefix="/projects/<int:project_id>/app-users")

MAX_NAME = 255


def base_url() -> str:
    """Where Collect reaches this server: HAMLET_BASE_URL, else this request's scheme, host and prefix."""
    return settings().base_url or request.url_root.rstrip("/")


def _code(project: Project, actor: accounts.Actor, token: str) -> dict:
    payload = encode_settings(collect_settings(base_url(), token, project.id, project.name))
    return {"actor": actor, "server_url": f"{base_url()}/v1/key/{token}/projects/{project.id}",
            "svg": qr_svg(payload, _("ODK Collect settings for %(name)s", name=actor.display_name))}


def render_list(project: Project, status: int = 200, errors: dict | None = None, name: str = ""):
    verbs = verbs_for(db(), g.actor, project.id)
    users = accounts.app_users_of(db(), project.id)
    forms = [f for f, _def in project_forms(db(), project.id)]
    access = accounts.form_access(db(), [a.id for a, _token in users])
    return render_template("app_users.html", project=project, users=users, forms=forms, access=access,
                           verbs=verbs, can=can, errors=errors or {}, name=name), status


@bp.get("")
def list_app_users(project_id: int):
    return render_list(project_or_404(project_id, "field_key.list"))


@bp.post("")
def create(project_id: int):
    project = project_or_404(project_id, "field_key.create")
    name = " ".join((request.form.get("name") or "").split())
    if not name or len(name) > MAX_NAME:
        error = _("Give the app user a name, for example the team and village.") if not name \
            else _("The name is too long.")
        return render_list(project, 400, {"name": error}, name)
    form_ids = _chosen_forms(project)
    actor, _token = accounts.create_app_user(db(), project.id, name, g.actor.id)
    audit("field_key.create", actor, {"data": {"displayName": name, "projectId": project.id}})
    _record_forms(project, actor, *accounts.set_form_access(db(), actor, form_ids))
    db().commit()
    flash(_("Created %(name)s. Scan its QR code with ODK Collect.", name=name), "ok")
    return redirect(url_for(".show", project_id=project.id, actor_id=actor.id))


def _chosen_forms(project: Project) -> set[int]:
    """Form ids ticked on the page, each checked to belong to this project (404 otherwise)."""
    mine = {f.id for f, _def in project_forms(db(), project.id)}
    chosen: set[int] = set()
    for raw in request.form.getlist("form"):
        if not raw.isdigit() or int(raw) not in mine:
            raise problems.NotFound()
        chosen.add(int(raw))
    return chosen


def _record_forms(project: Project, actor: accounts.Actor, added: set[int], removed: set[int]) -> None:
    """The audit log's entries for forms given to or taken from an app user, as the REST routes write."""
    names = {f.id: f.xml_form_id for f, _def in project_forms(db(), project.id)}
    for action, ids in (("field_key.assignment.create", added), ("field_key.assignment.delete", removed)):
        for form_id in sorted(ids):
            audit(action, actor, {"roleId": 2, "role": "app-user", "projectId": project.id,
                                  "xmlFormId": names.get(form_id)})


def _app_user(project_id: int, actor_id: int) -> accounts.Actor:
    actor = accounts.app_user(db(), project_id, actor_id)
    if actor is None:
        raise problems.NotFound()
    return actor


@bp.get("/<int:actor_id>")
def show(project_id: int, actor_id: int):
    project = project_or_404(project_id, "field_key.list")
    actor = _app_user(project_id, actor_id)
    token = accounts.key_of(db(), actor.id)
    if token is None:
        raise problems.NotFound()
    forms = [f for f, _def in project_forms(db(), project.id)]
    access = accounts.form_access(db(), [actor.id])[actor.id]
    return render_template("app_user.html", project=project, code=_code(project, actor, token),
                           forms=[f for f in forms if f.id in access], fill_base=f"{base_url()}/f/{token}")


@bp.post("/<int:actor_id>/forms")
def set_forms(project_id: int, actor_id: int):
    project = project_or_404(project_id, "assignment.create")
    actor = _app_user(project_id, actor_id)
    check_hand_out(db(), g.actor, project.id, actor.id)
    _record_forms(project, actor, *accounts.set_form_access(db(), actor, _chosen_forms(project)))
    db().commit()
    flash(_("Saved the forms of %(name)s.", name=actor.display_name), "ok")
    return redirect(url_for(".list_app_users", project_id=project.id))


@bp.post("/<int:actor_id>/revoke")
def revoke(project_id: int, actor_id: int):
    project = project_or_404(project_id, "field_key.delete")
    actor = _app_user(project_id, actor_id)
    accounts.revoke_app_user(db(), actor)
    audit("field_key.delete", actor)
    db().commit()
    flash(_("Revoked %(name)s: its QR code no longer works. Submissions already sent are kept.",
            name=actor.display_name), "ok")
    return redirect(url_for(".list_app_users", project_id=project.id))


@bp.get("/print")
def print_sheet(project_id: int):
    """Every active app user's QR code on one printable sheet, for a team's briefing."""
    project = project_or_404(project_id, "field_key.list")
    codes = [_code(project, actor, token) for actor, token in accounts.app_users_of(db(), project.id) if token]
    return render_template("app_users_print.html", project=project, codes=codes)
