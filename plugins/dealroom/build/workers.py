"""Run one job per deal in its own process, each with a time and memory budget.

A deal's Markdown can be pathological: a regular expression backtracking inside C
cannot be interrupted from Python, so a deal that must not hold up the others has to
run where it can be stopped. Each job runs in a forked child (which starts with the
parent's compiled theme templates already in memory); the parent kills a child that
outlives `time_limit` seconds, and caps its address space so that one deal cannot
exhaust the machine. A job's effects are confined to its own process, so nothing one
deal's build leaves in memory reaches the next.

The child relays its log records to the parent, which re-emits them with the job's
outcome in job order, so output is deterministic and `mkdocs build --strict` counts
every warning. Where `fork` is unavailable (Windows), jobs run in-process, one after
another, without a time limit.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

MEMORY_BUDGET = 2 * 1024**3  # bytes a job may add to the parent's address space
WATCHED = "mkdocs"  # the logger tree whose records are relayed (MkDocs' and ours)

Step = Callable[[str], None]  # a job tells what it is working on, for timeout messages


@dataclass(frozen=True)
class Job:
    key: str  # e.g. the deal's slug
    run: Callable[[Step], Any]  # runs in the child; its return value must pickle


@dataclass
class Outcome:
    key: str
    result: Any = None
    error: str | None = None  # why the job failed, in a sentence
    timed_out: bool = False
    step: str = ""  # what the job said it was working on last
    records: list[tuple[str, int, str]] = field(default_factory=list)  # logger, level, text

    @property
    def ok(self) -> bool:
        return self.error is None


def run_jobs(jobs: Sequence[Job], workers: int, time_limit: float) -> Iterator[Outcome]:
    """Run `jobs`, at most `workers` at once; iterate for their outcomes in job order.
    The first workers start at once, so the caller can do other work while they run
    (where there is no fork, each job runs in this process as its outcome is asked for);
    `close()` the iterator (`contextlib.closing`) to stop whatever still runs."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return (_run_here(job) for job in jobs)  # each job as its outcome is asked for
    return _Pool(jobs, max(1, workers), time_limit)


def describe(error: BaseException) -> str:
    """A failure in a sentence a seller can act on (never a traceback)."""
    if isinstance(error, RecursionError):
        return "it is nested too deeply to render (lists, quotes or brackets, hundreds deep)"
    if isinstance(error, MemoryError):
        return "it needs more memory than one deal may use"
    return str(error) or type(error).__name__


# --- in the parent ------------------------------------------------------------------


@dataclass
class _Running:
    job: Job
    process: Any  # multiprocessing's Process
    connection: Connection
    deadline: float
    outcome: Outcome


class _Pool:
    """The forked workers of one `run_jobs`: an iterator of outcomes in job order."""

    def __init__(self, jobs: Sequence[Job], workers: int, time_limit: float) -> None:
        self.pending = list(jobs)
        self.order = [job.key for job in jobs]
        self.workers = workers
        self.time_limit = time_limit
        self.context = multiprocessing.get_context("fork")
        self.running: dict[Connection, _Running] = {}
        self.finished: dict[str, Outcome] = {}
        # Every object of the parent (hundreds of loaded deals) is the children's too,
        # shared until written to: frozen, a child's garbage collector leaves them alone
        # instead of walking (and so copying) all of them. Collectable again once the
        # jobs are done (`close`); someone else's freeze is theirs to undo.
        self.undo_freeze = bool(self.pending) and not gc.get_freeze_count()
        if self.pending:
            gc.freeze()
        try:
            self._start_more()
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> _Pool:
        return self

    def __next__(self) -> Outcome:
        if not self.order:
            self.close()
            raise StopIteration
        key = self.order.pop(0)
        while key not in self.finished:
            self._start_more()
            self._wait()
        return self.finished.pop(key)

    def close(self) -> None:
        """Stop every worker still running (the caller stopped early, or Ctrl-C)."""
        for running in self.running.values():
            running.process.kill()
            running.process.join()
        self.running.clear()
        self.pending.clear()
        self.order.clear()
        if self.undo_freeze:
            self.undo_freeze = False
            gc.unfreeze()

    def _start_more(self) -> None:
        while self.pending and len(self.running) < self.workers:
            job = self.pending.pop(0)
            receiver, sender = self.context.Pipe(duplex=False)
            process = self.context.Process(target=_child, args=(job, sender), daemon=True)
            process.start()
            sender.close()
            deadline = time.monotonic() + self.time_limit
            self.running[receiver] = _Running(job, process, receiver, deadline, Outcome(job.key))

    def _wait(self) -> None:
        deadline = min(running.deadline for running in self.running.values())
        ready = wait(list(self.running), timeout=max(0.0, deadline - time.monotonic()))
        for connection in ready:
            self._receive(self.running[connection])  # type: ignore[index]
        now = time.monotonic()
        for running in list(self.running.values()):
            if running.deadline <= now:
                running.process.kill()
                running.outcome.timed_out = True
                running.outcome.error = f"it took longer than {self.time_limit:g} s"
                self._finish(running)

    def _receive(self, running: _Running) -> None:
        outcome = running.outcome
        try:
            while running.connection.poll():
                kind, *values = running.connection.recv()
                if kind == "log":
                    outcome.records.append(tuple(values))  # type: ignore[arg-type]
                elif kind == "step":
                    outcome.step = values[0]
                elif kind == "done":
                    outcome.result = values[0]
                elif kind == "failed":
                    outcome.error = values[0]
        except (EOFError, OSError):
            if outcome.result is None and outcome.error is None:
                running.process.join()
                code = running.process.exitcode
                outcome.error = f"its build stopped unexpectedly (exit code {code})"
            self._finish(running)

    def _finish(self, running: _Running) -> None:
        running.process.join()
        running.connection.close()
        del self.running[running.connection]
        self.finished[running.job.key] = running.outcome


# --- in the child -------------------------------------------------------------------


class _Relay(logging.Handler):
    def __init__(self, connection: Connection) -> None:
        super().__init__(logging.NOTSET)
        self.connection = connection

    def emit(self, record: logging.LogRecord) -> None:
        self.connection.send(("log", record.name, record.levelno, record.getMessage()))


def _child(job: Job, connection: Connection) -> None:
    gc.enable()  # the parent pauses its collector while it builds (see plugin.py)
    _limit_memory()
    watched = logging.getLogger(WATCHED)
    for handler in list(watched.handlers):
        watched.removeHandler(handler)
    watched.addHandler(_Relay(connection))
    watched.propagate = False
    try:
        result = job.run(lambda step: connection.send(("step", step)))
        connection.send(("done", result))
    except BaseException as error:  # reported to the parent, never raised
        connection.send(("failed", describe(error)))
    finally:
        connection.close()


def _limit_memory() -> None:
    try:
        import resource

        with open("/proc/self/statm", encoding="ascii") as statm:
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = in_use + MEMORY_BUDGET
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no resource module: the time limit still applies


def _run_here(job: Job) -> Outcome:
    outcome = Outcome(job.key)

    def step(text: str) -> None:
        outcome.step = text

    paused = not gc.isenabled()
    gc.enable()  # as in a child: a deal's build leaves garbage, and deals take turns here
    try:
        outcome.result = job.run(step)
    except Exception as error:
        outcome.error = describe(error)
    finally:
        if paused:
            gc.disable()
    return outcome
