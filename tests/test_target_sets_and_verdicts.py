"""Which target set judges an area, and what may honestly be said of it (docs/indicators.md#which-target-set,
#verdicts): the shipped sets placed as survey-spec.md §4 places them, picked by area and level in
`GET …/indicators`; "insufficient_data" on a few households, "uncertain" when the 95% interval holds the
target; the targets sheet's `areas` checked against the registry with sheet, row and column."""
from __future__ import annotations

import io
import random

import pytest
from openpyxl import load_workbook

from collect import submit
from helpers import XLSFORMS, XLSX
from server.indicators.report import verdict, wilson
from server.synthetic import random_household, to_xml

SHIPPED = XLSFORMS / "household_digital_targets.xlsx"


def put_registry(admin, project: int, data: bytes) -> None:
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=data, content_type="text/csv",
                            headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()


def put_workbook(admin, survey: str, data: bytes):
    return admin.client.put(f"{survey}/indicators", data=data, content_type=XLSX, headers=admin._headers())


def send(client, key_base: str, village: str, n: int, seed: int, ecommerce: int | None = None) -> None:
    """`n` households in `village`; the first `ecommerce` of them with an e-commerce account, the rest without."""
    rng = random.Random(seed)
    for i in range(n):
        h = random_household(rng, village)
        if ecommerce is not None:
            h.extra["hh_ecommerce"] = "yes" if i < ecommerce else "no"
        resp = submit(client, key_base, to_xml(h))
        assert resp.status_code == 201, resp.data


def entries(admin, survey: str, query: str) -> dict[str, dict]:
    resp = admin.get(f"{survey}/indicators?{query}")
    assert resp.status_code == 200, resp.get_json()
    return {a["code"]: a for a in resp.get_json()["areas"]}


def indicator(entry: dict, name: str) -> dict:
    return next(i for i in entry["indicators"] if i["name"] == name)


# --- the rule, alone -----------------------------------------------------------------------------------

def test_the_verdict_rule():
    # 16 of 25 (64%): its 95% interval, 44.5–79.8%, holds a 50% target — uncertain, though 64 ≥ 50.
    low, high = wilson(16, 25)
    assert (round(low, 1), round(high, 1)) == (44.5, 79.8)
    assert verdict(64.0, low, high, ">=", 50, low_coverage=False) == "uncertain"
    # The same figure when every expected household was visited is a count, not an estimate.
    assert verdict(64.0, low, high, ">=", 50, low_coverage=False, census=True) == "met"
    # Clear of the target either way: a verdict.
    assert verdict(64.0, low, high, ">=", 40, low_coverage=False) == "met"
    assert verdict(64.0, low, high, ">=", 90, low_coverage=False) == "not_met"
    assert verdict(64.0, low, high, "<", 90, low_coverage=False) == "met"
    # Below the low-coverage threshold, or nobody in the denominator: no verdict at all.
    assert verdict(10.0, 1.8, 40.4, ">=", 100, low_coverage=True) == "insufficient_data"
    assert verdict(None, None, None, ">=", 50, low_coverage=False) == "insufficient_data"
    # A 100% target is never straddled (the interval of a value below it ends below it).
    low, high = wilson(24, 25)
    assert high < 100 and verdict(96.0, low, high, ">=", 100, low_coverage=False) == "not_met"


# --- applicability by area and level, over the API ------------------------------------------------------

@pytest.fixture
def sample(admin, client, project, survey, key_base):
    """The sample registry, the shipped workbook, and a few households in each of four places."""
    put_registry(admin, project, (XLSFORMS / "areas.csv").read_bytes())
    resp = put_workbook(admin, survey, SHIPPED.read_bytes())
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["targetSetsApplyingNowhere"] == []
    for seed, village in enumerate(["DN-TK-TG-01", "DN-TK-TT-01", "DN-HV-HP-03", "BD-TU-UH-01", "DL-KP-EK-01",
                                    "QN-HL-BC-01"]):
        send(client, key_base, village, 3, seed)
    return survey


@pytest.mark.parametrize("level, expected", [
    # Villages: a ward's residential areas by its own standard, Tân Uyên's hamlets by theirs; no village
    # standard for Hòa Phước, Ea Kênh or Quảng Ninh.
    ("village", {"DN-TK-TG-01": "thac_gian_kdc", "DN-TK-TG-04": "thac_gian_kdc", "BD-TU-UH-01": "tan_uyen_2025",
                 "BD-TU-TPK-02": "tan_uyen_2025", "DN-HV-HP-03": None, "DN-TK-TT-01": None, "DL-KP-EK-01": None,
                 "QN-HL-BC-01": None}),
    # Communes: Tam Thuận by its own set before Đà Nẵng's; every other commune of Đà Nẵng by the city's.
    ("commune", {"DN-TK-TT": "tam_thuan_2025", "DN-TK-TG": "da_nang_2023", "DN-HV-HP": "da_nang_2023",
                 "DN-LC-HHB": "da_nang_2023", "DL-KP-EK": None, "BD-TU-UH": None, "QN-HL-BC": None}),
    ("district", {"DL-KP": "krong_pac_2025", "DN-TK": None, "BD-TU": None}),
    ("province", {"DN": None, "DL": None}),
])
def test_each_area_is_judged_by_the_set_for_it_and_its_level(admin, sample, level, expected):
    by = entries(admin, sample, f"level={level}")
    names = [i["name"] for i in next(iter(by.values()))["indicators"]]
    for code, target_set in expected.items():
        entry = by[code]
        assert entry["targetSet"] == target_set, code
        # Every indicator is listed whatever the set, so that areas judged by different sets share columns.
        assert [i["name"] for i in entry["indicators"]] == names
        judged = [i for i in entry["indicators"] if i["criterion"] is not None]
        if target_set is None:
            assert not judged and entry["verdict"] is None and entry["criteria"] == 0
        else:
            definition = admin.get(f"{sample}/indicators/definition").get_json()
            criteria = [c for c in definition["criteria"] if c["target_set"] == target_set and c["level"] == level]
            assert sorted(i["criterion"] for i in judged) == sorted(c["criterion"] for c in criteria)
            assert entry["criteria"] == len(criteria)
            assert entry["criteriaMet"] == sum(i["verdict"] == "met" for i in judged)


def test_a_named_set_or_none_still_applies_to_every_area(admin, sample):
    for code, entry in entries(admin, sample, "level=commune&targetSet=da_nang_2023").items():
        assert entry["targetSet"] == "da_nang_2023" and entry["criteria"] == 5, code
        assert [i["name"] for i in entry["indicators"]] == ["adult_smartphone", "hh_fibre", "adult_bank_or_ewallet",
                                                            "adult_eid", "adult_digital_signature"]
    for code, entry in entries(admin, sample, "level=commune&targetSet=").items():
        assert entry["targetSet"] is None and entry["verdict"] is None, code
        assert all(i["verdict"] is None and i["target"] is None for i in entry["indicators"])


def test_the_csv_says_which_set_judged_each_area(admin, sample):
    body = admin.get(f"{sample}/indicators.csv?level=commune&area=DN-TK").data.decode()
    header, *rows = [line.split(",") for line in body.splitlines()]
    assert header[-2:] == ["target_set", "verdict"]
    sets = {r[0]: r[-2] for r in rows}
    assert sets == {"DN-TK-TG": "da_nang_2023", "DN-TK-TC": "da_nang_2023", "DN-TK-TT": "tam_thuan_2025"}


# --- the two cases, end to end ---------------------------------------------------------------------

def test_ten_households_of_690_give_no_verdict(admin, client, project, survey, key_base):
    """Thôn Giáng Nam 1 (690 households expected) with 10 visited: 1.4% coverage, so every criterion of
    the Thạc Gián standard is "insufficient_data" — never "not_met" — whatever its percentages say."""
    put_registry(admin, project, (XLSFORMS / "areas.csv").read_bytes())
    assert put_workbook(admin, survey, SHIPPED.read_bytes()).status_code == 200
    send(client, key_base, "DN-HV-HP-03", 10, seed=7)
    village = entries(admin, survey, "level=village&area=DN-HV-HP-03&targetSet=thac_gian_kdc")["DN-HV-HP-03"]
    assert (village["households"], village["expectedHouseholds"], village["lowCoverage"]) == (10, 690, True)
    judged = [i for i in village["indicators"] if i["criterion"]]
    assert len(judged) == 5 and {i["verdict"] for i in judged} == {"insufficient_data"}
    assert any(i["met"] is False for i in judged)      # what the old field says, kept for compatibility
    assert (village["verdict"], village["criteria"], village["criteriaMet"]) == ("insufficient_data", 5, 0)
    # With the threshold lowered below its coverage, the same figures get verdicts again.
    village = entries(admin, survey, "level=village&area=DN-HV-HP-03&targetSet=thac_gian_kdc&lowCoverage=1")[
        "DN-HV-HP-03"]
    assert "insufficient_data" not in {i["verdict"] for i in village["indicators"] if i["denominator"]}


TAM_THUAN = """code,name,level,parent,expected_households
DN,Thành phố Đà Nẵng,province,,
DN-TK,Quận Thanh Khê,district,DN,
DN-TK-TT,Phường Tam Thuận,commune,DN-TK,
DN-TK-TT-01,Tổ dân phố 3,village,DN-TK-TT,30
"""


def test_an_interval_around_the_target_is_uncertain(admin, client, project, survey, key_base):
    """16 of 25 households with an e-commerce account: 64%, interval 44.5–79.8%, against Tam Thuận's
    ≥ 50% — "uncertain", not "met"; and the ward is not said to achieve its standard."""
    put_registry(admin, project, TAM_THUAN.encode())
    resp = put_workbook(admin, survey, SHIPPED.read_bytes())
    assert resp.status_code == 200, resp.get_json()
    # Sets for places outside this registry load, and the upload says they apply nowhere here.
    assert resp.get_json()["targetSetsApplyingNowhere"] == ["thac_gian_kdc", "tan_uyen_2025", "krong_pac_2025"]
    send(client, key_base, "DN-TK-TT-01", 25, seed=3, ecommerce=16)
    ward = entries(admin, survey, "level=commune")["DN-TK-TT"]
    assert ward["targetSet"] == "tam_thuan_2025" and ward["lowCoverage"] is False     # 25 of 30
    account = indicator(ward, "hh_ecommerce_account")
    assert (account["numerator"], account["denominator"], account["value"]) == (16, 25, 64.0)
    assert (account["ciLow"], account["ciHigh"], account["target"]) == (44.52, 79.75, 50.0)
    assert account["met"] is True and account["verdict"] == "uncertain"
    assert ward["verdict"] in ("uncertain", "not_achieved", "insufficient_data") and ward["achieved"] is not None
    assert ward["criteriaMet"] == sum(i["verdict"] == "met" for i in ward["indicators"] if i["criterion"])


# --- the `areas` column, checked like the rest of the workbook ------------------------------------------

def edited(changes: dict[int, str]) -> bytes:
    """The shipped workbook with the `areas` cell of some targets rows (1-based sheet rows) replaced."""
    book = load_workbook(SHIPPED)
    sheet = book["targets"]
    column = [c.value for c in sheet[1]].index("areas") + 1
    for row, value in changes.items():
        sheet.cell(row=row, column=column).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_unknown_area_is_a_mistake_with_its_sheet_row_and_column(admin, project, survey):
    put_registry(admin, project, (XLSFORMS / "areas.csv").read_bytes())
    # Row 3: a typo in the Thạc Gián set; row 13: a code beside a known one in the Đà Nẵng set.
    resp = put_workbook(admin, survey, edited({3: "DN-TK-TGG", 13: "DN; XX-99"}))
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == 400.92
    errors = body["details"]["errors"]
    assert [(e["sheet"], e["row"], e["column"], e["cell"]) for e in errors] == [
        ("targets", 3, "areas", "K3"), ("targets", 13, "areas", "K13")]
    assert errors[0]["message"] == ("Unknown area 'DN-TK-TGG': it is not in this project's area registry; "
                                    "did you mean 'DN-TK-TG'?")
    assert errors[1]["message"].startswith("Unknown area 'XX-99'")
    # Nothing changed: the workbook is still absent.
    assert admin.get(f"{survey}/indicators/definition").status_code == 404


def test_several_areas_in_one_cell_and_none_meaning_everywhere(admin, client, project, survey, key_base):
    put_registry(admin, project, (XLSFORMS / "areas.csv").read_bytes())
    # Krông Pắc's set also for Tân Uyên (rows 18–19), and Tam Thuận's for everywhere (rows 20–22).
    resp = put_workbook(admin, survey, edited({18: "DL-KP, BD-TU", 19: "DL-KP BD-TU", 20: None, 21: None, 22: None}))
    assert resp.status_code == 200, resp.get_json()
    send(client, key_base, "BD-TU-UH-01", 2, seed=1)
    send(client, key_base, "DL-KP-EK-01", 2, seed=2)
    districts = entries(admin, survey, "level=district")
    assert districts["BD-TU"]["targetSet"] == districts["DL-KP"]["targetSet"] == "krong_pac_2025"
    assert districts["DN-TK"]["targetSet"] is None
    communes = entries(admin, survey, "level=commune")
    # Đà Nẵng's own set is nearer than one for everywhere; elsewhere the one for everywhere applies.
    assert communes["DN-TK-TT"]["targetSet"] == "da_nang_2023"
    assert communes["DL-KP-EK"]["targetSet"] == communes["QN-HL-BC"]["targetSet"] == "tam_thuan_2025"
