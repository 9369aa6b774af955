"""Every page sends a Content-Security-Policy that runs only the site's own script and styles files;
no template carries an inline script, style block or style attribute that the policy would block."""
from __future__ import annotations

from pathlib import Path

import pytest

from server.web import page_policy

TEMPLATES = Path(__file__).resolve().parents[2] / "server" / "web" / "templates"


def directives(header: str) -> dict[str, str]:
    return {d.split()[0]: " ".join(d.split()[1:]) for d in header.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/sign-in", "/projects", "/nothing-here"])
def test_pages_send_a_policy_without_inline_script_or_style(signed_in, path):
    resp = signed_in.get(path)
    policy = directives(resp.headers["Content-Security-Policy"])
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]


def test_no_template_has_inline_script_or_style():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert "<style" not in text and "style=" not in text, template.name
        assert text.count("<script") == text.count("<script src="), template.name
        assert not any(f" {h}=" in text for h in ("onclick", "onload", "onchange", "onsubmit", "onerror")), template.name


def test_map_tiles_are_allowed_from_their_own_origin_only():
    assert directives(page_policy(None))["img-src"] == "'self' data:"
    assert directives(page_policy("https://tile.example.vn/{z}/{x}/{y}.png"))["img-src"] == \
        "'self' data: https://tile.example.vn"
    assert directives(page_policy("https://{s}.tile.example.vn/{z}/{x}/{y}.png"))["img-src"] == \
        "'self' data: https://*.tile.example.vn"
