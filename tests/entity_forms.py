"""Small XLSForms with an entities sheet, converted by the real pyxform as a designer's would be: a
household registration form and a revisit form that updates it (tests of Entity Lists share them)."""
from __future__ import annotations

import io

from helpers import XLSX


def xlsform(survey: list[list], entities: list[list], form_id: str, version: str = "1",
            choices: list[list] | None = None) -> bytes:
    """An XLSForm workbook: `survey` and `entities` rows with their header row first."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    sheets = {"survey": survey, "entities": entities, "settings": [["form_id", "version"], [form_id, version]]}
    if choices:
        sheets["choices"] = choices
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def registration(form_id: str = "hh_register", version: str = "1", list_name: str = "households") -> bytes:
    """Registers a household: head's name and village saved to the list, the head's name as label."""
    return xlsform([["type", "name", "label", "save_to"],
                    ["text", "head", "Head of household", "head_name"],
                    ["text", "village", "Village", "village"],
                    ["integer", "members", "Members", "members"]],
                   [["list_name", "label"], [list_name, "concat('Hộ ', ${head})"]], form_id, version)


def revisit(form_id: str = "hh_visit", version: str = "1") -> bytes:
    """Picks a household from households.csv and updates its members and internet access."""
    return xlsform([["type", "name", "label", "save_to"],
                    ["select_one_from_file households.csv", "household", "Household", ""],
                    ["integer", "members", "Members now", "members"],
                    ["select_one yn", "fibre", "Fibre internet?", "fibre"]],
                   [["list_name", "entity_id"], ["households", "${household}"]], form_id, version,
                   choices=[["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]])


def to_xform(xlsx: bytes) -> str:
    from pyxform.xls2xform import convert

    return convert(xlsform=io.BytesIO(xlsx), file_type=".xlsx").xform


def upload(admin, project: int, data: bytes, publish: bool = True):
    return admin.post(f"/v1/projects/{project}/forms?publish={'true' if publish else 'false'}&ignoreWarnings=true",
                      data=data, content_type=XLSX)
