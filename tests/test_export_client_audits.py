"""Client audit logs in the CSV zip: `{xmlFormId} - audit.csv`, every submission's audit.csv merged as
ODK Central merges them (lib/data/client-audits.js, lib/model/query/client-audits.js).

The first group replays the cases of Central's own tests ("audit" in test/integration/api/submissions.js
and test/integration/other/encryption.js) with our own form and logs (tests/data/client_audits/). The
second covers what Central does without a test of its own (a log not received yet, attachments=false,
the media folder), and where Hamlet chooses differently: a log csv-parse cannot read fails Central's
whole export, and is exported as far as it reads here; `hamlet export` always writes the file."""
from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import zipfile
from pathlib import Path

import pytest

from central import Central
from server.exports.client_audits import HEADER, AuditReader, merged

DATA = Path(__file__).parent / "data" / "client_audits"
FORM = "ho_audit"
AUDIT_FILE = f"{FORM} - audit.csv"
ONE = "uuid:3f0c9a52-5d4e-4c1a-9b7e-000000000001"
TWO = "uuid:3f0c9a52-5d4e-4c1a-9b7e-000000000002"


def log(name: str) -> bytes:
    return (DATA / name).read_bytes()


def expected(name: str, keep: str | None = None) -> str:
    """An expected merged file; with `keep`, only the header and that submission's rows."""
    text = (DATA / name).read_text("utf-8")
    if keep is None:
        return text
    lines = text.splitlines(keepends=True)
    return lines[0] + "".join(line for line in lines[1:] if line.startswith(keep + ","))


def rows(name: str, keep: str) -> str:
    """The rows of one submission in an expected merged file, without the header."""
    return expected(name, keep).split("\n", 1)[1]


def visit(instance_id: str, audit: str | None = "audit.csv", photo: str | None = None,
          deprecated: str | None = None, head: str = "Nguyễn Văn An") -> str:
    """A submission of ho_audit as Collect writes it: meta last, the log named in meta/audit."""
    meta = f"<instanceID>{instance_id}</instanceID>"
    if deprecated:
        meta += f"<deprecatedID>{deprecated}</deprecatedID>"
    if audit:
        meta += f"<audit>{audit}</audit>"
    picture = f"<anh_nha>{photo}</anh_nha>" if photo else "<anh_nha/>"
    return (f'<data xmlns:jr="http://openrosa.org/javarosa" id="{FORM}" version="1"><chu_ho>{head}</chu_ho>'
            f"<so_nguoi>4</so_nguoi>{picture}<meta>{meta}</meta></data>")


@pytest.fixture
def audits(central, alice):
    central.publish(FORM, (DATA / "ho_audit.xml").read_text("utf-8"))
    return central


def two_visits(central: Central, api, other_api=None) -> None:
    central.openrosa(visit(ONE), {"audit.csv": log("visit-1.csv")}, api=api)
    central.openrosa(visit(TWO, audit="log.csv"), {"log.csv": log("visit-2.csv")}, api=other_api or api)


# ==================================================================================================
# Central's cases
# ==================================================================================================

def test_every_submissions_log_is_merged_into_one_file_after_the_tables(audits, alice):
    two_visits(audits, alice)
    files = audits.csv_files(FORM, api=alice)
    assert list(files) == [f"{FORM}.csv", AUDIT_FILE]
    assert files[AUDIT_FILE] == expected("expected-two-visits.csv")
    # The logs are attachments like any other in the root table, named in meta-audit.
    root = files[f"{FORM}.csv"].splitlines()
    assert root[0].startswith("SubmissionDate,chu_ho,so_nguoi,anh_nha,meta-instanceID,meta-audit,KEY,")
    assert root[1].split(",")[5:11] == ["log.csv", TWO, "5", "Alice", "1", "1"]
    assert root[2].split(",")[5:11] == ["audit.csv", ONE, "5", "Alice", "1", "1"]


def test_user_and_change_reason_columns_are_kept_and_empty_where_a_log_has_none(audits, alice):
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-changes.csv")}, api=alice)
    audits.openrosa(visit(TWO, audit="log.csv"), {"log.csv": log("visit-2.csv")}, api=alice)
    assert audits.csv_files(FORM, api=alice)[AUDIT_FILE] == expected("expected-changes.csv")


def test_the_filter_chooses_whose_logs_are_merged_by_submitter(audits, alice):
    bob = audits.actor(6, "Bob", admin=True)
    two_visits(audits, alice, bob)
    files = audits.csv_files(FORM, "?$filter=__system/submitterId eq 5", api=alice)
    assert list(files) == [f"{FORM}.csv", AUDIT_FILE]
    assert files[AUDIT_FILE] == expected("expected-two-visits.csv", keep=ONE)


def test_the_filter_chooses_whose_logs_are_merged_by_review_state(audits, alice):
    two_visits(audits, alice)
    audits.review(FORM, ONE, "approved")
    files = audits.csv_files(FORM, "?$filter=__system/reviewState eq 'approved'", api=alice)
    assert files[AUDIT_FILE] == expected("expected-two-visits.csv", keep=ONE)


def test_a_log_sent_again_with_the_same_submission_replaces_the_first(audits, alice):
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-1.csv")}, api=alice)
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-2.csv")}, api=alice)
    files = audits.csv_files(FORM, api=alice)
    assert list(files) == [f"{FORM}.csv", AUDIT_FILE]
    assert files[AUDIT_FILE] == expected("expected-two-visits.csv", keep=TWO).replace(TWO, ONE)


def test_a_log_uploaded_through_the_rest_api_replaces_the_first(audits, alice):
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-1.csv")}, api=alice)
    resp = alice.post(f"/v1/projects/{audits.project}/forms/{FORM}/submissions/{ONE}/attachments/audit.csv",
                      data=log("visit-2.csv"), content_type="text/csv")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert audits.csv_files(FORM, api=alice)[AUDIT_FILE] == (
        expected("expected-two-visits.csv", keep=TWO).replace(TWO, ONE))


def test_rows_of_different_lengths_are_read(audits, alice):
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-1-ragged.csv")}, api=alice)
    assert audits.csv_files(FORM, api=alice)[AUDIT_FILE] == expected("expected-ragged.csv")


def test_a_quote_inside_an_unquoted_cell_is_kept(audits, alice):
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-1-quote.csv")}, api=alice)
    assert audits.csv_files(FORM, api=alice)[AUDIT_FILE] == expected("expected-quote.csv")


def test_an_edit_shows_its_new_log_under_the_first_instance_id(audits, alice):
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-1.csv")}, api=alice)
    audits.openrosa(visit(TWO, deprecated=ONE), {"audit.csv": log("visit-2.csv")}, api=alice)
    files = audits.csv_files(FORM, api=alice)
    assert list(files) == [f"{FORM}.csv", AUDIT_FILE]
    assert files[AUDIT_FILE] == expected("expected-two-visits.csv", keep=TWO).replace(TWO, ONE)


# --- encrypted forms (Central's test/integration/other/encryption.js) ------------------------------

def _encrypt(instance_id: str, xml: bytes, media: dict[str, bytes], public_key) -> tuple[bytes, dict[str, bytes]]:
    """What Collect sends for an encrypted form: an envelope, each file then submission.xml as .enc
    (odk-protocol §5.5)."""
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    aes = os.urandom(32)
    wrapped = public_key.encrypt(aes, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA256(),
                                                   label=None))
    seed = bytearray(hashlib.md5(instance_id.encode() + aes).digest())
    files = {}
    for i, (name, data) in enumerate([*media.items(), ("submission.xml", xml)]):
        seed[i % 16] = (seed[i % 16] + 1) % 256
        padder = sym_padding.PKCS7(128).padder()
        encryptor = Cipher(algorithms.AES(aes), CFB(bytes(seed))).encryptor()
        files[f"{name}.enc"] = encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
    listed = "".join(f"<media><file>{name}.enc</file></media>" for name in media)
    envelope = (f'<data id="{FORM}" version="1" encrypted="yes" xmlns="http://www.opendatakit.org/xforms/encrypted">'
                f"<base64EncryptedKey>{base64.b64encode(wrapped).decode()}</base64EncryptedKey>"
                f'<orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>{instance_id}</orx:instanceID>'
                f"</orx:meta>{listed}<encryptedXmlFile>submission.xml.enc</encryptedXmlFile></data>")
    return envelope.encode(), files


def test_an_encrypted_forms_logs_are_decrypted_with_the_key_and_left_out_without_it(central, alice):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    form = (DATA / "ho_audit.xml").read_text("utf-8").replace(
        "    </model>", f'      <submission method="post" base64RsaPublicKey="{base64.b64encode(der).decode()}"/>\n'
                       "    </model>")
    central.publish(FORM, form)
    for instance_id, name, data in [(ONE, "audit.csv", log("visit-1.csv")), (TWO, "log.csv", log("visit-2.csv"))]:
        envelope, files = _encrypt(instance_id, visit(instance_id, audit=name).encode(), {"audit.csv": data},
                                   private.public_key())
        central.openrosa(envelope.decode(), files, api=alice)
    # Without the key: no log can be read, so there is no file, and the .enc logs are not media either.
    assert list(central.csv_zip(FORM, api=alice)) == [f"{FORM}.csv"]
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    resp = alice.post(f"/v1/projects/{central.project}/forms/{FORM}/submissions.csv.zip", data={"privateKey": pem},
                      content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        assert z.namelist() == [f"{FORM}.csv", AUDIT_FILE]
        assert z.read(AUDIT_FILE).decode() == expected("expected-two-visits.csv")


# ==================================================================================================
# What Central's tests leave out, and Hamlet's choices
# ==================================================================================================

def test_attachments_false_leaves_the_merged_log_out_as_central_does(audits, alice):
    # Central answers attachments=false with its plain CSV export, which has no client audit part.
    two_visits(audits, alice)
    resp = audits.get(FORM, "submissions.csv.zip?attachments=false", alice)
    assert 'filename="ho_audit.csv.zip"' in resp.headers["Content-Disposition"]
    assert list(audits.csv_zip(FORM, "?attachments=false", api=alice)) == [f"{FORM}.csv"]


def test_the_logs_are_not_media_but_the_photos_are(audits, alice):
    audits.openrosa(visit(ONE, photo="1764032420000.jpg"),
                    {"audit.csv": log("visit-1.csv"), "1764032420000.jpg": b"\xff\xd8 nha"}, api=alice)
    files = audits.csv_zip(FORM, api=alice)
    assert list(files) == [f"{FORM}.csv", AUDIT_FILE, "media/1764032420000.jpg"]
    assert files["media/1764032420000.jpg"] == b"\xff\xd8 nha"


def test_a_log_not_received_yet_is_a_row_of_its_instance_id_alone(audits, alice):
    # Central's export query joins the log's attachment slot whether or not its file has arrived, and
    # writes such a slot as the instance ID followed by empty cells.
    audits.openrosa(visit(ONE), {}, api=alice)
    audits.openrosa(visit(TWO, audit="log.csv"), {"log.csv": log("visit-2.csv")}, api=alice)
    assert audits.csv_files(FORM, api=alice)[AUDIT_FILE] == (
        expected("expected-two-visits.csv", keep=TWO).replace(",".join(HEADER) + "\n",
                                                              ",".join(HEADER) + "\n" + ONE + "," * 11 + "\n"))
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-1.csv")}, api=alice)  # Collect sends the rest later
    assert audits.csv_files(FORM, api=alice)[AUDIT_FILE] == expected("expected-two-visits.csv")


def test_there_is_no_log_file_when_no_submission_names_a_log(audits, alice):
    assert list(audits.csv_files(FORM, api=alice)) == [f"{FORM}.csv"]
    audits.openrosa(visit(ONE, audit=None), {}, api=alice)
    assert list(audits.csv_files(FORM, api=alice)) == [f"{FORM}.csv"]


def test_a_log_of_only_a_header_still_makes_the_file(audits, alice):
    # Central adds the file when the first log comes from the database, whether or not it has rows.
    audits.openrosa(visit(ONE), {"audit.csv": b"event,node,start,end\n"}, api=alice)
    assert audits.csv_files(FORM, api=alice)[AUDIT_FILE] == ",".join(HEADER) + "\n"


def test_logs_follow_the_order_their_versions_arrived_in_oldest_first(audits, alice):
    # The tables list the newest submission first; Central's log query orders by the current version's
    # arrival, oldest first, so an edit moves a submission's log to the end.
    two_visits(audits, alice)
    audits.openrosa(visit(ONE + "-2", deprecated=ONE), {"audit.csv": log("visit-1.csv")}, api=alice)
    text = audits.csv_files(FORM, api=alice)[AUDIT_FILE]
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == [TWO] * 3 + [ONE] * 5
    assert text == expected("expected-two-visits.csv", keep=TWO) + rows("expected-two-visits.csv", ONE)


def test_one_log_file_shared_by_two_submissions_is_read_for_each(audits, alice):
    # The blob store keeps identical bytes once; each submission still gets its rows.
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-1.csv")}, api=alice)
    audits.openrosa(visit(TWO), {"audit.csv": log("visit-1.csv")}, api=alice)
    text = audits.csv_files(FORM, api=alice)[AUDIT_FILE]
    one = expected("expected-two-visits.csv", keep=ONE)
    assert text == one + rows("expected-two-visits.csv", ONE).replace(ONE, TWO)


def test_a_malformed_log_is_exported_as_far_as_it_reads_and_logged(audits, alice, caplog):
    # visit-broken.csv has text after a closing quote and a quote that never closes: csv-parse refuses
    # it, which fails Central's whole download. Here the text stays in its cell, the download completes,
    # and the server log names the submission.
    audits.openrosa(visit(ONE), {"audit.csv": log("visit-broken.csv")}, api=alice)
    audits.openrosa(visit(TWO, audit="log.csv"), {"log.csv": log("visit-2.csv")}, api=alice)
    with caplog.at_level(logging.WARNING, logger="hamlet"):
        text = audits.csv_files(FORM, api=alice)[AUDIT_FILE]
    assert text == expected("expected-broken.csv") + rows("expected-two-visits.csv", TWO)
    assert [r.getMessage() for r in caplog.records if ONE in r.getMessage()] == [
        f"The client audit log of {ONE} is not well-formed CSV; it was exported as far as it could be read."]


def test_a_log_that_is_not_text_does_not_break_the_download(audits, alice):
    garbage = bytes(range(256)) * 40 + b'\n"\x00\xff,\xfe\n'
    audits.openrosa(visit(ONE), {"audit.csv": garbage}, api=alice)
    audits.openrosa(visit(TWO, audit="log.csv"), {"log.csv": log("visit-2.csv")}, api=alice)
    files = audits.csv_files(FORM, api=alice)
    assert list(files) == [f"{FORM}.csv", AUDIT_FILE]
    assert files[AUDIT_FILE].endswith(rows("expected-two-visits.csv", TWO))


def test_bom_true_puts_a_bom_before_the_merged_log_too(audits, alice):
    two_visits(audits, alice)
    files = audits.csv_zip(FORM, "?bom=true", api=alice)
    assert files[AUDIT_FILE] == b"\xef\xbb\xbf" + expected("expected-two-visits.csv").encode()


def test_hamlet_export_writes_the_merged_log_with_or_without_media(app, audits, alice, tmp_path):
    from server.cli import main

    audits.openrosa(visit(ONE, photo="1764032420000.jpg"),
                    {"audit.csv": log("visit-1.csv"), "1764032420000.jpg": b"\xff\xd8 nha"}, api=alice)
    audits.openrosa(visit(TWO, audit="log.csv"), {"log.csv": log("visit-2.csv")}, api=alice)
    for extra, names in [([], [f"{FORM}.csv", AUDIT_FILE]),
                         (["--media"], [f"{FORM}.csv", AUDIT_FILE, "media/1764032420000.jpg"])]:
        result = app.test_cli_runner().invoke(main, ["export", FORM, "--project", str(audits.project),
                                                     "--out", str(tmp_path), *extra])
        assert result.exit_code == 0, result.output
        with zipfile.ZipFile(tmp_path / f"{FORM}.csv.zip") as z:
            assert z.namelist() == names
            assert z.read(AUDIT_FILE).decode() == expected("expected-two-visits.csv")


# ==================================================================================================
# The reader alone: csv-parse's reading of the text, in pieces of any size
# ==================================================================================================

def read(data: bytes, chunk: int | None = None) -> tuple[list[list[str]], bool]:
    import server.exports.client_audits as module

    saved = module.CHUNK
    if chunk:
        module.CHUNK = chunk
    try:
        reader = AuditReader()
        return list(reader.records(io.BytesIO(data))), reader.malformed
    finally:
        module.CHUNK = saved


@pytest.mark.parametrize("data, records", [
    # BOMs go (UTF-8, and UTF-16 LE, which csv-parse also detects); the first line break sets the
    # record delimiter for the whole file.
    (b"\xef\xbb\xbfevent,node\r\na,b\r\n", [["event", "node"], ["a", "b"]]),
    ("event,node\na,b\n".encode("utf-16"), [["event", "node"], ["a", "b"]]),
    (b"event\rnode\r", [["event"], ["node"]]),
    (b"event,node\na,b\r\nc,d", [["event", "node"], ["a", "b"], ["c", "d"]]),
    # Blank lines are skipped, spaces around cells trimmed (not inside quotes); a quoted cell keeps
    # its commas, line breaks and doubled quotes.
    (b"event,node\n\n   \n  a  , b \t\n", [["event", "node"], ["a", "b"]]),
    (b'event,new-value\nq," x, ""y""\nz "\n', [["event", "new-value"], ["q", ' x, "y"\nz ']]),
    (b'event,node\n  "a"  ,"b"\n', [["event", "node"], ["a", "b"]]),
    # csv-parse 6 trims only space, tab and line breaks before a cell; JavaScript's whitespace after it.
    ("event\n\u00a0a\u00a0\n".encode(), [["event"], ["\u00a0a"]]),
    # Records of any length.
    (b"event,node\na\nb,c,d\n", [["event", "node"], ["a"], ["b", "c", "d"]]),
    (b"", []),
])
def test_the_reader_reads_as_csv_parse_does(data, records):
    for chunk in (None, 1, 2, 3, 7):
        assert read(data, chunk) == (records, False), chunk


@pytest.mark.parametrize("data, records", [
    (b'event,node\n"a"b,c\n', [["event", "node"], ["ab", "c"]]),
    (b'event,node\n"a" b,c\n', [["event", "node"], ["a b", "c"]]),
    (b'event,node\n"a,b\nc,d\n', [["event", "node"], ["a,b\nc,d\n"]]),
])
def test_what_csv_parse_refuses_is_read_on_and_flagged(data, records):
    for chunk in (None, 1, 2, 3, 7):
        assert read(data, chunk) == (records, True), chunk


def test_central_picks_its_columns_by_the_logs_header():
    data = b"node,extra,event,event,user\n/data/a,x,first,second,u,surplus\n/data/b\n"
    rows = list(merged([(ONE, lambda: io.BytesIO(data))]))
    assert rows == [HEADER,
                    [ONE, "second", "/data/a", None, None, None, None, None, None, None, "u", None],
                    [ONE, None, "/data/b", None, None, None, None, None, None, None, None, None]]
