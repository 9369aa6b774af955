"""Signing in and out, changing one's password, and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from server.context import db
from server.db import utcnow
from server.models.accounts import user_by_email
from server.web import i18n
from server.web import sessions as web_session
from server.web.i18n import _

bp = Blueprint("account", __name__)

# Central's rule, as the REST API's PUT /v1/users/{id}/password applies it.
MIN_PASSWORD = 10
MAX_PASSWORD = 72 * 4


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: `next=https://elsewhere` must not turn sign-in into a redirector."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


_DUMMY_HASH: list[str] = []


def _spend_a_password_check(password: str) -> None:
    """An unknown email costs the same scrypt time as a wrong password: timing tells no one who has an account."""
    from werkzeug.security import check_password_hash, generate_password_hash

    if not _DUMMY_HASH:
        _DUMMY_HASH.append(generate_password_hash("not a password of anyone", method="scrypt"))
    check_password_hash(_DUMMY_HASH[0], password)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    default = url_for("web.projects.list_projects")
    target = safe_next(request.values.get("next"), default)
    if g.actor is not None and request.method == "GET":
        return redirect(target)
    error = None
    email = ""
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        password = request.form.get("password") or ""
        user = user_by_email(db(), email) if email and password else None
        if user is not None and user.check_password(password):
            web_session.sign_in(user)
            return redirect(target)
        if user is None and password:
            _spend_a_password_check(password)
        if email and password:
            error, status = _("The email address or password is not correct."), 401
        else:
            error, status = _("Enter your email address and your password."), 400
    else:
        status = 200
    return render_template("sign_in.html", error=error, email=email, next=target), status


@bp.post("/sign-out")
def sign_out():
    web_session.sign_out()
    return redirect(url_for("web.account.sign_in"))


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    errors: dict[str, str] = {}
    done = False
    if request.method == "POST":
        old = request.form.get("old") or ""
        new = request.form.get("new") or ""
        repeat = request.form.get("repeat") or ""
        user = g.user
        if not old or not user.check_password(old):
            errors["old"] = _("The current password is not correct.")
        if len(new) < MIN_PASSWORD:
            errors["new"] = _("The new password must be at least %(n)s characters long.", n=MIN_PASSWORD)
        elif len(new) > MAX_PASSWORD:
            errors["new"] = _("The new password is too long.")
        elif new != repeat:
            errors["repeat"] = _("The two new passwords are not the same.")
        if not errors:
            user.set_password(new)
            user.updated_at = utcnow()
            web_session.end_other_sessions(user)
            db().commit()
            done = True
    return render_template("password.html", errors=errors, done=done), 400 if errors else 200


@bp.post("/language")
def language():
    """Remembered on the user when signed in, in the cookie session before that."""
    chosen = i18n.normalise(request.form.get("language"))
    if chosen is not None:
        if g.get("user") is not None:
            g.user.language = chosen
            db().commit()
        session["lang"] = chosen
    return redirect(safe_next(request.form.get("next"), url_for("web.home")))
