"""Read a deal folder into a validated `Deal`, or into errors a seller can act on.

Every problem names the file, the line and column where known, and the field path
(`stakeholders[2].side`), and says what form is expected. Unknown keys are warnings
with the nearest known key suggested. Nothing here raises for user mistakes except
`DealError`, which carries the full list of problems.

Loading is bounded whatever the folder holds: files are read only through the
confinement rule (`files.py`) and up to `max_file_size`, YAML without aliases and with
bounded depth (`yamlfile.py`), includes expanded once under the same rule
(`includes.py`). A deal that loads here can be built without reading anything else.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .assets import drawing_problem
from .files import (
    ACTIVE_SUFFIXES,
    ASSETS_DIR,
    CONTEXT_DIR,
    DEAL_FILE,
    DRAWING_SUFFIXES,
    NARRATIVE_PAGES,
    DealFiles,
    Refused,
    is_context_name,
)
from .includes import IncludeError, expand_includes, include_line
from .model import Deal
from .plan import schedule, with_dates
from .yamlfile import Path_, YamlProblem, load_yaml, split_front_matter

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# Names a deal folder cannot take because the seller's root site uses them.
RESERVED_SLUGS = frozenset({"assets", "search", "dealroom", "404"})
MAX_PROBLEMS = 50  # per deal: the first ones show what is wrong; a thousand would bury it


@dataclass(frozen=True)
class LoadOptions:
    """What loading may read and how much (set from the plugin's options)."""

    max_file_size: int = 1_000_000  # bytes of deal.yml, or of a page with its includes
    allow_raw_html: bool = False  # also publish assets that browsers run (.html, .js)
    snippets: dict[str, Any] | None = None  # pymdownx.snippets options, if it is enabled


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in a deal folder."""

    file: str
    message: str
    field: str = ""
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class DealError(Exception):
    """A deal folder that cannot be built; `problems` says why."""

    def __init__(self, slug: str, problems: list[Problem], warnings: list[Problem]) -> None:
        self.slug = slug
        self.problems = problems
        self.warnings = warnings  # reported too: "did you mean" often explains an error
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass(frozen=True)
class DealFolder:
    """A loaded, validated deal with the Markdown pages it publishes (without their front
    matter, with their includes expanded)."""

    slug: str
    path: Path
    deal: Deal
    narrative: dict[str, str]  # 'business-case.md' / 'approach.md' -> Markdown
    context_pages: dict[str, str]  # 'context/security.md' -> Markdown
    assets: list[str]  # 'assets/diagram.png', relative to the folder
    warnings: list[Problem] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # context page -> its title


def discover_deals(deals_dir: Path) -> list[Path]:
    """Deal folders are the sub-folders of `deals_dir` that hold a deal.yml. Links are
    listed too, so that loading can refuse them by name."""
    if not deals_dir.is_dir():
        return []
    return sorted(
        path
        for path in deals_dir.iterdir()
        if not path.name.startswith(".")
        and ((path / DEAL_FILE).is_symlink() or (path / DEAL_FILE).is_file())
    )


def load_deal_folder(
    folder: Path,
    display_root: Path | None = None,
    options: LoadOptions | None = None,
    reading: Callable[[str], None] = lambda name: None,
) -> DealFolder:
    """Load and validate one deal folder; raise `DealError` listing every problem.
    `reading(name)` is told each page before it is read (for a report if it hangs)."""
    options = options or LoadOptions()
    slug = folder.name
    shown = shown_path(folder / DEAL_FILE, display_root)
    problems: list[Problem] = []
    if not SLUG_PATTERN.fullmatch(slug) or slug in RESERVED_SLUGS:
        problems.append(
            Problem(
                shown_path(folder, display_root),
                f"folder name '{slug}' cannot be a deal URL; use lowercase letters, digits and "
                f"dashes (not {', '.join(sorted(RESERVED_SLUGS))}), e.g. 'northwind-ap'",
            )
        )
    try:
        files = DealFiles.of(folder)
    except Refused as refusal:
        problems.append(Problem(shown_path(folder, display_root), str(refusal)))
        raise DealError(slug, problems, []) from None
    try:
        text = files.read_own(DEAL_FILE, options.max_file_size)
    except Refused as refusal:
        problems.append(Problem(shown, str(refusal)))
        raise DealError(slug, problems, []) from None
    pages = _Pages(files, options, display_root, reading)
    pages.collect()
    deal, yaml_problems, yaml_warnings = (
        parse_deal_yaml(text, shown, list(pages.context))
        if text is not None
        else (None, [Problem(shown, "does not exist")], [])
    )
    problems += yaml_problems + pages.problems
    warnings = yaml_warnings + pages.warnings
    if problems or deal is None:
        raise DealError(slug, _capped(problems), _capped(warnings))
    return DealFolder(
        slug, folder, deal, pages.narrative, pages.context, pages.assets, _capped(warnings),
        pages.titles,
    )  # fmt: skip


def parse_deal_yaml(
    text: str, shown: str, context_files: list[str] | None = None
) -> tuple[Deal | None, list[Problem], list[Problem]]:
    """Parse deal.yml text into (deal or None, errors, warnings). `context_files` are the
    folder's context pages ("context/legal.md"), which recorded contributions may name."""
    try:
        loaded = load_yaml(text)
    except YamlProblem as problem:
        return None, [Problem(shown, problem.message, _dotted(problem.path), problem.line,
                              problem.column)], []  # fmt: skip
    data, marks, key_marks = loaded.data, loaded.marks, loaded.key_marks
    if not isinstance(data, dict):
        return (
            None,
            [Problem(shown, "must be a mapping of fields such as 'customer: Northwind'")],
            [],
        )

    def locate(path: Path_, where: dict = marks) -> tuple[int | None, int | None]:
        while path and path not in where:  # a missing field points at its parent
            path = path[:-1]
        return where.get(path, (None, None))

    warnings = [
        Problem(shown, message, _dotted(path), *locate(path, key_marks))
        for path, message in unknown_keys(data, Deal)
    ]
    if len(warnings) > MAX_PROBLEMS:  # unknown_keys stops one past the limit
        warnings[MAX_PROBLEMS:] = [Problem(shown, "... and more unknown keys like these")]
    try:
        deal = Deal.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            path = tuple(item["loc"])
            problems.append(Problem(shown, _explain(item, path), _dotted(path), *locate(path)))
        return None, problems, warnings
    problems = [
        Problem(shown, message, dotted, *locate(_undotted(dotted)))
        for dotted, message in deal.reference_problems(context_files or [])
    ]
    if problems:
        return None, problems, warnings
    # The plan's rules and dependencies: dates resolved, or errors and warnings located.
    planned = schedule(deal)
    problems = [Problem(shown, message, dotted, *locate(_undotted(dotted)))
                for dotted, message in planned.problems]  # fmt: skip
    warnings += [Problem(shown, message, dotted, *locate(_undotted(dotted)))
                 for dotted, message in planned.warnings]  # fmt: skip
    return (None if problems else with_dates(deal, planned.dates)), problems, warnings


def _capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS + 1:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS], Problem(problems[-1].file, f"... and {rest} more like these")]


# --- unknown keys ------------------------------------------------------------------


def unknown_keys(
    data: Any, model: type[BaseModel], path: Path_ = (), limit: int = MAX_PROBLEMS + 1
) -> list[tuple[Path_, str]]:
    """Keys in `data` that `model` does not know, with the nearest known key suggested
    (the first `limit` of them: suggesting costs time, and fifty make the point)."""
    found: list[tuple[Path_, str]] = []
    if not isinstance(data, dict):
        return found
    known = model.model_fields
    for key, value in data.items():
        if len(found) >= limit:
            break
        if key not in known:
            nearest = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
            hint = f"did you mean '{nearest[0]}'?" if nearest else "known keys: " + ", ".join(known)
            found.append(((*path, key), f"unknown key, ignored; {hint}"))
            continue
        child = _model_in(known[key].annotation)
        if child is None:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                found += unknown_keys(item, child, (*path, key, index), limit - len(found))
        else:
            found += unknown_keys(value, child, (*path, key), limit - len(found))
    return found[:limit]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside `Foo`, `list[Foo]`, `Foo | None` or `Annotated[Foo, ...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


# --- error wording -----------------------------------------------------------------

_EXPECTED = {
    "date_from_datetime_parsing": "a date written as YYYY-MM-DD, e.g. 2027-03-31",
    "date_parsing": "a date written as YYYY-MM-DD, e.g. 2027-03-31",
    "date_type": "a date written as YYYY-MM-DD, e.g. 2027-03-31",
    "date_from_datetime_inexact": "a date without a time, written as YYYY-MM-DD",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number without currency symbols or thousands separators, e.g. 480000",
    "float_type": "a number without currency symbols or thousands separators, e.g. 480000",
    "finite_number": "a finite number, e.g. 480000 (not .inf or .nan)",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list (lines starting with '- ')",
    "model_type": "a mapping of fields (indented 'key: value' lines)",
    "model_attributes_type": "a mapping of fields (indented 'key: value' lines)",
    "dict_type": "a mapping of fields (indented 'key: value' lines)",
}


def _explain(item: dict[str, Any], path: Path_) -> str:
    kind = item["type"]
    received = item.get("input")
    if isinstance(received, dt.date):  # also datetimes: show them as they were written
        received = (
            received.isoformat(sep=" ") if isinstance(received, dt.datetime) else str(received)
        )
    got = f" (got {received!r})" if not isinstance(received, dict | list) else ""
    if kind == "missing":
        field_info = _field_info(path)
        what = f"{field_info.description}" if field_info and field_info.description else "a value"
        example = ""
        if field_info and field_info.examples:
            example = f", e.g. '{path[-1]}: {field_info.examples[0]}'"
        return f"required field is missing; add {what}{example}"
    if kind == "literal_error":
        allowed = item.get("ctx", {}).get("expected", "")
        nearest = ""
        if isinstance(received, str):
            options = re.findall(r"'([^']*)'", allowed)
            close = difflib.get_close_matches(received.lower(), options, n=1, cutoff=0.5)
            nearest = f"; did you mean '{close[0]}'?" if close else ""
        return f"must be one of {allowed}{got}{nearest}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}{got}"
    if kind == "value_error":
        return str(item.get("ctx", {}).get("error", item["msg"]))
    if kind == "string_pattern_mismatch" and path and path[-1] == "currency":
        return f"expected a three-letter ISO 4217 currency code such as EUR or USD{got}"
    if kind == "string_too_short":
        return "must not be empty"
    return f"{item['msg'][0].lower()}{item['msg'][1:]}{got}"


def _field_info(path: Path_):  # type: ignore[no-untyped-def]
    """The pydantic FieldInfo at `path` in the Deal model, if the path leads to one."""
    model: type[BaseModel] | None = Deal
    info = None
    for part in path:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = _model_in(info.annotation)
    return info


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _undotted(dotted: str) -> Path_:
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", dotted):
        parts.append(int(index) if index else name)
    return tuple(parts)


# --- the pages and assets of the folder ----------------------------------------------


class _Pages:
    """Find and read the Markdown pages and assets a deal publishes, through the
    confinement rule, so `internal/`, stray files and anything outside the folder never
    reach the site."""

    def __init__(
        self,
        files: DealFiles,
        options: LoadOptions,
        display_root: Path | None,
        reading: Callable[[str], None],
    ) -> None:
        self.reading = reading
        self.files = files
        self.options = options
        self.display_root = display_root
        self.narrative: dict[str, str] = {}
        self.context: dict[str, str] = {}
        self.titles: dict[str, str] = {}
        self.assets: list[str] = []
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def collect(self) -> None:
        for name in NARRATIVE_PAGES:
            if (self.files.folder / name).exists() or (self.files.folder / name).is_symlink():
                body = self._read(name)
                if body is not None:
                    self.narrative[name] = body
        if self._folder_allowed(CONTEXT_DIR):
            for name in self.files.context_pages():
                if not is_context_name(name.split("/", 1)[1]):
                    self._problem(name, "cannot be a page name; use letters, digits, '-' and "
                                  "'_' (not index.md), e.g. context/it-security.md")  # fmt: skip
                    continue
                body = self._read(name)
                if body is not None:
                    self.context[name] = body
        if self._folder_allowed(ASSETS_DIR):
            self._collect_assets()
        for path in sorted(self.files.folder.glob("*.md")):
            if path.name not in NARRATIVE_PAGES:
                self.warnings.append(Problem(
                    self._shown(path.name),
                    "is not published; deal pages are business-case.md, approach.md and "
                    "context/*.md (seller-only notes belong in internal/)",
                ))  # fmt: skip

    def _read(self, name: str) -> str | None:
        """A page's Markdown without front matter and with includes expanded."""
        self.reading(name)
        try:
            text = self.files.read_published(name, self.options.max_file_size)
        except Refused as refusal:
            self._problem(name, str(refusal))
            return None
        body, front_matter, body_line = split_front_matter(text)
        title = None
        if front_matter is not None:
            try:
                meta = load_yaml(front_matter).data
            except YamlProblem as problem:
                line = problem.line + 1 if problem.line else None
                self._problem(name, f"front matter: {problem.message}", line=line)
                return None
            if isinstance(meta, dict) and isinstance(meta.get("title"), str):
                title = meta["title"].strip() or None
        if self.options.snippets is not None:
            try:
                body = expand_includes(
                    body, self.files, self.options.snippets, self.options.max_file_size
                )
            except IncludeError as error:
                line = include_line(body, error.target)
                self._problem(name, str(error), line=line + body_line - 1 if line else None)
                return None
        if name.startswith(CONTEXT_DIR + "/"):
            self.titles[name] = title or _first_heading(body) or _title_from_name(name)
        return body

    def _folder_allowed(self, name: str) -> bool:
        if problem := self.files.folder_problem(name):
            self._problem(name, problem)
            return False
        return (self.files.folder / name).is_dir()

    def _collect_assets(self) -> None:
        try:
            assets, refused = self.files.assets()
        except Refused as refusal:
            self._problem(ASSETS_DIR, str(refusal))
            return
        for name, reason in refused:
            self._problem(name, reason)
        for name in assets:
            suffix = Path(name).suffix.lower()
            if self.options.allow_raw_html:
                self.assets.append(name)
            elif suffix in ACTIVE_SUFFIXES:
                self._problem(name, "is a web page, script or XML document, which would run in "
                              "the deal room; link a PDF or an image instead (or set "
                              "allow_raw_html)")  # fmt: skip
            elif suffix in DRAWING_SUFFIXES and (problem := self._drawing_problem(name)):
                self._problem(name, problem)
            else:
                self.assets.append(name)

    def _drawing_problem(self, name: str) -> str | None:
        try:
            return drawing_problem(self.files.published(name))
        except Refused as refusal:  # changed since it was listed
            return str(refusal)

    def _problem(self, name: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(self._shown(name), message, line=line))

    def _shown(self, name: str) -> str:
        return shown_path(self.files.folder / name, self.display_root)


def _first_heading(markdown: str) -> str | None:
    """The text of the first `# Heading` (no regular expression: lines can be huge)."""
    for line in markdown.split("\n"):
        if line.startswith("# ") or line.startswith("#\t"):
            text = line[2:].strip().rstrip("#").strip()
            if text:
                return text
    return None


def _title_from_name(src_uri: str) -> str:
    stem = src_uri.rsplit("/", 1)[-1].removesuffix(".md")
    return stem.replace("-", " ").replace("_", " ").capitalize()


def shown_path(path: Path, display_root: Path | None) -> str:
    if display_root is not None:
        try:
            return path.relative_to(display_root).as_posix()
        except ValueError:
            pass
    return path.as_posix()
