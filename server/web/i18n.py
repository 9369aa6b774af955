"""The pages' language: Vietnamese by default, English by a switch; numbers and dates per locale.

Babel's catalogs (translations/{vi,en}/LC_MESSAGES/messages.mo, compiled from the .po files beside
them by scripts/translations.sh) are loaded once. Message ids are the English text, so a missing
Vietnamese string would show English, never a blank — tests/web/test_translations.py makes sure
none is missing. The chosen locale lives in `g.locale` for the request; Jinja's i18n extension
reads it through the callables installed here (the same thing flask-babel does, without its
app-wide hooks)."""
from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent, format_scientific
from babel.support import NullTranslations, Translations
from flask import Flask, g

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
LOCALE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
TRANSLATIONS = Path(__file__).parent / "translations"
# The teams work in Vietnam: times are shown in Vietnam's time (UTC+7, no daylight saving).
TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
_DATETIME = {"vi": "dd/MM/yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}
_DATE = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}


def normalise(locale: str | None) -> str | None:
    """A supported locale code, or None for anything else."""
    return locale if locale in LOCALES else None


@cache
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [locale], domain="messages")


def current_locale() -> str:
    return g.get("locale") or DEFAULT_LOCALE


def gettext(message: str, **variables) -> str:
    text = translations(current_locale()).ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    text = translations(current_locale()).ungettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


_ = gettext


def N_(message: str) -> str:
    """Marks a string for the catalog (`pybabel extract -k N_`); it is translated where it is shown."""
    return message


def _jinja_gettext(message: str) -> str:
    return translations(current_locale()).ugettext(message)


def _jinja_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ungettext(singular, plural, n)


# --- formatting ------------------------------------------------------------------------------------

def number(value: int | float | None, locale: str | None = None) -> str:
    """1.473 in Vietnamese, 1,473 in English. Past 10¹⁵ (an accuracy of 1e308 m typed into a
    geopoint) in scientific notation, which Babel's fixed-point rounding cannot reach; ∞ as such."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "∞" if value > 0 else ("−∞" if value < 0 else "—")
    if abs(value) >= 1e15:
        return format_scientific(value, "0.###E0", locale=locale or current_locale())
    return format_decimal(value, locale=locale or current_locale())


def percent(value: float | None, locale: str | None = None) -> str:
    """A percentage given in percent units (75.4) as 75,4% in Vietnamese, 75.4% in English."""
    if value is None:
        return ""
    return format_percent(value / 100, "#,##0.#%", locale=locale or current_locale())


def size_text(n: int, locale: str | None = None) -> str:
    """A byte limit as people read it, in the unit it was set in: 10 MB (10 MiB), 100 MB (10⁸), 256 KB."""
    for unit, name in ((1024 * 1024, "MB"), (1_000_000, "MB"), (1024, "KB"), (1000, "KB")):
        if n >= unit and n % unit == 0:
            return f"{number(n // unit, locale)} {name}"
    if n >= 1_000_000:
        return f"{number(round(n / 1_000_000, 1), locale)} MB"
    return f"{number(max(1, round(n / 1000)), locale)} KB"


def when(value: datetime | None, locale: str | None = None) -> str:
    """A timestamp in Vietnam's time, in the locale's usual order (23/11/2026 14:05)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    locale = locale or current_locale()
    return format_datetime(value, _DATETIME[locale], tzinfo=TIMEZONE, locale=locale)


def day(value: date | datetime | None, locale: str | None = None) -> str:
    if value is None:
        return ""
    locale = locale or current_locale()
    if isinstance(value, datetime):
        value = value.astimezone(TIMEZONE).date()
    return format_date(value, _DATE[locale], locale=locale)


def init_jinja(app: Flask) -> None:
    """Jinja's i18n extension with per-request callables, and the formatting filters."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the extension
        _jinja_gettext, _jinja_ngettext, newstyle=True)
    app.jinja_env.filters.update(number=number, percent=percent, when=when, day=day, heading=heading)
    app.jinja_env.globals.update(current_locale=current_locale, LOCALE_NAMES=LOCALE_NAMES)


_REFERENCE = re.compile(r"\s*\$\{[^}]*\}\s*")


def heading(label: str | None) -> str:
    """A label for a column heading that speaks of every row: a `${member_name}` reference, which
    names one row's person, is left out (“${member_name} có tài khoản?” → “Có tài khoản?”)."""
    # A reference already filled with "…" (server/xforms/answers.py) at either end goes too.
    text = " ".join(_REFERENCE.sub(" ", label or "").split()).strip(" ,:-–…")
    return text[:1].upper() + text[1:] if text else (label or "")
