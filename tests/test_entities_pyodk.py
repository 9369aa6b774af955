"""The real pyodk client (1.3.0) on Entity Lists and entities, as a data manager scripts them."""
import pytest

pyodk_client = pytest.importorskip("pyodk.client")

from entity_forms import registration, upload  # noqa: E402


def test_entity_lists_entities_and_properties_through_pyodk(odk, admin, project):
    assert upload(admin, project, registration()).status_code == 200
    lists = odk.entity_lists.list()
    assert [(el.name, el.projectId, el.approvalRequired) for el in lists] == [("households", project, False)]

    assert odk.entity_lists.add_property(name="phone", entity_list_name="households") is True
    # pyodk 1.3.0's EntityList types a property's forms as strings; Central (and Hamlet) send objects
    # {xmlFormId, name}, so a list with form-written properties is read raw here.
    got = odk.get(f"projects/{project}/datasets/households").json()
    assert [(p["name"], [f["xmlFormId"] for f in p["forms"]]) for p in got["properties"]] == [
        ("head_name", ["hh_register"]), ("village", ["hh_register"]), ("members", ["hh_register"]), ("phone", [])]

    made = odk.entities.create(label="Hộ Nguyễn Văn An", data={"head_name": "Nguyễn Văn An", "phone": "0905"},
                               entity_list_name="households")
    assert made.currentVersion.version == 1 and made.currentVersion.data["phone"] == "0905"
    odk.entities.create_many(data=[{"label": "Hộ Lê Thị Hoa", "village": "Thôn 2"},
                                   {"label": "Hộ Trần Bình", "village": "Thôn 3"}],
                             entity_list_name="households")
    listed = odk.entities.list(entity_list_name="households")
    assert sorted(e.currentVersion.label for e in listed) == ["Hộ Lê Thị Hoa", "Hộ Nguyễn Văn An", "Hộ Trần Bình"]

    updated = odk.entities.update(made.uuid, entity_list_name="households", data={"phone": "0906"}, base_version=1)
    assert (updated.currentVersion.version, updated.currentVersion.data["phone"]) == (2, "0906")
    from pyodk.errors import PyODKError

    with pytest.raises(PyODKError) as stale:
        odk.entities.update(made.uuid, entity_list_name="households", data={"phone": "0907"}, base_version=1)
    assert stale.value.is_central_error(409.15)
    forced = odk.entities.update(made.uuid, entity_list_name="households", label="Hộ An", force=True)
    assert (forced.currentVersion.version, forced.currentVersion.label) == (3, "Hộ An")

    assert odk.entities.delete(made.uuid, entity_list_name="households") is True
    assert len(odk.entities.list(entity_list_name="households")) == 2


def test_pyodk_creates_an_entity_list_that_requires_approval(odk, project):
    made = odk.entity_lists.create(entity_list_name="visits", approval_required=True)
    assert (made.name, made.approvalRequired) == ("visits", True)
    from pyodk.errors import PyODKError

    with pytest.raises(PyODKError) as twice:
        odk.entity_lists.create(entity_list_name="visits")
    assert twice.value.is_central_error(409.3)
