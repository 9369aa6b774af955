"""Looking up a project or form for the caller: 404 when it is not there, 403/401 when the caller
may not see it. Shared by the REST and OpenRosa routes."""
from __future__ import annotations

from flask import g

from server import problems
from server.auth.permissions import can, require, verbs_for
from server.auth.scope import AreaScope, FormScope, area_scope, entity_scope, form_scope
from server.context import cache, db
from server.models.forms import Form, FormDef, live_form
from server.models.projects import Project, live_project


def project_or_404(project_id: int, *verbs: str) -> Project:
    project = live_project(db(), project_id)
    if project is None:
        raise problems.NotFound(f"There is no project {project_id}.")
    if verbs:
        require(db(), g.actor, project.id, *verbs)
    return project


def form_or_404(project_id: int, xml_form_id: str, *verbs: str) -> Form:
    project = live_project(db(), project_id)
    form = live_form(db(), project_id, xml_form_id) if project is not None else None
    if form is None:
        raise problems.NotFound(f"There is no form '{xml_form_id}' in project {project_id}.")
    if verbs:
        require(db(), g.actor, project_id, *verbs, form_id=form.id)
    return form


def readable_form(project_id: int, xml_form_id: str, draft: bool = False) -> tuple[Form, FormDef]:
    """Central's canReadForm: drafts need form.update; closed forms need form.read; open ones open_form.read."""
    form = form_or_404(project_id, xml_form_id)
    verbs = verbs_for(db(), g.actor, project_id, form.id)
    def_id = form.draft_def_id if draft else form.current_def_id
    if draft or def_id is None:
        wanted: tuple[str, ...] = ("form.update",)
    elif form.state == "closed":
        wanted = ("form.read",)
    else:
        wanted = ("form.read", "open_form.read")
    if not can(verbs, *wanted):
        if g.actor is None:
            raise problems.AuthenticationFailed("Sign in to read this form.")
        raise problems.InsufficientRights()
    if def_id is None:
        raise problems.NotFound("This form has no draft." if draft else "This form has not been published yet.")
    return form, db().get_one(FormDef, def_id)


def caller_area_scope(project_id: int) -> AreaScope | None:
    """The areas the caller is limited to in the project (None: the whole project)."""
    return area_scope(db(), g.actor, project_id)


def submission_scope(form: Form) -> FormScope | None:
    """The caller's scope over the form's submissions (None: all of them); 403 when the caller is
    limited to some areas and the form has no area field to tell where a household is."""
    return form_scope(db(), g.actor, form)


def entities_scope(dataset, strict: bool = True):
    """The caller's scope over an Entity List's entities (an EntityScope: all of them, or its areas');
    403 when the caller is limited and the list has no area property (unless not `strict`)."""
    return entity_scope(db(), g.actor, dataset, cache(), strict)


def list_owner(project_id: int, owner_only: bool) -> int | None:
    """Whose entities the caller gets of an Entity List served to Collect: on an ownerOnly list, a
    caller who may not list entities (an app user, a data collector) gets only those it created
    (Central's filteredAccessActorId). None: all of them."""
    if not owner_only or can(verbs_for(db(), g.actor, project_id), "entity.list"):
        return None
    return g.actor.id if g.actor is not None else -1  # nobody signed in owns nothing
