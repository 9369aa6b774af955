"""One download of a form's submissions, ready to stream: its file name, content type and chunks.

The REST routes (api/exports.py) and the pages (web/downloads.py) both build their downloads here
from a plain dict of options, so a page's download and the REST export with the same options are
the same bytes. No Flask here: each caller turns a Download into its own response. Every bad option
is a Problem raised by `build`, before the first byte.

`scope` is the caller's FormScope (server/auth/scope.py `form_scope`) when it is limited to some
areas: every table, media file and person row then comes from its areas' households only. The
`hamlet export` command is the administrator's and passes none."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from server import problems
from server.exports import options as opts
from server.models.blobs import BlobStore
from server.models.forms import Form
from server.xforms.schema import Field

# The files a form's submissions download as, by the last part of their REST path.
KINDS = ("submissions.csv.zip", "submissions.csv", "submissions.xlsx", "submissions.geojson", "persons.csv")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The formats whose tables are read through root_table/repeat_table, which open encrypted submissions.
DECRYPTABLE = ("submissions.csv.zip", "submissions.csv", "submissions.xlsx")


@dataclass
class Download:
    file_name: str
    content_type: str
    chunks: Iterator[bytes]


def decryptor_from_pem(pem: bytes, passphrase: str | None, store: BlobStore):
    """A Decryptor for one download from a PEM private key, or None when no key was given."""
    if not pem.strip():
        return None
    from server.exports.decrypted import Decryptor
    from server.xforms.encryption import DecryptionFailed, load_private_key

    try:
        key = load_private_key(pem, passphrase or None)
    except DecryptionFailed as exc:
        raise problems.UnexpectedValue(f"{exc} Send the PEM file that belongs to the form's public key.",
                                       details={"field": "privateKey"}) from None
    return Decryptor(key, store)


def requested(db: Session, form: Form, args: dict, for_people: bool = False, language: str | None = None,
              decryptor=None, scope=None, draft: bool = False) -> opts.Requested:
    """The export's options and selection from `args`; with a key, checked to open the first encrypted one.
    `draft`: of the draft's test submissions (models/draft_tests.py)."""
    if draft and form.draft_def_id is None:
        raise problems.NotFound("This form has no draft, so no test submissions to export.")
    if not draft and form.current_def_id is None:
        raise problems.NotFound("This form has not been published yet, so it has no submissions to export.")
    merged = {k: v for k, v in args.items() if k != "privateKey"}
    if language is not None:
        merged["labels"] = language
    found = opts.from_request(db, form, merged, for_people=for_people, scope=scope, draft=draft)
    found.export.decryptor = decryptor
    if decryptor is not None:
        from server.exports.decrypted import WrongKey, check_key

        try:
            check_key(db.connection(), decryptor, found.export.selection, found.export.tables)
        except WrongKey as exc:
            raise problems.UnexpectedValue(str(exc), details={"field": "privateKey"}) from None
    return found


def build(db: Session, engine: Engine, store: BlobStore, form: Form, kind: str, args: dict,
          decryptor=None, scope=None, draft: bool = False) -> Download:
    """The download `kind` (one of KINDS) of the form's submissions with the options in `args`, of the
    households in `scope` only when one is given. `draft`: Central's draft exports, of the draft's
    test submissions (the CSV zip and CSV only)."""
    if draft and kind not in ("submissions.csv.zip", "submissions.csv"):
        raise problems.NotFound(f"A draft's test submissions download as submissions.csv.zip or submissions.csv, "
                                f"not {kind}.")
    if kind == "submissions.csv.zip":
        from server.exports.csv_files import zip_chunks

        export = requested(db, form, args, decryptor=decryptor, scope=scope, draft=draft)
        media = str(args.get("attachments", "")).strip().lower() != "false"
        name = f"{form.xml_form_id}.zip" if media else f"{form.xml_form_id}.csv.zip"
        return Download(name, "application/zip", zip_chunks(engine, store, export.export, media, export.bom,
                                                            client_audits=_client_audits(args, media),
                                                            spreadsheet=export.spreadsheet))
    if kind == "submissions.csv":
        from server.exports.csv_files import root_csv_chunks

        export = requested(db, form, args, decryptor=decryptor, scope=scope, draft=draft)
        return Download(f"{form.xml_form_id}.csv", "text/csv; charset=utf-8",
                        root_csv_chunks(engine, export.export, export.bom, export.spreadsheet))
    if kind == "submissions.xlsx":
        return _xlsx(db, engine, form, args, decryptor, scope)
    if kind == "submissions.geojson":
        return _geojson(db, engine, form, args, decryptor, scope)
    if kind == "persons.csv":
        return _persons(db, engine, form, args, decryptor, scope)
    raise problems.NotFound(f"There is no download '{kind}'.")


@dataclass(frozen=True)
class RowCounts:
    """How many rows a download's tables hold: one per submission (household), and per repeat group."""

    submissions: int
    repeats: list[tuple[Field, int]]   # each repeat group of the form, in the form's order, and its rows


def row_counts(db: Session, form: Form, args: dict, scope=None) -> RowCounts:
    """The rows `build` would write for these options, counted with the export's own selection (its
    filters and the caller's scope), so the page's figures and the files agree."""
    from server.exports.source import row_counts as count_rows

    export = requested(db, form, args, scope=scope).export
    submissions, by_path = count_rows(db.connection(), export.tables, export.selection)
    return RowCounts(submissions, [(f, by_path.get("/".join(f.path), 0)) for f in export.fields if f.type == "repeat"])


def _client_audits(args: dict, media: bool) -> bool:
    """Hamlet's `clientAudits=true` keeps the merged client audit log with `attachments=false` (it is
    data, a few KB a household, not photos; `hamlet export` asks for it); by default the log comes
    with the media, as in Central."""
    value = str(args.get("clientAudits") or "").strip().lower()
    if value not in ("", "true", "false"):
        raise problems.UnexpectedValue(f"'clientAudits' must be true or false, not '{args['clientAudits']}'.",
                                       details={"field": "clientAudits"})
    return value == "true" if value else media


def _xlsx(db: Session, engine: Engine, form: Form, args: dict, decryptor, scope) -> Download:
    """Every table as a sheet. `labels=vi` shows labels instead of names; `labelRow=vi` adds them
    as a second header row under the names."""
    from server.exports.xlsx import xlsx_chunks

    export = requested(db, form, args, for_people=True, decryptor=decryptor, scope=scope)
    label_row = None
    language = str(args.get("labelRow") or "").strip()
    if language and language.lower() != "false":
        label_row = requested(db, form, args, for_people=True, language=language, scope=scope).export
    return Download(f"{form.xml_form_id}.xlsx", XLSX_TYPE, xlsx_chunks(engine, export.export, label_row))


def _geojson(db: Session, engine: Engine, form: Form, args: dict, decryptor, scope) -> Download:
    from server.exports.geojson import geojson_chunks

    export = requested(db, form, args, decryptor=decryptor, scope=scope)
    wanted = str(args.get("geometry") or "").strip() or None
    if wanted and not any(f.type == "geopoint" and (f.name == wanted or "/".join(f.path) == wanted)
                          for f in export.export.fields):
        raise problems.UnexpectedValue(f"The form has no geopoint question '{wanted}'.", details={"field": "geometry"})
    return Download(f"{form.xml_form_id}.geojson", "application/geo+json",
                    geojson_chunks(engine, export.export, wanted))


def _persons(db: Session, engine: Engine, form: Form, args: dict, decryptor, scope) -> Download:
    """One row per roster member with the household's answers and area names (`repeat=members`)."""
    from server.exports.persons import Registry, person_chunks
    from server.models.areas import areas_of

    export = requested(db, form, args, for_people=True, decryptor=decryptor, scope=scope)
    repeat = str(args.get("repeat") or "").strip() or None
    repeats = [f for f in export.export.fields if f.type == "repeat"]
    if not repeats or (repeat and not any(f.name == repeat or "/".join(f.path) == repeat for f in repeats)):
        raise problems.UnexpectedValue(
            f"The form has no repeat group '{repeat}'." if repeats and repeat else "This form has no repeat group.",
            details={"field": "repeat"})
    if export.export.selection.area_path is None:
        opts.attach_area_field(db, form, export.export)
    registry = Registry({a.code: (a.name, a.level, a.parent_code) for a in areas_of(db, form.project_id)})
    return Download(f"{form.xml_form_id}-persons.csv", "text/csv; charset=utf-8",
                    person_chunks(engine, export.export, repeat, registry, export.bom))
