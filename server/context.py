"""Per-request access to the database session, the blob store and the settings."""
from __future__ import annotations

from urllib.parse import unquote

from flask import current_app, g, request
from sqlalchemy.orm import Session

from server.config import Settings
from server.models.audits import record
from server.models.blobs import BlobStore


def db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["hamlet.sessionmaker"]()
    return g.db


def blobs() -> BlobStore:
    return current_app.extensions["hamlet.blobs"]


def cache():
    return current_app.extensions["hamlet.cache"]


def jobs():
    """The app's job queue (server/jobs.py)."""
    return current_app.extensions["hamlet.jobs"]


def settings() -> Settings:
    return current_app.config["HAMLET"]


def close_db(_exc=None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


_CALLER = object()
MAX_NOTES = 2000


def audit(action: str, actee=None, details: dict | None = None, actor=_CALLER) -> None:
    """Log `action` by the caller (or `actor`) in this request's transaction (server/models/audits.py),
    with Central's X-Action-Notes header, URL-decoded, as its notes."""
    raw = request.headers.get("X-Action-Notes")
    notes = unquote(raw)[:MAX_NOTES] if raw else None
    record(db(), g.get("actor") if actor is _CALLER else actor, action, actee, details, notes)
