"""An entity's life after creation, as Central's lib/resources/entities.js has it: restore, bulk
delete and restore, diffs, audits, versions with their conflict details, and the list's GeoJSON.
(Creating, reading, updating and deleting one entity are in server/api/datasets.py.)"""
from __future__ import annotations

from flask import Blueprint, Response, g, request
from sqlalchemy import select

from server import problems
from server.api.common import commit, is_true, success
from server.api.datasets import _entity, _json_object, _scoped, version_json
from server.api.schemas import actor_json
from server.context import audit, db
from server.exports.entity_geojson import feature_collection
from server.models import entities as en
from server.models import entity_history as history
from server.models.accounts import Actor
from server.models.entities import Entity, EntityVersion
from server.odata.entities import entity_filter
from server.params import non_negative_int
from server.xforms.entities import EntityDataInvalid

bp = Blueprint("entities", __name__, url_prefix="/v1/projects/<int:project_id>/datasets/<name>")


def _actor_id() -> int | None:
    return g.actor.id if g.actor else None


def _names() -> dict[int, str]:
    return dict(db().execute(select(Actor.id, Actor.display_name)).all())


def _uuids() -> list[str]:
    ids = _json_object().get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise problems.UnexpectedValue("Send the entities' UUIDs as {\"ids\": [\"…\", …]}.", details={"field": "ids"})
    return ids


@bp.get("/entities/creators")
def creators(project_id: int, name: str):
    dataset, scope = _scoped(project_id, name, "entity.list")
    return [actor_json(a) for a in en.creators_of(db(), dataset, scope)]


@bp.post("/entities/<uuid>/restore")
def restore(project_id: int, name: str, uuid: str):
    dataset, scope = _scoped(project_id, name, "entity.restore")
    try:
        entity = history.deleted_entity(db(), dataset, uuid, scope)
    except EntityDataInvalid:
        raise problems.Problem("Invalid input data type: expected (uuid) to be (valid version 4 UUID)",
                               code="400.11", details={"field": "uuid", "expected": "valid version 4 UUID"}) from None
    if entity is None:
        raise problems.NotFound(f"There is no deleted entity {uuid} in the Entity List '{name}'.")
    history.restore(db(), entity, _actor_id())
    commit()
    return success()


@bp.post("/entities/bulk-delete")
def bulk_delete(project_id: int, name: str):
    """Central answers {count}: how many of the named, live entities of this list were deleted."""
    dataset, scope = _scoped(project_id, name, "entity.delete")
    changed = history.set_deleted(db(), dataset, _uuids(), True, _actor_id(), scope)
    if changed:
        audit("entity.bulk.delete", dataset, {"entityUuids": changed})
    commit()
    return {"success": True, "count": len(changed)}


@bp.post("/entities/bulk-restore")
def bulk_restore(project_id: int, name: str):
    dataset, scope = _scoped(project_id, name, "entity.restore")
    changed = history.set_deleted(db(), dataset, _uuids(), False, _actor_id(), scope)
    if changed:
        audit("entity.bulk.restore", dataset, {"entityUuids": changed})
    commit()
    return {"success": True, "count": len(changed)}


@bp.get("/entities/<uuid>/diffs")
def diffs(project_id: int, name: str, uuid: str):
    dataset, scope = _scoped(project_id, name, "entity.read")
    return history.diffs(en.versions_of(db(), _entity(dataset, uuid, scope)))


@bp.get("/entities/<uuid>/audits")
def audits(project_id: int, name: str, uuid: str):
    dataset, scope = _scoped(project_id, name, "entity.read")
    return history.audit_log(db(), dataset, _entity(dataset, uuid, scope), _names())


@bp.get("/entities/<uuid>/versions")
def versions(project_id: int, name: str, uuid: str):
    """Every version, oldest first, with Central's conflict details; `?relevantToConflict=true` keeps
    the versions someone resolving the current conflict needs."""
    dataset, scope = _scoped(project_id, name, "entity.read")
    entity = _entity(dataset, uuid, scope)
    found = en.versions_of(db(), entity)
    details = history.conflict_details(found, history.last_resolution(db(), entity))
    extended = is_true(request.headers.get("X-Extended-Metadata"))
    names = _names() if extended else {}
    out = []
    for v, extra in zip(found, details, strict=True):
        body = {**version_json(v), **extra}
        body["source"] = {"submission": {"id": v.submission_id}} if v.submission_id else {}
        if extended:
            body["creator"] = None if v.creator_id is None else {"id": v.creator_id,
                                                                 "displayName": names.get(v.creator_id, "")}
        out.append(body)
    if is_true(request.args.get("relevantToConflict")):
        out = [v for v in out if v["relevantToConflict"]]
    return out


@bp.get("/entities/<uuid>/geojson")
def entity_geojson(project_id: int, name: str, uuid: str):
    """One entity's `geometry` as a FeatureCollection of one Feature (none when it has no geometry)."""
    dataset, scope = _scoped(project_id, name, "entity.read")
    entity = _entity(dataset, uuid, scope)
    text = en.current_version(db(), entity).data.get("geometry")
    return Response(feature_collection([(entity.uuid, text)]), content_type="application/json; charset=utf-8")


@bp.get("/entities.geojson")
def entities_geojson(project_id: int, name: str):
    """The `geometry` property of the list's entities as GeoJSON; `$filter` as in OData, `limit`."""
    dataset, scope = _scoped(project_id, name, "entity.list")
    limit = non_negative_int("limit", request.args.get("limit"))
    stmt = (select(Entity.uuid, EntityVersion.data)
            .join(EntityVersion, (EntityVersion.entity_id == Entity.id) & (EntityVersion.version == Entity.version))
            .where(Entity.dataset_id == dataset.id, entity_filter(request.args.get("$filter")),
                   scope.clause(joined=True))
            .order_by(Entity.id.desc()))
    # As in Central, `limit` counts the entities whose geometry has a digit in it. Only each one's
    # UUID and geometry string are held while the body is written.
    found: list[tuple[str, str]] = []
    for uuid, data in db().execute(stmt.execution_options(yield_per=1000)):
        text = (data or {}).get("geometry")
        if isinstance(text, str) and any(c.isdigit() for c in text):
            found.append((uuid, text))
            if limit and len(found) >= limit:
                break
    return Response(feature_collection(found), content_type="application/json; charset=utf-8")
