"""Access logs that never carry a credential.

ODK Collect puts an app user's key in the URL path (`/v1/key/{token}/…`), Central's clients may
send a session token as `?st=`, signing a session out names it (`DELETE /v1/sessions/{token}`), an
emailed password link carries its token as `?token=` (`/account/claim?token=…`), and a web form's public or
app-user link carries its token (`/f/{token}`); gunicorn's access log prints the URL as received, so a log
file would hand out working keys. `AccessLogger` masks them all before any format sees them."""
from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

from gunicorn.glogging import Logger

# `/+`: a doubled slash (`/v1//key/…`) still reaches the route, so it is masked as well.
_KEY = re.compile(r"(/v1/+(?:key|test)/+)[^/?#\s]+")   # an app user's key, a draft's test token
_ST = re.compile(r"(^|[?&])(st|token)=[^&#\s]*")
_TRY = re.compile(r"(/draft/+try/+)[^/?#\s]+")  # a draft tried in the browser: its test token
_LINK = re.compile(r"(^|\s|//[^/\s]*)(/+f/+)[^/?#\s]+")  # a web form's link: /f/{token}[/{form}]
_SESSION = re.compile(r"(/v1/+sessions/+)(?!(?:current|restore)(?:[/?#\s]|$))[^/?#\s]+")
MASK = "***"


def _mask(text: str) -> str:
    if "/key/" in text or "/test/" in text:
        text = _KEY.sub(rf"\g<1>{MASK}", text)
    if "/sessions/" in text:
        text = _SESSION.sub(rf"\g<1>{MASK}", text)
    if "/try/" in text:
        text = _TRY.sub(rf"\g<1>{MASK}", text)
    if "/f/" in text:
        text = _LINK.sub(rf"\g<1>\g<2>{MASK}", text)
    if "st=" in text or "token=" in text:
        text = _ST.sub(rf"\g<1>\g<2>={MASK}", text)
    return text


def redact(text: str | None) -> str | None:
    """The URL (or request line, or referrer) with app-user keys and session tokens masked."""
    if not text:
        return text
    masked = _mask(text)
    if "%" in masked:
        # The route sees the path decoded, so `/v1/k%65y/{key}/…` reaches it as well: when only the
        # decoded text holds a credential, log that text masked, its control characters escaped.
        decoded = unquote(masked)
        if _mask(decoded) != decoded:
            return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in _mask(decoded))
    return masked


class AccessLogger(Logger):
    """gunicorn's logger with the request line, path, query and referrer redacted (`--logger-class`)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        # ~40 atoms per line, two lines per submission. A value with no "/", "=" or "%" holds nothing
        # `redact` would mask; the rest (the request line, path, query: the same for every request of a
        # phone) are remembered by `_redact_recent`.
        for name, value in atoms.items():
            if name.startswith("{") and any(word in name for word in _SECRET_HEADERS):  # {header}i / {header}o
                atoms[name] = MASK
            elif isinstance(value, str) and ("/" in value or "=" in value or "%" in value):
                atoms[name] = _redact_recent(value)
        return atoms


_SECRET_HEADERS = ("authorization", "cookie", "csrf")
_redact_recent = lru_cache(maxsize=4096)(redact)
