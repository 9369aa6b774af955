"""An Entity List's OData service (`…/datasets/{name}.svc`), as Central serves it and pyodk's
`entities.get_table()` and `merge()` read it (central-backend test/integration/api/odata-entities.js)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from entity_forms import HH, published, registration

FIRST = "12345678-1234-4123-8234-000000000001"


def _uuid(n: int) -> str:
    return f"12345678-1234-4123-8234-{n:012d}"


@pytest.fixture
def svc(admin, project) -> str:
    """Five households made one after another (1 oldest), the third then updated twice."""
    published(admin, project, registration())
    base = f"/v1/projects/{project}/datasets/{HH}"
    for n in range(1, 6):
        resp = admin.post(f"{base}/entities", json_body={"uuid": _uuid(n), "label": f"Hộ {n}",
                                                         "data": {"head_name": f"Chủ hộ {n}", "village": f"Thôn {n % 2}"}})
        assert resp.status_code == 200, resp.get_json()
    admin.patch(f"{base}/entities/{_uuid(3)}?baseVersion=1", {"data": {"members": "5"}})
    admin.patch(f"{base}/entities/{_uuid(3)}?baseVersion=2", {"data": {"members": "6"}})
    return f"{base}.svc"


def test_the_service_document_names_one_entity_set(admin, svc):
    resp = admin.get(svc)
    assert resp.status_code == 200 and resp.headers["OData-Version"] == "4.0"
    body = resp.get_json()
    assert body["@odata.context"].endswith(f"{svc}/$metadata")
    assert body["value"] == [{"name": "Entities", "kind": "EntitySet", "url": "Entities"}]


def test_metadata_declares_system_fields_label_and_properties(admin, svc):
    resp = admin.get(f"{svc}/$metadata")
    assert resp.status_code == 200 and resp.content_type.startswith("application/xml")
    text = resp.get_data(as_text=True)
    assert '<ComplexType Name="metadata">' in text and 'Namespace="org.opendatakit.entity"' in text
    for name in ("__id", "label", "head_name", "village", "members"):
        assert f'<Property Name="{name}" Type="Edm.String"/>' in text
    assert f'<EntitySet Name="Entities" EntityType="org.opendatakit.user.{HH}.Entities">' in text


def test_rows_carry_id_label_system_and_every_property_newest_first(admin, svc):
    body = admin.get(f"{svc}/Entities").get_json()
    assert [r["__id"] for r in body["value"]] == [_uuid(n) for n in (5, 4, 3, 2, 1)]
    assert body["@odata.context"].endswith(f"{svc}/$metadata#Entities")
    third = body["value"][2]
    assert third["label"] == "Hộ 3" and third["members"] == "6" and third["head_name"] == "Chủ hộ 3"
    assert body["value"][0]["members"] == ""  # unset properties are empty strings, as in Central
    system = third["__system"]
    assert set(system) == {"createdAt", "creatorId", "creatorName", "updates", "updatedAt", "deletedAt", "version",
                           "conflict"}
    assert (system["version"], system["updates"], system["conflict"], system["deletedAt"]) == (3, 2, None, None)
    assert isinstance(system["creatorId"], str) and system["creatorName"]


def test_top_skip_and_count(admin, svc):
    body = admin.get(f"{svc}/Entities?$top=2&$skip=1&$count=true").get_json()
    assert [r["__id"] for r in body["value"]] == [_uuid(4), _uuid(3)]
    assert body["@odata.count"] == 5


def test_next_link_pages_through_the_whole_list_with_a_skiptoken(admin, svc):
    seen, url, pages = [], f"{svc}/Entities?$top=2", 0
    while url:
        body = admin.get(url).get_json()
        seen += [r["__id"] for r in body["value"]]
        link = body.get("@odata.nextLink")
        if link:
            assert "$skiptoken=01" in link and "$skip=" not in link.replace("$skiptoken", "")
            url = urlparse(link)._replace(scheme="", netloc="").geturl()
        else:
            url = None
        pages += 1
    assert seen == [_uuid(n) for n in (5, 4, 3, 2, 1)] and pages == 3


def test_filter_on_system_fields(admin, svc):
    def ids(expr: str) -> list[str]:
        resp = admin.get(f"{svc}/Entities", query_string={"$filter": expr})
        assert resp.status_code == 200, resp.get_json()
        return [r["__id"] for r in resp.get_json()["value"]]

    assert ids("__system/version gt 1") == [_uuid(3)]
    assert ids("__system/updatedAt ne null") == [_uuid(3)]
    assert ids(f"__id eq '{FIRST}'") == [FIRST]
    assert ids("__system/conflict eq null and __system/version eq 1") == [_uuid(n) for n in (5, 4, 2, 1)]
    created = admin.get(f"{svc}/Entities?$top=1&$skip=2").get_json()["value"][0]["__system"]["createdAt"]
    assert ids(f"__system/createdAt le {created}") == [_uuid(n) for n in (3, 2, 1)]
    assert ids("year(__system/createdAt) ge 2000") == [_uuid(n) for n in (5, 4, 3, 2, 1)]


def test_filter_refusals_use_centrals_codes(admin, svc):
    unknown = admin.get(f"{svc}/Entities", query_string={"$filter": "village eq 'Thôn 1'"})
    assert unknown.status_code == 501 and unknown.get_json()["code"] == 501.5
    broken = admin.get(f"{svc}/Entities", query_string={"$filter": "__system/version gt"})
    assert broken.status_code == 400 and broken.get_json()["code"] == 400.18
    assert admin.get(f"{svc}/Entities?$expand=x").get_json()["code"] == 501.6
    assert admin.get(f"{svc}/Entities?$top=-1").status_code == 400


def test_deleted_entities_are_left_out_unless_the_filter_asks_for_them(admin, project, svc):
    admin.delete(f"/v1/projects/{project}/datasets/{HH}/entities/{FIRST}")
    assert FIRST not in [r["__id"] for r in admin.get(f"{svc}/Entities").get_json()["value"]]
    resp = admin.get(f"{svc}/Entities", query_string={"$filter": "__system/deletedAt ne null"})
    rows = resp.get_json()["value"]
    assert [r["__id"] for r in rows] == [FIRST] and rows[0]["__system"]["deletedAt"]


def test_select_chooses_fields_and_refuses_unknown_ones(admin, svc):
    body = admin.get(f"{svc}/Entities?$top=1&$select=__id,label,__system/version,village").get_json()
    assert body["value"] == [{"__id": _uuid(5), "label": "Hộ 5", "__system": {"version": 1}, "village": "Thôn 1"}]
    bad = admin.get(f"{svc}/Entities?$select=nope")
    assert bad.status_code == 400 and bad.get_json()["code"] == 400.23


def test_orderby_sorts_and_pages_with_skip(admin, svc):
    body = admin.get(f"{svc}/Entities?$orderby=__system/version desc,__system/createdAt&$top=2").get_json()
    assert [r["__id"] for r in body["value"]] == [_uuid(3), _uuid(1)]
    assert "$skip=2" in body["@odata.nextLink"]


def test_the_list_must_exist_and_be_readable(admin, app, client, project, svc):
    from helpers import web_user

    assert admin.get(f"/v1/projects/{project}/datasets/nope.svc/Entities").status_code == 404
    stranger, _ = web_user(app, client, "stranger@example.vn")
    assert stranger.get(f"{svc}/Entities").status_code == 403


# --- the real pyodk client ---------------------------------------------------------------------------

def test_pyodk_get_table_reads_the_service(odk, svc):
    pytest.importorskip("pyodk.client")
    table = odk.entities.get_table(entity_list_name=HH, top=2, count=True, filter="__system/version eq 1",
                                   select="__id,label,village")
    assert table["@odata.count"] == 4
    assert table["value"] == [{"__id": _uuid(5), "label": "Hộ 5", "village": "Thôn 1"},
                              {"__id": _uuid(4), "label": "Hộ 4", "village": "Thôn 0"}]
    assert parse_qs(urlparse(table["@odata.nextLink"]).query)["$skiptoken"][0].startswith("01")
    whole = odk.entities.get_table(entity_list_name=HH)
    assert len(whole["value"]) == 5 and "@odata.nextLink" not in whole


def test_pyodk_merge_inserts_updates_and_deletes_by_label(odk, admin, project, svc):
    pytest.importorskip("pyodk.client")
    source = [{"label": "Hộ 1", "village": "Thôn 9"},                  # changed: an update
              {"label": "Hộ 2", "village": "Thôn 0", "head_name": "Chủ hộ 2"},  # same: nothing
              {"label": "Hộ 6", "village": "Thôn 6", "phone": "0905"}]   # new, with a new property
    actions = odk.entities.merge(source, entity_list_name=HH, delete_not_matched=True)
    assert sorted(k[0] for k in actions.to_insert) == ["Hộ 6"]
    assert sorted(k[0] for k in actions.to_update) == ["Hộ 1"]
    assert sorted(k[0] for k in actions.to_delete) == ["Hộ 3", "Hộ 4", "Hộ 5"]
    rows = {r["label"]: r for r in odk.entities.get_table(entity_list_name=HH)["value"]}
    assert set(rows) == {"Hộ 1", "Hộ 2", "Hộ 6"}
    assert rows["Hộ 1"]["village"] == "Thôn 9" and rows["Hộ 1"]["__system"]["version"] == 2
    assert rows["Hộ 2"]["__system"]["version"] == 1
    assert rows["Hộ 6"]["phone"] == "0905"
    listed = admin.get(f"/v1/projects/{project}/datasets/{HH}").get_json()
    assert "phone" in [p["name"] for p in listed["properties"]]
