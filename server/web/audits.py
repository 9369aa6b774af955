"""The audit log for site administrators: who did what, when; filtered by action, dates and person.

Read only, like GET /v1/audits (server/api/audits.py): the page has no form that changes an entry.
Days are Vietnam's (a day runs from its midnight in Asia/Ho_Chi_Minh), as on the submissions table."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import Blueprint, g, render_template, request

from server.auth.permissions import require_site_admin
from server.context import db
from server.models import accounts, audits
from server.params import MAX_INT
from server.web.filters import read_days
from server.web.i18n import N_, TIMEZONE, _
from server.web.paging import Page, page_number

bp = Blueprint("audits", __name__, url_prefix="/audit-log")

PAGE_SIZE = 50

# What each action means, in plain words (the action's name is shown beside it).
ACTION_LABELS = {
    "user.session.create": N_("Signed in"),
    "user.session.throttled": N_("Sign-in refused: too many wrong passwords"),
    "user.create": N_("Created a user"),
    "user.update": N_("Changed a user (name, email or password)"),
    "user.delete": N_("Deleted a user"),
    "user.assignment.create": N_("Gave a role"),
    "user.assignment.delete": N_("Took away a role"),
    "field_key.assignment.create": N_("Gave an app user a form"),
    "field_key.assignment.delete": N_("Took a form from an app user"),
    "area_assignment.update": N_("Changed the areas someone may see"),
    "project.create": N_("Created a project"),
    "project.update": N_("Changed a project"),
    "project.delete": N_("Deleted a project"),
    "form.create": N_("Uploaded a new form"),
    "form.update": N_("Changed a form's state"),
    "form.update.draft.set": N_("Uploaded a draft"),
    "form.update.publish": N_("Published a form"),
    "form.delete": N_("Deleted a form"),
    "form.submission.export": N_("Downloaded submissions"),
    "field_key.create": N_("Created an app user"),
    "field_key.session.end": N_("Revoked an app user's key"),
    "field_key.delete": N_("Revoked an app user"),
    "public_link.create": N_("Created a public link"),
    "public_link.session.end": N_("Revoked a public link"),
    "public_link.delete": N_("Deleted a public link"),
    "webhook.create": N_("Added a webhook (submissions sent to another system)"),
    "webhook.update": N_("Changed a webhook's address"),
    "webhook.delete": N_("Deleted a webhook"),
    "submission.update": N_("Reviewed a submission"),
    "submission.update.version": N_("Edited a submission"),
    "submission.delete": N_("Deleted a submission"),
    "submission.restore": N_("Restored a submission"),
    "dataset.create": N_("Created an Entity List"),
    "dataset.update": N_("Changed an Entity List"),
    "entity.bulk.delete": N_("Deleted entities"),
    "entity.bulk.restore": N_("Restored entities"),
}
GROUP_LABELS = {
    "nonverbose": N_("Everything but single submissions"),
    "user": N_("Users and sign-ins"),
    "field_key": N_("App users"),
    "project": N_("Projects"),
    "form": N_("Forms and downloads"),
    "submission": N_("Submissions"),
    "dataset": N_("Entity Lists"),
}


@dataclass
class PageFilters:
    action: str = ""
    date_from: str = ""
    date_to: str = ""
    actor: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def query(self) -> dict[str, str]:
        out = {"action": self.action, "from": self.date_from, "to": self.date_to,
               "actor": str(self.actor) if self.actor is not None else ""}
        return {k: v for k, v in out.items() if v}

    def selection(self) -> audits.Filter:
        start = _midnight(date.fromisoformat(self.date_from)) if self.date_from else None
        end = _midnight(date.fromisoformat(self.date_to) + timedelta(days=1)) if self.date_to else None
        return audits.Filter(action=self.action or None, start=start, end=end, actor_id=self.actor)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=TIMEZONE)


def read_filters(args) -> PageFilters:
    """The filters in the query string; an unusable value is dropped with a message for its field."""
    f = PageFilters()
    action = (args.get("action") or "").strip()
    if action in ACTION_LABELS or action in GROUP_LABELS:
        f.action = action
    elif action:
        f.errors["action"] = _("Choose an action from the list.")
    read_days(args, f)
    actor = (args.get("actor") or "").strip()
    if actor.isdigit() and int(actor) <= MAX_INT:
        f.actor = int(actor)
    elif actor:
        f.errors["actor"] = _("Choose a person from the list.")
    return f


def describe(entry: audits.Audit, actors: dict, others: dict) -> str:
    """What the entry acted on, in a few words: a person's name, a project's or a form's."""
    if entry.actee_type == "actor":
        who = actors.get(entry.actee_id)
        if who is None:
            return ""
        return f"{who.display_name} ({who.email})" if who.email and who.email != who.display_name \
            else who.display_name
    obj = others.get((entry.actee_type, entry.actee_id))
    if obj is None:
        return ""
    return getattr(obj, "xml_form_id", None) or getattr(obj, "name", "") or ""


def detail_text(entry: audits.Audit) -> str:
    """The details worth a glance: the submission, the role, the areas, the download's format."""
    d = entry.details or {}
    parts = []
    for key in ("instanceId", "reviewState", "role", "xmlFormId", "format", "table", "address"):
        if d.get(key):
            parts.append(str(d[key]))
    if "areas" in d:
        parts.append(", ".join(d["areas"]) or _("the whole project"))
    data: dict = d["data"] if isinstance(d.get("data"), dict) else {}
    if data.get("password"):
        parts.append(_("password"))
    if data.get("state"):
        parts.append(str(data["state"]))
    return " · ".join(parts)


@bp.get("")
def log():
    require_site_admin(g.actor)
    filters = read_filters(request.args)
    selection = filters.selection()
    total = audits.count(db(), selection)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(page_number(request.args.get("page")), pages)
    found = audits.entries(db(), selection, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    actors = audits.actors_named(db(), found)
    others = audits.actees_named(db(), found)
    rows = [{"entry": e, "actor": actors.get(e.actor_id) if e.actor_id is not None else None,
             "actee": describe(e, actors, others), "details": detail_text(e)} for e in found]
    return render_template("audits.html", rows=rows, page=Page(rows, number, pages, total, PAGE_SIZE),
                           filters=filters, action_labels=ACTION_LABELS, group_labels=GROUP_LABELS,
                           people=accounts.web_users(db())), 400 if filters.errors else 200
