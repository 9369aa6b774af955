"""A project for the register pages' tests: a household registration form (labels in Vietnamese and
English) whose village code is saved to the `households` list, its indicators workbook naming that
field as the area, a revisit form that updates a household, the small area registry, and households
sent through the OpenRosa submission endpoint as ODK Collect sends them."""
from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field

from collect import submit
from entity_forms import revisit, upload, xlsform
from helpers import AREAS, XLSX, indicators_workbook

VI, EN = "label::Tiếng Việt (vi)", "label::English (en)"
HH = "households"
GIANG_NAM_1, GIANG_NAM_2, THACH_NHAM = "DN-HV-HP-01", "DN-HV-HP-02", "DN-HV-HN-01"


def registration(form_id: str = "hh_register") -> bytes:
    """Registers a household: head's name, village code and members saved to the list."""
    return xlsform([["type", "name", VI, EN, "save_to"],
                    ["text", "head", "Họ tên chủ hộ", "Head of household", "head_name"],
                    ["text", "village", "Thôn", "Village", "village"],
                    ["integer", "members", "Số nhân khẩu", "Members", "members"]],
                   [["list_name", "label"], [HH, "concat('Hộ ', ${head})"]], form_id)


def workbook(area_field: str = "village") -> bytes:
    """An indicators workbook for the registration form whose settings name the area field."""
    return indicators_workbook([["big", "Hộ đông người", "Large households", "household", "", "${members} >= 4"]],
                               [["kdc", "Khu dân cư số", "Digital village", "k1", "big", ">=", 10, "village", 2026]],
                               area_field)


def register_xml(entity_id: str, head: str, village: str, members: int = 4) -> bytes:
    return (f'<data xmlns:entities="http://www.opendatakit.org/xforms/entities" id="hh_register" version="1">'
            f"<head>{head}</head><village>{village}</village><members>{members}</members>"
            f'<meta><entity dataset="{HH}" create="1" id="{entity_id}"><label>Hộ {head}</label></entity>'
            f"<instanceID>uuid:{uuidlib.uuid4()}</instanceID></meta></data>").encode()


def visit_xml(entity_id: str, base_version: int, members: int, fibre: str = "yes") -> tuple[bytes, str]:
    iid = f"uuid:{uuidlib.uuid4()}"
    return (f'<data id="hh_visit" version="1"><household>{entity_id}</household><members>{members}</members>'
            f'<fibre>{fibre}</fibre><meta><entity dataset="{HH}" update="1" baseVersion="{base_version}" '
            f'trunkVersion="" branchId="" id="{entity_id}"/><instanceID>{iid}</instanceID></meta></data>').encode(), iid


@dataclass
class Register:
    admin: object
    client: object
    project: int
    key_base: str
    ids: dict[str, str] = field(default_factory=dict)           # head's name -> entity UUID
    villages: dict[str, str] = field(default_factory=dict)      # head's name -> village code
    instances: dict[str, str] = field(default_factory=dict)     # head's name -> registration instanceID

    def send(self, xml: bytes) -> None:
        resp = submit(self.client, self.key_base, xml)
        assert resp.status_code == 201, resp.get_data(as_text=True)

    def register(self, head: str, village: str, members: int = 4) -> str:
        entity_id = str(uuidlib.uuid4())
        xml = register_xml(f"uuid:{entity_id}", head, village, members)
        self.send(xml)
        self.ids[head], self.villages[head] = entity_id, village
        self.instances[head] = xml.decode().split("<instanceID>")[1].split("<")[0]
        return entity_id

    def visit(self, head: str, base_version: int, members: int, fibre: str = "yes") -> str:
        xml, iid = visit_xml(self.ids[head], base_version, members, fibre)
        self.send(xml)
        return iid

    @property
    def base(self) -> str:
        return f"/projects/{self.project}/entity-lists/{HH}"

    def page_of(self, head: str) -> str:
        return f"{self.base}/entities/{self.ids[head]}"


def three_households(admin, client, project: int) -> Register:
    """An, Bình and Cường registered: two households in Hòa Phước's villages, one in Hòa Nhơn's."""
    r = load(admin, client, project)
    r.register("Nguyễn Văn An", GIANG_NAM_1, 4)
    r.register("Trần Thị Bình", GIANG_NAM_2, 3)
    r.register("Lê Văn Cường", THACH_NHAM, 5)
    return r


def load(admin, client, project: int, with_workbook: bool = True) -> Register:
    """The registry, both forms published (and the workbook), an app user assigned to both."""
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=AREAS.encode(), content_type="text/csv",
                            headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()
    for form in (registration(), revisit()):
        resp = upload(admin, project, form)
        assert resp.status_code == 200, resp.get_data(as_text=True)
    if with_workbook:
        resp = admin.client.put(f"/v1/projects/{project}/forms/hh_register/indicators", data=workbook(),
                                content_type=XLSX, headers=admin._headers())
        assert resp.status_code == 200 and resp.get_json()["areaField"] == "village", resp.get_json()
    user = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    for form_id in ("hh_register", "hh_visit"):
        admin.post(f"/v1/projects/{project}/forms/{form_id}/assignments/app-user/{user['id']}")
    return Register(admin, client, project, f"/v1/key/{user['token']}/projects/{project}")
