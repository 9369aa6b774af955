"""First-run setup: the site administrator named by HAMLET_ADMIN_EMAIL / HAMLET_ADMIN_PASSWORD."""
from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from server.models.accounts import create_user, user_by_email

log = logging.getLogger("hamlet")


def ensure_site_admin(app: Flask, email: str, password: str) -> None:
    engine = app.extensions["hamlet.engine"]
    if not inspect(engine).has_table("actors"):
        log.warning("database not migrated yet; run `hamlet db upgrade` to create the administrator %s", email)
        return
    with app.extensions["hamlet.sessionmaker"]() as db:
        if user_by_email(db, email) is not None:
            return
        try:
            create_user(db, email, password, site_role="admin")
            db.commit()
            log.info("created site administrator %s", email)
        except IntegrityError:  # another worker created it at the same moment
            db.rollback()
