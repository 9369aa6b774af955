"""Several web nodes on one database and one S3-compatible store (docs/deploying.md#several-web-nodes):
nothing that matters lives in one node's memory or disk. Two real gunicorn nodes, each with its own
empty data directory: a form published through A is served with its media by B; a photo sent to A is
read byte for byte from B; Collect's load spread over both stores every submission once; and a node
killed under load loses nothing it answered 201."""
from __future__ import annotations

import random
import signal
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from collect import COLLECT
from helpers import AREAS, FORM, SURVEY, XLSX, free_port, running, server_env
from server.synthetic import random_household

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _bulk_entities import registration_xml

pytestmark = pytest.mark.s3
PHOTO = bytes(random.Random(5).getrandbits(8) for _ in range(200_000))


def node_env(settings, tmp_path: Path, name: str) -> dict[str, str]:
    s3 = settings.s3
    return server_env(settings, tmp_path / f"instance-{name}", HAMLET_DATA_DIR=str(tmp_path / f"data-{name}"),
                      HAMLET_S3_BUCKET=s3.bucket, HAMLET_S3_ENDPOINT=s3.endpoint, HAMLET_S3_ACCESS_KEY="test",
                      HAMLET_S3_SECRET_KEY="test", HAMLET_S3_REGION="us-east-1")


@pytest.fixture
def nodes(app, settings, tmp_path):
    """Two gunicorn nodes as shipped (server/gunicorn_config.py), one worker each: their base URLs and processes."""
    with ExitStack() as stack:
        found = []
        for name in ("a", "b"):
            port = free_port()
            proc = stack.enter_context(running(
                [sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_config", "--bind", f"127.0.0.1:{port}",
                 "--workers", "1", "--threads", "4", "server:create_app()"],
                node_env(settings, tmp_path, name), port, tmp_path / f"node-{name}.log"))
            found.append((f"http://127.0.0.1:{port}", proc))
        yield found


def household(seed: int, photo: bool = False):
    h = random_household(random.Random(seed), "DN-HV-HP-01", members=2, photo=photo)
    h.village, h.commune = "DN-HV-HP-01", "DN-HV-HP"
    h.instance_id = f"uuid:{uuid.UUID(int=seed, version=4)}"
    return h


def send(base: str, key_base: str, h, photo: bytes | None = None) -> int:
    xml = registration_xml(h, str(uuid.UUID(h.instance_id.removeprefix("uuid:"))))  # the same XML each time
    files = {"xml_submission_file": ("submission.xml", xml, "text/xml")}
    if photo is not None:
        files[h.photo] = (h.photo, photo, "image/jpeg")
    return requests.post(f"{base}{key_base}/submission", files=files, headers=COLLECT, timeout=30).status_code


def test_a_form_and_a_photo_sent_to_one_node_are_served_by_the_other(nodes, admin, client, project, settings):
    (a, _), (b, _) = nodes
    bearer = {"Authorization": f"Bearer {admin.token}"}
    published = requests.post(f"{a}/v1/projects/{project}/forms?publish=true", data=SURVEY.read_bytes(),
                              headers={**bearer, "Content-Type": XLSX}, timeout=60)
    assert published.status_code == 200, published.text
    areas = requests.put(f"{a}/v1/projects/{project}/areas", data=AREAS.encode(),
                         headers={**bearer, "Content-Type": "text/csv"}, timeout=30)
    assert areas.status_code == 200, areas.text  # the area list becomes the form's media, in the bucket
    au = requests.post(f"{a}/v1/projects/{project}/app-users", json={"displayName": "Tổ 1"}, headers=bearer).json()
    requests.post(f"{a}/v1/projects/{project}/forms/{FORM}/assignments/app-user/{au['id']}", headers=bearer)
    key_base = f"/v1/key/{au['token']}/projects/{project}"

    listing = requests.get(f"{b}{key_base}/formList", headers=COLLECT, timeout=10)
    assert listing.status_code == 200 and FORM in listing.text
    manifest = requests.get(f"{b}{key_base}/forms/{FORM}/manifest", headers=COLLECT, timeout=10)
    assert manifest.status_code == 200, manifest.text
    media_url = manifest.text.split("<downloadUrl>")[1].split("</downloadUrl>")[0]
    media = requests.get(media_url, headers=COLLECT, timeout=10)
    assert media.status_code == 200 and len(media.content) > 100

    h = household(1, photo=True)
    assert send(a, key_base, h, PHOTO) == 201
    got = requests.get(f"{b}/v1/projects/{project}/forms/{FORM}/submissions/{h.instance_id}/attachments/{h.photo}",
                       headers=bearer, timeout=10)
    assert got.status_code == 200 and got.content == PHOTO
    assert not list((Path(settings.data_dir).parent).glob("data-*/blobs/*")), "no node wrote blobs to its own disk"


def _publish(a: str, admin, project) -> str:
    bearer = {"Authorization": f"Bearer {admin.token}"}
    assert requests.post(f"{a}/v1/projects/{project}/forms?publish=true", data=SURVEY.read_bytes(),
                         headers={**bearer, "Content-Type": XLSX}, timeout=60).status_code == 200
    au = requests.post(f"{a}/v1/projects/{project}/app-users", json={"displayName": "Tổ 2"}, headers=bearer).json()
    requests.post(f"{a}/v1/projects/{project}/forms/{FORM}/assignments/app-user/{au['id']}", headers=bearer)
    return f"/v1/key/{au['token']}/projects/{project}"


def stored_ids(base: str, admin, project) -> list[str]:
    rows = requests.get(f"{base}/v1/projects/{project}/forms/{FORM}/submissions",
                        headers={"Authorization": f"Bearer {admin.token}"}, timeout=30).json()
    return [r["instanceId"] for r in rows]


def test_load_spread_over_both_nodes_stores_every_submission_once(nodes, admin, project):
    (a, _), (b, _) = nodes
    key_base = _publish(a, admin, project)
    sent: list[tuple[str, int]] = []

    def phone(first: int):
        for seed in range(first, first + 30):
            h = household(seed)
            for base in (a, b):  # the same submission twice, once to each node, as a retrying phone might
                sent.append((h.instance_id, send(base, key_base, h)))

    threads = [threading.Thread(target=phone, args=(1000 + 100 * i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {status for _, status in sent} <= {201}, sorted({s for _, s in sent})
    ids = stored_ids(b, admin, project)
    assert len(ids) == len(set(ids)) == 120 == len({i for i, _ in sent})


def test_a_node_killed_under_load_loses_nothing_it_answered(nodes, admin, project):
    (a, proc_a), (b, _) = nodes
    key_base = _publish(b, admin, project)
    answered: list[str] = []
    stop = threading.Event()

    def phone(first: int):
        seed = first
        while not stop.is_set():
            h = household(seed)
            seed += 1
            try:
                if send(a, key_base, h) == 201:
                    answered.append(h.instance_id)
            except requests.RequestException:
                pass  # the node died mid-request: the phone keeps its copy and sends it later

    threads = [threading.Thread(target=phone, args=(5000 + 1000 * i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    proc_a.send_signal(signal.SIGKILL)
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join()
    assert len(answered) > 10
    assert set(answered) <= set(stored_ids(b, admin, project))
