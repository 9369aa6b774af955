"""Web users: site administrators create them; everyone can see and change their own account."""
from __future__ import annotations

from flask import Blueprint, g, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server import problems
from server.api.common import commit, json_body, success
from server.api.schemas import PasswordChange, ResetInitiate, ResetVerify, UserIn, UserPatch, actor_json, user_json
from server.auth import password_links
from server.auth.permissions import require_site_admin
from server.auth.throttle import is_own_password
from server.context import audit, db
from server.db import utcnow
from server.models import accounts
from server.models.accounts import USER, Actor, actor_for_token, create_user, end_sessions

bp = Blueprint("users", __name__, url_prefix="/v1/users")

MIN_PASSWORD = 10


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise problems.PasswordTooShort(f"The password must be at least {MIN_PASSWORD} characters long.")
    if len(password) > 72 * 4:
        raise problems.Problem("The password is too long.", code="400.38")


def _user_or_404(user_id: int) -> Actor:
    user = db().get(Actor, user_id)
    if user is None or user.type != USER or user.deleted_at is not None:
        raise problems.NotFound(f"There is no user {user_id}.")
    return user


def _current() -> Actor:
    if g.actor is None:
        raise problems.AuthenticationFailed("Sign in first.")
    return g.actor


def _user_json(user: Actor, extended: bool = False) -> dict:
    body = user_json(user)
    if extended:
        body["verbs"] = ["*"] if user.is_site_admin else []
    return body


@bp.get("/current")
def current():
    actor = _current()
    extended = request.headers.get("X-Extended-Metadata", "").lower() == "true"
    if actor.type != USER:
        return {**actor_json(actor), "email": None}
    return _user_json(actor, extended)


@bp.get("")
def list_users():
    require_site_admin(g.actor)
    q = request.args.get("q")
    stmt = select(Actor).where(Actor.type == USER, Actor.deleted_at.is_(None)).order_by(Actor.email)
    if q:
        stmt = stmt.where(Actor.email.contains(q.lower()) | Actor.display_name.contains(q))
    return [_user_json(u) for u in db().scalars(stmt)]


@bp.post("")
def create():
    require_site_admin(g.actor)
    body = json_body(UserIn())
    if body.get("password"):
        check_password_strength(body["password"])
    try:
        user = create_user(db(), body["email"], body.get("password"), body.get("displayName"))
        # Without a password, an emailed link to choose one (Central's accountCreated), sent after the commit.
        invitation = None if body.get("password") else password_links.prepare_invitation(db(), user)
        audit("user.create", user, {"data": {"email": user.email, "displayName": user.display_name}})
        commit()
    except IntegrityError:
        db().rollback()
        raise problems.UniquenessViolation(f"A user with email {body['email']} already exists.",
                                           details={"fields": ["email"], "values": [body["email"]]}) from None
    password_links.deliver(invitation)   # a failure is logged; the account stays, and a reset sends a new link
    return _user_json(user)


@bp.post("/reset/initiate")
def reset_initiate():
    """Central's reset: a link by email. The same answer whether or not the address has an account."""
    body = json_body(ResetInitiate())
    invalidate = request.args.get("invalidate", "").lower() == "true"
    if invalidate:
        require_site_admin(g.actor)   # before the lookup: a refusal must not tell which addresses exist
    if not password_links.email_is_on():
        raise problems.EmailOff()
    if not password_links.plausible_email(body["email"].strip()):
        raise problems.UnexpectedValue("This is not an email address.", details={"field": "email"})
    try:
        with password_links.reset_guard(body["email"]):
            message = password_links.prepare_reset(db(), body["email"], invalidate)
            commit()
    except problems.SignInThrottled as exc:
        exc.message = (f"Too many requests for a password link. Wait {exc.minutes} minute"
                       f"{'s' if exc.minutes > 1 else ''}, then try again.")
        raise
    password_links.deliver(message)
    return success()


@bp.post("/reset/verify")
def reset_verify():
    """The emailed token as Bearer sets the password once; every session of the account ends."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise problems.AuthenticationFailed("Send the token from the password email as 'Authorization: Bearer …'.")
    body = json_body(ResetVerify())
    check_password_strength(body["new"])
    user = password_links.set_password_by_link(db(), token, body["new"])
    if user is None:
        db().rollback()
        if actor_for_token(db(), token) is not None:
            raise problems.InsufficientRights("This is a session token, not the token of a password email.")
        raise problems.AuthenticationFailed("This password link has already been used or has expired. "
                                            "Ask for a new one (POST /v1/users/reset/initiate).")
    notice = password_links.password_changed_notice(user)
    commit()
    password_links.deliver(notice)
    return success()


@bp.get("/<int:user_id>")
def get(user_id: int):
    if _current().id != user_id:
        require_site_admin(g.actor)
    return _user_json(_user_or_404(user_id))


@bp.patch("/<int:user_id>")
def patch(user_id: int):
    if _current().id != user_id:
        require_site_admin(g.actor)
    user = _user_or_404(user_id)
    body = json_body(UserPatch())
    if "email" in body:
        user.email = body["email"].strip().lower()
        user.digest_ha1 = None  # Digest hashes the email; it works again after the next password change
    if "displayName" in body:
        user.display_name = body["displayName"]
    user.updated_at = utcnow()
    audit("user.update", user, {"data": {k: body[k] for k in ("email", "displayName") if k in body}})
    try:
        commit()
    except IntegrityError:
        db().rollback()
        raise problems.UniquenessViolation("Another user already has that email address.") from None
    return _user_json(user)


@bp.put("/<int:user_id>/password")
def change_password(user_id: int):
    if _current().id != user_id:
        raise problems.InsufficientRights("You may only change your own password.")
    user = _user_or_404(user_id)
    body = json_body(PasswordChange())
    if not is_own_password(user, body["old"]):
        raise problems.AuthenticationFailed("The current password is not correct.")
    check_password_strength(body["new"])
    # The caller's own session (a Bearer token) stays; every other device signs in again.
    accounts.change_password(db(), user, body["new"], keep_token=g.auth_session.token if g.auth_session else None)
    notice = password_links.password_changed_notice(user)
    audit("user.update", user, {"data": {"password": True}})
    commit()
    password_links.deliver(notice)
    return success()


@bp.delete("/<int:user_id>")
def delete(user_id: int):
    require_site_admin(g.actor)
    user = _user_or_404(user_id)
    user.deleted_at = utcnow()
    end_sessions(db(), user.id)
    audit("user.delete", user)
    commit()
    return success()
