"""Downloads of a form's submissions: Central's CSV zip and CSV, and Hamlet's XLSX, GeoJSON and
person-level table. Central's paths keep Central's defaults, so existing scripts get the same
bytes; the options beyond Central (bom, labels, area, from/to, reviewState) are opt-in."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, current_app, request

from server import problems
from server.access import form_or_404
from server.api.common import is_true
from server.context import blobs, db
from server.exports import options as opts
from server.exports.csv_files import root_csv_chunks, zip_chunks
from server.exports.plan import sanitize_file_name

bp = Blueprint("exports", __name__, url_prefix="/v1/projects/<int:project_id>/forms/<xml_form_id>")


def attachment(file_name: str) -> str:
    """Central's Content-Disposition: an ASCII fallback and the UTF-8 name (RFC 5987)."""
    name = sanitize_file_name(file_name)
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _export(project_id: int, xml_form_id: str, for_people: bool = False):
    form = form_or_404(project_id, xml_form_id, "submission.read")
    if form.current_def_id is None:
        raise problems.NotFound("This form has not been published yet, so it has no submissions to export.")
    args = request.form if request.method == "POST" else request.args
    merged = {**request.args.to_dict(), **args.to_dict()}
    return form, opts.from_request(db(), form, merged, for_people=for_people)


def _engine():
    return current_app.extensions["hamlet.engine"]


@bp.route("/submissions.csv.zip", methods=["GET", "POST"])
def csv_zip(project_id: int, xml_form_id: str):
    form, export = _export(project_id, xml_form_id)
    media = not (request.values.get("attachments", "").strip().lower() == "false")
    name = f"{form.xml_form_id}.zip" if media else f"{form.xml_form_id}.csv.zip"
    return Response(zip_chunks(_engine(), blobs(), export.export, media, export.bom), content_type="application/zip",
                    headers={"Content-Disposition": attachment(name)})


@bp.route("/submissions.csv", methods=["GET", "POST"])
def csv_root(project_id: int, xml_form_id: str):
    form, export = _export(project_id, xml_form_id)
    return Response(root_csv_chunks(_engine(), export.export, export.bom), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": attachment(f"{form.xml_form_id}.csv")})


def flag(name: str, default: bool) -> bool:
    value = request.values.get(name)
    if value is None:
        return default
    return is_true(value)
