"""bench/ingest.py's households: each upload carries a UUID of its own in every place the household holds
one, and with `--register` a household is what Collect sends for the shipped survey (the register's
calculates and the entity block), which the server adds to the households Entity List."""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

from collect import submit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from ingest import build_templates


def _upload(template, u: uuid.UUID) -> bytes:
    return str(u).encode().join(template.xml_parts)


def test_each_upload_gets_an_instance_id_of_its_own():
    for template in build_templates(5, seed=3, xml_bytes=4096, photo_fraction=0.2):
        u = uuid.uuid4()
        xml = _upload(template, u)
        assert len(template.xml_parts) == 2
        assert f"<instanceID>uuid:{u}</instanceID>".encode() in xml and b"<entity " not in xml


def test_a_registering_household_is_added_to_the_entity_list_under_its_own_id(admin, client, project, key_base):
    for template in build_templates(3, seed=3, xml_bytes=4096, photo_fraction=0.0, register=True):
        u = uuid.uuid4()
        xml = _upload(template, u)
        assert len(template.xml_parts) == 3
        assert f'<entity dataset="households" create="1" id="{u}">'.encode() in xml
        assert f"<instanceID>uuid:{u}</instanceID>".encode() in xml and b"<reg_head_name>" in xml
        assert submit(client, key_base, xml).status_code == 201
        entity = admin.get(f"/v1/projects/{project}/datasets/households/entities/{u}")
        assert entity.status_code == 200, entity.get_json()
        assert entity.get_json()["uuid"] == str(u)
