"""media/ in the CSV zip never holds two entries of one name.

ODK Central (lib/data/attachments.js) writes every attachment as media/<sanitized name>, so when two
submissions each send `1.jpg` — or send names that sanitize alike — its archive holds two entries of
one name, and whichever an unzip tool keeps, one photo is lost. Hamlet keeps the plain name for the
first file written (the newest submission's), skips the same bytes written twice, and puts a different
file of a taken name under its submission's instance ID: media/<instance ID>/1.jpg."""
from __future__ import annotations

import io
import zipfile

from server.exports.csv_files import MediaNames

OLD = "uuid:0b3c8f1e-2d4a-4e6b-8c1d-00000000000a"
NEW = "uuid:0b3c8f1e-2d4a-4e6b-8c1d-00000000000b"


def photo(instance_id: str, file1: str, file2: str | None = None) -> str:
    files = f"<file1>{file1}</file1>" + (f"<file2>{file2}</file2>" if file2 else "")
    return f'<data id="binaryType"><meta><instanceID>{instance_id}</instanceID></meta>{files}</data>'


def archive(central, api) -> dict[str, bytes]:
    resp = central.get("binaryType", "submissions.csv.zip", api)
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        names = z.namelist()
        assert len(names) == len(set(names)), names
        return {name: z.read(name) for name in names}


def test_two_submissions_files_of_one_name_are_both_kept(central, alice):
    central.publish("binaryType")
    central.openrosa(photo(OLD, "1.jpg"), {"1.jpg": b"old house"}, api=alice)
    central.openrosa(photo(NEW, "1.jpg"), {"1.jpg": b"new house"}, api=alice)
    files = archive(central, alice)
    assert list(files) == ["binaryType.csv", "media/1.jpg", "media/uuid0b3c8f1e-2d4a-4e6b-8c1d-00000000000a/1.jpg"]
    assert files["media/1.jpg"] == b"new house"   # the newest submission's, as its row comes first
    assert files["media/uuid0b3c8f1e-2d4a-4e6b-8c1d-00000000000a/1.jpg"] == b"old house"


def test_the_same_file_sent_by_two_submissions_is_written_once(central, alice):
    central.publish("binaryType")
    central.openrosa(photo(OLD, "1.jpg"), {"1.jpg": b"same picture"}, api=alice)
    central.openrosa(photo(NEW, "1.jpg"), {"1.jpg": b"same picture"}, api=alice)
    files = archive(central, alice)
    assert list(files) == ["binaryType.csv", "media/1.jpg"]
    assert files["media/1.jpg"] == b"same picture"


def test_names_that_sanitize_alike_or_differ_only_in_case_do_not_collide(central, alice):
    # 'a:b.jpg' loses its ':' to sanitizing and becomes 'ab.jpg'; 'AB.JPG' and 'ab.jpg' are one file
    # on Windows and macOS.
    central.publish("binaryType")
    central.openrosa(photo(OLD, "AB.JPG"), {"AB.JPG": b"upper"}, api=alice)
    central.openrosa(photo(NEW, "a:b.jpg", "ab.jpg"), {"a:b.jpg": b"colon", "ab.jpg": b"plain"}, api=alice)
    media = {k: v for k, v in archive(central, alice).items() if k.startswith("media/")}
    folder = "media/uuid0b3c8f1e-2d4a-4e6b-8c1d-00000000000"
    assert media.pop(f"{folder}a/AB.JPG") == b"upper"
    # Within one submission its files go by name, in the database's collation: either may come first.
    assert sorted(media) == ["media/ab.jpg", f"{folder}b/ab.jpg"]
    assert sorted(media.values()) == [b"colon", b"plain"]


def test_a_taken_name_in_a_submissions_folder_is_numbered():
    names = MediaNames()
    assert names.claim("1.jpg", "uuid:x", "a" * 64) == "media/1.jpg"
    assert names.claim("1.jpg", "uuid:x", "a" * 64) is None
    assert names.claim("1.JPG", "uuid:y", "b" * 64) == "media/uuidy/1.JPG"
    assert names.claim("1:.jpg", "uuid:y", "c" * 64) == "media/uuidy/1 (2).jpg"
    assert names.claim("1.jpg", "uuid:y", "d" * 64) == "media/uuidy/1 (3).jpg"
    assert names.claim("1.jpg", "uuid:y", "c" * 64) is None
    assert names.claim("README", "uuid:z", "e" * 64) == "media/README"
    assert names.claim("readme", "uuid:z", "f" * 64) == "media/uuidz/readme"
    assert names.claim("readme", "uuid:z", "0" * 64) == "media/uuidz/readme (2)"
    assert names.claim("...", ":", "1" * 64) == "media/attachment"
    assert names.claim("...", ":", "2" * 64) == "media/submission/attachment"
