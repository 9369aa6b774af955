"""An official limited to one commune signs in and lands on that commune's dashboard, titled with its
name; a count that differs from another page's says why, with the number left out (issue 15, item 5)."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import html

from helpers import ADMIN_PASSWORD, FORM, HP, give

from .helpers import Browserish, make_user


@pytest.fixture
def official(app, client, field, admin_password_hash):
    """A viewer of Hòa Phước only, in no other project, not yet signed in."""
    actor_id = make_user(app, "uyban@example.vn", admin_password_hash)
    give(field.admin, field.project, "viewer", actor_id, [HP])
    return Browserish(client)


def sign_in(browser: Browserish, next_: str | None = None):
    browser.get("/sign-in" + (f"?next={next_}" if next_ else ""))
    data = {"email": "uyban@example.vn", "password": ADMIN_PASSWORD}
    if next_:
        data["next"] = next_
    return browser.post("/sign-in", data)


def test_a_limited_official_lands_on_the_dashboard_of_their_own_area(field, official):
    resp = sign_in(official)
    assert resp.status_code == 302
    where = urlsplit(resp.headers["Location"])
    assert where.path == f"/projects/{field.project}/dashboard" and parse_qs(where.query) == {"area": [HP]}
    resp = official.get(resp.headers["Location"])
    assert resp.status_code == 302
    assert urlsplit(resp.headers["Location"]).path == f"/projects/{field.project}/forms/{FORM}/dashboard"
    page = html.fromstring(official.get(resp.headers["Location"]).get_data(as_text=True))
    assert "Hòa Phước" in page.findtext(".//h1") and "Đà Nẵng" not in page.findtext(".//h1")
    assert "Hòa Phước" in page.findtext(".//title")
    assert "Cả dự án" not in page.xpath("string(//nav[@class='trail'])")   # nothing above their area


def test_the_home_page_and_the_dashboard_without_an_area_are_the_officials_area_too(field, official):
    sign_in(official)
    assert urlsplit(official.get("/").headers["Location"]).path == f"/projects/{field.project}/dashboard"
    page = html.fromstring(official.get(f"/projects/{field.project}/forms/{FORM}/dashboard").get_data(as_text=True))
    assert "Hòa Phước" in page.findtext(".//h1") and "Đà Nẵng" not in page.findtext(".//h1")


def test_a_next_page_on_this_site_wins_and_one_elsewhere_is_ignored(field, official):
    wanted = f"/projects/{field.project}/forms/{FORM}/submissions"
    assert sign_in(official, wanted).headers["Location"] == wanted
    official.get(wanted)
    assert official.post("/sign-out").status_code == 302
    assert urlsplit(sign_in(official, "https://evil.example/x").headers["Location"]).path == \
        f"/projects/{field.project}/dashboard"


def test_a_manager_of_the_whole_project_still_lands_on_the_projects(web):
    assert web.get("/sign-in").status_code == 200
    resp = web.post("/sign-in", {"email": "admin@hamlet.test", "password": ADMIN_PASSWORD})
    assert urlsplit(resp.headers["Location"]).path == "/projects"


def test_rejected_submissions_left_out_of_the_dashboard_are_counted_beside_its_number(field, official):
    rejected = sorted(field.inside)[0]
    assert field.admin.patch(f"{field.survey}/submissions/{rejected}", {"reviewState": "rejected"}).status_code == 200
    sign_in(official)
    base = f"/projects/{field.project}/forms/{FORM}"
    listed = html.fromstring(official.get(f"{base}/submissions").get_data(as_text=True))
    total = int(re.search(r"\d+", listed.xpath("string(//p[@class='summary']/strong)")).group())
    assert total == len(field.inside)
    note = listed.get_element_by_id("rejected-note")
    assert note.get("data-rejected") == "1" and "bị từ chối" in note.text_content()
    dash = html.fromstring(official.get(f"{base}/dashboard").get_data(as_text=True))
    visited = int(dash.get_element_by_id("coverage-summary").get("data-households"))
    left_out = dash.get_element_by_id("left-out")
    assert visited == total - 1 and left_out.get("data-rejected") == "1"
    assert "1 phiếu bị từ chối" in left_out.text_content()
    # Counting them too, the two pages agree and nothing is said.
    dash = html.fromstring(official.get(f"{base}/dashboard?includeRejected=true").get_data(as_text=True))
    assert int(dash.get_element_by_id("coverage-summary").get("data-households")) == total
    assert not dash.xpath("//*[@id='left-out']")
