"""Export options from a request's parameters: Central's (`groupPaths`, `deletedFields`,
`splitSelectMultiples`, `$filter`) and Hamlet's (`bom`, `labels`, `area`, `from`, `to`, `reviewState`).

Every bad value is a 400 that names the parameter, before any byte of the export is sent."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import problems
from server.exports.plan import ExportOptions
from server.exports.source import Selection
from server.exports.tables import Export, prepare
from server.models.areas import Area
from server.models.forms import Form
from server.models.submissions import REVIEW_STATES
from server.params import EARLIEST_DAY, LATEST_DAY, parse_moment
from server.xforms.labels import UnknownLanguage


@dataclass
class Requested:
    export: Export
    bom: bool
    # A BOM or labels: the file is meant for a spreadsheet, so its formulas are made inert.
    spreadsheet: bool = False


def _bool(args: dict, name: str, default: bool) -> bool:
    value = args.get(name)
    if value is None or value == "":
        return default
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise problems.UnexpectedValue(f"'{name}' must be true or false, not '{value}'.", details={"field": name})
    return v == "true"


def _moment(args: dict, name: str, end: bool = False) -> datetime | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:  # a date: from its first moment; `to` includes the whole day
        return parse_moment(value, UTC, end=end)
    except ValueError:
        raise problems.UnexpectedValue(f"'{name}' must be a date (2026-11-23) or an ISO date-time between "
                                       f"{EARLIEST_DAY} and {LATEST_DAY}, not '{value[:40]}'.",
                                       details={"field": name}) from None


def _review_states(args: dict) -> list[str | None]:
    raw = (args.get("reviewState") or "").strip()
    if not raw:
        return []
    out: list[str | None] = []
    for part in raw.split(","):
        state = part.strip()
        if state in ("received", "null"):
            out.append(None)
        elif state in REVIEW_STATES:
            out.append(state)
        else:
            raise problems.UnexpectedValue(
                f"Unknown review state '{state}'; use received, {', '.join(REVIEW_STATES)} (comma-separated).",
                details={"field": "reviewState"})
    return out


def area_field_path(db: Session, form: Form, fields, field_name: str | None) -> str | None:
    """The field holding the household's area code: `areaField`, else the indicators workbook's."""
    if field_name:
        path = next(("/".join(f.path) for f in fields if f.name == field_name or "/".join(f.path) == field_name), None)
        if path is None:
            raise problems.UnexpectedValue(f"The form has no field '{field_name}'.", details={"field": "areaField"})
        return path
    from server.indicators.workbook import Workbook
    from server.models.indicators import indicator_set

    found = indicator_set(db, form.id)
    return Workbook.from_json(found.definition).area_path if found is not None else None


def attach_area_field(db: Session, form: Form, export: Export, field_name: str | None = None) -> None:
    path = area_field_path(db, form, export.fields, field_name)
    if path is None:
        return
    found = export.tables.columns.get(path)
    if found is None or found[0] != "":
        raise problems.UnexpectedValue(f"The area field '{path}' is not a question of the household "
                                       "(it must be outside any repeat).", details={"field": "areaField"})
    export.selection.area_path, export.selection.area_column = path, found[1]


def _area(db: Session, form: Form, args: dict, export: Export) -> None:
    code = (args.get("area") or "").strip()
    scope = export.selection.scope
    field_name = (args.get("areaField") or "").strip() or None
    if not code:
        if field_name:
            attach_area_field(db, form, export, field_name)
        return
    root = db.scalar(select(Area).where(Area.project_id == form.project_id, Area.code == code))
    if root is None:
        raise problems.UnexpectedValue(f"There is no area '{code}' in this project's registry.", details={"field": "area"})
    attach_area_field(db, form, export, field_name)
    if export.selection.area_path is None:
        raise problems.MissingParameter("Say which field holds the area code (areaField=village), or upload an "
                                        "indicators workbook whose settings name it.", details={"field": "areaField"})
    below = Area.path.startswith(root.path + "/", autoescape=True)   # a code's "_" is no wildcard
    export.selection.area_codes = list(db.scalars(select(Area.code).where(
        Area.project_id == form.project_id, (Area.path == root.path) | below)))
    if scope is not None and not scope.area.narrow(export.selection.area_codes):
        # The caller's areas apply anyway (Selection.scope); an area wholly outside them is an error
        # rather than an empty file, and reads as absent.
        raise problems.NotFound(f"The area '{code}' is outside the areas you may see ({scope.area.describe()}).",
                                details={"field": "area", "area": code})


def from_request(db: Session, form: Form, args: dict, for_people: bool = False, scope=None,
                 draft: bool = False) -> Requested:
    """The export `args` ask for. `scope`: the caller's FormScope (server/auth/scope.py `form_scope`)
    when it is limited to some areas; its households are then the only ones the export can hold.
    `draft`: the draft's test submissions, in the draft's layout."""
    options = ExportOptions(group_paths=_bool(args, "groupPaths", True),
                            split_select_multiples=_bool(args, "splitSelectMultiples", False),
                            deleted_fields=_bool(args, "deletedFields", False))
    selection = Selection(form_id=form.id, since=_moment(args, "from"), until=_moment(args, "to", end=True),
                          review_states=_review_states(args), scope=scope, draft=draft)
    text = (args.get("$filter") or "").strip()
    if text:
        from server.odata.filter import references_deleted_at, submission_filter

        selection.odata_filter = submission_filter(text)
        selection.keeps_deleted = references_deleted_at(text)
    language = (args.get("labels") or "").strip() or None
    if language and language.lower() == "false":
        language = None
    try:
        export = prepare(db, form, selection, options, language)
    except UnknownLanguage as exc:
        raise problems.UnexpectedValue(str(exc), details={"field": "labels"}) from None
    _area(db, form, args, export)
    bom = _bool(args, "bom", for_people)
    return Requested(export=export, bom=bom, spreadsheet=bom or language is not None or for_people)
