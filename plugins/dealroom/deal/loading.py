"""Read a deal folder into a validated `Deal`, or into errors a seller can act on.

Every problem names the file, the line and column where known, and the field path
(`stakeholders[2].side`), and says what form is expected. Unknown keys are warnings
with the nearest known key suggested. Nothing here raises for user mistakes except
`DealError`, which carries the full list of problems.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .model import Deal

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# Names a deal folder cannot take because the seller's root site uses them.
RESERVED_SLUGS = frozenset({"assets", "search", "dealroom", "404"})
DEAL_FILE = "deal.yml"
NARRATIVE_PAGES = ("business-case.md", "approach.md")
CONTEXT_DIR = "context"
ASSETS_DIR = "assets"
INTERNAL_DIR = "internal"

Path_ = tuple[str | int, ...]


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
    """A loaded, validated deal with the Markdown pages it publishes."""

    slug: str
    path: Path
    deal: Deal
    narrative: dict[str, str]  # 'business-case.md' / 'approach.md' -> Markdown
    context_pages: dict[str, str]  # 'context/security.md' -> Markdown
    assets: list[str]  # 'assets/diagram.png', relative to the folder
    warnings: list[Problem] = field(default_factory=list)


def discover_deals(deals_dir: Path) -> list[Path]:
    """Deal folders are the sub-folders of `deals_dir` that hold a deal.yml."""
    if not deals_dir.is_dir():
        return []
    return sorted(path for path in deals_dir.iterdir() if (path / DEAL_FILE).is_file())


def load_deal_folder(folder: Path, display_root: Path | None = None) -> DealFolder:
    """Load and validate one deal folder; raise `DealError` listing every problem."""
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
    narrative, context_pages, assets, file_problems, warnings = _collect_files(folder, display_root)
    text = _read_text(folder / DEAL_FILE, problems, display_root)
    deal, yaml_problems, yaml_warnings = (
        parse_deal_yaml(text, shown, list(context_pages)) if text is not None else (None, [], [])
    )
    problems += yaml_problems + file_problems
    warnings = yaml_warnings + warnings
    if problems or deal is None:
        raise DealError(slug, problems, warnings)
    return DealFolder(slug, folder, deal, narrative, context_pages, assets, warnings)


def parse_deal_yaml(
    text: str, shown: str, context_files: list[str] | None = None
) -> tuple[Deal | None, list[Problem], list[Problem]]:
    """Parse deal.yml text into (deal or None, errors, warnings). `context_files` are the
    folder's context pages ("context/legal.md"), which recorded contributions may name."""
    try:
        data, marks, key_marks = _load_yaml_with_marks(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        if isinstance(error, _ImpossibleDate):
            message = f"{error.problem}; write a date that exists, as YYYY-MM-DD"
        else:
            message = f"invalid YAML: {error.problem or 'unreadable'}; check indentation, a "
            message += "missing ':' or unbalanced quotes on or just before this line"
        path = _dotted(getattr(error, "field_path", ()))
        return None, [Problem(shown, message, path, *_line_col(mark))], []
    except yaml.YAMLError as error:
        return None, [Problem(shown, f"invalid YAML: {error}")], []
    if not isinstance(data, dict):
        return (
            None,
            [Problem(shown, "must be a mapping of fields such as 'customer: Northwind'")],
            [],
        )

    def locate(path: Path_, where: Marks = marks) -> tuple[int | None, int | None]:
        while path and path not in where:  # a missing field points at its parent
            path = path[:-1]
        return where.get(path, (None, None))

    warnings = [
        Problem(shown, message, _dotted(path), *locate(path, key_marks))
        for path, message in unknown_keys(data, Deal)
    ]
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
    return (None if problems else deal), problems, warnings


# --- YAML with positions -----------------------------------------------------------


Marks = dict[Path_, tuple[int, int]]


class _ImpossibleDate(yaml.constructor.ConstructorError):
    pass


class _DealYamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's when installed: ten times faster on large deals),
    except that an impossible date (2027-02-30) is a YAML error with its position
    instead of a bare ValueError."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as error:
            raise _ImpossibleDate(
                None, None, f"'{node.value}' is not a real date ({error})", node.start_mark
            ) from None


_DealYamlLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _DealYamlLoader.construct_yaml_timestamp
)


def _load_yaml_with_marks(text: str) -> tuple[Any, Marks, Marks]:
    """Load YAML safely; return the data, where each field is (1-based line and column:
    a scalar's own position, else its key's) and where each key is."""
    loader = _DealYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, {}
        marks, keys = _marks_of(node)
        try:
            data = loader.construct_document(node)
        except yaml.constructor.ConstructorError as error:
            # Name the field too: the composed tree knows which value sits at the mark.
            where = _line_col(error.problem_mark)
            error.field_path = next((p for p, mark in marks.items() if mark == where), ())  # type: ignore[attr-defined]
            raise
    finally:
        loader.dispose()
    return data, marks, keys


def _marks_of(node: yaml.Node) -> tuple[Marks, Marks]:
    """Where each field's value is (a scalar's own position, else its key's) and where
    each key is, by field path."""
    marks: Marks = {}
    keys: Marks = {}

    def walk(current: yaml.Node, path: Path_) -> None:
        marks[path] = _line_col(current.start_mark)
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                child = (*path, key_node.value)
                keys[child] = _line_col(key_node.start_mark)
                walk(value_node, child)
                if not isinstance(value_node, yaml.ScalarNode):
                    marks[child] = keys[child]  # a nested block starts on the next line
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                walk(item, (*path, index))

    walk(node, ())
    return marks, keys


def _line_col(mark: yaml.Mark | None) -> tuple[int | None, int | None]:
    return (mark.line + 1, mark.column + 1) if mark else (None, None)


# --- unknown keys ------------------------------------------------------------------


def unknown_keys(data: Any, model: type[BaseModel], path: Path_ = ()) -> list[tuple[Path_, str]]:
    """Keys in `data` that `model` does not know, with the nearest known key suggested."""
    found: list[tuple[Path_, str]] = []
    if not isinstance(data, dict):
        return found
    known = model.model_fields
    for key, value in data.items():
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
                found += unknown_keys(item, child, (*path, key, index))
        else:
            found += unknown_keys(value, child, (*path, key))
    return found


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


# --- files of the folder -----------------------------------------------------------


def _collect_files(
    folder: Path, display_root: Path | None
) -> tuple[dict[str, str], dict[str, str], list[str], list[Problem], list[Problem]]:
    """Find the Markdown pages and assets a deal publishes. Only these are ever read,
    so `internal/`, stray files and anything outside the folder never reach the site."""
    narrative: dict[str, str] = {}
    context_pages: dict[str, str] = {}
    assets: list[str] = []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    root = folder.resolve()

    def inside(path: Path) -> bool:
        # A symlink could point into another deal; publish only what truly lives here.
        if path.resolve().is_relative_to(root):
            return True
        problems.append(
            Problem(
                shown_path(path, display_root),
                "points outside the deal folder (symlink?); copy the content into the deal "
                "folder instead",
            )
        )
        return False

    for name in NARRATIVE_PAGES:
        path = folder / name
        if path.is_file() and inside(path):
            text = _read_text(path, problems, display_root)
            if text is not None:
                narrative[name] = text
    context_dir = folder / CONTEXT_DIR
    if context_dir.is_dir() and inside(context_dir):
        for path in sorted(context_dir.glob("*.md")):
            text = _read_text(path, problems, display_root) if inside(path) else None
            if text is not None:
                context_pages[f"{CONTEXT_DIR}/{path.name}"] = text
    assets_dir = folder / ASSETS_DIR
    if assets_dir.is_dir() and inside(assets_dir):
        for dirpath, dirnames, filenames in os.walk(assets_dir):
            dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                if not filename.startswith(".") and inside(path):
                    assets.append(path.relative_to(folder).as_posix())
    for path in sorted(folder.glob("*.md")):
        if path.name not in NARRATIVE_PAGES:
            warnings.append(
                Problem(
                    shown_path(path, display_root),
                    "is not published; deal pages are business-case.md, approach.md and "
                    "context/*.md (seller-only notes belong in internal/)",
                )
            )
    return narrative, context_pages, assets, problems, warnings


def _read_text(path: Path, problems: list[Problem], display_root: Path | None) -> str | None:
    """The file's text, or None after recording why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        reason = f"is not UTF-8 text (byte {error.start}); save it with UTF-8 encoding"
    except OSError as error:
        reason = f"cannot be read: {error.strerror}"
    problems.append(Problem(shown_path(path, display_root), reason))
    return None


def shown_path(path: Path, display_root: Path | None) -> str:
    if display_root is not None:
        try:
            return path.relative_to(display_root).as_posix()
        except ValueError:
            pass
    return path.as_posix()
