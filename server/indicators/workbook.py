"""The indicators workbook of a form: indicators, target sets and settings, checked like an XLSForm.

Sheets (form designers edit them in Excel):
  indicators  name, label::<language> (<code>)…, unit (household | a repeat's name), filter, condition
  targets     target_set, label::…, criterion, indicator, comparator (>=, >, <=, <), threshold (0–100),
              level, year, pillar (optional), areas (optional: area codes whose subtrees the set is for;
              empty on every row of a set: everywhere)
  settings    area_field — the field holding the household's lowest-level area code
Every mistake is reported with its sheet, row and column; nothing is stored unless all is well."""
from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import asdict, dataclass, field

from server.models.areas import LEVELS
from server.xforms.schema import Schema

COMPARATORS = (">=", ">", "<=", "<")
HOUSEHOLD = "household"


@dataclass
class Indicator:
    name: str
    labels: dict[str, str]
    unit: str                      # "household" or a repeat's name
    unit_path: str                 # "" for the form root, else the repeat's path ("household/members")
    filter: str
    condition: str
    fields: dict[str, str] = field(default_factory=dict)   # ${name} -> field path, for filter and condition


@dataclass
class Criterion:
    target_set: str
    labels: dict[str, str]
    criterion: str
    indicator: str
    comparator: str
    threshold: float
    level: str
    year: int | None
    pillar: str | None
    areas: list[str] = field(default_factory=list)   # registry codes the set is for (their subtrees); [] everywhere


# Optional settings naming the fields a follow-up visit needs; the defaults are the shipped survey's.
CONTACT_FIELDS = {"name_field": "respondent_name", "address_field": "address", "phone_field": "phone",
                  # the head of household's name, for the visiting sheet (else the respondent's)
                  "head_name_field": "reg_head_name",
                  "member_name_field": "member_name", "household_id_field": "",
                  # the roster number that a follow-up's entity lists name (server/indicators/latest.py)
                  "member_number_field": "member_no"}


@dataclass
class Workbook:
    area_field: str
    area_path: str
    indicators: list[Indicator]
    criteria: list[Criterion]
    contacts: dict[str, str] = field(default_factory=dict)  # setting -> field path, where the form has it

    def to_json(self) -> dict:
        return {"areaField": self.area_field, "areaPath": self.area_path, "contacts": self.contacts,
                "indicators": [asdict(i) for i in self.indicators], "criteria": [asdict(c) for c in self.criteria]}

    @classmethod
    def from_json(cls, data: dict) -> Workbook:
        return cls(data["areaField"], data["areaPath"], [Indicator(**i) for i in data["indicators"]],
                   [Criterion(**c) for c in data["criteria"]], data.get("contacts", {}))

    def target_sets(self) -> dict[str, dict[str, str]]:
        sets: dict[str, dict[str, str]] = {}
        for c in self.criteria:
            sets.setdefault(c.target_set, {}).update({k: v for k, v in c.labels.items() if v})
        return sets

    def set_areas(self) -> dict[str, list[str]]:
        """Each target set's areas: the codes named on any of its rows, in order ([]: everywhere)."""
        out: dict[str, list[str]] = {}
        for c in self.criteria:
            known = out.setdefault(c.target_set, [])
            known.extend(a for a in c.areas if a not in known)
        return out

    def unplaced_sets(self, area_codes: Set[str]) -> list[str]:
        """The target sets naming areas, none of them in `area_codes`: they apply nowhere in that registry."""
        return [name for name, areas in self.set_areas().items() if areas and not set(areas) & area_codes]

    def applicable_set(self, lineage: Sequence[str], level: str) -> str | None:
        """The target set that applies to an area at `level` whose codes from the top down to itself are
        `lineage`: among the sets with a criterion at that level and naming one of those codes (or none,
        meaning everywhere), the one naming the code nearest the area — a ward's own standard before its
        city's, a city's before one for everywhere; on a tie, the first in the workbook. None: no set."""
        at_level = {c.target_set for c in self.criteria if c.level == level}
        depth = {code: i for i, code in enumerate(lineage)}
        best, best_depth = None, -2
        for name, areas in self.set_areas().items():
            if name not in at_level:
                continue
            d = max((depth[a] for a in areas if a in depth), default=-2) if areas else -1
            if d > best_depth:
                best, best_depth = name, d
        return best


class WorkbookInvalid(ValueError):
    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} problem(s) in the indicators workbook")
        self.errors = errors


def _col_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _sheet(wb, name: str, errors: list[dict], required: bool = True):
    for ws in wb.worksheets:
        if ws.title.strip().lower() == name:
            rows = [["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)).strip()
                     for v in r] for r in ws.iter_rows(values_only=True)]
            return rows
    if required:
        errors.append({"sheet": name, "row": None, "column": None, "message": f"The workbook has no '{name}' sheet."})
    return None


def _table(rows, sheet: str, required: tuple[str, ...], errors: list[dict]):
    """(header index, [(row number, {column: (letter, value)})]) for the non-empty rows of a sheet."""
    if not rows:
        errors.append({"sheet": sheet, "row": None, "column": None, "message": f"The '{sheet}' sheet is empty."})
        return {}, []
    header = [h.strip() for h in rows[0]]
    index = {h.lower(): i for i, h in enumerate(header) if h}
    for col in required:
        if col not in index:
            errors.append({"sheet": sheet, "row": 1, "column": col, "message": f"Required column '{col}' is missing."})
    out = []
    for n, r in enumerate(rows[1:], start=2):
        if not any(c for c in r):
            continue
        out.append((n, {h.lower(): (_col_letter(i), r[i] if i < len(r) else "") for i, h in enumerate(header) if h}))
    return index, out


_LABEL = re.compile(r"^label::(.+)$", re.I)


def _labels(cells: dict) -> dict[str, str]:
    """{"vi": …, "en": …} from label::Tiếng Việt (vi) / label::English (en) columns."""
    out = {}
    for key, (_, value) in cells.items():
        m = _LABEL.match(key)
        if m and value:
            code = re.search(r"\(([a-z]{2,3}(?:-[a-z]+)?)\)\s*$", m.group(1))
            out[code.group(1) if code else m.group(1).strip()] = value
    return out


class _Problems(list):
    """The workbook's mistakes in the order found: the settings, then the indicators, then the targets."""

    def at(self, sheet: str, row: int, cells: dict, column: str, message: str) -> None:
        """A mistake in one cell: its sheet, row, column name and, when the column is there, its letter."""
        letter = cells.get(column, ("", ""))[0] if cells else ""
        self.append({"sheet": sheet, "row": row, "column": column,
                     "cell": f"{letter}{row}" if letter and row else None, "message": message})


def parse_workbook(data: bytes, schema: Schema, area_codes: Set[str] | None = None) -> Workbook:
    """The workbook checked against the form's schema and, when given, the codes of the project's area
    registry (the targets' `areas`); WorkbookInvalid lists every mistake at once."""
    from server.xforms.safezip import WorkbookTooLarge, WorkbookUnreadable, open_workbook

    errors = _Problems()
    try:
        wb = open_workbook(data)
    except (WorkbookTooLarge, WorkbookUnreadable) as exc:
        raise WorkbookInvalid([{"sheet": None, "row": None, "column": None, "message": str(exc)}]) from None
    try:
        ind_rows, tgt_rows, set_rows = _sheet(wb, "indicators", errors), _sheet(wb, "targets", errors), _sheet(wb, "settings", errors)
    except Exception as exc:  # noqa: BLE001 - a sheet openpyxl cannot read (bad XML inside)
        raise WorkbookInvalid([{"sheet": None, "row": None, "column": None, "message": str(WorkbookUnreadable(
            f"one of its sheets cannot be read ({exc.__class__.__name__})"))}]) from None
    finally:
        wb.close()
    if errors:
        raise WorkbookInvalid(list(errors))
    area_field, area_path, contacts = _settings_sheet(set_rows, schema, errors)
    indicators, named = _indicators_sheet(ind_rows, schema, errors)
    criteria = _targets_sheet(tgt_rows, named, errors, area_codes)
    if errors:
        raise WorkbookInvalid(list(errors))
    return Workbook(area_field, area_path, indicators, criteria, contacts)


def _settings_sheet(set_rows: list, schema: Schema, errors: _Problems) -> tuple[str, str, dict[str, str]]:
    """The settings sheet: (area_field, its path, contact field paths). A two-column sheet (key,
    value) or a header row with area_field."""
    from server.indicators.expressions import ExpressionError, parse, resolve

    _, settings_rows = _table(set_rows, "settings", (), errors)
    area_field = ""
    contacts: dict[str, str] = {}
    for n, cells in settings_rows:
        if "area_field" in cells:
            area_field = cells["area_field"][1]
        for key, default in CONTACT_FIELDS.items():
            name = cells.get(key, ("", ""))[1] if key in cells else default
            if not name:
                continue
            owner = next((f for f in schema.leaves() if f.path[-1] == name), None)
            if owner is not None:
                contacts[key] = "/".join(owner.path)
            elif key in cells:
                errors.at("settings", n, cells, key, f"The form has no field '{name}'.")
    if not area_field and set_rows and len(set_rows) > 1 and set_rows[0] and set_rows[0][0].lower() == "key":
        area_field = next((r[1] for r in set_rows[1:] if r and r[0] == "area_field" and len(r) > 1), "")
    area_path = ""
    if not area_field:
        errors.append({"sheet": "settings", "row": 1, "column": "area_field", "cell": None,
                       "message": "Set area_field: the form field that holds the household's lowest-level area code."})
    else:
        try:
            area_path = resolve(parse(f"${{{area_field}}}"), schema, None)[area_field]
        except ExpressionError as exc:
            errors.append({"sheet": "settings", "row": 2, "column": "area_field", "cell": None, "message": str(exc)})
    return area_field, area_path, contacts


def _indicators_sheet(ind_rows: list, schema: Schema, errors: _Problems) -> tuple[list[Indicator], dict[str, int]]:
    """The indicators sheet: (the valid indicators, {name: row} of every named one), so that the
    targets can tell an unknown indicator from one whose row has a mistake."""
    _, rows = _table(ind_rows, "indicators", ("name", "unit", "filter", "condition"), errors)
    repeats = {r.path[-1]: r.path for r in schema.repeats()}
    indicators: list[Indicator] = []
    named: dict[str, int] = {}
    for n, cells in rows:
        name = cells.get("name", ("", ""))[1]
        if not name:
            errors.at("indicators", n, cells, "name", "The indicator has no name.")
            continue
        if name in named:
            errors.at("indicators", n, cells, "name", f"Duplicate indicator '{name}' (first on row {named[name]}).")
            continue
        named[name] = n
        found = _indicator(n, cells, name, schema, repeats, errors)
        if found is not None:
            indicators.append(found)
    return indicators, named


def _indicator(n: int, cells: dict, name: str, schema: Schema, repeats: dict, errors: _Problems) -> Indicator | None:
    """One row of the indicators sheet: its unit and expressions checked against the form."""
    from server.indicators.expressions import ExpressionError, parse, resolve

    unit = (cells.get("unit", ("", ""))[1] or HOUSEHOLD).strip()
    if unit == HOUSEHOLD:
        unit_path: tuple[str, ...] | None = None
    elif unit in repeats:
        unit_path = repeats[unit]
    else:
        errors.at("indicators", n, cells, "unit", f"Unknown unit '{unit}'; use 'household' or a repeat group of the "
                  f"form ({', '.join(repeats) or 'it has none'}).")
        return None
    fields: dict[str, str] = {}
    ok = True
    for col in ("filter", "condition"):
        text = cells.get(col, ("", ""))[1]
        if not text:
            if col == "condition":
                errors.at("indicators", n, cells, col, "The condition is empty: say who counts in the numerator.")
                ok = False
            continue
        try:
            fields.update(resolve(parse(text), schema, unit_path))
        except ExpressionError as exc:
            errors.at("indicators", n, cells, col, f"{exc} (in: {text})")
            ok = False
    if not ok:
        return None
    return Indicator(name, _labels(cells), unit, "/".join(unit_path) if unit_path else "",
                     cells.get("filter", ("", ""))[1], cells["condition"][1], fields)


def _targets_sheet(tgt_rows: list, named: dict[str, int], errors: _Problems,
                   area_codes: Set[str] | None = None) -> list[Criterion]:
    """The targets sheet: one criterion per row, each checked against the indicators named and its
    `areas` against the project's registry (`area_codes`; None: the project has none yet).

    A target set naming some codes of this project's registry must name only such codes (the others are
    mistakes, reported with a "did you mean"). A set naming none of them is another place's standard —
    the shipped workbook's sets are for the sample registry — and is kept, applying to no area here
    (Workbook.unplaced_sets lists them, and the upload says so)."""
    _, rows = _table(tgt_rows, "targets", ("target_set", "criterion", "indicator", "comparator", "threshold", "level"),
                     errors)
    criteria: list[Criterion] = []
    first_rows: dict[tuple[str, str, str], int] = {}
    for n, cells in rows:
        found = _criterion(n, cells, named, first_rows, errors)
        found.areas = [c for c in _AREA_SEPARATORS.split(cells.get("areas", ("", ""))[1]) if c]
        criteria.append(found)
    placed = {c.target_set for c in criteria if area_codes is not None and set(c.areas) & area_codes}
    if area_codes is not None:
        for (n, cells), found in zip(rows, criteria):
            for code in found.areas:
                if found.target_set in placed and code not in area_codes:
                    hint = _close(code, sorted(area_codes))
                    errors.at("targets", n, cells, "areas", f"Unknown area '{code}': it is not in this project's "
                              f"area registry{hint or '.'}")
    for found in criteria:
        found.areas = list(dict.fromkeys(found.areas))
    return criteria


_AREA_SEPARATORS = re.compile(r"[,;\s]+")


def _criterion(n: int, cells: dict, named: dict[str, int], first_rows: dict, errors: _Problems) -> Criterion:
    """One row of the targets sheet; `first_rows` remembers where each (target set, criterion, level) was first."""
    def get(column: str) -> str:
        return cells.get(column, ("", ""))[1]

    target_set, criterion, indicator = get("target_set"), get("criterion"), get("indicator")
    if not target_set:
        errors.at("targets", n, cells, "target_set", "The target set is empty.")
    if not criterion:
        errors.at("targets", n, cells, "criterion", "The criterion has no id.")
    key = (target_set, criterion, get("level").lower())
    if criterion and key in first_rows:
        errors.at("targets", n, cells, "criterion", f"Duplicate criterion '{criterion}' in target set '{target_set}' "
                  f"(first on row {first_rows[key]}).")
    first_rows.setdefault(key, n)
    if indicator not in named:
        hint = _close(indicator, list(named))
        errors.at("targets", n, cells, "indicator", f"Unknown indicator '{indicator}'{hint}.")
    comparator = get("comparator").replace("≥", ">=").replace("≤", "<=").replace("=>", ">=").replace("=<", "<=")
    if comparator not in COMPARATORS:
        errors.at("targets", n, cells, "comparator",
                  f"Unknown comparator '{get('comparator')}'; use one of {', '.join(COMPARATORS)}.")
    threshold = None
    try:
        threshold = float(get("threshold").replace("%", "").replace(",", "."))
        if not 0 <= threshold <= 100:
            errors.at("targets", n, cells, "threshold", f"The threshold {get('threshold')} is outside 0–100 (a percentage).")
    except ValueError:
        errors.at("targets", n, cells, "threshold",
                  f"The threshold '{get('threshold')}' is not a number (a percentage, 0–100).")
    level = get("level").lower()
    if level not in LEVELS:
        errors.at("targets", n, cells, "level", f"Unknown level '{get('level')}'; use one of {', '.join(LEVELS)}.")
    year = None
    if get("year"):
        try:
            year = int(get("year"))
        except ValueError:
            errors.at("targets", n, cells, "year", f"The year '{get('year')}' is not a whole number.")
    return Criterion(target_set, _labels(cells), criterion, indicator, comparator, threshold or 0.0,
                     level, year, get("pillar") or None)


def _close(word: str, options: list[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, options, n=1)
    return f"; did you mean '{match[0]}'?" if match else ""
