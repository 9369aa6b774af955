"""Plain code the page tests share: a browser-like test client, a web user with the fixture admin's
password, the steps a real browser takes to sign in and make a project, and files to upload."""
from __future__ import annotations

import io
import re

from openpyxl import Workbook

from helpers import ADMIN_EMAIL, ADMIN_PASSWORD
from server.models.accounts import ProjectAssignment, create_user

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def make_user(app, email: str, password_hash: str, role: str | None = None, project_id: int | None = None,
              language: str | None = None) -> int:
    """A web user with the fixture admin's password (its scrypt hash is computed once per run)."""
    with app.extensions["hamlet.sessionmaker"]() as s:
        user = create_user(s, email, None, email.split("@")[0])
        user.password_hash = password_hash
        user.language = language
        if role:
            s.add(ProjectAssignment(actor_id=user.id, project_id=project_id, role=role))
        s.commit()
        return user.id


class Browserish:
    """The Flask test client used as a browser would: cookies kept, CSRF token read from each page."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    def get(self, path, **kw):
        resp = self.client.get(path, **kw)
        m = _CSRF.search(resp.get_data(as_text=True))
        if m:
            self.csrf = m.group(1)
        return resp

    def post(self, path, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=data, **kw)

    def sign_in(self, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
        self.get("/sign-in")
        resp = self.post("/sign-in", {"email": email, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[-500:]
        self.get("/projects")
        return self


# --- a real browser (Playwright's page) ----------------------------------------------------------

def sign_in(page, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
    page.goto("/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/projects")


# What a finger taps: every visible link, button, field, menu and summary — the header's and the
# breadcrumbs' too — and a checkbox or radio through the label around it (alone when it has none). The skip link, off-screen until
# focused, is not one.
TAP_TARGETS = """() => Array.from(document.querySelectorAll(
    'a[href], button, select, textarea, input:not([type=hidden]), summary, label'))
  .filter(el => el.tagName !== 'LABEL' || el.querySelector('input[type=checkbox], input[type=radio]'))
  .filter(el => !(el.matches('input[type=checkbox], input[type=radio]') && el.closest('label')))
  .map(el => { const r = el.getBoundingClientRect();
               return {what: (el.tagName + ' ' + (el.textContent || el.name || el.type || '')).trim().replace(/\\s+/g, ' ').slice(0, 50),
                       width: Math.round(r.width * 10) / 10, height: Math.round(r.height * 10) / 10,
                       right: r.right}; })
  .filter(t => t.width > 0 && t.height > 0 && t.right > 0)"""


def small_targets(page, least: float = 44) -> list[dict]:
    """The tap targets on the page smaller than `least` CSS px either way (WCAG 2.5.5's 44 × 44)."""
    return [f"{t['what']} ({t['width']} × {t['height']})" for t in page.evaluate(TAP_TARGETS)
            if t["width"] < least or t["height"] < least]


def new_project(page, name: str) -> int:
    page.goto("/projects")
    page.fill("#name", name)
    page.click("section.box button[type=submit]")
    page.wait_for_url("**/projects/*")
    return int(page.url.rsplit("/", 1)[1])


# --- files to upload ------------------------------------------------------------------------------

def broken_xlsform(tmp_path):
    """A workbook pyxform refuses at survey row 3 (a question name used twice)."""
    wb = Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["text", "household_name", "Tên chủ hộ"])
    survey.append(["text", "household_name", "Họ tên người trả lời"])  # the same name twice
    settings = wb.create_sheet("settings")
    settings.append(["form_id", "version"])
    settings.append(["broken_survey", "1"])
    path = tmp_path / "broken.xlsx"
    wb.save(path)
    return path


def jpeg(size=(64, 48)) -> bytes:
    """A small real JPEG, for a photo question."""
    from PIL import Image  # pillow is only a test extra

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buf, "JPEG")
    return buf.getvalue()
