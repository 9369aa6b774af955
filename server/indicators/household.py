"""One household as a visit plan needs it: who to ask for, how to call, and which criteria of a target
set it does not meet yet — what a supervisor reads after tapping its dot on the dashboard's map.

"Lacks" is read from the stored contributions (`ic{form}`, server/indicators/contributions.py), the
same numbers the indicators report sums: for each indicator the household is concerned by (its
denominator is above 0), it lacks it when not every unit counted has it (numerator below denominator).
The caller has brought the contributions up to date (`results.report` does) and checked its rights."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.indicators.contributions import contributions_table, counted_states
from server.indicators.workbook import Indicator, Workbook
from server.models.form_data import data_tables
from server.models.submissions import Submission


@dataclass
class Lack:
    indicator: Indicator
    numerator: int           # units that have it (people for a person-level indicator, else 0 or 1)
    denominator: int         # units concerned


@dataclass
class HouseholdCard:
    submission_id: int
    instance_id: str
    area: str                # its area code
    name: str | None
    phone: str | None
    address: str | None
    judged: list[Indicator] = field(default_factory=list)    # the indicators it was judged on
    lacks: list[Lack] = field(default_factory=list)


def judged_indicators(workbook: Workbook, target_set: str | None) -> list[Indicator]:
    """The indicators a household is judged on: those of the target set's criteria (in the workbook's
    order), or every indicator when no set is chosen."""
    if not target_set:
        return list(workbook.indicators)
    named = {c.indicator for c in workbook.criteria if c.target_set == target_set}
    return [i for i in workbook.indicators if i.name in named]


def household_card(db: Session, form_id: int, workbook: Workbook, submission_id: int,
                   target_set: str | None, include_rejected: bool = True) -> HouseholdCard | None:
    """The card of one household of the form, None when it is not one (another form's, deleted, a draft,
    or rejected when rejected ones are not asked for). Two indexed reads: its contributions, its answers."""
    ic = contributions_table(form_id, len(workbook.indicators))
    s = Submission.__table__
    row = db.execute(select(ic, s.c.instance_id).join(s, s.c.id == ic.c.submission_id)
                     .where(ic.c.submission_id == submission_id, s.c.form_id == form_id,
                            s.c.deleted_at.is_(None), ic.c.state.in_(counted_states(include_rejected)))).first()
    if row is None:
        return None
    tables = data_tables(db, form_id)
    contacts = {k: tables.columns[p][1] for k, p in workbook.contacts.items()
                if p in tables.columns and tables.columns[p][0] == ""}
    wanted = [k for k in ("name_field", "phone_field", "address_field") if k in contacts]
    answers: dict[str, str | None] = {}
    if wanted:
        root = tables.root
        found = db.execute(select(*[root.c[contacts[k]] for k in wanted])
                           .where(root.c.submission_id == submission_id)).first()
        answers = dict(zip(wanted, found)) if found else {}
    card = HouseholdCard(submission_id, row.instance_id, row.area_code, _text(answers.get("name_field")),
                         _text(answers.get("phone_field")), _text(answers.get("address_field")),
                         judged_indicators(workbook, target_set))
    position = {i.name: k for k, i in enumerate(workbook.indicators)}
    values = row._mapping
    for indicator in card.judged:
        k = position[indicator.name]
        n, d = int(values[f"n{k}"]), int(values[f"d{k}"])
        if d > 0 and n < d:
            card.lacks.append(Lack(indicator, n, d))
    return card


def _text(value) -> str | None:
    value = None if value is None else str(value).strip()
    return value or None
