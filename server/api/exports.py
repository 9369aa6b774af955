"""Downloads of a form's submissions: Central's CSV zip and CSV, and Hamlet's XLSX, GeoJSON and
person-level table. Central's paths keep Central's defaults, so existing scripts get the same
bytes; the options beyond Central (bom, labels, area, from/to, reviewState) are opt-in.

Each route reads its options from the request and hands them to server/exports/downloads.py, which
the pages' downloads use too, with the caller's area scope: a caller limited to some areas downloads
only their households (server/auth/scope.py)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from server import problems
from server.access import form_or_404, submission_scope
from server.api.common import commit
from server.context import audit, blobs, db
from server.exports import downloads
from server.exports.plan import content_disposition

bp = Blueprint("exports", __name__, url_prefix="/v1/projects/<int:project_id>/forms/<xml_form_id>")
XLSX_TYPE = downloads.XLSX_TYPE


def _decryptor():
    """A private key POSTed with the export (form field or file part `privateKey`, optional
    `privateKeyPassphrase`) opens encrypted submissions for this download only; it is never stored
    or logged, and never accepted in a URL."""
    if request.method != "POST":
        if "privateKey" in request.args:
            raise problems.UnexpectedValue("Send the private key in a POST body, never in the URL (URLs end up in logs).",
                                           details={"field": "privateKey"})
        return None
    part = request.files.get("privateKey")
    pem = part.read() if part is not None else (request.form.get("privateKey") or "").encode()
    return downloads.decryptor_from_pem(pem, request.form.get("privateKeyPassphrase") or None, blobs())


def _download(project_id: int, xml_form_id: str, kind: str, draft: bool = False) -> Response:
    form = form_or_404(project_id, xml_form_id, "submission.read")
    scope = submission_scope(form)
    args = {**request.args.to_dict(), **(request.form.to_dict() if request.method == "POST" else {})}
    has_def = (form.draft_def_id if draft else form.current_def_id) is not None
    found = downloads.build(db(), current_app.extensions["hamlet.engine"], blobs(), form, kind, args,
                            _decryptor() if has_def else None, scope=scope, draft=draft)
    audit("form.submission.export", form, {"format": kind})   # the options were good: the file is on its way
    commit()
    return Response(found.chunks, content_type=found.content_type,
                    headers={"Content-Disposition": content_disposition(found.file_name)})


# Both rules of a view carry `draft`, so that werkzeug never redirects one to the other.
REAL, DRAFT = {"draft": False}, {"draft": True}


@bp.route("/submissions.csv.zip", methods=["GET", "POST"], defaults=REAL)
@bp.route("/draft/submissions.csv.zip", methods=["GET", "POST"], defaults=DRAFT)
def csv_zip(project_id: int, xml_form_id: str, draft: bool = False):
    """Every table and media/; `attachments=false` leaves the media out (file `{f}.csv.zip`). Under
    /draft, the draft's test submissions (models/draft_tests.py)."""
    return _download(project_id, xml_form_id, "submissions.csv.zip", draft)


@bp.route("/submissions.csv", methods=["GET", "POST"], defaults=REAL)
@bp.route("/draft/submissions.csv", methods=["GET", "POST"], defaults=DRAFT)
def csv_root(project_id: int, xml_form_id: str, draft: bool = False):
    return _download(project_id, xml_form_id, "submissions.csv", draft)


@bp.get("/submissions.xlsx")
def xlsx(project_id: int, xml_form_id: str):
    """Every table as a sheet; `labels=vi` shows labels instead of names, `labelRow=vi` adds them
    as a second header row under the names."""
    return _download(project_id, xml_form_id, "submissions.xlsx")


@bp.get("/submissions.geojson")
def geojson(project_id: int, xml_form_id: str):
    return _download(project_id, xml_form_id, "submissions.geojson")


@bp.get("/persons.csv")
def persons(project_id: int, xml_form_id: str):
    """One row per roster member with the household's answers and area names (`repeat=members`)."""
    return _download(project_id, xml_form_id, "persons.csv")
