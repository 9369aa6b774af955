"""The catalogs are complete and compiled, and numbers and dates follow the locale."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from server.web import i18n

WEB = Path(i18n.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _po(locale: str):
    with open(WEB / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=locale)


def _source_ids() -> set[str]:
    keywords = dict(DEFAULT_KEYWORDS, N_=None)
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    return {m[2] if isinstance(m[2], str) else m[2][0]
            for m in extract_from_dir(str(WEB), method_map=method_map, keywords=keywords)}


def _singular(message_id) -> str:
    """A plural entry's id is (singular, plural); the singular names it."""
    return message_id if isinstance(message_id, str) else message_id[0]


def _forms(value) -> tuple[str, ...]:
    """A translation as a tuple of its forms (one for a simple entry, one per plural form)."""
    return (value,) if isinstance(value, str) else tuple(value or ())


def test_every_message_in_the_code_and_templates_is_in_both_catalogs():
    ids = _source_ids()
    assert len(ids) > 100
    for locale in i18n.LOCALES:
        missing = sorted(ids - {_singular(m.id) for m in _po(locale) if m.id})
        assert not missing, f"run scripts/translations.sh; {locale} lacks {missing}"


def test_every_msgid_has_a_vietnamese_translation_with_the_same_placeholders():
    untranslated, fuzzy, bad = [], [], []
    for m in _po("vi"):
        if not m.id:
            continue
        if not all(_forms(m.string)):
            untranslated.append(m.id)
        if m.fuzzy:
            fuzzy.append(m.id)
        wanted = sorted(PLACEHOLDER.findall(_singular(m.id)))
        if any(sorted(PLACEHOLDER.findall(form or "")) != wanted for form in _forms(m.string) or ("",)):
            bad.append(m.id)
    assert not untranslated and not fuzzy and not bad, (untranslated, fuzzy, bad)


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_the_compiled_catalogs_match_their_po_files(locale):
    with open(WEB / "translations" / locale / "LC_MESSAGES" / "messages.mo", "rb") as f:
        compiled = {_singular(m.id): _forms(m.string) for m in read_mo(f) if m.id}
    source = {_singular(m.id): _forms(m.string) for m in _po(locale) if m.id and any(_forms(m.string))}
    assert compiled == source, f"run scripts/translations.sh compile ({locale} .mo is stale)"


def test_numbers_percentages_and_dates_per_locale():
    assert i18n.number(1473, "vi") == "1.473" and i18n.number(1473, "en") == "1,473"
    assert i18n.percent(75.4, "vi") == "75,4%" and i18n.percent(75.4, "en") == "75.4%"
    assert i18n.number(459326, "vi") == "459.326"
    moment = datetime(2026, 11, 23, 17, 5, tzinfo=UTC)  # 00:05 on the 24th in Vietnam
    assert i18n.when(moment, "vi") == "24/11/2026 00:05"
    assert i18n.when(moment, "en") == "24 Nov 2026, 00:05"
    assert i18n.day(moment, "vi") == "24/11/2026"
