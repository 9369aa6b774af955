"""ODK Collect's settings QR code for an app user (odk-protocol §8): pure functions, no Flask.

The payload is Central's for a managed app-user code; Collect reads the QR text as Base64 of the
zlib-compressed UTF-8 JSON. segno draws it as inline SVG (no image files, no JavaScript, no CDN)
with error correction L, as Central does for app users: the lowest level keeps the code small
enough to scan from a phone screen or a printed sheet."""
from __future__ import annotations

import base64
import json
import zlib

import segno
from markupsafe import Markup


def collect_settings(base_url: str, token: str, project_id: int, project_name: str) -> dict:
    return {
        "general": {"server_url": f"{base_url.rstrip('/')}/v1/key/{token}/projects/{project_id}",
                    "form_update_mode": "match_exactly", "autosend": "wifi_and_cellular"},
        "project": {"name": project_name},
        "admin": {},
    }


def draft_server_url(base_url: str, token: str, project_id: int, xml_form_id: str) -> str:
    """Where Collect tests a form's draft (Central's serverUrlForFormDraft): it appends /formList
    and /submission to this, and the token in it is the only credential."""
    from urllib.parse import quote

    return f"{base_url.rstrip('/')}/v1/test/{token}/projects/{project_id}/forms/{quote(xml_form_id, safe='')}/draft"


def draft_settings(server_url: str, project_name: str) -> dict:
    """Central's draft testing code: a Collect project of its own, named as a draft, with a pencil."""
    return {
        "general": {"server_url": server_url, "form_update_mode": "match_exactly", "autosend": "wifi_and_cellular"},
        "project": {"name": project_name, "icon": "📝"},
        "admin": {},
    }


def encode_settings(settings: dict) -> str:
    """Base64(zlib(JSON)), as Collect's CompressionUtils and Central's pako.deflate + btoa make it."""
    text = json.dumps(settings, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")


def decode_settings(payload: str) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))


def qr_svg(payload: str, title: str, error: str = "l") -> Markup:
    """An inline <svg> that scales with CSS (no fixed size), with a quiet zone of 4 modules. `error`:
    the correction level (Central draws a draft's code with Q)."""
    code = segno.make(payload, error=error, micro=False, boost_error=False)
    return Markup(code.svg_inline(scale=1, border=4, omitsize=True, title=title, svgclass="qr",
                                  dark="#000", light="#fff"))
