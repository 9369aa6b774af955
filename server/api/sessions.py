"""Sign-in with email and password for a bearer token (POST /v1/sessions), and sign-out."""
from __future__ import annotations

from flask import Blueprint, g, request
from sqlalchemy import delete

from server import problems
from server.api.common import commit, json_body, success
from server.api.schemas import SessionIn
from server.auth.throttle import user_for_password
from server.context import audit, db, settings
from server.db import isoformat
from server.models.accounts import Actor, AuthSession, create_session

bp = Blueprint("sessions", __name__, url_prefix="/v1/sessions")


@bp.post("")
def sign_in():
    body = json_body(SessionIn())
    user = user_for_password(db(), body["email"], body["password"])
    if user is None:
        raise problems.AuthenticationFailed("Incorrect email address and/or password.")
    session = create_session(db(), user, settings().session_hours)
    audit("user.session.create", user, {"userAgent": request.headers.get("User-Agent")}, actor=user)
    commit()
    return {"token": session.token, "csrf": session.csrf, "createdAt": isoformat(session.created_at),
            "expiresAt": isoformat(session.expires_at)}


@bp.get("/restore")
def restore():
    if g.auth_session is None:
        raise problems.NotFound("There is no session to restore.")
    s = g.auth_session
    return {"token": s.token, "csrf": s.csrf, "createdAt": isoformat(s.created_at), "expiresAt": isoformat(s.expires_at)}


@bp.delete("/<token>")
def sign_out(token: str):
    """Ending your own session, or (as a manager) an app user's: Central revokes app users this way."""
    if g.actor is None:
        raise problems.AuthenticationFailed()
    session = db().get(AuthSession, token)
    if session is None:
        raise problems.NotFound("There is no such session.")
    if session.actor_id != g.actor.id:
        from server.api.app_users import require_manage_app_user

        require_manage_app_user(session.actor_id)
    db().execute(delete(AuthSession).where(AuthSession.token == token))
    if session.actor_id != g.actor.id:   # Central revokes an app user's access this way
        audit("field_key.session.end", db().get(Actor, session.actor_id))
    commit()
    return success()


@bp.delete("/current")
def sign_out_current():
    if g.auth_session is None:
        raise problems.NotFound("There is no current session.")
    db().execute(delete(AuthSession).where(AuthSession.token == g.auth_session.token))
    commit()
    return success()
