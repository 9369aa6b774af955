"""The person-level table: one row per roster member, beside the household's area and answers.

What analysts otherwise build by hand from the root and repeat CSVs with a join on PARENT_KEY:
here the join is done once, in the database, and the area code comes with the names of the
village, commune, district and province it belongs to (from the project's registry)."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine

from server import problems
from server.db import isoformat
from server.exports import persons_copy, source
from server.exports.csv_files import connect, csv_bytes, line_chunks
from server.exports.plan import TablePlan
from server.exports.spreadsheet import inert, inert_row
from server.exports.tables import Export, header, labeller, make_plans
from server.models.areas import LEVELS


@dataclass
class Registry:
    """code -> (name, level, parent code) of every area in the project."""

    areas: dict[str, tuple[str, str, str | None]]

    def names_by_level(self, code: str | None) -> dict[str, str]:
        out: dict[str, str] = {}
        seen: set[str] = set()
        while code and code in self.areas and code not in seen:
            seen.add(code)
            name, level, parent = self.areas[code]
            out.setdefault(level, name)
            code = parent
        return out


def roster_plan(export: Export, repeat_name: str | None) -> TablePlan:
    repeats = [(p.repeat.name, p) for p in export.plans[1:] if p.repeat is not None]   # all after the root
    if not repeats:
        raise problems.UnexpectedValue("This form has no repeat group, so it has no person-level table.",
                                       details={"field": "repeat"})
    if repeat_name is None:
        return repeats[0][1]
    for name, p in repeats:
        if name == repeat_name or p.repeat_path == repeat_name:
            return p
    raise problems.UnexpectedValue(f"The form has no repeat group '{repeat_name}'; it has "
                                   f"{', '.join(name for name, _ in repeats)}.", details={"field": "repeat"})


def person_chunks(engine: Engine, export: Export, repeat_name: str | None, registry: Registry | None,
                  bom: bool = True) -> Iterator[bytes]:
    with connect(engine) as conn:
        make_plans(conn, export)
        roster = roster_plan(export, repeat_name)
        household = TablePlan(repeat=None, columns=[c for c in export.root.columns if c.field.path[0] != "meta"])
        rcols = [export.tables.columns[p][1] for p in roster.paths]
        hcols = [export.tables.columns[p][1] for p in household.paths]
        own = header(export, roster)[:-2]
        theirs = header(export, household)[1:-10]
        taken = set(own)
        theirs = [f"household-{h}" if h in taken else h for h in theirs]
        area_at = None
        area_levels: list[str] = []
        if registry is not None and export.selection.area_path in household.paths:
            area_at = household.paths.index(export.selection.area_path)
            area_levels = list(reversed(LEVELS))
        head = own + theirs + [f"{level} name" for level in area_levels] + ["SubmissionDate", "PARENT_KEY", "KEY"]
        label_roster, label_household = labeller(export, roster), labeller(export, household)

        def lines() -> Iterator[str]:
            """Each member's CSV line. A household's cells (its answers, area names, SubmissionDate) are
            made, made inert and written as CSV once, and shared by its members: rows come household
            by household, and an instance ID names one household of the form. The csv module quotes
            each cell on its own, so a member's line is its own cells written with a mark where the
            household's text goes (written in full when a cell of its own holds the mark)."""
            parts: list[str] = []
            writer = csv.writer(_Appender(parts), lineterminator="\n")
            current, tail, text = None, [], ""
            for hers, row in source.person_rows(conn, export.tables, roster.repeat_path, rcols, hcols,
                                                export.selection):
                instance_id, created_at, key, parent_key = row[:4]
                if instance_id != current:
                    cells = household.cells(label_household(hers) if label_household else hers)
                    if area_at is not None and registry is not None:   # both set together above
                        names = registry.names_by_level(hers[area_at])
                        cells += [names.get(level) for level in area_levels]
                    cells.append(isoformat(created_at))
                    current, tail = instance_id, inert_row(cells)
                    writer.writerow(tail)
                    text = parts.pop()[:-1]
                mine = row[4:]
                own = inert_row(roster.cells(label_roster(mine) if label_roster else mine))
                keys = (inert(f"{instance_id}/{parent_key}" if parent_key else instance_id), inert(f"{instance_id}/{key}"))
                writer.writerow([*own, _MARK, *keys])
                line = parts.pop()
                if line.count(_MARK) == 1:
                    yield line.replace(_MARK, text)
                else:
                    writer.writerow([*own, *tail, *keys])
                    yield parts.pop()

        # The person table is meant for Excel: every cell is inert (made so in lines()).
        yield from csv_bytes(inert_row(head), [], bom, inert_cells=True)
        if persons_copy.usable(conn, export) and roster.repeat_path in export.tables.repeats:
            names = None
            if area_at is not None and registry is not None:
                names = {code: [found.get(level) for level in area_levels]
                         for code, found in ((code, registry.names_by_level(code)) for code in registry.areas) if code}
            yield from persons_copy.person_chunks(conn, export, roster, household, names, len(area_levels))
            return
        yield from line_chunks(lines())


# Where a household's CSV text goes in a member's line: a character the csv module never quotes.
_MARK = "\ue000"


class _Appender:
    """A file for csv.writer that keeps each line it writes."""

    def __init__(self, parts: list[str]) -> None:
        self.write = parts.append
