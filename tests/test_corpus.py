"""Every form in the shared corpus, read in place: what pyxform converts publishes, is listed and
downloads with a matching hash; what it refuses gets a 400 that names the problem."""
import hashlib
from pathlib import Path

import pytest

from collect import COLLECT_GET, entries
from helpers import CORPUS, CORPUS_CASES, app_user, publish_file

REFUSED = {"onadata-schools-survey-large": "set form title", "ipa-household-survey": "Choice names must be unique"}


def _fallback(case) -> str:
    return case.get("pyxform_form_name") or Path(case["upstream_form_name"]).stem


@pytest.mark.parametrize("case", CORPUS_CASES, ids=[c["name"] for c in CORPUS_CASES])
def test_corpus_form_publishes_lists_and_downloads(case, admin, client, project):
    path = CORPUS / case["name"] / case["form_file"]
    resp = publish_file(admin, project, path, fallback=_fallback(case))
    if case["name"] in REFUSED:
        assert resp.status_code == 400
        body = resp.get_json()
        assert body["code"] == 400.15 and REFUSED[case["name"]] in body["message"]
        assert admin.get(f"/v1/projects/{project}/forms").get_json() == []
        return
    assert resp.status_code == 200, resp.get_json()
    form = resp.get_json()
    assert form["xmlFormId"] == case["form_id"]
    if case.get("form_version") is not None:
        assert form["version"] == case["form_version"]

    media_dir = CORPUS / case["name"] / "form-media"
    declared = {a["name"] for a in admin.get(f"/v1/projects/{project}/forms/{form['xmlFormId']}/attachments").get_json()}
    uploaded = {}
    if media_dir.is_dir():
        base = f"/v1/projects/{project}/forms/{form['xmlFormId']}"
        assert admin.post(f"{base}/draft").status_code == 200
        for f in sorted(media_dir.iterdir()):
            if f.name in declared:
                r = admin.post(f"{base}/draft/attachments/{f.name}", data=f.read_bytes(), content_type="application/octet-stream")
                assert r.status_code == 200
                uploaded[f.name] = hashlib.md5(f.read_bytes()).hexdigest()
        assert uploaded, "the corpus ships media this form declares"
        assert admin.post(f"{base}/draft/publish?version={form['version']}-media").status_code == 200

    au = app_user(admin, project, form["xmlFormId"])
    listing = client.get(f"/v1/key/{au['token']}/projects/{project}/formList", headers=COLLECT_GET)
    [entry] = entries(listing)
    assert entry["formID"] == case["form_id"] and entry["name"]
    from urllib.parse import urlparse

    download = client.get(urlparse(entry["downloadUrl"]).path, headers=COLLECT_GET)
    assert download.status_code == 200
    assert entry["hash"] == "md5:" + hashlib.md5(download.data).hexdigest()
    if uploaded:
        from lxml import etree

        manifest = etree.fromstring(client.get(urlparse(entry["manifestUrl"]).path, headers=COLLECT_GET).data)
        listed = {m[0].text: m[1].text for m in manifest}
        assert listed == {name: f"md5:{md5}" for name, md5 in uploaded.items()}


def test_transportation_second_version_publishes_beside_the_first(admin, project):
    case = CORPUS / "onadata-transportation"
    assert publish_file(admin, project, case / "form.xlsx", fallback="transportation").status_code == 200
    newer = sorted((case / "form-versions").glob("*.xlsx"))[0]
    resp = admin.post(f"/v1/projects/{project}/forms/transportation_2011_07_25/draft?ignoreWarnings=true",
                      data=newer.read_bytes(),
                      content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      headers={"X-XlsForm-FormId-Fallback": "transportation"})
    assert resp.status_code == 200, resp.get_json()
    assert admin.post(f"/v1/projects/{project}/forms/transportation_2011_07_25/draft/publish").status_code == 200
    versions = [v["version"] for v in admin.get(f"/v1/projects/{project}/forms/transportation_2011_07_25/versions").get_json()]
    assert versions == ["212121211", "2014111"]
