"""The shipped follow-up loop, end to end as Collect drives it: the household survey registers three
households in the `households` Entity List, the follow-up form fetches them as households.csv through
its manifest, one household is followed up (an entity update with its baseVersion), and the indicators
report, coverage and follow-up list count that household's latest state (docs/indicators.md)."""
from __future__ import annotations

import csv
import io
import re
import sys
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from collect import COLLECT, submit
from helpers import AREAS, XLSFORMS, XLSX
from server.synthetic import Household, Member

# The survey's submission as Collect sends it (answers, register calculates, entity) is the benchmarks'.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _bulk_entities import registration_xml

FOLLOWUP = XLSFORMS / "household_followup.xlsx"
TARGETS = XLSFORMS / "household_digital_targets.xlsx"
VILLAGE = "DN-HV-HP-01"
YES_ALL = {"vneid_level2": "yes", "smartphone": "yes", "bank_account": "yes", "ewallets": "momo",
           "public_services_account": "yes", "shopped_online": "yes", "digital_signature": "yes",
           "digital_guidance": "yes"}


def household(n: int, members: list[Member], broadband: str) -> Household:
    return Household(instance_id=f"uuid:{uuid.UUID(int=n, version=4)}", village=VILLAGE, commune="DN-HV-HP",
                     district="DN-HV", province="DN", respondent=members[0].name, phone=f"090500000{n}",
                     members=members, fixed_broadband=broadband, runs_business="no",
                     extra={"enumerator_code": "HP-07", "lat": "16.0", "lon": "108.1", "hh_ecommerce": "yes"})


def followup(entity: dict, got_eid: str, got_bank: str, new_broadband: str) -> bytes:
    """The follow-up form's submission: who now has what, and the entity's new state (every property)."""
    vneid = " ".join(f"{entity['vneid_level2']} {got_eid}".split())
    bank = " ".join(f"{entity['bank_account']} {got_bank}".split())
    broadband = new_broadband or entity["fixed_broadband"]
    carried = {k: entity[k] for k in ("smartphone", "ewallets", "public_services_account", "digital_signature",
                                      "hh_ecommerce", "ecommerce_platforms", "cashless")}
    saved = {"s_vneid": vneid, "s_smartphone": carried["smartphone"], "s_bank": bank, "s_ewallet": carried["ewallets"],
             "s_public_services": carried["public_services_account"], "s_signature": carried["digital_signature"],
             "s_broadband": broadband, "s_hh_ecommerce": carried["hh_ecommerce"],
             "s_platforms": carried["ecommerce_platforms"], "s_cashless": carried["cashless"],
             "s_last_visit": "2026-12-05"}
    body = (f"<start>2026-12-05T08:00:00.000+07:00</start><end>2026-12-05T08:30:00.000+07:00</end>"
            f"<today>2026-12-05</today><deviceid>collect:AbCdEfGh12345678</deviceid><username>tcn</username>"
            f"<where><province>DN</province><district>DN-HV</district><commune>DN-HV-HP</commune>"
            f"<village>{VILLAGE}</village><household>{entity['name']}</household></where>"
            f"<h_label>{escape(entity['label'])}</h_label>"
            f"<visit><enumerator_code>HP-07</enumerator_code><help_given>vneid bank_account internet</help_given></visit>"
            f"<changes><got_eid>{got_eid}</got_eid><got_bank>{got_bank}</got_bank>"
            f"<new_broadband>{new_broadband}</new_broadband><notes/></changes>"
            + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in saved.items()))
    entity_el = (f'<entity dataset="households" update="1" baseVersion="{entity["__version"]}" '
                 f'trunkVersion="{entity.get("__trunkVersion", "")}" branchId="{entity.get("__branchId", "")}" '
                 f'id="{entity["name"]}"/>')
    return (f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
            f'id="household_followup" version="2026120501">{body}'
            f"<meta>{entity_el}<instanceID>uuid:{uuid.uuid4()}</instanceID></meta></data>").encode()


@pytest.fixture
def loop(admin, client, project, survey):
    """Both shipped forms published, the registry and the targets loaded, and a team assigned to both."""
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=FOLLOWUP.read_bytes(), content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    admin.client.put(f"/v1/projects/{project}/areas", data=AREAS.encode(), content_type="text/csv",
                     headers={"Authorization": f"Bearer {admin.token}"})
    resp = admin.client.put(f"{survey}/indicators", data=TARGETS.read_bytes(), content_type=XLSX,
                            headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()
    au = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    for form in ("household_digital_survey", "household_followup"):
        admin.post(f"/v1/projects/{project}/forms/{form}/assignments/app-user/{au['id']}")
    return f"/v1/key/{au['token']}/projects/{project}"


def households_csv(client, key: str) -> list[dict]:
    """households.csv as Collect fetches it: from the follow-up form's manifest, at its downloadUrl."""
    manifest = client.get(f"{key}/forms/household_followup/manifest", headers=COLLECT).get_data(as_text=True)
    assert '<mediaFile type="entityList"><filename>households.csv</filename>' in manifest.replace("\n", "")
    url = re.search(r"<filename>households.csv</filename>.*?<downloadUrl>http://localhost(.*?)</downloadUrl>",
                    manifest.replace("\n", ""), re.S).group(1)
    resp = client.get(url, headers=COLLECT)
    assert resp.status_code == 200
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def village(admin, survey: str, **query) -> dict:
    rep = admin.get(f"{survey}/indicators", query_string={"level": "village", "area": VILLAGE, **query}).get_json()
    [area] = rep["areas"]
    return {i["name"]: (i["numerator"], i["denominator"]) for i in area["indicators"]} | {"households": area["households"]}


def test_a_follow_up_visit_changes_the_households_latest_state_everywhere(admin, client, project, survey, loop,
                                                                         monkeypatch):
    lan = Member("Nguyễn Thị Lan", "female", 44, "head", dict(YES_ALL))
    minh = Member("Trần Văn Minh", "male", 19, "child",
                  {**YES_ALL, "vneid_level2": "no", "bank_account": "no", "ewallets": "none"})
    hoa = Member("Lê Thị Hòa", "female", 63, "head", dict(YES_ALL))
    tam = Member("Phạm Văn Tâm", "male", 35, "head", dict(YES_ALL))
    made = [(household(1, [lan, minh], "none"), str(uuid.uuid4())),
            (household(2, [hoa], "fibre"), str(uuid.uuid4())),
            (household(3, [tam], "fibre"), str(uuid.uuid4()))]
    for h, entity_id in made:
        resp = submit(client, loop, registration_xml(h, entity_id))
        assert resp.status_code == 201, resp.data

    register = households_csv(client, loop)
    assert len(register) == 3
    lans = next(r for r in register if r["name"] == made[0][1])
    assert (lans["area_code"], lans["head_name"], lans["phone"]) == (VILLAGE, "Nguyễn Thị Lan", "0905000001")
    assert (lans["vneid_level2"], lans["bank_account"], lans["ewallets"], lans["aged_14"]) == ("1", "1", "1", "1 2")
    assert lans["__version"] == "1" and lans["fixed_broadband"] == "none"

    before = village(admin, survey)
    assert before["households"] == 3
    assert before["resident_eid"] == (3, 4) and before["adult_bank_or_ewallet"] == (3, 4)
    assert before["hh_broadband"] == (2, 3)
    to_visit = admin.get(f"{survey}/follow-up", query_string={"indicator": "resident_eid", "area": VILLAGE}).get_json()
    assert [(h["instanceId"], h["people"]) for h in to_visit["households"]] == [(made[0][0].instance_id, ["Trần Văn Minh"])]
    coverage = admin.get(f"{survey}/coverage", query_string={"level": "village", "area": VILLAGE}).get_json()
    assert coverage["areas"][0]["households"] == 3

    # Minh got his VNeID and a bank account on the visit, and the house got fibre.
    from server.indicators import contributions as store

    computed: list[int] = []
    original = store._compute
    monkeypatch.setattr(store, "_compute", lambda *args: computed.append(len(args[3])) or original(*args))
    resp = submit(client, loop, followup(lans, got_eid="2", got_bank="2", new_broadband="fibre"))
    assert resp.status_code == 201, resp.data
    entity = admin.get(f"/v1/projects/{project}/datasets/households/entities/{made[0][1]}").get_json()
    assert entity["currentVersion"]["version"] == 2 and entity["conflict"] is None
    assert entity["currentVersion"]["data"]["vneid_level2"] == "1 2"
    assert next(r for r in households_csv(client, loop) if r["name"] == made[0][1])["__version"] == "2"

    after = village(admin, survey)
    assert after["resident_eid"] == (4, 4) and after["adult_bank_or_ewallet"] == (4, 4)
    assert after["hh_broadband"] == (3, 3) and after["hh_fibre"] == (3, 3)
    assert computed == [1]               # only the household followed up is computed again
    assert after["households"] == 3      # a follow-up is a visit to a household already counted, not a new one
    for indicator in ("resident_eid", "adult_bank_or_ewallet", "hh_broadband"):
        left = admin.get(f"{survey}/follow-up", query_string={"indicator": indicator, "area": VILLAGE}).get_json()
        assert left["households"] == [], indicator
    coverage = admin.get(f"{survey}/coverage", query_string={"level": "village", "area": VILLAGE}).get_json()
    assert coverage["areas"][0]["households"] == 3
    # The commune's figure rises with its village's (roll-ups are sums).
    commune = admin.get(f"{survey}/indicators", query_string={"level": "commune", "area": "DN-HV-HP"}).get_json()
    [area] = commune["areas"]
    assert next(i for i in area["indicators"] if i["name"] == "resident_eid")["numerator"] == 4


def test_an_edit_of_the_survey_after_a_follow_up_keeps_the_follow_ups_gains(admin, client, project, survey, loop):
    """The rule's order: the survey's answers first, the entity's latest updates over them."""
    minh = Member("Trần Văn Minh", "male", 19, "head", {**YES_ALL, "vneid_level2": "no"})
    h, entity_id = household(7, [minh], "fibre"), str(uuid.uuid4())
    assert submit(client, loop, registration_xml(h, entity_id)).status_code == 201
    assert village(admin, survey)["resident_eid"] == (0, 1)
    [row] = households_csv(client, loop)
    assert submit(client, loop, followup(row, got_eid="1", got_bank="", new_broadband="")).status_code == 201
    assert village(admin, survey)["resident_eid"] == (1, 1)
    # The household's phone is corrected in the survey: its roster answers stay overridden by the entity.
    edited = registration_xml(h, entity_id).replace(b"<phone>0905000007</phone>", b"<phone>0905000077</phone>")
    edited = edited.replace(f"<instanceID>{h.instance_id}</instanceID>".encode(),
                            f"<instanceID>uuid:{uuid.uuid4()}</instanceID><deprecatedID>{h.instance_id}"
                            "</deprecatedID>".encode())
    assert submit(client, loop, edited).status_code == 201
    assert village(admin, survey)["resident_eid"] == (1, 1)
