"""Build `household_digital_survey.xlsx`, the household digital-adoption questionnaire (survey-spec.md §1).

    python xlsforms/build_household_survey.py

rewrites the workbook next to this script (or at the path given as the first argument). The output
is byte-for-byte deterministic for a given openpyxl version: fixed document properties, fixed zip
timestamps, and openpyxl's stdlib XML writer whether or not lxml is installed.

The form's media is `areas.csv` (the area registry of survey-spec.md §3): the province → district →
commune → village cascade is `select_one_from_file areas.csv` with `value=code label=name`.

Labels are Vietnamese first (`label::Tiếng Việt (vi)`), English second (`label::English (en)`).
Choice `name`s are stable English values (`yes`, `no`, `dont_know`, `momo`, `shopee`, …) that the
indicator expressions of survey-spec.md §2 rely on; do not rename them.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workbook import EN, TRANSLATED, VI, Workbook, fix_properties, nfc, sheet, write

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "household_digital_survey.xlsx"

FORM_ID = "household_digital_survey"
VERSION = "2026112301"

CONSENTED = "${consent} = 'yes'"
AGE_15 = "${age} >= 15"
# A level-2 VNeID account comes with the chip-based citizen ID card, issued from age 14; the
# `resident_eid` indicator counts residents aged 14 and over, so the question is asked from 14.
AGE_14 = "${age} >= 14"
RUNS_BUSINESS = "${runs_business} = 'yes'"


def none_alone(vi_none: str, en_none: str) -> dict:
    """Constraint for a select_multiple whose `none` choice cannot be combined with the others."""
    return {
        "constraint": "not(selected(., 'none') and count-selected(.) > 1)",
        "constraint_message": (
            f"Không thể chọn “{vi_none}” cùng với các lựa chọn khác.",
            f"“{en_none}” cannot be combined with other answers.",
        ),
    }


# A team member's code, as on the team list (e.g. HP-07).
ENUMERATOR_CODE = {
    "constraint": "regex(., '^[A-Za-z0-9_-]{2,20}$')",
    "constraint_message": ("Mã gồm 2–20 ký tự: chữ cái không dấu, chữ số, dấu gạch ngang hoặc gạch dưới.",
                           "The code has 2–20 characters: letters without diacritics, digits, hyphens or underscores."),
}

REQUIRED_MESSAGE = ("Câu hỏi này bắt buộc phải trả lời.", "This question requires an answer.")


def q(type_: str, name: str, label: tuple[str, str] | None = None, *, required: bool = False,
      **extra) -> dict:
    row = {"type": type_, "name": name}
    if label is not None:
        row["label"] = label
    if required:
        row["required"] = "yes"
        row["required_message"] = REQUIRED_MESSAGE
    row.update(extra)
    return row


# --------------------------------------------------------------------------------------------
# The household register (the `households` Entity List; docs/entities.md, docs/indicators.md)
# --------------------------------------------------------------------------------------------

MEMBERS = "${members}"


def members_who(condition: str) -> str:
    """The roster numbers (`member_no`, space-separated) of the members meeting `condition`."""
    return f"join(' ', {MEMBERS}[{condition}]/member_no)"


# A roster property lists the members whose answer to the question it is named after is `yes`
# (docs/indicators.md, "A household's latest state"); the follow-up form adds to these lists.
REGISTER: list[dict] = [
    q("calculate", "reg_head_name", save_to="head_name",
      calculation=f"if(count({MEMBERS}[relation = 'head']) > 0, {MEMBERS}[relation = 'head'][1]/member_name, "
                  "${respondent_name})"),
    q("calculate", "reg_roster", save_to="roster", calculation=f"join('; ', {MEMBERS}/member_label)"),
    q("calculate", "reg_aged_14", save_to="aged_14", calculation=members_who("age >= 14")),
    q("calculate", "reg_aged_15", save_to="aged_15", calculation=members_who("age >= 15")),
    q("calculate", "reg_vneid", save_to="vneid_level2", calculation=members_who("vneid_level2 = 'yes'")),
    q("calculate", "reg_smartphone", save_to="smartphone", calculation=members_who("smartphone = 'yes'")),
    q("calculate", "reg_bank", save_to="bank_account", calculation=members_who("bank_account = 'yes'")),
    q("calculate", "reg_ewallet", save_to="ewallets",
      calculation=members_who("count-selected(ewallets) > 0 and not(selected(ewallets, 'none'))")),
    q("calculate", "reg_public_services", save_to="public_services_account",
      calculation=members_who("public_services_account = 'yes'")),
    q("calculate", "reg_signature", save_to="digital_signature", calculation=members_who("digital_signature = 'yes'")),
]

# The entities sheet: every household becomes a row of `households`, labelled by its head and address.
ENTITIES = {
    "list_name": "households",
    "label": "concat(if(${reg_head_name} != '', ${reg_head_name}, 'Hộ chưa rõ tên'), ' – ', ${address})",
}

# --------------------------------------------------------------------------------------------
# survey sheet
# --------------------------------------------------------------------------------------------

AREA_PARAMETERS = "value=code label=name"


def area_cascade(**village: str) -> list[dict]:
    """Province → district → commune → village from `areas.csv`; `village` adds to the last question."""
    return [
        q("select_one_from_file areas.csv", "province", ("Tỉnh/Thành phố", "Province / municipality"),
          required=True, choice_filter="level='province'", parameters=AREA_PARAMETERS),
        q("select_one_from_file areas.csv", "district", ("Quận/Huyện/Thị xã/Thành phố", "District / town / city"),
          required=True, choice_filter="level='district' and parent=${province}", parameters=AREA_PARAMETERS),
        q("select_one_from_file areas.csv", "commune", ("Xã/Phường/Thị trấn", "Commune / ward / township"),
          required=True, choice_filter="level='commune' and parent=${district}", parameters=AREA_PARAMETERS),
        q("select_one_from_file areas.csv", "village",
          ("Thôn/Ấp/Buôn/Khu phố/Tổ dân phố", "Village / hamlet / residential group"),
          required=True, choice_filter="level='village' and parent=${commune}", parameters=AREA_PARAMETERS,
          **village),
    ]


# Who filled the form in, when and on which device.
METADATA: list[dict] = [
    q("start", "start"),
    q("end", "end"),
    q("today", "today"),
    q("deviceid", "deviceid"),
    q("username", "username"),
]

SURVEY: list[dict] = [
    *METADATA,

    # Where
    q("begin_group", "location", ("Địa bàn khảo sát", "Survey location")),
    *area_cascade(save_to="area_code"),
    q("calculate", "village_name", calculation="instance('areas')/root/item[code=${village}]/name"),
    q("text", "address", ("Số nhà, tên đường (hoặc mô tả vị trí nhà)", "House number and street (or where the house is)"),
      required=True, save_to="address",
      hint=("Ví dụ: 45 Lê Độ, hoặc “nhà thứ ba sau nhà văn hóa thôn”.",
            "For example: 45 Lê Độ, or “third house past the village hall”.")),
    q("geopoint", "gps", ("Vị trí GPS của hộ", "Household GPS location"),
      parameters="capture-accuracy=10 warning-accuracy=20",
      hint=("Không bắt buộc. Đứng trước cửa nhà và chờ độ chính xác dưới 10 m.",
            "Optional. Stand at the front door and wait for an accuracy better than 10 m.")),
    q("image", "house_photo", ("Ảnh biển số nhà", "Photo of the house number plate"),
      parameters="max-pixels=1024",
      hint=("Không bắt buộc. Chỉ chụp biển số nhà, không chụp người.",
            "Optional. Photograph only the number plate, not people.")),
    q("end_group", "location"),

    # Consent and respondent
    q("begin_group", "respondent", ("Người trả lời", "Respondent")),
    q("text", "enumerator_code", ("Mã thành viên Tổ công nghệ số cộng đồng (người phỏng vấn)",
                                  "Community digital team member code (enumerator)"),
      required=True,
      **ENUMERATOR_CODE,
      hint=("Mã của thành viên trong danh sách tổ, ví dụ HP-07.",
            "The member's code from the team list, e.g. HP-07.")),
    q("select_one yes_no", "consent",
      ("Xin chào anh/chị. Tôi là thành viên Tổ công nghệ số cộng đồng. Chúng tôi đang tìm hiểu việc "
       "sử dụng Internet và các dịch vụ số của các hộ gia đình để hỗ trợ bà con. Thông tin chỉ dùng "
       "cho công tác thống kê và hỗ trợ của địa phương. Anh/chị có đồng ý trả lời không?",
       "Hello. I am a member of the community digital technology team. We are finding out how "
       "households use the internet and digital services so that we can help. The answers are used "
       "only for local statistics and support. Do you agree to take part?"),
      required=True),
    q("note", "refused_note",
      ("Người được hỏi không đồng ý tham gia. Hãy lưu và hoàn tất phiếu.",
       "The respondent did not agree to take part. Save and finalise the form."),
      relevant="${consent} = 'no'"),
    q("text", "respondent_name", ("Họ và tên người trả lời", "Respondent's full name"),
      required=True, relevant=CONSENTED),
    q("select_one relation", "respondent_role",
      ("Quan hệ của người trả lời với chủ hộ", "Respondent's relation to the head of household"),
      required=True, relevant=CONSENTED),
    q("text", "phone", ("Số điện thoại di động", "Mobile phone number"),
      relevant=CONSENTED, appearance="numbers", save_to="phone",
      constraint="regex(., '^0[35789][0-9]{8}$')",
      constraint_message=("Số di động gồm 10 chữ số, bắt đầu bằng 03, 05, 07, 08 hoặc 09.",
                          "A mobile number has 10 digits and starts with 03, 05, 07, 08 or 09."),
      hint=("Bỏ trống nếu hộ không có điện thoại.", "Leave blank if the household has no phone.")),
    q("end_group", "respondent"),

    # Household
    q("begin_group", "household", ("Hộ gia đình", "Household"), relevant=CONSENTED),
    q("select_one broadband", "fixed_broadband",
      ("Nhà anh/chị có lắp Internet cố định (băng rộng) không? Nếu có, là loại nào?",
       "Does the household have fixed broadband internet at home? If so, which kind?"),
      required=True, save_to="fixed_broadband"),
    q("select_one yes_no", "mobile_data",
      ("Hộ có sử dụng dữ liệu di động (3G/4G/5G) không?", "Does the household use mobile data (3G/4G/5G)?"),
      required=True),
    q("select_one yes_no_dk", "public_wifi",
      ("Gần nhà có điểm Wi-Fi công cộng miễn phí không?", "Is there free public Wi-Fi near the home?"),
      required=True),
    q("integer", "household_size",
      ("Hộ có bao nhiêu nhân khẩu thường xuyên sinh sống?", "How many people usually live in the household?"),
      required=True,
      constraint=". >= 1 and . <= 30",
      constraint_message=("Số nhân khẩu phải từ 1 đến 30.", "The number of household members must be between 1 and 30.")),
    q("select_one yes_no", "hh_ecommerce",
      ("Hộ có ít nhất một tài khoản trên sàn thương mại điện tử (Shopee, Lazada, Tiki, TikTok Shop…) không?",
       "Does the household have at least one account on an e-commerce platform (Shopee, Lazada, Tiki, TikTok Shop…)?"),
      required=True, save_to="hh_ecommerce"),
    q("select_one yes_no", "cashless_bills",
      ("Hộ có thanh toán tiền điện, tiền nước không dùng tiền mặt không?",
       "Does the household pay its electricity and water bills without cash?"),
      required=True),

    # Members
    q("begin_repeat", "members", ("Thành viên trong hộ", "Household members"),
      repeat_count="${household_size}"),
    q("calculate", "member_no", calculation="position(..)"),
    q("calculate", "member_label", calculation="concat(${member_no}, '. ', ${member_name}, ' (', ${age}, ')')"),
    q("text", "member_name", ("Họ và tên thành viên thứ ${member_no}", "Full name of member ${member_no}"),
      required=True,
      hint=("Bắt đầu từ chủ hộ.", "Start with the head of household.")),
    q("select_one sex", "sex", ("Giới tính của ${member_name}", "Sex of ${member_name}"), required=True),
    q("integer", "age", ("Tuổi của ${member_name} (tròn năm)", "Age of ${member_name} (completed years)"),
      required=True,
      constraint=". >= 0 and . <= 120",
      constraint_message=("Tuổi phải từ 0 đến 120.", "Age must be between 0 and 120."),
      hint=("Ghi 0 nếu trẻ dưới 1 tuổi.", "Enter 0 for a child under one year old.")),
    q("select_one relation", "relation",
      ("Quan hệ của ${member_name} với chủ hộ", "Relation of ${member_name} to the head of household"),
      required=True),
    q("select_one yes_no", "smartphone",
      ("${member_name} có điện thoại thông minh không?", "Does ${member_name} own a smartphone?"),
      required=True, relevant=AGE_15),
    q("select_one yes_no", "vneid_level2",
      ("${member_name} đã có tài khoản định danh điện tử mức độ 2 (VNeID) chưa?",
       "Does ${member_name} have a level-2 electronic identification account (VNeID)?"),
      required=True, relevant=AGE_14),
    q("select_one yes_no", "bank_account",
      ("${member_name} có tài khoản ngân hàng không?", "Does ${member_name} have a bank account?"),
      required=True, relevant=AGE_15),
    q("select_multiple ewallet", "ewallets",
      ("${member_name} đang dùng những ví điện tử nào?", "Which e-wallets does ${member_name} use?"),
      required=True, relevant=AGE_15,
      hint=("Chọn tất cả các ví đang dùng.", "Select every e-wallet in use."),
      **none_alone("Không dùng ví điện tử", "None")),
    q("select_one yes_no", "public_services_account",
      ("${member_name} có tài khoản dịch vụ công trực tuyến và đã sử dụng trong 12 tháng qua không?",
       "Does ${member_name} have an online public-services account and has used it in the last 12 months?"),
      required=True, relevant=AGE_15),
    q("select_one yes_no", "shopped_online",
      ("Trong 12 tháng qua, ${member_name} có mua hàng trực tuyến không?",
       "Has ${member_name} shopped online in the last 12 months?"),
      required=True, relevant=AGE_15),
    q("select_one yes_no", "digital_signature",
      ("${member_name} có chữ ký số cá nhân không?", "Does ${member_name} have a personal digital signature?"),
      required=True, relevant=AGE_15),
    q("select_one yes_no", "digital_guidance",
      ("${member_name} đã được Tổ công nghệ số cộng đồng hướng dẫn kỹ năng số chưa?",
       "Has ${member_name} received digital-skills guidance from the community digital team?"),
      required=True, relevant=AGE_15),
    q("end_repeat", "members"),
    q("end_group", "household"),

    # Household business
    q("begin_group", "business", ("Hộ kinh doanh", "Household business"), relevant=CONSENTED),
    q("select_one yes_no", "runs_business",
      ("Hộ có đang sản xuất, kinh doanh (cửa hàng, quán ăn, dịch vụ, nông sản…) không?",
       "Does the household run a business (shop, eatery, service, farm produce…)?"),
      required=True, save_to="runs_business"),
    q("select_one business_type", "business_type",
      ("Ngành nghề kinh doanh chính của hộ", "Main line of business"),
      required=True, relevant=RUNS_BUSINESS),
    q("select_multiple platform", "ecommerce_platforms",
      ("Hộ bán hàng trên những sàn, kênh thương mại điện tử nào?",
       "On which e-commerce platforms or channels does the business sell?"),
      required=True, save_to="ecommerce_platforms", relevant=RUNS_BUSINESS,
      **none_alone("Không bán trực tuyến", "Does not sell online")),
    q("select_multiple cashless", "cashless",
      ("Hộ kinh doanh nhận thanh toán không dùng tiền mặt bằng những hình thức nào?",
       "Which cashless payments does the business accept?"),
      required=True, save_to="cashless", relevant=RUNS_BUSINESS,
      **none_alone("Chỉ nhận tiền mặt", "Cash only")),
    q("select_one yes_no", "e_invoice",
      ("Hộ kinh doanh có sử dụng hóa đơn điện tử không?", "Does the business issue electronic invoices?"),
      required=True, relevant=RUNS_BUSINESS),
    q("select_one yes_no", "ocop",
      ("Hộ có sản phẩm được công nhận OCOP (Chương trình Mỗi xã một sản phẩm) không?",
       "Does the business have products certified under OCOP (One Commune One Product)?"),
      required=True, relevant=RUNS_BUSINESS),
    q("end_group", "business"),

    # Closing
    q("begin_group", "closing", ("Kết thúc phỏng vấn", "Closing"), relevant=CONSENTED),
    q("select_multiple help", "needs_help",
      ("Hộ cần Tổ công nghệ số cộng đồng hỗ trợ những việc gì?",
       "What does the household need help with from the community digital team?"),
      required=True,
      hint=("Tổ sẽ quay lại hỗ trợ theo danh sách này.", "The team plans follow-up visits from this list."),
      **none_alone("Không cần hỗ trợ", "No help needed")),
    q("text", "notes", ("Ghi chú của người phỏng vấn", "Enumerator's notes"), appearance="multiline"),
    q("end_group", "closing"),

    # The household in the `households` Entity List: what the follow-up form shows and updates.
    *REGISTER,
]

# --------------------------------------------------------------------------------------------
# choices sheet: (list_name, name, Vietnamese label, English label)
# --------------------------------------------------------------------------------------------

CHOICES: list[tuple[str, str, str, str]] = [
    ("yes_no", "yes", "Có", "Yes"),
    ("yes_no", "no", "Không", "No"),

    ("yes_no_dk", "yes", "Có", "Yes"),
    ("yes_no_dk", "no", "Không", "No"),
    ("yes_no_dk", "dont_know", "Không biết", "Don't know"),

    ("broadband", "fibre", "Cáp quang (FTTH)", "Fibre (FTTH)"),
    ("broadband", "cable", "Cáp đồng trục (mạng truyền hình cáp)", "Cable (coaxial, cable TV network)"),
    ("broadband", "adsl", "ADSL (qua đường dây điện thoại)", "ADSL (over the telephone line)"),
    ("broadband", "none", "Không có Internet cố định", "No fixed internet"),
    ("broadband", "dont_know", "Không biết", "Don't know"),

    ("sex", "male", "Nam", "Male"),
    ("sex", "female", "Nữ", "Female"),

    ("relation", "head", "Chủ hộ", "Head of household"),
    ("relation", "spouse", "Vợ/chồng", "Spouse"),
    ("relation", "child", "Con", "Child"),
    ("relation", "parent", "Bố/mẹ", "Parent"),
    ("relation", "other_relative", "Họ hàng khác", "Other relative"),
    ("relation", "other", "Khác (không phải họ hàng)", "Other (not related)"),

    ("ewallet", "momo", "MoMo", "MoMo"),
    ("ewallet", "viettel_money", "Viettel Money (ViettelPay)", "Viettel Money (ViettelPay)"),
    ("ewallet", "vnpt_money", "VNPT Money (VNPT Pay)", "VNPT Money (VNPT Pay)"),
    ("ewallet", "zalopay", "ZaloPay", "ZaloPay"),
    ("ewallet", "shopeepay", "ShopeePay", "ShopeePay"),
    ("ewallet", "vnpay", "VNPay", "VNPay"),
    ("ewallet", "other", "Ví điện tử khác", "Other e-wallet"),
    ("ewallet", "none", "Không dùng ví điện tử", "None"),

    ("business_type", "retail", "Bán lẻ, tạp hóa", "Retail, grocery"),
    ("business_type", "food_service", "Ăn uống (quán ăn, quán cà phê)", "Food and drink (eatery, café)"),
    ("business_type", "agriculture", "Nông sản, chăn nuôi, thủy sản", "Farm produce, livestock, fisheries"),
    ("business_type", "handicraft", "Thủ công mỹ nghệ, sản xuất nhỏ", "Handicrafts, small-scale manufacturing"),
    ("business_type", "services", "Dịch vụ (sửa chữa, cắt tóc, vận tải…)", "Services (repairs, hairdressing, transport…)"),
    ("business_type", "other", "Khác", "Other"),

    ("platform", "shopee", "Shopee", "Shopee"),
    ("platform", "lazada", "Lazada", "Lazada"),
    ("platform", "tiki", "Tiki", "Tiki"),
    ("platform", "tiktok_shop", "TikTok Shop", "TikTok Shop"),
    ("platform", "postmart", "Postmart", "Postmart"),
    ("platform", "voso", "Voso", "Voso"),
    ("platform", "facebook_zalo", "Bán hàng qua Facebook/Zalo", "Facebook / Zalo shop"),
    ("platform", "none", "Không bán trực tuyến", "Does not sell online"),

    ("cashless", "qr_code", "Quét mã QR", "QR code"),
    ("cashless", "bank_transfer", "Chuyển khoản ngân hàng", "Bank transfer"),
    ("cashless", "ewallet", "Ví điện tử", "E-wallet"),
    ("cashless", "none", "Chỉ nhận tiền mặt", "Cash only"),

    ("help", "vneid", "Kích hoạt tài khoản định danh điện tử (VNeID)", "Activating a VNeID electronic ID account"),
    ("help", "bank_account", "Mở tài khoản ngân hàng", "Opening a bank account"),
    ("help", "ewallet", "Cài đặt và sử dụng ví điện tử", "Setting up and using an e-wallet"),
    ("help", "internet", "Lắp đặt Internet", "Getting an internet connection"),
    ("help", "smartphone", "Sử dụng điện thoại thông minh", "Using a smartphone"),
    ("help", "public_services", "Sử dụng dịch vụ công trực tuyến", "Using online public services"),
    ("help", "ecommerce", "Đưa sản phẩm lên sàn thương mại điện tử", "Selling on e-commerce platforms"),
    ("help", "digital_signature", "Đăng ký chữ ký số", "Getting a digital signature"),
    ("help", "none", "Không cần hỗ trợ", "No help needed"),
]

SETTINGS = {
    "form_title": "Khảo sát chuyển đổi số hộ gia đình",
    "form_id": FORM_ID,
    "version": VERSION,
    "default_language": VI,
    "instance_name": "concat(${village_name}, ' – ', if(${consent} = 'yes', ${respondent_name}, 'từ chối'))",
}

# --------------------------------------------------------------------------------------------
# workbook
# --------------------------------------------------------------------------------------------

SURVEY_COLUMNS = [
    "type", "name",
    "label", "hint",
    "required", "required_message",
    "relevant",
    "constraint", "constraint_message",
    "appearance", "choice_filter", "parameters", "repeat_count", "calculation", "save_to",
]


def _expand(column: str) -> list[str]:
    if column in TRANSLATED:
        return [f"{column}::{VI}", f"{column}::{EN}"]
    return [column]


def _survey_rows(survey: list[dict] | None = None) -> tuple[list[str], list[list[str]]]:
    """The survey sheet's header and rows (of this form, or of `survey`: the follow-up form's)."""
    survey = SURVEY if survey is None else survey
    used = [c for c in SURVEY_COLUMNS if any(c in row for row in survey)]
    unknown = {k for row in survey for k in row} - set(SURVEY_COLUMNS)
    assert not unknown, f"unknown survey columns: {unknown}"
    header = [h for c in used for h in _expand(c)]
    rows = []
    for row in survey:
        cells: list[str] = []
        for c in used:
            value = row.get(c)
            if c in TRANSLATED:
                vi, en = value if value is not None else ("", "")
                cells += [nfc(vi), nfc(en)]
            else:
                cells.append(nfc(value) if value is not None else "")
        rows.append(cells)
    return header, rows


def build_workbook() -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    header, rows = _survey_rows()
    sheet(wb, "survey", header, rows, {
        "type": 34, "name": 24, "label": 60, "hint": 40, "required_message": 28,
        "relevant": 24, "constraint": 34, "constraint_message": 36, "choice_filter": 36,
        "parameters": 30, "repeat_count": 18, "calculation": 44,
    })
    choice_header = ["list_name", "name", f"label::{VI}", f"label::{EN}"]
    choice_rows = [[nfc(x) for x in row] for row in CHOICES]
    sheet(wb, "choices", choice_header, choice_rows, {"list_name": 16, "name": 20, "label": 44})
    sheet(wb, "settings", list(SETTINGS), [[nfc(v) for v in SETTINGS.values()]],
           {"form_title": 40, "form_id": 28, "version": 14, "default_language": 18, "instance_name": 60})
    sheet(wb, "entities", list(ENTITIES), [[nfc(v) for v in ENTITIES.values()]], {"list_name": 16, "label": 80})
    fix_properties(wb, SETTINGS["form_title"])
    return wb


if __name__ == "__main__":
    sys.exit(write(build_workbook, OUTPUT, sys.argv))
