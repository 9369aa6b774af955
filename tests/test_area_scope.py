"""Area-scoped supervisors: a user given a commune sees only its villages, in every API call and export.

The shipped survey, the shipped registry (xlsforms/areas.csv) and the shipped targets workbook (its
area_field is `village`), with households in Hòa Phước (DN-HV-HP, the supervised commune), in Thạc
Gián and Hòa Hiệp Bắc (other communes of Đà Nẵng), and one whose village is not in the registry."""
from __future__ import annotations

import io
import json
import random
import zipfile

from openpyxl import load_workbook

from helpers import FORM, HP, HP_VILLAGES, give, listed, table, web_user
from server.synthetic import random_household, to_xml

# --- REST submissions ------------------------------------------------------------------------------

def test_a_commune_viewer_lists_and_counts_only_its_villages_households(field, viewer, wide_viewer):
    assert listed(viewer, field.survey) == field.inside
    assert listed(wide_viewer, field.survey) == set(field.village)
    assert listed(field.admin, field.survey) == set(field.village)
    # Paging counts the same households.
    resp = viewer.get(f"{field.survey}/submissions?limit=1&offset=1")
    assert resp.headers["X-Total-Count"] == "3" and len(resp.get_json()) == 1
    # The form's extended metadata counts them too.
    meta = viewer.get(field.survey, headers={"X-Extended-Metadata": "true"}).get_json()
    assert meta["submissions"] == 3
    assert field.admin.get(field.survey, headers={"X-Extended-Metadata": "true"}).get_json()["submissions"] == 7


def test_another_communes_household_is_not_found_by_any_path(field, viewer):
    mine = sorted(field.inside)[0]
    other = sorted(field.outside)[0]
    for path in ("", ".xml", "/versions", "/comments", "/attachments"):
        assert viewer.get(f"{field.survey}/submissions/{mine}{path}").status_code == 200, path
        resp = viewer.get(f"{field.survey}/submissions/{other}{path}")
        assert resp.status_code == 404, path  # not 403: whether it exists is not told
    photo_home = next(h for h in field.households if h.photo and h.instance_id in field.outside)
    assert viewer.get(f"{field.survey}/submissions/{photo_home.instance_id}/attachments/{photo_home.photo}"
                      ).status_code == 404
    photo_mine = next(h for h in field.households if h.photo and h.instance_id in field.inside)
    resp = viewer.get(f"{field.survey}/submissions/{photo_mine.instance_id}/attachments/{photo_mine.photo}")
    assert resp.status_code == 200 and resp.data == b"photo of 1"
    assert viewer.post(f"{field.survey}/submissions/{other}/comments", {"body": "?"}).status_code == 404
    assert viewer.post(f"{field.survey}/submissions/{mine}/comments", {"body": "Đã xem"}).status_code == 200


def test_a_commune_manager_reviews_edits_and_deletes_only_its_households(app, client, field):
    manager, actor_id = web_user(app, client, "truongxa@example.vn")
    give(field.admin, field.project, "manager", actor_id, [HP])
    mine, other = sorted(field.inside)[0], sorted(field.outside)[0]
    survey = field.survey
    assert manager.patch(f"{survey}/submissions/{other}", {"reviewState": "approved"}).status_code == 404
    assert manager.patch(f"{survey}/submissions/{mine}", {"reviewState": "approved"}).status_code == 200
    h = next(h for h in field.households if h.instance_id == other)
    edited = to_xml(h, deprecated_id=h.instance_id).replace(h.instance_id.encode(), b"uuid:edit-1", 1)
    resp = manager.client.put(f"{survey}/submissions/{other}", data=edited, content_type="application/xml",
                              headers=manager._headers())
    assert resp.status_code == 404
    assert manager.delete(f"{survey}/submissions/{other}").status_code == 404
    assert field.admin.delete(f"{survey}/submissions/{other}").status_code == 200
    assert manager.post(f"{survey}/submissions/{other}/restore").status_code == 404
    assert manager.delete(f"{survey}/submissions/{mine}").status_code == 200
    assert manager.post(f"{survey}/submissions/{mine}/restore").status_code == 200
    # The admin's review of the other commune's household is untouched.
    assert field.admin.get(f"{survey}/submissions/{other}").status_code == 404  # deleted by the admin above
    assert listed(field.admin, survey) == set(field.village) - {other}


def test_a_commune_manager_replaces_photos_only_of_its_households(app, client, field):
    manager, actor_id = web_user(app, client, "anh@example.vn")
    give(field.admin, field.project, "manager", actor_id, [HP])
    theirs = next(h for h in field.households if h.photo and h.instance_id in field.outside)
    mine = next(h for h in field.households if h.photo and h.instance_id in field.inside)

    def upload(h):
        return manager.client.post(f"{field.survey}/submissions/{h.instance_id}/attachments/{h.photo}",
                                   data=b"a clearer photo", content_type="image/jpeg", headers=manager._headers())

    assert upload(theirs).status_code == 404
    assert upload(mine).status_code == 200
    assert field.admin.get(f"{field.survey}/submissions/{theirs.instance_id}/attachments/{theirs.photo}"
                           ).data != b"a clearer photo"
    assert field.admin.get(f"{field.survey}/submissions/{mine.instance_id}/attachments/{mine.photo}"
                           ).data == b"a clearer photo"


def test_a_form_without_an_area_field_shows_a_limited_caller_nothing_and_says_why(app, field, viewer):
    from sqlalchemy import delete

    from server.models.indicators import IndicatorSet

    with app.extensions["hamlet.sessionmaker"]() as s:  # the survey as if its workbook had never come
        s.execute(delete(IndicatorSet))
        s.commit()
    for path in ("/submissions", f"/submissions/{sorted(field.inside)[0]}", "/submissions.csv",
                 ".svc/Submissions"):
        resp = viewer.get(f"{field.survey}{path}")
        assert resp.status_code == 403, path
        assert "area" in resp.get_json()["message"] and HP in resp.get_json()["message"], path
    # The unlimited are not concerned.
    assert len(field.admin.get(f"{field.survey}/submissions").get_json()) == 7


# --- exports ----------------------------------------------------------------------------------------

def test_every_export_holds_only_the_communes_households(field, viewer, wide_viewer):
    survey = field.survey
    zipped = zipfile.ZipFile(io.BytesIO(viewer.get(f"{survey}/submissions.csv.zip").data))
    root = table(zipped.read(f"{FORM}.csv"))
    assert {r["KEY"] for r in root} == field.inside
    assert {r["location-village"] for r in root} <= HP_VILLAGES
    members = table(zipped.read(f"{FORM}-members.csv"))
    assert len(members) == field.members_inside and {r["PARENT_KEY"].split("/")[0] for r in members} <= field.inside
    assert [n for n in zipped.namelist() if n.startswith("media/")] == ["media/" + next(
        h.photo for h in field.households if h.photo and h.instance_id in field.inside)]
    assert {r["KEY"] for r in table(viewer.get(f"{survey}/submissions.csv").data)} == field.inside

    book = load_workbook(io.BytesIO(viewer.get(f"{survey}/submissions.xlsx").data))
    assert book[FORM].max_row == 1 + 3 and book["members"].max_row == 1 + field.members_inside

    doc = json.loads(viewer.get(f"{survey}/submissions.geojson").data)
    assert {f["id"] for f in doc["features"]} == field.inside

    people = table(viewer.get(f"{survey}/persons.csv").data)
    assert len(people) == field.members_inside and {p["PARENT_KEY"] for p in people} == field.inside

    # The unlimited viewer's export holds everyone.
    assert {r["KEY"] for r in table(wide_viewer.get(f"{survey}/submissions.csv").data)} == set(field.village)


def test_an_export_area_is_narrowed_to_the_scope_and_refused_outside_it(field, viewer):
    survey = field.survey
    one = table(viewer.get(f"{survey}/submissions.csv?area=DN-HV-HP-02").data)
    assert [r["location-village"] for r in one] == ["DN-HV-HP-02"]
    # The district above: only the commune's households, never its neighbours'.
    assert {r["KEY"] for r in table(viewer.get(f"{survey}/submissions.csv?area=DN-HV").data)} == field.inside
    resp = viewer.get(f"{survey}/submissions.csv?area=DN-TK-TG")
    assert resp.status_code == 404 and HP in resp.get_json()["message"]
    # Naming another field as the area field does not get round the scope.
    rows = table(viewer.get(f"{survey}/submissions.csv?area=DN&areaField=commune").data)
    assert {r["KEY"] for r in rows} == field.inside


# --- OData ------------------------------------------------------------------------------------------

def test_odata_pages_counts_expansions_and_repeat_tables_hold_only_the_commune(field, viewer, wide_viewer):
    svc = f"{field.survey}.svc"
    whole = viewer.get(f"{svc}/Submissions?$count=true").get_json()
    assert {r["__id"] for r in whole["value"]} == field.inside and whole["@odata.count"] == 3
    # Page by page, following the next links.
    seen, url = [], f"{svc}/Submissions?$top=2&$count=true"
    while url:
        page = viewer.get(url).get_json()
        assert page["@odata.count"] == 3
        seen += [r["__id"] for r in page["value"]]
        url = page.get("@odata.nextLink", "").replace("http://localhost", "") or None
    assert sorted(seen) == sorted(field.inside)
    assert viewer.get(f"{svc}/Submissions?$top=1&$skip=3").get_json()["value"] == []
    expanded = viewer.get(f"{svc}/Submissions?$expand=*").get_json()["value"]
    assert sum(len(r["household"]["members"]) for r in expanded) == field.members_inside
    members = viewer.get(f"{svc}/Submissions.household.members?$count=true").get_json()
    assert len(members["value"]) == members["@odata.count"] == field.members_inside
    assert {m["__Submissions-id"] for m in members["value"]} == field.inside
    mine, other = sorted(field.inside)[0], sorted(field.outside)[0]
    assert viewer.get(f"{svc}/Submissions('{mine}')").status_code == 200
    assert viewer.get(f"{svc}/Submissions('{other}')").status_code == 404
    assert viewer.get(f"{svc}/Submissions('{other}')/household/members").status_code == 404
    assert wide_viewer.get(f"{svc}/Submissions?$count=true").get_json()["@odata.count"] == 7


def test_odata_page_function_takes_the_scope(app, field, viewer):
    """The function the pages and benchmarks call filters the same way."""
    from server.auth.scope import form_scope
    from server.models.accounts import Actor
    from server.models.forms import live_form
    from server.odata.rows import page

    with app.extensions["hamlet.sessionmaker"]() as s:
        form = live_form(s, field.project, FORM)
        scope = form_scope(s, s.get(Actor, viewer.actor_id), form)
        doc = page(s, form, "Submissions", {"$count": "true"}, scope=scope)
        assert doc["@odata.count"] == 3 and {r["__id"] for r in doc["value"]} == field.inside
        assert page(s, form, "Submissions", {"$count": "true"})["@odata.count"] == 7


# --- indicators, coverage, follow-up ---------------------------------------------------------------

def test_the_indicators_report_lists_the_commune_and_its_villages_but_nothing_above(field, viewer, wide_viewer):
    survey = field.survey
    rep = viewer.get(f"{survey}/indicators").get_json()
    codes = {a["code"] for a in rep["areas"]}
    assert codes == {HP} | HP_VILLAGES
    by = {a["code"]: a for a in rep["areas"]}
    assert by[HP]["households"] == 3 and by["DN-HV-HP-01"]["households"] == 2
    assert rep["unmatchedAreas"] == []  # XX-99 is in nobody's commune
    # The same figures as the unlimited report for the same areas.
    full = {a["code"]: a for a in wide_viewer.get(f"{survey}/indicators").get_json()["areas"]}
    assert by[HP] == full[HP]
    assert "DN" in full and "DN-HV" in full
    assert wide_viewer.get(f"{survey}/indicators").get_json()["unmatchedAreas"] == [{"code": "XX-99", "households": 1}]
    assert viewer.get(f"{survey}/indicators?level=province").get_json()["areas"] == []
    assert {a["code"] for a in viewer.get(f"{survey}/indicators?area=DN-HV-HP-01").get_json()["areas"]} == {"DN-HV-HP-01"}
    for outside in ("DN-TK-TG", "DN-HV", "DN"):
        resp = viewer.get(f"{survey}/indicators?area={outside}")
        assert resp.status_code == 404, outside
    assert viewer.get(f"{survey}/indicators?area=NOWHERE").status_code == 400  # unknown, as for everyone
    rows = table(viewer.get(f"{survey}/indicators.csv").data)
    assert {r["area_code"] for r in rows} == {HP} | HP_VILLAGES
    assert viewer.get(f"{survey}/indicators.csv?area=DN-TK-TG").status_code == 404


def test_coverage_counts_only_the_communes_households(field, viewer, wide_viewer):
    survey = field.survey
    cov = viewer.get(f"{survey}/coverage").get_json()
    assert {a["code"] for a in cov["areas"]} == {HP} | HP_VILLAGES
    assert next(a for a in cov["areas"] if a["code"] == HP)["households"] == 3
    assert sum(e["households"] for e in cov["byEnumerator"]) == 3
    assert sum(d["households"] for d in cov["byDay"]) == 3
    assert cov["unmatchedAreas"] == []
    assert sum(e["households"] for e in wide_viewer.get(f"{survey}/coverage").get_json()["byEnumerator"]) == 7
    assert viewer.get(f"{survey}/coverage?area=DN-LC-HHB").status_code == 404
    assert viewer.get(f"{survey}/coverage?level=district").get_json()["areas"] == []


def test_follow_up_lists_only_the_communes_households(field, viewer, wide_viewer):
    survey = field.survey
    elsewhere = 0
    for indicator in field.admin.get(f"{survey}/indicators/definition").get_json()["indicators"]:
        name = indicator["name"]
        mine = viewer.get(f"{survey}/follow-up?indicator={name}").get_json()["households"]
        everyone = wide_viewer.get(f"{survey}/follow-up?indicator={name}").get_json()["households"]
        assert {h["instanceId"] for h in mine} == {h["instanceId"] for h in everyone} & field.inside, name
        elsewhere += len({h["instanceId"] for h in everyone} - field.inside)
        rows = table(viewer.get(f"{survey}/follow-up.csv?indicator={name}").data)
        assert {r["instance_id"] for r in rows} == {h["instanceId"] for h in mine}, name
    assert elsewhere  # households elsewhere are to be visited too, and the commune's viewer did not see them
    name = "adult_smartphone"
    assert viewer.get(f"{survey}/follow-up?indicator={name}&area=DN-TK-TG-01").status_code == 404
    assert viewer.get(f"{survey}/follow-up.csv?indicator={name}&area=DN-TK-TG-01").status_code == 404
    assert viewer.get(f"{survey}/follow-up?indicator={name}&area=DN-HV-HP-01").status_code == 200


# --- who is limited, and managing it --------------------------------------------------------------

def test_a_site_administrator_is_never_limited(app, field):
    from helpers import ADMIN_EMAIL
    from server.models.accounts import AreaAssignment, user_by_email

    resp = field.admin.put(f"/v1/projects/{field.project}/assignments/1/areas", {"areas": [HP]})
    assert resp.status_code == 400 and "administrator" in resp.get_json()["message"]
    # Even a row put there behind the API's back changes nothing.
    with app.extensions["hamlet.sessionmaker"]() as s:
        s.add(AreaAssignment(actor_id=user_by_email(s, ADMIN_EMAIL).id, project_id=field.project, area_code=HP))
        s.commit()
    assert listed(field.admin, field.survey) == set(field.village)
    assert len(field.admin.get(f"{field.survey}/indicators").get_json()["unmatchedAreas"]) == 1


def test_areas_are_replaced_listed_checked_and_cleared_and_apply_at_the_next_request(field, viewer):
    base = f"/v1/projects/{field.project}/assignments"
    assert field.admin.get(f"{base}/{viewer.actor_id}/areas").get_json() == {"actorId": viewer.actor_id, "areas": [HP]}
    assert field.admin.get(f"{base}/areas").get_json() == [{"actorId": viewer.actor_id, "areas": [HP]}]
    # Unknown codes: 400 naming each one, and nothing changes.
    resp = field.admin.put(f"{base}/{viewer.actor_id}/areas", {"areas": ["DN-TK-TG", "NOWHERE", "XX-1"]})
    assert resp.status_code == 400
    assert resp.get_json()["details"]["unknown"] == ["NOWHERE", "XX-1"]
    assert "NOWHERE" in resp.get_json()["message"] and "XX-1" in resp.get_json()["message"]
    assert listed(viewer, field.survey) == field.inside
    assert field.admin.put(f"{base}/{viewer.actor_id}/areas", {"areas": "DN-TK-TG"}).status_code == 400
    # Replacing takes effect at the next request, with the same session.
    resp = field.admin.put(f"{base}/{viewer.actor_id}/areas", {"areas": ["DN-TK-TG", "DN-HV-HP-02"]})
    assert resp.get_json() == {"actorId": viewer.actor_id, "areas": ["DN-HV-HP-02", "DN-TK-TG"]}
    assert listed(viewer, field.survey) == {i for i, v in field.village.items()
                                            if v == "DN-HV-HP-02" or v.startswith("DN-TK-TG-")}
    # Clearing gives the whole project back.
    assert field.admin.put(f"{base}/{viewer.actor_id}/areas", {"areas": []}).get_json()["areas"] == []
    assert listed(viewer, field.survey) == set(field.village)
    assert field.admin.get(f"{base}/areas").get_json() == []
    # Reading them needs the right to list assignments; a viewer has not.
    assert viewer.get(f"{base}/areas").status_code == 403
    assert viewer.put(f"{base}/{viewer.actor_id}/areas", {"areas": []}).status_code == 403
    assert field.admin.get(f"{base}/99999/areas").status_code == 404


def test_a_limited_manager_hands_out_only_what_it_holds(app, client, field):
    base = f"/v1/projects/{field.project}/assignments"
    manager, manager_id = web_user(app, client, "truongxa@example.vn")
    give(field.admin, field.project, "manager", manager_id, [HP])
    helper, helper_id = web_user(app, client, "totruong@example.vn")
    # Not its own areas, not the whole project, not outside its commune.
    assert manager.put(f"{base}/{manager_id}/areas", {"areas": []}).status_code == 403
    assert manager.put(f"{base}/{helper_id}/areas", {"areas": []}).status_code == 403
    assert manager.put(f"{base}/{helper_id}/areas", {"areas": ["DN-TK-TG"]}).status_code == 403
    # A role only to someone already inside its areas.
    assert manager.post(f"{base}/viewer/{helper_id}").status_code == 403
    assert manager.put(f"{base}/{helper_id}/areas", {"areas": ["DN-HV-HP-01"]}).status_code == 200
    assert manager.post(f"{base}/viewer/{helper_id}").status_code == 200
    assert {s["instanceId"] for s in helper.get(f"{field.survey}/submissions").get_json()} == {
        i for i, v in field.village.items() if v == "DN-HV-HP-01"}


def test_a_limited_data_collector_submits_anywhere_but_reads_back_nothing_else(app, client, field):
    collector, actor_id = web_user(app, client, "thanhnien@example.vn")
    give(field.admin, field.project, "formfill", actor_id, [HP])
    h = random_household(random.Random(99), "DN-TK-TC-01", members=2)
    resp = collector.client.post(f"{field.survey}/submissions", data=to_xml(h), content_type="application/xml",
                                 headers=collector._headers())
    assert resp.status_code == 200, resp.get_json()
    assert collector.get(f"{field.survey}/submissions").status_code == 403  # a data collector reads nothing
    assert h.instance_id in listed(field.admin, field.survey)


def test_the_command_line_sets_and_clears_a_users_areas(app, field, viewer):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from server.cli import main

    info = ScriptInfo(create_app=lambda: app)

    def hamlet(*args):
        return CliRunner().invoke(main, list(args), obj=info, catch_exceptions=False)

    out = hamlet("user", "scope", "hoaphuoc@example.vn", "--project", str(field.project), "--area", "DN-TK-TG",
                 "--area", "DN-HV-HP-01")
    assert out.exit_code == 0, out.output
    assert "DN-HV-HP-01, DN-TK-TG" in out.output
    assert listed(viewer, field.survey) == {i for i, v in field.village.items()
                                            if v == "DN-HV-HP-01" or v.startswith("DN-TK-TG-")}
    out = hamlet("user", "scope", "hoaphuoc@example.vn", "--project", str(field.project), "--area", "NOWHERE")
    assert out.exit_code != 0 and "NOWHERE" in out.output
    out = hamlet("user", "scope", "hoaphuoc@example.vn", "--project", str(field.project), "--clear")
    assert out.exit_code == 0 and "whole" in out.output
    assert listed(viewer, field.survey) == set(field.village)
    assert hamlet("user", "scope", "hoaphuoc@example.vn", "--project", str(field.project)).exit_code != 0


def test_the_pages_count_only_the_households_a_limited_viewer_may_see(app, client, field):
    """The project page's per-form count and the form page's count, for a Hòa Phước viewer: 3, not 7."""
    import re

    from server.models.accounts import create_user

    with app.extensions["hamlet.sessionmaker"]() as s:
        user = create_user(s, "trang@example.vn", "mật khẩu đủ dài 123")
        s.commit()
        give(field.admin, field.project, "viewer", user.id, [HP])
    page = client.get("/sign-in").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/sign-in", data={"email": "trang@example.vn", "password": "mật khẩu đủ dài 123",
                                         "csrf_token": csrf})
    assert resp.status_code == 302
    project_page = client.get(f"/projects/{field.project}").get_data(as_text=True)
    counts = re.findall(r'<td class="num" data-label="[^"]*">(?:<a [^>]*>)?([\d.,—]+)<', project_page)
    assert counts == ["3"], counts
    form_page = client.get(f"/projects/{field.project}/forms/household_digital_survey").get_data(as_text=True)
    assert re.search(r"<dd><a [^>]*>3</a></dd>", form_page)
