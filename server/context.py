"""Per-request access to the database session, the blob store and the settings."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from server.config import Settings
from server.models.blobs import BlobStore


def db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["hamlet.sessionmaker"]()
    return g.db


def blobs() -> BlobStore:
    return current_app.extensions["hamlet.blobs"]


def cache():
    return current_app.extensions["hamlet.cache"]


def settings() -> Settings:
    return current_app.config["HAMLET"]


def close_db(_exc=None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
