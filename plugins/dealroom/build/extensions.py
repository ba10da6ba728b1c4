"""The Markdown extensions a deal site may use: only those known not to read files or
run code that a deal's Markdown controls.

A deal's Markdown is written by whoever edits that deal folder, so an extension that
includes files (markdown-include, pymdownx.b64) or executes code (markdown-exec) would
hand it every other deal and the credentials file. `pymdownx.snippets` is the one
include mechanism allowed: dealroom expands it itself, under the confinement rule,
when the deal is loaded. Anything not listed here must be named in the plugin's
`trusted_markdown_extensions` option to be used.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..deal.includes import extension_name

PYTHON_MARKDOWN = (
    "abbr", "admonition", "attr_list", "codehilite", "def_list", "extra", "fenced_code",
    "footnotes", "legacy_attrs", "legacy_em", "md_in_html", "meta", "nl2br", "sane_lists",
    "smarty", "tables", "toc", "wikilinks",
)  # fmt: skip
PYMDOWNX = (
    "arithmatex", "betterem", "blocks.admonition", "blocks.caption", "blocks.definition",
    "blocks.details", "blocks.html", "blocks.tab", "caret", "critic", "details", "emoji",
    "escapeall", "extra", "fancylists", "highlight", "inlinehilite", "keys", "magiclink",
    "mark", "pathconverter", "progressbar", "quotes", "saneheaders", "smartsymbols",
    "snippets", "striphtml", "superfences", "tabbed", "tasklist", "tilde",
)  # fmt: skip
SAFE_EXTENSIONS = frozenset(
    [*PYTHON_MARKDOWN, *(f"markdown.extensions.{name}" for name in PYTHON_MARKDOWN),
     *(f"pymdownx.{name}" for name in PYMDOWNX)]
)  # fmt: skip


def untrusted_extensions(names: Iterable[object], trusted: Iterable[str]) -> list[str]:
    """The configured extensions a deal site may not use, as configured."""
    allowed = SAFE_EXTENSIONS | {extension_name(name) for name in trusted}
    return [
        str(name)
        for name in names
        if not isinstance(name, str) or extension_name(name) not in allowed
    ]
