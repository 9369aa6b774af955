"""Question and choice labels of an XForm in one language: what people read instead of field names.

Labels come from the body (`<label>` text or `jr:itext('id')`), choices from inline `<item>`s or
from itemsets over secondary instances (pyxform's layout); translations from `<itext>`. Choice
lists read from form-media files (select_one_from_file) keep their values."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from server.xforms.safexml import attr, child, local, parse

_ITEXT = re.compile(r"""jr:itext\(\s*['"]([^'"]+)['"]\s*\)""")
_INSTANCE = re.compile(r"""instance\(\s*['"]([^'"]+)['"]\s*\)""")


class UnknownLanguage(ValueError):
    pass


@dataclass
class FormLabels:
    questions: dict[str, str] = field(default_factory=dict)          # field path -> label
    choices: dict[str, dict[str, str]] = field(default_factory=dict)  # field path -> value -> label


def languages(xml: str | bytes) -> list[str]:
    root = _root(xml)
    return [attr(t, "lang") or "" for t in _translations(root)]


def _root(xml: str | bytes) -> etree._Element:
    return parse(xml.encode("utf-8") if isinstance(xml, str) else xml)


def _model(root: etree._Element) -> etree._Element:
    """The form's <model>; every form that was accepted has one."""
    head = child(root, "head")
    model = child(head, "model") if head is not None else None
    if model is None:
        raise ValueError("The form has no <model>.")
    return model


def _translations(root: etree._Element) -> list[etree._Element]:
    model = child(child(root, "head"), "model")
    itext = child(model, "itext") if model is not None else None
    return [t for t in itext if local(t.tag) == "translation"] if itext is not None else []


def _pick(translations: list[etree._Element], language: str | None) -> etree._Element | None:
    if not translations:
        return None
    if language in (None, "", "default", "true"):
        return next((t for t in translations if attr(t, "default")), translations[0])
    wanted = language.strip().lower()
    for t in translations:
        lang = (attr(t, "lang") or "").strip()
        code = re.search(r"\(([^)]+)\)\s*$", lang)
        if lang.lower() == wanted or (code and code.group(1).lower() == wanted):
            return t
    raise UnknownLanguage(f"The form has no '{language}' labels; it has "
                          f"{', '.join(attr(t, 'lang') or '' for t in translations)}.")


def _texts(translation: etree._Element | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if translation is None:
        return out
    for text in translation:
        if local(text.tag) != "text":
            continue
        values = [v for v in text if local(v.tag) == "value"]
        plain = next((v for v in values if not attr(v, "form")), values[0] if values else None)
        key = attr(text, "id")
        if plain is not None and key is not None:
            out[key] = _text_with_outputs(plain)
    return out


def _text_with_outputs(el: etree._Element) -> str:
    """A label's text, with each <output value="/data/x"/> shown as ${x} as the designer wrote it."""
    parts = [el.text or ""]
    for c in el:
        if isinstance(c.tag, str) and local(c.tag) == "output":
            ref = attr(c, "value") or ""
            parts.append("${" + ref.strip().split("/")[-1] + "}")
        elif isinstance(c.tag, str):
            parts.append("".join(c.itertext()))
        parts.append(c.tail or "")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _label(el: etree._Element, texts: dict[str, str]) -> str | None:
    label = child(el, "label")
    if label is None:
        return None
    ref = attr(label, "ref")
    if ref:
        m = _ITEXT.search(ref)
        return texts.get(m.group(1)) if m else None
    return _text_with_outputs(label) or None


def _path(ref: str, root_name: str) -> str:
    parts = [p.split(":")[-1] for p in ref.strip().split("/") if p]
    if parts and parts[0] == root_name:
        parts = parts[1:]
    return "/".join(parts)


def read_labels(xml: str | bytes, language: str | None = None) -> FormLabels:
    """Labels in `language` (a code like `vi`, or the full `Tiếng Việt (vi)`); None: the default."""
    root = _root(xml)
    texts = _texts(_pick(_translations(root), language))
    model = _model(root)
    instances = {attr(i, "id"): i for i in model if local(i.tag) == "instance" and attr(i, "id")}
    primary = next(i for i in model if local(i.tag) == "instance")
    data = next(c for c in primary if isinstance(c.tag, str))
    root_name = local(data.tag)
    out = FormLabels()
    body = child(root, "body")
    if body is None:
        return out
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        ref = attr(el, "ref") or attr(el, "nodeset")
        if not ref or local(el.tag) in ("itemset", "value", "label", "hint", "item"):
            continue
        path = _path(ref, root_name)
        label = _label(el, texts)
        if label:
            out.questions.setdefault(path, label)
        if local(el.tag) not in ("select", "select1", "rank"):
            continue
        choices: dict[str, str] = {}
        for item in el:
            if local(item.tag) == "item":
                value = child(item, "value")
                if value is not None and value.text is not None:
                    choices[value.text.strip()] = _label(item, texts) or value.text.strip()
            elif local(item.tag) == "itemset":
                choices.update(_itemset(item, instances, texts))
        if choices:
            out.choices[path] = choices
    return out


def _itemset(itemset: etree._Element, instances: dict, texts: dict[str, str]) -> dict[str, str]:
    m = _INSTANCE.search(attr(itemset, "nodeset") or "")
    instance = instances.get(m.group(1)) if m else None
    if instance is None or attr(instance, "src"):
        return {}
    value_ref = attr(child(itemset, "value"), "ref") if child(itemset, "value") is not None else "name"
    label_el = child(itemset, "label")
    label_ref = (attr(label_el, "ref") if label_el is not None else None) or "label"
    by_itext = "jr:itext(" in label_ref
    label_name = (label_ref[label_ref.index("(") + 1:label_ref.rindex(")")].strip() if by_itext else label_ref) or "label"
    out: dict[str, str] = {}
    for item in instance.iter():
        if not isinstance(item.tag, str) or local(item.tag) != "item":
            continue
        fields = {local(c.tag): (c.text or "").strip() for c in item if isinstance(c.tag, str)}
        value = fields.get(value_ref or "name")
        if value is None:
            continue
        label = texts.get(fields.get(label_name, "")) if by_itext else fields.get(label_name)
        out[value] = label or value
    return out


def fields_choosing_from(xml: str | bytes, file_name: str) -> list[str]:
    """Paths of the selects whose choices come from a form-media file (select_one_from_file
    areas.csv), in form order: the last one of a cascade holds the most precise choice."""
    root = _root(xml)
    model = _model(root)
    wanted = {attr(i, "id") for i in model if local(i.tag) == "instance"
              and (attr(i, "src") or "").rsplit("/", 1)[-1] == file_name}
    primary = next(i for i in model if local(i.tag) == "instance")
    root_name = local(next(c for c in primary if isinstance(c.tag, str)).tag)
    body = child(root, "body")
    out: list[str] = []
    if not wanted or body is None:
        return out
    for el in body.iter():
        if not isinstance(el.tag, str) or local(el.tag) not in ("select", "select1"):
            continue
        for item in el:
            if isinstance(item.tag, str) and local(item.tag) == "itemset":
                m = _INSTANCE.search(attr(item, "nodeset") or "")
                if m and m.group(1) in wanted:
                    out.append(_path(attr(el, "ref") or attr(el, "nodeset") or "", root_name))
    return out
