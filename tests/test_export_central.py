"""Central's CSV export, byte for byte: the cases of Central's own tests, replayed through Hamlet's API.

Two sources of cases (odk-protocol §6.6):

* Central's unit tests of the Briefcase-style CSV writer (test/unit/data/briefcase.js). Central feeds
  that writer ready-made rows; here each form is published and each instance submitted through the
  REST or OpenRosa API, and what Central's tests set by hand (the submission date, the submitter,
  the review state, the device, the edit count, the attachment counts) is then set in the database.
* Central's integration tests of `GET …/submissions.csv.zip` and `…/submissions.csv`
  (test/integration/api/submissions.js), with the forms and instances of test/data/xml.js. Those tests
  compare rows after cutting off the submission date; here every date is pinned, so every file is
  compared whole.

The forms are in tests/data/central_csv/. Where a form had to change to be published or submitted
through a real API, the change is named in a comment beside the test, and none of them changes a
byte of the expected CSV. In the unit tests Central's rows all carry the date 2018-01-01 and arrive
in the order given; a real export puts the newest submission first (ties broken by the later
arrival), so those instances are submitted in reverse."""
from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime

import pytest

from central import DATA, META, Central

JAN_2018 = datetime(2018, 1, 1, tzinfo=UTC)
SIMPLE_HEADER = f"SubmissionDate,meta-instanceID,name,age,{META}\n"


def instance(form: str, instance_id: str, data: str, version: str | None = "version") -> str:
    """A submission with meta/instanceID first, as Central's test helpers write them."""
    v = f' version="{version}"' if version is not None else ""
    return f'<data id="{form}"{v}><meta><instanceID>{instance_id}</instanceID></meta>{data}</data>'


def full_instance(form: str, version: str, instance_id: str, data: str) -> str:
    """The same with the orx: namespace on the meta block and a form version."""
    return (f'<data id="{form}" version="{version}"><orx:meta xmlns:orx="http://openrosa.org/xforms">'
            f"<orx:instanceID>{instance_id}</orx:instanceID></orx:meta>{data}</data>")


def unit_rows(central: Central, form: str, created_at: datetime = JAN_2018) -> None:
    """What Central's unit tests give every row: one submission date and no submitter."""
    central.set_all(form, created_at=created_at, submitter_id=None)


def assert_files(files: dict[str, str], expected: dict[str, str]) -> None:
    """The same entries, in the same order, each with the same text."""
    assert list(files) == list(expected)
    for name, text in expected.items():
        assert files[name] == text, name


def submit_newest_first(central: Central, form: str, instances: list[tuple[str, str]]) -> None:
    """Central's unit tests list rows newest first; the last submission sent is the newest."""
    for instance_id, data in reversed(instances):
        central.submit(form, instance(form, instance_id, data))
    unit_rows(central, form)


# ==================================================================================================
# Central's unit tests: test/unit/data/briefcase.js
# ==================================================================================================

PEOPLE = [("one", "<name>Alice</name><age>30</age><hometown>Seattle, WA</hometown>"),
          ("two", "<name>Bob</name><age>34</age><hometown>Portland, OR</hometown>"),
          ("three", "<name>Chelsea</name><age>38</age><hometown>San Francisco, CA</hometown>")]
FLAT_HEADER = f"SubmissionDate,name,age,hometown,{META}\n"

# mytestform.xml, and every form below with version="version": Central's unit tests give each row the
# form version 'version' by hand; here the form carries it, so FormVersion reads the same.


def test_a_flat_form_is_one_table_quoted_only_where_a_comma_needs_it(central):
    central.publish("mytestform")
    submit_newest_first(central, "mytestform", PEOPLE)
    files = central.csv_files("mytestform")
    assert list(files) == ["mytestform.csv"]
    assert files["mytestform.csv"] == FLAT_HEADER + (
        '2018-01-01T00:00:00.000Z,Alice,30,"Seattle, WA",one,,,0,0,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,Bob,34,"Portland, OR",two,,,0,0,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,Chelsea,38,"San Francisco, CA",three,,,0,0,,,,0,version\n')


def test_incomplete_markup_is_refused_at_intake_and_the_export_still_answers(central):
    # Central's case feeds its CSV writer the bytes '<data id="data">' and checks that it does not hang.
    # Hamlet never stores such a submission: intake refuses XML that is not well-formed, so the nearest
    # real behaviour is that refusal and an export of the form that still answers.
    central.publish("simple")
    resp = central.api.post(f"/v1/projects/{central.project}/forms/simple/submissions", data=b'<data id="simple">',
                            content_type="application/xml")
    assert resp.status_code == 400
    assert_files(central.csv_files("simple"), {"simple.csv": SIMPLE_HEADER})


def test_submitter_id_and_display_name_fill_their_columns(central):
    central.publish("mytestform")
    submit_newest_first(central, "mytestform", PEOPLE)
    for actor_id, name, instance_id in [(4, "daniela", "one"), (8, "hernando", "two"), (15, "lito", "three")]:
        central.actor(actor_id, name)
        central.set("mytestform", instance_id, submitter_id=actor_id)
    assert central.csv_files("mytestform")["mytestform.csv"] == FLAT_HEADER + (
        '2018-01-01T00:00:00.000Z,Alice,30,"Seattle, WA",one,4,daniela,0,0,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,Bob,34,"Portland, OR",two,8,hernando,0,0,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,Chelsea,38,"San Francisco, CA",three,15,lito,0,0,,,,0,version\n')


def test_attachments_present_and_expected_are_counted(central):
    central.publish("mytestform")
    submit_newest_first(central, "mytestform", PEOPLE)
    # The counts Central's test sets by hand become attachment rows; the files were never sent, so
    # the archive is asked for without media (Central's test reads only the CSV).
    for instance_id, present, expected in [("one", 2, 4), ("two", 1, 4), ("three", 3, 3)]:
        central.attachments("mytestform", instance_id, present, expected)
    files = central.csv_files("mytestform", "?attachments=false")
    assert list(files) == ["mytestform.csv"]
    assert files["mytestform.csv"] == FLAT_HEADER + (
        '2018-01-01T00:00:00.000Z,Alice,30,"Seattle, WA",one,,,2,4,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,Bob,34,"Portland, OR",two,,,1,4,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,Chelsea,38,"San Francisco, CA",three,,,3,3,,,,0,version\n')


def envelope(form: str, instance_id: str, version: str = "version", media: tuple[str, ...] = ()) -> str:
    """An encrypted submission's envelope (the manifest Collect sends beside submission.xml.enc)."""
    files = "".join(f"<media><file>{m}</file></media>" for m in media)
    return (f'<data id="{form}" version="{version}" encrypted="yes" xmlns="http://www.opendatakit.org/xforms/encrypted">'
            "<base64EncryptedKey>cGFzc3BocmFzZQ==</base64EncryptedKey>"
            f'<orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>{instance_id}</orx:instanceID></orx:meta>'
            f"{files}<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
            "<base64EncryptedElementSignature>c2lnbmF0dXJl</base64EncryptedElementSignature></data>")


def test_review_state_is_shown_and_an_encrypted_submission_without_its_data_says_so(central):
    central.publish("mytestform")
    # Central's case: row 'one' is encrypted and its encrypted data never arrived. Here that is an
    # envelope whose submission.xml.enc was not sent. Central's test sets both attachment counts to 0;
    # a real envelope names submission.xml.enc, so a real Central (and Hamlet) counts it as expected.
    central.submit("mytestform", instance("mytestform", "two", PEOPLE[1][1]))
    central.openrosa(envelope("mytestform", "one"))
    unit_rows(central, "mytestform")
    central.set("mytestform", "two", review_state="rejected")
    assert central.csv_files("mytestform")["mytestform.csv"] == FLAT_HEADER + (
        "2018-01-01T00:00:00.000Z,,,,one,,,0,1,missing encrypted form data,,,0,version\n"
        '2018-01-01T00:00:00.000Z,Bob,34,"Portland, OR",two,,,0,0,,rejected,,0,version\n')


def test_device_id_is_shown(central):
    central.publish("mytestform")
    central.openrosa(envelope("mytestform", "one"), query="?deviceID=test%20device")
    unit_rows(central, "mytestform")
    assert central.csv_files("mytestform")["mytestform.csv"] == FLAT_HEADER + (
        "2018-01-01T00:00:00.000Z,,,,one,,,0,1,missing encrypted form data,,test device,0,version\n")


def test_the_edit_count_is_shown(central):
    # Central's case parses the non-XML text 'xml' into an empty row; the nearest real submission is
    # one with no answers.
    central.publish("mytestform")
    central.submit("mytestform", instance("mytestform", "one", ""))
    unit_rows(central, "mytestform")
    central.set_all("mytestform", edits=3)
    assert central.csv_files("mytestform")["mytestform.csv"] == FLAT_HEADER + (
        "2018-01-01T00:00:00.000Z,,,,one,,,0,0,,,,3,version\n")


def test_each_row_shows_the_form_version_it_was_submitted_with(central):
    form = (DATA / "mytestform.xml").read_text("utf-8")
    central.publish("mytestform", form.replace('version="version"', 'version="original"'))
    central.new_version("mytestform", form.replace('version="version"', 'version="updated"'))
    central.submit("mytestform", instance("mytestform", "two", "", version="updated"))
    central.submit("mytestform", instance("mytestform", "one", "", version="original"))
    unit_rows(central, "mytestform")
    assert central.csv_files("mytestform")["mytestform.csv"] == FLAT_HEADER + (
        "2018-01-01T00:00:00.000Z,,,,one,,,0,0,,,,0,original\n"
        "2018-01-01T00:00:00.000Z,,,,two,,,0,0,,,,0,updated\n")


def test_xml_entities_are_decoded(central):
    central.publish("mytestform")
    central.submit("mytestform", instance("mytestform", "one",
                                          "<name>&#171;Alice&#187;</name><age>30</age><hometown>Seattle, WA</hometown>"))
    unit_rows(central, "mytestform")
    assert central.csv_files("mytestform")["mytestform.csv"] == FLAT_HEADER + (
        '2018-01-01T00:00:00.000Z,\xabAlice\xbb,30,"Seattle, WA",one,,,0,0,,,,0,version\n')


def test_a_geopoint_becomes_four_columns(central):
    central.publish("geopoint")
    submit_newest_first(central, "mytestform", [
        ("one", "<name>Alice</name><age>30</age><location>47.649434 -122.347737 26.8 3.14</location>"),
        ("two", "<name>Bob</name><age>34</age><location>47.599115 -122.331753 10</location>"),
        ("three", "<name>Chelsea</name><age>38</age><location></location>")])
    assert central.csv_files("mytestform")["mytestform.csv"] == (
        "SubmissionDate,name,age,location-Latitude,location-Longitude,location-Altitude,location-Accuracy,"
        f"{META}\n"
        "2018-01-01T00:00:00.000Z,Alice,30,47.649434,-122.347737,26.8,3.14,one,,,0,0,,,,0,version\n"
        "2018-01-01T00:00:00.000Z,Bob,34,47.599115,-122.331753,10,,two,,,0,0,,,,0,version\n"
        "2018-01-01T00:00:00.000Z,Chelsea,38,,,,,three,,,0,0,,,,0,version\n")


# Central's two unit cases "should split known select many fields into value columns" (with and
# without group paths) hand the writer a list of option values ({'/q1': [x, y, z], '/g1/q2': [m, n]})
# that no submission contains. Through the API the list always comes from the submitted values, so
# those two cases are the integration cases further down (test_select_multiples_split_…).

STRUCTURED = [
    ("one", "<name>Alice</name><home><type>Apartment</type><address><street>101 Pike St</street>"
            "<city>Seattle, WA</city></address></home>"),
    ("two", "<name>Bob</name><home><address><street>20 Broadway</street><city>Portland, OR</city></address>"
            "<type>Condo</type></home>"),
    ("three", "<name>Chelsea</name><home><type>House</type><address><city>San Francisco, CA</city>"
              "<street>99 Mission Ave</street></address></home>")]

# structuredform.xml and the repeat forms below declare xmlns:orx, which Central's test forms use
# without declaring (Central's parser does not check namespaces; an XML parser refuses the form).


def test_groups_flatten_into_dash_joined_column_names(central):
    central.publish("structuredform")
    submit_newest_first(central, "structuredform", STRUCTURED)
    files = central.csv_files("structuredform")
    assert list(files) == ["structuredform.csv"]
    assert files["structuredform.csv"] == (
        f"SubmissionDate,meta-instanceID,name,home-type,home-address-street,home-address-city,{META}\n"
        '2018-01-01T00:00:00.000Z,one,Alice,Apartment,101 Pike St,"Seattle, WA",one,,,0,0,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,two,Bob,Condo,20 Broadway,"Portland, OR",two,,,0,0,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,three,Chelsea,House,99 Mission Ave,"San Francisco, CA",three,,,0,0,,,,0,version\n')


def test_group_paths_false_leaves_only_the_field_names(central):
    central.publish("structuredform")
    submit_newest_first(central, "structuredform", STRUCTURED)
    files = central.csv_files("structuredform", "?groupPaths=false")
    assert list(files) == ["structuredform.csv"]
    assert files["structuredform.csv"] == (
        f"SubmissionDate,instanceID,name,type,street,city,{META}\n"
        '2018-01-01T00:00:00.000Z,one,Alice,Apartment,101 Pike St,"Seattle, WA",one,,,0,0,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,two,Bob,Condo,20 Broadway,"Portland, OR",two,,,0,0,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,three,Chelsea,House,99 Mission Ave,"San Francisco, CA",three,,,0,0,,,,0,version\n')


def test_a_repeat_is_its_own_table_keyed_by_its_path_and_counted_across_its_group(central):
    central.publish("singlerepeat")
    # In 'two' the group <children> itself appears twice; Central numbers the repeat per submission
    # (child[1], child[2]), not per <children> element.
    submit_newest_first(central, "singlerepeat", [
        ("one", "<name>Alice</name><age>30</age>"),
        ("two", "<name>Bob</name><age>34</age><children><child><name>Billy</name><age>4</age></child></children>"
                "<children><child><name>Blaine</name><age>6</age></child></children>"),
        ("three", "<name>Chelsea</name><age>38</age><children><child><name>Candace</name><age>2</age></child>"
                  "</children>")])
    files = central.csv_files("singlerepeat")
    assert list(files) == ["singlerepeat.csv", "singlerepeat-child.csv"]
    assert files["singlerepeat.csv"] == (
        f"SubmissionDate,meta-instanceID,name,age,{META}\n"
        "2018-01-01T00:00:00.000Z,one,Alice,30,one,,,0,0,,,,0,version\n"
        "2018-01-01T00:00:00.000Z,two,Bob,34,two,,,0,0,,,,0,version\n"
        "2018-01-01T00:00:00.000Z,three,Chelsea,38,three,,,0,0,,,,0,version\n")
    assert files["singlerepeat-child.csv"] == (
        "name,age,PARENT_KEY,KEY\n"
        "Billy,4,two,two/children/child[1]\n"
        "Blaine,6,two,two/children/child[2]\n"
        "Candace,2,three,three/children/child[1]\n")


def test_every_row_is_written(central):
    # allrows.xml is Central's form for this case (no binds for the ages); each of the 127 instances
    # also carries an orx:meta block of its own, as in Central's case.
    central.publish("allrows")
    for _ in range(127):
        central.submit("singlerepeat", instance(
            "singlerepeat", str(uuid.uuid4()),
            f'<orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>{uuid.uuid4()}</orx:instanceID>'
            f"</orx:meta><name>{uuid.uuid4()}</name><children><child><name>{uuid.uuid4()}</name></child></children>"))
    files = central.csv_files("singlerepeat")
    assert list(files) == ["singlerepeat.csv", "singlerepeat-child.csv"]
    assert len(files["singlerepeat.csv"].split("\n")) == 129
    assert len(files["singlerepeat-child.csv"].split("\n")) == 129


def test_nested_repeats_key_each_row_under_its_parent_row(central):
    central.publish("multirepeat")
    submit_newest_first(central, "multirepeat", [
        ("one", "<name>Alice</name><age>30</age>"),
        ("two", "<name>Bob</name><age>34</age><children>"
                "<child><name>Billy</name><age>4</age><toy><name>R2-D2</name></toy></child>"
                "<child><name>Blaine</name><age>6</age><toy><name>BB-8</name></toy><toy><name>Porg plushie</name></toy>"
                "</child><child><name>Baker</name><age>7</age></child></children>"),
        ("three", "<name>Chelsea</name><age>38</age><children><child><name>Candace</name>"
                  "<toy><name>Millennium Falcon</name></toy><toy><name>X-Wing</name></toy>"
                  "<toy><name>Pod racer</name></toy><age>2</age></child></children>")])
    files = central.csv_files("multirepeat")
    assert list(files) == ["multirepeat.csv", "multirepeat-child.csv", "multirepeat-toy.csv"]
    assert files["multirepeat.csv"] == (
        f"SubmissionDate,meta-instanceID,name,age,{META}\n"
        "2018-01-01T00:00:00.000Z,one,Alice,30,one,,,0,0,,,,0,version\n"
        "2018-01-01T00:00:00.000Z,two,Bob,34,two,,,0,0,,,,0,version\n"
        "2018-01-01T00:00:00.000Z,three,Chelsea,38,three,,,0,0,,,,0,version\n")
    assert files["multirepeat-child.csv"] == (
        "name,age,PARENT_KEY,KEY\n"
        "Billy,4,two,two/children/child[1]\n"
        "Blaine,6,two,two/children/child[2]\n"
        "Baker,7,two,two/children/child[3]\n"
        "Candace,2,three,three/children/child[1]\n")
    assert files["multirepeat-toy.csv"] == (
        "name,PARENT_KEY,KEY\n"
        "R2-D2,two/children/child[1],two/children/child[1]/toy[1]\n"
        "BB-8,two/children/child[2],two/children/child[2]/toy[1]\n"
        "Porg plushie,two/children/child[2],two/children/child[2]/toy[2]\n"
        "Millennium Falcon,three/children/child[1],three/children/child[1]/toy[1]\n"
        "X-Wing,three/children/child[1],three/children/child[1]/toy[2]\n"
        "Pod racer,three/children/child[1],three/children/child[1]/toy[3]\n")


def test_a_field_whose_name_extends_a_repeat_name_stays_in_the_root_table(central):
    # Central's form has the id "form" and its test names the export 'pathprefix'; through the API the
    # file names come from the form ID, so the form here has the id "pathprefix".
    central.publish("pathprefix")
    central.submit("pathprefix", instance("pathprefix", "one", "<name>Alice</name><children><name>Bob</name></children>"
                                          "<children><name>Chelsea</name></children>"
                                          "<children-status>Living at home</children-status>"))
    unit_rows(central, "pathprefix")
    files = central.csv_files("pathprefix")
    assert list(files) == ["pathprefix.csv", "pathprefix-children.csv"]
    assert files["pathprefix.csv"] == (
        f"SubmissionDate,name,children-status,{META}\n"
        "2018-01-01T00:00:00.000Z,Alice,Living at home,one,,,0,0,,,,0,version\n")
    assert files["pathprefix-children.csv"] == (
        "name,PARENT_KEY,KEY\n"
        "Bob,one,one/children[1]\n"
        "Chelsea,one,one/children[2]\n")


ALL_DATA_TYPES = """
<data id="all-data-types" instanceID="uuid:39f3dd36-161e-45cb-a1a4-395831d253a7" submissionDate="2018-04-26T08:58:20.525Z" isComplete="true" markedAsCompleteDate="2018-04-26T08:58:20.525Z" xmlns="http://opendatakit.org/submissions">
  <some_string>Hola</some_string>
  <some_int>123</some_int>
  <some_decimal>123.456</some_decimal>
  <some_date>2018-04-26</some_date>
  <some_time>08:56:00.000Z</some_time>
  <some_date_time>2018-04-26T08:56:00.000Z</some_date_time>
  <some_geopoint>43.3149254 -1.9869671 71.80000305175781 15.478</some_geopoint>
  <some_geotrace>43.314926 -1.9869713 71.80000305175781 10.0;43.3149258 -1.9869694 71.80000305175781 10.0;43.3149258 -1.9869694 71.80000305175781 10.0;</some_geotrace>
  <some_geoshape>43.31513313655808 -1.9863833114504814 0.0 0.0;43.31552832470026 -1.987161487340927 0.0 0.0;43.315044828733015 -1.9877894595265388 0.0 0.0;43.31459255404834 -1.9869402050971987 0.0 0.0;43.31513313655808 -1.9863833114504814 0.0 0.0;</some_geoshape>
  <some_barcode>000049499094</some_barcode>
  <n0:meta xmlns:n0="http://openrosa.org/xforms">
    <n0:instanceID>uuid:39f3dd36-161e-45cb-a1a4-395831d253a7</n0:instanceID>
  </n0:meta>
</data>"""


def test_briefcase_all_data_types(central):
    central.publish("all-data-types")
    central.submit("all-data-types", ALL_DATA_TYPES.strip())
    unit_rows(central, "all-data-types", datetime(2018, 4, 26, 8, 58, 20, 525000, tzinfo=UTC))
    files = central.csv_files("all-data-types")
    assert list(files) == ["all-data-types.csv"]
    assert files["all-data-types.csv"] == (
        "SubmissionDate,some_string,some_int,some_decimal,some_date,some_time,some_date_time,"
        "some_geopoint-Latitude,some_geopoint-Longitude,some_geopoint-Altitude,some_geopoint-Accuracy,"
        f"some_geotrace,some_geoshape,some_barcode,meta-instanceID,{META}\n"
        "2018-04-26T08:58:20.525Z,Hola,123,123.456,2018-04-26,08:56:00.000Z,2018-04-26T08:56:00.000Z,"
        "43.3149254,-1.9869671,71.80000305175781,15.478,"
        "43.314926 -1.9869713 71.80000305175781 10.0;43.3149258 -1.9869694 71.80000305175781 10.0;"
        "43.3149258 -1.9869694 71.80000305175781 10.0;,"
        "43.31513313655808 -1.9863833114504814 0.0 0.0;43.31552832470026 -1.987161487340927 0.0 0.0;"
        "43.315044828733015 -1.9877894595265388 0.0 0.0;43.31459255404834 -1.9869402050971987 0.0 0.0;"
        "43.31513313655808 -1.9863833114504814 0.0 0.0;,"
        "000049499094,uuid:39f3dd36-161e-45cb-a1a4-395831d253a7,uuid:39f3dd36-161e-45cb-a1a4-395831d253a7,"
        ",,0,0,,,,0,\n")


# Central's instance also says version="2018012404", a version its form does not have; Central's unit
# test never checks it, Hamlet's intake (like Central's) refuses an unknown version, so it is left out.
NESTED_REPEATS = """
<data id="nested-repeats" instanceID="uuid:0a1b861f-a5fd-4f49-846a-78dcf06cfc1b" submissionDate="2018-02-01T11:35:19.178Z" isComplete="true" markedAsCompleteDate="2018-02-01T11:35:19.178Z" xmlns="http://opendatakit.org/submissions">
  <g1>
    <t1>some text 1</t1>
    <g2>
      <t2>some text 1.1</t2>
      <g3>
        <t3>some text 1.1.1</t3>
      </g3>
    </g2>
    <g2>
      <t2>some text 1.2</t2>
    </g2>
  </g1>

  <g1>
    <t1>some text 2</t1>
    <g2>
      <t2>some text 2.1</t2>
    </g2>
  </g1>

  <g1>
    <t1>some text 3</t1>
    <g2>
      <t2>some text 3.1</t2>
      <g3>
        <t3>some text 3.1.1</t3>
      </g3>
      <g3>
        <t3>some text 3.1.2</t3>
      </g3>
      <g3>
        <t3>some text 3.1.3</t3>
      </g3>
      <g3>
        <t3>some text 3.1.4</t3>
      </g3>
    </g2>
  </g1>
  <n0:meta xmlns:n0="http://openrosa.org/xforms">
    <n0:instanceID>uuid:0a1b861f-a5fd-4f49-846a-78dcf06cfc1b</n0:instanceID>
  </n0:meta>
</data>"""


def test_briefcase_nested_repeats(central):
    central.publish("nested-repeats")
    central.submit("nested-repeats", NESTED_REPEATS.strip())
    unit_rows(central, "nested-repeats", datetime(2018, 2, 1, 11, 35, 19, 178000, tzinfo=UTC))
    files = central.csv_files("nested-repeats")
    assert list(files) == ["nested-repeats.csv", "nested-repeats-g1.csv", "nested-repeats-g2.csv",
                           "nested-repeats-g3.csv"]
    u = "uuid:0a1b861f-a5fd-4f49-846a-78dcf06cfc1b"
    assert files["nested-repeats.csv"] == (
        f"SubmissionDate,meta-instanceID,{META}\n"
        f"2018-02-01T11:35:19.178Z,{u},{u},,,0,0,,,,0,\n")
    assert files["nested-repeats-g1.csv"] == (
        "t1,PARENT_KEY,KEY\n"
        f"some text 1,{u},{u}/g1[1]\n"
        f"some text 2,{u},{u}/g1[2]\n"
        f"some text 3,{u},{u}/g1[3]\n")
    assert files["nested-repeats-g2.csv"] == (
        "t2,PARENT_KEY,KEY\n"
        f"some text 1.1,{u}/g1[1],{u}/g1[1]/g2[1]\n"
        f"some text 1.2,{u}/g1[1],{u}/g1[1]/g2[2]\n"
        f"some text 2.1,{u}/g1[2],{u}/g1[2]/g2[1]\n"
        f"some text 3.1,{u}/g1[3],{u}/g1[3]/g2[1]\n")
    assert files["nested-repeats-g3.csv"] == (
        "t3,PARENT_KEY,KEY\n"
        f"some text 1.1.1,{u}/g1[1]/g2[1],{u}/g1[1]/g2[1]/g3[1]\n"
        f"some text 3.1.1,{u}/g1[3]/g2[1],{u}/g1[3]/g2[1]/g3[1]\n"
        f"some text 3.1.2,{u}/g1[3]/g2[1],{u}/g1[3]/g2[1]/g3[2]\n"
        f"some text 3.1.3,{u}/g1[3]/g2[1],{u}/g1[3]/g2[1]/g3[3]\n"
        f"some text 3.1.4,{u}/g1[3]/g2[1],{u}/g1[3]/g2[1]/g3[4]\n")


def test_repeats_sharing_a_name_are_numbered_in_form_order(central):
    central.publish("ambiguous")
    submit_newest_first(central, "ambiguous", [
        ("one", "<name>Alice</name>"),
        ("two", "<name>Bob</name><jobs><entry><name>Bobs Hardware</name></entry><entry><name>Local Coffee</name>"
                "</entry></jobs><friends><entry><name>Nasrin</name></entry></friends>"),
        ("three", "<name>Chelsea</name><jobs><entry><name>Instantaneous Food</name></entry></jobs><friends>"
                  "<entry><name>Ferrence</name></entry><entry><name>Mick</name></entry></friends>")])
    files = central.csv_files("ambiguous")
    assert list(files) == ["ambiguous.csv", "ambiguous-entry~1.csv", "ambiguous-entry~2.csv"]
    assert files["ambiguous.csv"] == (
        f"SubmissionDate,meta-instanceID,name,{META}\n"
        "2018-01-01T00:00:00.000Z,one,Alice,one,,,0,0,,,,0,version\n"
        "2018-01-01T00:00:00.000Z,two,Bob,two,,,0,0,,,,0,version\n"
        "2018-01-01T00:00:00.000Z,three,Chelsea,three,,,0,0,,,,0,version\n")
    assert files["ambiguous-entry~1.csv"] == (
        "name,PARENT_KEY,KEY\n"
        "Bobs Hardware,two,two/jobs/entry[1]\n"
        "Local Coffee,two,two/jobs/entry[2]\n"
        "Instantaneous Food,three,three/jobs/entry[1]\n")
    assert files["ambiguous-entry~2.csv"] == (
        "name,PARENT_KEY,KEY\n"
        "Nasrin,two,two/friends/entry[1]\n"
        "Ferrence,three,three/friends/entry[1]\n"
        "Mick,three,three/friends/entry[2]\n")


# ==================================================================================================
# Central's integration tests: test/integration/api/submissions.js, `.csv.zip GET` and `.csv GET`
# ==================================================================================================
# Central's fixtures publish `simple` and `withrepeat` and sign Alice in with the actor id 5; here
# Alice is made with that id, and every submission date is pinned to 2018-01-01 (Central's tests cut
# the date off each row instead), so that whole files can be compared.

SIMPLE = {"one": instance("simple", "one", "<name>Alice</name><age>30</age>", version=None),
          "two": instance("simple", "two", "<name>Bob</name><age>34</age>", version=None),
          "three": instance("simple", "three", "<name>Chelsea</name><age>38</age>", version=None)}
WITHREPEAT = {
    "one": full_instance("withrepeat", "1.0", "rone", "<name>Alice</name><age>30</age>"),
    "two": full_instance("withrepeat", "1.0", "rtwo", "<name>Bob</name><age>34</age><children><child><name>Billy</name>"
                         "<age>4</age></child><child><name>Blaine</name><age>6</age></child></children>"),
    "three": full_instance("withrepeat", "1.0", "rthree", "<name>Chelsea</name><age>38</age><children><child>"
                           "<name>Candace</name><age>2</age></child></children>")}
SELECT_MULTIPLE = {"one": instance("selectMultiple", "one", "<q1>a b</q1><g1><q2>x y z</q2></g1>", version=None),
                   "two": instance("selectMultiple", "two", "<q1>b</q1><g1><q2>m x</q2></g1>", version=None)}
BINARY = {"one": instance("binaryType", "bone", "<file1>my_file1.mp4</file1>", version=None),
          "two": instance("binaryType", "btwo", "<file2>here_is_file2.jpg</file2>", version=None),
          "both": instance("binaryType", "both", "<file1>my_file1.mp4</file1><file2>here_is_file2.jpg</file2>",
                           version=None)}
D = "2018-01-01T00:00:00.000Z"
SIMPLE_ROWS = {"one": f"{D},one,Alice,30,one,5,Alice,0,0,,,,0,\n",
               "two": f"{D},two,Bob,34,two,5,Alice,0,0,,,,0,\n",
               "three": f"{D},three,Chelsea,38,three,5,Alice,0,0,,,,0,\n"}
SIMPLE_CSV = SIMPLE_HEADER + SIMPLE_ROWS["three"] + SIMPLE_ROWS["two"] + SIMPLE_ROWS["one"]
SELECT_HEADER = f"SubmissionDate,meta-instanceID,q1,q1/a,q1/b,g1-q2,g1-q2/m,g1-q2/x,g1-q2/y,g1-q2/z,{META}\n"
SELECT_ROWS = {"two": f"{D},two,b,0,1,m x,1,1,0,0,two,5,Alice,0,0,,,,0,\n",
               "one": f"{D},one,a b,1,1,x y z,0,1,1,1,one,5,Alice,0,0,,,,0,\n"}


@pytest.fixture
def simple(central, alice):
    central.publish("simple")
    return central


def send(central: Central, form: str, instances: dict[str, str], names: str, api) -> None:
    for name in names.split():
        central.submit(form, instances[name], api=api)
    central.set_all(form, created_at=JAN_2018)


def test_the_zip_is_named_after_the_form_and_served_as_application_zip(simple, alice):
    resp = simple.get("simple", "submissions.csv.zip", alice)
    assert resp.headers["Content-Disposition"] == "attachment; filename=\"simple.zip\"; filename*=UTF-8''simple.zip"
    assert resp.headers["Content-Type"] == "application/zip"


def test_the_header_row_is_written_even_without_data(simple, alice):
    files = simple.csv_files("simple", api=alice)
    assert list(files) == ["simple.csv"]
    assert files["simple.csv"] == SIMPLE_HEADER


def test_the_zip_holds_every_submission_newest_first(simple, alice):
    send(simple, "simple", SIMPLE, "one two three", alice)
    files = simple.csv_files("simple", api=alice)
    assert list(files) == ["simple.csv"]
    assert files["simple.csv"] == SIMPLE_CSV


def ten_questions_form() -> str:
    """Central's single-repeat-1-instance-10qs: q1–q21, a repeat of q22–q41 (its template and one
    default instance in the form), q42–q50, meta/instanceID."""
    root = "".join(f"<q{i}/>" for i in range(1, 22))
    rep = "".join(f"<q{i}/>" for i in range(22, 42))
    tail = "".join(f"<q{i}/>" for i in range(42, 51))
    binds = "".join(f'<bind nodeset="/data/{"repeat/" if 22 <= i <= 41 else ""}q{i}" type="string"/>'
                    for i in range(1, 51))
    inputs = lambda r, prefix="/data/": "".join(  # noqa: E731
        f'<input ref="{prefix}q{i}"><label>Q{i}</label></input>' for i in r)
    return ('<?xml version="1.0"?>\n<h:html xmlns="http://www.w3.org/2002/xforms" '
            'xmlns:ev="http://www.w3.org/2001/xml-events" xmlns:h="http://www.w3.org/1999/xhtml" '
            'xmlns:jr="http://openrosa.org/javarosa" xmlns:odk="http://www.opendatakit.org/xforms" '
            'xmlns:orx="http://openrosa.org/xforms" xmlns:xsd="http://www.w3.org/2001/XMLSchema">\n'
            '<h:head><h:title>single-repeat-1-instance-10qs</h:title><model odk:xforms-version="1.0.0">\n'
            f'<instance><data id="single-repeat-1-instance-10qs">{root}<repeat jr:template="">{rep}</repeat>'
            f"<repeat>{rep}</repeat>{tail}<meta><instanceID/></meta></data></instance>\n"
            f'{binds}<bind jr:preload="uid" nodeset="/data/meta/instanceID" readonly="true()" type="string"/>'
            "</model></h:head>\n"
            f'<h:body>{inputs(range(1, 22))}<group ref="/data/repeat"><label>Repeat</label>'
            f'<repeat nodeset="/data/repeat">{inputs(range(22, 42), "/data/repeat/")}</repeat></group>'
            f"{inputs(range(42, 51))}</h:body></h:html>")


def test_every_repeat_row_is_included(central, alice):
    central.publish("single-repeat-1-instance-10qs", ten_questions_form())
    for _ in range(50):
        # As in Central's case: q1–q9 answered, and the repeat holds q21–q31 (q21 is not a repeat question).
        central.submit("single-repeat-1-instance-10qs", (
            f'<data id="single-repeat-1-instance-10qs">\n  <meta><instanceID>{uuid.uuid4()}</instanceID></meta>\n  '
            + "".join(f"<q{q}>{uuid.uuid4()}</q{q}>" for q in range(1, 10))
            + "\n  <repeat>" + "".join(f"<q{q}>{uuid.uuid4()}</q{q}>" for q in range(21, 32)) + "</repeat>\n  "
            + "".join(f"<q{q}>{uuid.uuid4()}</q{q}>" for q in range(42, 51)) + "\n  </data>"), api=alice)
    files = central.csv_files("single-repeat-1-instance-10qs", api=alice)
    assert list(files) == ["single-repeat-1-instance-10qs.csv", "single-repeat-1-instance-10qs-repeat.csv"]
    assert len(files["single-repeat-1-instance-10qs.csv"].split("\n")) == 52
    assert len(files["single-repeat-1-instance-10qs-repeat.csv"].split("\n")) == 52


def test_data_of_other_forms_is_not_included(simple, alice):
    simple.publish("withrepeat")
    send(simple, "simple", SIMPLE, "one two", alice)
    send(simple, "withrepeat", WITHREPEAT, "one two", alice)
    assert_files(simple.csv_files("simple", api=alice), {
        "simple.csv": SIMPLE_HEADER + SIMPLE_ROWS["two"] + SIMPLE_ROWS["one"]})


def test_deleted_submissions_are_not_exported(simple, alice):
    send(simple, "simple", SIMPLE, "one two three", alice)
    assert alice.delete(f"/v1/projects/{simple.project}/forms/simple/submissions/two").status_code == 200
    assert simple.csv_files("simple", api=alice)["simple.csv"] == (
        SIMPLE_HEADER + SIMPLE_ROWS["three"] + SIMPLE_ROWS["one"])


def test_filter_by_submitter(simple, alice):
    bob = simple.actor(6, "Bob", admin=True)
    simple.submit("simple", SIMPLE["one"], api=alice)
    simple.submit("simple", SIMPLE["two"], api=bob)
    simple.submit("simple", SIMPLE["three"], api=alice)
    simple.set_all("simple", created_at=JAN_2018)
    files = simple.csv_files("simple", "?$filter=__system/submitterId eq 5", api=alice)
    assert_files(files, {"simple.csv": SIMPLE_HEADER + SIMPLE_ROWS["three"] + SIMPLE_ROWS["one"]})


def test_filter_by_review_state(simple, alice):
    send(simple, "simple", SIMPLE, "one two", alice)
    simple.review("simple", "two", "approved")
    send(simple, "simple", SIMPLE, "three", alice)
    files = simple.csv_files("simple", "?$filter=__system/reviewState eq null", api=alice)
    assert_files(files, {"simple.csv": SIMPLE_HEADER + SIMPLE_ROWS["three"] + SIMPLE_ROWS["one"]})


def test_filter_by_submission_date(simple, alice):
    bob = simple.actor(6, "Bob", admin=True)
    simple.submit("simple", SIMPLE["one"], api=alice)
    simple.set_all("simple", created_at=datetime(2010, 6, 1, tzinfo=UTC))
    simple.submit("simple", SIMPLE["two"], api=bob)
    files = simple.csv_files("simple", "?$filter=year(__system/submissionDate) eq 2010", api=alice)
    assert_files(files, {"simple.csv": SIMPLE_HEADER + "2010-06-01T00:00:00.000Z,one,Alice,30,one,5,Alice,0,0,,,,0,\n"})


def test_filter_by_update_date(simple, alice):
    send(simple, "simple", SIMPLE, "one two", alice)
    simple.review("simple", "two", "approved")
    files = simple.csv_files("simple", "?$filter=__system/updatedAt eq null", api=alice)
    assert_files(files, {"simple.csv": SIMPLE_HEADER + SIMPLE_ROWS["one"]})


def test_attachments_are_in_media_and_counted(central, alice):
    central.publish("binaryType")
    central.openrosa(BINARY["both"], {"my_file1.mp4": b"this is test file one"}, api=alice)
    central.openrosa(BINARY["both"], {"here_is_file2.jpg": b"this is test file two"}, api=alice)
    central.set_all("binaryType", created_at=JAN_2018)
    files = central.csv_zip("binaryType", api=alice)
    assert sorted(files) == ["binaryType.csv", "media/here_is_file2.jpg", "media/my_file1.mp4"]
    assert files["media/my_file1.mp4"] == b"this is test file one"
    assert files["media/here_is_file2.jpg"] == b"this is test file two"
    assert files["binaryType.csv"].decode() == (
        f"SubmissionDate,meta-instanceID,file1,file2,{META}\n"
        f"{D},both,my_file1.mp4,here_is_file2.jpg,both,5,Alice,2,2,,,,0,\n")


def test_the_filter_applies_to_attachments_too(central, alice):
    bob = central.actor(6, "Bob", admin=True)
    central.publish("binaryType")
    central.openrosa(BINARY["one"], {"my_file1.mp4": b"this is test file one"}, api=alice)
    central.openrosa(BINARY["two"], {"here_is_file2.jpg": b"this is test file two"}, api=bob)
    files = central.csv_zip("binaryType", "?$filter=__system/submitterId eq 5", api=alice)
    assert list(files) == ["binaryType.csv", "media/my_file1.mp4"]


def test_form_version_is_the_version_first_submitted_with(simple, alice):
    simple.submit("simple", SIMPLE["one"], api=alice)
    simple.submit("simple", SIMPLE["two"], api=alice)
    form = (DATA / "simple.xml").read_text("utf-8")
    simple.new_version("simple", form.replace('id="simple"', 'id="simple" version="updated"'))
    simple.openrosa(SIMPLE["one"].replace('id="simple"', 'id="simple" version="updated"')
                    .replace("<instanceID>one", "<deprecatedID>one</deprecatedID><instanceID>one2"), api=alice)
    simple.submit("simple", SIMPLE["three"].replace('id="simple"', 'id="simple" version="updated"'), api=alice)
    simple.set_all("simple", created_at=JAN_2018)
    assert simple.csv_files("simple", api=alice)["simple.csv"] == SIMPLE_HEADER + (
        f"{D},three,Chelsea,38,three,5,Alice,0,0,,,,0,updated\n"
        f"{D},two,Bob,34,two,5,Alice,0,0,,,,0,\n"
        f"{D},one2,Alice,30,one,5,Alice,0,0,,edited,,1,\n")  # an edit marks it edited


@pytest.fixture
def select_multiple(central, alice):
    central.publish("selectMultiple")
    send(central, "selectMultiple", SELECT_MULTIPLE, "one two", alice)
    return central


def test_select_multiples_split_into_a_column_per_submitted_value(select_multiple, alice):
    files = select_multiple.csv_files("selectMultiple", "?splitSelectMultiples=true", api=alice)
    assert_files(files, {"selectMultiple.csv": SELECT_HEADER + SELECT_ROWS["two"] + SELECT_ROWS["one"]})


# Central's case "should omit multiples it does not know about" exports before Central's background
# worker has recorded the submitted values, and so gets no split columns. Hamlet records the values
# with the submission itself: there is no such moment to reproduce.


def test_select_multiples_split_with_a_filter(select_multiple, alice):
    select_multiple.review("selectMultiple", "two", "approved")
    files = select_multiple.csv_files("selectMultiple", "?splitSelectMultiples=true&$filter=__system/reviewState eq null",
                                      api=alice)
    # Only the values of the submissions exported become columns.
    assert_files(files, {"selectMultiple.csv": (
        f"SubmissionDate,meta-instanceID,q1,q1/a,q1/b,g1-q2,g1-q2/x,g1-q2/y,g1-q2/z,{META}\n"
        f"{D},one,a b,1,1,x y z,1,1,1,one,5,Alice,0,0,,,,0,\n")})


# Central's instance 'three' for version 2 still carries <age>38</age>, which version 2 no longer has;
# Central re-reads each submission's XML at export time and so shows 38 under the revived column.
# Hamlet keeps, for each submission, the answers its own form version defines (no XML is parsed at
# export time), so the instance here is what a client of version 2 sends: no <age>, an empty cell.
V2_THREE = instance("simple", "three", "<name>Chelsea</name>", version="2")


def test_deleted_fields_come_back_after_their_parent(simple, alice):
    send(simple, "simple", SIMPLE, "one two", alice)
    simple.new_version("simple", (DATA / "simple-v2.xml").read_text("utf-8"))
    simple.submit("simple", V2_THREE, api=alice)
    simple.set_all("simple", created_at=JAN_2018)
    files = simple.csv_files("simple", "?deletedFields=true", api=alice)
    assert_files(files, {"simple.csv": SIMPLE_HEADER + (
        f"{D},three,Chelsea,,three,5,Alice,0,0,,,,0,2\n") + SIMPLE_ROWS["two"] + SIMPLE_ROWS["one"]})
    # Without the option, the current version's fields only.
    assert simple.csv_files("simple", api=alice)["simple.csv"] == (
        f"SubmissionDate,meta-instanceID,name,{META}\n"
        f"{D},three,Chelsea,three,5,Alice,0,0,,,,0,2\n"
        f"{D},two,Bob,two,5,Alice,0,0,,,,0,\n"
        f"{D},one,Alice,one,5,Alice,0,0,,,,0,\n")


def test_attachments_false_leaves_media_out_and_names_the_file_csv_zip(central, alice):
    central.publish("binaryType")
    central.openrosa(BINARY["both"], {"my_file1.mp4": b"this is test file one"}, api=alice)
    central.openrosa(BINARY["both"], {"here_is_file2.jpg": b"this is test file two"}, api=alice)
    resp = central.get("binaryType", "submissions.csv.zip?attachments=false", alice)
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"binaryType.csv.zip\"; filename*=UTF-8''binaryType.csv.zip")
    assert list(central.csv_zip("binaryType", "?attachments=false", api=alice)) == ["binaryType.csv"]


def test_group_paths_false_in_the_zip(simple, alice):
    simple.openrosa(SIMPLE["one"], api=alice)
    assert simple.csv_files("simple", "?groupPaths=false", api=alice)["simple.csv"].split("\n")[0] == (
        f"SubmissionDate,instanceID,name,age,{META}")


def test_select_multiples_split_without_group_paths(select_multiple, alice):
    files = select_multiple.csv_files("selectMultiple", "?splitSelectMultiples=true&groupPaths=false", api=alice)
    assert_files(files, {"selectMultiple.csv": (
        f"SubmissionDate,instanceID,q1,q1/a,q1/b,q2,q2/m,q2/x,q2/y,q2/z,{META}\n"
        + SELECT_ROWS["two"] + SELECT_ROWS["one"])})


def test_present_attachments_are_counted_apart_from_expected_ones(central, alice):
    central.publish("binaryType")
    central.openrosa(BINARY["both"], {"my_file1.mp4": b"this is test file one"}, api=alice)
    central.set_all("binaryType", created_at=JAN_2018)
    files = central.csv_zip("binaryType", api=alice)
    assert list(files) == ["binaryType.csv", "media/my_file1.mp4"]
    assert files["binaryType.csv"].decode() == (
        f"SubmissionDate,meta-instanceID,file1,file2,{META}\n"
        f"{D},both,my_file1.mp4,here_is_file2.jpg,both,5,Alice,1,2,,,,0,\n")


# --- .csv GET ------------------------------------------------------------------------------------

def test_the_root_csv_is_unknown_for_a_missing_form_and_refused_without_rights(simple, alice):
    assert alice.get(f"/v1/projects/{simple.project}/forms/nope/submissions.csv").status_code == 404
    chelsea = simple.actor(7, "Chelsea")
    assert chelsea.get(f"/v1/projects/{simple.project}/forms/simple/submissions.csv").status_code == 403


def test_the_root_csv_is_named_after_the_form_and_served_as_text_csv(simple, alice):
    resp = simple.get("simple", "submissions.csv", alice)
    assert resp.headers["Content-Disposition"] == "attachment; filename=\"simple.csv\"; filename*=UTF-8''simple.csv"
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_the_root_csv_is_the_root_table(simple, alice):
    send(simple, "simple", SIMPLE, "one two three", alice)
    assert simple.csv("simple") == SIMPLE_CSV


def test_the_root_csv_leaves_repeats_out(simple, alice):
    simple.publish("withrepeat")
    send(simple, "withrepeat", WITHREPEAT, "one two three", alice)
    assert simple.csv("withrepeat") == (
        SIMPLE_HEADER
        + f"{D},rthree,Chelsea,38,rthree,5,Alice,0,0,,,,0,1.0\n"
        + f"{D},rtwo,Bob,34,rtwo,5,Alice,0,0,,,,0,1.0\n"
        + f"{D},rone,Alice,30,rone,5,Alice,0,0,,,,0,1.0\n")


def test_the_root_csv_splits_select_multiples(select_multiple):
    assert select_multiple.csv("selectMultiple", "?splitSelectMultiples=true") == (
        SELECT_HEADER + SELECT_ROWS["two"] + SELECT_ROWS["one"])


def test_the_root_csv_without_group_paths(simple):
    assert simple.csv("simple", "?groupPaths=false") == f"SubmissionDate,instanceID,name,age,{META}\n"


def test_deleted_fields_across_versions_that_share_a_schema(simple, alice):
    send(simple, "simple", SIMPLE, "one two", alice)
    simple.new_version("simple", (DATA / "simple-v2.xml").read_text("utf-8"))
    simple.new_version("simple", version="3")  # the same fields again, under a new version
    simple.submit("simple", V2_THREE.replace('version="2"', 'version="3"'), api=alice)
    simple.set_all("simple", created_at=JAN_2018)
    files = simple.csv_files("simple", "?deletedFields=true", api=alice)
    assert_files(files, {"simple.csv": SIMPLE_HEADER + (
        f"{D},three,Chelsea,,three,5,Alice,0,0,,,,0,3\n") + SIMPLE_ROWS["two"] + SIMPLE_ROWS["one"]})


def test_select_multiples_split_across_versions(central, alice):
    central.publish("selectMultiple")
    central.new_version("selectMultiple", version="2")
    central.new_version("selectMultiple", (DATA / "selectMultiple-v3.xml").read_text("utf-8"))
    send(central, "selectMultiple", SELECT_MULTIPLE, "one two", alice)
    central.submit("selectMultiple", """
                <data id="selectMultiple" version="3">
                  <orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>three</orx:instanceID></orx:meta>
                  <q1>a b</q1>
                  <g1>
                    <q2>m</q2>
                  </g1>
                  <q3>z</q3>
                </data>
              """.strip(), api=alice)
    central.set_all("selectMultiple", created_at=JAN_2018)
    assert central.csv("selectMultiple", "?splitSelectMultiples=true") == (
        f"SubmissionDate,meta-instanceID,q1,q1/a,q1/b,g1-q2,g1-q2/m,g1-q2/x,g1-q2/y,g1-q2/z,q3,q3/z,{META}\n"
        f"{D},three,a b,1,1,m,1,0,0,0,z,1,three,5,Alice,0,0,,,,0,3\n"
        f"{D},two,b,0,1,m x,1,1,0,0,,0,two,5,Alice,0,0,,,,0,\n"
        f"{D},one,a b,1,1,x y z,0,1,1,1,,0,one,5,Alice,0,0,,,,0,\n")


# ==================================================================================================
# Beyond Central's own cases: odd values, as Central's writer (htmlparser2 text, JavaScript's
# split(/\s+/), csv-stringify with its defaults, sanitize-filename) turns them into bytes
# ==================================================================================================

def test_cells_are_quoted_only_for_a_comma_a_quote_or_a_line_feed(central):
    # csv-stringify quotes a cell holding the delimiter, the quote or its record delimiter ('\n'); a
    # lone carriage return, leading and trailing spaces and empty cells are written as they are.
    central.publish("mytestform")
    submit_newest_first(central, "mytestform", [
        ("one", '<name>a&#13;b</name><age> 30 </age><hometown>say "hi"</hometown>'),
        ("two", "<name>line 1\nline 2</name><age></age><hometown>&#13;&#10;</hometown>")])
    assert central.csv_files("mytestform")["mytestform.csv"] == FLAT_HEADER + (
        '2018-01-01T00:00:00.000Z,a\rb, 30 ,"say ""hi""",one,,,0,0,,,,0,version\n'
        '2018-01-01T00:00:00.000Z,"line 1\nline 2",,"\r\n",two,,,0,0,,,,0,version\n')


def test_a_geopoint_is_split_on_javascript_whitespace_into_at_most_four_parts(central):
    central.publish("geopoint")
    points = {"five": "1 2 3 4 5", "leading": " 1 2", "tab": "1\t2\n3", "blank": "   ", "nel": "1&#133;2 3",
              "bom": "1&#65279;2", "nbsp": "1&#160;2"}
    submit_newest_first(central, "mytestform", [(k, f"<location>{v}</location>") for k, v in points.items()])
    rows = central.csv_files("mytestform")["mytestform.csv"].split("\n")[1:-1]
    assert [r.split(",")[3:8] for r in rows] == [
        ["1", "2", "3", "4", "five"],
        ["", "1", "2", "", "leading"],
        ["1", "2", "3", "", "tab"],
        ["", "", "", "", "blank"],
        ["1\x852", "3", "", "", "nel"],  # U+0085 is not whitespace to JavaScript
        ["1", "2", "", "", "bom"],  # U+FEFF is
        ["1", "2", "", "", "nbsp"]]


def test_a_plain_geopoint_and_its_near_misses_split_alike(central):
    # PostgreSQL's COPY splits `lat lon alt acc` on the space and anything else by the regular expression.
    central.publish("geopoint")
    points = {"plain": "16.128795 108.235125 12.0 5.0", "double": "1  -2 3 4", "trailing": "1 2 3 4 ",
              "exp": "1e5 2 3 4", "three": "1 2 3", "six": "1 2 3 4 5 6"}
    submit_newest_first(central, "mytestform", [(k, f"<location>{v}</location>") for k, v in points.items()])
    rows = central.csv_files("mytestform")["mytestform.csv"].split("\n")[1:-1]
    assert [r.split(",")[3:8] for r in rows] == [
        ["16.128795", "108.235125", "12.0", "5.0", "plain"],
        ["1", "-2", "3", "4", "double"],
        ["1", "2", "3", "4", "trailing"],
        ["1e5", "2", "3", "4", "exp"],
        ["1", "2", "3", "", "three"],
        ["1", "2", "3", "4", "six"]]


def test_select_multiple_values_are_split_on_javascript_whitespace(central, alice):
    central.publish("selectMultiple")
    central.submit("selectMultiple", instance("selectMultiple", "one", "<q1>a&#133;b c</q1>", version=None), api=alice)
    central.submit("selectMultiple", instance("selectMultiple", "two", "<q1> b&#65279;c</q1>", version=None),
                   api=alice)
    central.set_all("selectMultiple", created_at=JAN_2018)
    assert central.csv("selectMultiple", "?splitSelectMultiples=true") == (
        f"SubmissionDate,meta-instanceID,q1,q1/a\x85b,q1/b,q1/c,g1-q2,{META}\n"
        f"{D},two, b\ufeffc,0,1,1,,two,5,Alice,0,0,,,,0,\n"
        f"{D},one,a\x85b c,1,0,1,,one,5,Alice,0,0,,,,0,\n")


def test_an_encrypted_submission_is_not_decrypted_when_its_data_arrived_and_its_files_stay_out(central, alice):
    # Central's Status depends on the encrypted data file alone: a missing photo still reads
    # 'not decrypted'. Without the passphrase Central exports no file of an encrypted submission.
    central.publish("binaryType")
    central.openrosa(envelope("binaryType", "both", version="", media=("photo.jpg.enc",)),
                     {"submission.xml.enc": b"\x00encrypted"}, api=alice)
    central.openrosa(envelope("binaryType", "missing", version="", media=("photo.jpg.enc",)),
                     {"photo.jpg.enc": b"\x00encrypted"}, api=alice)
    central.openrosa(BINARY["one"], {"my_file1.mp4": b"this is test file one"}, api=alice)
    central.set_all("binaryType", created_at=JAN_2018)
    files = central.csv_zip("binaryType", api=alice)
    assert list(files) == ["binaryType.csv", "media/my_file1.mp4"]
    assert files["binaryType.csv"].decode() == (
        f"SubmissionDate,meta-instanceID,file1,file2,{META}\n"
        f"{D},bone,my_file1.mp4,,bone,5,Alice,1,1,,,,0,\n"
        f"{D},,,,missing,5,Alice,1,2,missing encrypted form data,,,0,\n"
        f"{D},,,,both,5,Alice,1,2,not decrypted,,,0,\n")


def test_file_names_are_sanitized_and_non_ascii_becomes_a_dash_in_the_plain_filename(central, alice):
    form = (DATA / "binaryType.xml").read_text("utf-8").replace('id="binaryType"', 'id="điều tra (2026)!"')
    central.publish("", form)
    xml = instance("điều tra (2026)!", "one", "<file1>a:b?.jpg</file1>", version=None)
    central.openrosa(xml, {"a:b?.jpg": b"jpeg"}, api=alice)
    resp = central.get("%C4%91i%E1%BB%81u%20tra%20(2026)!", "submissions.csv.zip", alice)
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"-i-u tra (2026)!.zip\"; "
        "filename*=UTF-8''%C4%91i%E1%BB%81u%20tra%20%282026%29!.zip")
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        assert z.namelist() == ["điều tra (2026)!.csv", "media/ab.jpg"]


# Two forms of Central's test data (test/data/xml.js) that its CSV tests do not export. The expected
# files follow Central's rules for KEY and PARENT_KEY (lib/data/briefcase.js keyForStacks): groups by
# name, repeats as name[n] counted within their parent row, PARENT_KEY the KEY of the enclosing
# repeat row (or the instance ID).

def test_a_repeat_in_a_group_in_a_repeat_is_keyed_through_the_group(central, alice):
    central.publish("doubleRepeat")
    central.submit("doubleRepeat", """<data id="doubleRepeat" version="1.0">
    <orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>double</orx:instanceID></orx:meta>
    <name>Vick</name>
    <children>
      <child>
        <name>Alice</name>
      </child>
      <child>
        <name>Bob</name>
        <toys>
          <toy><name>Twilight Sparkle</name></toy>
          <toy><name>Pinkie Pie</name></toy>
          <toy><name>Applejack</name></toy>
          <toy><name>Spike</name></toy>
        </toys>
      </child>
      <child>
        <name>Chelsea</name>
        <toys>
          <toy><name>Rainbow Dash</name></toy>
          <toy><name>Rarity</name></toy>
          <toy><name>Fluttershy</name></toy>
          <toy><name>Princess Luna</name></toy>
        </toys>
      </child>
    </children>
  </data>""", api=alice)
    central.set_all("doubleRepeat", created_at=JAN_2018)
    c = "double/children/child"
    assert_files(central.csv_files("doubleRepeat", api=alice), {
        "doubleRepeat.csv": f"SubmissionDate,meta-instanceID,name,{META}\n{D},double,Vick,double,5,Alice,0,0,,,,0,1.0\n",
        "doubleRepeat-child.csv": (
            "name,PARENT_KEY,KEY\n"
            f"Alice,double,{c}[1]\n"
            f"Bob,double,{c}[2]\n"
            f"Chelsea,double,{c}[3]\n"),
        "doubleRepeat-toy.csv": (
            "name,PARENT_KEY,KEY\n"
            f"Twilight Sparkle,{c}[2],{c}[2]/toys/toy[1]\n"
            f"Pinkie Pie,{c}[2],{c}[2]/toys/toy[2]\n"
            f"Applejack,{c}[2],{c}[2]/toys/toy[3]\n"
            f"Spike,{c}[2],{c}[2]/toys/toy[4]\n"
            f"Rainbow Dash,{c}[3],{c}[3]/toys/toy[1]\n"
            f"Rarity,{c}[3],{c}[3]/toys/toy[2]\n"
            f"Fluttershy,{c}[3],{c}[3]/toys/toy[3]\n"
            f"Princess Luna,{c}[3],{c}[3]/toys/toy[4]\n")})


GROUP_REPEAT = """<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" id="groupRepeat">
      <text>xyz</text>
      <child_repeat>
        <name>John</name>
        <address>
          <city>Toronto</city>
          <country>Canada</country>
        </address>
      </child_repeat>
      <child_repeat>
        <name>Jane</name>
        <address>
          <city>New York</city>
          <country>US</country>
        </address>
      </child_repeat>
      <meta>
        <instanceID>uuid:2be07915-2c9c-401a-93ea-1c8f3f8e68f6</instanceID>
      </meta>
    </data>"""


@pytest.mark.parametrize("group_paths, columns", [("true", "name,address-city,address-country"),
                                                  ("false", "name,city,country")])
def test_a_group_in_a_repeat_names_its_columns_from_the_repeat_down(central, alice, group_paths, columns):
    central.publish("groupRepeat")
    central.submit("groupRepeat", GROUP_REPEAT, api=alice)
    central.set_all("groupRepeat", created_at=JAN_2018)
    u = "uuid:2be07915-2c9c-401a-93ea-1c8f3f8e68f6"
    instance_id = "meta-instanceID" if group_paths == "true" else "instanceID"
    assert_files(central.csv_files("groupRepeat", f"?groupPaths={group_paths}", api=alice), {
        "groupRepeat.csv": f"SubmissionDate,text,{instance_id},{META}\n{D},xyz,{u},{u},5,Alice,0,0,,,,0,\n",
        "groupRepeat-child_repeat.csv": (
            f"{columns},PARENT_KEY,KEY\n"
            f"John,Toronto,Canada,{u},{u}/child_repeat[1]\n"
            f"Jane,New York,US,{u},{u}/child_repeat[2]\n")})


def xform(form_id: str, version: str, instance_body: str, binds: list[str]) -> str:
    bind = "".join(f'<bind nodeset="/data/{b}" type="string"/>' for b in binds)
    return ('<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"><h:head><model>'
            f'<instance><data id="{form_id}" version="{version}">{instance_body}</data></instance>{bind}'
            "</model></h:head><h:body/></h:html>")


def test_deleted_fields_are_placed_as_centrals_merge_places_them(central, alice):
    # Central's merge (lib/data/schema.js) puts a field a later version dropped after the last field
    # whose path starts with the dropped field's parent path, compared as text: /g/b goes after
    # /gx/d, since "/gx/d" starts with "/g". A dropped group comes back whole, at the end.
    central.publish("merge", xform("merge", "1", "<name/><g><a/><b/></g><h><c/></h><old><x/><y/></old>",
                                   ["name", "g/a", "g/b", "h/c", "old/x", "old/y"]))
    central.submit("merge", instance("merge", "v1", "<name>N1</name><g><a>A1</a><b>B1</b></g><h><c>C1</c></h>"
                                                    "<old><x>X1</x><y>Y1</y></old>", version="1"), api=alice)
    central.new_version("merge", xform("merge", "2", "<name/><g><a/></g><h><c/></h><gx><d/></gx>",
                                       ["name", "g/a", "h/c", "gx/d"]))
    central.submit("merge", instance("merge", "v2", "<name>N2</name><g><a>A2</a></g><h><c>C2</c></h><gx><d>D2</d></gx>",
                                     version="2"), api=alice)
    central.set_all("merge", created_at=JAN_2018)
    assert central.csv("merge", "?deletedFields=true") == (
        f"SubmissionDate,name,g-a,h-c,gx-d,g-b,old-x,old-y,{META}\n"
        f"{D},N2,A2,C2,D2,,,,v2,5,Alice,0,0,,,,0,2\n"
        f"{D},N1,A1,C1,,B1,X1,Y1,v1,5,Alice,0,0,,,,0,1\n")


def test_rows_follow_the_submission_date_newest_first_in_every_file(central):
    # The submission date decides, not the order of arrival: 'early' arrived last but is dated first.
    central.publish("singlerepeat")
    central.submit("singlerepeat", instance("singlerepeat", "late", "<name>L</name><children><child><name>L1</name>"
                                            "</child><child><name>L2</name></child></children>"))
    central.submit("singlerepeat", instance("singlerepeat", "early", "<name>E</name><children><child><name>E1</name>"
                                            "</child></children>"))
    unit_rows(central, "singlerepeat")
    central.set("singlerepeat", "early", created_at=datetime(2017, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    files = central.csv_files("singlerepeat")
    assert files["singlerepeat.csv"].split("\n")[1:] == [
        "2018-01-01T00:00:00.000Z,late,L,,late,,,0,0,,,,0,version",
        "2017-12-31T23:59:59.999Z,early,E,,early,,,0,0,,,,0,version", ""]
    assert files["singlerepeat-child.csv"] == (
        "name,age,PARENT_KEY,KEY\n"
        "L1,,late,late/children/child[1]\n"
        "L2,,late,late/children/child[2]\n"
        "E1,,early,early/children/child[1]\n")
