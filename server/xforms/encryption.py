"""Decrypting ODK encrypted submissions with the form's private key (XForms spec, encryption section).

The envelope carries an AES-256 key wrapped with the form's RSA public key (OAEP, SHA-256 digest and
Java's default SHA-1 MGF1). Each file — media in envelope order, then submission.xml — is
AES-CFB with PKCS#7 padding; its IV is md5(instanceID + key) with byte (i mod 16) incremented for
the i-th file. The signature is the RSA-wrapped md5 of a newline-joined manifest (odk-protocol §5.5)."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from server.xforms.safexml import attr, child, local, parse


class DecryptionFailed(ValueError):
    pass


@dataclass
class Decrypted:
    xml: bytes
    media: dict[str, bytes]   # original file name (without .enc) -> bytes
    signature_valid: bool


def load_private_key(pem: bytes, passphrase: str | None = None):
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(pem, password=passphrase.encode() if passphrase else None)
    except (ValueError, TypeError) as exc:
        raise DecryptionFailed(f"The private key could not be read: {exc}") from None


def _unwrap(private_key, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    for mgf in (hashes.SHA1(), hashes.SHA256()):  # Java's OAEPWithSHA-256AndMGF1Padding uses SHA-1 for MGF1
        try:
            return private_key.decrypt(data, padding.OAEP(mgf=padding.MGF1(mgf), algorithm=hashes.SHA256(), label=None))
        except ValueError:
            continue
    raise DecryptionFailed("The submission's key does not open with this private key (wrong key for this form?).")


def _aes_cfb(key: bytes, iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    try:  # CFB moved to the "decrepit" module; still what ODK clients use
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:  # pragma: no cover - older cryptography
        from cryptography.hazmat.primitives.ciphers.modes import CFB

    decryptor = Cipher(algorithms.AES(key), CFB(iv)).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptionFailed("A file did not decrypt cleanly (corrupted upload, or the wrong key).") from None


def decrypt(envelope: bytes, files: dict[str, bytes], private_key) -> Decrypted:
    root = parse(envelope)
    meta = child(root, "meta")
    instance_el = child(meta, "instanceID") if meta is not None else None
    instance_id = (instance_el.text if instance_el is not None else None) or attr(root, "instanceID")
    key_el, xml_el = child(root, "base64EncryptedKey"), child(root, "encryptedXmlFile")
    if not instance_id or key_el is None or xml_el is None:
        raise DecryptionFailed("This is not an encrypted submission envelope.")
    instance_id = instance_id.strip()
    aes_key = _unwrap(private_key, base64.b64decode(key_el.text))
    seed = bytearray(hashlib.md5(instance_id.encode("utf-8") + aes_key).digest())
    media_names = [(f.text or "").strip() for m in root if local(m.tag) == "media" for f in m if local(f.tag) == "file"]
    order = media_names + [(xml_el.text or "").strip()]
    plain: dict[str, bytes] = {}
    for i, name in enumerate(order):
        seed[i % 16] = (seed[i % 16] + 1) % 256
        if name not in files:
            raise DecryptionFailed(f"The encrypted file '{name}' has not been received yet.")
        plain[name] = _aes_cfb(aes_key, bytes(seed), files[name])
    xml = plain.pop(order[-1])
    media = {n[:-4] if n.endswith(".enc") else n: b for n, b in plain.items()}
    return Decrypted(xml=xml, media=media, signature_valid=_signature_ok(root, private_key, key_el.text.strip(),
                                                                         instance_id, xml, media))


def _signature_ok(root, private_key, b64_key: str, instance_id: str, xml: bytes, media: dict[str, bytes]) -> bool:
    sig = child(root, "base64EncryptedElementSignature")
    if sig is None or not sig.text:
        return False
    lines = [attr(root, "id") or ""]
    version = attr(root, "version")
    if version:
        lines.append(version)
    lines += [b64_key, instance_id]
    lines += [f"{name}::{hashlib.md5(data).hexdigest()}" for name, data in media.items()]
    lines.append(f"submission.xml::{hashlib.md5(xml).hexdigest()}")
    expected = hashlib.md5(("\n".join(lines) + "\n").encode("utf-8")).digest()
    try:
        return _unwrap(private_key, base64.b64decode(sig.text)) == expected
    except DecryptionFailed:
        return False
