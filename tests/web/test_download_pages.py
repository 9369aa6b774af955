"""The downloads page: each file is the REST export with the same options (the page's defaults are
labels in the page's language and a BOM), the table's filters, the private key of an encrypted form
POSTed for one download, and refusals that say why."""
from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import urlencode

from openpyxl import load_workbook

from helpers import ENCRYPTED_CASE, FORM, encrypted_form_with_one_submission, table

from .helpers import Browserish, make_user

# The page's filters and the REST options they stand for (dates are days in Vietnam's time).
FILTERS = {"area": "DN-HV-HP", "from": "2026-01-01", "to": "2999-12-31", "review": "received"}
REST = {"area": "DN-HV-HP", "areaField": "location/village", "from": "2026-01-01T00:00:00+07:00",
        "to": "3000-01-01T00:00:00+07:00", "reviewState": "received"}


def page_url(project: int, kind: str = "", **query) -> str:
    path = f"/projects/{project}/forms/{FORM}/downloads" + (f"/{kind}" if kind else "")
    return path + (f"?{urlencode(query)}" if query else "")


def zip_entries(data: bytes) -> dict[str, bytes]:
    z = zipfile.ZipFile(io.BytesIO(data))
    return {name: z.read(name) for name in z.namelist()}


def cells(data: bytes) -> dict[str, list[list]]:
    book = load_workbook(io.BytesIO(data))
    return {name: [[c.value for c in row] for row in book[name].iter_rows()] for name in book.sheetnames}


def test_each_download_is_the_rest_export_with_the_same_options(signed_in, admin, project, survey, households):
    admin.patch(f"{survey}/submissions/{households[0].instance_id}", {"reviewState": "approved"})
    web = signed_in.client

    def both(kind: str, rest: dict, **page):
        mine = web.get(page_url(project, kind, **FILTERS, **page))
        theirs = admin.get(f"{survey}/{kind}?{urlencode({**REST, **rest})}")
        assert mine.status_code == theirs.status_code == 200, (kind, mine.get_data()[:300], theirs.get_data()[:300])
        assert mine.headers["Content-Disposition"] == theirs.headers["Content-Disposition"]
        assert mine.content_type == theirs.content_type
        return mine.data, theirs.data

    mine, theirs = both("submissions.csv", {"labels": "vi", "bom": "true"})
    assert mine == theirs and mine.startswith(b"\xef\xbb\xbf")
    rows = table(mine)
    assert len(rows) == 2 and "Thôn/Ấp/Buôn/Khu phố/Tổ dân phố" in rows[0]  # households[0] is approved: left out
    mine, theirs = both("submissions.csv.zip", {"labels": "vi", "bom": "true"})
    assert zip_entries(mine) == zip_entries(theirs) and f"{FORM}-members.csv" in zip_entries(mine)
    mine, theirs = both("persons.csv", {"labels": "vi", "bom": "true"})
    assert mine == theirs and len(table(mine)) == 4 + 2
    mine, theirs = both("submissions.xlsx", {"labelRow": "vi"})
    assert cells(mine) == cells(theirs) and cells(mine)["members"][1][0] is not None
    mine, theirs = both("submissions.geojson", {})
    assert mine == theirs and len(json.loads(mine)["features"]) == 2
    # Field names, as ODK Central writes them: no labels, no BOM — Central's bytes.
    mine, theirs = both("submissions.csv", {}, headings="names")
    assert mine == theirs and mine.startswith(b"SubmissionDate,")
    mine, theirs = both("submissions.csv.zip", {"attachments": "false", "labels": "en", "bom": "true"}, headings="en",
                        media="0")
    assert zip_entries(mine) == zip_entries(theirs)


def test_the_page_offers_each_file_with_the_filters_and_the_pages_language(signed_in, project, households):
    html = signed_in.get(page_url(project, **FILTERS)).get_data(as_text=True).replace("&amp;", "&")
    for kind in ("submissions.xlsx", "persons.csv", "submissions.csv.zip", "submissions.geojson"):
        assert f'href="{page_url(project, kind)}?area=DN-HV-HP&from=2026-01-01&to=2999-12-31&review=received' \
               f'&headings=vi"' in html, kind
    assert 'value="DN-HV-HP" selected' in html and "Hòa Phước" in html
    signed_in.post("/language", {"language": "en"})
    english = signed_in.get(page_url(project)).get_data(as_text=True)
    assert "headings=en" in english and "Excel workbook (.xlsx)" in english
    # The table links here with its filters.
    table_page = signed_in.get(f"/projects/{project}/forms/{FORM}/submissions?area=DN-HV-HP").get_data(as_text=True)
    assert f'href="{page_url(project)}?area=DN-HV-HP"' in table_page


def test_bad_download_options_say_why_and_send_no_file(signed_in, project, households):
    for query, message in [({"from": "hôm qua"}, "Hãy chọn ngày trên lịch"),
                           ({"area": "XX-99"}, "Không có địa bàn nào với mã này"),
                           ({"review": "maybe"}, "Hãy chọn trạng thái kiểm tra trong danh sách.")]:
        resp = signed_in.client.get(page_url(project, "submissions.xlsx", **query))
        assert resp.status_code == 400 and resp.content_type.startswith("text/html")
        assert "Content-Disposition" not in resp.headers
        assert message in resp.get_data(as_text=True)
    assert signed_in.client.get(page_url(project, "submissions.pdf")).status_code == 404
    # A download that cannot be decrypted is not a POST target.
    assert signed_in.post(page_url(project, "submissions.geojson"), {}).status_code == 404


def test_who_may_download(app, project, survey, households, admin_password_hash):
    make_user(app, "viewer@hamlet.test", admin_password_hash, "viewer", project)
    make_user(app, "tcn@hamlet.test", admin_password_hash, "formfill", project)
    viewer = Browserish(app.test_client()).sign_in("viewer@hamlet.test")
    assert viewer.client.get(page_url(project, "submissions.csv")).status_code == 200
    collector = Browserish(app.test_client()).sign_in("tcn@hamlet.test")
    assert collector.client.get(page_url(project)).status_code == 403
    assert collector.client.get(page_url(project, "submissions.csv")).status_code == 403
    assert Browserish(app.test_client()).client.get(page_url(project, "submissions.csv")).status_code == 302
    other = Browserish(app.test_client()).sign_in()
    assert other.client.get(f"/projects/99999/forms/{FORM}/downloads/submissions.csv").status_code == 404


# --- an encrypted form ---------------------------------------------------------------------------------

def _encrypted(admin, client, project):
    base = encrypted_form_with_one_submission(admin, client, project)
    return base, base.rsplit("/", 1)[1], (ENCRYPTED_CASE / "keys/encrypted-form-key.pem").read_bytes()


def _post_key(web: Browserish, project: int, form_id: str, kind: str, key: tuple | None, csrf=True, **extra):
    data = {"headings": "names", **extra}
    if key is not None:
        data["privateKey"] = (io.BytesIO(key[0]), key[1])
    return web.post(f"/projects/{project}/forms/{form_id}/downloads/{kind}", data, csrf=csrf,
                    content_type="multipart/form-data")


def test_the_private_key_decrypts_one_download(signed_in, admin, client, project):
    base, form_id, pem = _encrypted(admin, client, project)
    page = signed_in.get(f"/projects/{project}/forms/{form_id}/downloads").get_data(as_text=True)
    assert 'id="decrypt"' in page and 'name="privateKey"' in page and 'enctype="multipart/form-data"' in page
    mine = _post_key(signed_in, project, form_id, "submissions.csv.zip", (pem, "encrypted-form-key.pem"))
    assert mine.status_code == 200, mine.get_data(as_text=True)[-500:]
    theirs = admin.post(f"{base}/submissions.csv.zip", data={"privateKey": pem.decode()},
                        content_type="multipart/form-data")
    assert zip_entries(mine.data) == zip_entries(theirs.data)
    assert b"Guillermo" in zip_entries(mine.data)[f"{form_id}.csv"]
    xlsx = _post_key(signed_in, project, form_id, "submissions.xlsx", (pem, "key.pem"))
    assert xlsx.status_code == 200 and "Guillermo" in str(cells(xlsx.data))
    # Without the key the same file lists the submission as not decrypted.
    plain = signed_in.client.get(f"/projects/{project}/forms/{form_id}/downloads/submissions.csv?headings=names")
    assert b"not decrypted" in plain.data and b"Guillermo" not in plain.data


def test_bad_keys_say_why_and_send_no_file(signed_in, admin, client, project):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    _base, form_id, pem = _encrypted(admin, client, project)
    signed_in.get(f"/projects/{project}/forms/{form_id}/downloads")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    cases = [
        (None, "Hãy chọn tệp khóa bí mật của biểu mẫu (.pem)."),
        ((b"\xff\xd8\xff\xe0 a photo", "house.jpg"), "Tệp này không phải khóa bí mật."),
        ((b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 70_000, "huge.pem"), "Tệp này quá lớn"),
        ((b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n", "broken.pem"),
         "Khóa bí mật này không mở được"),
        ((other, "other.pem"), "Khóa bí mật này không mở được"),
    ]
    for key, message in cases:
        resp = _post_key(signed_in, project, form_id, "submissions.csv.zip", key)
        assert resp.status_code == 400, key
        assert "Content-Disposition" not in resp.headers and message in resp.get_data(as_text=True), key
    refused = _post_key(signed_in, project, form_id, "submissions.csv.zip", (pem, "key.pem"), csrf=False)
    assert refused.status_code == 400 and "Content-Disposition" not in refused.headers
    assert "không có gì bị thay đổi" in refused.get_data(as_text=True)
