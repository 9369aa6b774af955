"""The server audit log, read as Central's GET /v1/audits: site administrators only; `action` (a
name or one of Central's groups), `start` and `end` (server/params.py parse_timestamp), `limit`,
`offset`; newest first. X-Extended-Metadata adds the `actor` and `actee` objects. There is no route
that changes or removes an entry (server/models/audits.py)."""
from __future__ import annotations

from flask import Blueprint, g, request
from sqlalchemy import select

from server.api.common import is_true
from server.api.schemas import actor_json, form_json, project_json, user_json
from server.auth.permissions import require_site_admin
from server.context import db
from server.db import isoformat
from server.models import audits
from server.models.accounts import USER
from server.models.forms import FormDef
from server.params import non_negative_int, parse_timestamp

bp = Blueprint("audits", __name__, url_prefix="/v1/audits")


def actee_key(entry: audits.Audit) -> str | None:
    """Central's acteeId is an opaque string naming one object of any kind; Hamlet's is `type:id`."""
    return f"{entry.actee_type}:{entry.actee_id}" if entry.actee_type else None


def entry_json(entry: audits.Audit) -> dict:
    return {"actorId": entry.actor_id, "action": entry.action, "acteeId": actee_key(entry),
            "details": entry.details, "notes": entry.notes, "loggedAt": isoformat(entry.logged_at)}


def _actor(actor) -> dict:
    return user_json(actor) if actor.type == USER else actor_json(actor)


def extended_json(found: list[audits.Audit]) -> list[dict]:
    """Each entry with `actor` and `actee` (an Actor, Project, Form or Dataset, deleted ones too), in
    a query per kind of object rather than per entry."""
    from server.api.datasets import dataset_json

    actors = audits.actors_named(db(), found)
    others = audits.actees_named(db(), found)
    def_ids = {f.current_def_id or f.draft_def_id for (kind, _), f in others.items() if kind == "form"}
    defs = {d.id: d for d in db().scalars(select(FormDef).where(FormDef.id.in_(def_ids)))} if def_ids else {}
    out = []
    for e in found:
        body = entry_json(e)
        actor = actors.get(e.actor_id) if e.actor_id is not None else None
        body["actor"] = _actor(actor) if actor is not None else None
        actee = None
        if e.actee_type == "actor":
            obj = actors.get(e.actee_id or 0)
            actee = _actor(obj) if obj is not None else None
        elif e.actee_type is not None:
            obj = others.get((e.actee_type, e.actee_id or 0))
            if obj is not None:
                actee = (project_json(obj) if e.actee_type == "project"
                         else form_json(obj, defs.get(obj.current_def_id or obj.draft_def_id))
                         if e.actee_type == "form" else dataset_json(obj))
        body["actee"] = actee
        out.append(body)
    return out


def read_filter(args) -> audits.Filter:
    return audits.Filter(action=(args.get("action") or "").strip() or None,
                         start=parse_timestamp("start", args.get("start")),
                         end=parse_timestamp("end", args.get("end")))


@bp.get("")
def list_audits():
    require_site_admin(g.actor)
    found = audits.entries(db(), read_filter(request.args), limit=non_negative_int("limit", request.args.get("limit")),
                           offset=non_negative_int("offset", request.args.get("offset")) or 0)
    if is_true(request.headers.get("X-Extended-Metadata")):
        return extended_json(found)
    return [entry_json(e) for e in found]
