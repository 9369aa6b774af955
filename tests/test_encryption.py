"""Encrypted forms: envelopes and .enc parts are stored as sent, and open with the form's private key."""
import pytest

from collect import submit
from conftest import CORPUS
from server.xforms.encryption import DecryptionFailed, decrypt, load_private_key

CASE = CORPUS / "briefcase-encrypted-form"


def _envelope():
    return next((CASE / "instances").glob("*.xml")).read_bytes()


def test_briefcase_envelope_decrypts_with_a_valid_signature():
    key = load_private_key((CASE / "keys/encrypted-form-key.pem").read_bytes())
    result = decrypt(_envelope(), {"submission.xml.enc": (CASE / "attachments/submission.xml.enc").read_bytes()}, key)
    assert b"<name>Guillermo</name>" in result.xml
    assert result.signature_valid is True


def test_tampered_payload_fails_or_breaks_the_signature():
    key = load_private_key((CASE / "keys/encrypted-form-key.pem").read_bytes())
    data = bytearray((CASE / "attachments/submission.xml.enc").read_bytes())
    data[5] ^= 0xFF
    try:
        result = decrypt(_envelope(), {"submission.xml.enc": bytes(data)}, key)
    except DecryptionFailed:
        return
    assert result.signature_valid is False


def test_wrong_key_is_a_clear_error():
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(DecryptionFailed, match="wrong key"):
        decrypt(_envelope(), {"submission.xml.enc": (CASE / "attachments/submission.xml.enc").read_bytes()}, other)


def test_encrypted_submission_is_stored_as_sent_with_its_enc_parts(admin, client, project):
    from test_corpus_submissions import CASES, _publish

    case = next(c for c in CASES if c["name"] == "onadata-tutorial-encrypted")
    form_id, base = _publish(admin, project, case)
    xml = next((CORPUS / case["name"] / "instances").glob("*.xml")).read_bytes()
    parts = {p.name: p.read_bytes() for p in (CORPUS / case["name"] / "attachments").iterdir()}
    first = dict(list(parts.items())[:1])
    assert submit(client, base, xml, first, incomplete=True).status_code == 201
    assert submit(client, base, xml, parts).status_code == 201
    [sub] = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions").get_json()
    assert admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions/{sub['instanceId']}.xml").data == xml
    atts = admin.get(f"/v1/projects/{project}/forms/{form_id}/submissions/{sub['instanceId']}/attachments").get_json()
    assert sorted(a["name"] for a in atts if a["exists"]) == sorted(parts)
