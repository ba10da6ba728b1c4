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
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2

from ..deal.i18n import translations
from ..deal.model import Deal, mailto

log = logging.getLogger("mkdocs.plugins.dealroom")

TEMPLATES = Path(__file__).parent / "templates"
UNAUTHORIZED_DIR = "unauthorized"  # in a release: <slug>.html, and UNKNOWN_PAGE
UNKNOWN_PAGE = ".unknown.html"  # for an address that names no deal (never a slug)
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
    # The encrypted password page's language: the deal room's. nginx's 401 pages are
    # English for every deal: they must be the same bytes whichever deal an address names.
    language: str = "en"

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


def unauthorized_page(branding: Branding) -> str:
    """The page nginx shows, with status 401, to a reader without valid credentials: in
    English, whatever the deal's language (see Branding.language)."""
    english = replace(branding, language="en")
    return environment().get_template("unauthorized.html").render(branding=english)


def write_unauthorized_page(release: Path, name: str, branding: Branding) -> None:
    folder = release / UNAUTHORIZED_DIR
    folder.mkdir(exist_ok=True)
    page = folder / name
    page.write_text(unauthorized_page(branding), encoding="utf-8")
    os.utime(page, (PAGE_TIME, PAGE_TIME))
