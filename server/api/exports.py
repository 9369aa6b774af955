"""Downloads of a form's submissions: Central's CSV zip and CSV, and Hamlet's XLSX, GeoJSON and
person-level table. Central's paths keep Central's defaults, so existing scripts get the same
bytes; the options beyond Central (bom, labels, area, from/to, reviewState) are opt-in."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from server import problems
from server.access import form_or_404
from server.context import blobs, db
from server.exports import options as opts
from server.exports.csv_files import root_csv_chunks, zip_chunks
from server.exports.plan import content_disposition

bp = Blueprint("exports", __name__, url_prefix="/v1/projects/<int:project_id>/forms/<xml_form_id>")


def attachment(file_name: str) -> str:
    """Central's Content-Disposition: an ASCII fallback and the UTF-8 name (RFC 5987)."""
    return content_disposition(file_name)


def _export(project_id: int, xml_form_id: str, for_people: bool = False, language: str | None = None):
    form = form_or_404(project_id, xml_form_id, "submission.read")
    if form.current_def_id is None:
        raise problems.NotFound("This form has not been published yet, so it has no submissions to export.")
    args = request.form if request.method == "POST" else request.args
    merged = {**request.args.to_dict(), **args.to_dict()}
    merged.pop("privateKey", None)
    if language is not None:
        merged["labels"] = language
    requested = opts.from_request(db(), form, merged, for_people=for_people)
    requested.export.decryptor = _decryptor()
    if requested.export.decryptor is not None:
        from server.exports.decrypted import WrongKey, check_key

        try:
            check_key(db().connection(), requested.export.decryptor, requested.export.selection, requested.export.tables)
        except WrongKey as exc:
            raise problems.UnexpectedValue(str(exc), details={"field": "privateKey"}) from None
    return form, requested


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
    if not pem.strip():
        return None
    from server.exports.decrypted import Decryptor
    from server.xforms.encryption import DecryptionFailed, load_private_key

    try:
        key = load_private_key(pem, request.form.get("privateKeyPassphrase") or None)
    except DecryptionFailed as exc:
        raise problems.UnexpectedValue(f"{exc} Send the PEM file that belongs to the form's public key.",
                                       details={"field": "privateKey"}) from None
    return Decryptor(key, blobs())


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


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/submissions.xlsx")
def xlsx(project_id: int, xml_form_id: str):
    """Every table as a sheet. `labels=vi` shows labels instead of names; `labelRow=vi` adds them
    as a second header row under the names."""
    from server.exports.xlsx import xlsx_chunks

    form, export = _export(project_id, xml_form_id, for_people=True)
    label_row = None
    language = (request.args.get("labelRow") or "").strip()
    if language and language.lower() != "false":
        _, label_row = _export(project_id, xml_form_id, for_people=True, language=language)
        label_row = label_row.export
    return Response(xlsx_chunks(_engine(), export.export, label_row), content_type=XLSX_TYPE,
                    headers={"Content-Disposition": attachment(f"{form.xml_form_id}.xlsx")})


@bp.get("/submissions.geojson")
def geojson(project_id: int, xml_form_id: str):
    from server.exports.geojson import geojson_chunks

    form, export = _export(project_id, xml_form_id)
    wanted = (request.args.get("geometry") or "").strip() or None
    if wanted and not any(f.type == "geopoint" and (f.name == wanted or "/".join(f.path) == wanted)
                          for f in export.export.fields):
        raise problems.UnexpectedValue(f"The form has no geopoint question '{wanted}'.", details={"field": "geometry"})
    return Response(geojson_chunks(_engine(), export.export, wanted), content_type="application/geo+json",
                    headers={"Content-Disposition": attachment(f"{form.xml_form_id}.geojson")})


@bp.get("/persons.csv")
def persons(project_id: int, xml_form_id: str):
    """One row per roster member with the household's answers and area names (`repeat=members`)."""
    from server.exports.persons import Registry, person_chunks
    from server.models.areas import areas_of

    form, export = _export(project_id, xml_form_id, for_people=True)
    repeat = (request.args.get("repeat") or "").strip() or None
    repeats = [f for f in export.export.fields if f.type == "repeat"]
    if not repeats or (repeat and not any(f.name == repeat or "/".join(f.path) == repeat for f in repeats)):
        raise problems.UnexpectedValue(
            f"The form has no repeat group '{repeat}'." if repeats and repeat else "This form has no repeat group.",
            details={"field": "repeat"})
    if export.export.selection.area_path is None:
        opts.attach_area_field(db(), form, export.export)
    registry = Registry({a.code: (a.name, a.level, a.parent_code) for a in areas_of(db(), form.project_id)})
    return Response(person_chunks(_engine(), export.export, repeat, registry, export.bom),
                    content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": attachment(f"{form.xml_form_id}-persons.csv")})
