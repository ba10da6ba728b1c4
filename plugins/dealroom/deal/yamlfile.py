"""YAML that a deal folder may contain: safe, bounded, and with positions for errors.

Every YAML text dealroom reads from a deal folder (deal.yml, Markdown front matter,
access files) goes through `load_yaml`, which first walks the parser's event stream,
in linear time and without building anything, and refuses what could make loading
slow, huge or ambiguous:

- anchors and aliases (`&name`, `*name`): an alias "billion laughs" expands a few lines
  into gigabytes and a recursive alias never ends; deal files are short, write values out;
- nesting deeper than `MAX_DEPTH` levels;
- keys that are lists or mappings (`? [a, b]`): fields are names;
- the same key twice in one mapping: the second would silently win.

Only then is the text composed and constructed, with the position of every field kept
so that later errors can name the line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_DEPTH = 24  # deal.yml needs 6; `internal:` notes may nest a little more

Path_ = tuple[str | int, ...]
Marks = dict[Path_, tuple[int, int]]


@dataclass(frozen=True)
class YamlProblem(Exception):
    """Why a YAML text was refused, with where (1-based) and the field path."""

    message: str
    line: int | None = None
    column: int | None = None
    path: Path_ = ()

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class LoadedYaml:
    data: Any
    marks: Marks  # field path -> where its value is (a scalar's own position, else its key's)
    key_marks: Marks  # field path -> where its key is


class _ImpossibleDate(yaml.constructor.ConstructorError):
    pass


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's when installed: ten times faster on large deals),
    except that an impossible date (2027-02-30) is a YAML error with its position
    instead of a bare ValueError."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as error:
            raise _ImpossibleDate(
                None, None, f"'{node.value}' is not a real date ({error})", node.start_mark
            ) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more digits than Python converts
            raise yaml.constructor.ConstructorError(
                None, None, "not a usable number (too many digits)", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def load_yaml(text: str) -> LoadedYaml:
    """Load one YAML document safely; raise `YamlProblem` for anything refused or broken."""
    try:
        _check_events(text)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return LoadedYaml(None, {}, {})
            marks, key_marks = _marks_of(node)
            try:
                data = loader.construct_document(node)
            except yaml.constructor.ConstructorError as error:
                # Name the field too: the composed tree knows which value sits at the mark.
                where = _line_col(error.problem_mark)
                path = next((p for p, mark in marks.items() if mark == where), ())
                raise YamlProblem(_message(error), *where, path) from None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise YamlProblem(_message(error), *_line_col(mark)) from None
    except yaml.YAMLError as error:
        raise YamlProblem(f"invalid YAML: {error}") from None
    return LoadedYaml(data, marks, key_marks)


def split_front_matter(text: str) -> tuple[str, str | None, int]:
    """(body, front matter YAML or None, the line the body starts on). Front matter is a
    block between a first line `---` and the next line that is `---` or `...`."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return text, None, 1
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            return "\n".join(lines[index + 1 :]), "\n".join(lines[1:index]), index + 2
    return text, None, 1


# --- the event walk ----------------------------------------------------------------


@dataclass
class _Collection:
    path: Path_
    is_mapping: bool
    key: str | int = -1  # the current key (mappings) or index (sequences)
    expecting_key: bool = True  # mappings: the next node is a key
    seen: dict[str, int] = field(default_factory=dict)  # mappings: key -> its line


def _check_events(text: str) -> None:
    loader = _Loader(text)
    stack: list[_Collection] = []
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.NodeEvent):
                _enter_node(event, stack)
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise _refused(
                    event, stack, "anchors and aliases (&name, *name) are not supported in "
                    "dealroom's YAML files; write the value out in full",
                )  # fmt: skip
            if isinstance(event, yaml.CollectionStartEvent):
                path = _child_path(stack)
                stack.append(_Collection(path, isinstance(event, yaml.MappingStartEvent)))
                if len(stack) > MAX_DEPTH:
                    problem = _refused(event, stack, f"nested more than {MAX_DEPTH} levels deep")
                    raise YamlProblem(problem.message, problem.line, problem.column, path[:3])
            elif isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
    finally:
        loader.dispose()


def _enter_node(event: yaml.NodeEvent, stack: list[_Collection]) -> None:
    """Advance the parent collection past one node; check mapping keys."""
    if not stack:
        return
    parent = stack[-1]
    if not parent.is_mapping:
        parent.key = int(parent.key) + 1
        return
    if parent.expecting_key:
        if isinstance(event, yaml.AliasEvent):
            return  # refused by the caller, with its own message
        if not isinstance(event, yaml.ScalarEvent):
            message = "a key must be a plain name, not a list or mapping"
            raise YamlProblem(message, *_line_col(event.start_mark), parent.path)
        line = event.start_mark.line + 1
        if event.value in parent.seen:
            parent.key = event.value
            raise _refused(
                event, stack, f"duplicate key '{event.value}': it is also on line "
                f"{parent.seen[event.value]}; keep one of the two",
            )  # fmt: skip
        parent.seen[event.value] = line
        parent.key = event.value
    parent.expecting_key = not parent.expecting_key


def _child_path(stack: list[_Collection]) -> Path_:
    if not stack:
        return ()
    parent = stack[-1]
    return (*parent.path, parent.key)


def _refused(event: yaml.Event, stack: list[_Collection], message: str) -> YamlProblem:
    """The problem at `event`, with the field path of the node it belongs to."""
    if not stack:
        return YamlProblem(message, *_line_col(event.start_mark))
    current = stack[-1]
    path = current.path if current.key == -1 else (*current.path, current.key)
    return YamlProblem(message, *_line_col(event.start_mark), path)


# --- positions ---------------------------------------------------------------------


def _marks_of(node: yaml.Node) -> tuple[Marks, Marks]:
    """Where each field's value is (a scalar's own position, else its key's) and where
    each key is, by field path. Depth is bounded by `_check_events`."""
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


def _message(error: yaml.MarkedYAMLError) -> str:
    if isinstance(error, _ImpossibleDate):
        return f"{error.problem}; write a date that exists, as YYYY-MM-DD"
    if "nesting depth" in str(error.problem):  # libyaml's own limit, met while scanning ahead
        return f"nested more than {MAX_DEPTH} levels deep"
    if isinstance(error, yaml.constructor.ConstructorError):
        if "for the tag" in str(error.problem):
            return "tags such as !!python/... or !include are not supported; write plain values"
        return str(error.problem)
    message = f"invalid YAML: {error.problem or 'unreadable'}; check indentation, a "
    return message + "missing ':' or unbalanced quotes on or just before this line"
