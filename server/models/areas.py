"""The area registry of a project: province → district → commune → village, with expected counts.

Loaded from a CSV or XLSX that form designers edit like an XLSForm, and checked the same way:
every mistake is reported with its row and column, and nothing is stored unless all is well. The
registry also becomes the `areas.csv` media of forms whose location cascade reads it."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base

LEVELS = ("province", "district", "commune", "village")
REQUIRED = ("code", "name", "level", "parent", "expected_households")
OPTIONAL = ("expected_residents",)
MEDIA_NAME = "areas.csv"


class Area(Base):
    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(64))
    # "DN/DN-HV/DN-HV-HP": the codes from the top down, so descendants are a prefix match.
    path: Mapped[str] = mapped_column(String(1024), index=True)
    expected_households: Mapped[int | None] = mapped_column(Integer)
    expected_residents: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)


@dataclass
class AreaRow:
    row: int
    code: str
    name: str
    level: str
    parent: str
    expected_households: int | None
    expected_residents: int | None


class RegistryInvalid(ValueError):
    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} problem(s) in the area registry")
        self.errors = errors


def read_table(data: bytes) -> list[list[str]]:
    """Rows of cells from CSV (UTF-8, with or without BOM) or the first sheet of an XLSX."""
    if data.startswith(b"PK\x03\x04"):
        from server.xforms.safezip import WorkbookTooLarge, WorkbookUnreadable, open_workbook

        try:
            wb = open_workbook(data)
        except (WorkbookTooLarge, WorkbookUnreadable) as exc:
            raise RegistryInvalid([{"row": None, "column": None, "message": str(exc)}]) from None
        try:
            ws = wb["areas"] if "areas" in wb.sheetnames else wb.worksheets[0]
            rows = [["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)).strip()
                     for v in r] for r in ws.iter_rows(values_only=True)]
        except Exception as exc:  # noqa: BLE001 - a sheet openpyxl cannot read (bad XML, no sheet at all)
            raise RegistryInvalid([{"row": None, "column": None, "message": str(WorkbookUnreadable(
                f"its first sheet cannot be read ({exc.__class__.__name__})"))}]) from None
        finally:
            wb.close()
        return rows
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryInvalid([{"row": None, "column": None, "message":
                                f"The file is not UTF-8 text or an .xlsx workbook (byte {exc.start}). Save it as "
                                "'CSV UTF-8' or as an Excel workbook."}]) from None
    return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text))]


def parse_registry(data: bytes) -> list[AreaRow]:
    """Check every row; raise RegistryInvalid listing each problem with its row and column."""
    import unicodedata

    rows = [r for r in read_table(data) if any(c for c in r)]
    if not rows:
        raise RegistryInvalid([{"row": None, "column": None, "message": "The area registry is empty."}])
    header = [h.strip().lower() for h in rows[0]]
    errors: list[dict] = []
    for col in REQUIRED:
        if col not in header:
            errors.append({"row": 1, "column": col, "message": f"Required column '{col}' is missing."})
    for h in header:
        if h and h not in REQUIRED + OPTIONAL:
            errors.append({"row": 1, "column": h, "message": f"Unknown column '{h}'; the columns are "
                           f"{', '.join(REQUIRED + OPTIONAL)}."})
    if errors:
        raise RegistryInvalid(errors)
    idx = {h: i for i, h in enumerate(header)}

    def cell(r: list[str], col: str) -> str:
        i = idx.get(col)
        return unicodedata.normalize("NFC", r[i]) if i is not None and i < len(r) else ""

    def count(r: list[str], col: str, rownum: int) -> int | None:
        raw = cell(r, col).replace(" ", "")
        if raw == "":
            return None
        if re.fullmatch(r"\d{1,3}([.,]\d{3})+", raw):  # 3.800 or 3,800: thousands separators
            raw = re.sub(r"[.,]", "", raw)
        try:
            n = int(raw)
        except ValueError:
            errors.append({"row": rownum, "column": col, "message": f"'{cell(r, col)}' is not a whole number."})
            return None
        if n < 0:
            errors.append({"row": rownum, "column": col, "message": f"{n} is negative; counts cannot be."})
        return n

    out: list[AreaRow] = []
    seen: dict[str, int] = {}
    for n, r in enumerate(rows[1:], start=2):
        a = AreaRow(n, cell(r, "code"), cell(r, "name"), cell(r, "level").lower(), cell(r, "parent"),
                    count(r, "expected_households", n), count(r, "expected_residents", n))
        if not a.code:
            errors.append({"row": n, "column": "code", "message": "The code is empty."})
        elif a.code in seen:
            errors.append({"row": n, "column": "code", "message": f"Duplicate code '{a.code}' (first on row {seen[a.code]})."})
        else:
            seen[a.code] = n
        if "/" in a.code:
            errors.append({"row": n, "column": "code", "message": "A code cannot contain '/'."})
        if not a.name:
            errors.append({"row": n, "column": "name", "message": "The name is empty."})
        if a.level not in LEVELS:
            errors.append({"row": n, "column": "level", "message": f"Unknown level '{a.level}'; use one of {', '.join(LEVELS)}."})
        out.append(a)
    by_code = {a.code: a for a in out if a.code}
    for a in out:
        if a.level not in LEVELS:
            continue
        if a.level == "province":
            if a.parent:
                errors.append({"row": a.row, "column": "parent", "message": "A province has no parent; leave it empty."})
            continue
        parent = by_code.get(a.parent)
        if not a.parent:
            errors.append({"row": a.row, "column": "parent", "message": f"A {a.level} needs a parent."})
        elif parent is None:
            errors.append({"row": a.row, "column": "parent", "message": f"Unknown parent '{a.parent}'."})
        elif parent.level in LEVELS and LEVELS.index(parent.level) != LEVELS.index(a.level) - 1:
            want = LEVELS[LEVELS.index(a.level) - 1]
            errors.append({"row": a.row, "column": "parent", "message":
                           f"The parent of a {a.level} must be a {want}; '{a.parent}' is a {parent.level}."})
    errors.extend(_cycles(out, by_code))
    if errors:
        raise RegistryInvalid(sorted(errors, key=lambda e: (e["row"] or 0, e["column"] or "")))
    return out


def _cycles(rows: list[AreaRow], by_code: dict[str, AreaRow]) -> list[dict]:
    errors = []
    for a in rows:
        seen: set[str] = set()
        cur: AreaRow | None = a
        while cur is not None and cur.parent:
            if cur.code in seen:
                errors.append({"row": a.row, "column": "parent", "message": f"'{a.code}' is its own ancestor (a cycle)."})
                break
            seen.add(cur.code)
            cur = by_code.get(cur.parent)
    return errors


def _paths(rows: list[AreaRow]) -> dict[str, str]:
    by_code = {a.code: a for a in rows}
    paths: dict[str, str] = {}

    def path(code: str) -> str:
        if code not in paths:
            a = by_code[code]
            paths[code] = f"{path(a.parent)}/{code}" if a.parent else code
        return paths[code]

    for a in rows:
        path(a.code)
    return paths


def replace_registry(db: Session, project_id: int, rows: list[AreaRow]) -> int:
    """The uploaded registry replaces the project's, in the caller's transaction."""
    from server.models.projects import Project

    paths = _paths(rows)
    db.execute(update(Project).where(Project.id == project_id)
               .values(areas_generation=Project.areas_generation + 1))
    db.execute(delete(Area).where(Area.project_id == project_id))
    if rows:
        db.execute(insert(Area), [dict(project_id=project_id, code=a.code, name=a.name, level=a.level,
                                       parent_code=a.parent or None, path=paths[a.code],
                                       expected_households=a.expected_households,
                                       expected_residents=a.expected_residents, position=i)
                                  for i, a in enumerate(rows)])
    db.flush()
    return len(rows)


def areas_of(db: Session, project_id: int) -> list[Area]:
    return list(db.scalars(select(Area).where(Area.project_id == project_id).order_by(Area.position)))


def registry_codes(db: Session, project_id: int) -> set[str] | None:
    """The codes of the project's registry, to check a targets workbook's `areas` against; None when
    the project has no registry yet (nothing to check against)."""
    codes = set(db.scalars(select(Area.code).where(Area.project_id == project_id)))
    return codes or None


def as_media_csv(areas: list[Area]) -> bytes:
    """The registry as the form media the survey's cascade reads (select_one_from_file areas.csv)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(REQUIRED + OPTIONAL)
    for a in areas:
        w.writerow([a.code, a.name, a.level, a.parent_code or "", a.expected_households if a.expected_households is not None else "",
                    a.expected_residents if a.expected_residents is not None else ""])
    return buf.getvalue().encode("utf-8")


def sync_form_media(db: Session, store, project_id: int) -> list[str]:
    """Point every form of the project whose cascade reads areas.csv at the registry just loaded.

    Collect sees the new hash in the manifest and downloads the list again (odk-protocol §2)."""
    from server.db import utcnow
    from server.models.blobs import ensure_blob
    from server.models.forms import Form, FormAttachment

    data = as_media_csv(areas_of(db, project_id))
    sha, md5, size = store.put_bytes(data)
    blob_id = ensure_blob(db, sha, md5, size)
    rows = db.execute(select(Form.xml_form_id, FormAttachment)
                      .join(FormAttachment, FormAttachment.form_def_id.in_([Form.current_def_id, Form.draft_def_id]))
                      .where(Form.project_id == project_id, Form.deleted_at.is_(None),
                             FormAttachment.name == MEDIA_NAME)).all()
    for _, attachment in rows:
        attachment.blob_id, attachment.content_type, attachment.updated_at = blob_id, "text/csv", utcnow()
    db.flush()
    return sorted({form_id for form_id, _ in rows})
