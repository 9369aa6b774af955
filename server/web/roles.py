"""Who holds which role in a project: project managers, viewers and data collectors.

The REST API's rules (server/api/projects.py): listing needs assignment.list, giving and removing a
role assignment.create (site administrators and the project's managers); the roles are manager,
viewer and formfill. A manager limited to some areas gives and removes roles only of users limited
to areas inside its own (scope.check_hand_out). Users are named by email, as in Central; an administrator gets the list of
users to pick from."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from server import problems
from server.access import project_or_404
from server.auth.permissions import ROLES, can, verbs_for
from server.auth.scope import check_hand_out
from server.context import audit, db
from server.models import accounts
from server.models.projects import Project
from server.web.i18n import N_, _

bp = Blueprint("roles", __name__, url_prefix="/projects/<int:project_id>/roles")


ROLE_LABELS = {"manager": N_("Project manager"), "viewer": N_("Viewer"), "formfill": N_("Data collector")}
ROLE_HINTS = {"manager": N_("forms, app users, roles and all data"),
              "viewer": N_("sees forms and data, changes nothing"),
              "formfill": N_("fills open forms in ODK Collect with their email and password")}


def render_roles(project: Project, status: int = 200, errors: dict | None = None, values: dict | None = None):
    verbs = verbs_for(db(), g.actor, project.id)
    return render_template("roles.html", project=project, verbs=verbs, can=can,
                           holders=accounts.project_roles(db(), project.id), roles=accounts.PROJECT_ROLES,
                           role_labels=ROLE_LABELS, role_hints=ROLE_HINTS, errors=errors or {}, values=values or {},
                           users=accounts.web_users(db()) if g.actor.is_site_admin else []), status


@bp.get("")
def list_roles(project_id: int):
    return render_roles(project_or_404(project_id, "assignment.list"))


@bp.post("")
def assign(project_id: int):
    project = project_or_404(project_id, "assignment.create")
    email = (request.form.get("email") or "").strip().lower()
    role = request.form.get("role") or ""
    errors: dict[str, str] = {}
    user = accounts.user_by_email(db(), email) if email else None
    if not email:
        errors["email"] = _("Enter the email address of a web user.")
    elif user is None:
        errors["email"] = _("No web user has this email address. A site administrator creates users first.")
    if role not in accounts.PROJECT_ROLES:
        errors["role"] = _("Choose a role.")
    if user is not None and not errors and not _within_callers_areas(project, user):
        errors["email"] = _("You may see only some areas of this project, so you may give roles only to other "
                            "users limited to areas inside yours.")
    if errors or user is None:
        return render_roles(project, 400, errors, {"email": email, "role": role})
    if accounts.assign_role(db(), project.id, user, role):
        audit("user.assignment.create", user, {"roleId": ROLES[role].id, "role": role, "projectId": project.id})
        db().commit()
        flash(_("%(name)s is now %(role)s in this project.", name=user.display_name, role=_(ROLE_LABELS[role])), "ok")
    else:
        flash(_("%(name)s already has this role.", name=user.display_name), "ok")
    return redirect(url_for(".list_roles", project_id=project.id))


def _within_callers_areas(project: Project, user: accounts.Actor) -> bool:
    """The REST API's rule (scope.check_hand_out): a caller limited to some areas gives roles only to
    others already limited to areas inside its own, and takes them back only from those."""
    try:
        check_hand_out(db(), g.actor, project.id, user.id)
    except problems.InsufficientRights:
        return False
    return True


@bp.post("/<int:actor_id>/<role>/remove")
def remove(project_id: int, actor_id: int, role: str):
    project = project_or_404(project_id, "assignment.create")
    holder = next((a for a, r in accounts.project_roles(db(), project.id) if a.id == actor_id and r == role), None)
    if holder is None:
        raise problems.NotFound()
    check_hand_out(db(), g.actor, project.id, actor_id)  # 403 page when the holder is beyond the caller's areas
    accounts.unassign_role(db(), project.id, actor_id, role)
    audit(f"{holder.type}.assignment.delete", holder, {"roleId": ROLES[role].id, "role": role, "projectId": project.id})
    db().commit()
    flash(_("%(name)s is no longer %(role)s in this project.", name=holder.display_name, role=_(ROLE_LABELS[role])),
          "ok")
    return redirect(url_for(".list_roles", project_id=project.id))
