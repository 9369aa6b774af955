"""Encrypted forms: envelopes and .enc parts are stored as sent, and open with the form's private key."""
import pytest

from collect import submit
from helpers import (
    CORPUS,
    CORPUS_CASES,
    ENCRYPTED_CASE,
    encrypted_envelope,
    encrypted_form_with_one_submission,
    publish_case,
)
from server.xforms.encryption import DecryptionFailed, decrypt, load_private_key


def test_briefcase_envelope_decrypts_with_a_valid_signature():
    key = load_private_key((ENCRYPTED_CASE / "keys/encrypted-form-key.pem").read_bytes())
    payload = (ENCRYPTED_CASE / "attachments/submission.xml.enc").read_bytes()
    result = decrypt(encrypted_envelope(), {"submission.xml.enc": payload}, key)
    assert b"<name>Guillermo</name>" in result.xml
    assert result.signature_valid is True


def test_tampered_payload_fails_or_breaks_the_signature():
    key = load_private_key((ENCRYPTED_CASE / "keys/encrypted-form-key.pem").read_bytes())
    data = bytearray((ENCRYPTED_CASE / "attachments/submission.xml.enc").read_bytes())
    data[5] ^= 0xFF
    try:
        result = decrypt(encrypted_envelope(), {"submission.xml.enc": bytes(data)}, key)
    except DecryptionFailed:
        return
    assert result.signature_valid is False


def test_wrong_key_is_a_clear_error():
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(DecryptionFailed, match="wrong key"):
        decrypt(encrypted_envelope(), {"submission.xml.enc": (ENCRYPTED_CASE / "attachments/submission.xml.enc").read_bytes()},
                other)


def test_encrypted_submission_is_stored_as_sent_with_its_enc_parts(admin, client, project):
    case = next(c for c in CORPUS_CASES if c["name"] == "onadata-tutorial-encrypted")
    form_id, base = publish_case(admin, project, case)
    xml = next((CORPUS / case["name"] / "instances").glob("*.xml")).read_bytes()
    parts = {p.name: p.read_bytes() for p in (CORPUS / case["name"] / "attachments").iterdir()}
    first = dict(list(parts.items())[:1])
    assert submit(client, base, xml, first, incomplete=True).status_code == 201
    assert submit(client, base, xml, parts).status_code == 201
    [sub] = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions").get_json()
    assert admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions/{sub['instanceId']}.xml").data == xml
    atts = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions/{sub['instanceId']}/attachments").get_json()
    assert sorted(a["name"] for a in atts if a["exists"]) == sorted(parts)


# --- decryption on export: the private key comes with the request, for that download only --------------

def _key_body(pem: bytes | None = None, **extra):
    return {"privateKey": (pem or (ENCRYPTED_CASE / "keys/encrypted-form-key.pem").read_bytes()).decode(), **extra}


def _rows(data: bytes) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def test_without_the_key_an_encrypted_submission_is_listed_as_not_decrypted(admin, client, project):
    form = encrypted_form_with_one_submission(admin, client, project)
    head, row = _rows(admin.get(f"{form}/submissions.csv").data)
    assert head[:3] == ["SubmissionDate", "name", "meta-instanceID"]
    values = dict(zip(head, row))
    assert values["name"] == "" and values["Status"] == "not decrypted"
    assert values["KEY"] == "uuid:494cd080-3bf4-47be-b40f-c706a950d58a"


def test_with_the_private_key_the_export_shows_the_answers(admin, client, project):
    """The expected values are those of Briefcase's own decrypted export of this case
    (corpus expected/encrypted-form.csv): name Guillermo, the instanceID as meta-instanceID and KEY."""
    import io
    import zipfile

    form = encrypted_form_with_one_submission(admin, client, project)
    resp = admin.post(f"{form}/submissions.csv", data=_key_body(), content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    head, row = _rows(resp.data)
    values = dict(zip(head, row))
    assert (values["name"], values["meta-instanceID"], values["KEY"], values["Status"]) == (
        "Guillermo", "uuid:494cd080-3bf4-47be-b40f-c706a950d58a", "uuid:494cd080-3bf4-47be-b40f-c706a950d58a", "")
    # The whole archive too, and the key as an uploaded file works the same.
    pem = (ENCRYPTED_CASE / "keys/encrypted-form-key.pem").read_bytes()
    resp = admin.post(f"{form}/submissions.csv.zip", data={"privateKey": (io.BytesIO(pem), "key.pem")},
                      content_type="multipart/form-data")
    assert resp.status_code == 200
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        assert "Guillermo" in z.read(z.namelist()[0]).decode()


def test_a_wrong_or_broken_key_is_refused_before_anything_is_sent(admin, client, project):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    form = encrypted_form_with_one_submission(admin, client, project)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    resp = admin.post(f"{form}/submissions.csv", data=_key_body(other), content_type="multipart/form-data")
    assert resp.status_code == 400 and "does not open" in resp.get_json()["message"]
    resp = admin.post(f"{form}/submissions.csv", data=_key_body(b"-----BEGIN PRIVATE KEY-----\nnope\n"),
                      content_type="multipart/form-data")
    assert resp.status_code == 400 and resp.get_json()["details"]["field"] == "privateKey"
    # Never in a URL: query strings end up in access logs.
    resp = admin.get(f"{form}/submissions.csv?privateKey=x")
    assert resp.status_code == 400 and "URL" in resp.get_json()["message"]


def _encrypt(form_id: str, version: str, instance_id: str, xml: bytes, public_key) -> tuple[bytes, dict]:
    """What ODK Collect sends for an encrypted form: an envelope and submission.xml.enc (odk-protocol §5.5)."""
    import base64
    import hashlib
    import os

    from cryptography.hazmat.decrepit.ciphers.modes import CFB
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    aes = os.urandom(32)
    wrapped = public_key.encrypt(aes, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA256(), label=None))
    seed = bytearray(hashlib.md5(instance_id.encode() + aes).digest())
    seed[0] = (seed[0] + 1) % 256
    padder = sym_padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(aes), CFB(bytes(seed))).encryptor()
    data = encryptor.update(padder.update(xml) + padder.finalize()) + encryptor.finalize()
    envelope = (f'<data id="{form_id}" version="{version}" encrypted="yes" '
                f'xmlns="http://www.opendatakit.org/xforms/encrypted">'
                f"<base64EncryptedKey>{base64.b64encode(wrapped).decode()}</base64EncryptedKey>"
                f'<orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>{instance_id}</orx:instanceID></orx:meta>'
                "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile></data>").encode()
    return envelope, {"submission.xml.enc": data}


ROSTER_FORM = """<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
<h:head><h:title>Encrypted roster</h:title><model>
<instance><data id="enc_roster" version="1"><village/><person jr:template=""><name/><age/></person><meta><instanceID/></meta></data></instance>
<bind nodeset="/data/village" type="string"/><bind nodeset="/data/person/name" type="string"/>
<bind nodeset="/data/person/age" type="int"/><bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>
<submission method="post" base64RsaPublicKey="{key}"/>
</model></h:head>
<h:body><input ref="/data/village"><label>Village</label></input>
<repeat nodeset="/data/person"><input ref="/data/person/name"><label>Name</label></input>
<input ref="/data/person/age"><label>Age</label></input></repeat></h:body></h:html>"""


def test_decrypted_households_and_rosters_take_their_place_in_every_table(admin, client, project):
    """Plain A, encrypted B, plain C (newest): every file lists C, B, A — B opened with the key."""
    import base64
    import io
    import zipfile

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from collect import instance

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    body = ROSTER_FORM.replace("{key}", base64.b64encode(der).decode()).encode()
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=body, content_type="application/xml")
    assert resp.status_code == 200, resp.get_json()
    form = f"/v1/projects/{project}/forms/enc_roster"
    base = f"/v1/projects/{project}"
    admin_headers = {"Authorization": f"Bearer {admin.token}"}
    people = {"A": [("An", "30")], "B": [("Bình", "41"), ("Bảo", "9")], "C": [("Chi", "25"), ("Cường", "60"), ("Ca", "2")]}
    ids = {}
    for label in "ABC":
        roster = "".join(f"<person><name>{n}</name><age>{a}</age></person>" for n, a in people[label])
        iid = f"uuid:00000000-0000-4000-8000-00000000000{'ABC'.index(label)}"
        ids[label] = iid
        xml = instance("enc_roster", "1", f"<village>V{label}</village>{roster}", instance_id=iid)
        files = None
        if label == "B":
            xml, files = _encrypt("enc_roster", "1", iid, xml, private.public_key())
        assert submit(client, base, xml, files, headers=admin_headers).status_code == 201
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    resp = admin.post(f"{form}/submissions.csv.zip", data={"privateKey": pem.decode()}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        root = _rows(z.read("enc_roster.csv"))
        persons = _rows(z.read("enc_roster-person.csv"))
    assert [r[1] for r in root[1:]] == ["VC", "VB", "VA"]
    assert [r[root[0].index("KEY")] for r in root[1:]] == [ids["C"], ids["B"], ids["A"]]
    assert [(r[0], r[1], r[2]) for r in persons[1:]] == (
        [(n, a, ids["C"]) for n, a in people["C"]] + [(n, a, ids["B"]) for n, a in people["B"]]
        + [(n, a, ids["A"]) for n, a in people["A"]])
    assert persons[1 + 3 + 1][3] == f"{ids['B']}/person[2]"
    # Without the key, B is a row of metadata and has no roster rows.
    with zipfile.ZipFile(io.BytesIO(admin.get(f"{form}/submissions.csv.zip").data)) as z:
        root = _rows(z.read("enc_roster.csv"))
        persons = _rows(z.read("enc_roster-person.csv"))
    assert [r[1] for r in root[1:]] == ["VC", "", "VA"]
    assert root[2][root[0].index("Status")] == "not decrypted"
    assert len(persons) == 1 + 3 + 1


def test_hamlet_export_decrypts_with_a_key_file(app, admin, client, project, tmp_path):
    import zipfile

    from server.cli import main

    form = encrypted_form_with_one_submission(admin, client, project)
    form_id = form.rsplit("/", 1)[1]
    key = ENCRYPTED_CASE / "keys/encrypted-form-key.pem"
    result = app.test_cli_runner().invoke(main, ["export", form_id, "--project", str(project), "--private-key",
                                                 str(key), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / f"{form_id}.csv.zip") as z:
        assert "Guillermo" in z.read(f"{form_id}.csv").decode()
