"""Indicators per area, through the REST API, against numbers worked out by hand.

The fixture is small on purpose so that every figure can be checked with a pencil:

    P        Tỉnh Thử (province)                         expected households: blank → 14 + 8 = 22
    └ P-D    Huyện Một (district)                                             blank → 22
      ├ P-D-A  Xã A (commune, two villages)                                   blank → 10 + 4 = 14
      │ ├ P-D-A-1  Thôn A1                                                    10
      │ └ P-D-A-2  Thôn A2                                                     4
      └ P-D-B  Xã B (commune, one village)                                    8 (given; more than its one village's 5)
        └ P-D-B-1  Thôn B1                                                     5

Indicators (the workbook is built below with openpyxl, area_field `village`):

    hh_fibre       household  filter ${consent} = 'yes'        condition ${fixed_broadband} = 'fibre'
    adult_pay      members    filter ${age} >= 15              condition bank account, or an e-wallet other than 'none'
    biz_ecommerce  household  filter ${runs_business} = 'yes'  condition not(selected(${ecommerce_platforms}, 'none'))

Target sets:

    kdc  village  hh_fibre >= 50, adult_pay > 60;   commune  hh_fibre >= 40
    biz  village  biz_ecommerce ≥ 50 (the glyph), hh_fibre >= 60;   district  adult_pay > 60

Every percentage is numerator / denominator × 100 rounded to 2 decimals; a parent area's numerator
and denominator are the sums of its children's (never an average of their percentages); the 95%
interval is Wilson's, recomputed here from the textbook formula."""
from __future__ import annotations

import csv
import io
import math
import random
import re
import time
from datetime import UTC, datetime
from statistics import NormalDist

import pytest
from openpyxl import Workbook

from collect import submit
from helpers import XLSFORMS, XLSX, indicators_workbook
from server.synthetic import Household, Member, random_household, to_xml

REGISTRY = """code,name,level,parent,expected_households
P,Tỉnh Thử,province,,
P-D,Huyện Một,district,P,
P-D-A,Xã A,commune,P-D,
P-D-A-1,Thôn A1,village,P-D-A,10
P-D-A-2,Thôn A2,village,P-D-A,4
P-D-B,Xã B,commune,P-D,8
P-D-B-1,Thôn B1,village,P-D-B,5
"""
ORDER = ["P", "P-D", "P-D-A", "P-D-A-1", "P-D-A-2", "P-D-B", "P-D-B-1"]   # the registry's order
LEVEL = {"P": "province", "P-D": "district", "P-D-A": "commune", "P-D-B": "commune",
         "P-D-A-1": "village", "P-D-A-2": "village", "P-D-B-1": "village"}
PARENT = {"P": None, "P-D": "P", "P-D-A": "P-D", "P-D-B": "P-D", "P-D-A-1": "P-D-A", "P-D-A-2": "P-D-A",
          "P-D-B-1": "P-D-B"}

PAYS = "${bank_account} = 'yes' or (count-selected(${ewallets}) > 0 and not(selected(${ewallets}, 'none')))"
INDICATORS = [
    # name, vi, en, unit, filter, condition
    ("hh_fibre", "Hộ có cáp quang", "Households with fibre", "household", "${consent} = 'yes'",
     "${fixed_broadband} = 'fibre'"),
    ("adult_pay", "Người 15+ có tài khoản thanh toán", "People 15+ paying digitally", "members", "${age} >= 15", PAYS),
    ("biz_ecommerce", "Hộ kinh doanh bán trực tuyến", "Businesses selling online", "household",
     "${runs_business} = 'yes'", "not(selected(${ecommerce_platforms}, 'none'))"),
]
TARGETS = [
    # target_set, vi, en, criterion, indicator, comparator, threshold, level, year
    ("kdc", "Khu dân cư số", "Digital village", "k1", "hh_fibre", ">=", 50, "village", 2025),
    ("kdc", "Khu dân cư số", "Digital village", "k2", "adult_pay", ">", 60, "village", 2025),
    ("kdc", "Khu dân cư số", "Digital village", "k3", "hh_fibre", ">=", 40, "commune", 2025),
    ("biz", "Kinh tế số", "Digital economy", "b1", "biz_ecommerce", "≥", "50%", "village", 2025),
    ("biz", "Kinh tế số", "Digital economy", "b2", "hh_fibre", ">=", 60, "village", 2025),
    ("biz", "Kinh tế số", "Digital economy", "b3", "adult_pay", ">", 60, "district", 2025),
]


def workbook_bytes(indicators=INDICATORS, targets=TARGETS, area_field="village") -> bytes:
    return indicators_workbook(indicators, targets, area_field)


# --- households with exact answers --------------------------------------------------------------

def adult(age: int, bank: str = "no", ewallets: str = "none", name: str = "Người lớn") -> Member:
    """Someone 15 or older: every age-relevant question answered, as Collect sends it."""
    return Member(name, "female", age, "head", {
        "smartphone": "yes", "vneid_level2": "yes", "bank_account": bank, "ewallets": ewallets,
        "public_services_account": "no", "shopped_online": "no", "digital_signature": "no", "digital_guidance": "no"})


def child(age: int) -> Member:
    """Under 15: the payment questions are not relevant, so they are ABSENT from the XML (not empty)."""
    return Member("Trẻ em", "male", age, "child", {"vneid_level2": "no"} if age >= 14 else {})


def household(n: int, village: str, members: list[Member], broadband: str = "fibre",
              platforms: str | None = None) -> Household:
    """platforms=None: no business; otherwise the business sells on these platforms ('none' = offline only)."""
    parts = village.split("-")
    return Household(
        instance_id=f"uuid:00000000-0000-4000-8000-{n:012d}", village=village, commune="-".join(parts[:3]),
        district="-".join(parts[:2]), province=parts[0], respondent=f"Chủ hộ {n}", phone="0905000000",
        members=members, fixed_broadband=broadband, runs_business="no" if platforms is None else "yes",
        extra={"enumerator_code": "TCN01", "lat": "16.050000", "lon": "108.200000", "hh_ecommerce": "no",
               "business_type": "retail", "ecommerce": platforms or "none", "cashless": "qr_code"})


def refused_xml(h: Household) -> bytes:
    """What Collect sends when the respondent says no: consent 'no', the refusal note (relevant, empty),
    and nothing of the non-relevant questions and groups — respondent details, household (with its
    roster), business and closing are left out of the instance altogether."""
    xml = to_xml(h).decode()
    xml = xml.replace("<consent>yes</consent>", "<consent>no</consent><refused_note/>")
    for pattern in (r"<respondent_name>.*?</phone>", r"<household>.*</household>", r"<business>.*?</business>",
                    r"<closing>.*?</closing>"):
        xml, n = re.subn(pattern, "", xml)
        assert n == 1, pattern
    return xml.encode()


# Thôn A1 (P-D-A-1): five households count by default.
H1 = household(1, "P-D-A-1", [adult(45, bank="yes"),                  # pays (bank)
                              adult(40, ewallets="momo"),               # pays (e-wallet)
                              child(10)])                               # not in the denominator
H2 = household(2, "P-D-A-1", [adult(60),                                # bank no, e-wallet 'none': does not pay
                              adult(15, ewallets="zalopay momo")],      # 15 is in (>= 15) and pays
               broadband="adsl", platforms="shopee")                    # business selling on Shopee
H3 = household(3, "P-D-A-1", [])   # an empty roster: household_size 0 and no <members> at all (Collect's
#                                    constraint asks for 1–30, but the server must still count it as 0 people)
H4 = household(4, "P-D-A-1", [adult(50, bank="yes")])                   # refuses: sent with refused_xml
H5_ORIGINAL = household(5, "P-D-A-1", [adult(30)], broadband="none")    # superseded by its edit …
H5_EDIT = household(55, "P-D-A-1", [adult(30, bank="yes")])             # … which alone counts: fibre, pays
H6 = household(6, "P-D-A-1", [adult(50, bank="yes")])                   # rejected: only with includeRejected
H7 = household(7, "P-D-A-1", [adult(50, bank="yes"), adult(52, bank="yes")])   # deleted: never counts
# Thôn A2 (P-D-A-2)
H8 = household(8, "P-D-A-2", [adult(70), adult(35), adult(16, bank="yes")],   # 1 of 3 adults pays
               broadband="cable", platforms="none")                     # a business that does not sell online
H9 = household(9, "P-D-A-2", [adult(25, ewallets="other"),              # 'other' e-wallet pays
                              child(14)],                               # 14: e-ID asked, payment not
               broadband="none")
# Thôn B1 (P-D-B-1): no business at all, so biz_ecommerce has no denominator here.
H10 = household(10, "P-D-B-1", [adult(20, bank="yes"), adult(22), child(5)])
H11 = household(11, "P-D-B-1", [adult(33, ewallets="viettel_money")])
H12 = household(12, "P-D-B-1", [adult(80)], broadband="cable")
# An area code the registry does not know: reported as unmatched, counted nowhere.
H13 = household(13, "P-D-B-9", [adult(40, bank="yes")], platforms="shopee")

# What each area holds by default (includeRejected=false), indicator: (numerator, denominator).
#
#   Thôn A1: H1 H2 H3 H4 H5(edit) = 5 households
#     hh_fibre       den: consenting H1 H2 H3 H5 = 4 (H4 refused)     num: fibre H1 H3 H5 = 3      → 75.00
#     adult_pay      H1 2/2 + H2 1/2 + H3 0/0 + H4 0/0 + H5 1/1                          = 4/5    → 80.00
#     biz_ecommerce  H2 (Shopee)                                                          = 1/1    → 100.00
#   Thôn A2: H8 H9 = 2 households
#     hh_fibre       cable, none                                                          = 0/2    → 0.00
#     adult_pay      H8 1/3 + H9 1/1 (the 14-year-old is not asked)                        = 2/4    → 50.00
#     biz_ecommerce  H8 (sells offline only)                                              = 0/1    → 0.00
#   Thôn B1: H10 H11 H12 = 3 households
#     hh_fibre       fibre, fibre, cable                                                  = 2/3    → 66.67
#     adult_pay      H10 1/2 + H11 1/1 + H12 0/1                                          = 2/4    → 50.00
#     biz_ecommerce  no business                                                          = 0/0    → null
#   Xã A = A1 + A2: 7 households
#     hh_fibre       3+0 / 4+2 = 3/6 → 50.00   (the average of 75.00 and 0.00 would be 37.50 and miss k3's 40)
#     adult_pay      4+2 / 5+4 = 6/9 → 66.67
#     biz_ecommerce  1+0 / 1+1 = 1/2 → 50.00
#   Xã B = B1: 3 households
#   Huyện Một = Tỉnh Thử = Xã A + Xã B: 10 households
#     hh_fibre       3+2 / 6+3 = 5/9  → 55.56
#     adult_pay      6+2 / 9+4 = 8/13 → 61.54  (averaging villages (80+50+50)/3 = 60.00, or communes
#                                              (66.67+50)/2 = 58.33, would miss b3's "> 60")
#     biz_ecommerce  1+0 / 2+0 = 1/2  → 50.00
SUMS = {
    "P-D-A-1": {"hh_fibre": (3, 4), "adult_pay": (4, 5), "biz_ecommerce": (1, 1)},
    "P-D-A-2": {"hh_fibre": (0, 2), "adult_pay": (2, 4), "biz_ecommerce": (0, 1)},
    "P-D-B-1": {"hh_fibre": (2, 3), "adult_pay": (2, 4), "biz_ecommerce": (0, 0)},
    "P-D-A": {"hh_fibre": (3, 6), "adult_pay": (6, 9), "biz_ecommerce": (1, 2)},
    "P-D-B": {"hh_fibre": (2, 3), "adult_pay": (2, 4), "biz_ecommerce": (0, 0)},
    "P-D": {"hh_fibre": (5, 9), "adult_pay": (8, 13), "biz_ecommerce": (1, 2)},
    "P": {"hh_fibre": (5, 9), "adult_pay": (8, 13), "biz_ecommerce": (1, 2)},
}
# households, expected households, coverage = households / expected × 100
COVERAGE = {
    "P-D-A-1": (5, 10, 50.0), "P-D-A-2": (2, 4, 50.0), "P-D-B-1": (3, 5, 60.0),
    "P-D-A": (7, 14, 50.0),      # expected blank: 10 + 4
    "P-D-B": (3, 8, 37.5),       # expected given as 8 (not the village's 5)
    "P-D": (10, 22, 45.45),      # 14 + 8; 10/22 = 45.4545…
    "P": (10, 22, 45.45),
}
# The same with includeRejected=true: H6 (fibre, 1 adult who pays) joins Thôn A1.
#   A1: 6 households, hh_fibre 4/5 = 80.00, adult_pay 5/6 = 83.33
#   Xã A: 8, hh_fibre 4/7 = 57.14, adult_pay 7/10 = 70.00;  district/province: 11, 6/10 = 60.00, 9/14 = 64.29
SUMS_WITH_REJECTED = {
    **SUMS,
    "P-D-A-1": {"hh_fibre": (4, 5), "adult_pay": (5, 6), "biz_ecommerce": (1, 1)},
    "P-D-A": {"hh_fibre": (4, 7), "adult_pay": (7, 10), "biz_ecommerce": (1, 2)},
    "P-D": {"hh_fibre": (6, 10), "adult_pay": (9, 14), "biz_ecommerce": (1, 2)},
    "P": {"hh_fibre": (6, 10), "adult_pay": (9, 14), "biz_ecommerce": (1, 2)},
}
HOUSEHOLDS_WITH_REJECTED = {"P-D-A-1": 6, "P-D-A-2": 2, "P-D-B-1": 3, "P-D-A": 8, "P-D-B": 3, "P-D": 11, "P": 11}

# The Wilson intervals the fractions above must carry, worked out with z = 1.959964 (the 97.5% normal
# quantile). For 3/4: p = .75, z²/n = .9604, centre = (.75 + .4802)/1.9604 = .6275,
# half = 1.96·√(.046875 + .060024)/1.9604 = .3269 → [30.06, 95.44]. A p of 0 or 1 clamps at 0 or 100.
WILSON = {
    (3, 4): (30.06, 95.44), (4, 5): (37.55, 96.38), (1, 1): (20.65, 100.0), (0, 2): (0.0, 65.76),
    (2, 4): (15.0, 85.0), (0, 1): (0.0, 79.35), (2, 3): (20.77, 93.85), (1, 2): (9.45, 90.55),
    (3, 6): (18.76, 81.24), (6, 9): (35.42, 87.94), (5, 9): (26.67, 81.12), (8, 13): (35.52, 82.29),
    (5, 6): (43.65, 96.99), (4, 7): (25.05, 84.18), (7, 10): (39.68, 89.22), (6, 10): (31.27, 83.18),
    (9, 14): (38.76, 83.66), (0, 0): (None, None),
}


def textbook_wilson(k: int, n: int) -> tuple[float | None, float | None]:
    """(p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), in percent, clamped to 0–100."""
    if n == 0:
        return None, None
    z = NormalDist().inv_cdf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return round(max(0.0, centre - half) * 100, 2), round(min(1.0, centre + half) * 100, 2)


def test_the_wilson_table_above_is_the_textbook_formula():
    for (k, n), interval in WILSON.items():
        assert textbook_wilson(k, n) == interval, (k, n)


def expected_indicator(k: int, n: int) -> dict:
    lo, hi = WILSON[(k, n)]
    return {"numerator": k, "denominator": n, "value": round(100 * k / n, 2) if n else None, "ciLow": lo, "ciHigh": hi}


# --- steps and fixtures (survey and key_base are hamlet_fixtures') --------------------------------

def put_registry(admin, project, text: str = REGISTRY):
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=text.encode(), content_type="text/csv",
                            headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def put_workbook(admin, survey, data: bytes):
    return admin.client.put(f"{survey}/indicators", data=data, content_type=XLSX, headers=admin._headers())


def post(client, key_base, xml: bytes):
    resp = submit(client, key_base, xml)
    assert resp.status_code == 201, resp.data
    return resp


def report(admin, survey, query: str = "") -> dict:
    resp = admin.get(f"{survey}/indicators{'?' + query if query else ''}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def areas(rep: dict) -> dict[str, dict]:
    return {a["code"]: a for a in rep["areas"]}


def indicator(area: dict, name: str) -> dict:
    [found] = [i for i in area["indicators"] if i["name"] == name]
    return found


def numbers(ind: dict) -> dict:
    return {k: ind[k] for k in ("numerator", "denominator", "value", "ciLow", "ciHigh")}


@pytest.fixture
def loaded(admin, client, project, survey, key_base):
    """The registry, the workbook and the thirteen households above, with the edit, the rejection and
    the deletion done through the API as a supervisor would."""
    assert put_registry(admin, project)["areas"] == 7
    resp = put_workbook(admin, survey, workbook_bytes())
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"success": True, "indicators": 3, "targetSets": ["biz", "kdc"], "criteria": 6,
                               "areaField": "village", "generation": 1,
                               "targetSetsApplyingNowhere": []}
    for h in (H1, H2, H3, H5_ORIGINAL, H6, H7, H8, H9, H10, H11, H12, H13):
        post(client, key_base, to_xml(h))
    post(client, key_base, refused_xml(H4))
    # The edit: a new instanceID with deprecatedID naming the original (fibre now, and a bank account).
    post(client, key_base, to_xml(H5_EDIT, deprecated_id=H5_ORIGINAL.instance_id))
    assert admin.patch(f"{survey}/submissions/{H6.instance_id}", {"reviewState": "rejected"}).status_code == 200
    assert admin.delete(f"{survey}/submissions/{H7.instance_id}").status_code == 200
    return survey


# --- the fixture's own shape ----------------------------------------------------------------------

def test_the_fixture_xml_is_what_collect_sends(loaded, admin):
    empty = to_xml(H3).decode()
    assert "<household_size>0</household_size>" in empty and "<members>" not in empty
    young = to_xml(H9).decode()
    [teen] = re.findall(r"<members>(?:(?!</members>).)*<age>14</age>.*?</members>", young)
    assert "<vneid_level2>no</vneid_level2>" in teen and "bank_account" not in teen and "ewallets" not in teen
    refused = admin.get(f"{loaded}/submissions/{H4.instance_id}.xml").data.decode()
    assert "<consent>no</consent>" in refused and "<village>P-D-A-1</village>" in refused
    assert "<household>" not in refused and "<business>" not in refused and "<respondent_name>" not in refused
    subs = {s["instanceId"]: s for s in admin.get(f"{loaded}/submissions").get_json()}
    assert subs[H5_ORIGINAL.instance_id]["reviewState"] == "edited"
    assert subs[H5_ORIGINAL.instance_id]["currentVersion"]["instanceId"] == H5_EDIT.instance_id
    assert subs[H6.instance_id]["reviewState"] == "rejected"
    assert H7.instance_id not in subs


# --- the report, number by number -----------------------------------------------------------------

def test_every_number_of_every_area(loaded, admin):
    rep = report(admin, loaded, "targetSet=")     # no target set (without the parameter: the applicable ones)
    assert rep["targetSet"] is None and rep["level"] is None
    assert [a["code"] for a in rep["areas"]] == ORDER
    assert rep["indicators"] == [
        {"name": "hh_fibre", "labels": {"vi": "Hộ có cáp quang", "en": "Households with fibre"}, "unit": "household"},
        {"name": "adult_pay", "labels": {"vi": "Người 15+ có tài khoản thanh toán", "en": "People 15+ paying digitally"},
         "unit": "members"},
        {"name": "biz_ecommerce", "labels": {"vi": "Hộ kinh doanh bán trực tuyến", "en": "Businesses selling online"},
         "unit": "household"},
    ]
    # H13's village P-D-B-9 is not in the registry: reported, not dropped, and in no area's counts.
    assert rep["unmatchedAreas"] == [{"code": "P-D-B-9", "households": 1}]
    for code, area in areas(rep).items():
        households, expected, coverage = COVERAGE[code]
        assert (area["name"], area["level"], area["parent"]) == (
            {"P": "Tỉnh Thử", "P-D": "Huyện Một", "P-D-A": "Xã A", "P-D-B": "Xã B", "P-D-A-1": "Thôn A1",
             "P-D-A-2": "Thôn A2", "P-D-B-1": "Thôn B1"}[code], LEVEL[code], PARENT[code])
        assert (area["households"], area["expectedHouseholds"], area["coverage"]) == (households, expected, coverage), code
        assert area["lowCoverage"] is False          # all at or above the default 30%
        assert area["achieved"] is None               # no target set: nothing judged
        assert [i["name"] for i in area["indicators"]] == ["hh_fibre", "adult_pay", "biz_ecommerce"]
        for ind in area["indicators"]:
            assert numbers(ind) == expected_indicator(*SUMS[code][ind["name"]]), (code, ind["name"])
            assert (ind["target"], ind["comparator"], ind["criterion"], ind["met"]) == (None, None, None, None)


def test_parents_pool_numerators_and_denominators_never_average_percentages(loaded, admin):
    by = areas(report(admin, loaded, "targetSet=kdc"))
    a1, a2, commune = (indicator(by[c], "hh_fibre") for c in ("P-D-A-1", "P-D-A-2", "P-D-A"))
    assert (a1["value"], a2["value"]) == (75.0, 0.0)
    assert (a1["value"] + a2["value"]) / 2 == 37.5               # what averaging would say: below k3's 40 …
    assert commune["value"] == 50.0 and commune["met"] is True   # … pooled 3/6 = 50: met
    villages = [indicator(by[c], "adult_pay")["value"] for c in ("P-D-A-1", "P-D-A-2", "P-D-B-1")]
    district = by["P-D"]
    assert sum(villages) / 3 == 60.0 and indicator(district, "adult_pay")["value"] == 61.54   # 8/13
    for code in ("P-D-A", "P-D-B", "P-D", "P"):
        kids = [c for c in ORDER if PARENT[c] == code]
        for name in ("hh_fibre", "adult_pay"):
            got = indicator(by[code], name)
            assert got["numerator"] == sum(indicator(by[k], name)["numerator"] for k in kids)
            assert got["denominator"] == sum(indicator(by[k], name)["denominator"] for k in kids)
        assert by[code]["households"] == sum(by[k]["households"] for k in kids)


def test_target_set_kdc_judges_villages_and_communes(loaded, admin):
    rep = report(admin, loaded, "targetSet=kdc")
    assert rep["targetSet"] == "kdc"
    by = areas(rep)
    # Only the set's indicators, in the order its criteria name them.
    assert all([i["name"] for i in a["indicators"]] == ["hh_fibre", "adult_pay"] for a in rep["areas"])
    # code: (hh_fibre criterion, target, met), (adult_pay criterion, target, met), achieved
    expected = {
        "P-D-A-1": (("k1", 50.0, True), ("k2", 60.0, True), True),     # 75 ≥ 50, 80 > 60
        "P-D-A-2": (("k1", 50.0, False), ("k2", 60.0, False), False),  # 0 ≥ 50 no, 50 > 60 no
        "P-D-B-1": (("k1", 50.0, True), ("k2", 60.0, False), False),   # 66.67 ≥ 50, but 50 > 60 no
        "P-D-A": (("k3", 40.0, True), (None, None, None), True),       # pooled 50 ≥ 40
        "P-D-B": (("k3", 40.0, True), (None, None, None), True),       # 66.67 ≥ 40
        "P-D": ((None, None, None), (None, None, None), None),         # no criterion at district level
        "P": ((None, None, None), (None, None, None), None),
    }
    for code, (fibre, pay, achieved) in expected.items():
        for name, (criterion, target, met) in (("hh_fibre", fibre), ("adult_pay", pay)):
            ind = indicator(by[code], name)
            assert numbers(ind) == expected_indicator(*SUMS[code][name]), (code, name)
            comparator = None if criterion is None else (">=" if name == "hh_fibre" else ">")
            assert (ind["criterion"], ind["target"], ind["comparator"], ind["met"]) == \
                (criterion, target, comparator, met), (code, name)
        assert by[code]["achieved"] is achieved, code


def test_target_set_biz_with_no_denominator_is_not_enough_data(loaded, admin):
    by = areas(report(admin, loaded, "targetSet=biz"))
    assert [i["name"] for i in by["P"]["indicators"]] == ["biz_ecommerce", "hh_fibre", "adult_pay"]
    # code: biz_ecommerce met, hh_fibre met, adult_pay met, achieved
    expected = {
        "P-D-A-1": (True, True, None, True),       # 100 ≥ 50, 75 ≥ 60
        "P-D-A-2": (False, False, None, False),    # 0 ≥ 50 no, 0 ≥ 60 no
        "P-D-B-1": (None, True, None, None),       # no business (0/0: met null), 66.67 ≥ 60: not enough data
        "P-D-A": (None, None, None, None),         # no criterion at commune level
        "P-D-B": (None, None, None, None),
        "P-D": (None, None, True, True),           # pooled 8/13 = 61.54 > 60 (averages would say 60 or 58.33)
        "P": (None, None, None, None),
    }
    for code, (biz, fibre, pay, achieved) in expected.items():
        got = [indicator(by[code], n)["met"] for n in ("biz_ecommerce", "hh_fibre", "adult_pay")]
        assert got == [biz, fibre, pay], code
        assert by[code]["achieved"] is achieved, code
    b1 = indicator(by["P-D-B-1"], "biz_ecommerce")
    assert (b1["numerator"], b1["denominator"], b1["value"], b1["ciLow"], b1["ciHigh"]) == (0, 0, None, None, None)
    # The ≥ glyph and "50%" are read as >= 50.
    assert (b1["criterion"], b1["comparator"], b1["target"]) == ("b1", ">=", 50.0)


def test_rejected_households_count_only_when_asked(loaded, admin):
    rep = report(admin, loaded, "includeRejected=true")
    for code, area in areas(rep).items():
        assert area["households"] == HOUSEHOLDS_WITH_REJECTED[code], code
        for ind in area["indicators"]:
            assert numbers(ind) == expected_indicator(*SUMS_WITH_REJECTED[code][ind["name"]]), (code, ind["name"])
    # The deleted H7 stays out even then, and the default is still without H6.
    assert areas(report(admin, loaded))["P-D-A-1"]["households"] == 5


def test_level_and_area_select_areas(loaded, admin):
    assert [a["code"] for a in report(admin, loaded, "level=village")["areas"]] == ["P-D-A-1", "P-D-A-2", "P-D-B-1"]
    assert [a["code"] for a in report(admin, loaded, "level=commune")["areas"]] == ["P-D-A", "P-D-B"]
    # area= keeps the area and its descendants, with the same numbers as the whole report.
    scoped = report(admin, loaded, "area=P-D-A")
    assert [a["code"] for a in scoped["areas"]] == ["P-D-A", "P-D-A-1", "P-D-A-2"]
    assert scoped["areas"] == [areas(report(admin, loaded))[c] for c in ("P-D-A", "P-D-A-1", "P-D-A-2")]
    assert [a["code"] for a in report(admin, loaded, "area=P-D-A&level=village")["areas"]] == ["P-D-A-1", "P-D-A-2"]
    assert [a["code"] for a in report(admin, loaded, "area=P-D-B-1")["areas"]] == ["P-D-B-1"]
    assert [a["code"] for a in report(admin, loaded, "area=P-D-B&level=district")["areas"]] == []
    bad = admin.get(f"{loaded}/indicators?area=P-D-C")
    assert bad.status_code == 400 and "P-D-C" in bad.get_json()["message"]
    assert admin.get(f"{loaded}/indicators?level=hamlet").status_code == 400
    assert admin.get(f"{loaded}/indicators?targetSet=nope").status_code == 400


def test_low_coverage_threshold_is_a_parameter(loaded, admin):
    by = areas(report(admin, loaded, "lowCoverage=50"))
    # coverage < 50: Xã B 37.5 and the district/province 45.45; exactly 50 is not low.
    assert {c for c, a in by.items() if a["lowCoverage"]} == {"P-D-B", "P-D", "P"}


def test_csv_has_the_same_numbers(loaded, admin):
    for query in ("", "targetSet=kdc", "targetSet=biz&level=village", "includeRejected=true&area=P-D-A"):
        rep = report(admin, loaded, query)
        resp = admin.get(f"{loaded}/indicators.csv{'?' + query if query else ''}")
        assert resp.status_code == 200 and resp.content_type.startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
        flat = [(a, i) for a in rep["areas"] for i in a["indicators"]]
        assert len(rows) == len(flat) > 0

        def cell(v):
            return "" if v is None else str(v)

        for row, (a, i) in zip(rows, flat):
            assert row == {
                "area_code": a["code"], "area_name": a["name"], "level": a["level"],
                "households": cell(a["households"]), "expected_households": cell(a["expectedHouseholds"]),
                "coverage": cell(a["coverage"]), "achieved": cell(a["achieved"]), "indicator": i["name"],
                "numerator": cell(i["numerator"]), "denominator": cell(i["denominator"]), "value": cell(i["value"]),
                "ci_low": cell(i["ciLow"]), "ci_high": cell(i["ciHigh"]), "comparator": cell(i["comparator"]),
                "target": cell(i["target"]), "met": cell(i["met"]), "target_set": cell(a["targetSet"]),
                "verdict": cell(i["verdict"])}
    bom = admin.get(f"{loaded}/indicators.csv?bom=true").get_data(as_text=True)
    assert bom.startswith("\ufeffarea_code,area_name,level,")
    # Spelled out for one row: Xã A's pooled fibre figure under kdc.
    rows = list(csv.DictReader(io.StringIO(admin.get(f"{loaded}/indicators.csv?targetSet=kdc").get_data(as_text=True))))
    [row] = [r for r in rows if r["area_code"] == "P-D-A" and r["indicator"] == "hh_fibre"]
    assert (row["households"], row["expected_households"], row["coverage"], row["numerator"], row["denominator"],
            row["value"], row["ci_low"], row["ci_high"], row["comparator"], row["target"], row["met"],
            row["achieved"]) == ("7", "14", "50.0", "3", "6", "50.0", "18.76", "81.24", ">=", "40.0", "True", "True")


def test_to_in_the_past_or_from_in_the_future_leaves_no_households(loaded, admin):
    for query in ("to=2000-01-01", "from=2999-01-01", "from=2000-01-01&to=2000-12-31"):
        rep = report(admin, loaded, f"targetSet=kdc&{query}")
        for area in rep["areas"]:
            assert area["households"] == 0 and area["achieved"] is None
            assert area["coverage"] == 0.0          # 0 of the expected households
            for ind in area["indicators"]:
                assert numbers(ind) == expected_indicator(0, 0)
                assert ind["met"] is None           # no denominator: not enough data, not "not met"
        assert rep["unmatchedAreas"] == []
    # A window that holds everything gives the whole report.
    assert report(admin, loaded, "from=2000-01-01&to=2999-01-01")["areas"] == report(admin, loaded)["areas"]
    assert admin.get(f"{loaded}/indicators?from=yesterday").status_code == 400


# --- incremental updates --------------------------------------------------------------------------

def _instant() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def small(admin, client, project, survey, key_base):
    put_registry(admin, project)
    assert put_workbook(admin, survey, workbook_bytes()).status_code == 200
    return survey


def test_new_and_edited_households_show_in_the_next_report(small, admin, client, key_base):
    def a1():
        by = areas(report(admin, small, "targetSet=kdc"))
        return (by["P-D-A-1"]["households"], numbers(indicator(by["P-D-A-1"], "hh_fibre"))["numerator"],
                indicator(by["P-D-A-1"], "hh_fibre")["denominator"], by["P-D-A-1"]["achieved"], by["P"]["households"])

    assert a1() == (0, 0, 0, None, 0)
    post(client, key_base, to_xml(H1))                 # fibre; 2/2 adults pay
    assert a1() == (1, 1, 1, True, 1)
    first_window_ends = _instant()
    time.sleep(0.02)
    post(client, key_base, to_xml(H2))                 # adsl: 1/2 fibre = 50 ≥ 50; adults 3/4 = 75 > 60
    assert a1() == (2, 1, 2, True, 2)
    post(client, key_base, to_xml(H8))                 # Thôn A2: only A2 and its ancestors move
    by = areas(report(admin, small))
    assert (by["P-D-A-1"]["households"], by["P-D-A-2"]["households"], by["P-D-A"]["households"]) == (2, 1, 3)
    # Editing H2 to fibre replaces its contribution (not added to it): 2/2 households with fibre.
    edit = household(22, "P-D-A-1", H2.members, broadband="fibre", platforms="shopee")
    post(client, key_base, to_xml(edit, deprecated_id=H2.instance_id))
    assert a1() == (2, 2, 2, True, 3)
    # An edit of the edit, back to no fibre and nobody paying: 1/2 = 50 ≥ 50 but adults 2/4 = 50 > 60 fails.
    again = household(23, "P-D-A-1", [adult(60), adult(15)], broadband="none", platforms="shopee")
    post(client, key_base, to_xml(again, deprecated_id=edit.instance_id))
    assert a1() == (2, 1, 2, False, 3)
    # from/to split on the server's receive time: H1 before the instant, H2 (still the same logical
    # submission, however often edited) and H8 after it.
    before = areas(report(admin, small, f"to={first_window_ends}"))
    after = areas(report(admin, small, f"from={first_window_ends}"))
    assert (before["P-D-A-1"]["households"], before["P-D-A-2"]["households"]) == (1, 0)
    assert (after["P-D-A-1"]["households"], after["P-D-A-2"]["households"]) == (1, 1)
    assert before["P"]["households"] + after["P"]["households"] == 3


def test_review_delete_and_restore_show_in_the_next_report(small, admin, client, key_base):
    for h in (H1, H10):
        post(client, key_base, to_xml(h))
    assert report(admin, small)["areas"][0]["households"] == 2
    admin.patch(f"{small}/submissions/{H1.instance_id}", {"reviewState": "rejected"})
    assert report(admin, small)["areas"][0]["households"] == 1
    assert report(admin, small, "includeRejected=true")["areas"][0]["households"] == 2
    admin.patch(f"{small}/submissions/{H1.instance_id}", {"reviewState": "approved"})
    assert report(admin, small)["areas"][0]["households"] == 2
    admin.delete(f"{small}/submissions/{H10.instance_id}")
    assert report(admin, small)["areas"][0]["households"] == 1
    assert admin.post(f"{small}/submissions/{H10.instance_id}/restore").status_code == 200
    assert report(admin, small)["areas"][0]["households"] == 2


def test_a_roster_indicator_can_read_its_household_answers(small, admin, client, key_base):
    # Adults living in a home with fibre: a person-level indicator whose condition is a household answer.
    mixed = INDICATORS + [("adult_fibre", "", "", "members", "${age} >= 15", "${fixed_broadband} = 'fibre'")]
    assert put_workbook(admin, small, workbook_bytes(indicators=mixed)).status_code == 200
    for h in (H1, H2, H3, H8):
        post(client, key_base, to_xml(h))
    by = areas(report(admin, small))
    # A1: H1 fibre with 2 adults, H2 ADSL with 2, H3 fibre with nobody → 2/4; A2: H8 cable, 3 adults → 0/3.
    assert [(indicator(by[c], "adult_fibre")["numerator"], indicator(by[c], "adult_fibre")["denominator"])
            for c in ("P-D-A-1", "P-D-A-2", "P-D-A", "P")] == [(2, 4), (0, 3), (2, 7), (2, 7)]
    assert numbers(indicator(by["P"], "adult_fibre")) == {"numerator": 2, "denominator": 7, "value": 28.57,
                                                          "ciLow": 8.22, "ciHigh": 64.11}


def test_a_new_workbook_recomputes_every_household(small, admin, client, key_base):
    for h in (H1, H2, H11):
        post(client, key_base, to_xml(h))
    assert numbers(indicator(areas(report(admin, small))["P"], "hh_fibre"))["numerator"] == 2   # H1, H11
    # Same name, new condition: any fixed broadband. H2's ADSL now counts too.
    wider = [(INDICATORS[0][:5] + ("${fixed_broadband} != 'none'",))] + INDICATORS[1:]
    resp = put_workbook(admin, small, workbook_bytes(indicators=wider))
    assert resp.status_code == 200 and resp.get_json()["generation"] == 2
    assert numbers(indicator(areas(report(admin, small))["P"], "hh_fibre"))["numerator"] == 3


def test_a_new_registry_shows_in_the_next_report(small, admin, project, client, key_base):
    post(client, key_base, to_xml(H1))
    assert areas(report(admin, small))["P-D-A-1"]["expectedHouseholds"] == 10
    # Same codes, same number of rows, new expected households for Thôn A1: 10 → 20.
    put_registry(admin, project, REGISTRY.replace("P-D-A-1,Thôn A1,village,P-D-A,10", "P-D-A-1,Thôn A1,village,P-D-A,20"))
    by = areas(report(admin, small))
    assert (by["P-D-A-1"]["expectedHouseholds"], by["P-D-A-1"]["coverage"]) == (20, 5.0)
    assert by["P-D-A"]["expectedHouseholds"] == 24


# --- a workbook with mistakes ---------------------------------------------------------------------

BROKEN_INDICATORS = [
    INDICATORS[0],                                                                     # row 2: fine
    ("adult_pay", "", "", "members", "${agee} >= 15", PAYS),                           # row 3: unknown field
    ("adult_phone", "", "", "members", "${age} >= 15", "${smartphone} = "),            # row 4: syntax error
    ("person_count", "", "", "persons", "", "${age} >= 0"),                            # row 5: unknown unit
]
BROKEN_TARGETS = [
    ("kdc", "", "", "k1", "hh_fibre", ">=", 50, "village", 2025),                      # row 2: fine
    ("kdc", "", "", "k2", "adult_payy", ">", 60, "village", 2025),                     # row 3: unknown indicator
    ("kdc", "", "", "k3", "hh_fibre", ">=", 150, "commune", 2025),                     # row 4: threshold > 100
    ("kdc", "", "", "k4", "hh_fibre", "<>", 40, "district", 2025),                     # row 5: bad comparator
    ("kdc", "", "", "k5", "hh_fibre", ">=", 40, "hamlet", 2025),                       # row 6: unknown level
    ("kdc", "", "", "k1", "hh_fibre", ">=", 60, "village", 2025),                      # row 7: duplicate k1
]


def test_a_broken_workbook_is_refused_with_every_mistake_located(small, admin, client, key_base):
    post(client, key_base, to_xml(H1))
    before = report(admin, small, "targetSet=kdc")
    definition = admin.get(f"{small}/indicators/definition").get_json()
    resp = put_workbook(admin, small, workbook_bytes(BROKEN_INDICATORS, BROKEN_TARGETS))
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == 400.92
    errors = body["details"]["errors"]
    assert sorted((e["sheet"], e["row"], e["column"], e["cell"]) for e in errors) == sorted([
        ("indicators", 3, "filter", "E3"),
        ("indicators", 4, "condition", "F4"),
        ("indicators", 5, "unit", "D5"),
        ("targets", 3, "indicator", "E3"),
        ("targets", 4, "threshold", "G4"),
        ("targets", 5, "comparator", "F5"),
        ("targets", 6, "level", "H6"),
        ("targets", 7, "criterion", "D7"),
    ])
    text = {(e["sheet"], e["row"]): e["message"] for e in errors}
    assert "agee" in text[("indicators", 3)] and "${age}" in text[("indicators", 3)]     # did you mean ${age}?
    assert "persons" in text[("indicators", 5)]
    assert "adult_payy" in text[("targets", 3)] and "adult_pay'" in text[("targets", 3)]
    assert "150" in text[("targets", 4)]
    assert "'<>'" in text[("targets", 5)]
    assert "hamlet" in text[("targets", 6)]
    assert "row 2" in text[("targets", 7)]
    assert "8 problem(s)" in body["message"] and "nothing was changed" in body["message"]
    # The previous workbook stays in force.
    assert admin.get(f"{small}/indicators/definition").get_json() == definition
    assert report(admin, small, "targetSet=kdc") == before
    # A missing sheet, a missing column and a file that is no workbook at all are refused the same way.
    wb = Workbook()
    wb.active.title = "indicators"
    wb.active.append(["name", "unit", "filter"])
    buf = io.BytesIO()
    wb.save(buf)
    body = put_workbook(admin, small, buf.getvalue()).get_json()
    assert body["code"] == 400.92
    assert {(e["sheet"], e["column"]) for e in body["details"]["errors"]} == {("targets", None), ("settings", None)}
    body = put_workbook(admin, small, b"name,unit\nx,household\n").get_json()
    assert body["code"] == 400.92 and "not an .xlsx" in body["details"]["errors"][0]["message"]
    missing = workbook_bytes(indicators=[(INDICATORS[0][0], "", "", "household", "")], targets=[])
    body = put_workbook(admin, small, missing).get_json()
    assert body["code"] == 400.92
    assert ("indicators", 2, "condition") in {(e["sheet"], e["row"], e["column"]) for e in body["details"]["errors"]}
    assert report(admin, small, "targetSet=kdc") == before


def test_a_report_before_any_workbook_is_a_clear_400(admin, project, survey):
    resp = admin.get(f"{survey}/indicators")
    assert resp.status_code == 400 and "upload an indicators workbook" in resp.get_json()["message"]


# --- the shipped survey, registry and targets together --------------------------------------------

def _compare(value, comparator, threshold):
    return None if value is None else {">=": value >= threshold, ">": value > threshold,
                                       "<=": value <= threshold, "<": value < threshold}[comparator]


def _pays(a: dict) -> bool:
    wallets = a.get("ewallets", "").split()
    return a.get("bank_account") == "yes" or (len(wallets) > 0 and "none" not in wallets)


# The shipped workbook's indicators (xlsforms/build_targets.py) restated in Python over the synthetic
# households, as an independent oracle: (unit, filter, condition) on a Household h or a Member m.
SHIPPED = {
    "hh_broadband": ("household", lambda h: True, lambda h: h.fixed_broadband in ("fibre", "cable", "adsl")),
    "hh_fibre": ("household", lambda h: True, lambda h: h.fixed_broadband == "fibre"),
    "adult_smartphone": ("members", lambda m: m.age >= 15, lambda m: m.answers.get("smartphone") == "yes"),
    "working_age_smartphone": ("members", lambda m: 15 <= m.age <= 60, lambda m: m.answers.get("smartphone") == "yes"),
    "resident_eid": ("members", lambda m: m.age >= 14, lambda m: m.answers.get("vneid_level2") == "yes"),
    "adult_eid": ("members", lambda m: m.age >= 18, lambda m: m.answers.get("vneid_level2") == "yes"),
    "adult_bank_or_ewallet": ("members", lambda m: m.age >= 15, lambda m: _pays(m.answers)),
    "working_age_bank_or_ewallet": ("members", lambda m: 15 <= m.age <= 60, lambda m: _pays(m.answers)),
    "working_age_public_services": ("members", lambda m: 15 <= m.age <= 60,
                                    lambda m: m.answers.get("public_services_account") == "yes"),
    "business_ecommerce": ("household", lambda h: h.runs_business == "yes",
                           lambda h: "none" not in h.extra["ecommerce"].split()),
    "business_cashless": ("household", lambda h: h.runs_business == "yes",
                          lambda h: "none" not in h.extra["cashless"].split()),
    "hh_ecommerce_account": ("household", lambda h: True, lambda h: h.extra["hh_ecommerce"] == "yes"),
    "adult_online_shopping": ("members", lambda m: m.age >= 15, lambda m: m.answers.get("shopped_online") == "yes"),
    "adult_digital_signature": ("members", lambda m: m.age >= 18,
                                lambda m: m.answers.get("digital_signature") == "yes"),
}


def _oracle(households: list[Household]) -> dict[str, tuple[int, int]]:
    out = {}
    for name, (unit, keep, meets) in SHIPPED.items():
        units = households if unit == "household" else [m for h in households for m in h.members]
        kept = [u for u in units if keep(u)]
        out[name] = (sum(1 for u in kept if meets(u)), len(kept))
    return out


def test_the_shipped_files_load_together_and_report_sensibly(admin, client, project, survey, key_base):
    registry = (XLSFORMS / "areas.csv").read_bytes()
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=registry, content_type="text/csv",
                            headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()
    resp = put_workbook(admin, survey, (XLSFORMS / "household_digital_targets.xlsx").read_bytes())
    assert resp.status_code == 200, resp.get_json()
    sets = resp.get_json()["targetSets"]
    assert sets == sorted(["thac_gian_kdc", "tan_uyen_2025", "da_nang_2023", "krong_pac_2025", "tam_thuan_2025"])
    rows = list(csv.DictReader(io.StringIO(registry.decode("utf-8-sig"))))
    villages = [r["code"] for r in rows if r["level"] == "village"]
    parent = {r["code"]: r["parent"] or None for r in rows}
    rng = random.Random(2026)
    sent: list[Household] = []
    for i in range(300):
        sent.append(random_household(rng, villages[i % len(villages)]))
        post(client, key_base, to_xml(sent[-1]))
    per_village: dict[str, int] = {}
    for h in sent:
        per_village[h.village] = per_village.get(h.village, 0) + 1

    def province_of(code: str) -> str:
        while parent[code]:
            code = parent[code]
        return code

    whole = report(admin, survey)
    assert whole["unmatchedAreas"] == []
    by = areas(whole)
    assert sum(a["households"] for a in whole["areas"] if a["level"] == "province") == 300
    for code, n in per_village.items():
        assert by[code]["households"] == n
    # Every parent is the sum of its children, indicator by indicator.
    for code, area in by.items():
        kids = [c for c, p in parent.items() if p == code]
        if not kids:
            continue
        assert area["households"] == sum(by[k]["households"] for k in kids), code
        for ind in area["indicators"]:
            for part in ("numerator", "denominator"):
                assert ind[part] == sum(indicator(by[k], ind["name"])[part] for k in kids), (code, ind["name"])
    # Each province's figures are exactly what the oracle counts from the households sent there.
    provinces = [a["code"] for a in whole["areas"] if a["level"] == "province"]
    assert [i["name"] for i in whole["indicators"]] == list(SHIPPED)
    for code in provinces:
        mine = [h for h in sent if province_of(h.village) == code]
        want = _oracle(mine)
        got = {i["name"]: (i["numerator"], i["denominator"]) for i in by[code]["indicators"]}
        assert got == want, code
        assert by[code]["households"] == len(mine)
    # Sanity of the synthetic data itself: every indicator has someone behind it overall.
    assert all(d > 0 for _, d in _oracle(sent).values())

    criteria = admin.get(f"{survey}/indicators/definition").get_json()["criteria"]
    for target_set in sets:
        levels = sorted({c["level"] for c in criteria if c["target_set"] == target_set})
        mine = [c for c in criteria if c["target_set"] == target_set]
        for level in levels:
            rep = report(admin, survey, f"targetSet={target_set}&level={level}")
            assert rep["areas"] and all(a["level"] == level for a in rep["areas"])
            assert sum(a["households"] for a in rep["areas"]) == 300, (target_set, level)
            at_level = {c["indicator"]: c for c in mine if c["level"] == level}
            for area in rep["areas"]:
                assert [i["name"] for i in area["indicators"]] == list(dict.fromkeys(c["indicator"] for c in mine))
                mets = []
                for ind in area["indicators"]:
                    n, d = ind["numerator"], ind["denominator"]
                    assert 0 <= n <= d
                    assert numbers(ind) == {"numerator": n, "denominator": d,
                                            "value": round(100 * n / d, 2) if d else None,
                                            "ciLow": textbook_wilson(n, d)[0], "ciHigh": textbook_wilson(n, d)[1]}
                    if d:
                        assert 0 <= ind["ciLow"] <= ind["value"] <= ind["ciHigh"] <= 100
                    crit = at_level.get(ind["name"])
                    if crit is None:
                        assert ind["criterion"] is None and ind["met"] is None
                    else:
                        assert (ind["criterion"], ind["comparator"], ind["target"]) == \
                            (crit["criterion"], crit["comparator"], crit["threshold"])
                        assert ind["met"] is _compare(ind["value"], crit["comparator"], crit["threshold"])
                        mets.append(ind["met"])
                want = False if False in mets else (True if mets and all(mets) else None)
                assert area["achieved"] is want, (target_set, area["code"])
                if area["households"]:
                    assert area["expectedHouseholds"] and 0 < area["coverage"] <= 100


@pytest.mark.parametrize("in_database", [False, True])
def test_a_roster_indicator_reads_a_household_answer_no_household_indicator_reads(
        small, admin, client, key_base, monkeypatch, in_database):
    """${fixed_broadband} read only by a person-level indicator is still loaded (was always empty: the
    household's answers were loaded for the household-level indicators only). `in_database`: on PostgreSQL
    the first computation of every household by one statement (server/indicators/in_database.py)."""
    from server.indicators import contributions as store

    monkeypatch.setattr(store, "IN_DATABASE_FROM", 0 if in_database else 10**9)
    by_python: list[int] = []
    original = store._compute
    monkeypatch.setattr(store, "_compute", lambda conn, tables, wb, ids, *rest: (by_python.append(len(ids)),
                                                                                  original(conn, tables, wb, ids, *rest))[1])
    only = [INDICATORS[1], ("adult_fibre", "", "", "members", "${age} >= 15", "${fixed_broadband} = 'fibre'")]
    for h in (H1, H2, H3, H8):
        post(client, key_base, to_xml(h))
    assert put_workbook(admin, small, workbook_bytes(indicators=only, targets=[])).status_code == 200
    by = areas(report(admin, small))
    assert [(indicator(by[c], "adult_fibre")["numerator"], indicator(by[c], "adult_fibre")["denominator"])
            for c in ("P-D-A-1", "P-D-A-2", "P-D-A", "P")] == [(2, 4), (0, 3), (2, 7), (2, 7)]
    postgresql = admin.client.application.extensions["hamlet.engine"].dialect.name == "postgresql"
    assert sum(by_python) == (0 if in_database and postgresql else 4)
