"""Backups: `hamlet backup FILE` seals one consistent copy of the database and every blob; `hamlet
restore FILE` puts it back into an empty database and data directory, byte for byte, and refuses a wrong
passphrase, a damaged archive and a target that already holds data (docs/operations.md)."""
from __future__ import annotations

import io
import random
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, make_url, text

from collect import COLLECT_GET, entries, submit
from helpers import FORM
from server import create_app
from server.backups.archive import BackupError, TargetNotEmpty, read_backup, write_backup
from server.backups.sealed import HEADER_SIZE, DamagedArchive, SealedReader, WrongPassphrase
from server.cli import main as hamlet
from server.models.blobs import LocalBlobStore
from server.synthetic import random_household, to_xml

# The survey's submission as Collect sends it, with its entity block, is the benchmarks'.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _bulk_entities import registration_xml

PASSPHRASE = b"m\xe1\xba\xadt kh\xe1\xba\xa9u d\xc3\xa0i cho sao l\xc6\xb0u"  # "mật khẩu dài cho sao lưu"
PHOTO = bytes(range(256)) * 4000  # 1 MB: the archive spans chunks


@pytest.fixture(autouse=True)
def cheap_keys(monkeypatch):
    """scrypt at the lowest cost a restore accepts (2^14), so the suite does not spend seconds per key; the
    archive's header records the cost, and the code path is the one every cost takes."""
    from server.backups import sealed

    monkeypatch.setattr(sealed, "SCRYPT_LOG2_N", 14)


@pytest.fixture
def with_photo(client, key_base, households):
    h = random_household(random.Random(9), "DN-HV-HP-02", members=2, photo=True)
    h.village, h.commune = "DN-HV-HP-02", "DN-HV-HP"
    resp = submit(client, key_base, registration_xml(h, str(uuid.uuid4())), files={h.photo: PHOTO})
    assert resp.status_code == 201, resp.data
    return h


@pytest.fixture
def target(database_url, tmp_path):
    """An empty database and data directory of the same kind as the test database, dropped afterwards."""
    if database_url.startswith("sqlite"):
        (tmp_path / "restored").mkdir()
        yield f"sqlite:///{tmp_path / 'restored' / 'hamlet.db'}", LocalBlobStore(tmp_path / "restored-data")
        return
    name = f"{make_url(database_url).database}_restored"
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False), \
        LocalBlobStore(tmp_path / "restored-data")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def every_row(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in key order: what "the same database" means here."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = {}
            for table in sorted(inspect(conn).get_table_names()):
                if table == "alembic_version":
                    continue
                rows = [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
                found[table] = sorted(rows, key=repr)
            return found
    finally:
        engine.dispose()


def back_up(app) -> bytes:
    settings = app.config["HAMLET"]
    out = io.BytesIO()
    write_backup(settings.database_url, LocalBlobStore(settings.data_dir), out, PASSPHRASE)
    return out.getvalue()


def test_a_restored_server_holds_the_same_rows_and_blobs_and_serves_collect(app, admin, key_base, with_photo,
                                                                            target, settings, client):
    admin.post(f"/v1/projects/1/forms/{FORM}/submissions/{listed_id(admin)}/comments", json_body={"body": "Gọi lại"})
    before = every_row(settings.database_url)
    assert before["submissions"] and before["entities"] and before["comments"] and before["actors"]
    archive = back_up(app)
    assert PHOTO[:4096] not in archive, "the archive is encrypted"

    url, store = target
    summary = read_backup(url, store, io.BytesIO(archive), PASSPHRASE)

    assert every_row(url) == before
    source = LocalBlobStore(settings.data_dir)
    with app.extensions["hamlet.sessionmaker"]() as s:
        hashes = [sha for (sha,) in s.execute(text("SELECT sha256 FROM blobs"))]
    assert summary.blobs == len(hashes) > 2
    for sha in hashes:
        with source.open(sha) as a, store.open(sha) as b:
            assert a.read() == b.read()

    restored = create_app(replace(settings, database_url=url, data_dir=store.root.parent,
                                  admin_email=None, admin_password=None))
    collect = restored.test_client()
    listing = collect.get(f"{key_base}/formList", headers=COLLECT_GET)
    assert [e["formID"] for e in entries(listing)] == [FORM, "household_followup"][:len(entries(listing))]
    h = random_household(random.Random(11), "DN-HV-HN-01", members=1)
    h.village, h.commune = "DN-HV-HN-01", "DN-HV-HN"
    assert submit(collect, key_base, to_xml(h)).status_code == 201
    # web sessions live in the database: a supervisor signed in before the backup still is
    assert collect.get("/v1/users/current", headers={"Authorization": f"Bearer {admin.token}"}).status_code == 200
    photo = collect.get(f"/v1/projects/1/forms/{FORM}/submissions/{with_photo.instance_id}/attachments/"
                        f"{with_photo.photo}", headers={"Authorization": f"Bearer {admin.token}"})
    assert photo.status_code == 200 and photo.data == PHOTO
    restored.extensions["hamlet.engine"].dispose()


def listed_id(admin) -> str:
    return admin.get(f"/v1/projects/1/forms/{FORM}/submissions").get_json()[0]["instanceId"]


def test_a_wrong_passphrase_is_refused_before_anything_is_written(app, households, target):
    archive = back_up(app)
    url, store = target
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        read_backup(url, store, io.BytesIO(archive), b"not the passphrase")
    assert not store.root.exists()
    assert every_row(url) == {}


@pytest.mark.parametrize("damage", ["flipped byte", "cut short", "chunk dropped", "not a backup"])
def test_a_damaged_archive_is_refused_and_the_target_stays_empty(app, with_photo, target, damage):
    archive = bytearray(back_up(app))
    if damage == "flipped byte":
        archive[len(archive) // 2] ^= 0x01
    elif damage == "cut short":
        del archive[-100:]
    elif damage == "chunk dropped":  # the second chunk of 1 MB goes: the photo spans it
        start = HEADER_SIZE + 4 + int.from_bytes(archive[HEADER_SIZE:HEADER_SIZE + 4], "big")
        length = int.from_bytes(archive[start:start + 4], "big")
        del archive[start:start + 4 + length]
    else:
        archive[:14] = b"PK\x03\x04 a zip file"[:14]
    url, store = target
    with pytest.raises(DamagedArchive):
        read_backup(url, store, io.BytesIO(bytes(archive)), PASSPHRASE)
    assert not any(p.is_file() for p in store.root.rglob("*")) if store.root.exists() else True
    assert every_row(url) == {}


def test_a_target_that_holds_data_is_refused(app, households, settings, tmp_path, target):
    archive = back_up(app)
    empty_database, _ = target
    with pytest.raises(TargetNotEmpty, match="not empty"):
        read_backup(settings.database_url, LocalBlobStore(tmp_path / "empty"), io.BytesIO(archive), PASSPHRASE)
    with pytest.raises(TargetNotEmpty, match="already holds files"):
        read_backup(empty_database, LocalBlobStore(settings.data_dir), io.BytesIO(archive), PASSPHRASE)
    assert every_row(empty_database) == {}


def test_a_backup_of_another_database_kind_is_refused(app, households, tmp_path, database_url):
    archive = back_up(app)
    if database_url.startswith("sqlite"):
        other, kind = "postgresql+psycopg://nobody@127.0.0.1:9/never_reached", "sqlite"
    else:
        other, kind = f"sqlite:///{tmp_path / 'new.db'}", "postgresql"
    with pytest.raises(BackupError, match=f"backup is of a {kind} database"):
        read_backup(other, LocalBlobStore(tmp_path / "d"), io.BytesIO(archive), PASSPHRASE)
    assert not (tmp_path / "d").exists()


def test_the_commands_back_up_and_restore_with_a_passphrase_file(app, households, settings, target, tmp_path):
    secret = tmp_path / "passphrase"
    secret.write_bytes(PASSPHRASE + b"\n")
    runner = CliRunner()
    env = {"HAMLET_DATABASE_URL": settings.database_url, "HAMLET_DATA_DIR": str(settings.data_dir),
           "HAMLET_SECRET_KEY": "test-secret"}
    archive = tmp_path / "nightly.hamlet-backup"
    made = runner.invoke(hamlet, ["backup", str(archive), "--passphrase-file", str(secret)], env=env)
    assert made.exit_code == 0, made.output
    assert "blobs" in made.output and archive.exists()
    again = runner.invoke(hamlet, ["backup", str(archive), "--passphrase-file", str(secret)], env=env)
    assert again.exit_code != 0 and "already exists" in again.output

    url, store = target
    env = {**env, "HAMLET_DATABASE_URL": url, "HAMLET_DATA_DIR": str(store.root.parent)}
    wrong = runner.invoke(hamlet, ["restore", str(archive)], env={**env, "HAMLET_BACKUP_PASSPHRASE": "sai mật khẩu"})
    assert wrong.exit_code != 0 and "wrong passphrase" in wrong.output and "nothing was restored" in wrong.output
    done = runner.invoke(hamlet, ["restore", str(archive), "--passphrase-file", str(secret)], env=env)
    assert done.exit_code == 0, done.output
    assert "up to date" in done.output
    assert every_row(url) == every_row(settings.database_url)


def test_a_header_asking_scrypt_for_more_than_a_gibibyte_is_refused_before_any_key_is_made(app, households):
    archive = bytearray(back_up(app))
    archive[14 + 1 + 16] = 24  # log2 n: 2^24 × 8 × 128 bytes = 16 GiB
    with pytest.raises(DamagedArchive, match="out of range"):
        SealedReader(io.BytesIO(bytes(archive)), PASSPHRASE)


def test_the_database_password_never_reaches_a_command_line():
    from server.backups.archive import _pg_tool

    url, env = _pg_tool("postgresql+psycopg://hamlet:S3cret@db.internal:5432/hamlet")
    assert "S3cret" not in url and url == "postgresql://hamlet@db.internal:5432/hamlet"
    assert env["PGPASSWORD"] == "S3cret"


def test_a_short_passphrase_is_refused_for_a_new_backup(app, tmp_path, settings):
    made = CliRunner().invoke(hamlet, ["backup", str(tmp_path / "b")],
                              env={"HAMLET_DATABASE_URL": settings.database_url, "HAMLET_BACKUP_PASSPHRASE": "short"})
    assert made.exit_code != 0 and "at least 12 characters" in made.output
    assert not (tmp_path / "b").exists()
