"""The corpus cases export with the expected columns.

Each CSV under tests/data/corpus/*/expected/ was made by another server from a corpus form and its
instances: ODK Briefcase (the Aggregate format Central's CSV descends from) for the briefcase-* cases,
Ona (onadata) for the onadata-* cases. Each is replayed here: the form is published, the instances that
upstream export was made from are posted the way Collect posts them (tests/test_corpus_submissions.py),
and Hamlet's `GET …/submissions.csv.zip` is compared with the upstream file:

* every column of the upstream file has a counterpart in Hamlet's export (the naming conventions are
  the tables BRIEFCASE_* and ONA_* below), or is listed there as that server's own, with the reason;
* for every submission (matched by instanceID / KEY) the mapped columns hold the same values, once each
  server's representation is normalised (the normalisations are written out beside the tables: they
  are the genuine differences between Central's format and the other one, and Hamlet is held to
  Central's side of each);
* repeats correspond: Briefcase's one file per repeat row for row (KEY, PARENT_KEY, values), Ona's wide
  `repeat[i]/field` columns to the rows of Hamlet's repeat files, per submission.

What the upstream tests set by hand is set here too: the submission times Ona's
tests forced and the `submissionDate` Briefcase read from its storage copies become the submissions'
receipt times (after checking that Hamlet recorded the real receipt time, as Central does), so that the
date columns compare too."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from urllib.parse import quote

import pytest
from lxml import etree

from central import Central
from collect import submit
from helpers import CORPUS, CORPUS_CASES, downloads_by_database_and_by_python, publish_case

BY_NAME = {c["name"]: c for c in CORPUS_CASES}

# ==================================================================================================
# Naming conventions: the other server's column -> Hamlet's (Central's) column
# ==================================================================================================

# Columns every Central root table ends with; they are Hamlet's own in this comparison, except where a
# table below maps another server's metadata column onto one of them.
CENTRAL_META = ["KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status",
                "ReviewState", "DeviceID", "Edits", "FormVersion"]

# ODK Briefcase. Data columns have the same names in both formats: `SubmissionDate` first, groups joined
# with `-`, a geopoint as `-Latitude/-Longitude/-Altitude/-Accuracy`, `meta-instanceID`, `KEY`; a repeat
# table has `PARENT_KEY` and `KEY`, and a split select multiple `question/CHOICE` columns of 1/0.
BRIEFCASE_OWN = {
    "isValidated": "Briefcase's verdict on an encrypted envelope's signature; Central has no such column "
                   "(a submission it cannot decrypt says so in Status instead)",
    "SET-OF-*": "Briefcase's link from a row to its repeat children (and from a repeat row to its own set); "
                "Central dropped these columns: the children's PARENT_KEY is the same link, checked below",
}
# Representation differences (Briefcase -> Central), asserted value by value:
#   date       "Apr 26, 2018"             -> "2018-04-26"                 (the submitted text)
#   time       "8:56:00 AM" (UTC)         -> "08:56:00.000Z"              (the submitted text)
#   dateTime   "Apr 26, 2018 8:56:00 AM"  -> "2018-04-26T08:56:00.000Z"   (the submitted text)
#   SubmissionDate in the same Java style -> ISO 8601 in UTC with milliseconds
#   split select multiple: a column per choice of the form -> a column per choice seen in the data
#   (a choice nobody chose has no column; Briefcase's column for it is all 0)

# Ona (onadata). Ona's metadata columns that have a Central counterpart, and how the values correspond:
ONA_META = {
    "_uuid": ("KEY", "the instanceID without its 'uuid:' prefix"),
    "_submission_time": ("SubmissionDate", "the same moment: Ona writes '+00:00' or no zone, Central ISO 8601 "
                                           "in UTC with milliseconds and 'Z'"),
    "_version": ("FormVersion", "Central records the version the submission names (empty when it names "
                                "none); Ona records its form's version, so they agree only when the "
                                "instance carries a version attribute"),
    "_total_media": ("AttachmentsExpected", "the same count"),
    "_media_count": ("AttachmentsPresent", "the same count"),
    "_media_all_received": ("AttachmentsPresent", "True exactly when AttachmentsPresent == AttachmentsExpected"),
}
# Ona's own columns: nothing in Central's export holds them.
ONA_OWN = {
    "_id": "Ona's database id of the submission",
    "_tags": "Ona's tags on a submission (empty here)",
    "_notes": "Ona's notes on a submission (empty here)",
    "_duration": "Ona's end - start, computed at export (empty here: the forms have no start/end)",
    "_submitted_by": "the Ona user of the upstream test ('bob'); Central's SubmitterName is who posted here",
}
# Ona's data columns, rule by rule (an Ona column is tried against these in order):
#   group/repeat[i]/…/field  (wide: columns per repeat instance) -> `field` of the row whose KEY is
#                            <KEY>/group/repeat[i]/… in Hamlet's {form}-{repeat}.csv; a repeat instance
#                            whose every column is n/a is a row that does not exist
#   _geo_latitude, _geo_longitude, _geo_altitude, _geo_precision -> geo-Latitude, -Longitude, -Altitude, -Accuracy
#   geo                      (the geopoint's text)   -> geo-Latitude … geo-Accuracy joined by spaces
#   group/question/choice    (select multiple, True/False per choice of the form, in the form's order)
#                            -> `choice` is one of the space-separated values of group-question; with
#                            splitSelectMultiples=true also group-question/choice = 1/0, a column per
#                            choice seen in the data (in Central's order of values, not the form's);
#                            n/a (question unanswered) -> group-question empty
#   group/field              -> group-field
# Values: Ona's "n/a" (no answer, or no such repeat instance) is Central's empty cell.
GEO_PARTS = {"latitude": "Latitude", "longitude": "Longitude", "altitude": "Altitude", "precision": "Accuracy"}


# ==================================================================================================
# The upstream exports, and what was posted to make each
# ==================================================================================================

@dataclass
class Scenario:
    case: str
    tables: dict[str, str]       # upstream file -> Hamlet table ("" for the root, else the repeat's name)
    instances: list[str]         # posted in this order (the upstream order, oldest first)
    convention: str              # "briefcase" or "ona"
    query: str = ""              # options of the export compared value by value
    header_query: str | None = None   # another export whose header is this file's (groupPaths=false, labels)
    full_names: str | None = None  # for a file with shortened headers: the same columns with full names
    attachments: bool = True     # post the instances' attachments (Ona's viewer tests posted the XML alone)
    forced: tuple[str, ...] = ()  # the submission times upstream's test forced (SOURCE.md), one per instance
    stale: dict[str, str] = field(default_factory=dict)   # upstream columns not comparable, with the reason

    @property
    def id(self) -> str:
        return f"{self.case}:{Path(next(iter(self.tables))).name}"


ONA_SPLIT = "?splitSelectMultiples=true"  # Ona always splits select multiples; Central on request
TRANSPORT = [f"instances/transport_2011-07-25_{t}.xml" for t in ("19-05-49", "19-05-36", "19-06-01", "19-06-14")]
FEB_14 = tuple(f"2013-02-14T15:37:{s}Z" for s in (21, 22, 23, 24))  # onadata test_process.py
FEB_18 = "2013-02-18T15:54:01Z"  # onadata's viewer, csv_builder and csv_export tests
STALE_MEDIA = "kept in onadata's viewer fixtures, produced by no current test (SOURCE.md): its media counts " \
              "(0 expected for a submission naming image1) predate Ona counting attachments"
STALE = dict.fromkeys(("_total_media", "_media_count", "_media_all_received"), STALE_MEDIA)

SCENARIOS = [
    Scenario("briefcase-all-data-types", {"expected/all-data-types.csv": ""},
             ["instances/all-data-types-submission.xml"], "briefcase"),
    # The same instanceID with every element empty: a separate project, as upstream had.
    Scenario("briefcase-all-data-types", {"expected/all-data-types-empty.csv": ""},
             ["instances/all-data-types-submission-empty-tags.xml"], "briefcase"),
    Scenario("briefcase-nested-repeats", {"expected/nested-repeats.csv": "",
                                          **{f"expected/nested-repeats-{g}.csv": g for g in ("g1", "g2", "g3")}},
             ["instances/nested-repeats-submission.xml"], "briefcase"),
    Scenario("briefcase-nested-repeats", {"expected/nested-repeats-no-subs.csv": ""}, [], "briefcase"),
    Scenario("briefcase-choice-lists", {"expected/choice-lists.csv": ""},
             ["instances/choice-lists-submission.xml"], "briefcase", query="?splitSelectMultiples=true"),
    Scenario("briefcase-choice-filter-in-repeat", {"expected/root.csv": "", "expected/group.csv": "group"},
             ["instances/choice-lists-predicate-relative-repeat-submission.xml"], "briefcase"),
    Scenario("briefcase-encrypted-form", {"expected/encrypted-form.csv": ""},
             ["instances/encrypted-form-submission.xml"], "briefcase"),
    Scenario("onadata-transportation", {"expected/transportation_4_submissions.csv": ""}, TRANSPORT, "ona",
             query=ONA_SPLIT, forced=FEB_14),
    # onadata's viewer tests posted 19-05-49 without its photo: `_media_count` 0, `_media_all_received` False.
    Scenario("onadata-transportation", {"expected/viewer_transportation_1_submission.csv": ""}, TRANSPORT[:1], "ona",
             query=ONA_SPLIT, attachments=False, forced=(FEB_18,)),
    Scenario("onadata-transportation", {"expected/viewer_transportation_without_na.csv": ""}, TRANSPORT[:1], "ona",
             query=ONA_SPLIT, attachments=False, forced=(FEB_18,)),
    # viewer_all, no_group_names and labels_only are fixtures no current onadata test produces (SOURCE.md):
    # no source states their submission times but themselves, so their own `_submission_time` is pinned
    # and only its format compares; their media counts are stale (STALE).
    Scenario("onadata-transportation", {"expected/viewer_transportation_all.csv": ""}, TRANSPORT, "ona",
             query=ONA_SPLIT, stale=STALE),
    Scenario("onadata-transportation", {"expected/viewer_transportation_no_group_names.csv": ""}, TRANSPORT[:1], "ona",
             query=ONA_SPLIT, header_query=ONA_SPLIT + "&groupPaths=false",
             full_names="expected/viewer_transportation_1_submission.csv", stale=STALE),
    # Labels as headers, values still names: Hamlet's labels option relabels values too, so the values are
    # compared with the plain export and the headers with the labelled one.
    Scenario("onadata-transportation", {"expected/viewer_transportation_labels_only.csv": ""}, TRANSPORT[:1], "ona",
             query=ONA_SPLIT, header_query="?labels=default&groupPaths=false&splitSelectMultiples=true",
             full_names="expected/viewer_transportation_1_submission.csv", stale=STALE),
    Scenario("onadata-nested-repeats", {"expected/nested_repeats.csv": ""},
             ["instances/nested_repeats_01.xml", "instances/nested_repeats_02.xml"], "ona", query=ONA_SPLIT,
             forced=(FEB_18, FEB_18)),
    Scenario("onadata-tutorial-repeats", {"expected/tutorial_w_repeats.csv": ""},
             ["instances/tutorial_w_repeats.xml"], "ona", query=ONA_SPLIT, forced=(FEB_18,)),
    Scenario("onadata-tutorial-repeats", {"expected/tutorial_w_repeats_truncate_titles.csv": ""},
             ["instances/tutorial_w_repeats.xml"], "ona", query=ONA_SPLIT,
             header_query=ONA_SPLIT + "&groupPaths=false", full_names="expected/tutorial_w_repeats.csv",
             forced=(FEB_18,)),
    # No XML upstream: the rows are the input of onadata's csv_import, which makes a submission of each
    # (with the row's `_submission_time`); so does geo_instances() below.
    Scenario("onadata-geo-shapes", {"expected/GeoLocationForm_2015_01_15_01_28_45.csv": ""}, [], "ona"),
    Scenario("onadata-geo-shapes", {"expected/GeoLocationForm_empty_geoms.csv": ""}, [], "ona"),
]
# Compared by their own tests below.
COMPARED_ELSEWHERE = {"onadata-tutorial-repeats/expected/tutorial_w_repeats_flattened.csv"}


def test_every_expected_csv_of_the_corpus_is_compared():
    shipped = {f"{c['name']}/{e}" for c in CORPUS_CASES for e in c.get("expected", []) if e.endswith(".csv")}
    compared = {f"{s.case}/{f}" for s in SCENARIOS for f in s.tables} | COMPARED_ELSEWHERE
    assert shipped, "the corpus ships expected CSVs"
    assert shipped == compared


# ==================================================================================================
# Reading both sides
# ==================================================================================================

@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]

    @classmethod
    def parse(cls, text: str) -> Table:
        found = list(csv.reader(io.StringIO(text)))
        return cls(found[0], found[1:])

    def has(self, name: str) -> bool:
        return name in self.header

    def get(self, row: list[str], name: str) -> str:
        assert self.header.count(name) == 1, f"{name!r} should be one column of {self.header}"
        return row[self.header.index(name)]

    def dicts(self) -> list[dict[str, str]]:
        return [dict(zip(self.header, r)) for r in self.rows]


def read_expected(case: str, path: str) -> Table:
    return Table.parse((CORPUS / case / path).read_text("utf-8"))


def field_types(admin, project: int, form_id: str) -> dict[str, str]:
    """'group/field' -> the XForm bind type, from the form Hamlet serves."""
    xml = etree.fromstring(admin.get(f"/v1/projects/{project}/forms/{quote(form_id)}.xml").data)
    return {b.get("nodeset").split("/", 2)[2]: b.get("type", "string") for b in xml.iter("{*}bind")}


class Hamlet:
    """One scenario's form on a fresh project: publish, post, pin receipt times, export."""

    def __init__(self, app, admin, client, project: int, scenario: Scenario):
        self.admin, self.client, self.project, self.scenario = admin, client, project, scenario
        self.central = Central(app, admin, project)
        self.case = dict(BY_NAME[scenario.case])
        self.versions: dict[str, str | None] = {}  # instanceID -> the version the instance names

    def publish(self, extra_versions=()) -> None:
        case = self.case
        if extra_versions:
            case = {**case, "instances": [*case["instances"], *({"version": v} for v in extra_versions)]}
        self.form_id, self.base = publish_case(self.admin, self.project, case)
        if self.case["name"] == "onadata-transportation":
            # publish_case leaves this case's form as shipped (its stray versions test refusal). Ona accepted
            # instances without a version attribute into the current form; so does Central once a version
            # without one is published, which is what 19-06-01 and 19-06-14 need.
            self._publish_unversioned()
        self.types = field_types(self.admin, self.project, self.form_id)

    def _publish_unversioned(self) -> None:
        base = f"/v1/projects/{self.project}/forms/{self.form_id}"
        xml = etree.fromstring(self.admin.get(f"{base}.xml").data)
        xml.find("{*}head/{*}model/{*}instance")[0].attrib.pop("version", None)
        body = etree.tostring(xml, xml_declaration=True, encoding="utf-8")
        assert self.admin.post(f"{base}/draft", data=body, content_type="application/xml").status_code == 200
        assert self.admin.post(f"{base}/draft/publish").status_code == 200

    def post(self, xml: bytes, files: dict[str, bytes]) -> str:
        root = etree.fromstring(xml)
        iid = root.get("instanceID") or root.findtext(".//{*}meta/{*}instanceID")
        resp = submit(self.client, self.base, xml, files)
        assert resp.status_code == 201, resp.data
        self.versions[iid] = root.get("version")
        return iid

    def post_corpus(self) -> None:
        folder = CORPUS / self.scenario.case
        for path in self.scenario.instances:
            [entry] = [i for i in self.case["instances"] if i["file"] == path]
            files = {n: (folder / "attachments" / n).read_bytes() for n in entry["attachments"]} \
                if self.scenario.attachments else {}
            self.post((folder / path).read_bytes(), files)

    def pin(self, instance_id: str, moment: datetime) -> None:
        self.central.set(self.form_id, instance_id, created_at=moment)

    def export(self, query: str) -> dict[str, Table]:
        """The archive's CSV files by table: "" for the root, else the repeat's name."""
        path = f"/v1/projects/{self.project}/forms/{quote(self.form_id)}/submissions.csv.zip{query}"
        if self.scenario.case == "briefcase-encrypted-form":
            # Decrypted for this download only, with the private key in the POST body (never the URL).
            pem = (CORPUS / self.scenario.case / "keys/encrypted-form-key.pem").read_text()
            resp = self.admin.post(path, data={"privateKey": pem}, content_type="multipart/form-data")
        else:
            resp = self.admin.get(path)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        tables = {}
        with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
            for name in z.namelist():
                if name.endswith(".csv"):
                    stem = name[:-4]
                    key = "" if stem == self.form_id else stem[len(self.form_id) + 1:]
                    assert key == "" or stem.startswith(self.form_id + "-"), name
                    tables[key] = Table.parse(z.read(name).decode("utf-8"))
        return tables


# ==================================================================================================
# Value normalisation: each server's representation of one answer, as Central writes it
# ==================================================================================================

def java_locale(kind: str, text: str):
    """Briefcase's en_US rendering (JVM time zone UTC) -> date / time / datetime."""
    if kind == "date":
        return datetime.strptime(text, "%b %d, %Y").date()
    if kind == "time":
        return datetime.strptime(text, "%I:%M:%S %p").time()
    return datetime.strptime(text, "%b %d, %Y %I:%M:%S %p").replace(tzinfo=UTC)


def iso(kind: str, text: str, seconds: bool = False):
    """Central's text of a date, time or dateTime -> the same objects, in UTC."""
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "time":
        moment = datetime.combine(date(2000, 1, 1), time.fromisoformat(text))
        moment = moment.astimezone(UTC) if moment.tzinfo else moment
        return moment.time()
    moment = datetime.fromisoformat(text)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0) if seconds else moment.astimezone(UTC)


CENTRAL_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# ==================================================================================================
# Counterparts
# ==================================================================================================

@dataclass
class Counterpart:
    kind: str                  # field | choice | geopoint | meta | set-of | own
    column: str = ""           # Hamlet's column (for own: why there is none)
    table: str = ""            # "" root, else the repeat's name
    row: str = ""              # wide repeat columns: the KEY suffix of the row, 'kids/kids_details[1]'
    choice: str = ""


def _in_table(name: str, columns: list[str], sep: str) -> Counterpart:
    """A column name inside one table, with `sep` between path steps (Ona '/', Briefcase '-')."""
    dashed = name.replace("/", "-") if sep == "/" else name
    if dashed in columns:
        return Counterpart("field", dashed)
    if f"{dashed}-Latitude" in columns:
        return Counterpart("geopoint", dashed)
    head, _, choice = name.rpartition("/")
    head = head.replace("/", "-") if sep == "/" else head
    if head in columns:
        return Counterpart("choice", head, choice=choice)
    return Counterpart("field", dashed)   # missing: reported as such by the caller


def briefcase_counterpart(name: str, hamlet: dict[str, Table], table: str) -> Counterpart:
    if name.startswith("SET-OF-"):
        return Counterpart("set-of", table=name[len("SET-OF-"):])
    if name in BRIEFCASE_OWN:
        return Counterpart("own", BRIEFCASE_OWN[name])
    found = _in_table(name, hamlet[table].header, "-")
    found.table = table
    return found


def ona_counterpart(name: str, hamlet: dict[str, Table]) -> Counterpart:
    if name in ONA_OWN:
        return Counterpart("own", ONA_OWN[name])
    if name in ONA_META:
        return Counterpart("meta", ONA_META[name][0])
    wide = re.fullmatch(r"(?P<row>.*\[\d+\])/(?P<field>[^\[\]]+)", name)
    if wide:
        repeat = re.search(r"([^/\[\]]+)\[\d+\]$", wide["row"])[1]
        assert repeat in hamlet, f"{name}: Hamlet has a table for repeat {repeat!r}"
        found = _in_table(wide["field"], hamlet[repeat].header, "/")
        found.table, found.row = repeat, wide["row"]
        return found
    geo = re.fullmatch(r"_(?P<geo>.+)_(?P<part>latitude|longitude|altitude|precision)", name)
    if geo:
        return Counterpart("field", f"{geo['geo'].replace('/', '-')}-{GEO_PARTS[geo['part']]}")
    return _in_table(name, hamlet[""].header, "/")


def short_name(full: str, group_paths_false: Counterpart) -> str:
    """Ona's header for a column once group prefixes are dropped (no_group_names, truncate_titles)."""
    if full.startswith("_"):
        return full
    if group_paths_false.kind == "choice":
        return "/".join(full.split("/")[-2:])
    return full.rsplit("/", 1)[-1]


# ==================================================================================================
# The comparison
# ==================================================================================================

def _geopoint(table: Table, row: list[str], column: str) -> str:
    return " ".join(table.get(row, f"{column}-{p}") for p in GEO_PARTS.values()).strip()


def _chosen(expected: str, convention: str) -> bool | None:
    """Whether the choice is chosen, by the other server's cell (None: the question has no answer)."""
    if convention == "ona":
        return {"True": True, "False": False, "n/a": None, "": None}[expected]
    return {"1": True, "0": False}[expected]


class Comparison:
    def __init__(self, scenario: Scenario, hamlet: Hamlet, tables: dict[str, Table]):
        self.s, self.h, self.tables = scenario, hamlet, tables
        self.root = tables[""]
        self.by_key = {self.root.get(r, "KEY"): r for r in self.root.rows}
        self.repeat_rows = {tables[t].get(r, "KEY"): (t, r) for t in tables if t for r in tables[t].rows}

    def counterpart(self, name: str, table: str) -> Counterpart:
        if self.s.convention == "briefcase":
            return briefcase_counterpart(name, self.tables, table)
        return ona_counterpart(name, self.tables)

    def column_exists(self, c: Counterpart) -> bool:
        t = self.tables[c.table]
        if c.kind == "geopoint":
            return all(t.has(f"{c.column}-{p}") for p in GEO_PARTS.values())
        return t.has(c.column)

    def check_header(self, expected: Table, table: str) -> list[Counterpart]:
        """Every upstream column maps to a Hamlet column, or is listed as the other server's own."""
        mapped = []
        for name in expected.header:
            c = self.counterpart(name, table)
            if c.kind == "own":
                pass
            elif c.kind == "set-of":
                assert c.table in self.tables, f"{name}: Hamlet has no table for repeat {c.table!r}"
            elif c.kind == "choice" and not self.tables[c.table].has(f"{c.column}/{c.choice}"):
                # Central splits by the values seen in the data: a choice nobody chose has no column.
                for row in expected.rows:
                    assert not _chosen(row[expected.header.index(name)], self.s.convention), (name, row)
            else:
                assert self.column_exists(c), f"{self.s.id}: {name!r} has no counterpart {c} in " \
                                              f"{self.tables[c.table].header}"
            mapped.append(c)
        return mapped

    # --- values -----------------------------------------------------------------------------------

    def value(self, c: Counterpart, key: str, want: str, name: str) -> None:
        where = f"{self.s.id}: {name} of {key}"
        if c.row:  # a wide repeat column
            found = self.repeat_rows.get(f"{key}/{c.row}")
            if found is None and want in ("n/a", ""):
                return  # no such repeat instance (wide_repeats checks that Hamlet has none either)
            assert found is not None, f"{where}: Hamlet has no row {key}/{c.row}"
            table, row = self.tables[found[0]], found[1]
        elif c.table:
            table, row = self.tables[c.table], self.repeat_rows[key][1]
        else:
            table, row = self.root, self.by_key[key]
        if c.kind == "geopoint":
            assert _geopoint(table, row, c.column) == self._plain(want), where
        elif c.kind == "choice":
            raw, chosen = table.get(row, c.column), _chosen(want, self.s.convention)
            assert (c.choice in raw.split()) is bool(chosen), where
            assert (raw.strip() == "") is (chosen is None), where
            if table.has(f"{c.column}/{c.choice}"):
                assert table.get(row, f"{c.column}/{c.choice}") == ("1" if chosen else "0"), where
        elif c.kind == "meta":
            self.meta(name, table.get(row, c.column), want, row, key, where)
        elif c.kind == "field":
            got = table.get(row, c.column)
            # The XForm type of a root field ('group-field' is 'group/field'); repeat fields are all text here.
            kind = "SubmissionDate" if c.column == "SubmissionDate" else \
                self.h.types.get(c.column.replace("-", "/"), "string")
            self.field(kind, got, want, where)

    def _plain(self, want: str) -> str:
        return "" if self.s.convention == "ona" and want == "n/a" else want

    def field(self, kind: str, got: str, want: str, where: str) -> None:
        if self.s.convention == "briefcase" and want and kind in ("date", "time", "dateTime"):
            assert iso(kind, got) == java_locale(kind, want), where
        elif kind == "SubmissionDate":
            assert CENTRAL_DATE.fullmatch(got), where
            assert iso("dateTime", got, seconds=True) == java_locale("dateTime", want), where
        else:
            assert got == self._plain(want), f"{where}: {got!r} != {want!r}"

    def meta(self, name: str, got: str, want: str, row: list[str], key: str, where: str) -> None:
        if name == "_uuid":
            assert got == "uuid:" + want, where
        elif name == "_submission_time":
            assert CENTRAL_DATE.fullmatch(got), where
            assert iso("dateTime", got) == iso("dateTime", want), where
        elif name == "_version":
            named = self.h.versions[key]
            assert got == (named or ""), where
            if named is not None:
                assert got == want, where
        elif name in ("_total_media", "_media_count"):
            assert got == want, where
        elif name == "_media_all_received":
            present, expected = self.root.get(row, "AttachmentsPresent"), self.root.get(row, "AttachmentsExpected")
            assert (present == expected) is (want == "True"), where
        else:
            raise AssertionError(f"{name}: no rule")

    # --- tables -----------------------------------------------------------------------------------

    def compare_root(self, expected: Table) -> None:
        mapped = self.check_header(expected, "")
        key_column = "KEY" if self.s.convention == "briefcase" else \
            next(n for n in expected.header if n.endswith("instanceID"))
        keys = [r[expected.header.index(key_column)] for r in expected.rows]
        # Central's rows are newest first; upstream's oldest first, and the instances went in that order.
        assert [self.root.get(r, "KEY") for r in self.root.rows] == keys[::-1]
        for erow in expected.rows:
            key = erow[expected.header.index(key_column)]
            for name, c, want in zip(expected.header, mapped, erow):
                if c.kind == "own" or name in self.s.stale:
                    continue
                if c.kind == "set-of":
                    self.set_of(c, key, want)
                    continue
                self.value(c, key, want, name)
        if self.s.convention == "ona":
            self.wide_repeats(expected, mapped, keys)

    def compare_repeat(self, expected: Table, table: str) -> None:
        """Briefcase's file per repeat: the same rows, by KEY, with the same PARENT_KEY, in the same order."""
        mapped = self.check_header(expected, table)
        mine = self.tables[table]
        assert [mine.get(r, "KEY") for r in mine.rows] == [expected.get(r, "KEY") for r in expected.rows]
        for erow in expected.rows:
            key = expected.get(erow, "KEY")
            for name, c, want in zip(expected.header, mapped, erow):
                if c.kind == "set-of":
                    self.set_of(c, key, want)
                elif c.kind != "own":
                    self.value(c, key, want, name)

    def set_of(self, c: Counterpart, key: str, want: str) -> None:
        """Briefcase's SET-OF-r: for a row's own repeat, its KEY without the index; for a child repeat,
        set when the row has children in r, each then with PARENT_KEY = this row's KEY."""
        own = re.fullmatch(rf"(.*/{re.escape(c.table)})\[\d+\]", key)
        if own:
            assert want == own[1]
            return
        t = self.tables[c.table]
        children = [t.get(r, "KEY") for r in t.rows if t.get(r, "PARENT_KEY") == key]
        if want:
            assert children and all(k.startswith(want + "[") for k in children), (c.table, key, want, children)
        else:
            assert children == [], (c.table, key)

    def wide_repeats(self, expected: Table, mapped: list[Counterpart], keys: list[str]) -> None:
        """Ona's repeat instances (a row of Hamlet's repeat file each) are those with an answer."""
        for erow, key in zip(expected.rows, keys):
            rows = set()
            for c, want in zip(mapped, erow):
                if c.row and want not in ("n/a", ""):
                    parts = c.row.split("/")
                    rows |= {"/".join(parts[:i]) for i in range(1, len(parts) + 1) if parts[i - 1].endswith("]")}
            mine = {k[len(key) + 1:] for k in self.repeat_rows if k.startswith(key + "/")}
            assert mine == rows, key
            for suffix in rows:
                table, row = self.repeat_rows[f"{key}/{suffix}"]
                parent = re.match(r"(.*\])/", suffix)  # the nearest enclosing repeat instance, else the root
                assert self.tables[table].get(row, "PARENT_KEY") == (f"{key}/{parent[1]}" if parent else key)


def _pin_receipt_times(scenario: Scenario, hamlet: Hamlet, expected_root: Table) -> None:
    """Set the receipt time upstream recorded: Briefcase read its storage copy's submissionDate, Ona's
    tests forced `_submission_time`."""
    folder = CORPUS / scenario.case
    if scenario.convention == "briefcase":
        for path in scenario.instances:
            root = etree.fromstring((folder / path).read_bytes())
            hamlet.pin(root.get("instanceID"), iso("dateTime", root.get("submissionDate")))
    elif scenario.forced:
        assert len(scenario.forced) == len(hamlet.versions)
        for instance_id, moment in zip(hamlet.versions, scenario.forced):
            hamlet.pin(instance_id, iso("dateTime", moment))
    elif "_submission_time" in expected_root.header:
        key = next(n for n in expected_root.header if n.endswith("instanceID"))
        for row in expected_root.dicts():
            hamlet.pin(row[key], iso("dateTime", row["_submission_time"]))


def geo_instances(expected: Table) -> list[bytes]:
    """onadata's csv_import: a submission from each row of its CSV (n/a: no answer)."""
    out = []
    for row in expected.dicts():
        v = {k: ("" if x == "n/a" else x) for k, x in row.items()}
        out.append((f'<GeoLocationForm id="GeoLocationForm" version="{v["_version"]}"><today>{v["today"]}</today>'
                    f'<location>{v["location"]}</location><path>{v["path"]}</path><shape>{v["shape"]}</shape>'
                    f'<meta><instanceID>{v["meta/instanceID"]}</instanceID></meta></GeoLocationForm>').encode())
    return out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_corpus_case_exports_as_upstream(scenario, app, admin, client, project):
    [root_file] = [f for f, t in scenario.tables.items() if t == ""]
    expected_root = read_expected(scenario.case, root_file)
    hamlet = Hamlet(app, admin, client, project, scenario)
    made = geo_instances(expected_root) if scenario.case == "onadata-geo-shapes" else []
    hamlet.publish(extra_versions={etree.fromstring(x).get("version") for x in made})
    before = datetime.now(UTC).replace(microsecond=0)
    hamlet.post_corpus()
    for xml in made:
        hamlet.post(xml, {})
    after = datetime.now(UTC)

    # Central's SubmissionDate is when the server received the submission.
    received = hamlet.export(scenario.query)[""]
    assert len(received.rows) == len(expected_root.rows)
    for row in received.rows:
        assert CENTRAL_DATE.fullmatch(received.get(row, "SubmissionDate"))
        assert before <= iso("dateTime", received.get(row, "SubmissionDate")) <= after

    _pin_receipt_times(scenario, hamlet, expected_root)
    tables = hamlet.export(scenario.query)
    comparison = Comparison(scenario, hamlet, tables)
    if scenario.full_names:
        # The file's headers are shortened; its columns are those of the full-name file, one for one.
        full = read_expected(scenario.case, scenario.full_names)
        assert len(full.header) == len(expected_root.header)
        named = hamlet.export(scenario.header_query)
        check_short_headers(scenario, comparison, expected_root, full, named)
        expected_root = Table(full.header, expected_root.rows)
    comparison.compare_root(expected_root)
    for path, table in scenario.tables.items():
        if table:
            comparison.compare_repeat(read_expected(scenario.case, path), table)
    if scenario.convention == "briefcase":
        assert_briefcase_layout(scenario, tables, {p: read_expected(scenario.case, p) for p in scenario.tables})


def check_short_headers(scenario: Scenario, comparison: Comparison, expected: Table, full: Table,
                        named: dict[str, Table]) -> None:
    """Shortened upstream headers against Hamlet's export with the same option, column for column."""
    plain = comparison.tables
    for t in plain:  # the option renames columns, it neither adds nor removes any
        assert len(named[t].header) == len(plain[t].header), t
    labels = "labels=" in scenario.header_query
    for short, long in zip(expected.header, full.header):
        c = ona_counterpart(long, plain)
        if long.startswith("_"):
            assert short == long  # Ona's underscore columns keep their names
            if c.kind == "field" and not labels:
                assert named[c.table].header[plain[c.table].header.index(c.column)] == c.column  # so do Hamlet's
            continue
        if c.kind == "choice" and not plain[c.table].has(f"{c.column}/{c.choice}"):
            continue  # a choice nobody chose: no column to name (checked with the values)
        column = {"choice": f"{c.column}/{c.choice}", "geopoint": f"{c.column}-Latitude"}.get(c.kind, c.column)
        mine = named[c.table].header[plain[c.table].header.index(column)]
        if labels and c.kind == "field" and not c.column.startswith("meta-"):
            assert mine == short, (long, short, mine)  # the question's label
        elif labels and c.kind == "choice":
            # Ona: question name/choice label; Hamlet: question label (choice label).
            assert mine.endswith(f" ({short.rsplit('/', 1)[-1]})"), (long, short, mine)
        elif c.kind == "geopoint":
            assert short == long.rsplit("/", 1)[-1] and mine == f"{short}-Latitude", (long, short, mine)
        else:
            # groupPaths=false: Ona and Central both drop the group prefixes (a question without a label
            # keeps that short name under Ona's labels too).
            assert short == short_name(long, c) == mine, (long, short, mine)


def assert_briefcase_layout(scenario: Scenario, tables: dict[str, Table], expected: dict[str, Table]) -> None:
    """Central's columns are Briefcase's, in Briefcase's order, without Briefcase's own columns and the
    choices nobody chose, and with Central's metadata after KEY."""
    for path, table in scenario.tables.items():
        theirs = [n for n in expected[path].header if n not in BRIEFCASE_OWN and not n.startswith("SET-OF-")]
        theirs = [n for n in theirs if "/" not in n or tables[table].has(n)]
        if table == "":
            assert tables[table].header == theirs + CENTRAL_META[1:]
        else:
            assert tables[table].header == theirs


# ==================================================================================================
# Ona's one-row-per-repeat-instance layout, and Hamlet's person-level table
# ==================================================================================================

def test_ona_flattened_repeat_is_hamlets_person_table(admin, client, project):
    """tutorial_w_repeats_flattened.csv has a row per child with the parent's answers beside it: Hamlet's
    persons.csv (one row per row of a repeat, with its submission's answers, PARENT_KEY and KEY).
    Mapping: children/field -> field; a root field -> the same name (geopoints split as in the CSV);
    meta/instanceID -> PARENT_KEY (persons.csv leaves meta fields out); n/a -> empty."""
    case = BY_NAME["onadata-tutorial-repeats"]
    form_id, base = publish_case(admin, project, case)
    xml = (CORPUS / case["name"] / "instances/tutorial_w_repeats.xml").read_bytes()
    assert submit(client, base, xml).status_code == 201
    expected = read_expected(case["name"], "expected/tutorial_w_repeats_flattened.csv")
    resp = admin.get(f"/v1/projects/{project}/forms/{form_id}/persons.csv?repeat=children")
    assert resp.status_code == 200
    mine = Table.parse(resp.data.decode("utf-8-sig"))
    assert len(mine.rows) == len(expected.rows) == 2
    tables = {"": mine, "children": mine}
    for erow, row in zip(expected.dicts(), mine.rows):
        for name, upstream in erow.items():
            want = "" if upstream == "n/a" else upstream
            if name == "meta/instanceID":
                assert mine.get(row, "PARENT_KEY") == want
                continue
            c = ona_counterpart(name.removeprefix("children/"), tables)
            if c.kind == "geopoint":
                assert _geopoint(mine, row, c.column) == want, name
            elif c.kind == "choice":
                raw, chosen = mine.get(row, c.column), _chosen(want or "n/a", "ona")
                assert (c.choice in raw.split()) is bool(chosen) and (raw == "") is (chosen is None), name
            else:
                assert mine.get(row, c.column) == want, name
        assert mine.get(row, "KEY").startswith(erow["meta/instanceID"] + "/children[")


@pytest.mark.parametrize("scenario", list({s.case: s for s in SCENARIOS}.values()), ids=lambda s: s.case)
def test_each_corpus_form_gives_the_same_bytes_by_database_and_by_python(scenario, app, admin, client, project,
                                                                        database_url, monkeypatch):
    """Other servers' forms and instances (nested repeats, geopoints in repeats, groups, select multiples,
    other languages): every format the database makes, against Python's."""
    hamlet = Hamlet(app, admin, client, project, scenario)
    hamlet.publish()
    hamlet.post_corpus()
    form = f"/v1/projects/{project}/forms/{quote(hamlet.form_id)}"
    paths = [f"{form}/submissions.xlsx", f"{form}/submissions.xlsx?groupPaths=false&deletedFields=true",
             f"{form}/submissions.geojson", f"{form}/submissions.geojson?deletedFields=true", f"{form}/persons.csv",
             f"{form}/submissions.csv.zip", f"{form}/submissions.csv.zip?deletedFields=true"]
    statuses = {p: admin.get(p).status_code for p in paths}
    used: list[bool] = []
    by_database, by_python = downloads_by_database_and_by_python(admin, paths, monkeypatch, used)
    for p in paths:
        assert by_database[p] == by_python[p], p
    assert used and all(used) == database_url.startswith("postgresql")
    assert statuses[paths[0]] == 200
