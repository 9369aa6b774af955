"""The area registry: loaded like an XLSForm (every mistake with its row and column), and the same
registry feeds the survey's location cascade."""
import hashlib
import io

from openpyxl import Workbook

from helpers import XLSFORMS, XLSX

AREAS = (XLSFORMS / "areas.csv").read_bytes()


def put(admin, project, data: bytes, ctype="text/csv"):
    return admin.client.put(f"/v1/projects/{project}/areas", data=data, content_type=ctype,
                            headers={"Authorization": f"Bearer {admin.token}"})


def test_shipped_registry_loads_and_reads_back(admin, project):
    resp = put(admin, project, AREAS)
    assert resp.status_code == 200 and resp.get_json()["areas"] == AREAS.decode().count("\n") - 1
    areas = {a["code"]: a for a in admin.get(f"/v1/projects/{project}/areas").get_json()}
    assert areas["DN-HV-HP"]["name"] == "Xã Hòa Phước" and areas["DN-HV-HP"]["parent"] == "DN-HV"
    assert areas["DN-HV-HP-01"]["expectedHouseholds"] == 820


def test_each_mistake_is_listed_with_row_and_column_and_nothing_changes(admin, project):
    put(admin, project, AREAS)
    bad = ("code,name,level,parent,expected_households\n"
           "P,Tỉnh A,province,,\n"
           "D,Huyện B,district,P,\n"
           "D,Huyện C,district,P,\n"          # duplicate code (row 4)
           "C,Xã D,hamlet,D,\n"               # bad level (row 5)
           "V,Thôn E,village,X,-5\n"          # unknown parent, negative count (row 6)
           "W,Thôn F,village,P,abc\n")        # wrong parent level, not a number (row 7)
    resp = put(admin, project, bad.encode())
    assert resp.status_code == 400 and resp.get_json()["code"] == 400.91
    errors = {(e["row"], e["column"]) for e in resp.get_json()["details"]["errors"]}
    assert {(4, "code"), (5, "level"), (6, "parent"), (6, "expected_households"), (7, "parent"),
            (7, "expected_households")} <= errors
    assert "nothing was changed" in resp.get_json()["message"]
    assert len(admin.get(f"/v1/projects/{project}/areas").get_json()) == AREAS.decode().count("\n") - 1


def test_cycle_and_missing_and_unknown_columns(admin, project):
    resp = put(admin, project, b"code,name,level,parent\nA,a,commune,B\nB,b,commune,A\n")
    assert resp.status_code == 400
    assert resp.get_json()["details"]["errors"][0]["column"] == "expected_households"
    resp = put(admin, project, b"code,name,level,parent,expected_households,colour\nA,a,province,,1\n")
    assert resp.status_code == 400 and "Unknown column 'colour'" in resp.get_json()["message"]


def test_xlsx_registry_with_thousands_separators(admin, project):
    wb = Workbook()
    ws = wb.active
    ws.title = "areas"
    ws.append(["code", "name", "level", "parent", "expected_households", "expected_residents"])
    ws.append(["P", "Đà Nẵng", "province", None, None, None])
    ws.append(["D", "Hòa Vang", "district", "P", None, None])
    ws.append(["C", "Hòa Phước", "commune", "D", None, None])
    ws.append(["V", "Thôn 1", "village", "C", "3.800", 14400])
    buf = io.BytesIO()
    wb.save(buf)
    assert put(admin, project, buf.getvalue(), XLSX).status_code == 200
    [v] = [a for a in admin.get(f"/v1/projects/{project}/areas").get_json() if a["code"] == "V"]
    assert (v["expectedHouseholds"], v["expectedResidents"]) == (3800, 14400)


def test_not_utf8_is_a_clear_error(admin, project):
    resp = put(admin, project, "code,name\nA,Hòa".encode("utf-16"))
    assert resp.status_code == 400 and "UTF-8" in resp.get_json()["message"]


def test_registry_becomes_the_surveys_cascade_media(admin, client, project):
    admin.post(f"/v1/projects/{project}/forms?publish=true", data=(XLSFORMS / "household_digital_survey.xlsx").read_bytes(),
               content_type=XLSX)
    resp = put(admin, project, AREAS)
    assert resp.get_json()["formsUpdated"] == ["household_digital_survey"]
    media = admin.get(f"/v1/projects/{project}/forms/household_digital_survey/attachments/areas.csv")
    assert media.status_code == 200 and media.data.decode().startswith("code,name,level,parent")
    manifest = admin.get(f"/v1/projects/{project}/forms/household_digital_survey/manifest",
                         headers={"X-OpenRosa-Version": "1.0"}).get_data(as_text=True)
    assert f"md5:{hashlib.md5(media.data).hexdigest()}" in manifest
    # A new registry gives the form a new list, and Collect a new hash.
    put(admin, project, AREAS + "DN-HV-HP-06,Thôn Mới,village,DN-HV-HP,10,37\n".encode())
    again = admin.get(f"/v1/projects/{project}/forms/household_digital_survey/attachments/areas.csv")
    assert "Thôn Mới" in again.data.decode() and again.data != media.data


def test_viewer_cannot_replace_the_registry(admin, client, project):
    from helpers import Api, sign_in

    uid = admin.post("/v1/users", json_body={"email": "v@x.vn", "password": "long enough pw"}).get_json()["id"]
    admin.post(f"/v1/projects/{project}/assignments/viewer/{uid}")
    viewer = Api(client, sign_in(client, "v@x.vn", "long enough pw"))
    assert put(viewer, project, AREAS).status_code == 403
    assert viewer.get(f"/v1/projects/{project}/areas").status_code == 200
