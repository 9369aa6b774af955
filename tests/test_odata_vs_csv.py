"""OData and the CSV export say the same thing (issue 5).

The real pyodk client reads the shipped household survey through a live server —
`client.submissions.get_table()` with `$top`/`$skip` walked to the end, `$count`, `$expand='*'`, and
`$filter` on `__system/submissionDate` and `__system/reviewState` — and every answer must be the one in
`submissions.csv.zip` exported with the same `$filter`: the same instance IDs in the same order (newest
first), the same value in every root field, the same roster rows under each household.

Thirty synthetic households (server/synthetic.py) are posted as Collect posts them, with different
roster sizes, names in Vietnamese NFC and NFD, photos sent, photos missing, edits that change answers
and roster rows, and reviews. Their submission dates are then spread over ten days, so that filters
on dates select a part of them.

Representations compared (OData -> CSV), each the way Central writes it:

* nested groups `{"location": {"village": …}}` -> `-` joined names, `location-village`;
* a geopoint's GeoJSON (`coordinates: [lon, lat, alt]`, `properties.accuracy`) -> its four columns
  `…-Latitude`, `-Longitude`, `-Altitude`, `-Accuracy`;
* numbers (`Edm.Int64`, `Edm.Decimal`) -> their text (`12.0` is 12); null -> an empty cell;
* text -> the same text, byte for byte (NFC stays NFC, NFD stays NFD);
* `__id` -> `KEY` (an edited submission's first instanceID); `__system/…` -> the metadata columns (SYSTEM);
* the expanded `household.members`, or the rows of `Submissions.household.members` with their
  `__Submissions-id` -> the rows of `{form}-members.csv` with that `PARENT_KEY`, in the same order.
"""
from __future__ import annotations

import csv
import io
import random
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import update

from collect import submit
from helpers import FORM
from server.models.submissions import Submission
from server.synthetic import Household, random_household, to_xml

pyodk_client = pytest.importorskip("pyodk.client")

# __system (OData) -> the CSV's metadata column. `updatedAt` and `deletedAt` have no CSV column.
SYSTEM = {"submissionDate": "SubmissionDate", "submitterId": "SubmitterID", "submitterName": "SubmitterName",
          "attachmentsPresent": "AttachmentsPresent", "attachmentsExpected": "AttachmentsExpected",
          "status": "Status", "reviewState": "ReviewState", "deviceId": "DeviceID", "edits": "Edits",
          "formVersion": "FormVersion"}
NOT_IN_CSV = {"updatedAt", "deletedAt"}
GEO = ("Latitude", "Longitude", "Altitude", "Accuracy")
FIRST_DAY = datetime(2026, 11, 1, 1, 30, tzinfo=UTC)
PAGE = 7  # 30 households: four full pages and a short one


# ==================================================================================================
# The households
# ==================================================================================================

def vietnamese(text: str, form: str) -> str:
    return unicodedata.normalize(form, text)




@dataclass
class Sent:
    household: Household   # as last sent (an edit's answers, under the first instanceID)
    when: datetime         # its submission date
    state: str | None      # its review state


@pytest.fixture
def households(app, admin, client, survey, key_base):
    """30 households, by first instanceID."""
    rng = random.Random(2026)
    made = {}
    for i in range(30):
        h = random_household(rng, f"DN-HV-HP-0{1 + i % 3}", photo=i % 5 == 0)
        form = "NFD" if i % 2 else "NFC"
        h.respondent = vietnamese(f"{h.respondent} Hòa Phước", form)
        h.members[0].name = h.respondent
        if len(h.members) > 1:
            h.members[-1].name = vietnamese(h.members[-1].name + " Thị Ánh Tuyết", form)
        files = {h.photo: b"\xff\xd8 photo"} if h.photo and i != 10 else {}  # household 10's photo never came
        assert submit(client, key_base, to_xml(h), files).status_code == 201
        made[h.instance_id] = h
    ids = list(made)

    # Edits change answers and the roster: a member leaves, one arrives, a phone number is corrected.
    for n, iid in enumerate(ids[3:9:2]):
        h = made[iid]
        h.instance_id = f"uuid:00000000-0000-4000-8000-{n:012d}"
        if n == 0 and len(h.members) > 1:
            h.members.pop()
        elif n == 1:
            h.members.append(random_household(rng, h.village, members=1).members[0])
            h.members[-1].name = vietnamese("Đặng Thị Ngọc Ánh", "NFD")
        h.phone = "0" + h.phone[1:][::-1]
        assert submit(client, key_base, to_xml(h, deprecated_id=iid)).status_code == 201
    states = dict.fromkeys(ids[3:9:2], "edited")
    for iid, state in zip(ids[10:22:2], ["approved", "approved", "hasIssues", "rejected", "approved", "rejected"]):
        resp = admin.patch(f"{survey}/submissions/{iid}", {"reviewState": state})
        assert resp.status_code == 200
        states[iid] = state
    resp = admin.patch(f"{survey}/submissions/{ids[5]}", {"reviewState": "approved"})  # an edit, then approved
    assert resp.status_code == 200
    states[ids[5]] = "approved"

    # Submission dates spread over ten days, eight hours apart.
    dates = {iid: FIRST_DAY + timedelta(hours=8 * i) for i, iid in enumerate(ids)}
    with app.extensions["hamlet.sessionmaker"]() as s:
        for iid, when in dates.items():
            s.execute(update(Submission).where(Submission.instance_id == iid).values(created_at=when))
        s.commit()
    return {iid: Sent(made[iid], dates[iid], states.get(iid)) for iid in ids}


# ==================================================================================================
# Reading both sides
# ==================================================================================================

def csv_export(admin, survey, flt: str | None = None) -> tuple[list[dict], list[dict], list[str]]:
    """The root rows, the roster rows and the root header of submissions.csv.zip (with `$filter`)."""
    query = f"?attachments=false&$filter={quote(flt)}" if flt else "?attachments=false"
    resp = admin.get(f"{survey}/submissions.csv.zip{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        assert z.namelist() == [f"{FORM}.csv", f"{FORM}-members.csv"]
        root = list(csv.reader(io.StringIO(z.read(f"{FORM}.csv").decode("utf-8"))))
        members = list(csv.DictReader(io.StringIO(z.read(f"{FORM}-members.csv").decode("utf-8"))))
    header = root[0]
    assert len(set(header)) == len(header)
    return [dict(zip(header, r)) for r in root[1:]], members, header


def walk(odk, table: str = "Submissions", **options) -> list[dict]:
    """Every row of a table, page by page with $top/$skip, checking $count and the next link."""
    rows, skip = [], 0
    while True:
        doc = odk.submissions.get_table(form_id=FORM, table_name=table, top=PAGE, skip=skip, count=True, **options)
        count = doc["@odata.count"]
        assert len(doc["value"]) == min(PAGE, max(count - skip, 0))
        rows += doc["value"]
        skip += PAGE
        assert ("@odata.nextLink" in doc) is (skip < count)
        if skip >= count:
            break
    assert len(rows) == count
    return rows


def flatten(obj: dict, header: list[str], prefix: str = "") -> dict:
    """An OData row as CSV columns: groups joined with '-', a geopoint as its four columns; repeats
    (lists and navigation links), `__id` and `__system` are compared on their own."""
    out = {}
    for key, value in obj.items():
        name = prefix + key
        if key.startswith("__") or "@odata." in key or isinstance(value, list):
            continue
        if f"{name}-Latitude" in header:  # a geopoint: GeoJSON, or null
            point = value or {"coordinates": [None, None], "properties": {}}
            lon, lat, *alt = point["coordinates"]
            out |= {f"{name}-Latitude": lat, f"{name}-Longitude": lon, f"{name}-Altitude": alt[0] if alt else None,
                    f"{name}-Accuracy": (point.get("properties") or {}).get("accuracy")}
        elif isinstance(value, dict):
            out |= flatten(value, header, name + "-")
        else:
            out[name] = value
    return out


def same(odata, text: str) -> bool:
    """One OData value against its CSV cell."""
    if odata is None:
        return text == ""
    if isinstance(odata, bool):
        raise AssertionError("the survey has no boolean fields")
    if isinstance(odata, (int, float)):
        return text != "" and float(text) == odata  # a geopoint's altitude 12 is the CSV's "12.0"
    return odata == text  # text exactly: no normalisation of any kind


def assert_same_rows(rows: list[dict], csv_rows: list[dict], csv_members: list[dict], header: list[str],
                     expanded: bool = True) -> None:
    fields = header[1:header.index("KEY")]  # between SubmissionDate and Central's metadata
    assert [r["__id"] for r in rows] == [c["KEY"] for c in csv_rows]
    for row, cells in zip(rows, csv_rows):
        flat = flatten(row, header)
        assert list(flat) == fields  # every root field, in the form's order
        for name in fields:
            assert same(flat[name], cells[name]), (row["__id"], name, flat[name], cells[name])
        assert set(row["__system"]) == set(SYSTEM) | NOT_IN_CSV
        for key, column in SYSTEM.items():
            assert same(row["__system"][key], cells[column]), (row["__id"], key, row["__system"][key], cells[column])
        roster = [m for m in csv_members if m["PARENT_KEY"] == row["__id"]]
        if expanded:
            assert_same_members(row["household"]["members"], roster)
        else:
            assert "members" not in row["household"]
            assert row["household"]["members@odata.navigationLink"].endswith("/household/members")


def assert_same_members(members: list[dict], csv_members: list[dict]) -> None:
    assert len(members) == len(csv_members)
    for m, cells in zip(members, csv_members):
        columns = [c for c in cells if c not in ("PARENT_KEY", "KEY")]
        flat = flatten(m, columns)
        assert list(flat) == columns
        for name in columns:
            assert same(flat[name], cells[name]), (cells["KEY"], name, flat[name], cells[name])


# ==================================================================================================
# The comparisons
# ==================================================================================================

FILTERS = {
    "every submission": None,
    "from the fifth day on": "__system/submissionDate ge 2026-11-05",
    "before a moment": "__system/submissionDate lt 2026-11-04T09:30:00.000Z",
    "approved": "__system/reviewState eq 'approved'",
    "not reviewed yet": "__system/reviewState eq null",
    "edited or with issues": "__system/reviewState eq 'edited' or __system/reviewState eq 'hasIssues'",
    "recent and not rejected":
        "__system/submissionDate gt 2026-11-03 and not (__system/reviewState eq 'rejected')",
}


def expected_ids(households: dict, name: str) -> list[str]:
    """What each filter must select, from what the fixture did (newest first)."""
    day5 = datetime(2026, 11, 5, tzinfo=UTC)
    moment = datetime(2026, 11, 4, 9, 30, tzinfo=UTC)
    day3 = datetime(2026, 11, 3, tzinfo=UTC)
    keep = {
        "every submission": lambda when, state: True,
        "from the fifth day on": lambda when, state: when >= day5,
        "before a moment": lambda when, state: when < moment,
        "approved": lambda when, state: state == "approved",
        "not reviewed yet": lambda when, state: state is None,
        "edited or with issues": lambda when, state: state in ("edited", "hasIssues"),
        "recent and not rejected": lambda when, state: when > day3 and state != "rejected",
    }[name]
    chosen = [(h.when, iid) for iid, h in households.items() if keep(h.when, h.state)]
    return [iid for _, iid in sorted(chosen, reverse=True)]


@pytest.mark.parametrize("name", FILTERS)
def test_get_table_walked_page_by_page_is_the_csv_export(name, odk, admin, survey, households):
    flt = FILTERS[name]
    want = expected_ids(households, name)
    assert 0 < len(want) <= len(households)
    assert (len(want) == len(households)) is (flt is None)  # each filter leaves some households out
    csv_rows, csv_members, header = csv_export(admin, survey, flt)
    assert [c["KEY"] for c in csv_rows] == want
    options = {"filter": flt} if flt else {}
    rows = walk(odk, expand="*", **options)
    assert_same_rows(rows, csv_rows, csv_members, header)
    # Without $expand the same rows, with a link to each roster instead of the roster.
    assert_same_rows(walk(odk, **options), csv_rows, csv_members, header, expanded=False)


def test_the_roster_table_walked_page_by_page_is_the_members_csv(odk, admin, survey, households):
    for flt in (None, FILTERS["approved"]):
        csv_rows, csv_members, _ = csv_export(admin, survey, flt)
        options = {"filter": flt.replace("__system", "$root/Submissions/__system")} if flt else {}
        rows = walk(odk, table="Submissions.household.members", **options)
        assert [r["__Submissions-id"] for r in rows] == [m["PARENT_KEY"] for m in csv_members]
        assert {m["PARENT_KEY"] for m in csv_members} == {c["KEY"] for c in csv_rows}
        assert_same_members([{k: v for k, v in r.items() if k != "__Submissions-id"} for r in rows], csv_members)
        # The expanded rosters are these very rows (same Central row ids).
        expanded = [m for s in walk(odk, expand="*", **({"filter": flt} if flt else {}))
                    for m in s["household"]["members"]]
        assert [m["__id"] for m in expanded] == [r["__id"] for r in rows]


def test_what_the_fixture_made_is_there_to_compare(odk, admin, survey, households):
    """The comparisons above are over rows that differ in the ways that matter."""
    _, csv_members, _ = csv_export(admin, survey)
    rows = {r["__id"]: r for r in walk(odk, expand="*")}
    states = [r["__system"]["reviewState"] for r in rows.values()]
    assert {s: states.count(s) for s in set(states)} == {None: 21, "edited": 2, "approved": 4, "hasIssues": 1,
                                                          "rejected": 2}
    edited = [r for r in rows.values() if r["__system"]["edits"] == 1]
    assert len(edited) == 3 and all(r["meta"]["instanceID"] != r["__id"] for r in edited)
    assert {r["__system"]["attachmentsExpected"] - r["__system"]["attachmentsPresent"] for r in rows.values()} == {0, 1}
    assert len({len(r["household"]["members"]) for r in rows.values()}) >= 4
    assert len(csv_members) == sum(len(r["household"]["members"]) for r in rows.values())


def test_vietnamese_in_nfc_and_nfd_comes_back_unchanged_in_both(odk, admin, survey, households):
    csv_rows, csv_members, _ = csv_export(admin, survey)
    rows = {r["__id"]: r for r in walk(odk, expand="*")}
    sent = {iid: h.household for iid, h in households.items()}
    names = [m.name for h in sent.values() for m in h.members]
    nfd = [n for n in names if not unicodedata.is_normalized("NFC", n)]
    assert len(nfd) >= 15 and vietnamese("Đặng Thị Ngọc Ánh", "NFD") in nfd  # both spellings were sent
    assert len(names) - len(nfd) >= 15
    for cells in csv_rows:
        iid, h = cells["KEY"], sent[cells["KEY"]]
        assert cells["respondent-respondent_name"] == rows[iid]["respondent"]["respondent_name"] == h.respondent
        assert cells["meta-instanceName"] == rows[iid]["meta"]["instanceName"] == f"{h.village} – {h.respondent}"
        roster = [m["member_name"] for m in csv_members if m["PARENT_KEY"] == iid]
        assert roster == [m["member_name"] for m in rows[iid]["household"]["members"]] == [m.name for m in h.members]
