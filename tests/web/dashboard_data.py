"""A project for the dashboard tests: the shipped survey, area registry and indicators workbook, and
households sent as ODK Collect sends them by three teams over a week.

Most villages get a few households; Thôn Quá Giáng 1 (DN-HV-HP-01, 820 expected) gets 40, so its
follow-up lists run over more than one page; two of its households share a respondent's name and
phone (a likely duplicate). Hòa Phước (3,800 expected) stays far below the low-coverage threshold.
Submission times are spread over seven days (Vietnam time) so the daily chart has columns."""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from collect import submit
from helpers import XLSFORMS, XLSX
from server.synthetic import random_household, to_xml

FORM = "household_digital_survey"
TEAMS = ("Tổ 1 – Quá Giáng", "Tổ 2 – Thạc Gián", "Tổ 3 – Ea Kênh")
BUSY_VILLAGE = "DN-HV-HP-01"
# 23 Nov 2026, 09:00 in Vietnam: a fixed week, whatever the day the tests run.
FIRST_DAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
# Each load's times differ by some microseconds: the indicators' in-process caches are keyed by the data's
# fingerprint (ids, times), and every test starts from an emptied database with the same ids.
_LOADS = itertools.count(1)


@dataclass
class Loaded:
    project: int
    form: str                 # /v1/projects/{p}/forms/{f}
    page: str                 # /projects/{p}/forms/{f}/dashboard
    households: int
    villages: list[str]
    duplicate_names: tuple[str, str]


def load(admin, client, app, project: int, seed: int = 2026) -> Loaded:
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true",
                      data=(XLSFORMS / "household_digital_survey.xlsx").read_bytes(), content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    form = f"/v1/projects/{project}/forms/{FORM}"
    registry = (XLSFORMS / "areas.csv").read_bytes()
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=registry, content_type="text/csv",
                            headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()
    resp = admin.client.put(f"{form}/indicators", data=(XLSFORMS / "household_digital_targets.xlsx").read_bytes(),
                            content_type=XLSX, headers=admin._headers())
    assert resp.status_code == 200, resp.get_json()
    keys = []
    for team in TEAMS:
        user = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": team}).get_json()
        admin.post(f"{form}/assignments/app-user/{user['id']}")
        keys.append(f"/v1/key/{user['token']}/projects/{project}")
    villages = [line.split(",")[0] for line in registry.decode("utf-8-sig").splitlines()[1:] if ",village," in line]
    rng = random.Random(seed)
    sent = []
    for i, village in enumerate([BUSY_VILLAGE] * 40 + villages * 2):
        h = random_household(rng, village)
        if i in (3, 4):   # the same household entered twice by two teams: same respondent, same phone
            h = replace(h, respondent="Nguyễn Văn Trùng", phone="0905123456")
        sent.append(h)
        resp = submit(client, keys[i % len(keys)], to_xml(h))
        assert resp.status_code == 201, resp.data
    _spread_over_a_week(app)
    return Loaded(project, form, f"/projects/{project}/forms/{FORM}/dashboard", len(sent), villages,
                  ("Nguyễn Văn Trùng", "0905123456"))


def _spread_over_a_week(app) -> None:
    """Received on seven consecutive days (one household in seven each day, by id)."""
    from sqlalchemy import select, update

    from server.models.submissions import Submission

    load = next(_LOADS)
    with app.extensions["hamlet.sessionmaker"]() as s:
        for sid in s.scalars(select(Submission.id).order_by(Submission.id)):
            s.execute(update(Submission).where(Submission.id == sid)
                      .values(created_at=FIRST_DAY + timedelta(days=sid % 7, minutes=sid, microseconds=load)))
        s.commit()
