"""A form's downloads with Excel-friendly defaults: labels in the page's language, a BOM, the same
filters as the submissions table.

Each download is the REST export with the same options, built by server/exports/downloads.py and
streamed from it; the page route only adds the cookie session (the /v1 routes take tokens only).
For an encrypted form, the private key is POSTed with the download, used for it and forgotten."""
from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, g, render_template, request, url_for

from server import problems
from server.access import form_or_404, project_or_404, submission_scope
from server.auth.permissions import can, verbs_for
from server.context import audit, blobs, db
from server.exports import downloads
from server.exports.plan import content_disposition
from server.models.areas import areas_of
from server.models.forms import FormDef
from server.web.filters import (
    REVIEW_LABELS,
    Filters,
    area_field,
    effective_area_path,
    message_for,
    read_filters,
    schema_fields,
)
from server.web.i18n import N_, _, current_locale, ngettext, number
from server.web.limits import takes_file
from server.xforms.labels import UnknownLanguage, languages, read_labels

bp = Blueprint("downloads", __name__, url_prefix="/projects/<int:project_id>/forms/<xml_form_id>/downloads")

MAX_KEY_BYTES = 64 * 1024
NAMES = "names"


# (kind, title, what it holds), in the order the page offers them.
FILES = [
    ("submissions.xlsx", N_("Excel workbook (.xlsx)"),
     N_("A sheet for the households and one for the household members; field names in the first row, "
        "the questions in the second.")),
    ("persons.csv", N_("Person table (.csv)"),
     N_("One row per household member with the household's answers and the names of its village, commune, "
        "district and province.")),
    ("submissions.csv.zip", N_("CSV files (.zip)"),
     N_("ODK Central's layout: one CSV file per table, and the photos in a media folder.")),
    ("submissions.geojson", N_("Map points (.geojson)"),
     N_("One point per household with its answers, for QGIS or other map software.")),
]


def _label_choices(xml: str) -> list[tuple[str, str]]:
    """(value for `labels=`, name) of each language the form has labels in."""
    found = []
    for name in languages(xml):
        code = re.search(r"\(([^)]+)\)\s*$", name or "")
        found.append((code.group(1) if code else name, name))
    return found or [("default", _("Labels"))]


def _headings(args, choices: list[tuple[str, str]]) -> str:
    wanted = (args.get("headings") or "").strip()
    if wanted == NAMES or wanted in {c for c, _name in choices}:
        return wanted
    return current_locale() if current_locale() in {c for c, _name in choices} else choices[0][0]


def download_args(kind: str, filters: Filters, area_path: str | None, headings: str, media: bool) -> dict[str, str]:
    """The REST export options for a page's download: labels and BOM for people, Central's plain CSV
    when field names are asked for."""
    args = filters.export_args(area_path)
    labelled = headings != NAMES
    if kind == "submissions.xlsx" and labelled:
        args["labelRow"] = headings
    elif kind == "persons.csv":
        args["bom"] = "true"
        if labelled:
            args["labels"] = headings
    elif kind in ("submissions.csv.zip", "submissions.csv") and labelled:
        args.update(labels=headings, bom="true")
    if kind == "submissions.csv.zip" and not media:
        args["attachments"] = "false"
    return args


def _form(project_id: int, xml_form_id: str):
    project = project_or_404(project_id)
    form = form_or_404(project_id, xml_form_id, "submission.read")
    if form.current_def_id is None:
        raise problems.NotFound()
    return project, form


def _row_counts(form, form_def: FormDef, filters: Filters) -> dict[str, list[str]] | None:
    """Per download kind, the sentences saying how many rows it holds for these filters (None when the
    download would be refused): counted by downloads.row_counts with the export's own selection and scope."""
    if filters.errors:
        return None
    try:
        counts = downloads.row_counts(db(), form, filters.export_args(area_field(db(), form, schema_fields(db(), form))),
                                      scope=submission_scope(form))
    except problems.Problem:   # an option the download refuses, with its reason when asked for (an unknown area)
        db().rollback()
        return None
    try:
        labels = read_labels(form_def.xml, current_locale()).questions
    except UnknownLanguage:
        labels = read_labels(form_def.xml, None).questions
    households = ngettext("%(num)s household", "%(num)s households", counts.submissions, num=number(counts.submissions))
    tables = [_("%(table)s: %(rows)s rows", table=labels.get("/".join(f.path)) or f.name, rows=number(n))
              for f, n in counts.repeats]
    roster = counts.repeats[0] if counts.repeats else None
    return {
        "submissions.xlsx": [households, *tables],
        "submissions.csv.zip": [households, *tables],
        "persons.csv": [ngettext("%(num)s row, one per member", "%(num)s rows, one per member", roster[1],
                                 num=number(roster[1]))] if roster else [_("This form has no repeat group.")],
        "submissions.geojson": [households],
    }


def render_page(project, form, filters: Filters, status: int = 200, error: str | None = None,
                key_error: str | None = None):
    form_def = db().get_one(FormDef, form.current_def_id)
    choices = _label_choices(form_def.xml)
    values = request.values
    headings = _headings(values, choices)
    media = values.get("media", "1") != "0"
    area_path = effective_area_path(db(), form, schema_fields(db(), form))
    query = {**filters.query(), "headings": headings, **({} if media else {"media": "0"})}
    # Flask types url_for's own keywords (_external: bool | None…) beside **values, so mypy refuses
    # a dict[str, str] there though none of its keys is one of them.
    links = [(kind, title, hint, url_for(".download", project_id=project.id, xml_form_id=form.xml_form_id,
                                         kind=kind, **query))  # type: ignore[arg-type]
             for kind, title, hint in FILES]
    counts = _row_counts(form, form_def, filters)
    return render_template("downloads.html", project=project, form=form, form_def=form_def, filters=filters,
                           verbs=verbs_for(db(), g.actor, project.id, form.id), can=can, links=links,
                           choices=choices, headings=headings, media=media, names=NAMES,
                           areas=_areas(project, form) if area_path else [], encrypted=bool(form_def.key_id),
                           decryptable=[f for f in FILES if f[0] in downloads.DECRYPTABLE],
                           review_labels=REVIEW_LABELS, error=error, key_error=key_error, counts=counts), status


def _areas(project, form):
    """The registry's areas the caller may filter by: all of them, or its own when it is limited."""
    scope = submission_scope(form)
    return [a for a in areas_of(db(), project.id) if scope is None or a.code in scope.codes]


@bp.get("")
def page(project_id: int, xml_form_id: str):
    project, form = _form(project_id, xml_form_id)
    filters = read_filters(request.args)
    return render_page(project, form, filters, 400 if filters.errors else 200)


@bp.route("/<kind>", methods=["GET", "POST"])
@takes_file(lambda _settings: MAX_KEY_BYTES, lambda _n: _("This file is too large to be a private key (at most 64 KB)."))
def download(project_id: int, xml_form_id: str, kind: str):
    project, form = _form(project_id, xml_form_id)
    if kind not in downloads.KINDS:
        raise problems.NotFound()
    values = request.values
    filters = read_filters(values)
    if filters.errors:
        return render_page(project, form, filters, 400, _("Correct the filters, then download again."))
    decryptor = None
    if request.method == "POST":
        if kind not in downloads.DECRYPTABLE:
            raise problems.NotFound()
        decryptor, key_error = _decryptor()
        if key_error:
            return render_page(project, form, filters, 400, key_error=key_error)
    form_def = db().get_one(FormDef, form.current_def_id)
    headings = _headings(values, _label_choices(form_def.xml))
    args = download_args(kind, filters, area_field(db(), form, schema_fields(db(), form)), headings,
                         values.get("media", "1") != "0")
    try:
        found = downloads.build(db(), current_app.extensions["hamlet.engine"], blobs(), form, kind, args, decryptor,
                                scope=submission_scope(form))
    except problems.Problem as exc:
        db().rollback()
        name, message = message_for(exc)
        if name == "privateKey":
            return render_page(project, form, filters, 400, key_error=message)
        return render_page(project, form, filters, 400, message)
    audit("form.submission.export", form, {"format": kind})
    db().commit()
    return Response(found.chunks, content_type=found.content_type,
                    headers={"Content-Disposition": content_disposition(found.file_name)})


def _decryptor():
    """(Decryptor, None) from the uploaded key, or (None, the reason in the page's language)."""
    part = request.files.get("privateKey")
    if part is None or not part.filename:
        return None, _("Choose the form's private key file (.pem).")
    pem = part.read(MAX_KEY_BYTES + 1)
    if len(pem) > MAX_KEY_BYTES:
        return None, _("This file is too large to be a private key (at most 64 KB).")
    if b"-----BEGIN" not in pem:
        return None, _("This file is not a private key. Choose the .pem file made with the form's public key.")
    try:
        return downloads.decryptor_from_pem(pem, request.form.get("privateKeyPassphrase") or None, blobs()), None
    except problems.Problem as exc:
        return None, message_for(exc)[1]
