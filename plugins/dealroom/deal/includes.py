"""Snippet includes (`--8<--`, pymdownx.snippets) expanded when a deal is loaded.

Includes are resolved here, once, by pymdownx's own preprocessor, with one change:
every path it would open goes through the deal's confinement rule (`DealFiles`), and
every byte it includes counts against the page's size budget. The deal site is then built
from the expanded text without the snippets extension, so nothing at build time reads
a file of the deal folder, and `dealroom check` sees every include problem the build
would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import markdown
from pymdownx.snippets import SnippetExtension, SnippetMissingError, SnippetPreprocessor

from .files import DealFiles, Missing, Refused

SNIPPETS = "pymdownx.snippets"


def extension_name(name: str) -> str:
    """A Markdown extension's name however it is spelled in mkdocs.yml:
    `pymdownx.snippets:SnippetExtension` and `markdown.extensions.toc` name the same
    extensions as `pymdownx.snippets` and `toc`."""
    return name.partition(":")[0].removeprefix("markdown.extensions.")


def is_snippets(name: object) -> bool:
    return isinstance(name, str) and extension_name(name) == SNIPPETS


# Options dealroom decides whatever mkdocs.yml says: no downloads, no base paths outside
# the deal, no automatic appends, and a missing include is an error.
FORCED = {
    "url_download": False, "auto_append": [], "check_paths": True, "base_path": ["."],
    "encoding": "utf-8",
}  # fmt: skip


class IncludeError(Exception):
    """An include that cannot be expanded: `target` as written, and why."""

    def __init__(self, target: str, reason: str) -> None:
        shown = target if len(target) <= 80 else target[:77] + "..."
        super().__init__(f"include '{shown}' {reason}")
        self.target = target


@dataclass
class _Budget:
    remaining: int  # bytes the page may still grow by
    limit: int


class _ConfinedSnippets(SnippetPreprocessor):
    """pymdownx's preprocessor, asking the confinement rule for every path. Only
    `get_snippet_path` is overridden (it exists in every pymdownx 10-13): the file it
    returns is a published regular file of the deal, whose size counts against the
    page's budget before pymdownx reads it."""

    def __init__(self, config: dict[str, Any], md: markdown.Markdown, files: DealFiles,
                 budget: _Budget) -> None:  # fmt: skip
        super().__init__(config, md)
        self.files = files
        self.budget = budget
        self.last = ""  # the include being read, for errors raised while reading it

    def get_snippet_path(self, path: str) -> str | None:
        self.last = path
        try:
            real = self.files.published(path)
        except Missing:
            return None  # pymdownx reports it (check_paths): see expand_includes
        except Refused as refusal:
            raise IncludeError(path, str(refusal)) from None
        self.budget.remaining -= real.stat().st_size
        if self.budget.remaining < 0:
            reason = f"makes the page larger than {self.budget.limit:,} bytes (max_file_size)"
            raise IncludeError(path, reason)
        return str(real)


def expand_includes(text: str, files: DealFiles, options: dict[str, Any], max_bytes: int) -> str:
    """`text` with its includes expanded; raises `IncludeError` naming the include."""
    extension = SnippetExtension(**{**_user_options(options), **FORCED})
    md = markdown.Markdown()
    budget = _Budget(max_bytes - len(text.encode()), max_bytes)
    preprocessor = _ConfinedSnippets(extension.getConfigs(), md, files, budget)
    try:
        lines = preprocessor.run(text.split("\n"))
    except SnippetMissingError:
        raise IncludeError(preprocessor.last, "does not exist in the deal folder") from None
    except UnicodeDecodeError as error:
        reason = f"is not UTF-8 text (byte {error.start}); save it with UTF-8 encoding"
        raise IncludeError(preprocessor.last, reason) from None
    except (OSError, RecursionError) as error:
        raise IncludeError(preprocessor.last, f"cannot be read ({error})") from None
    except MemoryError:  # indentation or line ranges repeated without end
        reason = f"makes the page far larger than {max_bytes:,} bytes (max_file_size)"
        raise IncludeError(preprocessor.last, reason) from None
    expanded = "\n".join(lines)
    if len(expanded.encode()) > max_bytes:  # indentation and line ranges count too
        reason = f"makes the page larger than {max_bytes:,} bytes (max_file_size)"
        raise IncludeError(preprocessor.last, reason)
    return expanded


def include_line(text: str, target: str) -> int | None:
    """The line of `text` that includes `target` (1-based), for error messages."""
    for number, line in enumerate(text.split("\n"), start=1):
        if "-8<-" in line and target in line:
            return number
    return None


def _user_options(options: dict[str, Any]) -> dict[str, Any]:
    known = SnippetExtension().getConfigs()
    return {key: value for key, value in options.items() if key in known}
