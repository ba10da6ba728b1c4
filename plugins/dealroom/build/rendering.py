"""Turn a loaded deal into the pages of its site.

A deal site has fixed pages (`PageSpec`). Each page is a Markdown file generated in
memory (the seller's narrative, if any) plus structured sections rendered from Jinja
templates under `templates/dealroom/sections/`. Those templates are autoescaped (see
`site.SharedTheme`), so nothing a seller types into deal.yml can inject markup.
Users override any template by putting a file at the same path under the theme's
`custom_dir` (this repository's `theme_overrides/`).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from mkdocs.utils import get_relative_url
from mkdocs.utils.meta import get_data

from ..deal.figures import compute_figures, plan_progress
from ..deal.loading import DealFolder
from ..history.contributors import ContributorLog, section_label

SECTION_TEMPLATE = "dealroom/sections/{kind}.html"
PAGE_TEMPLATE = "dealroom/page.html"


@dataclass(frozen=True)
class PageSpec:
    """One page of a deal site: where it lives, its title, and what renders it."""

    src_uri: str  # e.g. "business-case.md" -> business-case/
    title: str
    kind: str  # picks templates/dealroom/sections/<kind>.html
    markdown: str = ""  # the seller's narrative, rendered below the sections

    def source(self) -> str:
        """The generated Markdown file: front matter picks our page template."""
        return f"---\ntemplate: {PAGE_TEMPLATE}\n---\n\n{self.markdown}\n"


def page_specs(folder: DealFolder, show_missing: bool) -> list[PageSpec]:
    """The pages of a deal site, in navigation order."""
    pages = [
        PageSpec("index.md", "Overview", "overview"),
        PageSpec("business-case.md", "Business case", "business-case",
                 _body(folder.narrative.get("business-case.md", ""))),
        PageSpec("mutual-action-plan.md", "Mutual action plan", "mutual-action-plan"),
    ]  # fmt: skip
    approach = folder.narrative.get("approach.md")
    if approach is not None or show_missing:
        # Without approach.md a published site simply has no approach page.
        pages.append(PageSpec("approach.md", "Approach", "approach", _body(approach or "")))
    for src_uri, markdown in folder.context_pages.items():
        pages.append(PageSpec(src_uri, _title_of(markdown, src_uri), "context", _body(markdown)))
    pages.append(PageSpec("contributors.md", "Contributors", "contributors"))
    return pages


def plain_title(text: str) -> str:
    """A title safe where Material inserts it unescaped (site name, navigation, <title>).
    Angle brackets become look-alikes rather than entities because Material's `striptags`
    would turn entities back into markup."""
    return text.replace("&", "&amp;").replace("<", "\u2039").replace(">", "\u203a")


def nav_for(pages: list[PageSpec]) -> list[Any]:
    """MkDocs `nav` for a deal site; context pages are grouped under one heading."""
    nav: list[Any] = []
    context: list[dict[str, str]] = []
    for page in pages:
        if page.kind == "context":
            if not context:
                nav.append({"Context": context})
            context.append({plain_title(page.title): page.src_uri})
        else:
            nav.append({plain_title(page.title): page.src_uri})
    return nav


def _body(markdown: str) -> str:
    """The Markdown without its front matter; deal pages pick their own template."""
    body, _meta = get_data(markdown)
    return body


def _title_of(markdown: str, src_uri: str) -> str:
    body, meta = get_data(markdown)
    if isinstance(meta.get("title"), str):
        return meta["title"]
    heading = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
    if heading:
        return heading.group(1)
    stem = src_uri.rsplit("/", 1)[-1].removesuffix(".md")
    return stem.replace("-", " ").replace("_", " ").capitalize()


# --- formatting --------------------------------------------------------------------


class Formatter:
    """Money, dates and day counts in the deal's locale and currency."""

    def __init__(self, locale: str, currency: str, as_of: dt.date) -> None:
        try:
            self.locale = Locale.parse(locale)
        except (ValueError, UnknownLocaleError):
            self.locale = Locale.parse("en_US")
        self.currency = currency
        self.as_of = as_of
        pattern = self.locale.currency_formats["standard"].pattern
        self._whole_money = re.sub(r"\.0+", "", pattern.split(";")[0])

    def money(self, amount: float | None) -> str:
        if amount is None:
            return ""
        return format_currency(
            round(amount), self.currency, locale=self.locale,
            format=self._whole_money, currency_digits=False,
        )  # fmt: skip

    def number(self, value: float | None, digits: int = 0) -> str:
        if value is None:
            return ""
        return format_decimal(round(value, digits), locale=self.locale)

    def date(self, value: dt.date | None) -> str:
        return format_date(value, format="medium", locale=self.locale) if value else ""

    def days_until(self, value: dt.date | None) -> int | None:
        return (value - self.as_of).days if value else None


# --- rendering ---------------------------------------------------------------------


def deal_context(
    folder: DealFolder, pages: list[PageSpec], as_of: dt.date, show_missing: bool
) -> dict[str, Any]:
    """What every section template of one deal may use; all values are data, never markup.
    Computed once per deal; `page_link` adds the one page-dependent helper."""
    deal = folder.deal
    plan_steps = deal.mutual_action_plan.ordered_steps()
    return {
        "deal": deal,
        "slug": folder.slug,
        "as_of": as_of,
        "show_missing": show_missing,
        "fmt": Formatter(deal.locale, deal.currency, as_of),
        "figures": compute_figures(deal.business_case),
        "progress": plan_progress(deal, as_of),
        "plan_steps": plan_steps,
        "next_steps": [step for step in plan_steps if step.status != "done"][:3],
        "has_approach": "approach.md" in folder.narrative,
        "context_pages": [(page.title, page.src_uri) for page in pages if page.kind == "context"],
    }


def contributor_context(
    contributor_log: ContributorLog, pages: list[PageSpec], show_emails: bool
) -> dict[str, Any]:
    """What the contributors page needs besides the deal."""
    titles = {page.src_uri: page.title for page in pages if page.kind == "context"}
    return {
        "contributor_log": contributor_log,
        "show_emails": show_emails,
        "section_label": lambda section: section_label(section, titles),
    }


def page_link(page_url: str) -> Callable[[str], str]:
    """`link(src_uri)`: the relative URL from the page at `page_url` to another page."""

    def link(src_uri: str) -> str:
        target = "" if src_uri == "index.md" else src_uri.removesuffix(".md") + "/"
        return get_relative_url(target or ".", page_url or ".")

    return link


def render_sections(env: jinja2.Environment, kind: str, context: dict[str, Any]) -> str:
    """Render the structured sections of one page kind to HTML."""
    return env.get_template(SECTION_TEMPLATE.format(kind=kind)).render(context)


_HEADING = re.compile(r'<h([23])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.DOTALL)


def heading_tokens(rendered: str) -> list[dict[str, Any]]:
    """Table-of-contents tokens (as Python-Markdown's toc extension makes them) for the
    h2/h3 headings with an id in rendered section HTML, so the sidebar lists them."""
    tokens: list[dict[str, Any]] = []
    for level, anchor, inner in _HEADING.findall(rendered):
        name = html.escape(html.unescape(re.sub(r"<[^>]+>", "", inner)).strip())
        token = {"level": int(level), "id": anchor, "name": name, "children": []}
        if token["level"] == 3 and tokens:
            tokens[-1]["children"].append(token)
        else:
            tokens.append(token)
    return tokens
