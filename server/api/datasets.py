"""Entity Lists and their entities over REST, in Central's JSON shapes (docs/api.yaml of
central-backend; odk-protocol §7.2, §11), and the list served to Collect as a form attachment."""
from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, cast

from flask import Blueprint, Response, g, request, stream_with_context
from sqlalchemy import or_, select

from server import problems
from server.access import entities_scope, list_owner
from server.api.common import commit, is_true, project_or_404, success
from server.api.files import send_blob
from server.auth.permissions import can, require, verbs_for
from server.auth.scope import AreaLimited
from server.context import audit, blobs, db, settings
from server.db import isoformat
from server.models import datasets as ds
from server.models import entities as en
from server.models import entity_backlog
from server.models import entity_history as history
from server.models.accounts import Actor
from server.models.forms import Form, FormAttachment, FormDef

bp = Blueprint("datasets", __name__, url_prefix="/v1/projects/<int:project_id>")


def _dataset(project_id: int, name: str, *verbs: str) -> ds.Dataset:
    project_or_404(project_id)
    dataset = ds.dataset_by_name(db(), project_id, name)
    if dataset is None:
        raise problems.NotFound(f"There is no Entity List '{name}' in project {project_id}.")
    if verbs:
        require(db(), g.actor, project_id, *verbs)
    return dataset


def _scoped(project_id: int, name: str, *verbs: str) -> tuple[ds.Dataset, en.EntityScope]:
    """The list, and the caller's scope over its entities (server/auth/scope.py entity_scope): every
    entity route reads and writes through it, so a caller limited to areas reaches only its households
    and finds any other missing (404); 403 when the list has no area property to tell."""
    dataset = _dataset(project_id, name, *verbs)
    return dataset, entities_scope(dataset)


def _entity(dataset: ds.Dataset, uuid: str, scope: en.EntityScope, lock: bool = False) -> en.Entity:
    entity = en.entity_in(db(), dataset, uuid, lock=lock, scope=scope)
    if entity is None:
        raise problems.NotFound(f"There is no entity {uuid} in the Entity List '{dataset.name}'.")
    return entity


def _json_object() -> dict:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise problems.Unparseable("Send a JSON object as the body.")
    return body


def _check_within(scope: en.EntityScope, data: dict | None, doing: str) -> None:
    """403 when a caller limited to areas would put an entity outside them (or leave it without an area)."""
    if scope.allows(data):
        return
    value = (data or {}).get(scope.area_property or "")
    why = (f"its {scope.area_property} is '{value}', outside them" if isinstance(value, str) and value
           else f"it has no {scope.area_property}, so nothing says it lies in them")
    raise AreaLimited(f"You may {doing} only entities of your areas ({', '.join(sorted(scope.codes or ()))} and "
                      f"below), and {why}. Set {scope.area_property} to one of your areas, or ask a project manager "
                      "of the whole project.", sorted(scope.codes or ()),
                      {"areaProperty": scope.area_property, "value": value if isinstance(value, str) else None})


def _source() -> en.Source:
    return en.Source(g.actor.id if g.actor else None, request.headers.get("User-Agent"))


# --- JSON shapes -----------------------------------------------------------------------------------

def linked_forms(project_id: int, name: str) -> list[tuple[str, str]]:
    """Live forms whose published version reads the list as `{name}.csv` (no file uploaded over it)."""
    rows = db().execute(select(Form.xml_form_id, FormDef.name).join(FormDef, FormDef.id == Form.current_def_id)
                        .join(FormAttachment, FormAttachment.form_def_id == FormDef.id)
                        .where(Form.project_id == project_id, Form.deleted_at.is_(None),
                               FormAttachment.name == f"{name}.csv", FormAttachment.blob_id.is_(None),
                               or_(FormAttachment.dataset_link.is_(None), FormAttachment.dataset_link.is_(True)))
                        .order_by(Form.xml_form_id))
    return [(f, n or f) for f, n in rows]


def dataset_json(dataset: ds.Dataset, full: bool = False) -> dict:
    body: dict[str, Any] = {"name": dataset.name, "createdAt": isoformat(dataset.created_at), "projectId": dataset.project_id,
            "approvalRequired": dataset.approval_required, "ownerOnly": dataset.owner_only}
    if full:
        forms = ds.property_forms(db(), dataset.id)
        body["properties"] = [{"name": p.name, "odataName": p.name.replace(".", "_").replace("-", "_"),
                               "publishedAt": isoformat(p.published_at),
                               "forms": [{"xmlFormId": f, "name": n} for f, n in forms.get(p.id, [])]}
                              for p in ds.properties_of(db(), dataset.id)]
        body["sourceForms"] = [{"xmlFormId": f, "name": n} for f, n in forms.get(None, [])]
        body["linkedForms"] = [{"xmlFormId": f, "name": n} for f, n in linked_forms(dataset.project_id, dataset.name)]
    return body


def version_json(v: en.EntityVersion, with_data: bool = True) -> dict:
    body = {"label": v.label, "current": v.current, "createdAt": isoformat(v.created_at), "creatorId": v.creator_id,
            "userAgent": v.user_agent or "", "version": v.version, "baseVersion": v.base_version,
            "conflictingProperties": v.conflicting_properties, "branchId": v.branch_id,
            "trunkVersion": v.trunk_version, "branchBaseVersion": v.branch_base_version}
    if with_data:
        body["data"] = v.data
        body["dataReceived"] = v.data_received
    return body


def entity_json(entity: en.Entity, current: en.EntityVersion, with_data: bool = True) -> dict:
    return {"uuid": entity.uuid, "creatorId": entity.creator_id, "conflict": entity.conflict,
            "createdAt": isoformat(entity.created_at), "updatedAt": isoformat(entity.updated_at),
            "deletedAt": isoformat(entity.deleted_at), "currentVersion": version_json(current, with_data)}


# --- Entity Lists ----------------------------------------------------------------------------------

@bp.get("/datasets")
def list_datasets(project_id: int):
    project_or_404(project_id, "dataset.list")
    return [dataset_json(d) for d in ds.datasets_of(db(), project_id)]


@bp.post("/datasets")
def create_dataset(project_id: int):
    project_or_404(project_id, "dataset.create")
    body = _json_object()
    name = body.get("name")
    if not isinstance(name, str):
        raise problems.UnexpectedValue("Give the Entity List a name.", details={"field": "name", "value": name})
    dataset = ds.create_dataset(db(), project_id, name, body.get("approvalRequired") is True)
    audit("dataset.create", dataset, {"properties": []})
    commit()
    return dataset_json(dataset, full=True)


@bp.get("/datasets/<name>")
def get_dataset(project_id: int, name: str):
    return dataset_json(_dataset(project_id, name, "dataset.read"), full=True)


@bp.patch("/datasets/<name>")
def patch_dataset(project_id: int, name: str):
    dataset = _dataset(project_id, name, "dataset.update")
    body = _json_object()
    for key in ("approvalRequired", "ownerOnly"):
        if key in body and not isinstance(body[key], bool):
            raise problems.UnexpectedValue(f"{key} must be true or false.", details={"field": key, "value": body[key]})
    if "approvalRequired" in body:
        dataset.approval_required = body["approvalRequired"]
    if "ownerOnly" in body:  # an app user or data collector then gets only the entities it created
        dataset.owner_only = body["ownerOnly"]
    audit("dataset.update", dataset, {"data": {k: body[k] for k in ("approvalRequired", "ownerOnly") if k in body}})
    commit()
    return dataset_json(dataset, full=True)


@bp.post("/datasets/<name>/properties")
def add_property(project_id: int, name: str):
    dataset = _dataset(project_id, name, "dataset.update")
    prop = _json_object().get("name")
    if not isinstance(prop, str):
        raise problems.UnexpectedValue("Give the property a name.", details={"field": "name", "value": prop})
    ds.add_property(db(), dataset, prop)
    audit("dataset.update", dataset, {"properties": [prop]})
    commit()
    return success()


# --- entities --------------------------------------------------------------------------------------

@bp.get("/datasets/<name>/entities")
def list_entities(project_id: int, name: str):
    dataset, scope = _scoped(project_id, name, "entity.list")
    if is_true(request.args.get("deleted")):  # the deleted ones, which may be restored
        return [entity_json(e, v, with_data=False) for e, v in history.deleted_entities(db(), dataset, scope)]
    return [entity_json(e, v, with_data=False) for e, v in en.live_entities(db(), dataset, scope)]


@bp.post("/datasets/<name>/entities")
def create_entities(project_id: int, name: str):
    dataset, scope = _scoped(project_id, name, "entity.create")
    body = _json_object()
    if "entities" not in body:
        _check_within(scope, body.get("data") if isinstance(body.get("data"), dict) else None, "create")
        entity = en.create_from_api(db(), dataset, body, _source())
        current = en.current_version(db(), entity)
        commit()
        return entity_json(entity, current)
    items, source = body["entities"], body.get("source")
    if not isinstance(items, list) or not items:
        raise problems.UnexpectedAttribute("Send entities as a non-empty array.",
                                           details={"expected": ["entities: [...]"]})
    if not isinstance(source, dict) or not isinstance(source.get("name"), str) or not source["name"]:
        raise problems.MissingParameter("A bulk upload needs source.name (the file the entities came from).",
                                        details={"field": "source.name"})
    for item in items:
        if not isinstance(item, dict):
            raise problems.UnexpectedValue("Each entity must be a JSON object.", details={"field": "entities"})
        _check_within(scope, item.get("data") if isinstance(item.get("data"), dict) else None, "create")
    for item in items:
        en.create_from_api(db(), dataset, item, _source())
    commit()
    return success()


@bp.get("/datasets/<name>/entities/<uuid>")
def get_entity(project_id: int, name: str, uuid: str):
    dataset, scope = _scoped(project_id, name, "entity.read")
    entity = _entity(dataset, uuid, scope)
    return entity_json(entity, en.current_version(db(), entity))


@bp.patch("/datasets/<name>/entities/<uuid>")
def update_entity(project_id: int, name: str, uuid: str):
    dataset, scope = _scoped(project_id, name, "entity.update")
    entity = _entity(dataset, uuid, scope, lock=True)
    resolve = is_true(request.args.get("resolve"))
    body = request.get_json(force=True, silent=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise problems.Unparseable("Send a JSON object as the body.")
    data = body.get("data")
    if scope.limited and isinstance(data, dict) and scope.area_property in data:  # moving it: only within
        _check_within(scope, data, "move")
    en.update_from_api(db(), dataset, entity, body, request.args.get("baseVersion"),
                       is_true(request.args.get("force")), resolve, _source())
    if resolve:  # kept so …/versions can tell which conflicts were resolved (entity_history.py)
        history.record(db(), entity, history.RESOLVE, g.actor.id if g.actor else None)
    current = en.current_version(db(), entity)
    commit()
    return entity_json(entity, current)


@bp.delete("/datasets/<name>/entities/<uuid>")
def delete_entity(project_id: int, name: str, uuid: str):
    dataset, scope = _scoped(project_id, name, "entity.delete")
    history.delete(db(), _entity(dataset, uuid, scope), g.actor.id if g.actor else None)
    commit()
    return success()


@bp.get("/datasets/<name>/entities.csv")
def entities_csv(project_id: int, name: str):
    dataset, scope = _scoped(project_id, name, "entity.list")
    props = [p.name for p in ds.properties_of(db(), dataset.id)]
    names = dict(db().execute(select(Actor.id, Actor.display_name)).all())

    def rows() -> Iterator[list]:
        yield ["__id", "label", *props, "__createdAt", "__creatorId", "__creatorName", "__updates", "__updatedAt",
               "__version"]
        for e, v in en.live_entities(db(), dataset, scope):
            yield [e.uuid, v.label, *(v.data.get(p, "") for p in props), isoformat(e.created_at), e.creator_id or "",
                   names.get(e.creator_id, ""), e.version - 1, isoformat(e.updated_at) or "", v.version]

    # Streamed inside the request's context, whose session the rows are read from (closed after).
    resp = Response(stream_with_context(_csv(rows())), content_type="text/csv; charset=utf-8")
    resp.headers["Content-Disposition"] = f'attachment; filename="{dataset.name}.csv"'
    return resp


def _csv(rows: Iterator[list] | Iterator[list | tuple]) -> Iterator[bytes]:
    """Rows as CSV bytes, 1,000 rows per chunk (one writerows call each)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    while batch := list(itertools.islice(rows, 1000)):
        writer.writerows(batch)
        yield out.getvalue().encode("utf-8")
        out.seek(0)
        out.truncate()


# --- for ODK Collect -------------------------------------------------------------------------------

def entity_list_file(project_id: int, name: str, link: bool | None = None) -> Response | None:
    """`households.csv` of a form, served from the Entity List `households` (odk-protocol §2, §11):
    `name,label,__version` then the properties, newest first; ETag is the manifest's hash. A caller
    limited to areas (a supervisor, a data collector or an app user given villages) gets only its
    areas' households, and an ownerOnly list only the caller's own, each with a hash of its own."""
    dataset = ds.list_for_attachment(db(), project_id, name, link)
    if dataset is None:
        return None
    props = [p.name for p in ds.properties_of(db(), dataset.id)]
    owner = list_owner(project_id, dataset.owner_only)
    scope = entities_scope(dataset)

    def rows() -> Iterator[list | tuple]:
        yield ["name", "label", "__version", *props]
        yield from en.list_rows(db(), dataset, props, scope, owner)

    def written_by_postgresql(body: Iterator[bytes]) -> Iterator[bytes]:
        yield from _csv(iter([["name", "label", "__version", *props]]))
        yield from body

    list_hash = ds.list_hash(db(), dataset, owner, scope, props)
    whole = owner is None and not scope.limited
    if whole:
        # The whole list, as most phones of a team fetch it: rendered once per state of the list into the
        # blob store (content-addressed, so every node and worker shares it), then sent as a file.
        key = (settings().database_url, blobs().describe(), dataset.id, list_hash)
        found = _rendered.get(key)
        if found is None:
            copied = en.list_csv_copy(db(), dataset, props, scope, owner)
            body = _csv(rows()) if copied is None else written_by_postgresql(copied)
            found = blobs().put_stream(cast(IO[bytes], _ChunkReader(body)))
            if len(_rendered) > 256:
                _rendered.clear()
            _rendered[key] = found
        sha, _md5, size = found
        resp = send_blob(blobs(), sha, size, "text/csv; charset=utf-8", name, list_hash)
        resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return resp
    copied = en.list_csv_copy(db(), dataset, props, scope, owner)  # PostgreSQL writes the rows
    body = _csv(rows()) if copied is None else written_by_postgresql(copied)
    # Streamed: the request's context (its database session) lives until the last row is sent.
    resp = Response(stream_with_context(body), content_type="text/csv; charset=utf-8")
    resp.implicit_sequence_conversion = False  # make_conditional must not buffer the whole list to count it
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.set_etag(list_hash)
    return resp


# (database, store, list id, list hash) → the rendered households.csv in the blob store (sha256, md5, size),
# per process.
# The hash changes exactly when the list's CSV does (models/datasets.py list_hash), so an entry is never
# stale: a changed list is a new key.
_rendered: dict[tuple[str, str, int, str], tuple[str, str, int]] = {}


class _ChunkReader:
    """A file object over an iterator of byte chunks, for the blob store's put_stream."""

    def __init__(self, chunks: Iterator[bytes]):
        # A bytearray: appending and taking from the front are amortised O(1), where bytes would copy
        # the whole buffer for each of the many small chunks a block is made of.
        self._chunks, self._buffer = chunks, bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        taken = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:taken])
        del self._buffer[:taken]
        return data


@bp.get("/datasets/<name>/integrity")
def integrity(project_id: int, name: str):
    """Which of the entities Collect holds were deleted (odk-protocol §2, Central's openrosa.js)."""
    from xml.sax.saxutils import quoteattr

    from server.openrosa.headers import add_openrosa_headers

    problems.answer_as_openrosa()
    dataset = _dataset(project_id, name)
    verbs = verbs_for(db(), g.actor, project_id)
    if not can(verbs, "entity.list") and not _reads_a_linked_form(project_id, name):
        if g.actor is None:
            raise problems.AuthenticationFailed("Sign in, or use an app user's server URL with its key.")
        raise problems.InsufficientRights()
    wanted = [i.strip() for i in request.args.get("id", "").split(",") if i.strip()]
    scope = entities_scope(dataset, strict=False)
    rows = db().execute(select(en.Entity.uuid, en.Entity.deleted_at).where(en.Entity.dataset_id == dataset.id,
                                                                            en.Entity.uuid.in_(wanted), scope.clause()))
    known = {u: d is not None for u, d in rows}
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<data>\n<entities>']
    for uuid in wanted:
        # An ID the list never had (or one purged), or one outside the caller's areas, counts as deleted,
        # so Collect drops it.
        parts.append(f"<entity id={quoteattr(uuid)}><deleted>{'true' if known.get(uuid, True) else 'false'}"
                     "</deleted></entity>")
    parts.append("</entities>\n</data>\n")
    resp = Response("\n".join(parts).encode("utf-8"), content_type="text/xml; charset=utf-8")
    return add_openrosa_headers(resp)


def _reads_a_linked_form(project_id: int, name: str) -> bool:
    if g.actor is None:
        return False
    for xml_form_id, _ in linked_forms(project_id, name):
        form = db().scalars(select(Form).where(Form.project_id == project_id, Form.xml_form_id == xml_form_id,
                                               Form.deleted_at.is_(None))).first()
        if form is not None and form.state != "closed" and can(verbs_for(db(), g.actor, project_id, form.id),
                                                                "form.read", "open_form.read"):
            return True
    return False


# --- on the submission -----------------------------------------------------------------------------

@bp.get("/forms/<xml_form_id>/submissions/<instance_id>/audits")
def submission_entity_audits(project_id: int, xml_form_id: str, instance_id: str):
    """What the submission did to entities, as Central's audits: entity.create, entity.update.version,
    entity.error (with the problem's message) and, for an offline update that waited in the backlog,
    submission.backlog.hold, .reprocess and .force (details.entityUuid: which entity); oldest first."""
    from server.access import form_or_404, submission_scope
    from server.models.submission_queries import by_instance

    form = form_or_404(project_id, xml_form_id, "submission.read")
    # The scoped lookup of every submission sub-route: a household outside the caller's areas is 404.
    found = by_instance(db(), form.id, instance_id, scope=submission_scope(form))
    if found is None:
        raise problems.NotFound(f"There is no submission {instance_id} of form '{xml_form_id}'.")
    sub = found[0]
    events: list[tuple[datetime, dict[str, Any]]] = []
    for v, e in en.versions_from_submission(db(), sub.id):
        dataset = db().get(ds.Dataset, e.dataset_id)
        if dataset is None:  # an entity's list is never deleted while it has entities
            continue
        events.append((v.created_at, {"actorId": v.creator_id, "action": "entity.create" if v.version == 1
                                      else "entity.update.version", "loggedAt": isoformat(v.created_at),
                                      "details": {"entity": {"uuid": e.uuid, "dataset": dataset.name},
                                                  "submissionId": sub.id, "submissionDefId": v.submission_def_id}}))
    for err in en.entity_errors_of(db(), sub.id):
        events.append((err.created_at, {"actorId": err.actor_id, "action": "entity.error",
                                        "loggedAt": isoformat(err.created_at),
                                        "details": {"submissionId": sub.id, "submissionDefId": err.submission_def_id,
                                                    "errorMessage": err.message,
                                                    "problem": {"problemCode": float(err.code),
                                                                "problemDetails": None}}}))
    for ev in entity_backlog.events_of(db(), sub.id):
        events.append((ev.logged_at, {"actorId": ev.actor_id, "action": ev.action, "loggedAt": isoformat(ev.logged_at),
                                      "details": {"submissionId": sub.id, "submissionDefId": ev.submission_def_id,
                                                  "entityUuid": ev.entity_uuid}}))
    return [body for _, body in sorted(events, key=lambda pair: pair[0])]
