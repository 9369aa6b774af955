"""Blobs in an S3-compatible store (docs/deploying.md#files-in-an-s3-compatible-store): the bucket holds
what the data directory held, Collect and the API read it back byte for byte, a download streams, a store
that does not answer refuses a submission with a message Collect shows and keeps nothing, and `hamlet
blobs migrate` moves a local store into a bucket, verifying every hash.

The bucket is moto's standalone S3 server on loopback: an emulator of the S3 protocol, reached over
HTTP by the same boto3 calls a real bucket gets."""
from __future__ import annotations

import io
import random
import sys
import tracemalloc
import uuid
import zipfile
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from collect import COLLECT_GET, submit
from helpers import FORM
from server import create_app
from server.cli import main as hamlet
from server.config import S3Settings
from server.models.s3_blobs import S3BlobStore
from server.synthetic import random_household

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _bulk_entities import registration_xml

PHOTO = bytes(random.Random(3).getrandbits(8) for _ in range(300_000))


def bucket_keys(s3: S3Settings) -> set[str]:
    client = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
    return {o["Key"] for o in client.list_objects_v2(Bucket=s3.bucket).get("Contents", [])}


def household_with_photo(client, key_base, seed=9):
    h = random_household(random.Random(seed), "DN-HV-HP-02", members=2, photo=True)
    h.village, h.commune = "DN-HV-HP-02", "DN-HV-HP"
    resp = submit(client, key_base, registration_xml(h, str(uuid.uuid4())), files={h.photo: PHOTO})
    assert resp.status_code == 201, resp.data
    return h


@pytest.mark.s3
def test_collect_and_the_api_read_back_what_the_bucket_holds(app, admin, client, key_base, households, settings):
    h = household_with_photo(client, key_base)
    keys = bucket_keys(settings.s3)
    assert any(k.startswith("blobs/") for k in keys) and len(keys) >= 3  # the XLSForm, the area list, the photo
    assert not (settings.data_dir / "blobs").exists(), "nothing is written to the local directory"

    path = f"/v1/projects/1/forms/{FORM}/submissions/{h.instance_id}/attachments/{h.photo}"
    got = admin.get(path)
    assert got.status_code == 200 and got.data == PHOTO and got.headers["Content-Length"] == str(len(PHOTO))
    assert admin.get(path, headers={"If-None-Match": got.headers["ETag"]}).status_code == 304

    # the form's media (the area list) as Collect downloads it through the manifest
    manifest = client.get(f"{key_base}/forms/{FORM}/manifest", headers=COLLECT_GET).get_data(as_text=True)
    url = manifest.split("<downloadUrl>")[1].split("</downloadUrl>")[0].replace("http://localhost", "")
    media = client.get(url, headers=COLLECT_GET)
    assert media.status_code == 200 and int(media.headers["Content-Length"]) == len(media.data) > 100
    assert "DN-HV-HP-02" in media.get_data(as_text=True)

    zipped = admin.get(f"/v1/projects/1/forms/{FORM}/submissions.csv.zip")
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as z:
        assert z.read(f"media/{h.photo}") == PHOTO


@pytest.mark.s3
def test_a_large_attachment_streams_from_the_bucket(app, admin, settings):
    store = app.extensions["hamlet.blobs"]
    big = bytes(range(256)) * (30 * 4096)  # 30 MB
    sha, _md5, size = store.put_bytes(big)
    with app.test_request_context("/"):
        from server.api.files import send_blob

        response = send_blob(store, sha, size, "image/jpeg", "anh.jpg", "etag")
        tracemalloc.start()
        received = sum(len(chunk) for chunk in response.response)
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert received == size and response.content_length == size
    assert peak < 4 * 1024 * 1024, f"a 30 MB download held {peak / 1e6:.1f} MB at once"


@pytest.mark.s3
def test_an_upload_cut_short_leaves_nothing_in_the_bucket(app, settings):
    class Breaks(io.RawIOBase):
        sent = 0

        def readable(self):
            return True

        def readinto(self, b):
            if self.sent > 3_000_000:
                raise ConnectionResetError("the phone lost its connection")
            b[:len(b)] = b"x" * len(b)
            self.sent += len(b)
            return len(b)

    store = S3BlobStore(settings.s3)
    with pytest.raises(ConnectionResetError):
        store.put_stream(io.BufferedReader(Breaks()))
    with pytest.raises(ValueError, match="larger than"):
        store.put_stream(io.BytesIO(b"y" * 2_000_000), limit=1_000_000)
    assert bucket_keys(settings.s3) == set()


@pytest.mark.s3
def test_a_store_that_does_not_answer_refuses_the_submission_and_keeps_nothing(app, admin, key_base, households,
                                                                               settings, database_url):
    before = len(admin.get(f"/v1/projects/1/forms/{FORM}/submissions").get_json())
    dead = replace(settings, s3=replace(settings.s3, endpoint="http://127.0.0.1:9"), admin_email=None,
                   admin_password=None)
    cut_off = create_app(dead)
    h = random_household(random.Random(21), "DN-HV-HP-02", members=1, photo=True)
    h.village, h.commune = "DN-HV-HP-02", "DN-HV-HP"
    resp = submit(cut_off.test_client(), key_base, registration_xml(h, str(uuid.uuid4())), files={h.photo: PHOTO})
    assert resp.status_code == 503
    assert b"cannot reach its file storage" in resp.data and b"<OpenRosaResponse" in resp.data
    assert len(admin.get(f"/v1/projects/1/forms/{FORM}/submissions").get_json()) == before
    cut_off.extensions["hamlet.engine"].dispose()


def test_migrate_moves_a_local_store_into_a_bucket_and_verifies_every_blob(app, admin, client, key_base, households,
                                                                          settings, s3_bucket):
    h = household_with_photo(client, key_base)
    local = sorted(p.name for p in (settings.data_dir / "blobs").rglob("*") if p.is_file())
    env = {"HAMLET_DATABASE_URL": settings.database_url, "HAMLET_DATA_DIR": str(settings.data_dir),
           "HAMLET_SECRET_KEY": "test-secret", "HAMLET_S3_BUCKET": s3_bucket.bucket,
           "HAMLET_S3_ENDPOINT": s3_bucket.endpoint, "HAMLET_S3_ACCESS_KEY": "test", "HAMLET_S3_SECRET_KEY": "test",
           "HAMLET_S3_REGION": "us-east-1"}
    done = CliRunner().invoke(hamlet, ["blobs", "migrate"], env=env)
    assert done.exit_code == 0, done.output
    assert f"{len(local)} blobs: {len(local)} copied, 0 already" in done.output
    assert f"{len(local)} verified" in done.output
    assert sorted(k.rsplit("/", 1)[1] for k in bucket_keys(s3_bucket)) == local
    again = CliRunner().invoke(hamlet, ["blobs", "migrate"], env=env)
    assert f"0 copied, {len(local)} already" in again.output

    on_bucket = create_app(replace(settings, s3=s3_bucket, data_dir=settings.data_dir / "gone", admin_email=None,
                                   admin_password=None))
    got = on_bucket.test_client().get(f"/v1/projects/1/forms/{FORM}/submissions/{h.instance_id}/attachments/{h.photo}",
                                      headers={"Authorization": f"Bearer {admin.token}"})
    assert got.status_code == 200 and got.data == PHOTO
    on_bucket.extensions["hamlet.engine"].dispose()


def test_migrate_names_a_damaged_local_file_and_fails(app, client, key_base, households, settings, s3_bucket):
    household_with_photo(client, key_base)
    photo_file = next(p for p in (settings.data_dir / "blobs").rglob("*") if p.is_file() and p.stat().st_size == len(PHOTO))
    photo_file.write_bytes(b"corrupted" + PHOTO[9:])
    env = {"HAMLET_DATABASE_URL": settings.database_url, "HAMLET_DATA_DIR": str(settings.data_dir),
           "HAMLET_SECRET_KEY": "test-secret", "HAMLET_S3_BUCKET": s3_bucket.bucket,
           "HAMLET_S3_ENDPOINT": s3_bucket.endpoint, "HAMLET_S3_ACCESS_KEY": "test", "HAMLET_S3_SECRET_KEY": "test"}
    done = CliRunner().invoke(hamlet, ["blobs", "migrate"], env=env)
    assert done.exit_code != 0
    assert f"{photo_file.name}: the local file is damaged" in done.output
    assert photo_file.name not in {k.rsplit("/", 1)[1] for k in bucket_keys(s3_bucket)}
