"""Projects and who holds which role in them; also the role list (GET /v1/roles)."""
from __future__ import annotations

from flask import Blueprint, g, request
from marshmallow import fields, validate
from sqlalchemy import delete, func, select

from server import problems
from server.api.common import commit, json_body, project_or_404, success
from server.api.schemas import In, ProjectIn, ProjectPatch, project_json
from server.auth.permissions import ROLES, require_site_admin, role_by_ref, verbs_for
from server.auth.scope import UnknownAreas, area_assignments_of, assigned_areas, check_hand_out, set_areas
from server.context import audit, db
from server.db import utcnow
from server.models.accounts import APP_USER, Actor, ProjectAssignment
from server.models.forms import Form
from server.models.projects import Project

bp = Blueprint("projects", __name__, url_prefix="/v1")


def _project_json(project: Project, extended: bool = False) -> dict:
    body = project_json(project)
    if extended:
        body["forms"] = db().scalar(select(func.count()).select_from(Form).where(
            Form.project_id == project.id, Form.deleted_at.is_(None)))
        body["appUsers"] = db().scalar(select(func.count()).select_from(Actor).where(
            Actor.project_id == project.id, Actor.type == APP_USER, Actor.deleted_at.is_(None)))
        body["lastSubmission"] = None
        body["verbs"] = sorted(verbs_for(db(), g.actor, project.id))
    return body


def _extended() -> bool:
    return request.headers.get("X-Extended-Metadata", "").lower() == "true"


@bp.get("/roles")
def roles():
    return [{"id": r.id, "name": r.name, "system": r.system, "verbs": sorted(r.verbs),
             "createdAt": None, "updatedAt": None} for r in ROLES.values()]


@bp.get("/projects")
def list_projects():
    if g.actor is None:
        raise problems.AuthenticationFailed("Sign in to list projects.")
    stmt = select(Project).where(Project.deleted_at.is_(None)).order_by(Project.name, Project.id)
    if not g.actor.is_site_admin:
        mine = select(ProjectAssignment.project_id).where(ProjectAssignment.actor_id == g.actor.id)
        stmt = stmt.where(Project.id.in_(mine) | (Project.id == g.actor.project_id))
    extended = _extended()
    return [_project_json(p, extended) for p in db().scalars(stmt)]


@bp.post("/projects")
def create_project():
    require_site_admin(g.actor)
    body = json_body(ProjectIn())
    project = Project(name=body["name"], description=body.get("description"), archived=bool(body.get("archived")),
                      created_at=utcnow())
    db().add(project)
    db().flush()
    audit("project.create", project, {"data": body})
    commit()
    return _project_json(project)


@bp.get("/projects/<int:project_id>")
def get_project(project_id: int):
    project = project_or_404(project_id, "project.read")
    return _project_json(project, _extended())


@bp.patch("/projects/<int:project_id>")
def patch_project(project_id: int):
    project = project_or_404(project_id, "project.update")
    body = json_body(ProjectPatch())
    for key, attr in (("name", "name"), ("description", "description"), ("archived", "archived")):
        if key in body:
            setattr(project, attr, body[key])
    project.updated_at = utcnow()
    audit("project.update", project, {"data": body})
    commit()
    return _project_json(project)


@bp.delete("/projects/<int:project_id>")
def delete_project(project_id: int):
    project = project_or_404(project_id, "project.delete")
    project.deleted_at = utcnow()
    audit("project.delete", project)
    commit()
    return success()


@bp.get("/projects/<int:project_id>/assignments")
def list_assignments(project_id: int):
    project_or_404(project_id, "assignment.list")
    rows = db().execute(select(ProjectAssignment).where(ProjectAssignment.project_id == project_id))
    return [{"actorId": a.actor_id, "roleId": ROLES[a.role].id} for (a,) in rows]


def _assignment_target(project_id: int, role_ref: str, actor_id: int):
    project_or_404(project_id, "assignment.create")
    role = role_by_ref(role_ref)
    if role is None or role.system in ("admin", "app-user"):
        raise problems.NotFound(f"There is no project role '{role_ref}'. Use manager, viewer or formfill.")
    actor = db().get(Actor, actor_id)
    if actor is None or actor.deleted_at is not None:
        raise problems.NotFound(f"There is no user {actor_id}.")
    return role, actor


@bp.post("/projects/<int:project_id>/assignments/<role_ref>/<int:actor_id>")
def assign(project_id: int, role_ref: str, actor_id: int):
    role, actor = _assignment_target(project_id, role_ref, actor_id)
    check_hand_out(db(), g.actor, project_id, actor.id)
    if db().get(ProjectAssignment, (actor.id, project_id, role.system)) is None:
        db().add(ProjectAssignment(actor_id=actor.id, project_id=project_id, role=role.system))
        audit(f"{actor.type}.assignment.create", actor, {"roleId": role.id, "role": role.system, "projectId": project_id})
        commit()
    return success()


@bp.delete("/projects/<int:project_id>/assignments/<role_ref>/<int:actor_id>")
def unassign(project_id: int, role_ref: str, actor_id: int):
    role, actor = _assignment_target(project_id, role_ref, actor_id)
    check_hand_out(db(), g.actor, project_id, actor.id)
    held = db().get(ProjectAssignment, (actor.id, project_id, role.system)) is not None
    db().execute(delete(ProjectAssignment).where(ProjectAssignment.actor_id == actor.id,
                                                 ProjectAssignment.project_id == project_id,
                                                 ProjectAssignment.role == role.system))
    if held:
        audit(f"{actor.type}.assignment.delete", actor, {"roleId": role.id, "role": role.system, "projectId": project_id})
    commit()
    return success()


# --- area-scoped roles (Hamlet's extension; server/auth/scope.py) ---------------------------------

class AreasIn(In):
    areas = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True)


def _area_actor(project_id: int, actor_id: int) -> Actor:
    actor = db().get(Actor, actor_id)
    if actor is None or actor.deleted_at is not None or (actor.type == APP_USER and actor.project_id != project_id):
        raise problems.NotFound(f"There is no user {actor_id}.")
    return actor


@bp.get("/projects/<int:project_id>/assignments/areas")
def list_area_assignments(project_id: int):
    """Every actor limited to some areas of the project, with its areas; an actor not listed sees it all."""
    project_or_404(project_id, "assignment.list")
    return [{"actorId": actor_id, "areas": codes} for actor_id, codes in area_assignments_of(db(), project_id).items()]


@bp.get("/projects/<int:project_id>/assignments/<int:actor_id>/areas")
def get_area_assignment(project_id: int, actor_id: int):
    project_or_404(project_id, "assignment.list")
    actor = _area_actor(project_id, actor_id)
    return {"actorId": actor.id, "areas": assigned_areas(db(), actor.id, project_id)}


@bp.put("/projects/<int:project_id>/assignments/<int:actor_id>/areas")
def put_area_assignment(project_id: int, actor_id: int):
    """Replace the actor's areas: `{"areas": ["DN-HV-HP"]}` limits each of its roles in the project to
    those areas and everything below them; `{"areas": []}` gives it the whole project again."""
    project_or_404(project_id, "assignment.create")
    actor = _area_actor(project_id, actor_id)
    wanted = json_body(AreasIn())["areas"]
    if actor.is_site_admin and wanted:
        raise problems.UnexpectedValue(f"User {actor.id} is a site administrator; administrators are never limited "
                                       "to some areas.", details={"field": "areas"})
    check_hand_out(db(), g.actor, project_id, actor.id, [c.strip() for c in wanted if c.strip()])
    before = assigned_areas(db(), actor.id, project_id)
    try:
        codes = set_areas(db(), actor.id, project_id, wanted)
    except UnknownAreas as exc:
        db().rollback()
        raise problems.UnexpectedValue(f"These area codes are not in this project's registry: {', '.join(exc.codes)}. "
                                       "Nothing was changed.", details={"field": "areas", "unknown": exc.codes}) from None
    if sorted(before) != sorted(codes):
        audit("area_assignment.update", actor, {"projectId": project_id, "areas": codes, "previous": before})
    commit()
    return {"actorId": actor.id, "areas": codes}


@bp.post("/assignments/<role_ref>/<int:actor_id>")
def assign_site_role(role_ref: str, actor_id: int):
    require_site_admin(g.actor)
    role = role_by_ref(role_ref)
    actor = db().get(Actor, actor_id)
    if role is None or role.system != "admin" or actor is None or actor.type != "user":
        raise problems.NotFound("Only the admin role can be granted site-wide, and only to web users.")
    if actor.site_role != "admin":
        actor.site_role = "admin"
        audit("user.assignment.create", actor, {"roleId": role.id, "role": "admin"})
    commit()
    return success()
