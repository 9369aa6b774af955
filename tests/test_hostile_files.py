"""Uploaded files that are built to hurt: form IDs that no route can reach, and workbooks that are
zip bombs. Each is refused with a 400 or 413 that names the problem, and nothing is stored."""
from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zipfile

import pytest
from openpyxl import Workbook

from helpers import AREAS, XLSX, post_xml, xform
from server.xforms.safezip import LIMITS, WorkbookTooLarge, check_workbook


def xlsform(form_id: str = "ho_gia_dinh") -> bytes:
    """A one-question XLSForm workbook with `form_id` in its settings sheet."""
    wb = Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["text", "ten", "Tên chủ hộ"])
    settings = wb.create_sheet("settings")
    settings.append(["form_id", "form_title"])
    settings.append([form_id, "Hộ gia đình"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def form_count(admin, project) -> int:
    return len(admin.get(f"/v1/projects/{project}/forms").get_json())


# --- form IDs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("form_id, named", [
    ("ho&#13;&#10;X-Injected: 1", "control character"),
    ("ho&#9;tab", "control character"),
    ("a/b", "slash"),
    ("../../etc", "slash"),
    ("..", "'..'"),
    ("ho..x", "'..'"),
    ("x" * 5000, "5,000 characters"),
    ("x" * 65, "at most 64"),
])
def test_an_xform_whose_id_no_route_can_carry_is_refused(admin, project, form_id, named):
    resp = post_xml(admin, project, xform(form_id))
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert named in resp.get_json()["message"]
    assert form_count(admin, project) == 0


def test_an_xlsform_with_a_slash_in_its_form_id_is_refused(admin, project):
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=xlsform("ho/gia_dinh"), content_type=XLSX)
    assert resp.status_code == 400 and "slash" in resp.get_json()["message"]
    assert form_count(admin, project) == 0


@pytest.mark.parametrize("form_id", ["ho.svc", "ho.xml", "ho.xls", "ho.xlsx"])
def test_a_form_id_ending_as_a_route_reads_it_is_refused(admin, project, form_id):
    """/forms/ho.svc is the OData service of form 'ho', as /forms/ho.xml is its definition."""
    resp = post_xml(admin, project, xform(form_id))
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert "cannot end in .xml, .xls, .xlsx or .svc" in resp.get_json()["message"]
    assert form_count(admin, project) == 0
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=xlsform(form_id), content_type=XLSX)
    assert resp.status_code == 400 and ".svc" in resp.get_json()["message"]


def test_the_refusal_says_what_a_form_id_may_hold(admin, project):
    message = post_xml(admin, project, xform("a/b")).get_json()["message"]
    assert "letters (Vietnamese ones too), digits, spaces and punctuation, but no '/'" in message
    assert "only" not in message


@pytest.mark.parametrize("form_id", ["khảo sát hộ", "hộ?gia#đình", "100%_hộ", "a&b:c;d", "Ho-Gia.Dinh_2026"])
def test_a_form_id_with_punctuation_central_accepts_reaches_every_route(admin, project, form_id):
    from urllib.parse import quote

    resp = post_xml(admin, project, xform(form_id.replace("&", "&amp;")))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["xmlFormId"] == form_id
    base = f"/v1/projects/{project}/forms/{quote(form_id, safe='')}"
    for path in ("", ".xml", ".svc", ".svc/Submissions", "/versions", "/submissions", "/attachments"):
        assert admin.get(base + path).status_code == 200, path
    assert admin.delete(base).status_code == 200
    assert form_count(admin, project) == 0


@pytest.mark.parametrize("form_id", ["ho_gia_dinh", "Ho-Gia.Dinh_2026", "x" * 64, "hộ_gia_đình"])
def test_ordinary_form_ids_are_accepted(admin, project, form_id):
    resp = post_xml(admin, project, xform(form_id))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["xmlFormId"] == form_id
    assert admin.get(f"/v1/projects/{project}/forms/{form_id}").status_code == 200


# --- zip bombs -------------------------------------------------------------------------------------

SHEET = "xl/worksheets/sheet1.xml"


def rezipped(data: bytes, replace: dict[str, bytes] | None = None, extra: int = 0) -> bytes:
    """The same workbook, with some members' contents replaced and `extra` empty members added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, (replace or {}).get(info.filename, src.read(info.filename)))
        for i in range(extra):
            dst.writestr(f"customXml/item{i}.xml", b"")
    return out.getvalue()


def declaring(data: bytes, member: str, size: int) -> bytes:
    """The same zip whose headers declare `size` uncompressed bytes for `member`: what a crafted
    archive may claim, whatever its deflate stream really holds."""
    raw = bytearray(data)
    name = member.encode()
    for sig, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = raw.find(sig)
        while at != -1:
            if raw[at + name_at:at + name_at + len(name)] == name:
                struct.pack_into("<I", raw, at + size_at, size)
            at = raw.find(sig, at + 4)
    return bytes(raw)


def spaces_sheet(megabytes: int) -> bytes:
    """A worksheet that is almost all spaces: deflate packs 20 MiB of it into about 20 KB."""
    return (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            + b" " * (megabytes * 1024 * 1024) + b"</sheetData></worksheet>")


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    plain = xlsform()
    return {
        "declared": declaring(plain, SHEET, 2 * 1024**3),
        "ratio": rezipped(plain, {SHEET: spaces_sheet(20)}),
        "members": rezipped(plain, extra=LIMITS.members + 1),
    }


def test_the_bombs_are_small_and_the_check_inflates_nothing(bombs):
    assert all(len(data) < 200_000 for data in bombs.values())
    for data in bombs.values():
        tracemalloc.start()
        with pytest.raises(WorkbookTooLarge):
            check_workbook(data)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 2 * 1024 * 1024, peak


def test_real_workbooks_pass_the_check():
    from helpers import CORPUS, XLSFORMS

    for path in [*CORPUS.glob("*/form.xlsx"), *XLSFORMS.glob("*.xlsx")]:
        check_workbook(path.read_bytes())


@pytest.mark.parametrize("kind, named", [("declared", "100 MiB"), ("ratio", "zip bomb"), ("members", "1,000")])
def test_an_xlsform_zip_bomb_is_413_before_pyxform_opens_it(admin, project, bombs, kind, named):
    started = time.monotonic()
    tracemalloc.start()
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=bombs[kind], content_type=XLSX)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert resp.status_code == 413, resp.get_data(as_text=True)[:300]
    assert resp.get_json()["code"] == 413.1 and named in resp.get_json()["message"]
    assert peak < 10 * 1024 * 1024 and time.monotonic() - started < 5
    assert form_count(admin, project) == 0


def test_the_upload_page_says_the_same(app, client, project, bombs):
    from web.helpers import Browserish

    page = Browserish(client).sign_in()
    page.get(f"/projects/{project}")
    resp = page.post(f"/projects/{project}/forms",
                     {"xlsform": (io.BytesIO(bombs["ratio"]), "ho_gia_dinh.xlsx")}, content_type="multipart/form-data")
    assert resp.status_code == 413
    assert "zip bomb" in resp.get_data(as_text=True)


def test_an_area_registry_zip_bomb_is_refused_naming_the_limit(admin, project, bombs):
    for kind, named in (("declared", "100 MiB"), ("ratio", "zip bomb"), ("members", "1,000")):
        resp = admin.client.put(f"/v1/projects/{project}/areas", data=bombs[kind], content_type=XLSX,
                                headers=admin._headers())
        assert resp.status_code == 400 and resp.get_json()["code"] == 400.91, resp.get_data(as_text=True)[:300]
        assert named in resp.get_json()["message"]
    assert admin.get(f"/v1/projects/{project}/areas").get_json() == []


def test_an_indicators_workbook_zip_bomb_is_refused_naming_the_limit(admin, project, bombs):
    assert post_xml(admin, project, xform("ho")).status_code == 200
    for kind, named in (("declared", "100 MiB"), ("ratio", "zip bomb"), ("members", "1,000")):
        resp = admin.client.put(f"/v1/projects/{project}/forms/ho/indicators", data=bombs[kind], content_type=XLSX,
                                headers=admin._headers())
        assert resp.status_code == 400 and resp.get_json()["code"] == 400.92, resp.get_data(as_text=True)[:300]
        assert named in resp.get_json()["message"]
    assert admin.get(f"/v1/projects/{project}/forms/ho/indicators/definition").status_code == 404


# --- workbooks that are not readable at all --------------------------------------------------------

def areas_workbook() -> bytes:
    """The sample registry as an .xlsx: valid but for what each test breaks."""
    wb = Workbook()
    wb.active.title = "areas"
    for line in AREAS.strip().splitlines():
        wb.active.append(line.split(","))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def with_bad_crc(data: bytes, member: str = SHEET) -> bytes:
    """The workbook stored uncompressed, one byte of `member` changed: its checksum no longer matches."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    raw = bytearray(out.getvalue())
    at = raw.find(b"PK\x03\x04")  # walk the local headers to the member's data
    while raw[at + 30:at + 30 + len(member)] != member.encode():
        at = raw.find(b"PK\x03\x04", at + 4)
    name_len, extra_len = struct.unpack_from("<HH", raw, at + 26)
    raw[at + 30 + name_len + extra_len + 2] ^= 0x01
    return bytes(raw)


def broken(workbook: bytes) -> dict[str, bytes]:
    return {"garbage": b"PK\x03\x04garbage", "truncated": workbook[:len(workbook) // 2],
            "bad checksum": with_bad_crc(workbook)}


@pytest.mark.parametrize("kind", ["garbage", "truncated", "bad checksum"])
def test_the_check_names_an_unreadable_workbook(kind):
    from server.xforms.safezip import WorkbookUnreadable

    with pytest.raises(WorkbookUnreadable) as caught:
        check_workbook(broken(xlsform())[kind])
    assert "not a readable .xlsx workbook" in str(caught.value)
    if kind == "bad checksum":
        assert SHEET in str(caught.value)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "bad checksum"])
def test_an_unreadable_area_registry_is_400_naming_the_problem(admin, project, kind):
    resp = admin.client.put(f"/v1/projects/{project}/areas", data=broken(areas_workbook())[kind], content_type=XLSX,
                            headers=admin._headers())
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.91, resp.get_data(as_text=True)[:300]
    assert "not a readable .xlsx workbook" in resp.get_json()["message"]
    assert admin.get(f"/v1/projects/{project}/areas").get_json() == []
    assert admin.client.put(f"/v1/projects/{project}/areas", data=areas_workbook(), content_type=XLSX,
                            headers=admin._headers()).get_json()["areas"] == 7


@pytest.mark.parametrize("kind", ["garbage", "truncated", "bad checksum"])
def test_an_unreadable_xlsform_is_400_naming_the_problem(admin, project, kind):
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true", data=broken(xlsform())[kind], content_type=XLSX)
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.15, resp.get_data(as_text=True)[:300]
    assert "not a readable .xlsx workbook" in resp.get_json()["message"]
    assert form_count(admin, project) == 0


@pytest.mark.parametrize("kind", ["garbage", "truncated", "bad checksum"])
def test_an_unreadable_indicators_workbook_is_400_naming_the_problem(admin, project, kind):
    from helpers import XLSFORMS

    assert post_xml(admin, project, xform("ho")).status_code == 200
    workbook = broken((XLSFORMS / "household_digital_targets.xlsx").read_bytes())[kind]
    resp = admin.client.put(f"/v1/projects/{project}/forms/ho/indicators", data=workbook, content_type=XLSX,
                            headers=admin._headers())
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.92, resp.get_data(as_text=True)[:300]
    assert "not a readable .xlsx workbook" in resp.get_json()["message"]
