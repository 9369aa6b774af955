"""Build `household_followup.xlsx`, the follow-up visit to a household of the register.

    python xlsforms/build_household_followup.py

rewrites the workbook next to this script (or at the path given as the first argument), byte for
byte the same each time (see _workbook.py; the questions it shares come from build_household_survey.py).

The household survey registers every household it visits in the `households` Entity List
(docs/entities.md). This form is the visit after it: the team member picks the village (the same
area cascade, from `areas.csv`), then the household from `households.csv` filtered by the village,
reads what the household still lacks, records the help given and what changed, and the household's
entity is updated. A roster property (`vneid_level2`, `smartphone`, …) lists the roster numbers of
the members who have the thing; this form adds the members who now have it. Indicators count the
household's latest state from these properties (docs/indicators.md, "A household's latest state").

Labels are plain Vietnamese for commune officials first, English second.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workbook import EN, VI, Workbook, fix_properties, nfc, sheet, write
from build_household_survey import CHOICES as SURVEY_CHOICES
from build_household_survey import ENUMERATOR_CODE, METADATA, _survey_rows, area_cascade, none_alone, q

OUTPUT = Path(__file__).resolve().parent / "household_followup.xlsx"
FORM_ID = "household_followup"
VERSION = "2026120501"
MAX_MEMBERS = 30          # the survey's household_size constraint
INTERNET = ("fibre", "cable", "adsl")


def lookup(prop: str) -> str:
    """The chosen household's property, read from households.csv (the Entity List)."""
    return f"instance('households')/root/item[name=${{household}}]/{prop}"


def lacking(eligible: str, *has: str) -> str:
    """The roster numbers listed in ${eligible} but in none of the ${has} lists, space-separated.

    XPath 1.0 has no set difference, so the numbers 1–30 are tested one by one."""
    terms = []
    for n in range(1, MAX_MEMBERS + 1):
        test = " and ".join([f"selected(${{{eligible}}}, '{n}')", *(f"not(selected(${{{h}}}, '{n}'))" for h in has)])
        terms.append(f"if({test}, ' {n}', '')")
    return f"normalize-space(concat({', '.join(terms)}))"


def added(had: str, got: str) -> str:
    """A roster list with the members chosen in ${got} added."""
    return f"normalize-space(concat(${{{had}}}, ' ', ${{{got}}}))"


def kept(new: str, old: str) -> str:
    """The new answer when one was given, else the household's answer so far (a blank would erase it)."""
    return f"if(${{{new}}} != '', ${{{new}}}, ${{{old}}})"


# What a member can lack, each listed in the calculate ${no_<thing>} (Vietnamese, English).
LACKING_MEMBERS = (
    ("eid", "Chưa có tài khoản định danh điện tử mức 2 (VNeID)", "No level-2 e-ID (VNeID) yet"),
    ("smartphone", "Chưa có điện thoại thông minh", "No smartphone yet"),
    ("payment", "Chưa có tài khoản ngân hàng hay ví điện tử", "No bank account or e-wallet yet"),
    ("public_services", "Chưa dùng dịch vụ công trực tuyến", "Not using online public services yet"),
    ("signature", "Chưa có chữ ký số", "No digital signature yet"),
)


def lacks_note(thing: str, vi: str, en: str) -> dict:
    """The note naming the members who still lack the thing, shown only when someone does."""
    members = f"${{no_{thing}}}"
    return q("note", f"lacks_{thing}", (f"{vi}: thành viên số {members}.", f"{en}: member no. {members}."),
             relevant=f"{members} != ''")


def members_now(name: str, still: str, label: tuple[str, str], *, extra_filter: str = "") -> dict:
    """Which of the members listed in ${still} now have the thing (none chosen: nobody yet)."""
    flt = f"selected(${{{still}}}, name)" + (f" and {extra_filter}" if extra_filter else "")
    return q("select_multiple member", name, label, relevant=f"${{{still}}} != ''", choice_filter=flt,
             hint=("Chọn những người đã làm được. Không ai thì bỏ trống.",
                   "Choose those who have it now. Leave blank if nobody does yet."))


HAS_INTERNET = " or ".join(f"${{h_broadband}} = '{c}'" for c in INTERNET)
BUSINESS = "${h_runs_business} = 'yes'"
NO_INTERNET = f"not({HAS_INTERNET}) and ${{h_broadband}} != ''"
NO_HH_ECOMMERCE = "${h_hh_ecommerce} = 'no'"
NOT_SELLING_ONLINE = f"{BUSINESS} and selected(${{h_platforms}}, 'none')"
CASH_ONLY = f"{BUSINESS} and selected(${{h_cashless}}, 'none')"
NOTHING_LACKING = (f"${{no_eid}} = '' and ${{no_smartphone}} = '' and ${{no_payment}} = '' and "
                   f"${{no_public_services}} = '' and ${{no_signature}} = '' and not({NO_INTERNET}) and "
                   f"not({NO_HH_ECOMMERCE}) and not({NOT_SELLING_ONLINE}) and not({CASH_ONLY})")

SURVEY: list[dict] = [
    *METADATA,

    # Which household
    q("begin_group", "where", ("Chọn hộ cần thăm lại", "Choose the household to visit again")),
    *area_cascade(),
    q("select_one_from_file households.csv", "household", ("Hộ gia đình", "Household"),
      required=True, choice_filter="area_code=${village}", appearance="autocomplete",
      hint=("Gõ vài chữ của tên chủ hộ hoặc địa chỉ để tìm nhanh.",
            "Type part of the head's name or the address to find it.")),
    q("end_group", "where"),

    # What the register says about the household
    q("calculate", "h_label", calculation=lookup("label")),
    q("calculate", "h_roster", calculation=lookup("roster")),
    q("calculate", "h_phone", calculation=lookup("phone")),
    q("calculate", "h_aged_14", calculation=lookup("aged_14")),
    q("calculate", "h_aged_15", calculation=lookup("aged_15")),
    q("calculate", "h_vneid", calculation=lookup("vneid_level2")),
    q("calculate", "h_smartphone", calculation=lookup("smartphone")),
    q("calculate", "h_bank", calculation=lookup("bank_account")),
    q("calculate", "h_ewallet", calculation=lookup("ewallets")),
    q("calculate", "h_public_services", calculation=lookup("public_services_account")),
    q("calculate", "h_signature", calculation=lookup("digital_signature")),
    q("calculate", "h_broadband", calculation=lookup("fixed_broadband")),
    q("calculate", "h_hh_ecommerce", calculation=lookup("hh_ecommerce")),
    q("calculate", "h_runs_business", calculation=lookup("runs_business")),
    q("calculate", "h_platforms", calculation=lookup("ecommerce_platforms")),
    q("calculate", "h_cashless", calculation=lookup("cashless")),
    q("calculate", "no_eid", calculation=lacking("h_aged_14", "h_vneid")),
    q("calculate", "no_smartphone", calculation=lacking("h_aged_15", "h_smartphone")),
    q("calculate", "no_payment", calculation=lacking("h_aged_15", "h_bank", "h_ewallet")),
    q("calculate", "no_public_services", calculation=lacking("h_aged_15", "h_public_services")),
    q("calculate", "no_signature", calculation=lacking("h_aged_15", "h_signature")),

    q("begin_group", "lacks", ("Hộ này còn thiếu gì", "What this household still lacks")),
    q("note", "about_household",
      ("Hộ: ${h_label}. Số điện thoại: ${h_phone}. Các thành viên: ${h_roster}.",
       "Household: ${h_label}. Phone: ${h_phone}. Members: ${h_roster}.")),
    *(lacks_note(thing, vi, en) for thing, vi, en in LACKING_MEMBERS),
    q("note", "lacks_internet", ("Nhà chưa có Internet cố định (cáp quang, cáp truyền hình hoặc ADSL).",
                                 "The home has no fixed internet (fibre, cable or ADSL)."), relevant=NO_INTERNET),
    q("note", "lacks_hh_ecommerce", ("Hộ chưa có tài khoản mua bán trên sàn thương mại điện tử.",
                                     "The household has no e-commerce account."), relevant=NO_HH_ECOMMERCE),
    q("note", "lacks_selling_online", ("Hộ kinh doanh chưa bán hàng trên mạng.",
                                       "The household business does not sell online yet."),
      relevant=NOT_SELLING_ONLINE),
    q("note", "lacks_cashless", ("Hộ kinh doanh mới chỉ nhận tiền mặt.", "The household business takes cash only."),
      relevant=CASH_ONLY),
    q("note", "lacks_nothing", ("Hộ này không còn thiếu gì trong các chỉ tiêu.",
                                "This household lacks nothing the indicators count."), relevant=NOTHING_LACKING),
    q("end_group", "lacks"),

    # The visit
    q("begin_group", "visit", ("Buổi hỗ trợ hôm nay", "Today's visit")),
    q("text", "enumerator_code", ("Mã thành viên tổ công nghệ số (người đến hỗ trợ)",
                                  "Community digital team member code (who visited)"),
      required=True, **ENUMERATOR_CODE),
    q("select_multiple help", "help_given", ("Hôm nay tổ đã giúp hộ những việc gì?",
                                             "What did the team help the household with today?"),
      required=True, hint=("Chọn tất cả việc đã làm.", "Choose everything done.")),
    q("end_group", "visit"),

    q("begin_group", "changes", ("Sau buổi hỗ trợ, hộ đã có thêm gì", "What the household has now")),
    members_now("got_eid", "no_eid", ("Ai đã có tài khoản VNeID mức 2?", "Who now has a level-2 VNeID account?")),
    members_now("got_smartphone", "no_smartphone", ("Ai đã có điện thoại thông minh?", "Who now has a smartphone?")),
    members_now("got_bank", "no_payment", ("Ai đã mở tài khoản ngân hàng?", "Who now has a bank account?")),
    members_now("got_ewallet", "no_payment", ("Ai đã dùng ví điện tử (MoMo, ViettelPay…)?",
                                              "Who now uses an e-wallet (MoMo, ViettelPay…)?"),
                extra_filter="not(selected(${got_bank}, name))"),
    members_now("got_public_services", "no_public_services",
                ("Ai đã có tài khoản và nộp hồ sơ dịch vụ công trực tuyến?",
                 "Who now has an online public-services account and has used it?")),
    members_now("got_signature", "no_signature", ("Ai đã có chữ ký số?", "Who now has a digital signature?")),
    q("select_one broadband", "new_broadband", ("Nhà đã lắp Internet cố định chưa? Loại nào?",
                                                "Does the home have fixed internet now? Which kind?"),
      relevant=NO_INTERNET),
    q("select_one yes_no", "new_hh_ecommerce", ("Hộ đã có tài khoản trên sàn thương mại điện tử chưa?",
                                                "Does the household have an e-commerce account now?"),
      relevant=NO_HH_ECOMMERCE),
    q("select_multiple platform", "new_platforms", ("Hộ kinh doanh đã bán hàng trên những sàn, kênh nào?",
                                                    "Where does the business sell online now?"),
      relevant=NOT_SELLING_ONLINE, **none_alone("Không bán trực tuyến", "Does not sell online")),
    q("select_multiple cashless", "new_cashless", ("Hộ kinh doanh đã nhận thanh toán không dùng tiền mặt nào?",
                                                   "Which cashless payments does the business accept now?"),
      relevant=CASH_ONLY, **none_alone("Chỉ nhận tiền mặt", "Cash only")),
    q("text", "notes", ("Ghi chú (việc cần làm lần sau…)", "Notes (what to do next time…)"), appearance="multiline"),
    q("end_group", "changes"),

    # The household's state after the visit: every property is written, the unchanged ones as they were.
    q("calculate", "s_vneid", save_to="vneid_level2", calculation=added("h_vneid", "got_eid")),
    q("calculate", "s_smartphone", save_to="smartphone", calculation=added("h_smartphone", "got_smartphone")),
    q("calculate", "s_bank", save_to="bank_account", calculation=added("h_bank", "got_bank")),
    q("calculate", "s_ewallet", save_to="ewallets", calculation=added("h_ewallet", "got_ewallet")),
    q("calculate", "s_public_services", save_to="public_services_account",
      calculation=added("h_public_services", "got_public_services")),
    q("calculate", "s_signature", save_to="digital_signature", calculation=added("h_signature", "got_signature")),
    q("calculate", "s_broadband", save_to="fixed_broadband", calculation=kept("new_broadband", "h_broadband")),
    q("calculate", "s_hh_ecommerce", save_to="hh_ecommerce", calculation=kept("new_hh_ecommerce", "h_hh_ecommerce")),
    q("calculate", "s_platforms", save_to="ecommerce_platforms", calculation=kept("new_platforms", "h_platforms")),
    q("calculate", "s_cashless", save_to="cashless", calculation=kept("new_cashless", "h_cashless")),
    q("calculate", "s_last_visit", save_to="last_visit", calculation="${today}"),
]

MEMBER_CHOICES = [("member", str(n), f"Thành viên số {n}", f"Member no. {n}") for n in range(1, MAX_MEMBERS + 1)]
CHOICES = [c for c in SURVEY_CHOICES if c[0] in ("yes_no", "broadband", "platform", "cashless")] + \
    [c for c in SURVEY_CHOICES if c[0] == "help" and c[1] != "none"] + MEMBER_CHOICES

SETTINGS = {
    "form_title": "Thăm lại hộ gia đình",
    "form_id": FORM_ID,
    "version": VERSION,
    "default_language": VI,
    "instance_name": "concat('Thăm lại – ', ${h_label})",
}

# Updates the chosen household; baseVersion comes from households.csv (pyxform writes it).
ENTITIES = {"list_name": "households", "entity_id": "${household}"}


def build_workbook() -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    header, rows = _survey_rows(SURVEY)
    sheet(wb, "survey", header, rows, {
        "type": 34, "name": 24, "label": 60, "hint": 40, "relevant": 30, "constraint": 34,
        "constraint_message": 36, "choice_filter": 36, "parameters": 30, "calculation": 60,
    })
    sheet(wb, "choices", ["list_name", "name", f"label::{VI}", f"label::{EN}"],
           [[nfc(x) for x in row] for row in CHOICES], {"list_name": 16, "name": 20, "label": 44})
    sheet(wb, "settings", list(SETTINGS), [[nfc(v) for v in SETTINGS.values()]],
           {"form_title": 40, "form_id": 28, "version": 14, "default_language": 18, "instance_name": 60})
    sheet(wb, "entities", list(ENTITIES), [list(ENTITIES.values())], {"list_name": 16, "entity_id": 24})
    fix_properties(wb, SETTINGS["form_title"])
    return wb


if __name__ == "__main__":
    sys.exit(write(build_workbook, OUTPUT, sys.argv))
