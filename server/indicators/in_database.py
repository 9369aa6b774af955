"""The first computation of every household as one `INSERT … SELECT` (PostgreSQL).

A new workbook makes every household's contributions due at once. Fetched into Python that was 100,000
household rows and 400,000 roster rows through the driver, then evaluated and copied back
(bench/README.md, "bench/indicators_first.py"). Here the indicators whose expressions compile to SQL
(server/indicators/sql_expressions.py) are summed by the database itself: one statement reads the
answers, evaluates filter and condition per household or roster row, sums the roster rows per
household and writes `ic{form}`. An indicator that does not compile gets 0 there and is then
computed by the Python evaluator for the same households (contributions._fill_in_database). The
households the statement leaves out — an answer SQL would read differently (`Reads.odd`), an entity
updated by a follow-up (its latest state is laid over the answers in Python: latest.py) — stay due and
are computed by the ordinary path right after, so the stored rows are those it would have stored."""
from __future__ import annotations

from dataclasses import dataclass

from server.indicators.engine import needed_fields
from server.indicators.expressions import parse
from server.indicators.sql_expressions import (
    WHITESPACE,
    NotCompilable,
    Parameters,
    Reads,
    compile_condition,
    number_of,
)
from server.indicators.workbook import Indicator, Workbook
from server.models.entities import Entity, EntityVersion
from server.models.form_data import DataTables


@dataclass
class Plan:
    sql: str
    params: dict[str, object]
    compiled: list[int]                 # positions of the indicators the statement computes
    python: list[int]                   # … and of those left to the Python evaluator (0 in the statement)


def _unit_sql(ind: Indicator, column, params: Parameters, reads: Reads, number=None) -> tuple[str, str]:
    """(passes, condition) of one indicator as SQL truth values (it meets it: both); raises NotCompilable."""
    passes = compile_condition(parse(ind.filter), column, params, reads, number) if ind.filter else "true"
    return passes, compile_condition(parse(ind.condition), column, params, reads, number)


def plan(tables: DataTables, workbook: Workbook, form_id: int, generation: int, entities: bool,
         ic_name: str, states: str) -> Plan | None:
    """The statement inserting every due household of the form (none of them may have a row yet: the
    caller checks `ic` is empty) or None when no indicator compiles. `states` is the SQL of a submission's
    state (contributions._state) over `s`."""
    need = needed_fields(workbook)
    params = Parameters()
    household_reads = Reads()

    def household_column(ind: Indicator):
        def column(name: str) -> str:
            path = ind.fields.get(name)
            if path in tables.columns and tables.columns[path][0] == "":
                return f"h.{tables.columns[path][1]}"
            return "NULL"
        return column

    # A roster's rows are read through a subquery (`OFFSET 0` keeps PostgreSQL from inlining it) that reads
    # each answer once per row, as a number too where one is compared as a number: `r.c7`, `r.h_c3` (the
    # household's), `r.c7_n` (as a number).
    def roster_column(ind: Indicator, used: dict[str, str]):
        def column(name: str) -> str:
            path = ind.fields.get(name)
            if path not in tables.columns:
                return "NULL"
            unit, col = tables.columns[path]
            if unit == ind.unit_path:
                used[f"r.{col}"] = f"r.{col}"
                return f"r.{col}"
            if unit == "" and path in need[""]:     # the household's answers the Python path joins in
                used[f"r.h_{col}"] = f"h.{col}"
                return f"r.h_{col}"
            return "NULL"
        return column

    measures: list[str] = []
    compiled, python = [], []
    # unit path -> its alias, Reads, the answers it reads ({alias: source}) and its truth values ({SQL: name})
    rosters: dict[str, dict] = {}
    for k, ind in enumerate(workbook.indicators):
        unit = ind.unit_path
        if unit != "" and unit not in tables.repeats:
            measures += ["0", "0"]          # a repeat no version of the form has: nobody in it
            compiled.append(k)
            continue
        try:
            if unit == "":
                reads = Reads()
                passes, condition = _unit_sql(ind, household_column(ind), params, reads)
                meets = f"({passes} AND {condition})"
                household_reads.numbers |= reads.numbers
                household_reads.lists |= reads.lists
                measures += [f"({meets})::int", f"({passes})::int"]
            else:
                found = rosters.setdefault(unit, {"alias": f"u{len(rosters)}", "reads": Reads(), "used": {}, "truths": {},
                                                 "sums": []})
                reads = Reads()
                passes, condition = _unit_sql(ind, roster_column(ind, found["used"]), params, reads, lambda c: f"{c}_n")
                found["reads"].numbers |= reads.numbers
                found["reads"].lists |= reads.lists
                a, truths = found["alias"], found["truths"]
                # Filters and conditions each computed once per row, though indicators share them in other
                # pairs (the same condition under two age ranges); a count is of the rows where both hold.
                p, c = (truths.setdefault(sql, f"t{len(truths)}") for sql in (passes, condition))
                found["sums"] += [f"count(*) FILTER (WHERE r.{p} AND r.{c}) AS n{k}",
                                  f"count(*) FILTER (WHERE r.{p}) AS d{k}"]
                measures += [f"coalesce({a}.n{k}, 0)", f"coalesce({a}.d{k}, 0)"]
            compiled.append(k)
        except NotCompilable:
            measures += ["0", "0"]
            python.append(k)
    if not [k for k in compiled if workbook.indicators[k].unit_path == "" or
            workbook.indicators[k].unit_path in tables.repeats]:
        return None

    area = (f"h.{tables.columns[workbook.area_path][1]}" if workbook.area_path in tables.columns
            and tables.columns[workbook.area_path][0] == "" else "NULL")
    odd = [household_reads.odd(params)]
    joins = [f"JOIN {tables.root.name} h ON h.submission_id = s.id"]
    for unit, found in rosters.items():
        # Three levels, each computed once per roster row (`OFFSET 0` keeps PostgreSQL from inlining one into
        # the next, which would compute a shared filter or a number once per use): the answers, and as
        # numbers; each distinct truth value; the counts per household. The rows are read in household order
        # (the roster's index on submission_id; its rows lie in that order already), so the counts are summed
        # one household after another instead of in a hash table of every household, which at 1M households
        # spilled to disk: 22% less time for the statement (bench/README.md, "bench/indicators_first.py").
        a, reads, used = found["alias"], found["reads"], found["used"]
        ancestor = f" JOIN {tables.root.name} h ON h.submission_id = r.submission_id" \
            if any(c.startswith("h.") for c in used.values()) else ""
        answers = ["r.submission_id", *[f"{src} AS {alias[2:]}" for alias, src in used.items()],
                   *[f"{number_of(used[c], params)} AS {c[2:]}_n" for c in sorted(reads.numbers)]]
        truths = ["r.submission_id", *[f"{sql} AS {name}" for sql, name in found["truths"].items()],
                  f"({reads.odd(params, lambda c: f'{c}_n')}) AS odd"]
        joins.append(f"LEFT JOIN (SELECT r.submission_id, {', '.join(found['sums'])}, bool_or(r.odd) AS odd"
                     f" FROM (SELECT {', '.join(truths)} FROM (SELECT {', '.join(answers)}"
                     f" FROM {tables.repeats[unit].name} r{ancestor} ORDER BY r.submission_id OFFSET 0) r"
                     f" ORDER BY r.submission_id OFFSET 0) r"
                     f" GROUP BY r.submission_id) {a} ON {a}.submission_id = s.id")
        odd.append(f"coalesce({a}.odd, false)")
    version = "0"
    where = [f"s.form_id = {params.add(form_id)}", "s.draft = false"]
    if entities:
        ev, e = EntityVersion.__table__.name, Entity.__table__.name
        joins.append(f"LEFT JOIN {ev} hh_first ON hh_first.submission_id = s.id AND hh_first.version = 1"
                     f" LEFT JOIN {e} hh_entity ON hh_entity.id = hh_first.entity_id")
        version = "coalesce(hh_entity.version, 0)"
        where.append(f"{version} <= 1")     # updated by a follow-up: its latest state is read in Python
    where.append(f"NOT ({' OR '.join(odd)})")
    columns = ["submission_id", "def_id", "generation", "area_code", "state", "entity_version",
               *[f"{x}{k}" for k in range(len(workbook.indicators)) for x in ("n", "d")]]
    sql = (f"INSERT INTO {ic_name} ({', '.join(columns)}) "
           f"SELECT s.id, coalesce(s.current_def_id, 0), {params.add(generation)}, btrim(coalesce({area}, ''), {params.add(WHITESPACE)}), {states}, "
           f"{version}, {', '.join(measures)} FROM submissions s {' '.join(joins)} WHERE {' AND '.join(where)}")
    return Plan(sql, params.values, compiled, python)
