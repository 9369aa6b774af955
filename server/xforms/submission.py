"""Submission XML → identity and rows: one root row and one row per repeat instance.

Pure function over bytes and a Schema. Namespaces are ignored (Collect, Briefcase and the spec
disagree on them, odk-protocol §0.4, §5.1); elements the schema does not know are kept in the
original XML but produce no column."""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from server.xforms.safexml import attr, child, local, parse
from server.xforms.schema import Schema

ENCRYPTION_MARKERS = ("base64EncryptedKey", "encryptedXmlFile")


@dataclass
class RepeatRow:
    repeat: str              # repeat path, "household/members"
    key: str                 # Central's KEY suffix: "household/members[2]"
    parent_key: str          # "" for a top-level repeat, else the enclosing repeat row's key
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedSubmission:
    xml_form_id: str
    version: str
    instance_id: str | None
    deprecated_id: str | None
    instance_name: str | None
    encrypted: bool
    root: dict[str, str] = field(default_factory=dict)
    repeats: list[RepeatRow] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)  # expected file names, in order


class SubmissionRejected(ValueError):
    pass


def _meta(root: etree._Element, name: str, meta: etree._Element | None = None) -> str | None:
    """meta/`name`'s text; `meta`, when given, is root's <meta> already found (one scan of the root)."""
    if meta is None:
        meta = child(root, "meta")
    el = child(meta, name) if meta is not None else None
    if el is None and name == "instanceID":
        el = child(root, "instanceID")  # Briefcase storage copies carry it on the root
    text = (el.text or "").strip() if el is not None else ""
    return text or None


def read_identity(xml: bytes) -> tuple[etree._Element, ParsedSubmission]:
    """Form ID, version, instance and edit identity — all the intake decision flow needs (§5.1)."""
    try:
        root = parse(xml)
    except ValueError as exc:
        raise SubmissionRejected(str(exc)) from None
    form_id = attr(root, "id")
    if not form_id:
        raise SubmissionRejected(f"The submission's root element <{local(root.tag)}> has no id attribute, so it "
                                 "cannot be matched to a form.")
    meta = None
    names = set()
    for c in root:   # one pass over the root's children instead of one per name looked up
        name = local(c.tag)
        if name == "meta" and meta is None:
            meta = c
        names.add(name)
    encrypted = any(m in names for m in ENCRYPTION_MARKERS)
    parsed = ParsedSubmission(xml_form_id=form_id, version=attr(root, "version") or "",
                              instance_id=_meta(root, "instanceID", meta), deprecated_id=_meta(root, "deprecatedID", meta),
                              instance_name=_meta(root, "instanceName", meta), encrypted=encrypted)
    return root, parsed


def read_rows(root: etree._Element, parsed: ParsedSubmission, schema: Schema) -> ParsedSubmission:
    """Fill the root row, repeat rows and expected attachments of an identified submission."""
    if parsed.encrypted:
        names = []
        for media in root:
            if local(media.tag) == "media":  # one <media> per file, or several files in one (Collect, Ona)
                names += [(f.text or "").strip() for f in media if local(f.tag) == "file"]
        enc = child(root, "encryptedXmlFile")
        if enc is not None:
            names.append((enc.text or "").strip())
        parsed.attachments = [n for n in dict.fromkeys(names) if n]
        return parsed
    kinds = schema.kinds
    binaries: dict[str, None] = {}
    counters: dict[tuple[str, str], int] = {}

    def walk(el: etree._Element, path: str, row: dict[str, str], row_key: str, key_path: str) -> None:
        for c in el:
            tag = c.tag
            if tag.__class__ is not str:   # comments and processing instructions
                continue
            name = tag[tag.rfind("}") + 1:]   # safexml.local, inlined: this loop visits every element
            p = f"{path}/{name}" if path else name
            kind = kinds.get(p)
            if kind == "repeat":
                kp = f"{key_path}/{name}" if key_path else name
                n = counters[(row_key, p)] = counters.get((row_key, p), 0) + 1
                key = f"{kp}[{n}]"
                rr = RepeatRow(repeat=p, key=key, parent_key=row_key)
                parsed.repeats.append(rr)
                walk(c, p, rr.values, key, key)
            elif kind == "structure" or (kind is None and len(c)):
                walk(c, p, row, row_key, f"{key_path}/{name}" if key_path else name)
            elif kind is not None and p not in row:
                text = c.text or ""
                row[p] = text
                if kind == "binary" and text.strip():
                    binaries[text.strip()] = None
    walk(root, "", parsed.root, "", "")
    audit = _meta(root, "audit")
    if audit:
        binaries[audit] = None
    parsed.attachments = list(binaries)
    return parsed
