"""What goes in and out of the REST API, in Central's JSON shapes (camelCase keys, nulls kept).

What comes in is read by marshmallow schemas (`In`): each bad field becomes a 400 naming it
(api/common.py `json_body`). What goes out is built by plain functions, one per resource, whose
dict literal is the response's key order; routes add the conditional keys (verbs, tokens, counts)
to the dict they return."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from server.db import isoformat
from server.models.accounts import Actor
from server.models.projects import Project


class In(Schema):
    class Meta:
        unknown = EXCLUDE


# --- input -----------------------------------------------------------------------------------------

class SessionIn(In):
    email = fields.String(required=True, validate=validate.Length(min=1))
    password = fields.String(required=True)


class UserIn(In):
    email = fields.Email(required=True)
    password = fields.String(load_default=None)
    displayName = fields.String(load_default=None)


class UserPatch(In):
    email = fields.Email()
    displayName = fields.String(validate=validate.Length(min=1, max=255))


class ResetInitiate(In):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))


class ResetVerify(In):
    new = fields.String(required=True)


class PasswordChange(In):
    old = fields.String(required=True)
    new = fields.String(required=True)


class ProjectIn(In):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(load_default=None, allow_none=True)
    archived = fields.Boolean(load_default=None, allow_none=True)


class ProjectPatch(In):
    name = fields.String(validate=validate.Length(min=1, max=255))
    description = fields.String(allow_none=True)
    archived = fields.Boolean(allow_none=True)


class AppUserIn(In):
    displayName = fields.String(required=True, validate=validate.Length(min=1, max=255))


class FormPatch(In):
    state = fields.String(required=True)


# --- output ----------------------------------------------------------------------------------------

def actor_json(actor: Actor) -> dict:
    """Central's Actor: what a web user and an app user share."""
    return {
        "id": actor.id,
        "type": actor.type,
        "displayName": actor.display_name,
        "createdAt": isoformat(actor.created_at),
        "updatedAt": isoformat(actor.updated_at),
        "deletedAt": isoformat(actor.deleted_at),
    }


def user_json(user: Actor) -> dict:
    return {**actor_json(user), "email": user.email}


def app_user_json(actor: Actor) -> dict:
    """Central's App User without its token, which the caller adds: it lives in the sessions table,
    and is null once revoked."""
    return {**actor_json(actor), "projectId": actor.project_id, "createdBy": actor.created_by_id}


def project_json(project: Project) -> dict:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "archived": project.archived,
        "keyId": project.key_id,
        "createdAt": isoformat(project.created_at),
        "updatedAt": isoformat(project.updated_at),
        "deletedAt": isoformat(project.deleted_at),
    }


def form_json(form, form_def, extra: dict | None = None) -> dict:
    """Central's Form: pyodk requires name, enketoId, keyId, updatedAt and publishedAt to be present."""
    body = {
        "projectId": form.project_id,
        "xmlFormId": form.xml_form_id,
        "name": form_def.name if form_def else None,
        "version": form_def.version if form_def else "",
        "enketoId": form.enketo_id,
        "enketoOnceId": None,
        "hash": form_def.hash if form_def else None,
        "sha": form_def.sha if form_def else None,
        "sha256": form_def.sha256 if form_def else None,
        "keyId": form_def.id if form_def is not None and form_def.key_id else None,
        "state": form.state,
        "draftToken": form_def.draft_token if form_def else None,
        "publishedAt": isoformat(form_def.published_at) if form_def else None,
        "createdAt": isoformat(form.created_at),
        "updatedAt": isoformat(form.updated_at),
        "webformsEnabled": False,
    }
    if extra:
        body.update(extra)
    return body


def attachment_json(attachment, blob, dataset_exists: bool = False) -> dict:
    """Central's form attachment: `datasetExists` when it is served from an Entity List."""
    return {
        "name": attachment.name,
        "type": attachment.type,
        "hash": blob.md5 if blob else None,
        "exists": blob is not None or dataset_exists,
        "blobExists": blob is not None,
        "datasetExists": dataset_exists,
        "updatedAt": isoformat(attachment.updated_at),
    }


class PublicLinkIn(In):
    displayName = fields.String(required=True, validate=validate.Length(min=1, max=255))
    once = fields.Boolean(load_default=False)
