"""Exports for people and programs beyond Central's CSV: Excel, GeoJSON, the person-level table,
labels, BOM, filters by area, date and review state, and the `hamlet export` command.

Central's own CSV cases are in test_export_central.py; this file uses the shipped household survey."""
from __future__ import annotations

import csv
import io
import json
import random
import unicodedata
import zipfile

from openpyxl import load_workbook

from collect import submit
from helpers import FORM, table
from server.synthetic import random_household, to_xml


def test_the_xlsx_has_a_sheet_per_table_with_a_frozen_header(admin, survey, households):
    resp = admin.get(f"{survey}/submissions.xlsx")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert f'filename="{FORM}.xlsx"' in resp.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(resp.data))
    assert book.sheetnames == [FORM, "members"]
    root, members = book[FORM], book["members"]
    assert root.freeze_panes == "A2" and members.freeze_panes == "A2"
    assert root.max_row == 1 + 5 and members.max_row == 1 + 3 + 4 + 2 + 4 + 3
    zipped = zipfile.ZipFile(io.BytesIO(admin.get(f"{survey}/submissions.csv.zip?attachments=false").data))
    csv_rows = table(zipped.read(f"{FORM}.csv"))
    head = [c.value for c in root[1]]
    assert head == list(csv_rows[0].keys())
    # The same cells as the CSV, numbers as numbers so that Excel sums them.
    first = dict(zip(head, [c.value for c in root[2]]))
    assert first["KEY"] == csv_rows[0]["KEY"]
    assert first["household-household_size"] == int(csv_rows[0]["household-household_size"])
    assert first["respondent-phone"] == csv_rows[0]["respondent-phone"]  # a phone keeps its leading 0
    assert isinstance(first["respondent-phone"], str) and first["respondent-phone"].startswith("0")
    assert first["respondent-respondent_name"] == households[-1].respondent


def test_the_xlsx_label_row_sits_under_the_names(admin, survey, households):
    book = load_workbook(io.BytesIO(admin.get(f"{survey}/submissions.xlsx?labelRow=en").data))
    sheet = book["members"]
    assert sheet.freeze_panes == "A3"
    names = [c.value for c in sheet[1]]
    labels = dict(zip(names, [c.value for c in sheet[2]]))
    assert labels["age"].startswith("Age of ${member_name}")
    assert sheet.max_row == 2 + 16


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_labels_replace_names_and_choice_values(admin, survey, households):
    raw = rows_of(admin.get(f"{survey}/submissions.csv").data)
    vi = rows_of(admin.get(f"{survey}/submissions.csv?labels=vi").data)
    en = rows_of(admin.get(f"{survey}/submissions.csv?labels=en").data)
    at = raw[0].index("household-fixed_broadband")
    assert vi[0][at] == "Nhà anh/chị có lắp Internet cố định (băng rộng) không? Nếu có, là loại nào?"
    assert en[0][at].startswith("Does the household have fixed") or en[0][at].endswith("which kind?")
    broadband_en = {"fibre": "Fibre (FTTH)", "cable": "Cable (coaxial, cable TV network)",
                    "adsl": "ADSL (over the telephone line)", "none": "No fixed internet", "dont_know": "Don't know"}
    broadband_vi = {"fibre": "Cáp quang (FTTH)", "none": "Không có Internet cố định", "dont_know": "Không biết"}
    for r, v, e in zip(raw[1:], vi[1:], en[1:]):
        assert e[at] == broadband_en[r[at]]
        assert v[at] == broadband_vi.get(r[at], v[at]) and v[at] != r[at]
        assert (e[-10], v[-10]) == (r[-10], r[-10])  # KEY and the other system columns keep their values
    assert raw[0][-10:] == en[0][-10:] == vi[0][-10:]
    # A select multiple becomes its labels joined by '; '.
    zipped = zipfile.ZipFile(io.BytesIO(admin.get(f"{survey}/submissions.csv.zip?labels=en").data))
    members = rows_of(zipped.read(f"{FORM}-members.csv"))
    plain = rows_of(zipfile.ZipFile(io.BytesIO(admin.get(f"{survey}/submissions.csv.zip").data)).read(f"{FORM}-members.csv"))
    w = plain[0].index("ewallets")
    wallets = {"momo": "MoMo", "zalopay": "ZaloPay", "vnpay": "VNPay", "none": "None"}
    pairs = [(p[w], m[w]) for p, m in zip(plain[1:], members[1:]) if p[w]]
    assert pairs
    for value, label in pairs:
        assert label.split("; ") == [wallets.get(v, label.split("; ")[i]) for i, v in enumerate(value.split())]
        assert label != value
    resp = admin.get(f"{survey}/submissions.csv?labels=fr")
    assert resp.status_code == 400 and "Tiếng Việt (vi)" in resp.get_json()["message"]


def test_bom_is_opt_in_on_central_paths(admin, survey, households):
    assert not admin.get(f"{survey}/submissions.csv").data.startswith(b"\xef\xbb\xbf")
    data = admin.get(f"{survey}/submissions.csv?bom=true").data
    assert data.startswith(b"\xef\xbb\xbfSubmissionDate,")
    assert admin.get(f"{survey}/submissions.csv?bom=maybe").status_code == 400


def test_area_filter_includes_every_village_below(admin, survey, households):
    def villages(query):
        resp = admin.get(f"{survey}/submissions.csv?{query}")
        assert resp.status_code == 200, resp.get_json()
        return sorted(r["location-village"] for r in table(resp.data))

    assert villages("area=DN-HV-HP&areaField=village") == ["DN-HV-HP-01", "DN-HV-HP-01", "DN-HV-HP-02"]
    assert villages("area=DN-HV-HN-01&areaField=village") == ["DN-HV-HN-01", "DN-HV-HN-01"]
    assert len(villages("area=DN&areaField=village")) == 5
    zipped = zipfile.ZipFile(io.BytesIO(admin.get(f"{survey}/submissions.csv.zip?area=DN-HV-HP-02&areaField=village").data))
    assert len(table(zipped.read(f"{FORM}-members.csv"))) == 2
    resp = admin.get(f"{survey}/submissions.csv?area=XX&areaField=village")
    assert resp.status_code == 400 and "XX" in resp.get_json()["message"]
    resp = admin.get(f"{survey}/submissions.csv?area=DN")
    assert resp.status_code == 400 and "areaField" in resp.get_json()["message"]


def test_review_state_and_date_filters(admin, survey, households):
    rows = table(admin.get(f"{survey}/submissions.csv").data)
    admin.patch(f"{survey}/submissions/{rows[0]['KEY']}", {"reviewState": "rejected"})
    admin.patch(f"{survey}/submissions/{rows[1]['KEY']}", {"reviewState": "approved"})
    assert len(table(admin.get(f"{survey}/submissions.csv?reviewState=received,approved").data)) == 4
    assert [r["KEY"] for r in table(admin.get(f"{survey}/submissions.csv?reviewState=rejected").data)] == [rows[0]["KEY"]]
    assert admin.get(f"{survey}/submissions.csv?reviewState=bogus").status_code == 400
    assert len(table(admin.get(f"{survey}/submissions.csv?from=2000-01-01&to=2999-12-31").data)) == 5
    assert len(table(admin.get(f"{survey}/submissions.csv?to=2000-01-01").data)) == 0
    assert admin.get(f"{survey}/submissions.csv?from=yesterday").status_code == 400


def test_geojson_has_a_feature_per_household(admin, survey, households):
    resp = admin.get(f"{survey}/submissions.geojson")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/geo+json"
    doc = json.loads(resp.data)
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 5
    rows = table(admin.get(f"{survey}/submissions.csv").data)
    for feature, row in zip(doc["features"], rows):
        assert feature["id"] == row["KEY"]
        lon, lat = feature["geometry"]["coordinates"][:2]
        assert (lat, lon) == (float(row["location-gps-Latitude"]), float(row["location-gps-Longitude"]))
        assert feature["properties"]["location-village"] == row["location-village"]
        assert "location-gps-Latitude" not in feature["properties"]
        assert feature["properties"]["household-household_size"] == int(row["household-household_size"])
    assert admin.get(f"{survey}/submissions.geojson?geometry=nowhere").status_code == 400


def test_person_table_joins_each_member_to_household_and_area(admin, survey, households):
    resp = admin.get(f"{survey}/persons.csv?areaField=village")
    assert resp.status_code == 200
    assert resp.data.startswith(b"\xef\xbb\xbf")  # for people: Excel reads the diacritics right
    rows = table(resp.data)
    assert len(rows) == 16
    by_household = {h.instance_id: h for h in households}
    for r in rows:
        h = by_household[r["PARENT_KEY"]]
        assert r["location-village"] == h.village
        assert r["respondent-respondent_name"] == h.respondent
        assert r["KEY"].startswith(r["PARENT_KEY"] + "/household/members[")
    names = {r["village name"] for r in rows}
    assert names == {"Thôn Giáng Nam 1", "Thôn Giáng Nam 2", "Thôn Thạch Nham Tây"}
    assert {r["commune name"] for r in rows} == {"Hòa Phước", "Hòa Nhơn"}
    assert {r["province name"] for r in rows} == {"Đà Nẵng"}
    assert admin.get(f"{survey}/persons.csv?repeat=pets").status_code == 400


def test_vietnamese_round_trips_in_nfc_and_nfd(admin, client, project, survey, key_base):
    nfc = unicodedata.normalize("NFC", "Nguyễn Thị Hòa Phước")
    nfd = unicodedata.normalize("NFD", "Trần Văn Đức Hòa")
    assert nfc != unicodedata.normalize("NFD", nfc)
    for seed, name in [(11, nfc), (12, nfd)]:
        h = random_household(random.Random(seed), "DN-HV-HP-01", members=1)
        h.respondent = name
        assert submit(client, key_base, to_xml(h)).status_code == 201
    want = {nfc, nfd}
    assert {r["respondent-respondent_name"] for r in table(admin.get(f"{survey}/submissions.csv").data)} == want
    book = load_workbook(io.BytesIO(admin.get(f"{survey}/submissions.xlsx").data))
    head = [c.value for c in book[FORM][1]]
    col = head.index("respondent-respondent_name")
    assert {row[col].value for row in book[FORM].iter_rows(min_row=2)} == want
    doc = json.loads(admin.get(f"{survey}/submissions.geojson").data)
    assert {f["properties"]["respondent-respondent_name"] for f in doc["features"]} == want


def test_exports_need_the_right_to_read_submissions(client, admin, project, survey, key_base):
    for path in ("submissions.csv.zip", "submissions.csv", "submissions.xlsx", "submissions.geojson", "persons.csv"):
        assert client.get(f"{survey}/{path}").status_code in (401, 403)
        # An app user may submit, not read.
        assert client.get(f"{key_base}/forms/{FORM}/{path}").status_code == 403


def test_hamlet_export_writes_each_format(app, admin, project, survey, households, tmp_path):
    runner = app.test_cli_runner()
    from server.cli import main

    for fmt, name in [("csv", f"{FORM}.csv.zip"), ("xlsx", f"{FORM}.xlsx"), ("geojson", f"{FORM}.geojson"),
                      ("persons", f"{FORM}-persons.csv")]:
        result = runner.invoke(main, ["export", FORM, "--project", str(project), "--format", fmt, "--labels", "vi",
                                      "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).stat().st_size > 500
        assert not list(tmp_path.glob("*.part"))
    rows = table(zipfile.ZipFile(tmp_path / f"{FORM}.csv.zip").read(f"{FORM}.csv"))
    assert len(rows) == 5 and "Thôn/Ấp/Buôn/Khu phố/Tổ dân phố" in rows[0]
    result = runner.invoke(main, ["export", FORM, "--project", str(project), "--area", "NOWHERE", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "NOWHERE" in result.output


def test_person_table_lines_hold_any_text_of_a_member_or_household(admin, client, survey, key_base):
    """Each household's text is written once and placed in its members' lines at a mark (U+E000); a
    member whose own cells hold that character, a comma, a quote or a formula is written in full."""
    odd = ["Lan \ue000 Anh", 'Hoa, "Bé"', "=1+2", "Minh\ue000"]
    h = random_household(random.Random(21), "DN-HV-HP-01", members=len(odd))
    for member, name in zip(h.members, odd):
        member.name = name
    h.respondent = 'Trần "\ue000", Văn'
    assert submit(client, key_base, to_xml(h)).status_code == 201
    people = table(admin.get(f"{survey}/persons.csv").data)
    by_key = {r["KEY"]: r for r in people}
    zipped = zipfile.ZipFile(io.BytesIO(admin.get(f"{survey}/submissions.csv.zip?attachments=false").data))
    members = [r for r in table(zipped.read(f"{FORM}-members.csv")) if r["PARENT_KEY"] == h.instance_id]
    assert [by_key[m["KEY"]]["member_name"] for m in members] == ["Lan \ue000 Anh", 'Hoa, "Bé"', "'=1+2", "Minh\ue000"]
    for m in members:
        row = by_key[m["KEY"]]
        assert row["respondent-respondent_name"] == h.respondent and row["PARENT_KEY"] == h.instance_id
        assert list(row) == list(people[0])


def test_geojson_chunks_are_the_features_one_by_one_with_non_finite_numbers_as_null():
    """Features are encoded 500 at a time as one list; a batch with a non-finite number one by one."""
    from server.exports.geojson import feature_chunks

    features = [{"type": "Feature", "id": f"uuid:{i}", "geometry": None,
                 "properties": {"n": float("inf") if i == 777 else i / 3, "name": f"Hộ \"{i}\", ấp"}}
                for i in range(1203)]
    text = b"".join(feature_chunks(iter(features))).decode("utf-8")
    one_by_one = ",".join(json.dumps({**f, "properties": {**f["properties"], "n": None if f["id"] == "uuid:777"
                                                          else f["properties"]["n"]}},
                                     ensure_ascii=False, separators=(",", ":")) for f in features)
    assert text == '{"type":"FeatureCollection","features":[' + one_by_one + "]}"
    assert b"".join(feature_chunks(iter([]))) == b'{"type":"FeatureCollection","features":[]}'


def test_xlsx_rows_are_the_same_cells_with_or_without_remembered_ones():
    """_row looks every cell up among its column's cells made before; the cells are those made anew."""
    from server.exports import xlsx

    rng = random.Random(5)
    values = ["yes", "no", " lead", "trail ", "a<b&c", "x\x01y", "12", "-3.5", "012", None, "", 7, "Hòa"]
    numeric = [i % 2 == 0 for i in range(6)]
    seen: list[dict] = []
    for _ in range(300):
        row = [rng.choice(values) for _ in range(rng.choice([5, 6]))]
        assert xlsx._row(row, numeric, seen=seen) == xlsx._row(row, numeric)
    assert all(seen[i][None] == seen[i][""] == "<c/>" for i in range(6))
    assert not any(7 in column for column in seen)   # only texts are remembered
