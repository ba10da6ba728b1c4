"""Git history of the deal folders: one `git log` for all deals, cached by commit.

`read_history` runs a fixed handful of git commands per build, whatever the number of
deals, pages or commits: `rev-parse` for the repository facts, one `log --raw` over the
commits not yet cached, one `cat-file --batch-check` and one `cat-file --batch` for
the deal.yml and Markdown versions those commits touched (up to MAX_BLOB bytes each),
and, when HEAD moved, `merge-base --is-ancestor` to check the cache still belongs to
it. With HEAD unchanged only `rev-parse` runs.

Each commit is reduced to who (author and `Co-authored-by:` trailers), when, its
subject and, per changed file, the sections it changed: for deal.yml the top-level and
business-case / plan keys whose blocks differ between the two versions, for Markdown
the headings whose text differs. Comparing whole versions key by key (rather than
reading diff hunks) makes a change inside `internal:` recognisable as such, so it is
never listed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path, PurePosixPath

from ..deal.i18n import N_

log = logging.getLogger("mkdocs.plugins.dealroom")
# Why history is missing, as a reader is told (translated where shown; any other reason,
# git's own words, is shown as it is).
NOT_A_REPOSITORY = N_("the deals folder is not in a git repository")
NO_COMMITS = N_("the repository has no commits yet")
SHALLOW = N_("this is a shallow clone, so older history is missing")
HISTORY_REASONS = frozenset({NOT_A_REPOSITORY, NO_COMMITS, SHALLOW})

CACHE_VERSION = 1
RECORD, UNIT, TRAILERS = "\x1e", "\x1f", "\x1d"
LOG_FORMAT = "%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f" + (
    "%(trailers:key=Co-authored-by,valueonly,separator=%x1d)"
)
EMPTY_BLOB = "0" * 40
MAX_BLOB = 2_000_000  # bytes of one file version compared for its changed sections
# Keys of deal.yml whose children are reported as sections of their own.
NESTED_SECTIONS = ("business_case", "mutual_action_plan")
YAML_KEY = re.compile(r"^ *([A-Za-z_][A-Za-z0-9_]*)\s*:(?:\s|$)")


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class FileChange:
    """One file a commit touched and the sections of it that changed."""

    path: str  # repository-relative; for a rename, the new path
    old_path: str | None = None  # set for renames and copies
    sections: tuple[str, ...] = ()  # deal.yml keys ("business_case.problem") or headings


@dataclass(frozen=True)
class Commit:
    sha: str
    author: Person
    co_authors: tuple[Person, ...]
    date: str  # author date, ISO 8601 with offset
    subject: str
    files: tuple[FileChange, ...]


@dataclass
class RepositoryHistory:
    """The commits touching the deals folder, newest first, or why there are none."""

    commits: list[Commit] = field(default_factory=list)
    prefix: str = ""  # the deals folder, relative to the repository root
    available: bool = True
    partial: bool = False  # a shallow clone: older commits are missing
    reason: str = ""  # why history is unavailable or partial, for the reader
    head: str = ""  # the commit it was read from ("": not known)
    boundary: str = ""  # where a shallow clone's history stops

    @property
    def identity(self) -> str | None:
        """What tells this history from any other (the same commits read the same way),
        for what is kept between builds; None if that cannot be told."""
        if not self.available:
            return f"unavailable: {self.reason}"
        return f"{self.head} {self.prefix!r} {self.boundary}" if self.head else None


# --- running git -------------------------------------------------------------------


class _GitUnavailable(Exception):
    pass


def _git(repo: Path, *args: str, stdin: str | None = None) -> bytes:
    try:
        result = subprocess.run(
            ["git", "-c", "core.quotePath=false", *args], cwd=repo, input=(
                stdin.encode() if stdin is not None else None
            ), capture_output=True, check=False,
        )  # fmt: skip
    except FileNotFoundError:
        raise _GitUnavailable("git is not installed") from None
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise _GitUnavailable(lines[-1] if lines else f"git {args[0]} failed")
    return result.stdout


def read_history(deals_dir: Path, cache_file: Path | None = None) -> RepositoryHistory:
    """History of everything under `deals_dir`; never raises for a missing git or repo."""
    try:
        facts = _git(
            deals_dir, "rev-parse", "--show-toplevel", "--is-shallow-repository",
            "--git-path", "shallow",
        )  # fmt: skip
        top, shallow, shallow_file = facts.decode().split("\n")[:3]
        head = _git(deals_dir, "rev-parse", "--verify", "-q", "HEAD").decode().strip()
    except _GitUnavailable as error:
        reason = str(error)
        if "not a git repository" in reason:
            reason = NOT_A_REPOSITORY
        elif "rev-parse" in reason or "HEAD" in reason:
            reason = NO_COMMITS
        return RepositoryHistory(available=False, reason=reason)
    top_path = Path(top)
    prefix = deals_dir.resolve().relative_to(top_path.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix
    # A shallow clone's history is incomplete: never reuse it once the clone is deepened
    # (its boundary, the commits .git/shallow lists, moves; HEAD need not).
    if shallow == "true":
        shallow = f"true {_boundary(deals_dir / shallow_file)}"
    scope = {"version": CACHE_VERSION, "top": top, "prefix": prefix, "shallow": shallow}
    cached = _load_cache(cache_file, scope)
    try:
        commits = _commits_since(top_path, prefix, head, cached)
    except _GitUnavailable as error:
        return RepositoryHistory(available=False, reason=f"git failed: {error}")
    if not cached or cached["head"] != head:
        _save_cache(cache_file, scope, head, commits)
    partial = shallow.startswith("true")
    reason = SHALLOW if partial else ""
    return RepositoryHistory(
        commits=commits, prefix=prefix, partial=partial, reason=reason, head=head,
        boundary=shallow if partial else "",
    )  # fmt: skip


def _boundary(shallow_file: Path) -> str:
    """A digest of the commits a shallow clone's history stops at."""
    try:
        listed = sorted(shallow_file.read_text(encoding="ascii", errors="replace").split())
    except OSError:
        listed = []
    return hashlib.sha256(" ".join(listed).encode()).hexdigest()[:16]


def _commits_since(top: Path, prefix: str, head: str, cached: dict | None) -> list[Commit]:
    if cached and cached["head"] == head:
        return cached["commits"]
    if cached:
        try:
            _git(top, "merge-base", "--is-ancestor", cached["head"], head)
        except _GitUnavailable:
            cached = None  # history was rewritten (rebase, reset): read it all again
    revisions = f"{cached['head']}..{head}" if cached else head
    output = _git(
        top, "log", "-z", f"--format={LOG_FORMAT}", "--raw", "--no-abbrev", "--find-renames",
        revisions, "--", prefix or ".",
    ).decode("utf-8", errors="replace")  # fmt: skip
    raw = parse_log(output)
    blobs = _read_blobs(
        top,
        {sha for _, changes in raw for change in changes if _compared(change[0])
         for sha in change[2:]},
    )  # fmt: skip
    commits = [
        replace(commit, files=tuple(_file_change(*change, blobs) for change in changes))
        for commit, changes in raw
    ]
    return commits + (cached["commits"] if cached else [])


# --- parsing `git log -z --raw` ----------------------------------------------------

RawChange = tuple[str, str | None, str, str]  # path, old path, old blob, new blob


def parse_log(output: str) -> list[tuple[Commit, list[RawChange]]]:
    """Commits (without sections yet) and their raw file changes, newest first."""
    parsed = []
    for record in output.split(RECORD)[1:]:
        header, _, raw = record.partition("\0")
        sha, name, email, date, subject, trailers = header.split(UNIT)
        co_authors = tuple(
            person for value in trailers.split(TRAILERS) if (person := _trailer_person(value))
        )
        commit = Commit(sha, Person(name, email), co_authors, date, subject, ())
        parsed.append((commit, _parse_raw(raw)))
    return parsed


def _trailer_person(value: str) -> Person | None:
    """`Name <email>` from a Co-authored-by trailer. String methods, not a regular
    expression: a commit message is anyone's input, and a long one must not backtrack."""
    value = value.strip()
    if not value.endswith(">") or "<" not in value:
        return None
    name, _, email = value[:-1].rpartition("<")
    return Person(name.strip(), email) if ">" not in email else None


def _parse_raw(raw: str) -> list[RawChange]:
    """`:old_mode new_mode old_blob new_blob STATUS\0path\0[new_path\0]` entries."""
    tokens = raw.lstrip("\n").split("\0")
    changes: list[RawChange] = []
    index = 0
    while index < len(tokens) and tokens[index].startswith(":"):
        _old_mode, _new_mode, old_blob, new_blob, status = tokens[index][1:].split()
        if status[0] in "RC":
            old_path, path = tokens[index + 1], tokens[index + 2]
            index += 3
        else:
            old_path, path = None, tokens[index + 1]
            index += 2
        changes.append((path, old_path, old_blob, new_blob))
    return changes


def _read_blobs(top: Path, shas: set[str]) -> dict[str, str]:
    """The text of many file versions: their sizes in one `git cat-file --batch-check`,
    then those up to MAX_BLOB in one `git cat-file --batch`. A larger version (a page
    that was never publishable) is compared as if empty rather than held in memory."""
    wanted = sorted(shas - {EMPTY_BLOB})
    if not wanted:
        return {}
    sizes = _git(top, "cat-file", "--batch-check", stdin="\n".join(wanted) + "\n")
    wanted = [
        sha for sha, kind, *size in (line.split() for line in sizes.decode().splitlines())
        if kind == "blob" and int(size[0]) <= MAX_BLOB
    ]  # fmt: skip
    if not wanted:
        return {}
    output = _git(top, "cat-file", "--batch", stdin="\n".join(wanted) + "\n")
    blobs: dict[str, str] = {}
    position = 0
    while position < len(output):
        header_end = output.index(b"\n", position)
        sha, kind, *size = output[position:header_end].decode().split()
        position = header_end + 1
        if kind == "missing":
            continue  # e.g. beyond the edge of a shallow clone
        length = int(size[0])
        blobs[sha] = output[position : position + length].decode("utf-8", errors="replace")
        position += length + 1
    return blobs


# --- what changed --------------------------------------------------------------------


def _compared(path: str) -> bool:
    """Whether a file's versions are compared section by section (deal.yml, Markdown);
    other files (images, PDFs) are never read from history."""
    name = PurePosixPath(path).name
    return name == "deal.yml" or name.endswith(".md")


def _file_change(
    path: str, old_path: str | None, old_blob: str, new_blob: str, blobs: dict[str, str]
) -> FileChange:
    old, new = blobs.get(old_blob, ""), blobs.get(new_blob, "")
    name = PurePosixPath(path).name
    if name == "deal.yml":
        sections = yaml_sections(old, new)
    elif name.endswith(".md"):
        sections = markdown_sections(old, new)
    else:
        sections = ()
    return FileChange(path, old_path, sections)


def yaml_sections(old_text: str, new_text: str) -> tuple[str, ...]:
    """deal.yml keys whose blocks differ between two versions; the business case and the
    plan are compared one level deeper. Text, not parsed YAML, is compared: thousands of
    versions are compared in milliseconds, and a key's block is exactly its lines."""
    old, new = _top_level_blocks(old_text), _top_level_blocks(new_text)
    sections: list[str] = []
    for key in dict.fromkeys([*old, *new]):
        old_block, new_block = old.get(key, []), new.get(key, [])
        if not key or old_block == new_block:
            continue  # "" holds the comments above the first key
        if key in NESTED_SECTIONS:
            old_children, new_children = _key_blocks(old_block[1:]), _key_blocks(new_block[1:])
            children = [
                f"{key}.{child}"
                for child in dict.fromkeys([*old_children, *new_children])
                if old_children.get(child) != new_children.get(child)
            ]
            sections += children or [key]
        else:
            sections.append(key)
    return tuple(sections)


@lru_cache(maxsize=1024)
def _top_level_blocks(text: str) -> dict[str, list[str]]:
    """`_key_blocks` of a whole version: each version is compared twice (with the one
    before and the one after), so it is split once. Callers only read the result."""
    return _key_blocks(text.splitlines())


def _key_blocks(lines: list[str]) -> dict[str, list[str]]:
    """Split YAML mapping lines into {key: its lines} at the shallowest key indentation.
    Anything before the first key is kept under ""."""
    # Each line's key (if it starts one) and indentation, matched once.
    keyed = [(m.group(1), len(line) - len(line.lstrip(" "))) if (m := YAML_KEY.match(line))
             else (None, 0) for line in lines]  # fmt: skip
    levels = [level for key, level in keyed if key is not None]
    if not levels:
        return {"": lines} if lines else {}
    indent = min(levels)
    blocks: dict[str, list[str]] = {}
    current = ""
    for line, (key, level) in zip(lines, keyed, strict=True):
        if key is not None and level == indent:
            current = key
        blocks.setdefault(current, []).append(line.rstrip())
    for block in blocks.values():
        # Blank and comment lines at a block's end usually introduce the next key, so
        # they are not part of this one (adding `# notes` + `internal:` changes nothing).
        while block and (not block[-1].strip() or block[-1].lstrip().startswith("#")):
            block.pop()
    return blocks


def markdown_sections(old_text: str, new_text: str) -> tuple[str, ...]:
    """Headings (or "" for text before the first heading) whose text differs."""
    old, new = _by_heading(old_text), _by_heading(new_text)
    return tuple(
        heading for heading in dict.fromkeys([*new, *old]) if old.get(heading) != new.get(heading)
    )


def _heading(line: str) -> str | None:
    """The text of an ATX heading line (`## Terms ##` -> "Terms"), else None. String
    methods, not a regular expression: committed lines can be very long."""
    marks = len(line) - len(line.lstrip("#"))
    if not 1 <= marks <= 6 or line[marks : marks + 1] not in (" ", "\t"):
        return None
    text = line[marks:].strip(" \t").rstrip("#").rstrip(" \t")
    return text or None


def _by_heading(text: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in text.splitlines():
        if (heading := _heading(line)) is not None:
            current = heading
            sections.setdefault(current, [])
        sections[current].append(line)
    return {heading: "\n".join(lines) for heading, lines in sections.items() if lines}


# --- cache -------------------------------------------------------------------------


def _load_cache(cache_file: Path | None, scope: dict[str, str | int]) -> dict | None:
    """The cached head and commits, if the cache was written for this same scope."""
    if cache_file is None or not cache_file.is_file():
        return None
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
        if data.get("scope") != scope:
            return None
        return {"head": data["head"], "commits": [_commit_from_json(c) for c in data["commits"]]}
    except (OSError, ValueError, KeyError, TypeError):
        log.debug("dealroom: ignoring an unreadable history cache", exc_info=True)
        return None


def _save_cache(
    cache_file: Path | None, scope: dict[str, str | int], head: str, commits: Iterable[Commit]
) -> None:
    if cache_file is None:
        return
    data = {"scope": scope, "head": head, "commits": [asdict(commit) for commit in commits]}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        temporary.replace(cache_file)  # never leave a half-written cache behind
    except OSError as error:
        log.debug(f"dealroom: cannot write the history cache: {error}")


def _commit_from_json(data: dict) -> Commit:
    return Commit(
        sha=data["sha"],
        author=Person(**data["author"]),
        co_authors=tuple(Person(**person) for person in data["co_authors"]),
        date=data["date"],
        subject=data["subject"],
        files=tuple(
            FileChange(f["path"], f["old_path"], tuple(f["sections"])) for f in data["files"]
        ),
    )


def relative_to(path: str, folder: str) -> str | None:
    """`path` relative to `folder` (both repository-relative and normalised, as git and
    `as_posix` write them), or None if outside. By string: the contributor log asks this
    for every file of every commit, and pathlib's objects cost 20 times as much."""
    if path == folder:
        return "."
    return path[len(folder) + 1 :] if path.startswith(folder + "/") else None
