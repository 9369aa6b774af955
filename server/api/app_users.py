"""App users: a display name and a 64-character key that ODK Collect carries in its server URL."""
from __future__ import annotations

from flask import Blueprint, g
from sqlalchemy import delete, select

from server import problems
from server.api.common import commit, form_or_404, json_body, project_or_404, success
from server.api.schemas import AppUserIn, app_user_json
from server.auth.permissions import ROLES, require, role_by_ref
from server.auth.scope import check_hand_out
from server.context import audit, db
from server.db import utcnow
from server.models.accounts import APP_USER, Actor, AuthSession, FormAssignment, create_session, end_sessions

bp = Blueprint("app_users", __name__, url_prefix="/v1/projects/<int:project_id>")


def _json(actor: Actor, token: str | None) -> dict:
    return {**app_user_json(actor), "token": token}


def _app_user_or_404(project_id: int, actor_id: int) -> Actor:
    actor = db().get(Actor, actor_id)
    if actor is None or actor.type != APP_USER or actor.project_id != project_id or actor.deleted_at is not None:
        raise problems.NotFound(f"There is no app user {actor_id} in project {project_id}.")
    return actor


def require_manage_app_user(actor_id: int) -> None:
    actor = db().get(Actor, actor_id)
    if actor is None or actor.type != APP_USER:
        raise problems.InsufficientRights()
    require(db(), g.actor, actor.project_id, "field_key.delete")


@bp.get("/app-users")
def list_app_users(project_id: int):
    project_or_404(project_id, "field_key.list")
    rows = db().execute(
        select(Actor, AuthSession.token).outerjoin(AuthSession, AuthSession.actor_id == Actor.id)
        .where(Actor.project_id == project_id, Actor.type == APP_USER, Actor.deleted_at.is_(None))
        .order_by(Actor.created_at.desc(), Actor.id.desc()))
    return [_json(actor, token) for actor, token in rows]


@bp.post("/app-users")
def create_app_user(project_id: int):
    project_or_404(project_id, "field_key.create")
    body = json_body(AppUserIn())
    actor = Actor(type=APP_USER, display_name=body["displayName"], project_id=project_id,
                  created_by_id=g.actor.id if g.actor else None, created_at=utcnow())
    db().add(actor)
    db().flush()
    session = create_session(db(), actor, hours=None)
    audit("field_key.create", actor, {"data": {"displayName": actor.display_name, "projectId": project_id}})
    commit()
    return _json(actor, session.token)


@bp.delete("/app-users/<int:actor_id>")
def delete_app_user(project_id: int, actor_id: int):
    project_or_404(project_id, "field_key.delete")
    actor = _app_user_or_404(project_id, actor_id)
    actor.deleted_at = utcnow()
    end_sessions(db(), actor.id)  # the key stops working at once
    audit("field_key.delete", actor)
    commit()
    return success()


@bp.get("/forms/<xml_form_id>/assignments")
@bp.get("/forms/<xml_form_id>/assignments/<role_ref>")
def list_form_assignments(project_id: int, xml_form_id: str, role_ref: str | None = None):
    form = form_or_404(project_id, xml_form_id, "assignment.list")
    stmt = select(FormAssignment).where(FormAssignment.form_id == form.id)
    if role_ref is not None:
        role = role_by_ref(role_ref)
        if role is None:
            raise problems.NotFound(f"There is no role '{role_ref}'.")
        stmt = stmt.where(FormAssignment.role == role.system)
        rows = db().scalars(stmt)
        actors = [db().get(Actor, a.actor_id) for a in rows]
        return [app_user_json(a) for a in actors if a is not None and a.deleted_at is None]
    return [{"actorId": a.actor_id, "roleId": ROLES[a.role].id} for a in db().scalars(stmt)]


def _form_assignment_target(project_id: int, xml_form_id: str, role_ref: str, actor_id: int):
    form = form_or_404(project_id, xml_form_id, "assignment.create")
    role = role_by_ref(role_ref)
    if role is None or role.system == "admin":
        raise problems.NotFound(f"There is no form role '{role_ref}'.")
    actor = db().get(Actor, actor_id)
    if actor is None or actor.deleted_at is not None:
        raise problems.NotFound(f"There is no actor {actor_id}.")
    if actor.type == APP_USER and actor.project_id != project_id:
        raise problems.NotFound(f"App user {actor_id} belongs to another project.")
    check_hand_out(db(), g.actor, project_id, actor.id)
    return form, role, actor


@bp.post("/forms/<xml_form_id>/assignments/<role_ref>/<int:actor_id>")
def assign_form(project_id: int, xml_form_id: str, role_ref: str, actor_id: int):
    form, role, actor = _form_assignment_target(project_id, xml_form_id, role_ref, actor_id)
    if db().get(FormAssignment, (actor.id, form.id, role.system)) is None:
        db().add(FormAssignment(actor_id=actor.id, form_id=form.id, role=role.system))
        audit(f"{actor.type}.assignment.create", actor, {"roleId": role.id, "role": role.system, "projectId": project_id,
                                                   "xmlFormId": form.xml_form_id})
        commit()
    return success()


@bp.delete("/forms/<xml_form_id>/assignments/<role_ref>/<int:actor_id>")
def unassign_form(project_id: int, xml_form_id: str, role_ref: str, actor_id: int):
    form, role, actor = _form_assignment_target(project_id, xml_form_id, role_ref, actor_id)
    held = db().get(FormAssignment, (actor.id, form.id, role.system)) is not None
    db().execute(delete(FormAssignment).where(FormAssignment.actor_id == actor.id,
                                              FormAssignment.form_id == form.id,
                                              FormAssignment.role == role.system))
    if held:
        audit(f"{actor.type}.assignment.delete", actor, {"roleId": role.id, "role": role.system, "projectId": project_id,
                                                   "xmlFormId": form.xml_form_id})
    commit()
    return success()
