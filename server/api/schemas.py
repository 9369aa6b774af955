"""What goes in and out of the REST API, in Central's JSON shapes (camelCase keys, nulls kept)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from server.db import isoformat


class Timestamp(fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)


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

class ActorOut(Schema):
    id = fields.Integer()
    type = fields.String()
    displayName = fields.String(attribute="display_name")
    createdAt = Timestamp(attribute="created_at")
    updatedAt = Timestamp(attribute="updated_at")
    deletedAt = Timestamp(attribute="deleted_at")


class UserOut(ActorOut):
    email = fields.String()


class AppUserOut(ActorOut):
    """The token is added by the caller: it lives in the sessions table, and is null once revoked."""

    projectId = fields.Integer(attribute="project_id")
    createdBy = fields.Integer(attribute="created_by_id", allow_none=True)


class ProjectOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    archived = fields.Boolean()
    keyId = fields.Integer(attribute="key_id", allow_none=True)
    createdAt = Timestamp(attribute="created_at")
    updatedAt = Timestamp(attribute="updated_at")
    deletedAt = Timestamp(attribute="deleted_at")


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
        "draftToken": None,
        "publishedAt": isoformat(form_def.published_at) if form_def else None,
        "createdAt": isoformat(form.created_at),
        "updatedAt": isoformat(form.updated_at),
        "webformsEnabled": False,
    }
    if extra:
        body.update(extra)
    return body


def attachment_json(attachment, blob) -> dict:
    return {
        "name": attachment.name,
        "type": attachment.type,
        "hash": blob.md5 if blob else None,
        "exists": blob is not None,
        "blobExists": blob is not None,
        "datasetExists": False,
        "updatedAt": isoformat(attachment.updated_at),
    }
