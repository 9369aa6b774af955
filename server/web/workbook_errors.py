"""The indicators workbook's mistakes (server/indicators/workbook.py) in the page's language.

The parser writes each mistake as an English sentence for the REST API and the CLI. The page shows
the sentences that parser writes in the reader's language, matched here by their fixed wording with
the quoted parts kept as they are; a sentence not listed (an expression's syntax error, a zip-bomb
refusal) is shown as written, marked as English."""
from __future__ import annotations

import re
from dataclasses import dataclass

from server.web.i18n import N_, _

_Q = r"'(?P<{}>.*)'"
# (the parser's sentence as a pattern, the page's sentence); named groups fill the placeholders.
_SENTENCES = [
    (r"The workbook has no " + _Q.format("name") + r" sheet\.", N_("The workbook has no “%(name)s” sheet.")),
    (r"The " + _Q.format("name") + r" sheet is empty\.", N_("The “%(name)s” sheet is empty.")),
    (r"Required column " + _Q.format("name") + r" is missing\.", N_("The required column “%(name)s” is missing.")),
    (r"The form has no field " + _Q.format("name") + r"\.", N_("The form has no field “%(name)s”.")),
    (r"Set area_field: .*", N_("Fill in area_field: the form field that holds the household's lowest-level area "
                               "code.")),
    (r"The indicator has no name\.", N_("The indicator has no name.")),
    (r"Duplicate indicator " + _Q.format("name") + r" \(first on row (?P<row>\d+)\)\.",
     N_("The indicator “%(name)s” appears twice (first on row %(row)s).")),
    (r"Unknown unit " + _Q.format("name") + r"; use 'household' or a repeat group of the form \((?P<options>.*)\)\.",
     N_("Unknown unit “%(name)s”: write household or a repeat group of the form (%(options)s).")),
    (r"The condition is empty: .*", N_("The condition is empty: say who counts in the numerator.")),
    (r"The target set is empty\.", N_("The target set is empty.")),
    (r"The criterion has no id\.", N_("The criterion has no id.")),
    (r"Duplicate criterion " + _Q.format("name") + r" in target set " + _Q.format("set")
     + r" \(first on row (?P<row>\d+)\)\.",
     N_("The criterion “%(name)s” appears twice in the target set “%(set)s” (first on row %(row)s).")),
    (r"Unknown indicator " + _Q.format("name") + r"; did you mean " + _Q.format("guess") + r"\?\.",
     N_("Unknown indicator “%(name)s”; did you mean “%(guess)s”?")),
    (r"Unknown indicator " + _Q.format("name") + r"\.", N_("Unknown indicator “%(name)s”.")),
    (r"Unknown comparator " + _Q.format("name") + r"; use one of (?P<options>.*)\.",
     N_("Unknown comparator “%(name)s”: use one of %(options)s.")),
    (r"The threshold (?P<name>.*) is outside 0–100 \(a percentage\)\.",
     N_("The threshold %(name)s is outside 0–100 (it is a percentage).")),
    (r"The threshold " + _Q.format("name") + r" is not a number \(a percentage, 0–100\)\.",
     N_("The threshold “%(name)s” is not a number (a percentage, 0–100).")),
    (r"Unknown level " + _Q.format("name") + r"; use one of (?P<options>.*)\.",
     N_("Unknown level “%(name)s”: use one of %(options)s.")),
    (r"The year " + _Q.format("name") + r" is not a whole number\.", N_("The year “%(name)s” is not a whole number.")),
    (r"The upload is not an \.xlsx workbook \(.*\)\.",
     N_("This file is not an .xlsx workbook. Save the indicators workbook from Excel as .xlsx and choose it again.")),
]
_COMPILED = [(re.compile(pattern, re.S), msgid) for pattern, msgid in _SENTENCES]


@dataclass(frozen=True)
class WorkbookMistake:
    sheet: str | None
    row: int | None
    column: str | None
    cell: str | None
    message: str
    translated: bool   # False: the parser's English sentence, shown as written


def in_page_language(errors: list[dict]) -> list[WorkbookMistake]:
    """The REST API's `details.errors`, each with its sentence in the page's language where known."""
    return [_mistake(e) for e in errors]


def _mistake(error: dict) -> WorkbookMistake:
    text = str(error.get("message") or "")
    message, translated = text, False
    for pattern, msgid in _COMPILED:
        found = pattern.fullmatch(text)
        if found:
            message, translated = _(msgid, **found.groupdict()), True
            break
    return WorkbookMistake(error.get("sheet"), error.get("row"), error.get("column"), error.get("cell"), message,
                           translated)
