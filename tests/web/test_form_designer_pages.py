"""A form designer finishes in the browser: on the form page a new version's XLSForm becomes the draft,
each version's XLSForm downloads back, the indicators workbook loads with every mistake listed by
sheet and row (as `PUT …/indicators` lists them), and the draft proposes a version not yet published.
The downloads page says how many rows each file will hold for the filters chosen."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime

from lxml import html
from openpyxl import load_workbook
from sqlalchemy import select

from helpers import FORM, XLSFORMS, XLSX, give, tiny_xlsform
from server.models import form_versions as fv
from server.web.i18n import TIMEZONE

from .helpers import make_user

TARGETS = XLSFORMS / "household_digital_targets.xlsx"


def form_url(project: int, form_id: str = "so_ho") -> str:
    return f"/projects/{project}/forms/{form_id}"


def _post_file(web, url: str, field: str, data: bytes, name: str = "file.xlsx"):
    return web.post(url, {field: (io.BytesIO(data), name)}, content_type="multipart/form-data")


def _publish_tiny(admin, project, version="2026010101") -> None:
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true&ignoreWarnings=true", data=tiny_xlsform(version),
                      content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()


def _drafts(app, project: int, form_id: str = "so_ho") -> str | None:
    from server.models.forms import Form, FormDef

    with app.extensions["hamlet.sessionmaker"]() as s:
        form = s.scalars(select(Form).where(Form.project_id == project, Form.xml_form_id == form_id)).one()
        return s.get(FormDef, form.draft_def_id).version if form.draft_def_id else None


def _text(page) -> str:
    return " ".join(html.fromstring(page.get_data(as_text=True)).text_content().split())


# --- a new version, uploaded on the form page ----------------------------------------------------

def test_a_new_version_uploaded_on_the_form_page_becomes_the_draft(signed_in, admin, app, project):
    _publish_tiny(admin, project)
    page = signed_in.get(form_url(project)).get_data(as_text=True)
    assert "Tải lên phiên bản mới" in page and f'action="{form_url(project)}/draft/xlsform"' in page
    resp = _post_file(signed_in, f"{form_url(project)}/draft/xlsform", "xlsform", tiny_xlsform("2026010102", "Họ tên"))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"{form_url(project)}#draft")
    assert _drafts(app, project) == "2026010102"
    assert "Đã tải lên làm bản nháp" in signed_in.get(form_url(project)).get_data(as_text=True)


def test_a_refused_xlsform_shows_pyxforms_sheet_and_row_and_changes_nothing(signed_in, admin, app, project, tmp_path):
    from .helpers import broken_xlsform

    _publish_tiny(admin, project)
    _post_file(signed_in, f"{form_url(project)}/draft/xlsform", "xlsform", tiny_xlsform("2026010102"))
    # broken_xlsform is the form `broken_survey`: name it so, so that pyxform (not the id check) refuses it.
    data = broken_xlsform(tmp_path).read_bytes().replace(b"broken_survey", b"so_ho_________")
    resp = _post_file(signed_in, f"{form_url(project)}/draft/xlsform", "xlsform", data)
    assert resp.status_code == 400
    box = html.fromstring(resp.get_data(as_text=True)).xpath(".//*[@id='draft']//*[contains(concat(' ', @class, ' '), ' upload-error ')]")[0]
    assert box.xpath(".//*[contains(concat(' ', @class, ' '), ' sheet ')]")[0].text == "survey" and box.xpath(".//*[contains(concat(' ', @class, ' '), ' row ')]")[0].text == "3"
    assert "Không có gì bị thay đổi" in box.text_content()
    assert _drafts(app, project) == "2026010102"   # the draft before stays


def test_a_workbook_of_another_form_is_refused_naming_both(signed_in, admin, app, project):
    _publish_tiny(admin, project)
    resp = _post_file(signed_in, f"{form_url(project)}/draft/xlsform", "xlsform",
                      tiny_xlsform("7", form_id="khac"))
    assert resp.status_code == 400
    assert "Tệp này là biểu mẫu “khac”, không phải “so_ho”" in _text(resp)
    assert _drafts(app, project) is None
    empty = signed_in.post(f"{form_url(project)}/draft/xlsform", {}, content_type="multipart/form-data")
    assert empty.status_code == 400 and "Hãy chọn" in _text(empty)


# --- each version's XLSForm --------------------------------------------------------------------------

def test_each_version_links_its_xlsform_which_is_the_uploaded_file(signed_in, admin, project):
    first, second = tiny_xlsform("2026010101"), tiny_xlsform("2026010102", "Họ tên chủ hộ")
    _publish_tiny(admin, project)
    _post_file(signed_in, f"{form_url(project)}/draft/xlsform", "xlsform", second)
    draft = html.fromstring(signed_in.get(form_url(project)).get_data(as_text=True))
    draft_link = draft.xpath(".//*[@id='draft']//a[contains(concat(' ', @class, ' '), ' xlsform-link ')]")[0].get("href")
    assert draft_link == f"{form_url(project)}/draft.xlsx"
    assert signed_in.client.get(draft_link).data == second
    signed_in.post(f"{form_url(project)}/publish", {"version": ""})
    page = html.fromstring(signed_in.get(form_url(project)).get_data(as_text=True))
    links = [a.get("href") for a in page.xpath(".//table//a[contains(concat(' ', @class, ' '), ' xlsform-link ')]")]
    assert links == [f"{form_url(project)}/versions/2026010102.xlsx", f"{form_url(project)}/versions/2026010101.xlsx"]
    for link, expected in zip(links, (second, first), strict=True):
        resp = signed_in.client.get(link)
        assert resp.status_code == 200 and resp.data == expected
        assert resp.headers["Content-Disposition"] == "attachment; filename=so_ho.xlsx"
        # the same bytes as the REST route Central has
        assert admin.get(f"/v1/projects/{project}/forms/so_ho/versions/{link.rsplit('/', 1)[1]}").data == expected
    assert signed_in.get(f"{form_url(project)}/versions/2026010101.xls").status_code == 404


# --- a free version -----------------------------------------------------------------------------------

def test_free_version_is_todays_date_with_the_first_number_not_taken():
    day = date(2026, 12, 5)
    assert fv.free_version([], day) == "2026120501"
    assert fv.free_version(["2026120501", "2026120502", "2026120504"], day) == "2026120503"
    assert fv.free_version([f"20261205{n:02d}" for n in range(1, 100)], day) == "20261205100"


def test_the_draft_proposes_a_version_not_yet_published(signed_in, admin, project):
    today = datetime.now(TIMEZONE).strftime("%Y%m%d")
    _publish_tiny(admin, project, f"{today}01")
    signed_in.post(f"{form_url(project)}/draft", {})   # a draft copied from the published version: same version
    box = html.fromstring(signed_in.get(form_url(project)).get_data(as_text=True)).xpath(".//*[@id='draft']")[0]
    assert box.xpath(".//input[@id='version']")[0].get("value") == f"{today}02"
    assert f"Phiên bản “{today}01” đã được phát hành. Đề xuất: {today}02" in box.text_content()
    resp = signed_in.post(f"{form_url(project)}/publish", {"version": f"{today}02"})
    assert resp.status_code == 302
    assert admin.get(f"/v1/projects/{project}/forms/so_ho").get_json()["version"] == f"{today}02"


def test_a_draft_with_a_free_version_keeps_it(signed_in, admin, project):
    _publish_tiny(admin, project)
    _post_file(signed_in, f"{form_url(project)}/draft/xlsform", "xlsform", tiny_xlsform("2026010102"))
    field = html.fromstring(signed_in.get(form_url(project)).get_data(as_text=True)).xpath(".//input[@id='version']")[0]
    assert field.get("value") is None and field.get("placeholder") == "2026010102"


# --- the indicators workbook ---------------------------------------------------------------------

def _broken_targets() -> bytes:
    """The shipped workbook with three mistakes: an unknown indicator (a typo), a threshold that is not
    a number, and an unknown level."""
    wb = load_workbook(TARGETS)
    targets = wb["targets"]
    targets["E2"] = "hh_broadbnd"
    targets["G3"] = "nhiều"
    targets["H4"] = "hamlet"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_the_indicators_workbook_loads_on_the_form_page(signed_in, admin, project, survey):
    page = signed_in.get(form_url(project, FORM)).get_data(as_text=True)
    assert "Chưa có tệp chỉ số" in page
    resp = _post_file(signed_in, f"{form_url(project, FORM)}/indicators", "workbook", TARGETS.read_bytes())
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#indicators")
    definition = admin.get(f"{survey}/indicators/definition").get_json()
    box = html.fromstring(signed_in.get(form_url(project, FORM)).get_data(as_text=True)).xpath(".//*[@id='indicators']")[0]
    facts = box.xpath(".//dl[contains(concat(' ', @class, ' '), ' facts ')]/dd")
    assert facts[1].text == str(len(definition["indicators"]))
    names = {c["target_set"]: c["labels"].get("vi") or c["target_set"] for c in definition["criteria"]}
    assert facts[2].text == "; ".join(names[code] for code in sorted(names))
    assert "Khu dân cư công nghệ số – phường Thạc Gián" in facts[2].text


def test_every_mistake_is_listed_as_the_api_lists_it_in_the_pages_language(signed_in, admin, project, survey):
    data = _broken_targets()
    api = admin.client.put(f"{survey}/indicators", data=data, content_type=XLSX, headers=admin._headers())
    assert api.status_code == 400
    expected = api.get_json()["details"]["errors"]
    resp = _post_file(signed_in, f"{form_url(project, FORM)}/indicators", "workbook", data)
    assert resp.status_code == 400
    items = html.fromstring(resp.get_data(as_text=True)).xpath(".//*[@id='indicators']//ol[contains(concat(' ', @class, ' '), ' mistakes ')]/li")
    shown = [(li.xpath(".//*[contains(concat(' ', @class, ' '), ' sheet ')]")[0].text, int(li.xpath(".//*[contains(concat(' ', @class, ' '), ' row ')]")[0].text), li.xpath(".//*[contains(concat(' ', @class, ' '), ' column ')]")[0].text)
             for li in items]
    assert shown == [(e["sheet"], e["row"], e["column"]) for e in expected] and len(shown) == 3
    messages = [li.xpath(".//*[contains(concat(' ', @class, ' '), ' message ')]")[0].text_content() for li in items]
    assert messages == ["Không có chỉ số “hh_broadbnd”; có phải bạn muốn ghi “hh_broadband”?",
                        "Ngưỡng “nhiều” không phải là số (tỷ lệ phần trăm, 0–100).",
                        "Cấp “hamlet” không hợp lệ: hãy dùng một trong province, district, commune, village."]
    assert "Tệp có 3 lỗi; không có gì bị thay đổi." in _text(resp)
    assert admin.get(f"{survey}/indicators/definition").status_code == 404   # nothing saved
    signed_in.post("/language", {"language": "en"})
    english = _post_file(signed_in, f"{form_url(project, FORM)}/indicators", "workbook", data)
    assert "Unknown indicator “hh_broadbnd”; did you mean “hh_broadband”?" in _text(english)


def test_a_zip_bomb_or_an_oversized_workbook_is_refused_before_it_is_read(signed_in, app, project, survey):
    from dataclasses import replace

    from server.xforms.safezip import LIMITS

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(TARGETS.read_bytes())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        for i in range(LIMITS.members + 1):
            dst.writestr(f"customXml/item{i}.xml", b"")
    resp = _post_file(signed_in, f"{form_url(project, FORM)}/indicators", "workbook", out.getvalue())
    assert resp.status_code == 400
    item = html.fromstring(resp.get_data(as_text=True)).xpath(".//ol[contains(concat(' ', @class, ' '), ' mistakes ')]/li")[0]
    assert "(tiếng Anh)" in item.text_content() and "at most 1,000" in item.xpath(".//*[contains(concat(' ', @class, ' '), ' message ')]")[0].text
    app.config["HAMLET"] = replace(app.config["HAMLET"], max_form_bytes=100_000)
    big = _post_file(signed_in, f"{form_url(project, FORM)}/indicators", "workbook", b"x" * 300_000)
    assert big.status_code == 413 and "tối đa 100 KB" in big.get_data(as_text=True)


def test_only_those_who_may_change_the_form_see_or_use_the_uploads(app, client, field, admin_password_hash):
    """A viewer has no form.update; a manager limited to a commune loses it (PROJECT_WIDE)."""
    from .helpers import Browserish

    project = field.project
    for email, areas in (("xem@hamlet.test", None), ("xa@hamlet.test", ["DN-HV-HP"])):
        actor_id = make_user(app, email, admin_password_hash)
        give(field.admin, project, "viewer" if areas is None else "manager", actor_id, areas)
        web = Browserish(app.test_client()).sign_in(email)
        page = web.get(form_url(project, FORM))
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "/draft/xlsform" not in text and "/indicators\"" not in text and 'id="indicators"' not in text
        assert 'class="tap xlsform-link"' in text   # reading a version's XLSForm is form.read
        for url, name in ((f"{form_url(project, FORM)}/draft/xlsform", "xlsform"),
                          (f"{form_url(project, FORM)}/indicators", "workbook")):
            assert _post_file(web, url, name, TARGETS.read_bytes()).status_code == 403
        assert web.get(f"{form_url(project, FORM)}/draft.xlsx").status_code in (403, 404)


# --- the downloads page's row counts -------------------------------------------------------------

def _counts(page) -> dict[str, str]:
    tree = html.fromstring(page.get_data(as_text=True))
    return {li.xpath(".//a[contains(concat(' ', @class, ' '), ' download ')]")[0].get("href").split("?")[0].rsplit("/", 1)[1]:
            li.xpath(".//p[contains(concat(' ', @class, ' '), ' row-counts ')]")[0].text_content() for li in tree.xpath(".//ul[contains(concat(' ', @class, ' '), ' downloads ')]/li")}


def test_the_downloads_page_counts_the_rows_each_file_will_hold(signed_in, project, households):
    url = f"/projects/{project}/forms/{FORM}/downloads"
    counts = _counts(signed_in.get(url))
    members = sum(len(h.members) for h in households)
    assert counts["persons.csv"] == f"{members} dòng, mỗi thành viên một dòng"
    assert counts["submissions.xlsx"].startswith(f"{len(households)} hộ · ")
    assert f": {members} dòng" in counts["submissions.xlsx"] and counts["submissions.geojson"] == "5 hộ"
    # With a filter, the figures are the rows of the file downloaded with it.
    filtered = _counts(signed_in.get(f"{url}?area=DN-HV-HP"))
    inside = [h for h in households if h.commune == "DN-HV-HP"]
    assert filtered["submissions.geojson"] == f"{len(inside)} hộ"
    persons = signed_in.get(f"{url}/persons.csv?area=DN-HV-HP").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(persons)))[1:]
    assert filtered["persons.csv"].startswith(f"{len(rows)} dòng") and len(rows) == sum(len(h.members) for h in inside)
    book = load_workbook(io.BytesIO(signed_in.client.get(f"{url}/submissions.xlsx?area=DN-HV-HP").data))
    sheet_rows = [ws.max_row - 2 for ws in book.worksheets]   # less the names and the label row
    shown = [int(re.sub(r"\D", "", part.rsplit(":", 1)[-1])) for part in filtered["submissions.xlsx"].split(" · ")]
    assert shown == sheet_rows


def test_a_limited_viewer_sees_the_counts_of_its_own_areas(app, client, field, admin_password_hash):
    from .helpers import Browserish

    actor_id = make_user(app, "hp@hamlet.test", admin_password_hash)
    give(field.admin, field.project, "viewer", actor_id, ["DN-HV-HP"])
    web = Browserish(app.test_client()).sign_in("hp@hamlet.test")
    counts = _counts(web.get(f"/projects/{field.project}/forms/{FORM}/downloads"))
    assert counts["submissions.geojson"] == f"{len(field.inside)} hộ"
    assert counts["persons.csv"].startswith(f"{field.members_inside} dòng")
