"""The one rule that decides which files of a deal folder a deal site may read.

A deal site is built only from the files the README lists as published:

    business-case.md, approach.md, context/<name>.md, assets/**

A file counts only by where it really is: its path is resolved (symlinks followed) and
the real path must lie inside the deal's own real folder and itself be one of those
published paths, of the same kind (page or asset) as the name it was reached by. So
`context -> internal`, `approach.md -> internal/notes.md`, `assets/x -> ../deal.yml`,
`context/x.md -> ../assets/x.md` and any link out of the folder are refused, whatever
the name they are reached by. `deal.yml` and `access.yml` are read only as the deal
folder's own regular files, never through a link.

Pages, assets and includes (`--8<--`) all ask `DealFiles`; nothing else in dealroom
opens a file of a deal folder. A refusal names the file and says why.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEAL_FILE = "deal.yml"
ACCESS_FILE = "access.yml"
NARRATIVE_PAGES = ("business-case.md", "approach.md")
CONTEXT_DIR = "context"
ASSETS_DIR = "assets"
INTERNAL_DIR = "internal"
MAX_ASSETS = 10_000  # entries under assets/: a deal room, not a file share
# A context page's name becomes its URL (context/<name>/): plain and unambiguous.
CONTEXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}\.md")
PAGE, ASSET = "page", "asset"
_A = {PAGE: "a", ASSET: "an"}
LOOP = "is a link that loops back on itself; remove the link"
OUTSIDE = "points outside the deal folder (a link?); copy the content into the deal folder"
# File types a browser runs as code when opened: not published unless raw HTML is allowed
# (they would run with the same origin, and so the same cached credentials, as every deal).
# SVG drawings are read instead, and published when inert (see assets.py).
ACTIVE_SUFFIXES = frozenset(
    {".html", ".htm", ".xhtml", ".xht", ".shtml", ".js", ".mjs", ".xml", ".xsl", ".xslt",
     ".svgz"}
)  # fmt: skip
DRAWING_SUFFIXES = frozenset({".svg"})


class Refused(Exception):
    """A deal file that a deal site may not read; `str()` says why, for the seller."""


class Missing(Refused):
    """A deal file that does not exist."""

    def __init__(self) -> None:
        super().__init__("does not exist")


def published_kind(relative: PurePosixPath) -> str | None:
    """PAGE or ASSET for a deal-relative path that a deal site may publish, else None."""
    parts = relative.parts
    if not parts or any(part.startswith(".") for part in parts):
        return None  # hidden files and folders (.git, editor swap files) never count
    if len(parts) == 1:
        return PAGE if parts[0] in NARRATIVE_PAGES else None
    if parts[0] == CONTEXT_DIR:
        return PAGE if len(parts) == 2 and is_context_name(parts[1]) else None
    return ASSET if parts[0] == ASSETS_DIR else None


def is_context_name(name: str) -> bool:
    """Whether `name` may be a context page's file name (it becomes the page's URL)."""
    return bool(CONTEXT_NAME.fullmatch(name)) and name != "index.md"


@dataclass(frozen=True)
class DealFiles:
    """The files of one deal folder, seen through the confinement rule."""

    folder: Path  # as the seller sees it, e.g. deals/northwind
    real: Path  # the folder's real path: everything published lies below it

    @classmethod
    def of(cls, folder: Path) -> DealFiles:
        """The deal folder itself must be a real folder: a link would publish another
        deal's files under this slug, with this slug's viewers."""
        if folder.is_symlink():
            raise Refused("is a link to another folder; a deal folder must be a real folder")
        if not folder.is_dir():
            raise Refused("is not a folder")
        return cls(folder, folder.resolve())

    # --- the rule --------------------------------------------------------------------

    def published(self, relative: str) -> Path:
        """The real path of the deal file at `relative` (deal-relative, as a page or an
        include names it), if a deal site may read it; else raise `Refused`."""
        try:
            real = (self.folder / relative).resolve(strict=True)
        except FileNotFoundError:
            raise Missing() from None
        except RuntimeError:  # Python before 3.13 reports a loop this way
            raise Refused(LOOP) from None
        except OSError as error:  # a loop (ELOOP, Python 3.13+), a path too long
            if error.errno == errno.ELOOP:
                raise Refused(LOOP) from None
            raise Refused(f"cannot be resolved ({_reason(error)}); remove the link") from None
        try:
            inside = PurePosixPath(real.relative_to(self.real).as_posix())
        except ValueError:
            raise Refused(OUTSIDE) from None
        kind = published_kind(inside)
        if kind is None:
            raise Refused(_unpublished_reason(relative, inside))
        wanted = published_kind(PurePosixPath(os.path.normpath(relative)))
        if wanted not in (None, kind):  # e.g. context/x.md -> ../assets/x.md
            raise Refused(
                f"points to {inside.as_posix()}, which is {_A[kind]} {kind}, not {_A[wanted]} "
                f"{wanted}"
            )
        if not stat.S_ISREG(real.stat().st_mode):
            raise Refused("is not a regular file")
        return real

    def folder_problem(self, name: str) -> str | None:
        """Why the folder `name` (context/ or assets/) cannot be read, if it is a link
        that leaves the deal folder or leads into internal/ (one refusal for the folder
        rather than one per file; its files still go through `published`)."""
        path = self.folder / name
        if not path.is_symlink():
            return None
        try:
            inside = path.resolve(strict=True).relative_to(self.real)
        except (OSError, RuntimeError, ValueError):
            return OUTSIDE
        if inside.parts[:1] == (INTERNAL_DIR,):
            return _unpublished_reason(name, PurePosixPath(inside.as_posix()))
        return None

    def read_published(self, relative: str, max_bytes: int) -> str:
        """The text of a published deal file (see `published`)."""
        return read_text(self.published(relative), max_bytes)

    def read_own(self, name: str, max_bytes: int) -> str | None:
        """The text of the folder's own `deal.yml` or `access.yml` (None if absent). These
        are never published and never followed through a link: a linked deal.yml would
        republish another deal, a linked access.yml would grant another deal's viewers."""
        path = self.folder / name
        if path.is_symlink():
            raise Refused(f"is a link; {name} must be the deal folder's own file")
        if not path.exists():
            return None
        if not path.is_file():
            raise Refused("is not a regular file")
        return read_text(path, max_bytes)

    # --- listing ---------------------------------------------------------------------

    def context_pages(self) -> list[str]:
        """`context/<name>.md` for every Markdown file in context/, hidden ones left out."""
        folder = self.folder / CONTEXT_DIR
        if not folder.is_dir():
            return []
        return [
            f"{CONTEXT_DIR}/{entry.name}"
            for entry in sorted(os.scandir(folder), key=lambda entry: entry.name)
            if entry.name.endswith(".md") and not entry.name.startswith(".")
        ]

    def assets(self) -> tuple[list[str], list[tuple[str, str]]]:
        """(published asset paths, [(path, why refused)]). Links to folders are not
        followed (a loop would never end); links to files go through the rule."""
        top = self.folder / ASSETS_DIR
        found: list[str] = []
        refused: list[tuple[str, str]] = []
        if not top.is_dir():
            return found, refused
        pending = [top]
        while pending:
            directory = pending.pop()
            for entry in sorted(os.scandir(directory), key=lambda entry: entry.name):
                if entry.name.startswith("."):
                    continue
                relative = Path(entry.path).relative_to(self.folder).as_posix()
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_symlink() and entry.is_dir():
                    refused.append((relative, "is a link to a folder; copy the files instead"))
                else:
                    try:
                        self.published(relative)
                        found.append(relative)
                    except Refused as refusal:
                        refused.append((relative, str(refusal)))
                if len(found) + len(refused) + len(pending) > MAX_ASSETS:
                    raise Refused(f"{ASSETS_DIR}/ holds more than {MAX_ASSETS:,} files")
        return sorted(found), refused


def read_text(path: Path, max_bytes: int) -> str:
    """A file's UTF-8 text, refused when larger than `max_bytes` or not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise Refused(f"cannot be read: {_reason(error)}") from None
    if len(data) > max_bytes:
        raise Refused(
            f"is larger than {max_bytes:,} bytes (max_file_size); split it or raise the limit"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Refused(
            f"is not UTF-8 text (byte {error.start}); save it with UTF-8 encoding"
        ) from None


def _unpublished_reason(relative: str, inside: PurePosixPath) -> str:
    target = inside.as_posix()
    linked = PurePosixPath(os.path.normpath(relative)) != inside
    where = f"points to {target}, which" if linked else "is a file that"
    if inside.parts and inside.parts[0] == INTERNAL_DIR:
        return f"{where} is seller-only (internal/) and never published"
    if target in (DEAL_FILE, ACCESS_FILE):
        return f"{where} is never published; deal sites show its fields, not the file"
    return (
        f"{where} is not published; deal sites read only business-case.md, approach.md, "
        "context/*.md and assets/"
    )


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
