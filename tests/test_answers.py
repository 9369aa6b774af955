"""A submission's answers as a person reads them (server/xforms/answers.py), alone: labels in each
language, groups as sections, the roster as rows, and the differences between two versions."""
from __future__ import annotations

import random
from functools import lru_cache

from helpers import XLSFORMS
from server.synthetic import random_household, to_xml
from server.xforms.answers import Answer, Roster, changes, read_answers
from server.xforms.labels import fields_choosing_from, read_labels
from server.xforms.schema import read_schema
from server.xforms.submission import read_identity, read_rows


@lru_cache(maxsize=1)
def survey_xml() -> str:
    from server.xforms.xlsform import convert

    return convert((XLSFORMS / "household_digital_survey.xlsx").read_bytes(), "xlsx", "survey").xml


def parsed(h):
    root, p = read_identity(to_xml(h))
    return read_rows(root, p, read_schema(survey_xml()))


def household(members=3):
    h = random_household(random.Random(5), "DN-HV-HP-01", members=members)
    h.fixed_broadband = "fibre"
    h.members[0].answers["ewallets"] = "momo zalopay"
    return h


def test_groups_become_sections_with_labelled_answers_and_choice_labels():
    h = household()
    sections = read_answers(read_schema(survey_xml()), read_labels(survey_xml(), "vi"), parsed(h))
    assert [s.label for s in sections[:4]] == ["Địa bàn khảo sát", "Người trả lời", "Hộ gia đình", "Hộ kinh doanh"]
    assert sections[-1].is_metadata and {a.name for a in sections[-1].items} >= {"start", "instanceID"}
    answers = {a.name: a for s in sections for a in s.items if isinstance(a, Answer)}
    assert answers["fixed_broadband"].text == "Cáp quang (FTTH)" and answers["fixed_broadband"].value == "fibre"
    assert answers["respondent_name"].label == "Họ và tên người trả lời"
    assert answers["respondent_name"].text == h.respondent
    assert answers["village"].text == "DN-HV-HP-01"  # file choices have no labels of their own…
    area = read_answers(read_schema(survey_xml()), read_labels(survey_xml(), "vi"), parsed(h),
                        {"location/village": {"DN-HV-HP-01": "Thôn Giáng Nam 1"}})
    assert {a.name: a.text for s in area for a in s.items if isinstance(a, Answer)}["village"] == "Thôn Giáng Nam 1"


def test_the_roster_is_one_row_per_member_with_references_filled_in():
    h = household(members=3)
    sections = read_answers(read_schema(survey_xml()), read_labels(survey_xml(), "en"), parsed(h))
    [roster] = [i for s in sections for i in s.items if isinstance(i, Roster)]
    assert roster.label == "Household members" and [r.number for r in roster.rows] == [1, 2, 3]
    sex = next(i for i, c in enumerate(roster.columns) if c.name == "sex")
    assert roster.columns[sex].label == "Sex of …"                      # a heading for every row
    assert roster.rows[1].cells[sex].label == f"Sex of {h.members[1].name}"  # each cell names its member
    wallets = next(i for i, c in enumerate(roster.columns) if c.name == "ewallets")
    assert roster.rows[0].cells[wallets].text == "MoMo; ZaloPay"


def test_changes_between_versions_name_the_question_and_the_roster_row():
    before = household()
    after = household()
    after.members[2].age = 99
    after.fixed_broadband = "none"
    found = changes(read_schema(survey_xml()), read_labels(survey_xml(), "vi"), parsed(before), parsed(after))
    assert [(c.roster, c.row, c.label, c.before, c.after) for c in found] == [
        (None, None, "Nhà anh/chị có lắp Internet cố định (băng rộng) không? Nếu có, là loại nào?",
         "Cáp quang (FTTH)", "Không có Internet cố định"),
        ("Thành viên trong hộ", 3, "Tuổi của … (tròn năm)", str(before.members[2].age), "99"),
    ]
    fewer = household(members=2)
    gone = changes(read_schema(survey_xml()), read_labels(survey_xml(), "vi"), parsed(before), parsed(fewer))
    assert any(c.row == 3 and c.after is None for c in gone)
    assert changes(read_schema(survey_xml()), read_labels(survey_xml(), "vi"), parsed(before), parsed(before)) == []


def test_the_area_cascade_is_found_from_its_media_file():
    assert fields_choosing_from(survey_xml(), "areas.csv") == [
        "location/province", "location/district", "location/commune", "location/village"]
    assert fields_choosing_from(survey_xml(), "other.csv") == []

