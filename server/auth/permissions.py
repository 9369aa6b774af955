"""Roles as sets of verbs, and the one permission check every route goes through.

A caller limited to some areas of a project (server/auth/scope.py) holds its roles there only for
those areas: the verbs that change what the whole project shares (PROJECT_WIDE) are withheld from
it, whatever its role, so every route, page and `verbs` list that asks `verbs_for`/`require` agrees.
What remains is checked per household (submissions) or per person (scope.check_hand_out)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from server.auth.scope import AreaLimited, assigned_areas
from server.models.accounts import Actor, AreaAssignment, FormAssignment, ProjectAssignment
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
                   "dataset.create", "dataset.update", "entity.create", "entity.update", "entity.delete",
                   "entity.restore", "public_link.list", "public_link.create", "public_link.delete"}

ROLES: dict[str, Role] = {r.system: r for r in [
    Role(1, "admin", "Administrator", frozenset({"*"})),
    Role(2, "app-user", "App User", frozenset({"open_form.list", "open_form.read", "submission.create"})),
    Role(3, "manager", "Project Manager", frozenset(_MANAGE | {"project.delete"})),
    Role(4, "viewer", "Project Viewer", frozenset(_READ)),
    Role(5, "formfill", "Data Collector", frozenset({"project.read", "open_form.list", "open_form.read",
                                                     "submission.create"})),
    # A public link (server/models/public_links.py) holds this role on its one form.
    Role(6, "pub-link", "Public Link", frozenset({"open_form.read", "submission.create"})),
]}
ROLES_BY_ID = {r.id: r for r in ROLES.values()}

# What the whole project shares: its settings, forms (drafts, versions, media, state, indicators
# workbook), area registry, app users (whose keys submit and edit anywhere in the project) and Entity
# Lists themselves (their settings, properties, new lists: every commune's households live in one
# list). Only a caller holding its role for the whole project may change them or read the app users'
# keys; the entities in a list are checked per household (scope.entity_scope).
PROJECT_WIDE = frozenset({"project.update", "project.delete", "form.create", "form.update", "form.delete",
                          "field_key.create", "field_key.list", "field_key.delete", "dataset.create",
                          "dataset.update", "public_link.create", "public_link.delete"})


def role_by_ref(ref: str) -> Role | None:
    """Assignment URLs name a role by id (`2`) or by system name (`app-user`)."""
    if ref.isdigit():
        return ROLES_BY_ID.get(int(ref))
    return ROLES.get(ref)


def verbs_for(db: Session, actor: Actor | None, project_id: int | None, form_id: int | None = None) -> set[str]:
    """The verbs the actor's roles grant in the project (and on the form), less PROJECT_WIDE when the
    actor is limited to some areas of the project."""
    verbs = _role_verbs(db, actor, project_id, form_id)
    if actor is not None and verbs & PROJECT_WIDE and "*" not in verbs and _limited(db, actor.id, project_id):
        verbs -= PROJECT_WIDE
    return verbs


def _limited(db: Session, actor_id: int, project_id: int | None) -> bool:
    return project_id is not None and db.scalar(
        select(AreaAssignment.area_code).where(AreaAssignment.actor_id == actor_id,
                                               AreaAssignment.project_id == project_id).limit(1)) is not None


def _role_verbs(db: Session, actor: Actor | None, project_id: int | None, form_id: int | None) -> set[str]:
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
        if project_id is not None and can(_role_verbs(db, actor, project_id, form_id), *wanted):
            raise area_limited(db, actor, project_id)
        raise InsufficientRights()
    return verbs


def area_limited(db: Session, actor: Actor, project_id: int) -> AreaLimited:
    """The 403 for a caller whose role would allow the action but who holds it only for some areas."""
    areas = assigned_areas(db, actor.id, project_id)
    return AreaLimited(
        f"You hold your role in this project only for {', '.join(areas)}, so you may not change what the whole "
        "project shares: its settings, forms, area registry, indicators workbooks, app users or Entity Lists. "
        "Ask a project manager of the whole project or a site administrator.", areas)


def require_site_admin(actor: Actor | None) -> None:
    if actor is None:
        raise AuthenticationFailed("This resource needs you to sign in.")
    if not actor.is_site_admin:
        raise InsufficientRights("Only site administrators may do this.")
