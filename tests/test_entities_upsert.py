"""One form that creates a household or updates it (an upsert: the entities sheet has both a label
and entity_id), with create_if / update_if deciding per submission, as Collect evaluates them.

Replays central-backend test/integration/api/entities.js 'create and update in a single submission'
where it applies, through the OpenRosa endpoints."""
from __future__ import annotations

import uuid as uuidlib

import pytest

from entity_forms import HH, Phone, instance_id_of, new_id, published, register_xml, registration, xlsform


def upsert_form() -> bytes:
    return xlsform([["type", "name", "label", "save_to"],
                    ["text", "hid", "Household id", ""],
                    ["text", "head", "Head of household", "head_name"],
                    ["integer", "members", "Members", "members"]],
                   [["list_name", "label", "entity_id", "create_if", "update_if"],
                    [HH, "${head}", "${hid}", "${members} > 0", "${hid} != ''"]], "hh_upsert")


def upsert_xml(hid: str, head: str, members: str, base: str = "", create: str = "true", update: str = "true",
               label: str | None = None) -> bytes:
    label = head if label is None else label
    return (f'<data id="hh_upsert" version="1"><hid>{hid}</hid><head>{head}</head><members>{members}</members>'
            f'<meta><entity dataset="{HH}" create="{create}" update="{update}" baseVersion="{base}" trunkVersion="" '
            f'branchId="" id="{hid}"><label>{label}</label></entity>'
            f"<instanceID>uuid:{uuidlib.uuid4()}</instanceID></meta></data>").encode()


@pytest.fixture
def phone(admin, client, project) -> Phone:
    published(admin, project, registration(), upsert_form())
    return Phone(admin, client, project)


def _current(admin, project: int, hid: str) -> dict:
    resp = admin.get(f"/v1/projects/{project}/datasets/{HH}/entities/{hid}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["currentVersion"]


def _audits(admin, project: int, xml: bytes) -> list[dict]:
    return admin.get(f"/v1/projects/{project}/forms/hh_upsert/submissions/{instance_id_of(xml)}/audits").get_json()


def test_the_form_may_create_and_update(admin, project, phone):
    got = admin.get(f"/v1/projects/{project}/datasets/{HH}").get_json()
    assert {f["xmlFormId"] for f in got["sourceForms"]} == {"hh_register", "hh_upsert"}


def test_an_upsert_creates_the_household_when_it_does_not_exist(admin, project, phone):
    hid = new_id()
    xml = upsert_xml(hid, "Alicia", "5")
    phone.send(xml)
    current = _current(admin, project, hid)
    assert (current["version"], current["label"], current["data"]) == (1, "Alicia", {"head_name": "Alicia",
                                                                                     "members": "5"})
    assert [a["action"] for a in _audits(admin, project, xml)] == ["entity.create"]


def test_an_upsert_updates_the_household_when_it_exists(admin, project, phone):
    hid = new_id()
    phone.send(register_xml(hid, "Johnny", members="2"))
    xml = upsert_xml(hid, "Alicia", "5", base="1")
    phone.send(xml)
    current = _current(admin, project, hid)
    assert (current["version"], current["label"], current["data"]["members"]) == (2, "Alicia", "5")
    assert [a["action"] for a in _audits(admin, project, xml)] == ["entity.update.version"]


def test_an_upsert_with_a_blank_label_keeps_the_label(admin, project, phone):
    hid = new_id()
    phone.send(register_xml(hid, "Johnny"))
    phone.send(upsert_xml(hid, "Alicia", "5", base="1", label=""))
    current = _current(admin, project, hid)
    assert (current["label"], current["dataReceived"]) == ("Hộ Johnny", {"head_name": "Alicia", "members": "5"})


def test_an_upsert_of_a_missing_household_with_a_blank_label_is_a_create_error(admin, project, phone):
    hid = new_id()
    xml = upsert_xml(hid, "Alicia", "5", base="1", label="")
    phone.send(xml)
    assert admin.get(f"/v1/projects/{project}/datasets/{HH}/entities/{hid}").status_code == 404
    (error,) = _audits(admin, project, xml)
    assert (error["action"], error["details"]["problem"]["problemCode"]) == ("entity.error", 400.2)


def test_an_upsert_with_a_wrong_base_version_of_an_existing_household_fails_both(admin, project, phone):
    hid = new_id()
    phone.send(register_xml(hid, "Johnny", members="2"))
    xml = upsert_xml(hid, "Alicia", "5", base="99")
    phone.send(xml)
    assert _current(admin, project, hid)["version"] == 1
    (error,) = _audits(admin, project, xml)
    assert error["details"]["problem"]["problemCode"] == 404.9 and "99" in error["details"]["errorMessage"]


def test_an_upsert_with_an_invalid_uuid_fails_both(admin, project, phone):
    xml = upsert_xml("not-a-uuid", "Alicia", "5")
    phone.send(xml)
    assert [a["action"] for a in _audits(admin, project, xml)] == ["entity.error"]
    assert admin.get(f"/v1/projects/{project}/datasets/{HH}/entities").get_json() == []


def test_an_upsert_without_a_base_version_of_an_existing_household_is_a_uniqueness_error(admin, project, phone):
    hid = new_id()
    phone.send(register_xml(hid, "Johnny"))
    xml = upsert_xml(hid, "Alicia", "5")
    phone.send(xml)
    (error,) = _audits(admin, project, xml)
    assert error["details"]["problem"]["problemCode"] == 409.3
    assert _current(admin, project, hid)["version"] == 1


@pytest.mark.parametrize("create, update", [("false", "false"), ("0", "0")])
def test_create_if_and_update_if_both_false_do_nothing_and_log_nothing(admin, project, phone, create, update):
    hid = new_id()
    xml = upsert_xml(hid, "Alicia", "0", create=create, update=update)
    phone.send(xml)
    assert admin.get(f"/v1/projects/{project}/datasets/{HH}/entities/{hid}").status_code == 404
    assert _audits(admin, project, xml) == []


def test_update_if_false_leaves_an_existing_household_alone_and_create_if_creates_a_new_one(admin, project, phone):
    known, fresh = new_id(), new_id()
    phone.send(register_xml(known, "Johnny", members="2"))
    phone.send(upsert_xml(known, "Alicia", "5", base="1", create="false", update="false"))
    assert _current(admin, project, known)["version"] == 1
    phone.send(upsert_xml(fresh, "Bình", "3", create="true", update="false"))
    assert _current(admin, project, fresh)["data"] == {"head_name": "Bình", "members": "3"}
