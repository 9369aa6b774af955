"""Build xlsforms/household_digital_targets.xlsx: the indicators of survey-spec.md §2 and the five
target sets of §4, as a form designer would write them. Run: python xlsforms/build_targets.py"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workbook import EN, VI, Workbook, fix_properties, write

OUTPUT = Path(__file__).resolve().parent / "household_digital_targets.xlsx"
CONSENTED = "${consent} = 'yes'"
WORKING_AGE = "${age} >= 15 and ${age} <= 60"
PAYS_DIGITALLY = "${bank_account} = 'yes' or (count-selected(${ewallets}) > 0 and not(selected(${ewallets}, 'none')))"

INDICATORS = [
    # name, vi, en, unit, filter, condition
    # Households that refused the interview answer nothing, so household indicators count consenting ones.
    ("hh_broadband", "Hộ có Internet cáp quang/băng rộng cố định", "Households with fixed broadband", "household",
     CONSENTED, "${fixed_broadband} = 'fibre' or ${fixed_broadband} = 'cable' or ${fixed_broadband} = 'adsl'"),
    ("hh_fibre", "Hộ có Internet cáp quang", "Households with fibre broadband", "household", CONSENTED,
     "${fixed_broadband} = 'fibre'"),
    ("adult_smartphone", "Người trưởng thành (15+) có điện thoại thông minh", "Adults (15+) with a smartphone", "members",
     "${age} >= 15", "${smartphone} = 'yes'"),
    ("working_age_smartphone", "Người trong độ tuổi lao động có điện thoại thông minh", "Working-age people with a smartphone",
     "members", WORKING_AGE, "${smartphone} = 'yes'"),
    ("resident_eid", "Người dân (14+) có tài khoản định danh điện tử mức 2", "Residents (14+) with a level-2 e-ID",
     "members", "${age} >= 14", "${vneid_level2} = 'yes'"),
    ("adult_eid", "Người trưởng thành (18+) có định danh điện tử mức 2", "Adults (18+) with a level-2 e-ID", "members",
     "${age} >= 18", "${vneid_level2} = 'yes'"),
    ("adult_bank_or_ewallet", "Người từ 15 tuổi có tài khoản ngân hàng hoặc ví điện tử", "People 15+ with a bank account or e-wallet",
     "members", "${age} >= 15", PAYS_DIGITALLY),
    ("working_age_bank_or_ewallet", "Người trong độ tuổi lao động có tài khoản thanh toán số",
     "Working-age people with a digital payment account", "members", WORKING_AGE, PAYS_DIGITALLY),
    ("working_age_public_services", "Người trong độ tuổi lao động có tài khoản dịch vụ công trực tuyến",
     "Working-age people with an online public-services account", "members", WORKING_AGE,
     "${public_services_account} = 'yes'"),
    ("business_ecommerce", "Hộ kinh doanh bán hàng trên sàn thương mại điện tử", "Household businesses selling on e-commerce platforms",
     "household", "${runs_business} = 'yes'", "not(selected(${ecommerce_platforms}, 'none'))"),
    ("business_cashless", "Hộ kinh doanh nhận thanh toán không dùng tiền mặt", "Household businesses accepting cashless payment",
     "household", "${runs_business} = 'yes'", "not(selected(${cashless}, 'none'))"),
    ("hh_ecommerce_account", "Hộ có tài khoản thương mại điện tử", "Households with an e-commerce account", "household",
     CONSENTED,
     "${hh_ecommerce} = 'yes'"),
    ("adult_online_shopping", "Người từ 15 tuổi mua sắm trực tuyến", "People 15+ who shop online", "members",
     "${age} >= 15", "${shopped_online} = 'yes'"),
    ("adult_digital_signature", "Người trưởng thành (18+) có chữ ký số cá nhân", "Adults (18+) with a personal digital signature",
     "members", "${age} >= 18", "${digital_signature} = 'yes'"),
]

# The areas of the registry (xlsforms/areas.csv) whose subtrees each set is for (survey-spec.md §4).
SET_AREAS = {
    "thac_gian_kdc": "DN-TK-TG",     # Thạc Gián ward's residential areas
    "tan_uyen_2025": "BD-TU",        # Tân Uyên city's quarters and hamlets
    "da_nang_2023": "DN",            # every commune and ward of Đà Nẵng
    "krong_pac_2025": "DL-KP",       # Krông Pắc district
    "tam_thuan_2025": "DN-TK-TT",    # Tam Thuận ward
}
SETS = {
    "thac_gian_kdc": ("Khu dân cư công nghệ số – phường Thạc Gián", "Digital residential area – Thạc Gián ward"),
    "tan_uyen_2025": ("Khu phố, ấp chuyển đổi số – Tân Uyên 2025", "Digital hamlet – Tân Uyên 2025"),
    "da_nang_2023": ("Xã hội số cấp xã – Đà Nẵng 2023", "Commune digital society – Đà Nẵng 2023"),
    "krong_pac_2025": ("Chuyển đổi số – huyện Krông Pắc 2025", "Digital transformation – Krông Pắc district 2025"),
    "tam_thuan_2025": ("Thương mại điện tử – phường Tam Thuận 2025", "E-commerce – Tam Thuận ward 2025"),
}
TARGETS = [
    # target_set, criterion, indicator, comparator, threshold, level, year, pillar
    ("thac_gian_kdc", "tg1", "hh_broadband", ">=", 100, "village", 2025, ""),
    ("thac_gian_kdc", "tg2", "adult_smartphone", ">=", 100, "village", 2025, ""),
    ("thac_gian_kdc", "tg3", "resident_eid", ">", 90, "village", 2025, ""),
    ("thac_gian_kdc", "tg4", "adult_bank_or_ewallet", ">", 90, "village", 2025, ""),
    ("thac_gian_kdc", "tg5", "business_ecommerce", ">", 50, "village", 2025, ""),
    ("tan_uyen_2025", "tu1", "resident_eid", ">=", 100, "village", 2025, "skills"),
    ("tan_uyen_2025", "tu2", "working_age_public_services", ">=", 80, "village", 2025, "society"),
    ("tan_uyen_2025", "tu3", "working_age_bank_or_ewallet", ">=", 80, "village", 2025, "economy"),
    ("tan_uyen_2025", "tu4", "hh_broadband", ">=", 100, "village", 2025, "infrastructure"),
    ("tan_uyen_2025", "tu5", "working_age_smartphone", ">=", 95, "village", 2025, "infrastructure"),
    ("tan_uyen_2025", "tu6", "business_cashless", ">=", 100, "village", 2025, "economy"),
    ("da_nang_2023", "dn1", "adult_smartphone", ">=", 100, "commune", 2023, ""),
    ("da_nang_2023", "dn2", "hh_fibre", ">=", 100, "commune", 2023, ""),
    ("da_nang_2023", "dn3", "adult_bank_or_ewallet", ">=", 100, "commune", 2023, ""),
    ("da_nang_2023", "dn4", "adult_eid", ">=", 30, "commune", 2023, ""),
    ("da_nang_2023", "dn5", "adult_digital_signature", ">=", 20, "commune", 2023, ""),
    ("krong_pac_2025", "kp1", "hh_fibre", ">", 80, "district", 2025, ""),
    ("krong_pac_2025", "kp2", "adult_bank_or_ewallet", ">", 50, "district", 2025, ""),
    ("tam_thuan_2025", "tt1", "hh_ecommerce_account", ">=", 50, "commune", 2025, ""),
    ("tam_thuan_2025", "tt2", "business_ecommerce", ">=", 90, "commune", 2025, ""),
    ("tam_thuan_2025", "tt3", "adult_online_shopping", ">=", 50, "commune", 2025, ""),
]


def build_workbook() -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "indicators"
    ws.append(["name", f"label::{VI}", f"label::{EN}", "unit", "filter", "condition"])
    for row in INDICATORS:
        ws.append(list(row))
    ws = wb.create_sheet("targets")
    ws.append(["target_set", f"label::{VI}", f"label::{EN}", "criterion", "indicator", "comparator", "threshold",
               "level", "year", "pillar", "areas"])
    for target_set, crit, ind, comp, thr, level, year, pillar in TARGETS:
        vi, en = SETS[target_set]
        ws.append([target_set, vi, en, crit, ind, comp, thr, level, year, pillar, SET_AREAS[target_set]])
    ws = wb.create_sheet("settings")
    ws.append(["area_field"])
    ws.append(["village"])
    for sheet in wb.worksheets:
        sheet.freeze_panes = "A2"
        for col, width in zip("ABCDEFGHIJK", (28, 48, 48, 12, 34, 60, 10, 10, 8, 14, 14)):
            sheet.column_dimensions[col].width = width
    # Fixed properties, so that building it again gives the same bytes.
    fix_properties(wb)
    return wb


if __name__ == "__main__":
    sys.exit(write(build_workbook, OUTPUT, sys.argv))
