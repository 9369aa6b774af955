"""Parsing untrusted XML: entities are never expanded, nothing is fetched, DTDs are refused."""
from __future__ import annotations

from lxml import etree


class XmlRejected(ValueError):
    """The bytes are not XML we accept; the message says why, for the person who sent them."""


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=False)


def parse(data: bytes) -> etree._Element:
    if not data or not data.strip():
        raise XmlRejected("The XML document is empty.")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        where = "" if "line" in exc.msg else f" (line {exc.lineno}, column {exc.offset})"
        raise XmlRejected(f"The XML is not well-formed: {exc.msg}{where}.") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        # Entity declarations enable expansion bombs and external entity reads; no ODK client sends them.
        raise XmlRejected("XML with a DOCTYPE or entity declarations is not accepted.")
    return root


def local(tag) -> str:
    """An element's name without its namespace; ODK clients disagree on namespaces (odk-protocol §0.4)."""
    if tag.__class__ is not str:   # comments and processing instructions (lxml gives their factory)
        return ""
    return tag[tag.rfind("}") + 1:]   # the whole tag when there is no namespace (rfind gives -1)


def child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def attr(el: etree._Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (version may be orx:version)."""
    if name in el.attrib:
        return el.attrib[name]
    for key, value in el.attrib.items():
        if local(key) == name:
            return value
    return None
