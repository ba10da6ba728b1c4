"""The pages a reader without access sees: nginx's 401 page and the encrypted mode's
password page.

Both are public (anyone who guesses or is forwarded a deal's address sees them), so
they may name the seller, and with the `access_page_contact` option the seller's
contact, but never the customer or anything else of the deal: the relationship between
seller and customer is itself confidential. `Branding` is all such a page is given, and
it is built from the seller's side of the deal only.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..deal.i18n import LANGUAGES, translations
from ..deal.model import Deal, mailto

log = logging.getLogger("mkdocs.plugins.dealroom")

TEMPLATES = Path(__file__).parent / "templates"
UNAUTHORIZED_DIR = "unauthorized"  # in a release: <slug>.html, and UNKNOWN_PAGE
UNKNOWN_PAGE = ".unknown.html"  # for an address that names no deal (never a slug)
PAGE = "page"  # a deal's branding in release.json (nginx mode): Branding.as_record
# Words of a company name too common to give the customer away on their own.
GENERIC_WORDS = frozenset({
    "the", "and", "for", "group", "holding", "holdings", "company", "corp", "corporation",
    "inc", "ltd", "limited", "gmbh", "plc", "llc", "sas",
})  # fmt: skip
# Files a public page is written with: the same modification time for every page, so
# nginx's ETag and Last-Modified headers cannot tell one deal's page from another's.
PAGE_TIME = 0


@dataclass(frozen=True)
class Contact:
    name: str
    title: str = ""
    email: str = ""

    @property
    def mailto(self) -> str:
        return mailto(self.email)


@dataclass(frozen=True)
class Branding:
    """What a public access page may say: who sells, and whom to ask."""

    seller: str = ""
    contact: Contact | None = None
    # The deal room's language: the encrypted password page's. nginx's 401 page is the
    # same for every deal of a host, in all their languages (`write_unauthorized_pages`).
    language: str = "en"

    def as_record(self) -> dict[str, Any]:
        """For release.json, so that a later publish or a merge of shards can write the
        page again without the deal (see `write_unauthorized_pages`)."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: Any) -> Branding | None:
        """The branding `as_record` wrote; None for anything else (a release from before
        it was recorded, or a damaged file)."""
        try:
            contact = record.get("contact")
            return cls(
                str(record["seller"]),
                Contact(**{key: str(contact[key]) for key in ("name", "title", "email")})
                if contact else None,
                str(record["language"]) if record["language"] in LANGUAGES else "en",
            )  # fmt: skip
        except (AttributeError, KeyError, TypeError):
            return None

    @classmethod
    def of(cls, slug: str, deal: Deal, with_contact: bool) -> Branding:
        """The seller's name and, if asked for, the seller contact's name, title and
        email, leaving out any value that names the customer (a seller may well write
        "Account lead for Northwind" as a title)."""

        def public(text: str | None) -> str:
            text = (text or "").strip()
            if text and _names_customer(text, deal):
                log.warning(f"dealroom: deal '{slug}': '{text}' is left off the public "
                            "sign-in pages because it names the customer")  # fmt: skip
                return ""
            return text

        person = deal.seller_contact if with_contact else None
        name = public(person.name) if person is not None else ""
        contact = None
        if person is not None and name:
            contact = Contact(name, public(person.title), public(person.email))
        return cls(public(deal.seller.name), contact, deal.site_language)

    @classmethod
    def shared(cls, brandings: list[Branding]) -> Branding:
        """For an address that names no deal: the seller, if every deal names the same
        one (then that page is the same as a deal's, unless it names a contact, so
        probing addresses does not tell which deal rooms exist), and never a contact."""
        sellers = {branding.seller for branding in brandings}
        return cls(sellers.pop() if len(sellers) == 1 else "")


def _names_customer(text: str, deal: Deal) -> bool:
    """Whether `text` names the customer, in full or in short: their name, a distinctive
    word of it ("Fjordline" of "Fjordline Shipping"), or one of their email domains or
    its first label ("fjordline" of fjordline.example)."""
    name = deal.customer.name.strip()
    words = {name, *re.findall(r"\w{3,}", name)}
    for domain in deal.customer.domains:
        words |= {domain.strip(), domain.strip().split(".")[0]}
    return any(
        re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", text, re.IGNORECASE)
        for word in words
        if word and word.casefold() not in GENERIC_WORDS
    )


@cache
def environment(language: str = "en") -> jinja2.Environment:
    """Templates of the publish step, in `language`; everything is escaped unless marked
    safe."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = language
    return env


def host_languages(brandings: Iterable[Branding]) -> tuple[str, ...]:
    """The languages of a host's deal rooms, English first and the others in the order
    of LANGUAGES: the 401 page's languages. English alone for none."""
    used = {branding.language for branding in brandings}
    return tuple(language for language in LANGUAGES if language in used) or ("en",)


@cache
def unauthorized_page(branding: Branding, languages: tuple[str, ...] = ("en",)) -> str:
    """The page nginx shows, with status 401, to a reader without valid credentials: the
    same words in each of `languages` (the first the page's own), whatever the deal's
    own language, so that it is the same bytes whichever deal an address names."""
    text = "unauthorized-text.html"
    texts = [
        Markup(
            environment(language)
            .get_template(text)
            .render(branding=branding, first=not index)
            .strip()
        )
        for index, language in enumerate(languages)
    ]
    page = environment(languages[0]).get_template("unauthorized.html")
    return page.render(branding=branding, texts=texts)


def write_unauthorized_page(
    release: Path, name: str, branding: Branding, languages: tuple[str, ...] = ("en",)
) -> None:
    folder = release / UNAUTHORIZED_DIR
    folder.mkdir(exist_ok=True)
    page = folder / name
    page.write_text(unauthorized_page(branding, languages), encoding="utf-8")
    os.utime(page, (PAGE_TIME, PAGE_TIME))


def recorded_branding(
    source: Path, staging: Path, slug: str, recorded: dict[str, Any], keep_page: bool
) -> Branding | None:
    """The branding `source` (a release) recorded for the 401 page of `slug`, a deal it
    holds, to write that page again (`write_unauthorized_pages`). A release from before
    brandings were recorded has none: then the page itself is copied into `staging` as it
    was, if `keep_page` (it may still name the seller's contact)."""
    branding = Branding.from_record(recorded.get(PAGE))
    page = source / UNAUTHORIZED_DIR / f"{slug}.html"
    if branding is None and keep_page and page.is_file():
        (staging / UNAUTHORIZED_DIR).mkdir(exist_ok=True)
        shutil.copy2(page, staging / UNAUTHORIZED_DIR / page.name)  # with its time
    return branding


def write_unauthorized_pages(
    release: Path, pages: dict[str, Branding | None], with_contact: bool
) -> None:
    """Every 401 page of a release (nginx mode), once all its deals are known: `pages`
    holds each deal's branding (None: not recorded, from a release before it was).

    Every page is in all the languages of the release's deal rooms, and every page is
    the shared one (the seller if every deal names the same one, else none), so that
    probing addresses tells neither which deal rooms exist nor their languages. Only
    with `access_page_contact` does a deal's own page differ: it names its seller and
    contact. A deal without a recorded branding keeps the page it has in `release`
    already, if it may name the contact, else gets the shared one. `publish` and `merge`
    both end here: a merge of shards writes exactly the pages one publish of every deal
    would."""
    known = {slug: branding for slug, branding in pages.items() if branding is not None}
    languages = host_languages(known.values())
    shared = Branding.shared(list(known.values()))
    write_unauthorized_page(release, UNKNOWN_PAGE, shared, languages)
    for slug in pages:
        own = known.get(slug)
        if own is not None and with_contact:
            write_unauthorized_page(release, f"{slug}.html", own, languages)
        elif not (with_contact and (release / UNAUTHORIZED_DIR / f"{slug}.html").is_file()):
            write_unauthorized_page(release, f"{slug}.html", shared, languages)
