"""Turn a loaded deal into the pages of its site.

A deal site has fixed pages (`PageSpec`). Each page is a Markdown file generated in
memory (the seller's narrative, if any) plus structured sections rendered from Jinja
templates under `templates/dealroom/sections/`. Those templates are autoescaped (see
`site.SharedTheme`), so nothing a seller types into deal.yml can inject markup; the
values Material's own templates insert without escaping go through `inert_text`.
Users override any template by putting a file at the same path under the theme's
`custom_dir` (this repository's `theme_overrides/`).
"""

from __future__ import annotations

import datetime as dt
import html
import math
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from markupsafe import Markup

from ..deal.figures import compute_figures, plan_progress
from ..deal.i18n import gettext as _
from ..deal.loading import DealFolder
from ..deal.model import Deal, PlanStep
from ..deal.plan import critical_path, plan_flags
from ..history.contributors import Contribution, ContributorLog, section_area, section_label
from ..history.git import HISTORY_REASONS
from .timeline import build_timeline

SECTION_TEMPLATE = "dealroom/sections/{kind}.html"
PAGE_TEMPLATE = "dealroom/page.html"
OVERVIEW_STEPS = 5  # the next open steps the overview's small timeline shows


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
        PageSpec("index.md", _("Overview"), "overview"),
        PageSpec("business-case.md", _("Business case"), "business-case",
                 folder.narrative.get("business-case.md", "")),
        PageSpec("mutual-action-plan.md", _("Mutual action plan"), "mutual-action-plan"),
    ]  # fmt: skip
    approach = folder.narrative.get("approach.md")
    if approach is not None or show_missing:
        # Without approach.md a published site simply has no approach page.
        pages.append(PageSpec("approach.md", _("Approach"), "approach", approach or ""))
    for src_uri, markdown in folder.context_pages.items():
        pages.append(PageSpec(src_uri, folder.titles.get(src_uri, src_uri), "context", markdown))
    pages.append(PageSpec("contributors.md", _("Contributors"), "contributors"))
    return pages


# Look-alikes for the angle brackets: Material passes some values through `striptags`,
# which would turn `&lt;` back into a real `<` (and `</title><script>` into markup).
_LOOK_ALIKES = str.maketrans({"<": "\u2039", ">": "\u203a"})


def inert_text(text: str) -> Markup:
    """The one escaping rule for deal text that reaches Material's templates (site name,
    description, navigation and page titles), which insert values without escaping:
    safe in text and in attribute positions, whether or not Material escapes again.

    Quotes and ampersands become entities inside a `Markup` string, so Material's
    `| e` leaves them as they are and a raw `aria-label="{{ … }}"` cannot be broken out
    of; angle brackets become look-alikes, which no filter turns back into a tag."""
    return Markup(html.escape(text.translate(_LOOK_ALIKES), quote=True))


def nav_for(pages: list[PageSpec]) -> list[Any]:
    """MkDocs `nav` for a deal site; context pages are grouped under one heading."""
    nav: list[Any] = []
    context: list[dict[str, str]] = []
    for page in pages:
        if page.kind == "context":
            if not context:
                nav.append({_("Context"): context})
            context.append({inert_text(page.title): page.src_uri})
        else:
            nav.append({inert_text(page.title): page.src_uri})
    return nav


def link_preview(deal: Deal, page_title: str | None) -> dict[str, str]:
    """What a mail or chat app shows for a forwarded link to a page: the deal room's name
    and the page's, never a figure (`og:title` and `og:description`)."""
    room = _("%(customer)s and %(seller)s") % {"customer": deal.customer.name,
                                               "seller": deal.seller.name}  # fmt: skip
    return {
        "title": f"{page_title} · {room}" if page_title else room,
        "description": _("Deal room shared by %(seller)s with %(customer)s.")
        % {"seller": deal.seller.name, "customer": deal.customer.name},
    }


# --- formatting --------------------------------------------------------------------


class Formatter:
    """Money, dates and day counts in the deal's locale and currency."""

    def __init__(self, locale: str, currency: str, as_of: dt.date) -> None:
        try:  # "de-DE" as "de_DE", as the deal room's language reads it
            self.locale = Locale.parse(locale.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            self.locale = Locale.parse("en_US")
        self.currency = currency
        self.as_of = as_of
        pattern = self.locale.currency_formats["standard"].pattern
        self._whole_money = re.sub(r"\.0+", "", pattern.split(";")[0])

    def money(self, amount: float | None) -> str:
        if amount is None:
            return ""
        if not _formattable(amount):
            return f"{amount:.3g} {self.currency}"
        return format_currency(
            round(amount), self.currency, locale=self.locale,
            format=self._whole_money, currency_digits=False,
        )  # fmt: skip

    def number(self, value: float | None, digits: int = 0) -> str:
        if value is None:
            return ""
        if not _formattable(value):
            return f"{value:.3g}"
        return _decimal(round(value, digits), self.locale)

    def date(self, value: dt.date | None) -> str:
        return format_date(value, format="medium", locale=self.locale) if value else ""

    def days_until(self, value: dt.date | None) -> int | None:
        return (value - self.as_of).days if value else None


@lru_cache(maxsize=4096)
def _decimal(value: float, locale: Locale) -> str:
    """Babel's formatting takes tens of microseconds; a dashboard of hundreds of deals
    writes the same few scores and targets again and again."""
    return format_decimal(value, locale=locale)


def _formattable(value: float) -> bool:
    """Babel formats with 28 significant digits; the model keeps real figures far below
    that, and anything else is written plainly rather than failing the page."""
    return math.isfinite(value) and abs(value) < 1e21


# --- rendering ---------------------------------------------------------------------


def deal_context(
    folder: DealFolder, pages: list[PageSpec], as_of: dt.date, show_missing: bool
) -> dict[str, Any]:
    """What every section template of one deal may use; all values are data, never markup.
    Computed once per deal; `page_link` adds the one page-dependent helper."""
    deal = folder.deal
    plan_steps = deal.mutual_action_plan.ordered_steps()
    fmt = Formatter(deal.locale, deal.currency, as_of)
    flags = dict(zip(map(id, deal.mutual_action_plan.steps), plan_flags(deal, as_of), strict=True))

    def flags_of(step: PlanStep) -> list[str]:
        return flags[id(step)]

    def side_name(step: PlanStep) -> str:
        return deal.customer.name if deal.side_of(step) == "buyer" else deal.seller.name

    return {
        "deal": deal,
        "slug": folder.slug,
        "as_of": as_of,
        "show_missing": show_missing,
        "fmt": fmt,
        "flags_of": flags_of,
        "critical_path": critical_path(deal),
        "timeline": build_timeline(deal, as_of, fmt.date, side_name),
        "timeline_next": build_timeline(deal, as_of, fmt.date, side_name, limit=OVERVIEW_STEPS),
        "figures": compute_figures(deal.business_case),
        "progress": plan_progress(deal, as_of),
        "plan_steps": plan_steps,
        "next_steps": [step for step in plan_steps if step.status != "done"][:3],
        "has_approach": "approach.md" in folder.narrative,
        "has_case_narrative": bool(folder.narrative.get("business-case.md", "").strip()),
        "context_pages": [(page.title, page.src_uri) for page in pages if page.kind == "context"],
    }


def contributor_context(
    contributor_log: ContributorLog,
    pages: list[PageSpec],
    show_emails: bool,
    show_messages: bool = False,
) -> dict[str, Any]:
    """What the contributors page needs besides the deal."""
    titles = {page.src_uri: page.title for page in pages if page.kind == "context"}

    def note(entry: Contribution) -> str:
        # What a recorded contribution says was written for the log; a commit subject
        # was written for colleagues, so it shows only when the seller asks for it.
        return entry.note if entry.source == "recorded" or show_messages else ""

    def history_reason(reason: str) -> str:
        # Not through Jinja's `_()`, which would read git's words as a format string.
        return _(reason) if reason in HISTORY_REASONS else reason

    return {
        "contributor_log": contributor_log,
        "history_reason": history_reason,
        "show_emails": show_emails,
        "note": note,
        "section_label": lambda section: section_label(section, titles),
        "section_areas": lambda sections: list(
            dict.fromkeys(section_area(section, titles) for section in sections)
        ),
    }


def page_link(page_url: str) -> Callable[[str], str]:
    """`link(src_uri)`: the relative URL from the page at `page_url` to another page."""

    here = page_url if page_url.endswith("/") or not page_url else posixpath.dirname(page_url)

    def link(src_uri: str) -> str:
        target = "" if src_uri == "index.md" else src_uri.removesuffix(".md") + "/"
        relative = posixpath.relpath(target or ".", here or ".")
        if relative == ".":
            return "./" if target else "."
        return relative + "/" if target else relative

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
