"""The benchmarks' entity loader (bench/_bulk_entities.py) makes the entities intake makes.

The same 30 synthetic households are registered in one project through OpenRosa (the shipped survey's
submissions with their entity block, as ODK Collect sends them) and loaded into another by the bulk
loader. Each entity's label, properties and version, and the follow-up form's households.csv, must be the
same (entity UUIDs are unique across projects, so the OpenRosa copy gets fresh ones), so figures measured
on a bulk-loaded list are figures about a list as intake makes it."""
from __future__ import annotations

import csv
import io
import json
import sys
import uuid
from pathlib import Path

from sqlalchemy import text

from collect import submit
from helpers import XLSFORMS, XLSX

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _bulk import village_codes  # noqa: E402
from _bulk_entities import load_entities, registration_xml, synthetic_household  # noqa: E402

N, VILLAGES, SEED = 30, 12, 4243


def _entities(app, project_id: int) -> list[tuple]:
    """(label, data, data received, version, current, deleted) of a project's households, oldest first."""
    with app.extensions["hamlet.engine"].connect() as conn:
        rows = conn.execute(text(
            "SELECT v.label, v.data, v.data_received, e.version, v.version, v.current, e.deleted_at, e.conflict "
            "FROM entities e JOIN entity_versions v ON v.entity_id = e.id JOIN datasets d ON d.id = e.dataset_id "
            "WHERE d.project_id = :p AND d.name = 'households' ORDER BY e.id"), {"p": project_id}).all()
    return [tuple(json.loads(v) if isinstance(v, str) and v.startswith("{") else v for v in r) for r in rows]


def _households_csv(admin, project_id: int) -> list[dict]:
    resp = admin.get(f"/v1/projects/{project_id}/forms/household_followup/attachments/households.csv")
    assert resp.status_code == 200
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def _publish_both(admin, project_id: int) -> None:
    for xlsx in ("household_digital_survey.xlsx", "household_followup.xlsx"):
        resp = admin.post(f"/v1/projects/{project_id}/forms?publish=true", data=(XLSFORMS / xlsx).read_bytes(),
                          content_type=XLSX)
        assert resp.status_code == 200, resp.get_json()


def test_bulk_loaded_entities_are_the_entities_intake_makes(app, admin, client, project, database_url):
    villages = village_codes(VILLAGES)
    _publish_both(admin, project)
    user = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    admin.post(f"/v1/projects/{project}/forms/household_digital_survey/assignments/app-user/{user['id']}")
    for i in range(N):
        h, _ = synthetic_household(SEED, i, villages)
        resp = submit(client, f"/v1/key/{user['token']}/projects/{project}", registration_xml(h, str(uuid.uuid4())))
        assert resp.status_code == 201, resp.data

    bulk = admin.post("/v1/projects", json_body={"name": "bulk"}).get_json()["id"]
    _publish_both(admin, bulk)
    info = load_entities(database_url, bulk, N, SEED, villages=VILLAGES, workers=0, chunk=7, progress=None,
                         analyze=False)
    assert info.entities == N

    made, loaded = _entities(app, project), _entities(app, bulk)
    assert len(made) == len(loaded) == N
    assert made == loaded
    assert loaded[0][1]["head_name"] and loaded[0][1]["area_code"] in villages and loaded[0][3] == 1

    by_intake, by_loader = _households_csv(admin, project), _households_csv(admin, bulk)
    assert [r["name"] for r in by_loader] == [synthetic_household(SEED, i, villages)[1] for i in reversed(range(N))]
    assert [{k: v for k, v in r.items() if k != "name"} for r in by_intake] == \
        [{k: v for k, v in r.items() if k != "name"} for r in by_loader]

    # The list goes on growing after a load: ids continue where the loader stopped.
    resp = admin.post(f"/v1/projects/{bulk}/datasets/households/entities",
                      json_body={"label": "Hộ mới", "data": {"head_name": "Lê Văn Ba"}})
    assert resp.status_code == 200, resp.get_json()
    assert len(_households_csv(admin, bulk)) == N + 1
