"""Area limits hold for Entity Lists as they do for submissions (docs/security.md, "Roles and area limits").

The shipped survey registers each household in the `households` list with its village as `area_code`.
A caller limited to the commune of Hòa Phước (HP) reads and changes only HP's households, over REST,
OData, the CSV and GeoJSON files and `households.csv`; any other household is 404, as if it did not
exist; it may not create a household elsewhere, nor change the lists themselves, which every commune
shares. A phone of a team given villages gets only those villages' households, with its own hash."""
from __future__ import annotations

import re
import uuid

import pytest

from collect import COLLECT, submit
from helpers import HP, HP_VILLAGES, XLSFORMS, XLSX, Api, give, table, web_user

FOLLOWUP = XLSFORMS / "household_followup.xlsx"
OUTSIDE_VILLAGE = "DN-TK-TG-02"


@pytest.fixture(autouse=True)
def registered(field) -> None:
    """Every household of `field` in the register, with its village as area_code (the phones that sent
    them registered nothing: the synthetic submissions carry no entity block)."""
    for h in field.households:
        resp = field.admin.post(f"{base(field)}/entities", json_body={
            "label": h.respondent, "data": {"area_code": h.village, "phone": h.phone, "head_name": h.respondent}})
        assert resp.status_code == 200, resp.get_json()


def base(field) -> str:
    return f"/v1/projects/{field.project}/datasets/households"


def register(field) -> dict[str, str]:
    """{entity UUID: area_code} of every live household, as the administrator sees them."""
    resp = field.admin.get(f"{base(field)}/entities.csv")
    assert resp.status_code == 200
    return {row["__id"]: row["area_code"] for row in table(resp.data)}


def split(field) -> tuple[set[str], set[str]]:
    """(HP's households, the others)."""
    every = register(field)
    inside = {u for u, area in every.items() if area in HP_VILLAGES}
    return inside, set(every) - inside


def version_of(field, uuid_: str) -> int:
    return field.admin.get(f"{base(field)}/entities/{uuid_}").get_json()["currentVersion"]["version"]


@pytest.fixture
def followup(field):
    """The shipped follow-up form published, which reads the list as households.csv."""
    resp = field.admin.post(f"/v1/projects/{field.project}/forms?publish=true", data=FOLLOWUP.read_bytes(),
                            content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    return f"/v1/projects/{field.project}/forms/household_followup"


# --- reading ------------------------------------------------------------------------------------------

def test_the_register_as_the_administrator_sees_it_spans_several_communes(field):
    inside, outside = split(field)
    assert len(inside) == 3 and len(outside) == 4


def test_a_limited_viewer_lists_only_its_areas_households(field, viewer):
    inside, _ = split(field)
    listed = viewer.get(f"{base(field)}/entities")
    assert listed.status_code == 200
    assert {e["uuid"] for e in listed.get_json()} == inside
    csv_file = viewer.get(f"{base(field)}/entities.csv")
    assert csv_file.status_code == 200
    rows = table(csv_file.data)
    assert {r["__id"] for r in rows} == inside and {r["area_code"] for r in rows} <= HP_VILLAGES
    creators = viewer.get(f"{base(field)}/entities/creators")
    assert creators.status_code == 200 and [a["displayName"] for a in creators.get_json()] == ["admin@hamlet.test"]
    geo = viewer.get(f"{base(field)}/entities.geojson")
    assert geo.status_code == 200 and geo.get_json()["type"] == "FeatureCollection"


def test_a_limited_viewer_finds_no_household_elsewhere(field, viewer):
    inside, outside = split(field)
    for uuid_ in inside:
        assert viewer.get(f"{base(field)}/entities/{uuid_}").status_code == 200
    for uuid_ in outside:
        for tail in ("", "/versions", "/diffs", "/audits", "/geojson"):
            resp = viewer.get(f"{base(field)}/entities/{uuid_}{tail}")
            assert resp.status_code == 404, (tail, resp.get_json())
            assert "phone" not in resp.get_data(as_text=True)


def test_odata_holds_only_the_callers_households_on_every_page(field, viewer):
    inside, _ = split(field)
    svc = f"{base(field)}.svc/Entities"
    whole = viewer.get(svc, query_string={"$count": "true"}).get_json()
    assert {r["__id"] for r in whole["value"]} == inside and whole["@odata.count"] == 3
    seen, url = [], f"{svc}?$top=2&$count=true"
    while url:
        page = viewer.get(url.replace("http://localhost", "")).get_json()
        assert page["@odata.count"] == 3
        seen += [r["__id"] for r in page["value"]]
        url = page.get("@odata.nextLink")
    assert sorted(seen) == sorted(inside)
    # a filter that would match everything still stays inside the caller's areas
    everything = viewer.get(svc, query_string={"$filter": "__system/version ge 1 or 1 eq 1"}).get_json()
    assert {r["__id"] for r in everything["value"]} == inside


def test_the_entities_csv_is_served_to_everyone_who_may_list_entities(field, wide_viewer):
    for caller in (field.admin, wide_viewer):
        resp = caller.get(f"{base(field)}/entities.csv")
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        rows = table(resp.data)
        assert len(rows) == 7 and rows[0]["label"] and rows[0]["__version"] == "1"


def test_the_deleted_households_listed_are_only_the_callers(field, viewer):
    inside, outside = split(field)
    for uuid_ in (sorted(inside)[0], sorted(outside)[0]):
        assert field.admin.delete(f"{base(field)}/entities/{uuid_}").status_code == 200
    deleted = viewer.get(f"{base(field)}/entities", query_string={"deleted": "true"}).get_json()
    assert [e["uuid"] for e in deleted] == [sorted(inside)[0]]


def test_a_list_without_an_area_property_is_refused_to_limited_callers_saying_why(field, viewer, commune_manager):
    made = field.admin.post(f"/v1/projects/{field.project}/datasets", json_body={"name": "trees"})
    assert made.status_code == 200
    assert field.admin.post(f"/v1/projects/{field.project}/datasets/trees/properties",
                            json_body={"name": "species"}).status_code == 200
    tree = field.admin.post(f"/v1/projects/{field.project}/datasets/trees/entities",
                            json_body={"label": "Cây đa", "data": {"species": "ficus"}}).get_json()["uuid"]
    trees = f"/v1/projects/{field.project}/datasets/trees"
    for caller, method, path, body in [
            (viewer, "get", "/entities", None), (viewer, "get", f"/entities/{tree}", None),
            (viewer, "get", "/entities.csv", None), (viewer, "get", ".svc/Entities", None),
            (commune_manager, "post", "/entities", {"label": "Cây mới", "data": {"species": "x"}}),
            (commune_manager, "patch", f"/entities/{tree}?force=true", {"label": "Đổi"}),
            (commune_manager, "delete", f"/entities/{tree}", None)]:
        call = getattr(caller, method)
        resp = call(trees + path, body) if body is not None else call(trees + path)
        assert resp.status_code == 403, (method, path)
        problem = resp.get_json()
        assert problem["code"] == 403.91 and problem["details"]["areas"] == [HP]
        assert "no property holding a household's area" in problem["message"]
    assert field.admin.get(f"{trees}/entities").get_json()[0]["currentVersion"]["version"] == 1
    assert len(field.admin.get(f"{trees}/entities").get_json()) == 1


# --- writing ------------------------------------------------------------------------------------------

def test_a_limited_manager_cannot_change_or_delete_a_household_elsewhere(field, commune_manager):
    _, outside = split(field)
    other = sorted(outside)[0]
    patched = commune_manager.patch(f"{base(field)}/entities/{other}?force=true", {"label": "chiếm", "data": {}})
    assert patched.status_code == 404
    resolved = commune_manager.patch(f"{base(field)}/entities/{other}?force=true&resolve=true", {})
    assert resolved.status_code == 404
    assert commune_manager.delete(f"{base(field)}/entities/{other}").status_code == 404
    assert version_of(field, other) == 1
    assert other in register(field)


def test_a_limited_manager_changes_its_own_households_but_not_into_another_commune(field, commune_manager):
    inside, _ = split(field)
    mine = sorted(inside)[0]
    moved = commune_manager.patch(f"{base(field)}/entities/{mine}?force=true",
                                  {"data": {"area_code": OUTSIDE_VILLAGE}})
    assert moved.status_code == 403 and moved.get_json()["details"]["areas"]
    assert OUTSIDE_VILLAGE in moved.get_json()["message"]
    assert version_of(field, mine) == 1
    ok = commune_manager.patch(f"{base(field)}/entities/{mine}?force=true", {"data": {"phone": "0905111222"}})
    assert ok.status_code == 200 and ok.get_json()["currentVersion"]["version"] == 2
    assert commune_manager.delete(f"{base(field)}/entities/{mine}").status_code == 200


def test_a_limited_manager_creates_households_only_in_its_areas(field, commune_manager):
    before = register(field)
    path = f"{base(field)}/entities"
    elsewhere = commune_manager.post(path, json_body={"label": "fake", "data": {"area_code": OUTSIDE_VILLAGE}})
    assert elsewhere.status_code == 403
    assert elsewhere.get_json()["details"]["areas"] and OUTSIDE_VILLAGE in elsewhere.get_json()["message"]
    nowhere = commune_manager.post(path, json_body={"label": "fake", "data": {"phone": "1"}})
    assert nowhere.status_code == 403 and "no area_code" in nowhere.get_json()["message"]
    bulk = commune_manager.post(path, json_body={"source": {"name": "list.csv"}, "entities": [
        {"label": "ours", "data": {"area_code": "DN-HV-HP-02"}},
        {"label": "theirs", "data": {"area_code": OUTSIDE_VILLAGE}}]})
    assert bulk.status_code == 403
    assert register(field) == before  # nothing stored, not even the bulk's first entity
    ours = commune_manager.post(path, json_body={"label": "Hộ mới", "data": {"area_code": "DN-HV-HP-02"}})
    assert ours.status_code == 200
    assert register(field)[ours.get_json()["uuid"]] == "DN-HV-HP-02"
    assert commune_manager.post(path, json_body={"source": {"name": "l.csv"}, "entities": [
        {"label": "a", "data": {"area_code": "DN-HV-HP-01"}}]}).status_code == 200


def test_bulk_delete_and_restore_skip_households_elsewhere(field, commune_manager):
    inside, outside = split(field)
    mine, other = sorted(inside)[0], sorted(outside)[0]
    resp = commune_manager.post(f"{base(field)}/entities/bulk-delete", json_body={"ids": [mine, other]})
    assert resp.get_json() == {"success": True, "count": 1}
    assert other in register(field) and mine not in register(field)
    assert field.admin.delete(f"{base(field)}/entities/{other}").status_code == 200
    assert commune_manager.post(f"{base(field)}/entities/{other}/restore").status_code == 404
    resp = commune_manager.post(f"{base(field)}/entities/bulk-restore", json_body={"ids": [mine, other]})
    assert resp.get_json() == {"success": True, "count": 1}
    assert mine in register(field) and other not in register(field)


def test_what_every_commune_shares_is_refused_to_a_limited_manager(field, commune_manager, followup):
    project = f"/v1/projects/{field.project}"
    attempts = [
        commune_manager.post(f"{project}/datasets", json_body={"name": "khac"}),
        commune_manager.patch(f"{project}/datasets/households", {"ownerOnly": True}),
        commune_manager.post(f"{project}/datasets/households/properties", json_body={"name": "extra"}),
    ]
    assert field.admin.post(f"{followup}/draft").status_code == 200
    attempts.append(commune_manager.patch(f"{followup}/draft/attachments/households.csv", {"dataset": False}))
    for resp in attempts:
        assert resp.status_code == 403
        assert resp.get_json()["details"]["areas"] == [HP]
    listed = field.admin.get(f"{project}/datasets/households").get_json()
    assert listed["ownerOnly"] is False and "extra" not in [p["name"] for p in listed["properties"]]
    assert [d["name"] for d in field.admin.get(f"{project}/datasets").get_json()] == ["households"]
    verbs = commune_manager.get(f"{project}", headers={"X-Extended-Metadata": "true"}).get_json()["verbs"]
    assert "entity.update" in verbs and not {"dataset.create", "dataset.update"} & set(verbs)


# --- households.csv for Collect -----------------------------------------------------------------------

def collect_register(client, base_url: str, headers: dict | None = None) -> tuple[str, list[dict]]:
    """(the manifest's hash of households.csv, its rows) as Collect fetches them."""
    manifest = client.get(f"{base_url}/forms/household_followup/manifest",
                          headers={**COLLECT, **(headers or {})}).get_data(as_text=True).replace("\n", "")
    found = re.search(r"<filename>households.csv</filename><hash>md5:(\w+)</hash>"
                      r"<downloadUrl>http://localhost(.*?)</downloadUrl>", manifest)
    assert found, manifest
    resp = client.get(found.group(2), headers={**COLLECT, **(headers or {})})
    assert resp.status_code == 200
    assert resp.headers["ETag"].strip('"') == found.group(1)
    return found.group(1), table(resp.data)


def test_a_limited_data_collector_gets_only_its_villages_households_with_its_own_hash(app, client, field, followup):
    collector, actor_id = web_user(app, client, "thu@example.vn")
    give(field.admin, field.project, "formfill", actor_id, [HP])
    inside, outside = split(field)
    auth = {"Authorization": f"Bearer {collector.token}"}
    admins = {"Authorization": f"Bearer {field.admin.token}"}
    project = f"/v1/projects/{field.project}"
    mine_hash, rows = collect_register(client, project, auth)
    assert {r["name"] for r in rows} == inside
    whole_hash, whole = collect_register(client, project, admins)
    assert len(whole) == 7 and whole_hash != mine_hash
    # a change elsewhere leaves its list (and hash) alone; one of its households changes both
    other, mine = sorted(outside)[0], sorted(inside)[0]
    field.admin.patch(f"{base(field)}/entities/{other}?force=true", {"data": {"phone": "0"}})
    assert collect_register(client, project, auth)[0] == mine_hash
    assert collect_register(client, project, admins)[0] != whole_hash
    field.admin.patch(f"{base(field)}/entities/{mine}?force=true", {"data": {"phone": "1"}})
    assert collect_register(client, project, auth)[0] != mine_hash
    # Collect's integrity check never tells it about a household elsewhere
    resp = client.get(f"{base(field)}/integrity?id={mine},{other}", headers={**COLLECT, **auth})
    text = resp.get_data(as_text=True)
    assert f'<entity id="{mine}"><deleted>false</deleted>' in text
    assert f'<entity id="{other}"><deleted>true</deleted>' in text


def test_an_app_user_given_villages_gets_only_their_households(client, field, followup):
    project = f"/v1/projects/{field.project}"
    teams = []
    for name, areas in (("Tổ Quá Giáng 1", ["DN-HV-HP-01"]), ("Tổ cả xã", None)):
        au = field.admin.post(f"{project}/app-users", json_body={"displayName": name}).get_json()
        if areas:
            resp = field.admin.put(f"{project}/assignments/{au['id']}/areas", {"areas": areas})
            assert resp.status_code == 200 and resp.get_json()["areas"] == areas
        assert field.admin.post(f"{followup}/assignments/app-user/{au['id']}").status_code == 200
        teams.append(f"/v1/key/{au['token']}/projects/{field.project}")
    village_hash, village = collect_register(client, teams[0])
    every_hash, every = collect_register(client, teams[1])
    assert {r["area_code"] for r in village} == {"DN-HV-HP-01"} and len(village) == 2
    assert len(every) == 7 and village_hash != every_hash


# --- intake -------------------------------------------------------------------------------------------

def followup_visit(form_version: str, entity_id: str, base_version: int) -> bytes:
    """A follow-up visit's submission updating the household's last visit (the rest as Collect computes it)."""
    return (f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
            f'id="household_followup" version="{form_version}"><where><household>{entity_id}</household></where>'
            f"<s_last_visit>2026-12-05</s_last_visit><meta>"
            f'<entity dataset="households" update="1" baseVersion="{base_version}" id="{entity_id}"/>'
            f"<instanceID>uuid:{uuid.uuid4()}</instanceID></meta></data>").encode()


def test_a_limited_collector_submits_anywhere_but_updates_only_its_households(app, client, field, followup):
    collector, actor_id = web_user(app, client, "thu@example.vn")
    give(field.admin, field.project, "formfill", actor_id, [HP])
    version = field.admin.get(followup).get_json()["version"]
    inside, outside = split(field)
    other, mine = sorted(outside)[0], sorted(inside)[0]
    auth = {"Authorization": f"Bearer {collector.token}"}
    project = f"/v1/projects/{field.project}"
    elsewhere = submit(client, project, followup_visit(version, other, 1), headers=auth)
    assert elsewhere.status_code == 201  # the submission itself is kept: submitting is not limited
    assert version_of(field, other) == 1
    [kept] = field.admin.get(f"{followup}/submissions").get_json()
    audits = field.admin.get(f"{followup}/submissions/{kept['instanceId']}/audits").get_json()
    assert [(a["action"], a["details"]["problem"]["problemCode"]) for a in audits] == [("entity.error", 404.8)]
    ours = submit(client, project, followup_visit(version, mine, 1), headers=auth)
    assert ours.status_code == 201
    assert version_of(field, mine) == 2
    got = field.admin.get(f"{base(field)}/entities/{mine}").get_json()["currentVersion"]["data"]
    assert got["last_visit"] == "2026-12-05" and got["area_code"] in HP_VILLAGES


def test_a_submissions_entity_audits_are_404_outside_the_callers_areas(field, viewer):
    survey_rows = field.admin.get(f"{field.survey}/submissions").get_json()
    for sub in survey_rows:
        resp = viewer.get(f"{field.survey}/submissions/{sub['instanceId']}/audits")
        if sub["instanceId"] in field.inside:
            assert resp.status_code == 200 and resp.get_json() == []
        else:
            assert resp.status_code == 404, sub["instanceId"]
    assert viewer.get(f"{field.survey}/submissions/uuid:nothing/audits").status_code == 404


def test_an_unlimited_caller_is_unaffected(field, wide_viewer: Api):
    assert len(wide_viewer.get(f"{base(field)}/entities").get_json()) == 7
    assert wide_viewer.get(f"{base(field)}.svc/Entities", query_string={"$count": "true"}).get_json()[
        "@odata.count"] == 7
