"""A small ODK Collect stand-in for tests: the requests Collect sends, the way it sends them."""
from __future__ import annotations

import io
import uuid

from lxml import etree

COLLECT = {"X-OpenRosa-Version": "1.0", "User-Agent": "org.odk.collect.android/v2025.2.1 Dalvik/2.1.0",
           "Date": "Mon, 23 Nov 2026 03:04:05 GMT+00:00"}
# What Collect sends when it fetches a form list, a form or a manifest: it takes them gzipped.
COLLECT_GET = {**COLLECT, "Accept-Encoding": "gzip"}
DEVICE_ID = "collect:AbCdEfGh12345678"
XFORMS_NS = "{http://openrosa.org/xforms/xformsList}"


def submit(client, base: str, xml: bytes, files: dict[str, bytes] | None = None, incomplete: bool = False,
           headers: dict | None = None, device: str = DEVICE_ID):
    """POST {base}/submission as multipart, parts named by file name (§3.2)."""
    data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    for name, content in (files or {}).items():
        data[name] = (io.BytesIO(content), name, "image/jpeg" if name.endswith(".jpg") else "application/octet-stream")
    if incomplete:
        data["*isIncomplete*"] = "yes"
    return client.post(f"{base}/submission?deviceID={device.replace(':', '%3A')}", data=data,
                       headers={**COLLECT, **(headers or {})}, content_type="multipart/form-data")


def instance(form_id: str, version: str, body: str, instance_id: str | None = None, deprecated: str | None = None,
             root: str = "data") -> bytes:
    iid = instance_id or f"uuid:{uuid.uuid4()}"
    meta = f"<instanceID>{iid}</instanceID>" + (f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else "")
    return (f'<{root} xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">{body}'
            f"<meta>{meta}</meta></{root}>").encode()


def entries(resp) -> list[dict[str, str]]:
    """The forms a formList response offers, each as its fields (formID, name, version, hash, …)."""
    root = etree.fromstring(resp.data)
    assert root.tag == f"{XFORMS_NS}xforms"
    return [{etree.QName(c).localname: (c.text or "") for c in x} for x in root.findall(f"{XFORMS_NS}xform")]
