"""The /v1 REST resources, compatible with ODK Central's API (what pyodk and Central's clients call)."""
from __future__ import annotations

from flask import Flask


def register_api(app: Flask) -> None:
    from server.api import (
        app_users,
        areas,
        audits,
        datasets,
        entities,
        exports,
        forms,
        indicators,
        odata,
        projects,
        public_links,
        sessions,
        submissions,
        users,
        webhooks,
    )

    for module in (sessions, users, projects, forms, app_users, submissions, exports, areas, indicators, odata,
                   datasets, entities, webhooks, public_links, audits):
        app.register_blueprint(module.bp)
    app.register_blueprint(odata.entities_bp)
    app.register_blueprint(odata.bp, name=odata.DRAFT_BLUEPRINT, url_prefix=odata.DRAFT_PREFIX)
