"""Roles as sets of verbs, and the one permission check every route goes through."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from server.models.accounts import Actor, FormAssignment, ProjectAssignment
from server.problems import AuthenticationFailed, InsufficientRights


@dataclass(frozen=True)
class Role:
    id: int
    system: str
    name: str
    verbs: frozenset[str]


_READ = {"project.read", "form.list", "form.read", "open_form.list", "open_form.read",
         "submission.read", "submission.list", "dataset.list", "dataset.read", "entity.list", "entity.read"}
_MANAGE = _READ | {"project.update", "form.create", "form.update", "form.delete", "submission.create",
                   "submission.update", "submission.delete", "field_key.create", "field_key.list",
                   "field_key.delete", "assignment.list", "assignment.create", "assignment.delete",
                   "dataset.create", "dataset.update", "entity.create", "entity.update", "entity.delete"}

ROLES: dict[str, Role] = {r.system: r for r in [
    Role(1, "admin", "Administrator", frozenset({"*"})),
    Role(2, "app-user", "App User", frozenset({"open_form.list", "open_form.read", "submission.create"})),
    Role(3, "manager", "Project Manager", frozenset(_MANAGE | {"project.delete"})),
    Role(4, "viewer", "Project Viewer", frozenset(_READ)),
    Role(5, "formfill", "Data Collector", frozenset({"project.read", "open_form.list", "open_form.read",
                                                     "submission.create"})),
]}
ROLES_BY_ID = {r.id: r for r in ROLES.values()}


def role_by_ref(ref: str) -> Role | None:
    """Assignment URLs name a role by id (`2`) or by system name (`app-user`)."""
    if ref.isdigit():
        return ROLES_BY_ID.get(int(ref))
    return ROLES.get(ref)


def verbs_for(db: Session, actor: Actor | None, project_id: int | None, form_id: int | None = None) -> set[str]:
    if actor is None:
        return set()
    if actor.is_site_admin:
        return {"*"}
    queries = []
    if project_id is not None:
        queries.append(select(ProjectAssignment.role).where(ProjectAssignment.actor_id == actor.id,
                                                            ProjectAssignment.project_id == project_id))
    if form_id is not None:
        queries.append(select(FormAssignment.role).where(FormAssignment.actor_id == actor.id,
                                                         FormAssignment.form_id == form_id))
    if not queries:
        return set()
    verbs: set[str] = set()
    for role in db.scalars(queries[0] if len(queries) == 1 else union_all(*queries)):
        verbs |= ROLES[role].verbs
    return verbs


def can(verbs: set[str], *wanted: str) -> bool:
    """True when any one of the wanted verbs is granted."""
    return "*" in verbs or any(v in verbs for v in wanted)


def require(db: Session, actor: Actor | None, project_id: int | None, *wanted: str,
            form_id: int | None = None) -> set[str]:
    verbs = verbs_for(db, actor, project_id, form_id)
    if not can(verbs, *wanted):
        if actor is None:
            raise AuthenticationFailed("This resource needs you to sign in (a session token, or an app user key in the URL).")
        raise InsufficientRights()
    return verbs


def require_site_admin(actor: Actor | None) -> None:
    if actor is None:
        raise AuthenticationFailed("This resource needs you to sign in.")
    if not actor.is_site_admin:
        raise InsufficientRights("Only site administrators may do this.")
