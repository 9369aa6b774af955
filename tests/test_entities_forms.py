"""Entity declarations read at upload: what a form says about its Entity List, and what Hamlet refuses.

Forms are built here from small XLSForms with the real pyxform (4.5, pinned), as a designer would."""
from __future__ import annotations

import pytest

from entity_forms import register_xml, registration, revisit, to_xform, upload, xlsform
from server.xforms.entities import (
    EntityDataInvalid,
    EntityFormRefused,
    EntityProperty,
    normalise_uuid,
    read_declaration,
    read_declarations,
    read_submitted,
)
from server.xforms.safexml import parse

# --- reading the declaration (pure) ---------------------------------------------------------------

def test_a_registration_form_declares_a_create_with_its_properties_in_order():
    found = read_declaration(to_xform(registration()))
    assert found.dataset == "households"
    assert (found.create, found.update, found.has_label) == (True, False, True)
    assert found.spec_version == "2024.1.0"
    assert found.properties == (EntityProperty("head_name", ("head",)), EntityProperty("village", ("village",)),
                                EntityProperty("members", ("members",)))


def test_a_saved_value_is_all_the_text_of_its_field_comments_and_nested_elements_included():
    declaration = read_declaration(to_xform(registration()))
    xml = register_xml("2c1a3b4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "Lò Văn Páo").decode()
    xml = xml.replace("<village>Thôn 1</village>", "<village>Thôn<!-- a comment --> 1</village>")
    xml = xml.replace("<members>4</members>", "<members>4<b> người</b> lớn</members>")
    found = read_submitted(parse(xml.encode()), declaration)
    assert found is not None and found.id == "2c1a3b4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    assert found.data == {"head_name": "Lò Văn Páo", "village": "Thôn 1", "members": "4 người lớn"}
    assert found.label == "Hộ Lò Văn Páo"


def test_a_revisit_form_declares_an_update_without_a_label():
    found = read_declaration(to_xform(revisit()))
    assert (found.dataset, found.create, found.update, found.has_label) == ("households", False, True, False)
    assert [p.name for p in found.properties] == ["members", "fibre"]


def test_upsert_declares_both_actions():
    form = xlsform([["type", "name", "label", "save_to"], ["text", "hh", "HH", ""], ["text", "head", "Head", "head_name"]],
                   [["list_name", "entity_id", "create_if", "update_if", "label"],
                    ["households", "${hh}", "${hh} = ''", "${hh} != ''", "${head}"]], "hh_upsert")
    assert read_declaration(to_xform(form)).actions == ["create", "update"]


def test_a_form_without_entities_declares_none():
    form = xlsform([["type", "name", "label"], ["text", "entity", "A field named entity"]], [["list_name"]], "plain")
    xml = to_xform(form)
    assert read_declaration(xml) is None


def test_an_entity_declared_on_a_repeat_is_one_per_repeat_instance():
    form = xlsform([["type", "name", "label", "save_to"], ["begin_repeat", "people", "People", ""],
                    ["text", "person", "Name", "person_name"], ["end_repeat", "", "", ""]],
                   [["list_name", "label"], ["people", "${person}"]], "people")
    (found,) = read_declarations(to_xform(form))
    assert (found.dataset, found.path, found.repeat) == ("people", ("people",), True)
    assert [(p.name, p.path) for p in found.properties] == [("person_name", ("people", "person"))]


def test_an_unknown_entities_version_is_refused():
    xml = to_xform(registration()).replace('entities-version="2024.1.0"', 'entities-version="2031.1.0"')
    with pytest.raises(EntityFormRefused, match=r"2031\.1\.0 is not supported"):
        read_declaration(xml)


def test_a_missing_entities_version_is_refused():
    xml = to_xform(registration()).replace(' entities:entities-version="2024.1.0"', "")
    with pytest.raises(EntityFormRefused, match="no entities:entities-version"):
        read_declaration(xml)


@pytest.mark.parametrize("name", ["name", "Label", "__version", "1st"])
def test_reserved_or_malformed_property_names_are_refused(name):
    xml = to_xform(registration()).replace('entities:saveto="village"', f'entities:saveto="{name}"')
    with pytest.raises(EntityFormRefused, match="property name"):
        read_declaration(xml)


def test_entity_ids_are_version_4_uuids_with_or_without_collects_prefix():
    assert normalise_uuid("uuid:12345678-1234-4123-8123-1234567890AB") == "12345678-1234-4123-8123-1234567890ab"
    with pytest.raises(EntityDataInvalid):
        normalise_uuid("12345678-1234-1123-8123-1234567890ab")  # version 1
    with pytest.raises(EntityDataInvalid):
        normalise_uuid("")


# --- at upload -------------------------------------------------------------------------------------

def _people_form(version: str = "1") -> bytes:
    return xlsform([["type", "name", "label", "save_to"], ["begin_repeat", "people", "People", ""],
                    ["text", "person", "Name", "person_name"], ["end_repeat", "", "", ""]],
                   [["list_name", "label"], ["people", "${person}"]], "people", version=version)


def test_a_repeat_field_saved_to_an_entity_outside_the_repeat_is_refused_at_upload_naming_it(admin, project):
    """Still unsupported (Central refuses it too): the entity is declared once for the form, but the
    field it saves is in a repeat, so which instance's value would it take?"""
    block = '<meta><entity dataset="people" create="1" id=""><label/></entity></meta>'
    xml = to_xform(_people_form()).replace(block, "").replace(
        "<meta><instanceID/></meta>", '<meta><entity dataset="people" create="1" id=""><label/></entity>'
                                      "<instanceID/></meta>")
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=xml.encode(), content_type="application/xml")
    assert resp.status_code == 400, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == 400.25
    assert "/data/people/person inside the repeat /people" in body["message"]
    assert admin.get(f"/v1/projects/{project}/forms").get_json() == []


def test_an_xform_with_an_unknown_entities_version_is_refused_at_upload(admin, project):
    xml = to_xform(registration()).replace('entities-version="2024.1.0"', 'entities-version="2031.1.0"')
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=xml.encode(), content_type="application/xml")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.25
    assert "2031.1.0" in resp.get_json()["message"]


def test_a_new_draft_with_entities_in_a_repeat_under_an_old_entities_version_is_refused(admin, project):
    assert upload(admin, project, registration(form_id="people")).status_code == 200
    xml = to_xform(_people_form(version="2")).replace('entities-version="2025.1.0"', 'entities-version="2024.1.0"')
    resp = admin.post(f"/v1/projects/{project}/forms/people/draft", data=xml.encode(), content_type="application/xml")
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.25
    assert "does not allow entities from repeats" in resp.get_json()["message"]
