"""Signing in and out, changing one's password, and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from server import problems
from server.auth import password_links
from server.auth.permissions import can, verbs_for
from server.auth.scope import assigned_areas
from server.auth.throttle import is_own_password, user_for_password
from server.context import audit, db
from server.models import password_tokens
from server.models.accounts import change_password
from server.models.projects import visible_projects
from server.web import i18n
from server.web import sessions as web_session
from server.web.errors import throttled_message
from server.web.i18n import _

bp = Blueprint("account", __name__)

# Central's rule, as the REST API's PUT /v1/users/{id}/password applies it.
MIN_PASSWORD = 10
MAX_PASSWORD = 72 * 4


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: `next=https://elsewhere` must not turn sign-in into a redirector."""
    if not target or not target.isprintable():  # CR/LF would split the Location header
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def landing_page(user) -> str:
    """Where a signed-in user starts: an official limited to some areas of their one project, who comes
    to watch progress there, lands on that project's dashboard — of their own area when it is one —
    rather than on a list of one project; everyone else on the projects list."""
    projects = visible_projects(db(), user) if not user.is_site_admin else []
    if len(projects) == 1:
        project = projects[0]
        areas = assigned_areas(db(), user.id, project.id)
        if areas and can(verbs_for(db(), user, project.id), "submission.read"):
            return url_for("web.dashboard.index", project_id=project.id, area=areas[0] if len(areas) == 1 else None)
    return url_for("web.projects.list_projects")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    asked = request.values.get("next")
    target = safe_next(asked, "")
    if g.actor is not None and request.method == "GET":
        return redirect(target or landing_page(g.actor))
    error = None
    email = ""
    status = 200
    headers = {}
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        password = request.form.get("password") or ""
        if not (email and password):
            error, status = _("Enter your email address and your password."), 400
        else:
            try:
                user = user_for_password(db(), email, password)
            except problems.SignInThrottled as exc:
                error, status, headers = throttled_message(exc), 429, exc.headers
            else:
                if user is not None:
                    web_session.sign_in(user)
                    return redirect(target or landing_page(user))
                error, status = _("The email address or password is not correct."), 401
    return render_template("sign_in.html", error=error, email=email, next=target or None), status, headers


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
        if not old:
            errors["old"] = _("The current password is not correct.")
        else:
            try:
                right = is_own_password(user, old)
            except problems.SignInThrottled as exc:
                return render_template("password.html", errors={"old": throttled_message(exc)}, done=False), 429, \
                    exc.headers
            if not right:
                errors["old"] = _("The current password is not correct.")
        errors.update(new_password_errors(new, repeat))
        if not errors:
            change_password(db(), user, new, keep_token=g.web_session.token)  # other devices sign in again
            notice = password_links.password_changed_notice(user)
            audit("user.update", user, {"data": {"password": True}})
            db().commit()
            password_links.deliver(notice)
            done = True
    return render_template("password.html", errors=errors, done=done), 400 if errors else 200


def new_password_errors(new: str, repeat: str) -> dict[str, str]:
    if len(new) < MIN_PASSWORD:
        return {"new": _("The new password must be at least %(n)s characters long.", n=MIN_PASSWORD)}
    if len(new) > MAX_PASSWORD:
        return {"new": _("The new password is too long.")}
    if new != repeat:
        return {"repeat": _("The two new passwords are not the same.")}
    return {}


@bp.route("/account/forgot", methods=["GET", "POST"])
def forgot():
    """An emailed link to set a new password. The page says the same whatever the address: it never
    tells whether an account uses it."""
    email_on = password_links.email_is_on()
    error, status, headers, sent, email = None, 200, {}, False, ""
    if request.method == "POST" and email_on:
        email = (request.form.get("email") or "").strip()
        if not email:
            error, status = _("Enter your email address."), 400
        elif not password_links.plausible_email(email):
            error, status = _("This is not an email address."), 400
        else:
            try:
                with password_links.reset_guard(email):
                    message = password_links.prepare_reset(db(), email)
                    db().commit()
            except problems.SignInThrottled as exc:
                error, status, headers = _("Too many requests for a password link. Wait %(n)s minutes, then try "
                                           "again.", n=exc.minutes), 429, exc.headers
            else:
                password_links.deliver(message)
                sent = True
    return render_template("forgot.html", email_on=email_on, error=error, sent=sent, email=email,
                           hours=int(password_tokens.LIFETIME["reset"].total_seconds() // 3600)), status, headers


_LINK_STATE = {
    "used": lambda: _("This link has already been used. Each link sets a password once."),
    "expired": lambda: _("This link has expired."),
    "unknown": lambda: _("This link is not valid. Check that it was copied whole from the email."),
}


@bp.route("/account/claim", methods=["GET", "POST"])
def claim():
    """The page an invitation or reset email links to (?token=…, as Central's /account/claim): choose a
    password, once. Every session of the account ends; then the owner signs in with the new password."""
    token = (request.values.get("token") or "").strip()
    errors: dict[str, str] = {}
    state = password_tokens.state(db(), token) if token else "unknown"
    if request.method == "POST" and state == "usable":
        new, repeat = request.form.get("new") or "", request.form.get("repeat") or ""
        errors = new_password_errors(new, repeat)
        if not errors:
            user = password_links.set_password_by_link(db(), token, new)
            if user is not None:
                notice = password_links.password_changed_notice(user)
                db().commit()
                password_links.deliver(notice)
                web_session.sign_out()
                flash(_("Your password is set. Sign in with it."), "ok")
                return redirect(url_for("web.account.sign_in"))
            db().rollback()
            state = password_tokens.state(db(), token)
    problem = _LINK_STATE[state]() if state in _LINK_STATE else None
    status = 400 if errors else (410 if state in ("used", "expired") else 404 if problem else 200)
    response = render_template("claim.html", token=token, problem=problem, errors=errors,
                               email_on=password_links.email_is_on())
    # The token is in this page's URL: no Referer carries it anywhere.
    return response, status, {"Referrer-Policy": "no-referrer"}


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
