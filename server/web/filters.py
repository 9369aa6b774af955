"""The filters of the submissions table and the downloads page, read from the query string.

Both pages turn their filters into the REST export's options (`area`, `areaField`, `from`, `to`,
`reviewState`) and let server/exports/options.py build the selection, so a table and a download
with the same filters hold the same submissions. Dates are days in Vietnam's time, as the pages
show times: `from=2026-11-23` starts at 00:00 (UTC+7) that day, `to` ends at the following midnight."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy.orm import Session

from server import problems
from server.exports.options import area_field_path
from server.models.forms import Form, FormDef
from server.models.indicators import indicator_set
from server.models.submissions import REVIEW_STATES
from server.params import MAX_INT, parse_day
from server.web.i18n import N_, TIMEZONE, _
from server.xforms.labels import fields_choosing_from

# "received": not reviewed yet (Central's null review state).
REVIEW_FILTERS = ("received",) + REVIEW_STATES


REVIEW_LABELS = {"received": N_("Received"), "hasIssues": N_("Has issues"), "edited": N_("Edited"),
                 "approved": N_("Approved"), "rejected": N_("Rejected")}


@dataclass
class Filters:
    area: str = ""
    date_from: str = ""
    date_to: str = ""
    review: str = ""
    submitter: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def query(self) -> dict[str, str]:
        """The filters as query parameters, for links that keep them (pages, downloads)."""
        out = {"area": self.area, "from": self.date_from, "to": self.date_to, "review": self.review,
               "submitter": str(self.submitter) if self.submitter is not None else ""}
        return {k: v for k, v in out.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.query())

    def export_args(self, area_field: str | None) -> dict[str, str]:
        """The REST export's options for these filters (server/exports/options.py)."""
        args: dict[str, str] = {}
        if self.area:
            args["area"] = self.area
        if area_field:
            args["areaField"] = area_field
        if self.date_from:
            args["from"] = _vietnam_midnight(date.fromisoformat(self.date_from)).isoformat()
        if self.date_to:
            args["to"] = _vietnam_midnight(date.fromisoformat(self.date_to) + timedelta(days=1)).isoformat()
        if self.review:
            args["reviewState"] = self.review
        return args


def _vietnam_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=TIMEZONE)


def read_days(args, f) -> None:
    """The `from`/`to` days of a filter form into `f.date_from`/`f.date_to`, each error in `f.errors` in
    the page's words (the submissions, downloads and audit log pages share it)."""
    for name, attr in (("from", "date_from"), ("to", "date_to")):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            parse_day(raw)
            setattr(f, attr, raw)
        except ValueError:
            f.errors[name] = _("Choose a date from the calendar (for example 23/11/2026).")
    if f.date_from and f.date_to and f.date_from > f.date_to:
        f.errors["to"] = _("The end date is before the start date.")
        f.date_to = ""


def read_filters(args) -> Filters:
    """The filters in a query string; each unusable value is dropped with a message for its field."""
    f = Filters()
    f.area = (args.get("area") or "").strip()[:64]
    read_days(args, f)
    review = (args.get("review") or "").strip()
    if review in REVIEW_FILTERS:
        f.review = review
    elif review:
        f.errors["review"] = _("Choose a review state from the list.")
    submitter = (args.get("submitter") or "").strip()
    if submitter.isdigit() and int(submitter) <= MAX_INT:
        f.submitter = int(submitter)
    elif submitter:
        f.errors["submitter"] = _("Choose an enumerator from the list.")
    return f


def area_field(db: Session, form: Form, fields) -> str | None:
    """The field holding a household's area code when the indicators workbook names none: the last
    question choosing from the area registry (areas.csv), the most precise level of the cascade."""
    if indicator_set(db, form.id) is not None:
        return None  # options.py takes the workbook's area_field
    # A published version never changes, so its answer is kept for the app's lifetime.
    known = current_app.extensions.setdefault("hamlet.web.area_fields", {})
    if form.current_def_id not in known:
        found = fields_choosing_from(db.get_one(FormDef, form.current_def_id).xml, "areas.csv")
        roots = {"/".join(f.path) for f in fields if f.is_leaf}
        found = [p for p in found if p in roots]
        known[form.current_def_id] = found[-1] if found else None
    return known[form.current_def_id]


def effective_area_path(db: Session, form: Form, fields) -> str | None:
    """The area field the filters use, whichever way it was found."""
    return area_field_path(db, form, fields, None) or area_field(db, form, fields)


def message_for(exc: problems.Problem) -> tuple[str, str]:
    """(field, sentence) for an export option the export code refused, in the page's language."""
    name = (exc.details or {}).get("field") or ""
    messages = {
        "area": _("There is no area with that code in this project's area registry."),
        "areaField": _("This form has no question holding the area code, so it cannot be filtered by area. "
                       "Upload an indicators workbook whose settings name the area field."),
        "from": _("Choose a date from the calendar (for example 23/11/2026)."),
        "to": _("Choose a date from the calendar (for example 23/11/2026)."),
        "reviewState": _("Choose a review state from the list."),
        "labels": _("The form has no labels in that language."),
        "privateKey": _("This private key does not open this form's submissions. Choose the .pem file made "
                        "with the form's public key, and type its passphrase if it has one."),
        "repeat": _("This form has no repeat group, so it has no person-level table."),
        "geometry": _("This form has no GPS question."),
    }
    return name, messages.get(name, _("The request could not be used."))


def schema_fields(db: Session, form: Form):
    """The published version's fields (from the app's per-version cache)."""
    from server.context import cache

    return cache().schema(db, form.current_def_id).fields
