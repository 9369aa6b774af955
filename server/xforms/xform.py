"""What the server needs to know about an XForm: identity, version, title, key and declared media."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from lxml import etree

from server.xforms.safexml import XmlRejected, attr, child, local, parse

_MEDIA_REF = re.compile(r"jr://(images|audio|video|file|file-csv)/([^\"'<>\s]+)")
_MEDIA_TYPE = {"images": "image", "audio": "audio", "video": "video", "file": "file", "file-csv": "file"}
_EXTERNAL_SELECT = re.compile(r"<(?:\w+:)?input\b[^>]*\squery=")
# Routes that read a suffix after the form ID: /forms/{id}.xml, .xls, .xlsx (the definition) and .svc
# (OData). An ID ending so is taken for another form's document; Central refuses the first three.
_FORBIDDEN_ID_SUFFIX = re.compile(r"\.(xlsx?|xml|svc)$")
# Central's first schema stored xmlFormId as varchar(64); pyxform's IDs come from a file name or settings.
MAX_FORM_ID_LENGTH = 64
FORM_ID_RULE = (f"A form ID may hold up to {MAX_FORM_ID_LENGTH} letters (Vietnamese ones too), digits, spaces and "
                "punctuation, but no '/', '\\', '..' or control character, no space at either end, and it cannot "
                "end in .xml, .xls, .xlsx or .svc.")


def form_id_problem(form_id: str) -> str | None:
    """Why a form ID cannot be used, or None. The ID is a path segment of every form route
    (/v1/projects/{p}/forms/{id}), a file name in exports and a line in logs, so it holds no
    slash, no '..' and no control character (CR/LF would split a log line or a header), and no
    suffix a route reads. Anything else Central accepts is accepted: '?', '#', '%', '&', ':' or 'é'
    reach every route once percent-encoded, as clients and our own links encode them."""
    import unicodedata

    shown = form_id if len(form_id) <= 40 else form_id[:40] + "…"
    if len(form_id) > MAX_FORM_ID_LENGTH:
        return (f"The form ID '{shown}' is {len(form_id):,} characters long; at most {MAX_FORM_ID_LENGTH} "
                f"are allowed. Set a shorter form_id in the settings sheet. {FORM_ID_RULE}")
    bad = next((c for c in form_id if unicodedata.category(c)[0] == "C"), None)
    if bad is not None:
        return f"The form ID {form_id!r} contains the control character U+{ord(bad):04X}. {FORM_ID_RULE}"
    if "/" in form_id or "\\" in form_id:
        return f"The form ID '{shown}' contains a slash. {FORM_ID_RULE}"
    if ".." in form_id:
        return f"The form ID '{shown}' contains '..'. {FORM_ID_RULE}"
    if form_id != form_id.strip():
        return f"The form ID '{shown}' begins or ends with a space; remove it in the settings sheet. {FORM_ID_RULE}"
    if _FORBIDDEN_ID_SUFFIX.search(form_id):
        return (f"The form ID '{form_id}' cannot end in .xml, .xls, .xlsx or .svc (those endings name the form's "
                f"files and its OData service); set form_id in the settings sheet. {FORM_ID_RULE}")
    return None


@dataclass
class XFormInfo:
    xml: str
    xml_form_id: str
    version: str
    title: str | None
    key: str | None
    media: dict[str, str] = field(default_factory=dict)  # name -> type, in order of first mention

    @property
    def md5(self) -> str:
        return hashlib.md5(self.xml.encode("utf-8")).hexdigest()

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.xml.encode("utf-8")).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.xml.encode("utf-8")).hexdigest()


def unsafe_file_name(name: str) -> str | None:
    """Why a media or attachment file name cannot be used, or None when it is fine."""
    if not name or name in (".", ".."):
        return "the name is empty"
    if "\x00" in name:
        return "the name contains a NUL character"
    if "/" in name or "\\" in name:
        return "the name contains a path separator ('/' or '\\'); use a plain file name"
    if any(ord(c) < 32 for c in name):
        return "the name contains control characters"
    if len(name.encode("utf-8")) > 255:
        return "the name is longer than 255 bytes"
    return None


def decode_xml(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise XmlRejected(f"The XForm is not valid UTF-8 (byte {exc.start}).") from None


def _primary_instance_root(root: etree._Element) -> etree._Element:
    if local(root.tag) != "html":
        raise XmlRejected(f"This is not an XForm: the root element is <{local(root.tag)}>, not <h:html>.")
    head = child(root, "head")
    model = child(head, "model") if head is not None else None
    instance = child(model, "instance") if model is not None else None
    data = next((c for c in instance if isinstance(c.tag, str)), None) if instance is not None else None
    if data is None:
        raise XmlRejected("The XForm has no primary instance (h:head/model/instance/*).")
    return data


def read_xform(xml: str) -> XFormInfo:
    """Parse an XForm and read what Central reads (odk-protocol §9.1). Raises XmlRejected."""
    root = parse(xml.encode("utf-8"))
    data = _primary_instance_root(root)
    form_id = attr(data, "id")
    if not form_id:
        raise XmlRejected("The XForm's primary instance root has no id attribute (the form ID).")
    problem = form_id_problem(form_id)
    if problem:
        raise XmlRejected(problem)
    head = child(root, "head")
    title_el = child(head, "title")
    title = (title_el.text or "").strip() or None if title_el is not None else None
    model = child(head, "model")
    submission = child(model, "submission")
    key = attr(submission, "base64RsaPublicKey") if submission is not None else None
    media: dict[str, str] = {}
    for kind, name in _MEDIA_REF.findall(xml):
        media.setdefault(name, _MEDIA_TYPE[kind])
    if _EXTERNAL_SELECT.search(xml):
        # select_one_external reads its choices from an itemsets.csv that the XForm never names.
        media.setdefault("itemsets.csv", "file")
    for name in media:
        problem = unsafe_file_name(name)
        if problem:
            raise XmlRejected(f"The XForm refers to a media file '{name}' that cannot be stored: {problem}.")
    return XFormInfo(xml=xml, xml_form_id=form_id, version=attr(data, "version") or "", title=title,
                     key=(key or None), media=media)


def with_version(xml: str, version: str) -> str:
    """The same XForm with the primary instance's version attribute set (draft publish ?version=)."""
    root = parse(xml.encode("utf-8"))
    data = _primary_instance_root(root)
    for key in list(data.attrib):
        if local(key) == "version" and key != "version":
            del data.attrib[key]
    data.set("version", version)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8").decode("utf-8")
