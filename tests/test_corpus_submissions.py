"""Every instance in the shared corpus posted to its published form, the way Collect posts it; what is
accepted comes back byte for byte, what Central would refuse is refused with the same code."""
from pathlib import Path

import pytest
from lxml import etree

from collect import submit
from helpers import CORPUS, CORPUS_CASES, publish_case

INSTANCES = [(c, i) for c in CORPUS_CASES for i in c.get("instances", [])
             if c["name"] not in ("onadata-schools-survey-large",)]
# What Central answers for the instances it refuses (odk-protocol §5.2): the version must be a published one.
# The transportation case is published exactly as shipped, so these behave as on Central.
REFUSED = {
    ("onadata-transportation", "instances/transport_2011-07-25_19-05-51.xml"): 404,  # version 20170517 unknown
    ("onadata-transportation", "instances/transport_2011-07-25_19-06-01.xml"): 404,  # no version attribute
    ("onadata-transportation", "instances/transport_2011-07-25_19-06-14.xml"): 404,
    ("onadata-transportation", "instances/transport_no_response.xml"): 404,
    ("onadata-transportation", "instances/transportation_empty_submission.xml"): 404,
    # An edit whose original was never sent: 404.5 (the edit flow is tested below).
    ("onadata-transportation", "instances/transport_2011-07-25_19-05-49_edited.xml"): 404,
}


@pytest.mark.parametrize("case,inst", INSTANCES, ids=[f"{c['name']}:{Path(i['file']).name}" for c, i in INSTANCES])
def test_corpus_instance(case, inst, admin, client, project):
    form_id, base = publish_case(admin, project, case)
    xml = (CORPUS / case["name"] / inst["file"]).read_bytes()
    files = {name: (CORPUS / case["name"] / "attachments" / name).read_bytes() for name in inst.get("attachments", [])}
    resp = submit(client, base, xml, files)
    expected = REFUSED.get((case["name"], inst["file"]), 201)
    assert resp.status_code == expected, resp.data
    listed = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions").get_json()
    if expected != 201:
        assert listed == []
        assert b"<OpenRosaResponse" in resp.data
        return
    [sub] = listed
    back = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions/{sub['instanceId']}.xml")
    assert back.data == xml
    atts = {a["name"]: a["exists"] for a in admin.get(
        f"/v1/projects/{project}/forms/{form_id}/submissions/{sub['instanceId']}/attachments").get_json()}
    for name in inst.get("attachments", []):
        assert atts.get(name) is True, (name, atts)
        got = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions/{sub['instanceId']}/attachments/{name}")
        assert got.data == files[name]


def test_transportation_edit_replaces_the_original(admin, client, project):
    case = next(c for c in CORPUS_CASES if c["name"] == "onadata-transportation")
    form_id, base = publish_case(admin, project, case)
    folder = CORPUS / "onadata-transportation"
    photo = (folder / "attachments/1335783522563.jpg").read_bytes()
    original = (folder / "instances/transport_2011-07-25_19-05-49.xml").read_bytes()
    edited = (folder / "instances/transport_2011-07-25_19-05-49_edited.xml").read_bytes()
    assert submit(client, base, original, {"1335783522563.jpg": photo}).status_code == 201
    assert submit(client, base, edited).status_code == 201
    [sub] = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions").get_json()
    old_id = etree.fromstring(original).findtext(".//{*}instanceID")
    assert sub["instanceId"] == old_id and sub["reviewState"] == "edited"
    assert admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions/{old_id}.xml").data == edited
    # The photo was not sent again, and comes forward from the original.
    got = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions/{old_id}/attachments/1335783522563.jpg")
    assert got.data == photo


def test_no_instance_id_gets_one_generated(admin, client, project):
    """Central generates a UUID when an unencrypted submission has no instanceID (§5.1)."""
    case = next(c for c in CORPUS_CASES if c["name"] == "onadata-transportation")
    form_id, base = publish_case(admin, project, case)
    xml = (CORPUS / "onadata-transportation/instances/transportation_empty_submission.xml").read_bytes()
    xml = xml.replace(b'id="transportation_2011_07_25"', b'id="transportation_2011_07_25" version="2014111"')
    assert submit(client, base, xml).status_code == 201
    [sub] = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions").get_json()
    assert sub["instanceId"].startswith("uuid:") and len(sub["instanceId"]) == 41
