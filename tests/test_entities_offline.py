"""Offline entities as ODK Central keeps them: a phone's updates to a household while offline form a
branch; an update that arrives before the one it follows waits in the backlog and is applied as soon
as that one arrives, or forced through after the timeout (`hamlet entities process-backlog`).

The cases replay central-backend's test/integration/api/offline-entities.js where they apply, with
Hamlet's registration and revisit forms sent through the OpenRosa endpoints as Collect sends them."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from entity_forms import (
    HH,
    Phone,
    instance_id_of,
    new_id,
    offline_visit_xml,
    published,
    register_xml,
    registration,
    revisit,
)
from server import create_app
from server.cli import main
from server.db import utcnow
from server.models.entity_backlog import HeldEntity


@pytest.fixture
def phone(admin, client, project) -> Phone:
    published(admin, project, registration(), revisit())
    return Phone(admin, client, project)


def _entity(admin, project: int, hid: str, status: int = 200) -> dict:
    resp = admin.get(f"/v1/projects/{project}/datasets/{HH}/entities/{hid}")
    assert resp.status_code == status, resp.get_data(as_text=True)
    return resp.get_json()


def _versions(admin, project: int, hid: str) -> list[dict]:
    return admin.get(f"/v1/projects/{project}/datasets/{HH}/entities/{hid}/versions").get_json()


def _audits(admin, project: int, form: str, xml: bytes) -> list[str]:
    got = admin.get(f"/v1/projects/{project}/forms/{form}/submissions/{instance_id_of(xml)}/audits").get_json()
    return [a["action"] for a in got]


def _held(app) -> int:
    with app.extensions["hamlet.sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(HeldEntity))


def _age_backlog(app, days: float) -> None:
    with app.extensions["hamlet.sessionmaker"]() as s:
        s.execute(update(HeldEntity).values(logged_at=utcnow() - timedelta(days=days)))
        s.commit()


def _process_backlog(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(main, args=["entities", "process-backlog", *args])
    assert result.exit_code == 0, result.output
    return result.output


# --- held and applied in order -------------------------------------------------------------------------

def test_a_later_update_of_a_branch_received_first_waits_then_the_branch_is_applied_in_order(admin, app, project,
                                                                                            phone):
    hid, branch = new_id(), new_id()
    phone.send(register_xml(hid, "Nguyễn Văn An", members="4"))
    third = offline_visit_xml(hid, "3", branch, trunk_version="1", members="7")
    second = offline_visit_xml(hid, "2", branch, trunk_version="1", members="6")
    phone.send(third)
    phone.send(second)
    assert _entity(admin, project, hid)["currentVersion"]["version"] == 1  # neither applied yet
    assert _held(app) == 2
    assert _audits(admin, project, "hh_visit", third) == ["submission.backlog.hold"]  # waiting, not an error
    first = offline_visit_xml(hid, "1", branch, trunk_version="1", members="5")
    phone.send(first)  # the missing first update releases the second, which releases the third
    got = _entity(admin, project, hid)
    assert got["conflict"] is None
    current = got["currentVersion"]
    assert (current["version"], current["baseVersion"], current["data"]["members"]) == (4, 3, "7")
    assert (current["branchId"], current["trunkVersion"], current["branchBaseVersion"]) == (branch, 1, 3)
    assert [(v["version"], v["data"]["members"]) for v in _versions(admin, project, hid)] == [
        (1, "4"), (2, "5"), (3, "6"), (4, "7")]
    assert _held(app) == 0
    assert _audits(admin, project, "hh_visit", third) == [
        "submission.backlog.hold", "submission.backlog.reprocess", "entity.update.version"]
    assert _audits(admin, project, "hh_visit", first) == ["entity.update.version"]


def test_an_update_that_is_not_next_in_its_branch_is_not_applied_after_the_branch_began(admin, app, project, phone):
    """Central: 'should not apply out of order update from a run after starting a run'."""
    hid, branch = new_id(), new_id()
    phone.send(register_xml(hid, "Trần Thị Bình"))
    phone.send(offline_visit_xml(hid, "1", branch, trunk_version="1", members="5"))
    phone.send(offline_visit_xml(hid, "3", branch, trunk_version="1", members="9"))
    current = _entity(admin, project, hid)["currentVersion"]
    assert (current["version"], current["data"]["members"], current["branchBaseVersion"]) == (2, "5", 1)
    assert _held(app) == 1


def test_offline_updates_arriving_before_the_households_registration_wait_for_it(admin, app, project, phone):
    """Central: 'should handle offline create/update that comes in backwards'. The phone registered
    the household and visited it twice, all offline; the server gets the visits first."""
    hid, branch = new_id(), new_id()
    last = offline_visit_xml(hid, "2", branch, members="6", fibre="no")
    middle = offline_visit_xml(hid, "1", branch, members="5")
    phone.send(last)
    phone.send(middle)
    _entity(admin, project, hid, status=404)
    assert _held(app) == 2
    assert _audits(admin, project, "hh_visit", middle) == ["submission.backlog.hold"]  # no 404 error
    phone.send(register_xml(hid, "Lê Văn Cường", members="4"))
    current = _entity(admin, project, hid)["currentVersion"]
    assert (current["version"], current["baseVersion"], current["branchBaseVersion"]) == (3, 2, 2)
    assert current["trunkVersion"] is None and current["branchId"] == branch
    assert current["data"] == {"head_name": "Lê Văn Cường", "village": "Thôn 1", "members": "6", "fibre": "no"}
    assert _held(app) == 0


def test_the_backlog_survives_a_restart(admin, app, client, project, phone, settings):
    hid, branch = new_id(), new_id()
    phone.send(register_xml(hid, "Phạm Văn Dũng"))
    phone.send(offline_visit_xml(hid, "2", branch, trunk_version="1", members="8"))
    restarted = create_app(replace(settings, admin_email=None, admin_password=None))
    try:
        again = Phone(admin, restarted.test_client(), project)
        again.base = phone.base
        again.send(offline_visit_xml(hid, "1", branch, trunk_version="1", members="7"))
    finally:
        restarted.extensions["hamlet.engine"].dispose()
    assert _entity(admin, project, hid)["currentVersion"]["data"]["members"] == "8"
    assert _held(app) == 0


def test_approving_a_registration_releases_the_visit_that_waited_for_it(admin, app, project, phone):
    """Central: 'should wait for approval of create submission in offline branch'."""
    assert admin.patch(f"/v1/projects/{project}/datasets/{HH}", {"approvalRequired": True}).status_code == 200
    hid, branch = new_id(), new_id()
    registered = register_xml(hid, "Võ Thị Em", members="3")
    phone.send(registered)
    phone.send(offline_visit_xml(hid, "1", branch, members="4"))
    _entity(admin, project, hid, status=404)
    resp = admin.patch(f"/v1/projects/{project}/forms/hh_register/submissions/{instance_id_of(registered)}",
                       {"reviewState": "approved"})
    assert resp.status_code == 200
    current = _entity(admin, project, hid)["currentVersion"]
    assert (current["version"], current["data"]["members"], current["branchBaseVersion"]) == (2, "4", 1)
    assert _held(app) == 0


def test_a_trunk_version_past_the_servers_is_an_error_not_held(admin, app, project, phone):
    """Central: 'should not apply later trunkVersion (past existing server version)'."""
    hid, branch = new_id(), new_id()
    phone.send(register_xml(hid, "Đỗ Văn Giang"))
    xml = offline_visit_xml(hid, "1", branch, trunk_version="2")
    phone.send(xml)
    assert _held(app) == 0
    assert _audits(admin, project, "hh_visit", xml) == ["entity.error"]
    assert _entity(admin, project, hid)["currentVersion"]["version"] == 1


def test_editing_a_held_submission_does_not_apply_it_twice(admin, app, project, phone):
    hid, branch = new_id(), new_id()
    phone.send(register_xml(hid, "Hồ Thị Hà"))
    held = offline_visit_xml(hid, "2", branch, trunk_version="1", members="6")
    phone.send(held)
    edit = offline_visit_xml(hid, "2", branch, trunk_version="1", members="6").replace(
        b"</meta>", f"<deprecatedID>{instance_id_of(held)}</deprecatedID></meta>".encode())
    phone.send(edit)
    assert _held(app) == 1
    phone.send(offline_visit_xml(hid, "1", branch, trunk_version="1", members="5"))
    assert [v["version"] for v in _versions(admin, project, hid)] == [1, 2, 3]


# --- forced through after the timeout ------------------------------------------------------------------

def test_an_update_waiting_past_the_timeout_is_forced_on_the_current_version(admin, app, project, phone):
    """Central: 'should process a submission from over 7 days ago' and 'should apply an entity update
    when the previous update is missing' (the first update of the branch never arrives)."""
    hid, branch = new_id(), new_id()
    phone.send(register_xml(hid, "Ngô Văn Hùng", members="4"))
    waiting = offline_visit_xml(hid, "2", branch, trunk_version="1", members="6")
    phone.send(waiting)
    _age_backlog(app, 4)
    assert _process_backlog(app) == "processed 0 held entity updates\n"  # not yet five days
    _age_backlog(app, 6)
    assert _process_backlog(app) == "processed 1 held entity update\n"
    current = _entity(admin, project, hid)["currentVersion"]
    assert (current["version"], current["baseVersion"], current["data"]["members"]) == (2, 1, "6")
    assert (current["branchId"], current["trunkVersion"], current["branchBaseVersion"]) == (branch, 1, 2)
    assert _audits(admin, project, "hh_visit", waiting) == [
        "submission.backlog.hold", "submission.backlog.force", "entity.update.version"]
    assert _held(app) == 0
    phone.send(offline_visit_xml(hid, "3", branch, trunk_version="1", members="7"))  # next of the branch: in order
    got = _entity(admin, project, hid)
    assert (got["currentVersion"]["version"], got["currentVersion"]["baseVersion"]) == (3, 2)
    assert got["conflict"] is None


def test_force_applies_a_branch_whose_first_update_never_came_in_order(admin, app, project, phone):
    """Central: 'should apply two updates when first upate is missing'."""
    hid, branch = new_id(), new_id()
    phone.send(register_xml(hid, "Kiều Văn Long", members="4"))
    phone.send(offline_visit_xml(hid, "3", branch, trunk_version="1", members="7"))
    phone.send(offline_visit_xml(hid, "2", branch, trunk_version="1", members="6"))
    assert _process_backlog(app, "--force") == "processed 2 held entity updates\n"
    current = _entity(admin, project, hid)["currentVersion"]
    assert (current["version"], current["baseVersion"], current["data"]["members"]) == (3, 2, "7")
    assert current["branchBaseVersion"] == 3 and _held(app) == 0


def test_intake_of_an_offline_update_forces_what_has_waited_past_the_timeout(admin, app, project, phone):
    stale, other, branch = new_id(), new_id(), new_id()
    phone.send(register_xml(stale, "An"))
    phone.send(register_xml(other, "Bình"))
    phone.send(offline_visit_xml(stale, "2", branch, trunk_version="1", members="9"))
    phone.send(offline_visit_xml(other, "1", new_id(), trunk_version="1"))
    assert _held(app) == 1  # a registration or an online visit does not look at the backlog's age
    _age_backlog(app, 6)
    phone.send(offline_visit_xml(other, "2", new_id(), trunk_version="2"))
    assert _entity(admin, project, stale)["currentVersion"]["data"]["members"] == "9"
    assert _held(app) == 0


def test_a_forced_update_creates_the_household_whose_registration_never_came(admin, app, project, phone):
    """Central: 'should apply an entity update as a create, and then properly handle the delayed create
    as an update' and 'should show proper conflict info on create applied as update'."""
    hid, branch = new_id(), new_id()
    visit = offline_visit_xml(hid, "1", branch, members="5", fibre="yes")
    phone.send(visit)
    _process_backlog(app, "--force")
    got = _entity(admin, project, hid)
    current = got["currentVersion"]
    assert (current["version"], current["label"], current["data"]) == (1, "auto generated", {"members": "5",
                                                                                               "fibre": "yes"})
    assert (current["branchId"], current["branchBaseVersion"], current["baseVersion"]) == (branch, 1, None)
    assert got["conflict"] is None
    assert _audits(admin, project, "hh_visit", visit) == [
        "submission.backlog.hold", "submission.backlog.force", "entity.create"]
    registered = register_xml(hid, "Bùi Thị Lan", members="4")
    phone.send(registered)  # the late registration is applied as an update, a conflict
    got = _entity(admin, project, hid)
    assert got["conflict"] == "hard"
    current = got["currentVersion"]
    assert (current["version"], current["baseVersion"], current["label"]) == (2, 1, "Hộ Bùi Thị Lan")
    assert current["data"] == {"members": "4", "fibre": "yes", "head_name": "Bùi Thị Lan", "village": "Thôn 1"}
    versions = _versions(admin, project, hid)
    assert [v["conflict"] for v in versions] == [None, "hard"]
    assert versions[1]["conflictingProperties"] == ["members", "label"]
    assert _audits(admin, project, "hh_register", registered) == ["entity.update.version"]


def test_a_late_registration_with_the_same_values_is_a_soft_conflict(admin, app, project, phone):
    """Central: 'should show proper conflict info on create applied as update that is only a soft conflict'."""
    hid = new_id()
    phone.send(offline_visit_xml(hid, "1", new_id(), members="4"))
    _process_backlog(app, "--force")
    phone.send(register_xml(hid, "Lý Văn Minh", members="4").replace("<label>Hộ Lý Văn Minh</label>".encode(),
                                                                     b"<label>auto generated</label>"))
    assert _entity(admin, project, hid)["conflict"] == "soft"
    assert [(v["conflict"], v["conflictingProperties"]) for v in _versions(admin, project, hid)] == [
        (None, None), ("soft", [])]


def test_a_late_registration_without_a_label_is_still_an_error(admin, app, project, phone):
    """Central: 'should verify that the create-as-update submission was parsed as a create'."""
    hid = new_id()
    phone.send(offline_visit_xml(hid, "1", new_id()))
    _process_backlog(app, "--force")
    registered = register_xml(hid, "X").replace("<label>Hộ X</label>".encode(), b"<label></label>")
    phone.send(registered)
    assert _audits(admin, project, "hh_register", registered) == ["entity.error"]
    assert _entity(admin, project, hid)["currentVersion"]["version"] == 1


def test_forcing_an_update_of_a_deleted_household_is_an_error(admin, app, project, phone):
    """Central: 'should not process a submission for an entity that has been soft-deleted'."""
    hid = new_id()
    phone.send(register_xml(hid, "Mai Văn Nam"))
    waiting = offline_visit_xml(hid, "2", new_id(), trunk_version="1")
    phone.send(waiting)
    assert admin.delete(f"/v1/projects/{project}/datasets/{HH}/entities/{hid}").status_code == 200
    assert _process_backlog(app, "--force") == "processed 1 held entity update\n"
    assert _held(app) == 0
    got = admin.get(f"/v1/projects/{project}/forms/hh_visit/submissions/{instance_id_of(waiting)}/audits").get_json()
    assert got[-1]["action"] == "entity.error" and "has been deleted" in got[-1]["details"]["errorMessage"]


def test_forcing_with_approval_required_creates_nothing(admin, app, project, phone):
    """Central: 'should not process update submission in backlog if approvalRequired is true'."""
    assert admin.patch(f"/v1/projects/{project}/datasets/{HH}", {"approvalRequired": True}).status_code == 200
    hid = new_id()
    visit = offline_visit_xml(hid, "1", new_id())
    phone.send(visit)
    _process_backlog(app, "--force")
    _entity(admin, project, hid, status=404)
    assert _audits(admin, project, "hh_visit", visit) == ["submission.backlog.hold", "submission.backlog.force"]


# --- conflicts --------------------------------------------------------------------------------------------

def test_a_branch_interrupted_by_an_update_from_elsewhere_is_a_soft_conflict(admin, app, project, phone):
    """Central: 'should mark an update that is not contiguous with its trunk version as a soft conflict'."""
    hid, branch = new_id(), new_id()
    phone.send(register_xml(hid, "Quách Văn Phúc", members="4"))
    resp = admin.patch(f"/v1/projects/{project}/datasets/{HH}/entities/{hid}?baseVersion=1",
                       {"data": {"village": "Thôn 2"}})
    assert resp.status_code == 200
    phone.send(offline_visit_xml(hid, "1", branch, trunk_version="1", members="4"))
    phone.send(offline_visit_xml(hid, "2", branch, trunk_version="1", members="5"))
    assert [v["conflict"] for v in _versions(admin, project, hid)] == [None, None, "soft", "soft"]
    assert _entity(admin, project, hid)["conflict"] == "soft"


def test_two_phones_updating_the_same_version_offline_conflict(admin, app, project, phone):
    """Both updates are kept, the second flagged: a hard conflict, as both change members."""
    hid = new_id()
    phone.send(register_xml(hid, "Tạ Thị Quyên", members="4"))
    phone.send(offline_visit_xml(hid, "1", new_id(), trunk_version="1", members="5"))
    phone.send(offline_visit_xml(hid, "1", new_id(), trunk_version="1", members="6"))
    versions = _versions(admin, project, hid)
    assert [(v["version"], v["baseVersion"], v["conflict"]) for v in versions] == [
        (1, None, None), (2, 1, None), (3, 1, "hard")]
    assert versions[2]["conflictingProperties"] == ["members"]
    assert _entity(admin, project, hid)["conflict"] == "hard"


def test_a_branch_made_discontiguous_by_forcing_shows_its_later_update_as_a_conflict(admin, app, project, phone):
    """Central: 'should mark an update that is not contiguous (due to force processing) as a soft conflict'."""
    hid, branch = new_id(), new_id()
    phone.send(register_xml(hid, "Cao Văn Sơn", members="4"))
    phone.send(offline_visit_xml(hid, "2", branch, trunk_version="1", members="6"))  # second update first
    _process_backlog(app, "--force")
    phone.send(offline_visit_xml(hid, "1", branch, trunk_version="1", members="5"))  # the first, late: hard
    assert _entity(admin, project, hid)["conflict"] == "hard"
    phone.send(offline_visit_xml(hid, "4", branch, trunk_version="1", members="8"))  # the third never comes
    _process_backlog(app, "--force")
    assert [v["conflict"] for v in _versions(admin, project, hid)] == [None, None, "hard", "soft"]
    assert _entity(admin, project, hid)["conflict"] == "hard"  # carried forward
