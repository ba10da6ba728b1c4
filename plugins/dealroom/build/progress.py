"""How far a long run over many deals is, told the way MkDocs tells everything else.

Loading, building and publishing hundreds of deals takes minutes. While it runs, the
seller sees which deal was done last and how many are left:

- on a terminal, a progress bar (rich) drawn on the stream MkDocs logs to, with every log
  record printed above it while it is shown, and nothing left of it afterwards;
- otherwise (CI logs, a pipe), an INFO line each tenth of the way, so that a log stays
  short and, like the rest of the build's output, the same from one run to the next;
- nothing when INFO records are not shown (`mkdocs build -q`, `dealroom publish -q`),
  or for fewer than `SHOWN_FROM` deals, which are done before progress would tell much.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

SHOWN_FROM = 10  # deals

Done = Callable[[str], None]  # one more deal done: its name


@contextmanager
def progress(log: logging.Logger, task: str, total: int) -> Iterator[Done]:
    """Tell how far `task` (e.g. "building deal sites") is over `total` deals: call what
    this yields with each deal's name as it is done."""
    if total < SHOWN_FROM or not log.isEnabledFor(logging.INFO):
        yield lambda name: None
    elif terminal := _terminal_handlers(log):
        with _bar(task, total, terminal) as done:
            yield done
    else:
        yield _in_lines(task, total, log)


def _in_lines(task: str, total: int, log: logging.Logger) -> Done:
    count = tenth = 0

    def done(name: str) -> None:
        nonlocal count, tenth
        count += 1
        if count * 10 // total > tenth and count < total:
            tenth = count * 10 // total
            log.info(f"dealroom: {task}: {count} of {total} done, {total - count} left "
                     f"(last: {name})")  # fmt: skip

    return done


@contextmanager
def _bar(task: str, total: int, handlers: list[logging.StreamHandler[IO[str]]]) -> Iterator[Done]:
    # Imported only for a bar: rich adds about 60 ms to the start of every build.
    from rich.console import Console
    from rich.file_proxy import FileProxy
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    stream = handlers[0].stream
    console = Console(file=stream)
    bar = Progress(
        TextColumn("dealroom: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
        transient=True,  # the summary MkDocs logs next says how it ended
        # No refresh thread: the builds fork workers, and a thread holding a lock at a
        # fork would leave it held in the child. The bar is redrawn as each deal is done.
        auto_refresh=False,
    )
    job = bar.add_task(task, total=total, last="")

    def done(name: str) -> None:
        bar.update(job, advance=1, last=name)
        bar.refresh()

    # Log records (MkDocs' handler writes straight to its stream) go above the bar.
    proxy = FileProxy(console, stream)
    for handler in handlers:
        handler.setStream(proxy)  # type: ignore[arg-type]
    try:
        with bar:
            bar.refresh()
            yield done
    finally:
        proxy.flush()
        for handler in handlers:
            handler.setStream(stream)


def _terminal_handlers(log: logging.Logger) -> list[logging.StreamHandler[IO[str]]]:
    """The handlers that print `log`'s INFO records on a terminal (all on one stream)."""
    found: list[logging.StreamHandler[IO[str]]] = []
    current: logging.Logger | None = log
    while current is not None:
        for handler in current.handlers:
            if (
                type(handler) is logging.StreamHandler  # not a file: a FileHandler is one too
                and handler.level <= logging.INFO
                and _is_terminal(handler.stream)
                and (not found or handler.stream is found[0].stream)
            ):
                found.append(handler)
        current = current.parent if current.propagate else None
    return found


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # closed
        return False
