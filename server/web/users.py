"""Web users, for site administrators: create (email, name, password — or an emailed invitation to
choose one), reset a password or email a link to set one, delete.

The rules are the REST API's (server/api/users.py): only site administrators, passwords of at least
10 characters, one account per email address; a deleted user is signed out everywhere at once."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from server import problems
from server.auth import password_links
from server.auth.permissions import require_site_admin
from server.context import audit, db
from server.models import accounts
from server.web.account import MAX_PASSWORD, MIN_PASSWORD
from server.web.i18n import _

bp = Blueprint("users", __name__, url_prefix="/users")

MAX_EMAIL = 320
MAX_NAME = 255


def render_users(status: int = 200, errors: dict | None = None, values: dict | None = None):
    return render_template("users.html", users=accounts.web_users(db()), errors=errors or {}, values=values or {},
                           min_password=MIN_PASSWORD, email_on=password_links.email_is_on()), status


@bp.get("")
def list_users():
    require_site_admin(g.actor)
    return render_users()


def password_error(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return _("The password must be at least %(n)s characters long.", n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return _("The password is too long.")
    return None


@bp.post("")
def create():
    require_site_admin(g.actor)
    email = (request.form.get("email") or "").strip().lower()
    name = " ".join((request.form.get("name") or "").split())
    password = request.form.get("password") or ""
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = _("Enter the user's email address.")
    elif len(email) > MAX_EMAIL or "@" not in email.strip("@") or any(c.isspace() for c in email):
        errors["email"] = _("This is not an email address.")
    if len(name) > MAX_NAME:
        errors["name"] = _("The name is too long.")
    invite = not password and password_links.email_is_on()
    found = None if invite else password_error(password)
    if found:
        errors["password"] = found
    if not errors:
        try:
            user = accounts.create_user(db(), email, password or None, name or None)
            invitation = password_links.prepare_invitation(db(), user) if invite else None
            audit("user.create", user, {"data": {"email": user.email, "displayName": user.display_name}})
            db().commit()
        except IntegrityError:
            db().rollback()
            errors["email"] = _("A user with this email address already exists.")
    if errors:
        return render_users(400, errors, {"email": email, "name": name})
    failed = password_links.deliver(invitation)
    if failed:
        flash(_("Created the user %(email)s, but the invitation email could not be sent (%(error)s). Set a "
                "password for them below, or send a link again later.", email=email, error=failed), "warning")
    elif invite:
        flash(_("Created the user %(email)s and sent them an email to choose a password. Give them a role in a "
                "project.", email=email), "ok")
    else:
        flash(_("Created the user %(email)s. Give them a role in a project.", email=email), "ok")
    return redirect(url_for(".list_users"))


def _user(user_id: int) -> accounts.Actor:
    user = accounts.web_user(db(), user_id)
    if user is None:
        raise problems.NotFound()
    return user


@bp.post("/<int:user_id>/password")
def reset_password(user_id: int):
    """A new password set by an administrator; the user's sessions end, so they sign in with it."""
    require_site_admin(g.actor)
    user = _user(user_id)
    password = request.form.get("password") or ""
    found = password_error(password)
    if found:
        return render_users(400, {f"password-{user.id}": found})
    accounts.change_password(db(), user, password, keep_token=g.web_session.token if user.id == g.actor.id else None)
    notice = password_links.password_changed_notice(user)
    audit("user.update", user, {"data": {"password": True}, "setByAdministrator": True})
    db().commit()
    password_links.deliver(notice)
    flash(_("Set a new password for %(email)s. Tell them in person, not by email.", email=user.email), "ok")
    return redirect(url_for(".list_users"))


@bp.post("/<int:user_id>/link")
def send_link(user_id: int):
    """Email the user a link to set a password: an invitation again, or a reset. Their current password
    keeps working until the link is used."""
    require_site_admin(g.actor)
    user = _user(user_id)
    if not password_links.email_is_on():
        return render_users(400, {f"password-{user.id}": _("This server does not send email.")})
    message = (password_links.prepare_invitation(db(), user) if not user.password_hash
               else password_links.prepare_reset(db(), user.email or ""))
    db().commit()
    failed = password_links.deliver(message)
    if failed:
        flash(_("The email to %(email)s could not be sent (%(error)s).", email=user.email, error=failed), "error")
    else:
        flash(_("Sent %(email)s a link to set a password.", email=user.email), "ok")
    return redirect(url_for(".list_users"))


@bp.post("/<int:user_id>/delete")
def delete(user_id: int):
    require_site_admin(g.actor)
    user = _user(user_id)
    if user.id == g.actor.id:
        return render_users(400, {f"delete-{user.id}": _("You cannot delete your own account.")})
    accounts.delete_user(db(), user)
    audit("user.delete", user)
    db().commit()
    flash(_("Deleted %(email)s; they are signed out everywhere.", email=user.email), "ok")
    return redirect(url_for(".list_users"))
