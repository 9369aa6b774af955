"""Per-household contributions to every indicator, computed vectorised from answer frames.

For each household (submission) and indicator: `den` is how many units pass the filter (1/0 for a
household indicator, a count of people for a roster indicator), `num` how many of those also meet
the condition. Results are sums of these over areas, so a new or edited household changes only its
own row (the incremental part) and roll-ups are exact sums, never averages of percentages."""
from __future__ import annotations

import numpy as np
import pandas as pd

from server.indicators.expressions import compile_expression
from server.indicators.workbook import Indicator, Workbook


def needed_fields(workbook: Workbook) -> dict[str, set[str]]:
    """Field paths to load per unit ("" = the household table, else a repeat path)."""
    need: dict[str, set[str]] = {"": {workbook.area_path}}
    for ind in workbook.indicators:
        need.setdefault(ind.unit_path, set())
        for path in ind.fields.values():
            need[ind.unit_path].add(path)
    return need


def _frame_for(ind: Indicator, unit_frame: pd.DataFrame) -> pd.DataFrame:
    """Columns named as the expressions name them (${age} → 'age'), from path-named columns."""
    return pd.DataFrame({name: unit_frame[path] if path in unit_frame else pd.Series([None] * len(unit_frame),
                                                                                   index=unit_frame.index, dtype=object)
                         for name, path in ind.fields.items()}, index=unit_frame.index)


def contributions(workbook: Workbook, households: pd.DataFrame, units: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per household: submission_id, area_code, and `{indicator}__n` / `{indicator}__d` counts.

    `households` has `submission_id` plus one column per needed root field path; each frame in
    `units` (a repeat path → frame) has `submission_id` plus its fields and any ancestor fields it
    references, already joined."""
    out = pd.DataFrame({"submission_id": households["submission_id"].to_numpy()})
    area = households[workbook.area_path] if workbook.area_path in households else pd.Series([None] * len(households))
    out["area_code"] = area.fillna("").astype(str).str.strip().to_numpy()
    for ind in workbook.indicators:
        frame = households if ind.unit_path == "" else units.get(ind.unit_path)
        if frame is None or frame.empty:
            out[f"{ind.name}__n"] = 0
            out[f"{ind.name}__d"] = 0
            continue
        data = _frame_for(ind, frame)
        passes = (compile_expression(ind.filter, as_boolean=True)(data).to_numpy(dtype=bool) if ind.filter
                  else np.ones(len(frame), dtype=bool))
        meets = passes & compile_expression(ind.condition, as_boolean=True)(data).to_numpy(dtype=bool)
        if ind.unit_path == "":
            out[f"{ind.name}__d"] = passes.astype(np.int64)
            out[f"{ind.name}__n"] = meets.astype(np.int64)
        else:
            sums = pd.DataFrame({"submission_id": frame["submission_id"].to_numpy(), "d": passes.astype(np.int64),
                                 "n": meets.astype(np.int64)}).groupby("submission_id", sort=False)[["n", "d"]].sum()
            aligned = sums.reindex(out["submission_id"]).fillna(0).astype(np.int64)
            out[f"{ind.name}__n"] = aligned["n"].to_numpy()
            out[f"{ind.name}__d"] = aligned["d"].to_numpy()
    return out
