"""The OpenRosa XML documents: form list and manifest. Pure functions over plain values."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape


@dataclass
class ListedForm:
    xml_form_id: str
    name: str | None
    version: str
    hash: str
    has_media: bool


@dataclass
class ManifestFile:
    name: str
    md5: str
    integrity_url: str | None = None  # an Entity List: type="entityList" and where Collect checks deletions


def _element(tag: str, text: str) -> str:
    """One element of text: `<tag>text</tag>`, the text escaped for XML."""
    return f"<{tag}>{escape(text)}</{tag}>"


def form_list(forms: list[ListedForm], base: str, verbose: bool = False, draft: bool = False) -> str:
    """`base` is absolute and ends at the project (…/v1/key/TOKEN/projects/1). `draft`: the forms'
    drafts, at …/forms/{id}/draft.xml and …/forms/{id}/draft/manifest (draft testing)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<xforms xmlns="http://openrosa.org/xforms/xformsList">']
    for f in forms:
        form_url = f"{base}/forms/{quote(f.xml_form_id, safe='')}" + ("/draft" if draft else "")
        out += ["<xform>", _element("formID", f.xml_form_id), _element("name", f.name or f.xml_form_id),
                _element("version", f.version or ""), _element("hash", f"md5:{f.hash}")]
        if verbose:
            out.append(_element("descriptionText", f.name or f.xml_form_id))
        out.append(_element("downloadUrl", f"{form_url}.xml"))
        if f.has_media:
            out.append(_element("manifestUrl", f"{form_url}/manifest"))
        out.append("</xform>")
    out.append("</xforms>\n")
    return "\n".join(out)


def manifest(files: list[ManifestFile], form_base: str) -> str:
    """`form_base` is absolute and ends at the form (…/projects/1/forms/household_digital_survey)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<manifest xmlns="http://openrosa.org/xforms/xformsManifest">']
    for f in files:
        out += ['<mediaFile type="entityList">' if f.integrity_url else "<mediaFile>",
                _element("filename", f.name), _element("hash", f"md5:{f.md5}"),
                _element("downloadUrl", f"{form_base}/attachments/{quote(f.name, safe='')}")]
        if f.integrity_url:
            out.append(_element("integrityUrl", f.integrity_url))
        out.append("</mediaFile>")
    out.append("</manifest>\n")
    return "\n".join(out)
