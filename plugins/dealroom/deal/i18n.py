"""Deal rooms in the buyer's language: dealroom's own words, translated with gettext.

The catalogs are `plugins/dealroom/locale/<language>/LC_MESSAGES/messages.po`, kept with
Babel (`pybabel extract/update`, configured in babel.cfg; see README, "Languages"). They
are compiled here, in memory, when a deal room of that language is first built, so no
compiled file is kept in git. A message a catalog lacks stays in English.

Templates use Jinja's i18n extension (`{% trans %}`, `_()`, `ngettext`); Python code that
writes words a reader sees calls `gettext`/`ngettext` below, which use the language in
use: a deal room's while it is built, the seller's (the plugin's `language` option,
English by default) for the dashboard and the CLI's reports.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ("en", "de", "fr", "es", "nl")  # English and the catalogs shipped

_current: ContextVar[str] = ContextVar("dealroom_language", default="en")


@cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    """The compiled catalog of `language` (English: no translation at all)."""
    catalog_file = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not catalog_file.is_file():
        return stdlib_gettext.NullTranslations()
    with catalog_file.open("rb") as stream:
        catalog = read_po(stream, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return stdlib_gettext.GNUTranslations(compiled)


@contextmanager
def in_language(language: str) -> Iterator[None]:
    """Within the block, the Python strings below (and the templates of an environment
    `follow_language` set up) are in `language`; after it, the language before. A deal
    site is built in its deal room's (deals take turns in a worker), the dashboard and
    the CLI's reports in the seller's."""
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def follow_language(env: Any) -> None:
    """Have the templates of Jinja environment `env` translate into the language in use
    when they render (`in_language`). Not a catalog installed per language: a macro
    imported without context keeps the words its template module was first made with,
    and Jinja keeps that module for as long as it keeps the template, across deals."""
    env.install_gettext_callables(gettext, ngettext, newstyle=True)


def current_language() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, count)


def mid_sentence(label: str) -> str:
    """A capitalised label ("Economic buyer") as it reads mid-sentence in the language
    in use: "economic buyer"; acronyms such as IT stay, and so does every German noun."""
    if label[:2].isupper() or current_language() == "de":
        return label
    return label[:1].lower() + label[1:]


def N_(message: str) -> str:
    """Mark `message` for the catalogs without translating it now (it is translated
    where it is shown)."""
    return message


# Words that reach pages as data (a status, a flag, a unit): translated where shown,
# listed here so that `pybabel extract` finds them.
DATA_WORDS = (
    N_("planned"), N_("in progress"), N_("done"), N_("blocked"),
    N_("at risk"), N_("stalled"), N_("late for the event"), N_("overdue"),
    N_("on track"), N_("off track"), N_("complete"), N_("no plan"),
    N_("open"), N_("yes"), N_("no"), N_("later"),
    N_("year"), N_("month"), N_("quarter"), N_("week"),
    N_("call"), N_("meeting"), N_("email"), N_("redline"), N_("document"), N_("chat"),
    N_("other"),
)  # fmt: skip
