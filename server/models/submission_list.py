"""A page of a form's submissions for the submissions table: its key columns, filtered and sorted.

The filters are an export's `Selection` (server/exports/source.py: dates, review states, the area
and everything below it), so the table shows exactly the rows a download with the same filters
holds. Only one page of rows is read (LIMIT/OFFSET over the (form, created_at) index), with the
area code and the respondent's name from the form's root table, and the attachment counts as
correlated subqueries for those rows only. The enumerator filter's choices are one GROUP BY."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, null, select
from sqlalchemy.orm import Session

from server.exports.source import ATTACHMENTS, DEFS, SUBMISSIONS, Selection
from server.models.accounts import Actor
from server.models.areas import Area
from server.models.form_data import DataTables

PAGE_SIZE = 50


@dataclass
class ListedSubmission:
    id: int
    instance_id: str
    created_at: datetime
    submitter_id: int | None
    submitter: str | None
    review_state: str | None
    edits: int
    instance_name: str | None
    encrypted: bool
    attachments_present: int
    attachments_expected: int
    area_code: str | None
    name: str | None          # the respondent's name, from the name field when the form has one


def _filtered(tables: DataTables, selection: Selection, submitter_id: int | None):
    s, root = SUBMISSIONS, tables.root
    clauses = selection.where(s, root)
    if submitter_id is not None:
        clauses.append(s.c.submitter_id == submitter_id)
    return s, root, clauses


def count(db: Session, tables: DataTables, selection: Selection, submitter_id: int | None = None) -> int:
    s, root, clauses = _filtered(tables, selection, submitter_id)
    joined = s.join(root, root.c.submission_id == s.c.id) if selection.needs_root else s
    return db.execute(select(func.count()).select_from(joined).where(*clauses)).scalar_one()


def page(db: Session, tables: DataTables, selection: Selection, submitter_id: int | None = None,
         limit: int = PAGE_SIZE, offset: int = 0, name_column: str | None = None) -> list[ListedSubmission]:
    """Newest first, as Central lists them (ties broken by id).

    The page's ids are picked first by a narrow query (the submissions index, and the root table
    only when an area is asked for), then only those rows are joined to what the table shows: a
    deep OFFSET skips index entries, not joined rows."""
    s, root, clauses = _filtered(tables, selection, submitter_id)
    narrow = s.join(root, root.c.submission_id == s.c.id) if selection.needs_root else s
    ids = list(db.scalars(select(s.c.id).select_from(narrow).where(*clauses)
                          .order_by(s.c.created_at.desc(), s.c.id.desc()).limit(limit).offset(offset)))
    if not ids:
        return []
    d, actor = DEFS.alias("current_def"), Actor.__table__
    present = (select(func.count(ATTACHMENTS.c.blob_id)).where(ATTACHMENTS.c.submission_def_id == s.c.current_def_id)
               .scalar_subquery())
    expected = (select(func.count()).select_from(ATTACHMENTS)
                .where(ATTACHMENTS.c.submission_def_id == s.c.current_def_id).scalar_subquery())
    area = root.c[selection.area_column] if selection.area_column else null()
    name = root.c[name_column] if name_column else null()
    stmt = (select(s.c.id, s.c.instance_id, s.c.created_at, s.c.submitter_id, actor.c.display_name, s.c.review_state,
                   s.c.edits, d.c.instance_name, d.c.encrypted, present, expected, area, name)
            .select_from(s.join(d, d.c.id == s.c.current_def_id).outerjoin(actor, actor.c.id == s.c.submitter_id)
                         .outerjoin(root, root.c.submission_id == s.c.id))
            .where(s.c.id.in_(ids)).order_by(s.c.created_at.desc(), s.c.id.desc()))
    # tuple(row): mypy cannot spread a Row of 13 columns (typed as ten and a variadic rest) over
    # the dataclass's parameters.
    return [ListedSubmission(*tuple(row)) for row in db.execute(stmt)]


def submitters(db: Session, form_id: int, scope=None) -> list[tuple[int, str, int]]:
    """(actor id, display name, submissions) of everyone who submitted to the form (within `scope`, the
    caller's areas, when it is limited to some): the enumerator filter."""
    s = SUBMISSIONS
    stmt = select(s.c.submitter_id, func.count()).where(
        s.c.form_id == form_id, s.c.deleted_at.is_(None), s.c.draft.is_(False), s.c.submitter_id.is_not(None))
    if scope is not None:
        stmt = stmt.where(scope.clause(s))
    rows = db.execute(stmt.group_by(s.c.submitter_id))
    counts: dict[int, int] = dict(rows.all())   # submitter_id IS NOT NULL above
    if not counts:
        return []
    names = dict(db.execute(select(Actor.id, Actor.display_name).where(Actor.id.in_(counts))).all())
    return sorted(((i, names.get(i, str(i)), n) for i, n in counts.items()), key=lambda r: (r[1].lower(), r[0]))


def area_names(db: Session, project_id: int, codes: set[str]) -> dict[str, str]:
    """Registry names of the area codes one page shows (a handful of codes, one query)."""
    codes = {c for c in codes if c}
    if not codes:
        return {}
    return dict(db.execute(select(Area.code, Area.name)
                           .where(Area.project_id == project_id, Area.code.in_(codes))).all())
