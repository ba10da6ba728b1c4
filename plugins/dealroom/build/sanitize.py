"""The seller's Markdown, rendered to HTML, with everything that could run removed.

All deals are served from one origin, so a script in one deal's page could read another
deal's pages with a team member's cached credentials. Unless `allow_raw_html` is set,
the HTML that Markdown produced (including raw HTML the seller typed and attributes
added with `attr_list`) passes through an allow-list sanitizer, ammonia via `nh3`:
formatting, tables, images, code, footnotes, admonitions and details stay; scripts,
styles beyond text alignment, event handlers, iframes, objects, forms and any URL
that is not http(s), mailto, tel or relative are removed, as are ids that the theme's
own elements use.
"""

from __future__ import annotations

import nh3

_TAGS = set(nh3.ALLOWED_TAGS) | {"input", "label", "tfoot", "section"}
_EVERYWHERE = {"class", "id", "title", "lang", "dir", "role", "aria-label", "aria-hidden"}
_ATTRIBUTES = {
    **{tag: set(attributes) for tag, attributes in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": _EVERYWHERE,
    "a": {"href", "hreflang", "name"},
    "img": {"src", "alt", "width", "height", "loading"},
    "th": {"style", "align", "colspan", "rowspan", "scope", "headers"},
    "td": {"style", "align", "colspan", "rowspan", "headers"},
    "details": {"open"},
    "ol": {"start", "type", "reversed"},
    "input": {"type", "checked", "disabled"},  # task lists: disabled check boxes
    "label": {"for"},
    "time": {"datetime"},
}
# The theme finds its own elements by these ids (`__config` holds its settings, `__search`
# and `__drawer` its toggles); an earlier element of the seller's with the same id would
# take their place.
_THEME_NAMES = ("__", "md-", "md_")


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute in ("id", "for", "name") and value.startswith(_THEME_NAMES):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    attribute_filter=_keep_attribute,
    url_schemes={"http", "https", "mailto", "tel"},
    link_rel=None,  # links keep what Markdown wrote; nothing is added
    filter_style_properties={"text-align"},  # table column alignment
    strip_comments=True,
)


def clean_html(html: str) -> str:
    """HTML from the seller's Markdown with nothing left that a browser would run."""
    return _CLEANER.clean(html)


def clean_text(html: str) -> str:
    """A fragment shown as a title (a table-of-contents entry): text only, escaped."""
    return nh3.clean(html, tags=set())
