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


def form_list(forms: list[ListedForm], base: str, verbose: bool = False) -> str:
    """`base` is absolute and ends at the project (…/v1/key/TOKEN/projects/1)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<xforms xmlns="http://openrosa.org/xforms/xformsList">']
    for f in forms:
        url_id = quote(f.xml_form_id, safe="")
        out.append("<xform>")
        out.append(f"<formID>{escape(f.xml_form_id)}</formID>")
        out.append(f"<name>{escape(f.name or f.xml_form_id)}</name>")
        out.append(f"<version>{escape(f.version or '')}</version>")
        out.append(f"<hash>md5:{f.hash}</hash>")
        if verbose:
            out.append(f"<descriptionText>{escape(f.name or f.xml_form_id)}</descriptionText>")
        out.append(f"<downloadUrl>{escape(base)}/forms/{url_id}.xml</downloadUrl>")
        if f.has_media:
            out.append(f"<manifestUrl>{escape(base)}/forms/{url_id}/manifest</manifestUrl>")
        out.append("</xform>")
    out.append("</xforms>\n")
    return "\n".join(out)


def manifest(files: list[ManifestFile], form_base: str) -> str:
    """`form_base` is absolute and ends at the form (…/projects/1/forms/household_digital_survey)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<manifest xmlns="http://openrosa.org/xforms/xformsManifest">']
    for f in files:
        out.append('<mediaFile type="entityList">' if f.integrity_url else "<mediaFile>")
        out.append(f"<filename>{escape(f.name)}</filename>")
        out.append(f"<hash>md5:{f.md5}</hash>")
        out.append(f"<downloadUrl>{escape(form_base)}/attachments/{quote(f.name, safe='')}</downloadUrl>")
        if f.integrity_url:
            out.append(f"<integrityUrl>{escape(f.integrity_url)}</integrityUrl>")
        out.append("</mediaFile>")
    out.append("</manifest>\n")
    return "\n".join(out)
