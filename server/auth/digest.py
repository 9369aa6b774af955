"""HTTP Digest (RFC 2617, MD5, qop=auth) for ODK Collect configured with a username and password.

Collect answers Digest over http and https, Basic only over https (odk-protocol §4.1), and needs a
challenge with a quoted realm. Nonces are stateless: a timestamp signed with the secret key, so any
worker can check them; an old nonce gets stale=true and Collect retries silently."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from werkzeug.datastructures import Authorization

from server.models.accounts import DIGEST_REALM

NONCE_SECONDS = 24 * 3600


def _sign(secret: str, stamp: str) -> str:
    return hmac.new(secret.encode(), stamp.encode(), hashlib.sha256).hexdigest()[:32]


def new_nonce(secret: str) -> str:
    stamp = f"{int(time.time())}.{secrets.token_hex(4)}"
    return base64.urlsafe_b64encode(f"{stamp}:{_sign(secret, stamp)}".encode()).decode().rstrip("=")


def nonce_state(secret: str, nonce: str) -> str:
    """'ok', 'stale' (well signed but old) or 'bad'."""
    try:
        raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4)).decode()
        stamp, sig = raw.rsplit(":", 1)
    except (ValueError, UnicodeDecodeError):
        return "bad"
    if not hmac.compare_digest(sig, _sign(secret, stamp)):
        return "bad"
    issued = int(stamp.split(".", 1)[0])
    return "ok" if time.time() - issued <= NONCE_SECONDS else "stale"


def challenges(secret: str, https: bool, stale: bool = False) -> list[str]:
    """WWW-Authenticate values, Digest first; Basic only where Collect would answer it."""
    digest = (f'Digest realm="{DIGEST_REALM}", qop="auth", nonce="{new_nonce(secret)}", '
              f'opaque="{secrets.token_hex(8)}", algorithm=MD5')
    if stale:
        digest += ", stale=true"
    values = [digest]
    if https:
        values.append(f'Basic realm="{DIGEST_REALM}"')
    return values


def check(auth: Authorization, ha1: str | None, method: str) -> bool:
    """Whether a Digest Authorization header proves knowledge of the password behind `ha1`."""
    if not ha1 or auth.type != "digest":
        return False
    p = auth.parameters
    uri, nonce, response = p.get("uri"), p.get("nonce"), p.get("response")
    if not (uri and nonce and response) or (p.get("algorithm") or "MD5").upper() != "MD5":
        return False
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    qop = p.get("qop")
    if qop == "auth":
        expected = hashlib.md5(f"{ha1}:{nonce}:{p.get('nc')}:{p.get('cnonce')}:auth:{ha2}".encode()).hexdigest()
    elif qop is None:
        expected = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    else:
        return False
    return hmac.compare_digest(expected, response)
