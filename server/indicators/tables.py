"""The indicators report and a follow-up list as CSV text: one renderer each, used by the REST API
(`…/indicators.csv`, `…/follow-up.csv`) and by the dashboard's download links alike. Both are meant
for a spreadsheet, so their formulas are made inert (server/exports/spreadsheet.py)."""
from __future__ import annotations

import csv
import io

from server.exports.spreadsheet import inert_row

REPORT_COLUMNS = ["area_code", "area_name", "level", "households", "expected_households", "coverage", "achieved",
                  "indicator", "numerator", "denominator", "value", "ci_low", "ci_high", "comparator", "target", "met",
                  "target_set", "verdict"]
FOLLOW_UP_COLUMNS = ["area", "name", "address", "phone", "count", "people", "instance_id", "instance_name",
                     "duplicate_of"]


def report_csv(result: dict) -> str:
    """One row per area and indicator of a `results.report` result."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(REPORT_COLUMNS)
    for a in result["areas"]:
        for i in a["indicators"]:
            w.writerow(inert_row([a["code"], a["name"], a["level"], a["households"], a["expectedHouseholds"], a["coverage"],
                        a["achieved"], i["name"], i["numerator"], i["denominator"], i["value"], i["ciLow"], i["ciHigh"],
                        i["comparator"], i["target"], i["met"], a.get("targetSet"), i.get("verdict")]))
    return buf.getvalue()


def follow_up_csv(result: dict) -> str:
    """One row per household of a `results.follow_up_list` result: the team's visiting list."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FOLLOW_UP_COLUMNS)
    for h in result["households"]:
        w.writerow(inert_row([h["area"], h["name"], h["address"], h["phone"], h["count"],
                              "; ".join(p or "" for p in h.get("people", [])), h["instanceId"], h["instanceName"],
                              " ".join(h["duplicateOf"])]))
    return buf.getvalue()
