"""The visiting sheet of a village or a commune, as a page to print on A4 and as a CSV in the page's
language: every household still missing a criterion of the target set that applies there, village then
address, with the head's name, the phone, what is missing and a box to tick on paper.

The permission is the dashboard's (`submission.read` on the form); a supervisor limited to some areas
gets only those (another area is a 404, as on the dashboard). The households come from
server/indicators/visiting.py."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask import Blueprint, Response, g, render_template, request
from sqlalchemy import select

from server import problems
from server.access import caller_area_scope, form_or_404, project_or_404
from server.auth.permissions import can, verbs_for
from server.auth.scope import AreaScope, subtree_codes
from server.context import db
from server.exports.spreadsheet import inert_row
from server.indicators import progress
from server.indicators.visiting import SHEET_LEVELS, Sheet, visiting_sheet
from server.indicators.workbook import Workbook
from server.models.areas import areas_of
from server.models.forms import Form, FormDef
from server.models.indicators import indicator_set
from server.models.projects import Project
from server.web.dashboard import LEVEL_NAMES, label
from server.web.i18n import _

bp = Blueprint("visiting", __name__, url_prefix="/projects/<int:project_id>/forms/<xml_form_id>/dashboard")


@dataclass
class _Asked:
    project: Project
    form: Form
    workbook: Workbook
    sheet: Sheet
    sets: dict[str, dict[str, str]]   # the workbook's target sets: name -> labels
    scope: AreaScope | None
    rejected: bool


def _sheet(project_id: int, xml_form_id: str) -> _Asked:
    """The project, the form and the sheet for the query string's `area` — a commune or
    a village inside the caller's areas (else a 404) — and optional `targetSet`, `includeRejected`."""
    project = project_or_404(project_id)
    form = form_or_404(project_id, xml_form_id, "submission.read")
    found = indicator_set(db(), form.id)
    if found is None:
        raise problems.NotFound("This form has no indicators workbook yet.")
    workbook = Workbook.from_json(found.definition)
    scope = caller_area_scope(project.id)
    registry = {a.code: a for a in areas_of(db(), project.id)}
    code = request.args.get("area") or (next(iter(scope.roots)) if scope is not None and len(scope.roots) == 1 else "")
    area = registry.get(code)
    if area is None or (scope is not None and code not in scope) or area.level not in SHEET_LEVELS:
        raise problems.NotFound("A visiting sheet is for a commune or a village of this project.")
    sets = workbook.target_sets()
    target_set = request.args.get("targetSet") or None
    if target_set is not None and target_set not in sets:
        target_set = None
    rejected = request.args.get("includeRejected") in ("true", "1", "on")
    sheet = visiting_sheet(db(), form, code, target_set, rejected, scope)
    return _Asked(project, form, workbook, sheet, sets, scope, rejected)


def _as_of(form, workbook: Workbook, sheet: Sheet, scope, rejected: bool):
    codes = subtree_codes(db(), form.project_id, [sheet.area.code])
    if scope is not None:
        codes = scope.narrow(codes)
    return progress.latest_received(db(), form.id, workbook, set(codes), rejected)


def _missing_text(m: dict) -> str:
    """One missing criterion in words: the indicator's label, and who of the household lacks it."""
    text = label(m["labels"], m["indicator"])
    if m["unit"] != "household":
        names = ", ".join(m["people"]) or str(m["count"])
        text += f" ({names})"
    return text


@bp.get("/visits")
def sheet(project_id: int, xml_form_id: str):
    a = _sheet(project_id, xml_form_id)
    project, form, sheet = a.project, a.form, a.sheet
    verbs = verbs_for(db(), g.actor, project.id, form.id)
    title = db().scalar(select(FormDef.name).where(FormDef.id == form.current_def_id)) if form.current_def_id else None
    return render_template("visiting_sheet.html", project=project, form=form, title=title, verbs=verbs, can=can,
                           sheet=sheet, set_label=label(a.sets.get(sheet.target_set or ""), sheet.target_set or ""),
                           level_names=LEVEL_NAMES, label=label, missing_text=_missing_text,
                           as_of=_as_of(form, a.workbook, sheet, a.scope, a.rejected),
                           include_rejected=a.rejected, commune=sheet.area.level == "commune")


@bp.get("/visits.csv")
def sheet_csv(project_id: int, xml_form_id: str):
    """The sheet's rows for Excel: headers and area names in the page's language, UTF-8 with a BOM."""
    a = _sheet(project_id, xml_form_id)
    form, sheet = a.form, a.sheet
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([_("No."), _("Visited?"), _("Village"), _("Address"), _("Head of household"), _("Phone"),
                _("Still missing"), _("Submission ID")])
    for n, h in enumerate(sheet.households, 1):
        w.writerow(inert_row([n, "", h["areaName"], h["address"] or "", h["headName"] or "", h["phone"] or "",
                              "; ".join(_missing_text(m) for m in h["missing"]), h["instanceId"]]))
    # The name is ASCII in every language (its translation too): a header carries it as is.
    what = _("visiting-sheet")
    filename = f"{form.xml_form_id}-{sheet.area.code}-{what}.csv"
    return Response("\ufeff" + buf.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})

