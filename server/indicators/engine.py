"""Per-household contributions to every indicator, computed vectorised from answer frames.

For each household (submission) and indicator: `den` is how many units pass the filter (1/0 for a
household indicator, a count of people for a roster indicator), `num` how many of those also meet
the condition. Results are sums of these over areas, so a new or edited household changes only its
own row (the incremental part) and roll-ups are exact sums, never averages of percentages."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from server.indicators.expressions import compile_expression
from server.indicators.workbook import Workbook


def needed_fields(workbook: Workbook) -> dict[str, set[str]]:
    """Field paths to load per unit ("" = the household table, else a repeat path)."""
    need: dict[str, set[str]] = {"": {workbook.area_path}}
    for ind in workbook.indicators:
        need.setdefault(ind.unit_path, set())
        for path in ind.fields.values():
            need[ind.unit_path].add(path)
            if ind.unit_path and not path.startswith(ind.unit_path + "/"):
                # an ancestor's answer (${consent} read per person): loaded with the household, then
                # joined to the roster rows; a path of no household column is skipped where it is loaded
                need[""].add(path)
    member = workbook.contacts.get("member_number_field")
    if member and member.rsplit("/", 1)[0] in need:
        need[member.rsplit("/", 1)[0]].add(member)   # a household's latest state names its members by number
    return need


@functools.lru_cache(maxsize=512)
def _compiled(text: str):
    return compile_expression(text, as_boolean=True)


def _with_columns(frame: pd.DataFrame, paths) -> pd.DataFrame:
    """The frame with an all-absent column for each path it lacks (a field no submission has yet)."""
    missing = [p for p in paths if p not in frame.columns]
    if not missing:
        return frame
    blank = np.empty(len(frame), dtype=object)
    return frame.assign(**dict.fromkeys(missing, blank))


def contributions(workbook: Workbook, households: pd.DataFrame, units: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per household: submission_id, area_code, and `{indicator}__n` / `{indicator}__d` counts.

    `households` has `submission_id` plus one column per needed root field path; each frame in
    `units` (a repeat path → frame) has `submission_id` plus its fields and any ancestor fields it
    references, already joined. Expressions read those path-named columns directly (${age} → the
    column of its path), and each column is converted once for all the indicators of its unit."""
    n = len(households)
    ids = households["submission_id"].to_numpy()
    columns: dict[str, np.ndarray] = {"submission_id": ids}
    area = households[workbook.area_path] if workbook.area_path in households else pd.Series([None] * n, dtype=object)
    columns["area_code"] = area.fillna("").astype(object).map(str).str.strip().to_numpy(dtype=object)
    memos: dict[str, dict] = {}
    frames: dict[str, pd.DataFrame] = {}
    row_of: dict[str, np.ndarray] = {}
    for ind in workbook.indicators:
        unit = ind.unit_path
        frame = households if unit == "" else units.get(unit)
        if frame is None or frame.empty:
            columns[f"{ind.name}__n"] = np.zeros(n, dtype=np.int64)
            columns[f"{ind.name}__d"] = np.zeros(n, dtype=np.int64)
            continue
        if unit not in frames:
            paths = {p for i in workbook.indicators if i.unit_path == unit for p in i.fields.values()}
            frames[unit] = _with_columns(frame, sorted(paths))
            memos[unit] = {}
            if unit:
                # each unit row's household, as a position in `ids`
                row_of[unit] = pd.Index(ids).get_indexer(frames[unit]["submission_id"].to_numpy())
        data, memo = frames[unit], memos[unit]
        passes = (_compiled(ind.filter)(data, ind.fields, memo).to_numpy(dtype=bool) if ind.filter
                  else np.ones(len(data), dtype=bool))
        meets = passes & _compiled(ind.condition)(data, ind.fields, memo).to_numpy(dtype=bool)
        if unit == "":
            columns[f"{ind.name}__d"] = passes.astype(np.int64)
            columns[f"{ind.name}__n"] = meets.astype(np.int64)
        else:
            where = row_of[unit]
            keep = where >= 0
            columns[f"{ind.name}__n"] = np.bincount(where[keep], weights=meets[keep], minlength=n).astype(np.int64)
            columns[f"{ind.name}__d"] = np.bincount(where[keep], weights=passes[keep], minlength=n).astype(np.int64)
    return pd.DataFrame(columns)
