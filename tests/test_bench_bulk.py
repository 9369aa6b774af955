"""The benchmarks' bulk loader (bench/_bulk.py) stores households exactly as intake does.

The same 50 synthetic households go into one project through the bulk loader and into another through
OpenRosa (multipart POSTs with an app user's key, as ODK Collect sends them). The stored rows — the
submission record, the version with its XML, the household row and the roster rows — and every
indicator report (each target set, each level) must be the same, so figures measured on bulk-loaded
data are figures about data as intake stores it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from collect import submit
from helpers import XLSX

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _bulk import SURVEY, TARGETS, USER_AGENT, bulk_load, registry_csv, synthetic_submission  # noqa: E402

N, VILLAGES, SEED = 50, 12, 4242


def _form_id(app, project_id: int) -> int:
    from server.models.forms import live_form

    with app.extensions["hamlet.sessionmaker"]() as s:
        return live_form(s, project_id, "household_digital_survey").id


def _rows(app, form_id: int) -> dict[str, list]:
    """What a form's submissions look like in storage, without ids and times that differ by nature."""
    from server.models.form_data import data_tables

    engine = app.extensions["hamlet.engine"]
    with app.extensions["hamlet.sessionmaker"]() as s:
        tables = data_tables(s, form_id)
    root_cols = [c.name for c in tables.root.columns if c.name != "submission_id"]
    [members] = tables.repeats.values()
    member_cols = [c.name for c in members.columns if c.name not in ("id", "submission_id")]
    with engine.connect() as conn:
        subs = conn.execute(text(
            "SELECT s.instance_id, s.device_id, s.review_state, s.edits, s.draft, s.updated_at, s.deleted_at, "
            "a.type, d.instance_id, d.deprecated_id, d.instance_name, d.xml, d.xml_sha256, d.encrypted, d.device_id, "
            "d.user_agent, d.current, d.submitter_id = s.submitter_id, d.form_def_id = f.current_def_id "
            "FROM submissions s JOIN submission_defs d ON d.id = s.current_def_id JOIN actors a ON a.id = s.submitter_id "
            "JOIN forms f ON f.id = s.form_id WHERE s.form_id = :f ORDER BY s.instance_id"), {"f": form_id}).all()
        roots = conn.execute(text(
            f"SELECT s.instance_id, {', '.join('r.' + c for c in root_cols)} FROM {tables.root.name} r "
            f"JOIN submissions s ON s.id = r.submission_id ORDER BY s.instance_id")).all()
        people = conn.execute(text(
            f"SELECT s.instance_id, {', '.join('m.' + c for c in member_cols)} FROM {members.name} m "
            f"JOIN submissions s ON s.id = m.submission_id ORDER BY s.instance_id, m.id")).all()
        versions = conn.execute(text("SELECT count(*) FROM submission_defs WHERE form_id = :f"), {"f": form_id}).scalar()
    return {"submissions": [tuple(r) for r in subs], "root": [tuple(r) for r in roots],
            "members": [tuple(r) for r in people], "versions": versions}


def test_bulk_loaded_households_are_stored_and_reported_as_intake_does(app, admin, client, settings, database_url):
    info = bulk_load(database_url, N, VILLAGES, SEED, data_dir=settings.data_dir, workers=0, progress=None,
                     migrate=False, chunk=16)   # several chunks, as in a real load
    assert (info.households, info.rows["submissions"], info.rows[f"d{info.form_id}"]) == (N, N, N)
    assert info.members == info.rows[f"d{info.form_id}_r1"] and 3 * N < info.members < 5 * N

    # The same households through OpenRosa, into a project set up through the REST API.
    project = admin.post("/v1/projects", json_body={"name": "intake"}).get_json()["id"]
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true&ignoreWarnings=true", data=SURVEY.read_bytes(),
                      content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    form = f"/v1/projects/{project}/forms/household_digital_survey"
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=registry_csv(VILLAGES, N, SEED),
                            content_type="text/csv", headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()
    user = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    admin.post(f"{form}/assignments/app-user/{user['id']}")
    for i in range(N):
        xml, device = synthetic_submission(SEED, i, info.villages)
        resp = submit(client, f"/v1/key/{user['token']}/projects/{project}", xml, device=device,
                      headers={"User-Agent": USER_AGENT})
        assert resp.status_code == 201, resp.data

    bulk = _rows(app, info.form_id)
    intake = _rows(app, _form_id(app, project))
    assert bulk["versions"] == intake["versions"] == N
    assert bulk["submissions"] == intake["submissions"]
    assert bulk["root"] == intake["root"]
    assert bulk["members"] == intake["members"]

    # The registry and the reports: every target set, every level.
    bulk_form = f"/v1/projects/{info.project_id}/forms/household_digital_survey"
    assert admin.get(f"/v1/projects/{info.project_id}/areas").get_json() == \
        admin.get(f"/v1/projects/{project}/areas").get_json()
    for f in (bulk_form, form):
        resp = admin.client.put(f"{f}/indicators", data=TARGETS.read_bytes(), content_type=XLSX,
                                headers=admin._headers())
        assert resp.status_code == 200, resp.get_json()
    target_sets = resp.get_json()["targetSets"]
    assert len(target_sets) == 5
    compared = 0
    for target_set in [None, *target_sets]:
        for level in (None, "province", "district", "commune", "village"):
            query = "&".join(f"{k}={v}" for k, v in (("targetSet", target_set), ("level", level)) if v)
            a, b = (admin.get(f"{f}/indicators?{query}") for f in (bulk_form, form))
            assert a.status_code == b.status_code == 200
            assert a.get_json() == b.get_json(), query
            compared += 1
    village = admin.get(f"{bulk_form}/indicators?level=village").get_json()
    assert sum(a["households"] for a in village["areas"]) == N and village["unmatchedAreas"] == []
    assert compared == 30
    cov = [admin.get(f"{f}/coverage?level=village").get_json()["areas"] for f in (bulk_form, form)]
    assert cov[0] == cov[1]


@pytest.mark.parametrize("villages", [1, 7, 500])
def test_the_generated_registry_loads(admin, project, villages):
    data = registry_csv(villages, 1000, SEED)
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=data, content_type="text/csv",
                            headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()
    listed = admin.get(f"/v1/projects/{project}/areas").get_json()
    assert sum(1 for a in listed if a["level"] == "village") == villages
