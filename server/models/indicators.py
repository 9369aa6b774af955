"""The indicators workbook a form designer uploaded for a form, and what it defines.

`indicator_sets` keeps one row per form: the workbook's blob, its definition (Workbook.to_json) and a
generation counted up with each upload. The per-household contributions computed from it, and their
per-area sums, are the store in server/indicators/contributions.py; a new workbook drops them.

`target_set_choices` remembers the target set a web user chose on a form's dashboard for one area
(the page of that area, "" for the whole project), so that it is shown again on the next visit; an
area without a choice gets the set that applies to it (Workbook.applicable_set)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server import problems
from server.db import Base, UTCDateTime, utcnow
from server.indicators.workbook import Workbook, WorkbookInvalid, parse_workbook
from server.models.blobs import BlobStore, ensure_blob
from server.models.forms import Form, FormDef


class IndicatorSet(Base):
    __tablename__ = "indicator_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), unique=True)
    workbook_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))
    definition: Mapped[dict] = mapped_column(JSON)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TargetSetChoice(Base):
    __tablename__ = "target_set_choices"

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(64), primary_key=True)     # "": the whole project
    target_set: Mapped[str] = mapped_column(String(128))                     # "": no target set
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def chosen_target_set(db: Session, actor_id: int, form_id: int, area_code: str | None) -> str | None:
    """The target set the user last chose on this dashboard page ("" for none), or None if never."""
    return db.scalar(select(TargetSetChoice.target_set).where(
        TargetSetChoice.actor_id == actor_id, TargetSetChoice.form_id == form_id,
        TargetSetChoice.area_code == (area_code or "")))


def remember_target_set(db: Session, actor_id: int, form_id: int, area_code: str | None, target_set: str) -> None:
    """Keep the user's choice for this page; the caller commits."""
    key = (actor_id, form_id, area_code or "")
    found = db.get(TargetSetChoice, key)
    if found is None:
        db.add(TargetSetChoice(actor_id=actor_id, form_id=form_id, area_code=area_code or "", target_set=target_set))
    elif found.target_set != target_set:
        found.target_set, found.chosen_at = target_set, utcnow()


def indicator_set(db: Session, form_id: int) -> IndicatorSet | None:
    return db.scalars(select(IndicatorSet).where(IndicatorSet.form_id == form_id)).first()


def save_workbook(db: Session, form_id: int, workbook: Workbook, blob_id: int | None) -> IndicatorSet:
    found = indicator_set(db, form_id)
    if found is None:
        found = IndicatorSet(form_id=form_id, generation=0)
        db.add(found)
    found.definition, found.workbook_blob_id = workbook.to_json(), blob_id
    found.generation = (found.generation or 0) + 1
    found.updated_at = utcnow()
    db.flush()
    # Other indicators, other columns: the store is made again on the next report.
    from server.indicators.contributions import drop_contributions

    drop_contributions(db, form_id)
    return found


def upload_workbook(db: Session, store: BlobStore, form: Form, data: bytes) -> tuple[Workbook, IndicatorSet]:
    """The workbook checked against the published version and saved, for `PUT …/indicators` and the
    form page alike: IndicatorsInvalid lists every mistake (sheet, row, column, cell), nothing saved."""
    from server.models.areas import registry_codes
    from server.xforms.schema import read_schema

    if form.current_def_id is None:
        raise problems.NotFound("Publish the form before giving it indicators.")
    schema = read_schema(db.get_one(FormDef, form.current_def_id).xml)
    try:
        workbook = parse_workbook(data, schema, registry_codes(db, form.project_id))
    except WorkbookInvalid as exc:
        first = exc.errors[0]
        where = ", ".join(f"{k} {first[k]}" for k in ("sheet", "row", "column") if first.get(k))
        raise problems.IndicatorsInvalid(
            f"The indicators workbook has {len(exc.errors)} problem(s); nothing was changed. First: "
            f"{where + ': ' if where else ''}{first['message']}", details={"errors": exc.errors}) from None
    sha, md5, size = store.put_bytes(data)
    return workbook, save_workbook(db, form.id, workbook, ensure_blob(db, sha, md5, size))
