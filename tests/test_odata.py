"""OData v4 as ODK Central serves it (odk-protocol §7.3; issue 5): service document, $metadata,
Submissions and repeat tables, paging, $count, $filter, $select, $expand=*, $wkt, $orderby, the
single-entity form, Central's error codes, and the real pyodk `get_table()`.

The forms in tests/data/odata/ are ours. Their group and repeat names (`children/child`,
`children/child/toys/toy`) and instance IDs (rone, rtwo, rthree, double) are those of Central's own
fixtures, so the repeat-row ids below are the very ids Central's tests expect."""
from __future__ import annotations

import base64
import json
import random
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sqlalchemy import update

from helpers import XLSFORMS, XLSX, Api
from server.models.submissions import Submission

DATA = Path(__file__).parent / "data" / "odata"
HOST = "http://localhost"


# --- helpers ---------------------------------------------------------------------------------------

def publish(admin: Api, project: int, name: str) -> str:
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=(DATA / name).read_bytes(),
                      content_type="application/xml")
    assert resp.status_code == 200, resp.get_json()
    return f"/v1/projects/{project}/forms/{resp.get_json()['xmlFormId']}"


def instance(form_id: str, version: str, instance_id: str, body: str) -> bytes:
    return (f'<data id="{form_id}" version="{version}"><orx:meta xmlns:orx="http://openrosa.org/xforms">'
            f"<orx:instanceID>{instance_id}</orx:instanceID></orx:meta>{body}</data>").encode()


def submit(api: Api, form: str, xml: bytes, device: str | None = None):
    query = f"?deviceID={device}" if device else ""
    resp = api.post(f"{form}/submissions{query}", data=xml, content_type="application/xml")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def get(api: Api, url: str, status: int = 200):
    resp = api.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)
    return resp.get_json()


def local(url: str) -> str:
    """An absolute link from a document, as a path the test client can follow."""
    assert url.startswith(HOST)
    return url[len(HOST):]


def skiptoken(link: str) -> dict:
    token = parse_qs(urlsplit(link).query)["$skiptoken"][0]
    assert token.startswith("01")
    return json.loads(base64.b64decode(token[2:]))


def set_submission(app, instance_id: str, **values) -> None:
    with app.extensions["hamlet.sessionmaker"]() as s:
        s.execute(update(Submission).where(Submission.instance_id == instance_id).values(**values))
        s.commit()


def user(app, client, admin: Api, project: int, name: str, role: str | None) -> Api:
    from server.models.accounts import create_session, create_user

    with app.extensions["hamlet.sessionmaker"]() as s:
        u = create_user(s, f"{name.lower()}@hamlet.test", None, display_name=name)
        s.flush()
        token = create_session(s, u, hours=1).token
        uid = u.id
        s.commit()
    if role:
        assert admin.post(f"/v1/projects/{project}/assignments/{role}/{uid}").status_code == 200
    return Api(client, token)


def without_dates(rows: list[dict]) -> list[dict]:
    for row in rows:
        assert row["__system"].pop("submissionDate").endswith("Z")
    return rows


ROSTER = [("rone", "<name>Alice</name><age>30</age>"),
          ("rtwo", "<name>Bob</name><age>34</age><children><child><name>Billy</name><age>4</age></child>"
                   "<child><name>Blaine</name><age>6</age></child></children>"),
          ("rthree", "<name>Chelsea</name><age>38</age><children><child><name>Candace</name><age>2</age></child>"
                     "</children>")]
DOUBLE = ("<name>Vick</name><children><child><name>Alice</name></child>"
          "<child><name>Bob</name><toys><toy><name>Twilight Sparkle</name></toy><toy><name>Pinkie Pie</name></toy>"
          "<toy><name>Applejack</name></toy><toy><name>Spike</name></toy></toys></child>"
          "<child><name>Chelsea</name><toys><toy><name>Rainbow Dash</name></toy><toy><name>Rarity</name></toy>"
          "<toy><name>Fluttershy</name></toy><toy><name>Princess Luna</name></toy></toys></child></children>")


@pytest.fixture
def roster(admin, project) -> str:
    form = publish(admin, project, "roster.xml")
    for iid, body in ROSTER:
        submit(admin, form, instance("roster", "2026-1", iid, body))
    return form


@pytest.fixture
def toys(admin, project) -> str:
    form = publish(admin, project, "toys.xml")
    submit(admin, form, instance("toys", "1", "double", DOUBLE), device="collect:AbCdEfGh12345678")
    return form


def system(**changes) -> dict:
    base = {"updatedAt": None, "submitterId": "1", "submitterName": "admin@hamlet.test", "attachmentsPresent": 0,
            "attachmentsExpected": 0, "status": None, "reviewState": None, "deviceId": None, "edits": 0,
            "formVersion": "2026-1", "deletedAt": None}
    base.update(changes)
    return base


# --- service document and $metadata ----------------------------------------------------------------

def test_service_document_lists_submissions_and_every_repeat_table(admin, project, roster, toys):
    resp = admin.get(f"{roster}.svc")
    assert resp.status_code == 200
    assert resp.headers["OData-Version"] == "4.0"
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8; odata.metadata=minimal"
    assert resp.get_json() == {
        "@odata.context": f"{HOST}/v1/projects/{project}/forms/roster.svc/$metadata",
        "value": [{"name": "Submissions", "kind": "EntitySet", "url": "Submissions"},
                  {"name": "Submissions.children.child", "kind": "EntitySet", "url": "Submissions.children.child"}]}
    assert [t["name"] for t in get(admin, f"{toys}.svc")["value"]] == [
        "Submissions", "Submissions.children.child", "Submissions.children.child.toys.toy"]


ROSTER_EDMX = """<?xml version="1.0" encoding="UTF-8"?>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
  <edmx:DataServices>
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.submission">
      <ComplexType Name="metadata">
        <Property Name="submissionDate" Type="Edm.DateTimeOffset"/>
        <Property Name="updatedAt" Type="Edm.DateTimeOffset"/>
        <Property Name="deletedAt" Type="Edm.DateTimeOffset"/>
        <Property Name="submitterId" Type="Edm.String"/>
        <Property Name="submitterName" Type="Edm.String"/>
        <Property Name="attachmentsPresent" Type="Edm.Int64"/>
        <Property Name="attachmentsExpected" Type="Edm.Int64"/>
        <Property Name="status" Type="org.opendatakit.submission.Status"/>
        <Property Name="reviewState" Type="org.opendatakit.submission.ReviewState"/>
        <Property Name="deviceId" Type="Edm.String"/>
        <Property Name="edits" Type="Edm.Int64"/>
        <Property Name="formVersion" Type="Edm.String"/>
      </ComplexType>
      <EnumType Name="Status">
        <Member Name="notDecrypted"/>
        <Member Name="missingEncryptedFormData"/>
      </EnumType>
      <EnumType Name="ReviewState">
        <Member Name="hasIssues"/>
        <Member Name="edited"/>
        <Member Name="rejected"/>
        <Member Name="approved"/>
      </EnumType>
    </Schema>
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.user.roster">
      <EntityType Name="Submissions">
        <Key><PropertyRef Name="__id"/></Key>
        <Property Name="__id" Type="Edm.String"/>
        <Property Name="__system" Type="org.opendatakit.submission.metadata"/>
        <Property Name="meta" Type="org.opendatakit.user.roster.meta"/>
        <Property Name="name" Type="Edm.String"/>
        <Property Name="age" Type="Edm.Int64"/>
        <Property Name="children" Type="org.opendatakit.user.roster.children"/>
      </EntityType>
      <EntityType Name="Submissions.children.child">
        <Key><PropertyRef Name="__id"/></Key>
        <Property Name="__id" Type="Edm.String"/>
        <Property Name="__Submissions-id" Type="Edm.String"/>
        <Property Name="name" Type="Edm.String"/>
        <Property Name="age" Type="Edm.Int64"/>
      </EntityType>
      <ComplexType Name="meta">
        <Property Name="instanceID" Type="Edm.String"/>
      </ComplexType>
      <ComplexType Name="children">
        <NavigationProperty Name="child" Type="Collection(org.opendatakit.user.roster.Submissions.children.child)"/>
      </ComplexType>
      <EntityContainer Name="roster">
        <EntitySet Name="Submissions" EntityType="org.opendatakit.user.roster.Submissions">
          <Annotation Term="Org.OData.Capabilities.V1.ConformanceLevel" EnumMember="Org.OData.Capabilities.V1.ConformanceLevelType/Minimal"/>
          <Annotation Term="Org.OData.Capabilities.V1.BatchSupported" Bool="false"/>
          <Annotation Term="Org.OData.Capabilities.V1.CountRestrictions">
            <Record><PropertyValue Property="Countable" Bool="true"/></Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.FilterFunctions">
            <Record>
              <PropertyValue Property="NonCountableProperties">
                <Collection>
                  <String>eq</String>
                </Collection>
              </PropertyValue>
            </Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.FilterFunctions">
            <Record>
              <PropertyValue Property="Filterable" Bool="true"/>
              <PropertyValue Property="RequiresFilter" Bool="false"/>
              <PropertyValue Property="NonFilterableProperties">
                <Collection>
                  <PropertyPath>meta</PropertyPath>
                  <PropertyPath>name</PropertyPath>
                  <PropertyPath>age</PropertyPath>
                  <PropertyPath>children</PropertyPath>
                </Collection>
              </PropertyValue>
            </Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.SortRestrictions">
            <Record><PropertyValue Property="Sortable" Bool="false"/></Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.ExpandRestrictions">
            <Record><PropertyValue Property="Expandable" Bool="false"/></Record>
          </Annotation>
        </EntitySet>
        <EntitySet Name="Submissions.children.child" EntityType="org.opendatakit.user.roster.Submissions.children.child">
        </EntitySet>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"""


def test_metadata_is_an_edmx_document_laid_out_as_central_lays_it_out(admin, roster):
    resp = admin.get(f"{roster}.svc/$metadata")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert resp.headers["OData-Version"] == "4.0"
    assert resp.get_data(as_text=True) == ROSTER_EDMX


def test_metadata_types_groups_nested_repeats_and_sanitised_names(admin, project, toys):
    kinds = publish(admin, project, "kinds.xml")
    text = admin.get(f"{kinds}.svc/$metadata").get_data(as_text=True)
    fqdn = "org.opendatakit.user.kinds"
    for line in ['<Property Name="q1_8" Type="Edm.String"/>', '<Property Name="count" Type="Edm.Int64"/>',
                 '<Property Name="price" Type="Edm.Decimal"/>', '<Property Name="house" Type="Edm.GeographyPoint"/>',
                 '<Property Name="road" Type="Edm.GeographyLineString"/>',
                 '<Property Name="field" Type="Edm.GeographyPolygon"/>',
                 '<Property Name="visited" Type="Edm.DateTimeOffset"/>', '<Property Name="born" Type="Edm.Date"/>',
                 '<Property Name="chosen" Type="Edm.String"/>', '<Property Name="photo" Type="Edm.String"/>',
                 f'<Property Name="location" Type="{fqdn}.location"/>',
                 f'<Property Name="address" Type="{fqdn}.location.address"/>', '<ComplexType Name="location.address">',
                 f'<Property Name="_2_4" Type="{fqdn}._2_4"/>', '<ComplexType Name="_2_4">']:
        assert line in text, line
    nested = admin.get(f"{toys}.svc/$metadata").get_data(as_text=True)
    assert """      <EntityType Name="Submissions.children.child.toys.toy">
        <Key><PropertyRef Name="__id"/></Key>
        <Property Name="__id" Type="Edm.String"/>
        <Property Name="__Submissions-children-child-id" Type="Edm.String"/>
        <Property Name="name" Type="Edm.String"/>
      </EntityType>""" in nested
    assert ('<NavigationProperty Name="toy" Type="Collection(org.opendatakit.user.toys.Submissions.children.child.toys.toy)"/>'
            in nested)


def test_metadata_errors_are_xml(admin, client, project, roster):
    resp = admin.get(f"/v1/projects/{project}/forms/nonexistent.svc/$metadata")
    assert resp.status_code == 404
    assert resp.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert resp.get_data(as_text=True).startswith('<?xml version="1.0" encoding="UTF-8"?>\n<error code="404.1">\n  <message>')
    assert client.get(f"{roster}.svc/$metadata").status_code == 401


# --- the Submissions table --------------------------------------------------------------------------

def test_submissions_rows_newest_first_with_system_metadata_groups_and_navigation_links(admin, project, roster):
    body = get(admin, f"{roster}.svc/Submissions")
    assert body["@odata.context"] == f"{HOST}/v1/projects/{project}/forms/roster.svc/$metadata#Submissions"
    assert "@odata.nextLink" not in body and "@odata.count" not in body
    assert without_dates(body["value"]) == [
        {"meta": {"instanceID": "rthree"}, "name": "Chelsea", "age": 38,
         "children": {"child@odata.navigationLink": "Submissions('rthree')/children/child"},
         "__id": "rthree", "__system": system()},
        {"meta": {"instanceID": "rtwo"}, "name": "Bob", "age": 34,
         "children": {"child@odata.navigationLink": "Submissions('rtwo')/children/child"},
         "__id": "rtwo", "__system": system()},
        # No children: the group is there, the link is not (as in Central).
        {"meta": {"instanceID": "rone"}, "name": "Alice", "age": 30, "children": {},
         "__id": "rone", "__system": system()}]
    # Key order is Central's: the form's fields, then __id and __system.
    assert list(body["value"][0]) == ["meta", "name", "age", "children", "__id", "__system"]


def test_system_metadata_follows_the_submission(app, admin, client, project, roster):
    viewer = user(app, client, admin, project, "Người xem", "viewer")
    edited = instance("roster", "2026-1", "rtwo-2", "<name>Bob</name><age>35</age>").replace(
        b"</orx:instanceID>", b"</orx:instanceID><orx:deprecatedID>rtwo</orx:deprecatedID>")
    resp = admin.client.put(f"{roster}/submissions/rtwo", data=edited, content_type="application/xml",
                            headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code == 200, resp.get_json()
    admin.patch(f"{roster}/submissions/rthree", {"reviewState": "approved"})
    manager = user(app, client, admin, project, "Trần Thị Mai", "manager")
    submit(manager, roster, instance("roster", "2026-1", "rfour", "<name>Dũng</name>"), device="collect:xyz")
    rows = {r["__id"]: r for r in get(viewer, f"{roster}.svc/Submissions")["value"]}
    assert rows["rtwo"]["age"] == 35 and rows["rtwo"]["meta"] == {"instanceID": "rtwo-2"}
    assert rows["rtwo"]["__system"]["edits"] == 1 and rows["rtwo"]["__system"]["reviewState"] == "edited"
    assert rows["rtwo"]["__system"]["updatedAt"].endswith("Z")
    assert rows["rtwo"]["children"] == {}  # the edit has no children any more
    assert rows["rthree"]["__system"]["reviewState"] == "approved"
    four = rows["rfour"]["__system"]
    assert (four["submitterName"], four["deviceId"], four["formVersion"]) == ("Trần Thị Mai", "collect:xyz", "2026-1")
    assert isinstance(four["submitterId"], str) and four["submitterId"] != "1"
    assert rows["rfour"]["age"] is None and rows["rfour"]["children"] == {}


def test_deleted_and_draft_submissions_are_left_out(app, admin, roster):
    assert admin.delete(f"{roster}/submissions/rthree").status_code == 200
    set_submission(app, "rone", draft=True)
    assert [r["__id"] for r in get(admin, f"{roster}.svc/Submissions")["value"]] == ["rtwo"]
    assert [r["name"] for r in get(admin, f"{roster}.svc/Submissions.children.child")["value"]] == ["Billy", "Blaine"]
    # Central: a filter that speaks of deletedAt decides for itself.
    deleted = get(admin, f"{roster}.svc/Submissions?$filter=not __system/deletedAt eq null")["value"]
    assert [r["__id"] for r in deleted] == ["rthree"] and deleted[0]["__system"]["deletedAt"].endswith("Z")
    kids = get(admin, f"{roster}.svc/Submissions.children.child?$filter=$root/Submissions/__system/deletedAt ne null")
    assert [r["name"] for r in kids["value"]] == ["Candace"]


def test_values_are_typed_as_central_types_them(admin, project):
    kinds = publish(admin, project, "kinds.xml")
    body = ("<q1.8>&#171;xin chào&#187; &amp; tạm biệt</q1.8><count>42</count><price>3.14</price>"
            "<house>16.0544 108.2022 12.5 4</house><road>1.1 2.2 3.3 4.4;5.5 6.6 7.7 8.8;</road>"
            "<field>11.1 22.2; 33.3 44.4;55.5 66.6; 11.1 22.2; </field><visited>2026-11-20T08:00:00.000+07</visited>"
            "<born>1990-02-03</born><chosen>momo zalopay</chosen><photo>1700000000.jpg</photo>"
            "<location><commune>Hòa Phước</commune><address><street>Lê Duẩn</street></address></location>"
            "<_2.4><note/></_2.4>")
    submit(admin, kinds, instance("kinds", "3", "uuid:k1", body))
    submit(admin, kinds, instance("kinds", "3", "uuid:k2", "<count>4 người</count><price>abc</price><house>100</house>"))
    one, two = get(admin, f"{kinds}.svc/Submissions")["value"][::-1]
    assert {k: v for k, v in one.items() if k not in ("__system", "meta")} == {
        "q1_8": "«xin chào» & tạm biệt", "count": 42, "price": 3.14,
        "house": {"type": "Point", "coordinates": [108.2022, 16.0544, 12.5], "properties": {"accuracy": 4}},
        "road": {"type": "LineString", "coordinates": [[2.2, 1.1, 3.3], [6.6, 5.5, 7.7]],
                 "properties": {"accuracies": [4.4, 8.8]}},
        "field": {"type": "Polygon", "coordinates": [[[22.2, 11.1], [44.4, 33.3], [66.6, 55.5], [22.2, 11.1]]]},
        "visited": "2026-11-20T08:00:00.000+07:00", "born": "1990-02-03", "chosen": "momo zalopay",
        "photo": "1700000000.jpg", "location": {"commune": "Hòa Phước", "address": {"street": "Lê Duẩn"}},
        "_2_4": {"note": None}, "__id": "uuid:k1"}
    # JavaScript's parseInt/parseFloat, as Central reads numbers; a point without longitude is null.
    assert (two["count"], two["price"], two["house"], two["road"], two["location"]) == (
        4, None, None, None, {"commune": None, "address": {"street": None}})
    wkt = get(admin, f"{kinds}.svc/Submissions?$wkt=true&$filter=__id eq 'uuid:k1'")["value"][0]
    assert wkt["house"] == "POINT (108.2022 16.0544 12.5)"
    assert wkt["road"] == "LINESTRING (2.2 1.1 3.3,6.6 5.5 7.7)"
    assert wkt["field"] == "POLYGON ((22.2 11.1,44.4 33.3,66.6 55.5,22.2 11.1))"


@pytest.mark.parametrize("form_name", ["NFC", "NFD"])
def test_vietnamese_text_comes_back_exactly_as_sent(admin, project, form_name):
    form = publish(admin, project, "roster.xml")
    head = unicodedata.normalize(form_name, "Nguyễn Thị Hương Giang")
    child = unicodedata.normalize(form_name, "Phạm Đức Hoàng Việt")
    assert head != unicodedata.normalize("NFD" if form_name == "NFC" else "NFC", head)
    submit(admin, form, instance("roster", "2026-1", "uuid:vn", f"<name>{head}</name><children><child>"
                                 f"<name>{child}</name></child></children>"))
    [row] = get(admin, f"{form}.svc/Submissions?$expand=*")["value"]
    assert row["name"] == head and row["children"]["child"][0]["name"] == child
    [kid] = get(admin, f"{form}.svc/Submissions.children.child")["value"]
    assert kid["name"] == child
    raw = admin.get(f"{form}.svc/Submissions").get_data()
    assert head.encode("utf-8") in raw  # UTF-8 on the wire, not \\u escapes


def test_encrypted_submissions_show_only_their_metadata(admin, project):
    form = publish(admin, project, "roster.xml")
    sealed = instance("roster", "2026-1", "uuid:sealed", "<base64EncryptedKey>a2V5</base64EncryptedKey>"
                      "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>")
    submit(admin, form, sealed)
    [row] = get(admin, f"{form}.svc/Submissions")["value"]
    assert set(row) == {"__id", "__system"}
    assert row["__system"]["status"] == "missingEncryptedFormData" and row["__system"]["attachmentsExpected"] == 1
    assert admin.post(f"{form}/submissions/uuid:sealed/attachments/submission.xml.enc", data=b"sealed bytes",
                      content_type="application/octet-stream").status_code == 200
    [row] = get(admin, f"{form}.svc/Submissions")["value"]
    assert (row["__system"]["status"], row["__system"]["attachmentsPresent"]) == ("notDecrypted", 1)
    assert get(admin, f"{form}.svc/Submissions.children.child")["value"] == []


# --- repeat tables ----------------------------------------------------------------------------------

def test_repeat_table_rows_carry_centrals_ids_and_their_parents_id(admin, project, roster):
    body = get(admin, f"{roster}.svc/Submissions.children.child")
    assert body == {
        "value": [
            {"name": "Candace", "age": 2, "__id": "32809ae2b3dc404ea292205eb884b21fa4e9acc5",
             "__Submissions-id": "rthree"},
            {"name": "Billy", "age": 4, "__id": "52eff9ea82550183880b9d64c20487642fa6e60c",
             "__Submissions-id": "rtwo"},
            {"name": "Blaine", "age": 6, "__id": "1291953ccbe2e5e866f7ab3fefa3036d649186d3",
             "__Submissions-id": "rtwo"}],
        "@odata.context": f"{HOST}/v1/projects/{project}/forms/roster.svc/$metadata#Submissions.children.child"}


def test_nested_repeat_tables_link_to_their_parent_rows(admin, toys):
    children = get(admin, f"{toys}.svc/Submissions.children.child")["value"]
    assert children == [
        {"name": "Alice", "toys": {}, "__id": "46ebf42ee83ddec5028c42b2c054402d1e700208", "__Submissions-id": "double"},
        {"name": "Bob", "toys": {"toy@odata.navigationLink":
                                 "Submissions('double')/children/child('b6e93a81a53eed0566e65e472d4a4b9ae383ee6d')/toys/toy"},
         "__id": "b6e93a81a53eed0566e65e472d4a4b9ae383ee6d", "__Submissions-id": "double"},
        {"name": "Chelsea", "toys": {"toy@odata.navigationLink":
                                     "Submissions('double')/children/child('8954b393f82c1833abb19be08a3d6cb382171f54')/toys/toy"},
         "__id": "8954b393f82c1833abb19be08a3d6cb382171f54", "__Submissions-id": "double"}]
    toys_rows = get(admin, f"{toys}.svc/Submissions.children.child.toys.toy")["value"]
    bob, chelsea = "b6e93a81a53eed0566e65e472d4a4b9ae383ee6d", "8954b393f82c1833abb19be08a3d6cb382171f54"
    assert [(t["name"], t["__id"], t["__Submissions-children-child-id"]) for t in toys_rows] == [
        ("Twilight Sparkle", "a9058d7b2ed9557205ae53f5b1dc4224043eca2a", bob),
        ("Pinkie Pie", "8d2dc7bd3e97a690c0813e646658e51038eb4144", bob),
        ("Applejack", "b716dd8b79a4c9369d6b1e7a9c9d55ac18da1319", bob),
        ("Spike", "52fbd613acc151ee1187026890f6246b35f69144", bob),
        ("Rainbow Dash", "4a4a05249c8f992b0b3cc7dbe690b57cf18e8ea9", chelsea),
        ("Rarity", "00ae97cddc4804157e3a0b13ff9e30d86cfd1547", chelsea),
        ("Fluttershy", "ecc1d831ae487ceef09ab7ccc0a021d3cab48988", chelsea),
        ("Princess Luna", "d6539297765d97b951c6a63d7f70cafeb1741f8d", chelsea)]


def test_expand_star_inlines_every_repeat_with_its_ids(admin, project):
    form = publish(admin, project, "toys.xml")
    submit(admin, form, instance("toys", "1", "two", DOUBLE))
    [row] = get(admin, f"{form}.svc/Submissions?$expand=*")["value"]
    children = row["children"]
    assert children["child@odata.navigationLink"] == "Submissions('two')/children/child"
    assert [(c["name"], c["__id"]) for c in children["child"]] == [
        ("Alice", "cf9a1b5cc83c6d6270c1eb98860d294eac5d526d"), ("Bob", "c76d0ccc6d5da236be7b93b985a80413d2e3e172"),
        ("Chelsea", "57c0d9e982699e087c34a22696c10753a15beb6c")]
    assert children["child"][0]["toys"] == {}
    bob = children["child"][1]["toys"]
    assert bob["toy@odata.navigationLink"] == ("Submissions('two')/children/child"
                                               "('c76d0ccc6d5da236be7b93b985a80413d2e3e172')/toys/toy")
    assert bob["toy"] == [{"name": "Twilight Sparkle", "__id": "edc8e56945b78ca7d8edeb54c98d5f5e1dec8490"},
                          {"name": "Pinkie Pie", "__id": "7715214d84af857ba4e64bacc89a31dce16620bb"},
                          {"name": "Applejack", "__id": "f69554753d1a7b9d4c6a63596d9776619a232ece"},
                          {"name": "Spike", "__id": "ee6ee4f76495c2a7839b2893ab3b409f08bcffaa"}]
    assert [t["__id"] for t in children["child"][2]["toys"]["toy"]] == [
        "0c2ddb3ec8921091961dce34fa2dfbdd25ed368c", "efa00a552968b84b1784b4c9c820a32a03cf4aea",
        "611d4cbce170a9525ccb79a2fd48acb7cc1ef844", "ed4a384b1dfd9002409e5279a2720a685e0e162d"]
    # On a repeat table too: each child with its toys inline.
    kids = get(admin, f"{form}.svc/Submissions.children.child?$expand=*")["value"]
    assert [len(k["toys"].get("toy", [])) for k in kids] == [0, 4, 4]
    assert kids[1]["__Submissions-id"] == "two"


def test_repeat_names_that_are_not_odata_names_are_sanitised(admin, project):
    xml = (DATA / "roster.xml").read_text().replace('id="roster"', 'id="odd_names"').replace(
        "children", "q1.8-test")
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=xml.encode(), content_type="application/xml")
    assert resp.status_code == 200, resp.get_json()
    odd = f"/v1/projects/{project}/forms/odd_names"
    submit(admin, odd, instance("odd_names", "2026-1", "uuid:bf17f620-c56a-4533-8f89-da3f5c9bf37a",
                                "<q1.8-test><child><name>Một</name></child></q1.8-test>"))
    assert [t["name"] for t in get(admin, f"{odd}.svc")["value"]] == ["Submissions", "Submissions.q1_8_test.child"]
    [row] = get(admin, f"{odd}.svc/Submissions")["value"]
    link = row["q1_8_test"]["child@odata.navigationLink"]
    assert link == "Submissions('uuid%3Abf17f620-c56a-4533-8f89-da3f5c9bf37a')/q1_8_test/child"
    via_link = get(admin, f"{odd}.svc/{link}")["value"]
    assert via_link == get(admin, f"{odd}.svc/Submissions.q1_8_test.child")["value"]
    assert via_link[0]["name"] == "Một" and via_link[0]["__Submissions-id"] == "uuid:bf17f620-c56a-4533-8f89-da3f5c9bf37a"


# --- paging, counting, ordering ---------------------------------------------------------------------

def test_top_and_skip_give_a_next_link_with_a_skiptoken(admin, project, roster):
    body = get(admin, f"{roster}.svc/Submissions?$top=1&$skip=1")
    assert [r["__id"] for r in body["value"]] == ["rtwo"]
    assert body["@odata.nextLink"] == (f"{HOST}/v1/projects/{project}/forms/roster.svc/Submissions"
                                       "?%24top=1&%24skiptoken=01eyJpbnN0YW5jZUlkIjoicnR3byJ9")
    following = get(admin, local(body["@odata.nextLink"]) + "&$skip=1")  # $skip is ignored beside $skiptoken
    assert [r["__id"] for r in following["value"]] == ["rone"] and "@odata.nextLink" not in following
    # Exactly at the end: no link.
    assert "@odata.nextLink" not in get(admin, f"{roster}.svc/Submissions?$top=1&$skip=2")


def test_paging_through_submissions_is_stable_while_new_ones_arrive(app, admin, roster):
    first = get(admin, f"{roster}.svc/Submissions?$top=2")
    assert [r["__id"] for r in first["value"]] == ["rthree", "rtwo"]
    submit(admin, roster, instance("roster", "2026-1", "rfour", "<name>Dung</name>"))
    second = get(admin, local(first["@odata.nextLink"]))
    assert [r["__id"] for r in second["value"]] == ["rone"] and "@odata.nextLink" not in second
    # The token's submission may be deleted meanwhile; the next page still starts after it.
    admin.delete(f"{roster}/submissions/rtwo")
    assert [r["__id"] for r in get(admin, local(first["@odata.nextLink"]))["value"]] == ["rone"]
    # A token naming no submission of this form continues nowhere.
    assert get(admin, f"{roster}.svc/Submissions?$skiptoken=01eyJpbnN0YW5jZUlkIjoiZm9vIn0=")["value"] == []
    # Same created_at: the id decides, newest first, and no row is lost or repeated.
    same = datetime(2026, 1, 1, tzinfo=UTC)
    for iid in ("rone", "rthree", "rfour"):
        set_submission(app, iid, created_at=same)
    seen, url = [], f"{roster}.svc/Submissions?$top=1"
    while url:
        page = get(admin, url)
        seen += [r["__id"] for r in page["value"]]
        url = local(page["@odata.nextLink"]) if "@odata.nextLink" in page else None
    assert seen == ["rfour", "rthree", "rone"]


def test_paging_through_a_repeat_table_keeps_the_filter_and_loses_no_row(admin, project, roster):
    admin.patch(f"{roster}/submissions/rtwo", {"reviewState": "rejected"})
    flt = "$root/Submissions/__system/reviewState eq 'rejected'"
    body = get(admin, f"{roster}.svc/Submissions.children.child?$top=1&$filter={flt}")
    assert [r["name"] for r in body["value"]] == ["Billy"]
    link = body["@odata.nextLink"]
    assert link.startswith(f"{HOST}/v1/projects/{project}/forms/roster.svc/Submissions.children.child?%24top=1"
                           "&%24filter=%24root%2FSubmissions%2F__system%2FreviewState+eq+%27rejected%27&%24skiptoken=01")
    assert skiptoken(link)["repeatId"] == "52eff9ea82550183880b9d64c20487642fa6e60c"
    following = get(admin, local(link))
    assert [r["name"] for r in following["value"]] == ["Blaine"] and "@odata.nextLink" not in following
    # $skip on a repeat table counts repeat rows.
    assert [r["name"] for r in get(admin, f"{roster}.svc/Submissions.children.child?$skip=1&$top=1")["value"]] == ["Billy"]


def test_a_large_repeat_table_reads_the_same_in_pages_as_in_one_go(admin, project):
    from server.synthetic import random_household, to_xml

    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=(XLSFORMS / "household_digital_survey.xlsx")
                      .read_bytes(), content_type=XLSX)
    assert resp.status_code == 200
    form = f"/v1/projects/{project}/forms/household_digital_survey"
    rng = random.Random(7)
    for _ in range(30):
        submit(admin, form, to_xml(random_household(rng, "DN-HV-HP-01", members=rng.choice([1, 2, 3, 4, 9]))))
    table = f"{form}.svc/Submissions.household.members"
    whole = get(admin, f"{table}?$count=true")
    assert whole["@odata.count"] == len(whole["value"]) > 60
    for top in (1, 7, 50):
        rows, url, pages = [], f"{table}?$top={top}", 0
        while url:
            page = get(admin, url)
            rows += page["value"]
            pages += 1
            url = local(page["@odata.nextLink"]) if "@odata.nextLink" in page else None
        assert rows == whole["value"] and pages == -(-len(rows) // top)
    for skip in (0, 5, 61):
        assert get(admin, f"{table}?$skip={skip}&$top=13")["value"] == whole["value"][skip:skip + 13]
    # And the root table the same way.
    subs = get(admin, f"{form}.svc/Submissions")["value"]
    paged, url = [], f"{form}.svc/Submissions?$top=4"
    while url:
        page = get(admin, url)
        paged += page["value"]
        url = local(page["@odata.nextLink"]) if "@odata.nextLink" in page else None
    assert paged == subs and len(subs) == 30


def test_skip_into_a_repeat_table_lands_on_the_right_row_from_either_end(admin, project):
    """A deep `$skip` is counted from the oldest end (server/odata/rows.py `_landing`); every `$skip`
    must give the rows the whole table has there, also with deleted submissions, an edit (row ids
    with gaps), a filter and `$orderby`."""
    from server.synthetic import random_household, to_xml

    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=(XLSFORMS / "household_digital_survey.xlsx")
                      .read_bytes(), content_type=XLSX)
    assert resp.status_code == 200
    form = f"/v1/projects/{project}/forms/household_digital_survey"
    rng = random.Random(11)
    sent = []
    for _ in range(14):
        xml = to_xml(random_household(rng, "DN-HV-HP-01", members=rng.choice([1, 2, 3, 5])))
        submit(admin, form, xml)
        sent.append(re.search(rb"<instanceID>(.*?)</instanceID>", xml).group(1).decode())
    for iid in (sent[1], sent[9]):
        assert admin.delete(f"{form}/submissions/{iid}").status_code == 200
    edited = re.sub(rb"<instanceID>.*?</instanceID>",
                    f"<instanceID>uuid:edited-4</instanceID><deprecatedID>{sent[4]}</deprecatedID>".encode(),
                    admin.get(f"{form}/submissions/{sent[4]}.xml").data)
    assert admin.client.put(f"{form}/submissions/{sent[4]}", data=edited, content_type="application/xml",
                            headers={"Authorization": f"Bearer {admin.token}"}).status_code == 200
    admin.patch(f"{form}/submissions/{sent[6]}", {"reviewState": "rejected"})
    table = f"{form}.svc/Submissions.household.members"
    for query in ("", "&$filter=$root/Submissions/__system/reviewState ne 'rejected'",
                  "&$orderby=__system/submissionDate asc"):
        whole = get(admin, f"{table}?{query.lstrip('&')}")["value"]
        assert len(whole) > 10
        for skip in range(len(whole) + 2):
            assert get(admin, f"{table}?$skip={skip}&$top=3{query}")["value"] == whole[skip:skip + 3], (query, skip)


def test_count_ignores_paging_and_follows_the_filter(app, admin, client, project, roster):
    assert get(admin, f"{roster}.svc/Submissions?$count=true&$top=1&$skip=1")["@odata.count"] == 3
    only = get(admin, f"{roster}.svc/Submissions?$top=0&$count=true")
    assert only == {"value": [], "@odata.context": only["@odata.context"], "@odata.count": 3}
    assert get(admin, f"{roster}.svc/Submissions?$top=0") == {"value": [], "@odata.context": only["@odata.context"]}
    assert get(admin, f"{roster}.svc/Submissions.children.child?$top=0&$count=true")["@odata.count"] == 3
    bob = user(app, client, admin, project, "Bob", "manager")
    submit(bob, roster, instance("roster", "2026-1", "rfour", "<name>Dung</name>"))
    flt = "__system/submitterId eq 1"
    assert get(admin, f"{roster}.svc/Submissions?$count=true&$filter={flt}&$top=1&$skip=1")["@odata.count"] == 3
    assert get(admin, f"{roster}.svc/Submissions.children.child?$count=true&$skip=1&$top=1"
                      "&$filter=$root/Submissions/__id eq 'rtwo'")["@odata.count"] == 2
    empty = publish(admin, project, "toys.xml")
    assert get(admin, f"{empty}.svc/Submissions?$count=true") == {
        "value": [], "@odata.context": f"{HOST}/v1/projects/{project}/forms/toys.svc/$metadata#Submissions",
        "@odata.count": 0}


def test_orderby_as_central_supports_it(app, admin, client, project, roster):
    bob = user(app, client, admin, project, "Bob", "manager")
    submit(bob, roster, instance("roster", "2026-1", "rfour", "<name>Dung</name><age>50</age>"))
    admin.patch(f"{roster}/submissions/rone", {"reviewState": "approved"})
    admin.patch(f"{roster}/submissions/rtwo", {"reviewState": "rejected"})
    ages = lambda q: [r["age"] for r in get(admin, f"{roster}.svc/Submissions?{q}")["value"]]  # noqa: E731
    assert ages("$orderby=__system/submitterId desc") == [50, 38, 34, 30]
    assert ages("$orderby=__system/submitterId asc") == [30, 34, 38, 50]
    # Nulls first when ascending, last when descending; ties by submission in the first direction.
    assert ages("$orderby=__system/reviewState asc") == [38, 50, 30, 34]
    assert ages("$orderby=__system/reviewState DESC") == [34, 30, 50, 38]
    assert ages("$orderby=$root/Submissions/__system/submissionDate,__id") == [30, 34, 38, 50]
    assert ages("$orderby=__system/submitterId asc&$filter=__system/reviewState ne null") == [30, 34]
    # With $top the next link pages by $skip (a $skiptoken cannot follow an arbitrary order).
    page = get(admin, f"{roster}.svc/Submissions?$orderby=__system/submissionDate asc&$top=3")
    assert page["@odata.nextLink"].endswith("%24orderby=__system%2FsubmissionDate+asc&%24top=3&%24skip=3")
    assert [r["age"] for r in get(admin, local(page["@odata.nextLink"]))["value"]] == [50]
    token = get(admin, f"{roster}.svc/Submissions?$top=1")["@odata.nextLink"]
    refused = admin.get(local(token) + "&$orderby=__system/submitterId")
    assert refused.status_code == 501 and refused.get_json() == {
        "message": "The requested feature using $orderby and $skiptoken together is not supported by this server.",
        "code": 501.1, "details": {"feature": "using $orderby and $skiptoken together"}}
    for bad, word in (("myfield asc", "myfield"), ("__system/updatedAt UP", "UP")):
        resp = admin.get(f"{roster}.svc/Submissions?$orderby={bad}")
        assert resp.status_code == 501 and resp.get_json()["code"] == 501.5 and resp.get_json()["message"].endswith(word)


# --- $filter ------------------------------------------------------------------------------------------

def ids(admin, form, flt, table="Submissions"):
    return [r.get("__id") for r in get(admin, f"{form}.svc/{table}?$filter={quote(flt)}")["value"]]


def test_filter_by_id_submitter_review_state_and_dates(app, admin, client, project, roster):
    bob = user(app, client, admin, project, "Bob", "manager")
    submit(bob, roster, instance("roster", "2026-1", "rfour", "<name>Dung</name>"))
    assert ids(admin, roster, "__id eq 'rtwo'") == ["rtwo"]
    assert ids(admin, roster, "__system/submitterId eq 1") == ["rthree", "rtwo", "rone"]
    assert ids(admin, roster, "__system/submitterId ne 1") == ["rfour"]
    assert ids(admin, roster, "__system/submitterId eq '1' and __id ne 'rtwo'") == ["rthree", "rone"]
    admin.patch(f"{roster}/submissions/rtwo", {"reviewState": "rejected"})
    assert ids(admin, roster, "__system/reviewState eq 'rejected'") == ["rtwo"]
    assert ids(admin, roster, "$root/Submissions/__system/reviewState eq 'rejected'") == ["rtwo"]
    # `ne` and `not … eq` keep the submissions nobody has reviewed (null), as in Central.
    assert ids(admin, roster, "__system/reviewState ne 'rejected'") == ["rfour", "rthree", "rone"]
    assert ids(admin, roster, "not __system/reviewState eq 'rejected'") == ["rfour", "rthree", "rone"]
    assert ids(admin, roster, "__system/updatedAt eq null") == ["rfour", "rthree", "rone"]
    assert ids(admin, roster, "__system/reviewState eq null or __system/submitterId ne 1") == ["rfour", "rthree", "rone"]
    set_submission(app, "rone", created_at=datetime(2010, 6, 1, tzinfo=UTC))
    set_submission(app, "rthree", created_at=datetime(2025, 12, 31, 23, 30, tzinfo=UTC))
    assert ids(admin, roster, "__system/submissionDate lt 2015-01-01") == ["rone"]
    assert ids(admin, roster, "year(__system/submissionDate) eq 2010") == ["rone"]
    assert ids(admin, roster, "year(__system/submissionDate) eq 2025 and month(__system/submissionDate) eq 12 "
                              "and day(__system/submissionDate) eq 31 and hour(__system/submissionDate) eq 23 "
                              "and minute(__system/submissionDate) eq 30 and second(__system/submissionDate) eq 0") \
        == ["rthree"]
    # Offsets are honoured: 06:30 on 1 Jan 2026 in Hà Nội is 23:30 UTC the day before.
    assert ids(admin, roster, "__system/submissionDate eq 2026-01-01T06:30:00+07:00") == ["rthree"]
    assert ids(admin, roster, "__system/submissionDate ge 2025-12-31T23:30:00.000Z and "
                              "__system/submissionDate lt '2026-01-01'") == ["rthree"]
    assert ids(admin, roster, "__system/submissionDate gt now()") == []
    assert ids(admin, roster, "year(__system/submissionDate) le year(now()) and (__id eq 'rone' or __id eq 'rtwo')") \
        == ["rtwo", "rone"]


def test_filter_after_the_last_submission_date_seen_never_returns_it_again(app, admin, roster):
    # Dates are shown to the millisecond and stored to the microsecond (Central fixed the same trap).
    set_submission(app, "rthree", created_at=datetime(2036, 3, 4, 5, 6, 7, 123456, tzinfo=UTC))
    [latest] = get(admin, f"{roster}.svc/Submissions?$top=1")["value"]
    shown = latest["__system"]["submissionDate"]
    assert shown == "2036-03-04T05:06:07.123Z"
    assert ids(admin, roster, f"__system/submissionDate gt {shown}") == []
    assert ids(admin, roster, f"__system/submissionDate ge {shown}") == ["rthree"]
    assert ids(admin, roster, f"__system/submissionDate eq {shown}") == ["rthree"]
    assert ids(admin, roster, f"__system/submissionDate le {shown} and __id eq 'rthree'") == ["rthree"]
    assert ids(admin, roster, f"__system/submissionDate lt {shown} and __id eq 'rthree'") == []


def test_repeat_tables_accept_only_root_fields_in_filters(admin, roster):
    resp = admin.get(f"{roster}.svc/Submissions.children.child?$filter=__system/reviewState eq 'rejected'")
    assert resp.status_code == 501
    assert resp.get_json()["code"] == 501.5
    assert resp.get_json()["message"] == ("The given OData filter expression references fields not supported by "
                                          "this server: __system/reviewState at 0")
    rows = get(admin, f"{roster}.svc/Submissions.children.child?$filter=$root/Submissions/__id eq 'rtwo'")["value"]
    assert [r["name"] for r in rows] == ["Billy", "Blaine"]


@pytest.mark.parametrize("flt, code, message", [
    ("hello my dear", 400.18, "The OData filter expression you provided could not be parsed: Unexpected character at 5"),
    ("123 eq myfield", 501.5, "The given OData filter expression references fields not supported by this server: "
                              "myfield at 7"),
    ("123 eq trim(' 123 ')", 501.4, "The given OData filter expression uses features not supported by this server: "
                                    "MethodCallExpression at 7 (\"trim(' 123 ')\")"),
    ("3 add 4 eq 7", 501.4, None),
    ("123 eq NOW()", 400.18, None),
    ("123 eq YEAR(now())", 400.18, None),
    ("__system/submissionDate gt 'yesterday'", 400.18, None),
    ("__system/reviewState", 400.18, None),
])
def test_filter_errors_carry_centrals_codes(admin, roster, flt, code, message):
    resp = admin.get(f"{roster}.svc/Submissions?$filter={flt}")
    assert resp.status_code == int(code)
    assert resp.get_json()["code"] == code
    if message:
        assert resp.get_json()["message"] == message


# --- $select -------------------------------------------------------------------------------------------

def test_select_fields_groups_and_metadata(admin, project, roster, toys):
    assert get(admin, f"{roster}.svc/Submissions?$select=__id,name")["value"] == [
        {"name": "Chelsea", "__id": "rthree"}, {"name": "Bob", "__id": "rtwo"}, {"name": "Alice", "__id": "rone"}]
    assert get(admin, f"{roster}.svc/Submissions?$select=meta&$top=1")["value"] == [{"meta": {"instanceID": "rthree"}}]
    page = get(admin, f"{roster}.svc/Submissions?$top=1&$select=age")
    assert page["value"] == [{"age": 38}]
    assert page["@odata.nextLink"].endswith("?%24top=1&%24select=age&%24skiptoken=01eyJpbnN0YW5jZUlkIjoicnRocmVlIn0%3D")
    [row] = get(admin, f"{roster}.svc/Submissions?$select=__system/status,__system/deviceId,children/child"
                       "&$filter=__id eq 'rtwo'")["value"]
    assert row == {"children": {"child@odata.navigationLink": "Submissions('rtwo')/children/child"},
                   "__system": {"status": None, "deviceId": None}}
    [row] = get(admin, f"{roster}.svc/Submissions?$select=__system&$top=1")["value"]
    assert set(row) == {"__system"} and len(row["__system"]) == 12
    assert get(admin, f"{roster}.svc/Submissions.children.child?$select=__id,name&$top=1")["value"] == [
        {"name": "Candace", "__id": "32809ae2b3dc404ea292205eb884b21fa4e9acc5"}]
    assert get(admin, f"{roster}.svc/Submissions.children.child?$select=age&$top=1")["value"] == [{"age": 2}]
    toys_rows = get(admin, f"{toys}.svc/Submissions.children.child.toys.toy?$select=__Submissions-children-child-id")
    assert {tuple(t) for t in toys_rows["value"]} == {("__Submissions-children-child-id",)}
    assert get(admin, f"{roster}.svc/Submissions?$select=*&$top=1")["value"][0]["__id"] == "rthree"
    # Empty options are as if absent, as in Central.
    assert len(get(admin, f"{roster}.svc/Submissions?$select=&$top=&$skip=&$expand=")["value"]) == 3


def test_select_refusals(admin, roster):
    for select, code in (("nonsense", 400.23), ("children/child/name", 400.24), ("__system", 400.23)):
        table = "Submissions.children.child" if select == "__system" else "Submissions"
        resp = admin.get(f"{roster}.svc/{table}?$select={select}")
        assert (resp.status_code, resp.get_json()["code"]) == (400, code), select
    assert admin.get(f"{roster}.svc/Submissions?$select=nonsense").get_json()["message"] == \
        "Could not find a property named 'nonsense'"
    resp = admin.get(f"{roster}.svc/Submissions?$select=name&$expand=*")
    assert resp.status_code == 501 and resp.get_json() == {
        "message": "This server doesn't support $select query parameter with $expand.", "code": 501.11}


# --- the single-entity form ----------------------------------------------------------------------------

def test_one_submission_and_its_repeats_by_id(app, admin, project, toys):
    body = get(admin, f"{toys}.svc/Submissions('double')")
    [row] = without_dates(body["value"])
    assert row == {"meta": {"instanceID": "double"}, "name": "Vick",
                   "children": {"child@odata.navigationLink": "Submissions('double')/children/child"},
                   "__id": "double", "__system": system(formVersion="1", deviceId="collect:AbCdEfGh12345678")}
    assert body["@odata.context"].endswith("/toys.svc/$metadata#Submissions")
    kids = get(admin, f"{toys}.svc/Submissions('double')/children/child?$top=1&$skip=1")
    assert [k["name"] for k in kids["value"]] == ["Bob"]
    assert kids["@odata.nextLink"] == (
        f"{HOST}/v1/projects/{project}/forms/toys.svc/Submissions('double')/children/child?%24top=1&%24skiptoken="
        "01eyJyZXBlYXRJZCI6ImI2ZTkzYTgxYTUzZWVkMDU2NmU2NWU0NzJkNGE0YjlhZTM4M2VlNmQifQ%3D%3D")
    assert [k["name"] for k in get(admin, local(kids["@odata.nextLink"]))["value"]] == ["Chelsea"]
    toy = get(admin, f"{toys}.svc/Submissions('double')/children/child('8954b393f82c1833abb19be08a3d6cb382171f54')"
                     "/toys/toy?$select=name")
    assert toy["value"] == [{"name": "Rainbow Dash"}, {"name": "Rarity"}, {"name": "Fluttershy"},
                            {"name": "Princess Luna"}]
    assert get(admin, f"{toys}.svc/Submissions('double')/children/child?$top=0&$count=true") == {
        "value": [], "@odata.context": kids["@odata.context"], "@odata.count": 3}
    bad = admin.get(f"{toys}.svc/Submissions('double')/children/child?$skiptoken=01eyJyZXBlYXRJZCI6Im5vIn0=")
    assert bad.status_code == 400 and bad.get_json() == {
        "message": "Record associated with the provided $skiptoken not found.", "code": 400.34}
    assert admin.get(f"{toys}.svc/Submissions('nonexistent')").status_code == 404
    assert admin.get(f"{toys}.svc/Submissions('double')/nothing/here").status_code == 404
    admin.delete(f"{toys}/submissions/double")
    assert admin.get(f"{toys}.svc/Submissions('double')").status_code == 404


def test_uuid_ids_may_be_percent_encoded_and_links_come_back_as_sent(admin, project, roster):
    submit(admin, roster, instance("roster", "2026-1", "uuid:17b09e96-4141-43f5-9a70-611eb0e8f6b4",
                                   "<children><child><name>A</name></child><child><name>B</name></child></children>"))
    encoded = f"{roster}.svc/Submissions('uuid%3A17b09e96-4141-43f5-9a70-611eb0e8f6b4')"
    [row] = get(admin, encoded)["value"]
    assert row["children"]["child@odata.navigationLink"] == \
        "Submissions('uuid%3A17b09e96-4141-43f5-9a70-611eb0e8f6b4')/children/child"
    page = get(admin, f"{encoded}/children/child?$top=1")
    assert page["@odata.nextLink"].startswith(
        f"{HOST}/v1/projects/{project}/forms/roster.svc/Submissions('uuid%3A17b09e96-4141-43f5-9a70-611eb0e8f6b4')"
        "/children/child?%24top=1&%24skiptoken=01")
    assert len(get(admin, f"{roster}.svc/Submissions('uuid:17b09e96-4141-43f5-9a70-611eb0e8f6b4')")["value"]) == 1


# --- who may read, and what is refused -------------------------------------------------------------------

def test_read_access_is_the_submissions_access(app, admin, client, project, roster):
    viewer = user(app, client, admin, project, "Viewer", "viewer")
    collector = user(app, client, admin, project, "Collector", "formfill")
    stranger = user(app, client, admin, project, "Stranger", None)
    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    admin.post(f"{roster}/assignments/app-user/{au['id']}")
    for path in (".svc", ".svc/Submissions", ".svc/Submissions.children.child", ".svc/Submissions('rone')"):
        assert viewer.get(roster + path).status_code == 200
        assert collector.get(roster + path).status_code == 403
        assert stranger.get(roster + path).status_code == 403
        assert client.get(roster + path).status_code == 401
        assert client.get(f"/v1/key/{au['token']}{roster[3:]}{path}").status_code == 403
    assert client.get(f"{roster}.svc/Submissions", base_url="https://localhost").headers["WWW-Authenticate"] \
        .startswith("Basic")
    draft_only = admin.post(f"/v1/projects/{project}/forms?publish=false", data=(DATA / "toys.xml").read_bytes(),
                            content_type="application/xml")
    assert draft_only.status_code == 200
    assert admin.get(f"/v1/projects/{project}/forms/toys.svc").status_code == 404
    assert admin.get(f"/v1/projects/{project}/forms/toys.svc/Submissions").status_code == 404
    assert admin.get(f"/v1/projects/{project}/forms/nonexistent.svc/Submissions").status_code == 404


@pytest.mark.behind_proxy
def test_basic_auth_over_https_as_excel_and_power_bi_send_it(app, admin, client, project, roster):
    from server.models.accounts import create_user

    with app.extensions["hamlet.sessionmaker"]() as s:
        uid = create_user(s, "ke.toan@hamlet.test", "mật khẩu thật dài", display_name="Kế toán").id
        s.commit()
    admin.post(f"/v1/projects/{project}/assignments/viewer/{uid}")
    auth = "Basic " + base64.b64encode("ke.toan@hamlet.test:mật khẩu thật dài".encode()).decode()
    resp = client.get(f"{roster}.svc/Submissions", base_url="https://localhost", headers={"Authorization": auth})
    assert resp.status_code == 200 and len(resp.get_json()["value"]) == 3
    assert resp.get_json()["@odata.context"].startswith("https://localhost/")
    # Behind a TLS proxy the links use the public scheme and host.
    proxied = client.get(f"{roster}.svc", headers={"Authorization": auth, "X-Forwarded-Proto": "https",
                                                   "X-Forwarded-Host": "hamlet.example.vn"})
    assert proxied.get_json()["@odata.context"] == \
        f"https://hamlet.example.vn/v1/projects/{project}/forms/roster.svc/$metadata"


@pytest.mark.parametrize("query, status, code", [
    ("$foo=1", 501, 501.1),
    ("$apply=groupby", 501, 501.1),
    ("$expand=children", 501, 501.6),
    ("$top=abc", 400, 400.11),
    ("$skip=-1", 400, 400.11),
    ("$skiptoken=xyz", 400, 400.35),
    ("$skiptoken=01bm90IGpzb24=", 400, 400.35),
    ("$format=xml", 406, 406.1),
])
def test_what_central_refuses_is_refused_with_its_code(admin, roster, query, status, code):
    resp = admin.get(f"{roster}.svc/Submissions?{query}")
    assert (resp.status_code, resp.get_json()["code"]) == (status, code)
    assert resp.headers["OData-Version"] == "4.0"


def test_other_refusals(admin, roster):
    assert admin.get(f"{roster}.svc/Submissions.nonexistent").status_code == 404
    assert admin.get(f"{roster}.svc/Submissions.children").status_code == 404  # a group, not a repeat
    assert admin.get(f"{roster}.svc/Submissions", headers={"OData-MaxVersion": "3.0"}).status_code == 404
    assert admin.get(f"{roster}.svc/Submissions", headers={"Accept": "application/xml"}).status_code == 406
    # Power BI's Accept lists JSON and XML: fine.
    accept = "application/json;odata.metadata=minimal;q=1.0,application/xml;q=0.7,text/plain;q=0.7"
    assert admin.get(f"{roster}.svc/Submissions", headers={"Accept": accept}).status_code == 200
    stale = "01" + base64.b64encode(json.dumps({"repeatId": "nonsense"}).encode()).decode()
    resp = admin.get(f"{roster}.svc/Submissions.children.child?$top=2&$skiptoken={stale}")
    assert (resp.status_code, resp.get_json()["code"]) == (400, 400.34)


# --- submission_filter on its own ------------------------------------------------------------------

@pytest.fixture
def five(app, admin, client, project):
    """Five submissions with known metadata, and a function listing which ones a filter selects."""
    from sqlalchemy import select

    from server.odata.filter import exclude_deleted, submission_filter

    form = publish(admin, project, "roster.xml")
    other = user(app, client, admin, project, "Other", "manager")
    t0 = datetime(2025, 8, 1, 2, 3, 4, 500000, tzinfo=UTC)
    for i in range(5):
        submit(other if i == 4 else admin, form, instance("roster", "2026-1", f"s{i}", ""))
        set_submission(app, f"s{i}", created_at=t0 + timedelta(days=31 * i, hours=i))
    set_submission(app, "s1", review_state="approved", updated_at=t0 + timedelta(days=40))
    set_submission(app, "s2", review_state="rejected", updated_at=t0 + timedelta(days=70))
    set_submission(app, "s3", deleted_at=t0 + timedelta(days=100))

    def matching(text: str, **kw) -> list[str]:
        with app.extensions["hamlet.sessionmaker"]() as s:
            t = Submission.__table__
            stmt = (select(t.c.instance_id).where(submission_filter(text, **kw), exclude_deleted(text))
                    .order_by(t.c.instance_id))
            return list(s.scalars(stmt))

    return matching


@pytest.mark.parametrize("text, expected", [
    ("true", ["s0", "s1", "s2", "s4"]),
    ("__system/reviewState eq 'approved'", ["s1"]),
    ("__system/reviewState ne 'approved'", ["s0", "s2", "s4"]),
    ("__system/reviewState eq null", ["s0", "s4"]),
    ("null eq __system/reviewState", ["s0", "s4"]),
    ("__system/reviewState ne null and __system/reviewState ne 'rejected'", ["s1"]),
    ("__system/reviewState gt 'approved'", ["s2"]),
    ("__system/submitterId eq 1", ["s0", "s1", "s2"]),
    ("__system/submitterId gt 1", ["s4"]),
    ("__id eq 's2' or __id eq 's4'", ["s2", "s4"]),
    ("not (__id eq 's2' or __id eq 's4')", ["s0", "s1"]),
    ("not __id eq 's2' and not __id eq 's4'", ["s0", "s1"]),
    ("__system/submissionDate ge 2025-09-01", ["s1", "s2", "s4"]),
    ("__system/submissionDate lt 2025-09-01T03:03:04.500Z", ["s0"]),
    ("__system/submissionDate le 2025-09-01T03:03:04.500Z", ["s0", "s1"]),
    ("__system/submissionDate le 2025-09-01T03:03:04.499Z", ["s0"]),
    ("__system/submissionDate eq 2025-09-01T10:03:04.5+07:00", ["s1"]),
    ("__system/submissionDate gt 2025-09-01T03:03:04.5004Z", ["s2", "s4"]),
    ("__system/submissionDate ge 2025-09-01T03:03:04.5004Z", ["s2", "s4"]),
    ("__system/submissionDate eq 2025-09-01T03:03:04.5004Z", []),
    ("__system/submissionDate gt __system/updatedAt", []),
    ("__system/updatedAt gt __system/submissionDate", ["s1", "s2"]),
    ("__system/updatedAt eq __system/updatedAt", ["s0", "s1", "s2", "s4"]),
    ("month(__system/submissionDate) eq 10 or month(__system/submissionDate) eq 12", ["s2", "s4"]),
    ("day($root/Submissions/__system/submissionDate) eq 1", ["s0", "s1"]),
    ("hour(__system/submissionDate) ge 3 and minute(__system/submissionDate) eq 3 and second(__system/submissionDate) eq 4",
     ["s1", "s2", "s4"]),
    ("year(__system/updatedAt) eq 2025", ["s1", "s2"]),
    ("__system/submissionDate lt now() and year(now()) ge 2025", ["s0", "s1", "s2", "s4"]),
    ("__system/deletedAt ne null", ["s3"]),
    ("__system/deletedAt eq null or __system/deletedAt ne null", ["s0", "s1", "s2", "s3", "s4"]),
    ("year(__system/deletedAt) eq 2025", ["s3"]),
    ("3 eq 3", ["s0", "s1", "s2", "s4"]),
    ("3 eq 5", []),
    ("'a' lt 'b' and 2.5 gt 2", ["s0", "s1", "s2", "s4"]),
    ("null eq null", ["s0", "s1", "s2", "s4"]),
    ("1 eq null", []),
    ("((__id eq 's0'))", ["s0"]),
    ("__id eq 'it''s'", []),
])
def test_submission_filter_selects_what_central_would(five, text, expected):
    assert five(text) == expected


def test_submission_filter_on_repeat_tables_needs_the_root_spelling(five):
    from server import problems

    assert five("$root/Submissions/__id eq 's1'", root_only=True) == ["s1"]
    with pytest.raises(problems.ODataFieldUnsupported):
        five("__id eq 's1'", root_only=True)


@pytest.mark.parametrize("text, code, at", [
    ("", 400.18, 0),
    ("   ", 400.18, 0),
    (")", 400.18, 0),
    ("__id eq", 400.18, 7),
    ("__id eq 'unterminated", 400.18, 8),
    ("(__id eq 's1'", 400.18, 13),
    ("__id eq 's1')", 400.18, 12),
    ("__id eq 's1' and", 400.18, 16),
    ("year() eq 2020", 400.18, 4),
    ("now(1) eq 2020", 400.18, 3),
    ("__id eq 2026-13-01", 400.18, 8),
    ("__id eqq 's1'", 400.18, 4),
    ("__id == 's1'", 400.18, 4),
    ("__id eq 's1' ; drop table submissions", 400.18, 12),
    ("__system/status eq null", 501.5, 0),
    ("meta/instanceID eq 's1'", 501.5, 0),
    ("contains(__id, 's')", 501.4, 0),
    ("__system/submitterId mul 2 eq 4", 501.4, 0),
    ("__system/submitterId eq 'abc'", 400.18, None),
    ("__system/reviewState and true", 400.18, None),
    ("year(__id) eq 2020", 400.18, None),
])
def test_submission_filter_errors(text, code, at):
    from server import problems
    from server.odata.filter import submission_filter

    with pytest.raises(problems.Problem) as caught:
        submission_filter(text)
    assert caught.value.code == str(code)
    if at is not None:
        assert f" at {at}" in caught.value.message


def test_orderby_and_filter_compile_for_both_databases():
    from sqlalchemy.dialects import postgresql, sqlite

    from server.odata.filter import order_clause, order_spec, submission_filter

    clause = submission_filter("year(__system/submissionDate) eq 2026 and __system/reviewState ne 'rejected'")
    assert "EXTRACT(YEAR FROM (submissions.created_at) AT TIME ZONE 'UTC')" in str(
        clause.compile(dialect=postgresql.dialect()))
    assert "STRFTIME('%Y', submissions.created_at)" in str(clause.compile(dialect=sqlite.dialect()))
    # As the OData reader orders rows: Central's nulls rule on the asked columns, none on the tie-break id.
    spec = order_spec("__system/updatedAt DESC, __id")
    order = [str(order_clause(c, d, nulls).compile(dialect=postgresql.dialect()))
             for (c, d), nulls in zip(spec, (True, True, False))]
    assert order == ["submissions.updated_at DESC NULLS LAST", "submissions.instance_id ASC NULLS FIRST",
                     "submissions.id DESC"]


# --- pyodk ------------------------------------------------------------------------------------------



def test_pyodk_get_table_reads_what_the_api_serves(odk, admin, project, roster):
    table = odk.submissions.get_table(form_id="roster")
    assert table == get(admin, f"{roster}.svc/Submissions") | {"@odata.context": table["@odata.context"]}
    assert [r["__id"] for r in table["value"]] == ["rthree", "rtwo", "rone"]
    page = odk.submissions.get_table(form_id="roster", top=1, skip=1, count=True)
    assert [r["__id"] for r in page["value"]] == ["rtwo"] and page["@odata.count"] == 3
    assert skiptoken(page["@odata.nextLink"]) == {"instanceId": "rtwo"}
    assert [r["__id"] for r in odk.submissions.get_table(
        form_id="roster", filter="__system/submissionDate lt now() and __id ne 'rtwo'")["value"]] == ["rthree", "rone"]
    expanded = odk.submissions.get_table(form_id="roster", expand="*", filter="__id eq 'rtwo'")
    assert [c["__id"] for c in expanded["value"][0]["children"]["child"]] == [
        "52eff9ea82550183880b9d64c20487642fa6e60c", "1291953ccbe2e5e866f7ab3fefa3036d649186d3"]
    kids = odk.submissions.get_table(form_id="roster", table_name="Submissions.children.child", top=2, count=True)
    assert [k["name"] for k in kids["value"]] == ["Candace", "Billy"] and kids["@odata.count"] == 3
    geo = odk.submissions.get_table(form_id="roster", wkt=True, select="__id,age")
    assert geo["value"] == [{"age": 38, "__id": "rthree"}, {"age": 34, "__id": "rtwo"}, {"age": 30, "__id": "rone"}]


def test_pyodk_on_the_household_survey_with_vietnamese_in_nfc_and_nfd(odk, admin, project):
    from server.synthetic import random_household, to_xml

    form_id = odk.forms.create(definition=XLSFORMS / "household_digital_survey.xlsx").xmlFormId
    rng = random.Random(11)
    sent = {}
    for i in range(6):
        h = random_household(rng, "DN-HV-HP-01", members=3)
        h.members[0].name = unicodedata.normalize("NFD" if i % 2 else "NFC", h.members[0].name + " Ánh Tuyết")
        sent[h.instance_id] = h
        odk.submissions.create(xml=to_xml(h).decode("utf-8"), form_id=form_id)
    first = odk.submissions.get_table(form_id=form_id, top=4, count=True)
    rest = odk.submissions.get_table(form_id=form_id, skip=4)
    assert first["@odata.count"] == 6 and len(first["value"]) == 4 and len(rest["value"]) == 2
    for row in first["value"] + rest["value"]:
        h = sent[row["__id"]]
        assert row["household"]["household_size"] == 3
        assert [m["member_name"] for m in row["household"].get("members", [])] == []  # not expanded
        assert row["household"]["members@odata.navigationLink"].endswith("/household/members")
    people = odk.submissions.get_table(form_id=form_id, table_name="Submissions.household.members")["value"]
    assert len(people) == 18
    names = {p["member_name"] for p in people}
    for h in sent.values():
        assert h.members[0].name in names  # NFC stays NFC, NFD stays NFD
    expanded = odk.submissions.get_table(form_id=form_id, expand="*", top=1)["value"][0]
    assert [m["member_name"] for m in expanded["household"]["members"]] == [
        m.name for m in sent[expanded["__id"]].members]
    assert isinstance(expanded["location"]["gps"], dict) and expanded["location"]["gps"]["type"] == "Point"


def test_page_is_callable_without_a_request(app, admin, roster):
    """server.odata.rows.page(): what benchmarks and other code call for one OData page."""
    from sqlalchemy import select

    from server.models.forms import Form
    from server.odata.rows import page

    with app.extensions["hamlet.sessionmaker"]() as s:
        form = s.scalars(select(Form).where(Form.xml_form_id == "roster")).one()
        doc = page(s, form, "Submissions.children.child", {"$top": "2", "$select": "name", "$count": "true"},
                   cache=app.extensions["hamlet.cache"], service_root="https://hamlet.example.vn/x.svc")
        assert doc["value"] == [{"name": "Candace"}, {"name": "Billy"}] and doc["@odata.count"] == 3
        assert doc["@odata.context"] == "https://hamlet.example.vn/x.svc/$metadata#Submissions.children.child"
        assert doc["@odata.nextLink"].startswith("https://hamlet.example.vn/x.svc/Submissions.children.child"
                                                 "?%24top=2&%24count=true&%24select=name&%24skiptoken=01")
        options = {k: v[0] for k, v in parse_qs(urlsplit(doc["@odata.nextLink"]).query).items()}
        rest = page(s, form, "Submissions.children.child", options)  # no cache: read afresh
        assert rest["value"] == [{"name": "Blaine"}] and "@odata.nextLink" not in rest
    assert get(admin, f"{roster}.svc/Submissions.children.child?$select=name")["value"] == [
        {"name": "Candace"}, {"name": "Billy"}, {"name": "Blaine"}]
