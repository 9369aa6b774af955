"""A project's registers (its Entity Lists): the lists, each list's households as a table (paged,
filtered by area, label and conflict), and one household's page with its properties, its history and
the submissions that changed it; managers resolve a conflict there.

The same verbs as the REST API (dataset.list/read, entity.list/read, entity.update), and the same
model functions: resolving calls `update_from_api`, as `PATCH …/entities/{uuid}?resolve=true` does.
A caller limited to some areas sees only the households whose area property lies in them (filtered
in SQL, server/models/entities.py); one elsewhere is a 404, and a list with no area property is a 403
saying why, as a form without an area field is on the submissions pages."""
from __future__ import annotations

import math

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from server import problems
from server.access import entities_scope, project_or_404
from server.auth.permissions import can, verbs_for
from server.auth.scope import AreaScopeUnavailable, subtree_codes
from server.context import cache, db
from server.models.areas import areas_of
from server.models.datasets import Dataset, dataset_by_name, datasets_of, properties_of
from server.models.entities import (
    Entity,
    RegisterFilter,
    Source,
    area_property_of,
    entity_in,
    register_count,
    register_page,
    update_from_api,
)
from server.models.submission_list import area_names
from server.web.entity_view import gather
from server.web.i18n import _, current_locale
from server.web.paging import page_number

bp = Blueprint("register", __name__, url_prefix="/projects/<int:project_id>/entity-lists")

PAGE_SIZE = 50
MAX_SEARCH = 100


def _dataset(project_id: int, name: str, *verbs: str):
    project = project_or_404(project_id, *verbs)
    dataset = dataset_by_name(db(), project.id, name)
    if dataset is None:
        raise problems.NotFound(f"There is no Entity List '{name}' in project {project_id}.")
    return project, dataset


def _limits(project_id: int, dataset: Dataset) -> RegisterFilter:
    """The caller's view of the list: every household, or only those of its areas (403 when the list
    has no area property to tell where a household is)."""
    scope = entities_scope(dataset)
    if scope.limited:
        return RegisterFilter(scope.area_property, scope.codes)
    return RegisterFilter(area_property_of(db(), dataset, cache()))


@bp.get("")
def lists(project_id: int):
    project = project_or_404(project_id, "dataset.list")
    verbs = verbs_for(db(), g.actor, project.id)
    rows = []
    for dataset in datasets_of(db(), project.id):
        try:
            count: int | None = register_count(db(), dataset, _limits(project.id, dataset))
        except AreaScopeUnavailable:
            count = None
        rows.append((dataset, count, len(properties_of(db(), dataset.id))))
    return render_template("entity_lists.html", project=project, verbs=verbs, can=can, rows=rows)


@bp.get("/<name>")
def register(project_id: int, name: str):
    project, dataset = _dataset(project_id, name, "entity.list")
    verbs = verbs_for(db(), g.actor, project.id)
    limits = _limits(project.id, dataset)
    search = " ".join((request.args.get("q") or "").split())[:MAX_SEARCH]
    conflict_only = request.args.get("conflict") == "1"
    area = (request.args.get("area") or "").strip()[:64]
    areas = [a for a in areas_of(db(), project.id) if limits.codes is None or a.code in limits.codes] \
        if limits.area_property else []
    errors: dict[str, str] = {}
    codes = limits.codes
    if area and not any(a.code == area for a in areas):
        errors["area"] = _("Choose an area from the list.")
        area = ""
    elif area:
        below = subtree_codes(db(), project.id, [area])
        codes = below if codes is None else codes & below
    wanted = RegisterFilter(limits.area_property, codes, search, conflict_only)
    total = register_count(db(), dataset, wanted)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(page_number(request.args.get("page")), pages)
    rows = register_page(db(), dataset, wanted, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    names = area_names(db(), project.id, {(v.data or {}).get(limits.area_property or "") or "" for _e, v in rows})
    query = {k: v for k, v in (("area", area), ("q", search), ("conflict", "1" if conflict_only else "")) if v}
    return render_template("register.html", project=project, dataset=dataset, verbs=verbs, can=can, rows=rows,
                           total=total, page=page, pages=pages, areas=areas, area=area, search=search,
                           conflict_only=conflict_only, query=query, errors=errors, area_names=names,
                           area_property=limits.area_property), 400 if errors else 200


def _entity(project_id: int, name: str, uuid: str, *verbs: str):
    project, dataset = _dataset(project_id, name, *verbs)
    entity = entity_in(db(), dataset, uuid, scope=entities_scope(dataset))
    if entity is None:
        raise problems.NotFound(f"There is no entity {uuid} in the Entity List '{name}'.")
    return project, dataset, entity


def render_entity(project, dataset: Dataset, entity: Entity, status: int = 200, resolve_error: str | None = None):
    verbs = verbs_for(db(), g.actor, project.id)
    shown = gather(db(), project.id, dataset, entity, area_property_of(db(), dataset, cache()), current_locale(),
                   cache())
    return render_template("entity.html", project=project, dataset=dataset, verbs=verbs, can=can, page=shown,
                           resolve_error=resolve_error), status


@bp.get("/<name>/entities/<uuid>")
def entity(project_id: int, name: str, uuid: str):
    project, dataset, found = _entity(project_id, name, uuid, "entity.read")
    return render_entity(project, dataset, found)


@bp.post("/<name>/entities/<uuid>/resolve")
def resolve(project_id: int, name: str, uuid: str):
    """Mark the conflict resolved, as `PATCH …?resolve=true&baseVersion=` does: the version the manager
    looked at must still be the current one, so a change that arrived meanwhile is seen first."""
    project, dataset, found = _entity(project_id, name, uuid, "entity.update")
    seen = (request.form.get("version") or "").strip()
    if found.conflict is None:
        return render_entity(project, dataset, found, 400, _("This household has no conflict to resolve."))
    try:
        update_from_api(db(), dataset, found, {}, seen, False, True,
                        Source(g.actor.id, request.user_agent.string or None))
    except problems.Problem as exc:
        db().rollback()
        if exc.code != "409.15":
            raise
        fresh = db().get_one(Entity, found.id)
        return render_entity(project, dataset, fresh, 409, _(
            "The household changed while you were reading it (it is now at version %(n)s). Read the new version, "
            "then resolve again.", n=fresh.version))
    db().commit()
    flash(_("Conflict resolved."), "ok")
    return redirect(url_for(".entity", project_id=project.id, name=dataset.name, uuid=found.uuid))

