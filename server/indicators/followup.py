"""Follow-up lists and coverage: who to visit again, and how many households have been visited.

A follow-up list is the community team's visiting list for one indicator: the households of an
area where some unit (the household, or a person of its roster) is in the indicator's denominator
but not its numerator, with the contact details and the people concerned. Likely duplicate
households are flagged: the same household id, or the same respondent name and phone in one village.
Each household is judged on its latest state: its entity's follow-up updates over its survey answers
(server/indicators/latest.py), so a household helped on a visit leaves the list."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from server.indicators import latest
from server.indicators.contributions import contributions_table
from server.indicators.expressions import compile_expression
from server.indicators.workbook import Indicator, Workbook
from server.models.form_data import data_tables
from server.models.submissions import Submission, SubmissionDef


def _frame(conn, stmt) -> pd.DataFrame:
    result = conn.execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _households(db: Session, form_id: int, workbook: Workbook, area_codes: set[str] | None,
                include_rejected: bool):
    """Current, undeleted households (optionally of some areas) with their identity columns."""
    ic = contributions_table(form_id, len(workbook.indicators))
    s, d = Submission.__table__, SubmissionDef.__table__
    stmt = (select(ic.c.submission_id, ic.c.area_code, s.c.instance_id, s.c.submitter_id, s.c.created_at,
                   d.c.instance_name)
            .join(s, and_(s.c.id == ic.c.submission_id, s.c.current_def_id == ic.c.def_id))
            .join(d, d.c.id == s.c.current_def_id).where(s.c.deleted_at.is_(None)))
    if not include_rejected:
        stmt = stmt.where(or_(s.c.review_state.is_(None), s.c.review_state != "rejected"))
    if area_codes is not None:
        stmt = stmt.where(ic.c.area_code.in_(sorted(area_codes)))
    return _frame(db.connection(), stmt)


def follow_up(db: Session, form_id: int, workbook: Workbook, indicator: Indicator, area_codes: set[str] | None,
              include_rejected: bool = False, lacking_when_met: bool = False) -> list[dict]:
    """The households with a unit in the indicator's denominator but not its numerator — or, with
    `lacking_when_met` (a target of at most so much: `<`, `<=`), in its numerator."""
    households = _households(db, form_id, workbook, area_codes, include_rejected)
    if households.empty:
        return []
    tables = data_tables(db, form_id)
    conn = db.connection()
    ids = households["submission_id"].tolist()
    contact_paths = {k: p for k, p in workbook.contacts.items() if p in tables.columns and tables.columns[p][0] == ""}
    root_paths = set(contact_paths.values()) | {p for p in indicator.fields.values() if tables.columns.get(p, ("x",))[0] == ""}
    root = tables.root
    rows = []
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        rows.append(_frame(conn, select(root.c.submission_id, *[root.c[tables.columns[p][1]].label(p) for p in sorted(root_paths)])
                           .where(root.c.submission_id.in_(chunk))))
    frame = households.merge(pd.concat(rows, ignore_index=True), on="submission_id", how="left")
    member_number = workbook.contacts.get("member_number_field")
    state = None
    if latest.writes_entities(db, form_id):
        state = latest.latest_properties(conn, ids, latest.property_names([*root_paths, *indicator.fields.values()]))
        frame = latest.apply_to_households(frame, state, root_paths)
    data = frame
    if indicator.unit_path:
        rep = tables.repeats[indicator.unit_path]
        unit_paths = {p for p in indicator.fields.values() if tables.columns.get(p, ("",))[0] == indicator.unit_path}
        member_name = workbook.contacts.get("member_name_field")
        if member_name and tables.columns.get(member_name, ("",))[0] == indicator.unit_path:
            unit_paths.add(member_name)
        if member_number and tables.columns.get(member_number, ("",))[0] == indicator.unit_path:
            unit_paths.add(member_number)
        parts = []
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            parts.append(_frame(conn, select(rep.c.submission_id, rep.c.row_key,
                                             *[rep.c[tables.columns[p][1]].label(p) for p in sorted(unit_paths)])
                                .where(rep.c.submission_id.in_(chunk))))
        roster = pd.concat(parts, ignore_index=True)
        if state is not None:
            roster = latest.apply_to_roster(roster, state, unit_paths, member_number)
        data = roster.merge(frame, on="submission_id", how="left")
    named = pd.DataFrame({name: data.get(path) for name, path in indicator.fields.items()},
                         index=data.index)
    passes = compile_expression(indicator.filter, as_boolean=True)(named).to_numpy(bool) if indicator.filter \
        else np.ones(len(data), bool)
    meets = compile_expression(indicator.condition, as_boolean=True)(named).to_numpy(bool)
    lacking = data[passes & (meets if lacking_when_met else ~meets)]
    duplicates = _duplicates(frame, contact_paths)
    out = []
    member_col = workbook.contacts.get("member_name_field")
    for _, group in lacking.groupby("submission_id", sort=False):
        first = group.iloc[0]
        entry = {"instanceId": first["instance_id"], "instanceName": first["instance_name"], "area": first["area_code"],
                 "name": _val(first, contact_paths.get("name_field")), "address": _val(first, contact_paths.get("address_field")),
                 "phone": _val(first, contact_paths.get("phone_field")), "count": len(group),
                 "headName": _val(first, contact_paths.get("head_name_field")),
                 "duplicateOf": duplicates.get(first["instance_id"], [])}
        if indicator.unit_path:
            entry["people"] = [_val(r, member_col) for _, r in group.iterrows()] if member_col in group else []
        out.append(entry)
    out.sort(key=lambda e: (e["area"], (e["name"] or "").casefold()))
    return out


def _val(row, path):
    if not path or path not in row:
        return None
    v = row[path]
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


def _duplicates(frame: pd.DataFrame, contact_paths: dict[str, str]) -> dict[str, list[str]]:
    """instanceId -> the other instanceIds that look like the same household."""
    keys = []
    if "household_id_field" in contact_paths:
        keys.append(["area_code", contact_paths["household_id_field"]])
    if "name_field" in contact_paths and "phone_field" in contact_paths:
        keys.append(["area_code", contact_paths["name_field"], contact_paths["phone_field"]])
    found: dict[str, set[str]] = {}
    for cols in keys:
        sub = frame[cols + ["instance_id"]].dropna()
        sub = sub[sub[cols[1]].astype(str).str.strip() != ""]
        norm = sub[cols].astype(str).apply(lambda c: c.str.strip().str.casefold())
        for _, group in sub.groupby([norm[c] for c in cols]):
            if len(group) > 1:
                ids = group["instance_id"].tolist()
                for i in ids:
                    found.setdefault(i, set()).update(x for x in ids if x != i)
    return {k: sorted(v) for k, v in found.items()}
