"""Small XLSForms with an entities sheet, converted by the real pyxform as a designer's would be: a
household registration form and a revisit form that updates it, the submissions Collect sends them,
and a phone that sends them (tests of Entity Lists share them)."""
from __future__ import annotations

import io
import uuid as uuidlib

from collect import COLLECT, submit
from helpers import XLSX

HH = "households"


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


# --- sending as Collect does -------------------------------------------------------------------------

def register_xml(entity_id: str, head: str, village: str = "Thôn 1", members: str = "4",
                 form_id: str = "hh_register", dataset: str = HH) -> bytes:
    return (f'<data xmlns:entities="http://www.opendatakit.org/xforms/entities" id="{form_id}" version="1">'
            f"<head>{head}</head><village>{village}</village><members>{members}</members>"
            f'<meta><entity dataset="{dataset}" create="1" id="{entity_id}"><label>Hộ {head}</label></entity>'
            f"<instanceID>uuid:{uuidlib.uuid4()}</instanceID></meta></data>").encode()


def visit_xml(entity_id: str, base_version: str, members: str, fibre: str = "yes", instance_id: str | None = None,
              deprecated: str | None = None) -> bytes:
    iid = instance_id or f"uuid:{uuidlib.uuid4()}"
    dep = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    return (f'<data id="hh_visit" version="1"><household>{entity_id}</household><members>{members}</members>'
            f'<fibre>{fibre}</fibre><meta><entity dataset="{HH}" update="1" baseVersion="{base_version}" '
            f'trunkVersion="" branchId="" id="{entity_id}"/><instanceID>{iid}</instanceID>{dep}</meta></data>').encode()


def published(admin, project: int, *forms: bytes) -> None:
    for form in forms:
        resp = upload(admin, project, form)
        assert resp.status_code == 200, resp.get_data(as_text=True)


def new_id() -> str:
    return str(uuidlib.uuid4())


class Phone:
    """An enumerator's phone: an app user assigned to every form published so far, sending as Collect does."""

    def __init__(self, admin, client, project: int):
        self.admin, self.client, self.project, self.base = admin, client, project, None

    def get(self, path: str):
        """GET {key URL}{path}, or an absolute path Hamlet gave the phone."""
        self.send(None)
        return self.client.get(path if path.startswith("/v1/key/") else f"{self.base}{path}", headers=COLLECT)

    def send(self, xml: bytes | None):
        if self.base is None:
            user = self.admin.post(f"/v1/projects/{self.project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
            for form in self.admin.get(f"/v1/projects/{self.project}/forms").get_json():
                self.admin.post(f"/v1/projects/{self.project}/forms/{form['xmlFormId']}/assignments/app-user/{user['id']}")
            self.base = f"/v1/key/{user['token']}/projects/{self.project}"
        if xml is None:
            return None
        resp = submit(self.client, self.base, xml)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp


def offline_visit_xml(entity_id: str, base_version: str, branch_id: str, trunk_version: str = "", members: str = "5",
                      fibre: str = "yes", instance_id: str | None = None) -> bytes:
    """A revisit Collect made offline: one of the updates of branch `branch_id` (offline entities, spec
    2024.1), `base_version` counted in that branch, `trunk_version` the server version it began from
    ('' for a branch that began with the household's own offline registration)."""
    iid = instance_id or f"uuid:{uuidlib.uuid4()}"
    return (f'<data id="hh_visit" version="1"><household>{entity_id}</household><members>{members}</members>'
            f'<fibre>{fibre}</fibre><meta><entity dataset="{HH}" update="1" baseVersion="{base_version}" '
            f'trunkVersion="{trunk_version}" branchId="{branch_id}" id="{entity_id}"/>'
            f"<instanceID>{iid}</instanceID></meta></data>").encode()


def instance_id_of(xml: bytes) -> str:
    start = xml.index(b"<instanceID>") + len(b"<instanceID>")
    return xml[start:xml.index(b"</instanceID>")].decode()
