"""Run one job per deal in worker processes, each job with a time and memory budget.

A deal's Markdown can be pathological: a regular expression backtracking inside C
cannot be interrupted from Python, so a deal that must not hold up the others has to
run where it can be stopped. Jobs run in forked workers (which start with the parent's
compiled theme templates and loaded deals already in memory), one job at a time: the
parent hands a worker its next job as it takes the last one's outcome, and kills a
worker whose job outlives `time_limit` seconds. Each job may add `MEMORY_BUDGET` bytes
to its worker's address space, so that one deal cannot exhaust the machine. On Linux,
workers end with the parent, however it ends.

A worker takes jobs in turn, since forking one per job costs more than many a job: the
child copies, page by page, every shared object it touches (Python's reference counts
are writes), and is set up and torn down. Jobs are written to keep nothing between
them (each deal's build has its own configuration, plugins and pages); a worker whose
job failed or ran out of time is never given another, and each is replaced after
`JOBS_PER_WORKER` jobs, or once its jobs left more than a budget of memory behind.

The worker relays its log records to the parent, which re-emits them with the job's
outcome in job order, so output is deterministic and `mkdocs build --strict` counts
every warning. Where `fork` is unavailable (Windows), jobs run in-process, one after
another, without a time limit.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

MEMORY_BUDGET = 2 * 1024**3  # bytes a job may add to its worker's address space
PR_SET_PDEATHSIG = 1  # Linux's prctl(2): a signal for this process when its parent dies
JOBS_PER_WORKER = 32  # then a fresh worker: what Python keeps of freed memory stays small
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
    The first workers start at once, each on a job, so the caller can do other work while
    they run; the next jobs are handed out as the caller asks for outcomes (where there
    is no fork, each job runs in this process as its outcome is asked for). `close()` the
    iterator (`contextlib.closing`) to stop whatever still runs."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return (_run_here(job) for job in jobs)  # each job as its outcome is asked for
    return _Pool(jobs, max(1, workers), time_limit)


@contextmanager
def frozen_objects() -> Iterator[None]:
    """Every object alive now, left alone by Python's collector until the end: frozen
    (`gc.freeze`), unless someone else froze objects already (theirs to undo)."""
    thaw = not gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if thaw:
            gc.unfreeze()


def describe(error: BaseException) -> str:
    """A failure in a sentence a seller can act on (never a traceback)."""
    if isinstance(error, RecursionError):
        return "it is nested too deeply to render (lists, quotes or brackets, hundreds deep)"
    if isinstance(error, MemoryError) or (
        isinstance(error, OSError) and error.errno == errno.ENOMEM
    ):
        return "it needs more memory than one deal may use"
    return str(error) or type(error).__name__


# --- in the parent ------------------------------------------------------------------


@dataclass
class _Worker:
    process: Any  # multiprocessing's Process
    connection: Connection  # both ways: job numbers out, messages back
    jobs_done: int = 0
    job: Job | None = None  # the job it runs now; None once it reported
    deadline: float = 0.0
    outcome: Outcome | None = None


class _Pool:
    """The forked workers of one `run_jobs`: an iterator of outcomes in job order. Every
    worker it keeps has a job: one whose outcome it takes is handed the next, or
    stopped."""

    def __init__(self, jobs: Sequence[Job], workers: int, time_limit: float) -> None:
        self.jobs = list(jobs)  # the workers have them from the fork: sent by number
        self.order = [job.key for job in jobs]
        if len(set(self.order)) < len(self.order):
            raise ValueError("every job needs a key of its own")
        self.pending = list(range(len(self.jobs)))
        self.workers = workers
        self.time_limit = time_limit
        self.context = multiprocessing.get_context("fork")
        self.running: dict[Connection, _Worker] = {}
        self.finished: dict[str, Outcome] = {}
        self.frozen = ExitStack()  # the parent's objects, frozen before each fork
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
        self._wait(at_most=0.0)  # what came meanwhile: those workers get their next jobs
        while key not in self.finished:
            self._start_more()
            self._wait()
        self._start_more()
        return self.finished.pop(key)

    def close(self) -> None:
        """Stop every worker still running (the caller stopped early, or Ctrl-C)."""
        for worker in list(self.running.values()):
            self._stop(worker)
        self.pending.clear()
        self.order.clear()
        self.frozen.close()

    def _start_more(self) -> None:
        """Fork workers up to the limit, each starting on the next job."""
        while self.pending and len(self.running) < self.workers:
            number = self.pending[0]
            receiver, sender = self.context.Pipe(duplex=True)
            # Every object of the parent (hundreds of loaded deals) is the children's
            # too, shared until written to: frozen, a child's garbage collector leaves
            # them alone instead of walking (and so copying) all of them. Again before
            # each fork, for what the parent made since (results). Collectable again once
            # the jobs are done (`close`).
            self.frozen.enter_context(frozen_objects())
            # Linux ends a worker when the thread that forked it ends: asked for only
            # where that thread is the main one, whose end is the process's.
            ends_with_parent = threading.current_thread() is threading.main_thread()
            process = self.context.Process(
                target=_work,
                args=(self.jobs, number, sender, receiver, os.getpid(), ends_with_parent),
                daemon=True,
            )  # fmt: skip
            try:
                process.start()
            except BaseException:
                receiver.close()
                raise
            finally:
                sender.close()
            self.pending.pop(0)
            self.running[receiver] = self._started(_Worker(process, receiver), number)

    def _started(self, worker: _Worker, number: int) -> _Worker:
        worker.job, worker.outcome = self.jobs[number], Outcome(self.jobs[number].key)
        worker.deadline = time.monotonic() + self.time_limit
        return worker

    def _wait(self, at_most: float | None = None) -> None:
        """Take the workers' messages, waiting for one at most `at_most` seconds (by
        default, until the next deadline), and stop the workers past their deadline."""
        if not self.running:
            return  # nothing handed out: the next jobs are, first
        deadline = min(worker.deadline for worker in self.running.values())
        timeout = max(0.0, deadline - time.monotonic())
        ready = wait(list(self.running), timeout if at_most is None else min(timeout, at_most))
        for connection in ready:
            if connection in self.running:
                self._receive(self.running[connection])  # type: ignore[index]
        now = time.monotonic()
        for worker in list(self.running.values()):
            if worker.deadline <= now and worker.connection.poll():
                self._receive(worker)  # it reported just in time
            if worker.outcome is not None and worker.deadline <= now:
                worker.outcome.timed_out = True
                worker.outcome.error = f"it took longer than {self.time_limit:g} s"
                self._finish(worker, reusable=False)

    def _receive(self, worker: _Worker) -> None:
        outcome = worker.outcome
        assert outcome is not None
        try:
            while worker.connection.poll():
                kind, *values = worker.connection.recv()
                if kind == "log":
                    outcome.records.append(tuple(values))  # type: ignore[arg-type]
                elif kind == "step":
                    outcome.step = values[0]
                elif kind == "done":
                    outcome.result, holds_too_much = values
                    self._finish(worker, reusable=not holds_too_much)
                    return
                elif kind == "failed":
                    outcome.error = values[0]
                    self._finish(worker, reusable=False)
                    return
        except (EOFError, OSError):
            worker.process.join(1)  # it ended: at most a thread of its own left to end
            code = worker.process.exitcode
            outcome.error = f"its build stopped unexpectedly (exit code {code})"
            self._finish(worker, reusable=False)

    def _finish(self, worker: _Worker, reusable: bool) -> None:
        """The worker's job is over: its outcome is kept. The worker is handed the next
        job if this one succeeded, it has not done its share (`JOBS_PER_WORKER`) and
        does not hold too much; otherwise it is stopped (a failed job may leave its
        process in any state)."""
        assert worker.job is not None and worker.outcome is not None
        self.finished[worker.job.key] = worker.outcome
        worker.job, worker.outcome = None, None
        worker.jobs_done += 1
        if not (reusable and self.pending and worker.jobs_done < JOBS_PER_WORKER):
            self._stop(worker)
            return
        number = self.pending.pop(0)
        try:
            worker.connection.send(number)
        except OSError:  # it died between jobs (killed from outside): forked again
            self.pending.insert(0, number)
            self._stop(worker)
            return
        self._started(worker, number)

    def _stop(self, worker: _Worker) -> None:
        worker.process.kill()  # running a job or between jobs: nothing to finish
        worker.process.join()
        worker.connection.close()
        del self.running[worker.connection]


# --- in the child -------------------------------------------------------------------


class _Relay(logging.Handler):
    def __init__(self, connection: Connection) -> None:
        super().__init__(logging.NOTSET)
        self.connection = connection

    def emit(self, record: logging.LogRecord) -> None:
        self.connection.send(("log", record.name, record.levelno, record.getMessage()))


def _work(
    jobs: list[Job],
    number: int,
    connection: Connection,
    parents_end: Connection,
    parent: int,
    ends_with_parent: bool,
) -> None:
    """A worker: run job `number`, then each job whose number the parent sends, one at a
    time, until the parent stops it (or the job fails)."""
    parents_end.close()
    if ends_with_parent:
        _end_with(parent)
    budget = _MemoryBudget()
    gc.enable()  # the parent pauses its collector while it builds (see plugin.py)
    watched = logging.getLogger(WATCHED)
    for handler in list(watched.handlers):
        watched.removeHandler(handler)
    watched.addHandler(_Relay(connection))
    watched.propagate = False
    # MkDocs' command line drops repeated messages (a filter on its build logger): in a
    # worker, the second deal's warning would never reach its outcome. The parent
    # filters what it re-emits.
    for name in list(logging.root.manager.loggerDict):
        if name == WATCHED or name.startswith(WATCHED + "."):
            logging.getLogger(name).filters.clear()
    try:
        while True:
            budget.set_for_next_job()
            try:
                result = jobs[number].run(lambda step: connection.send(("step", step)))
                connection.send(("done", result, budget.holds_too_much()))
            except BaseException as error:  # reported to the parent, never raised
                connection.send(("failed", describe(error)))
                return  # it may leave this process in any state: no more jobs here
            number = connection.recv()
    except (EOFError, OSError, KeyboardInterrupt):
        return  # the parent is gone, or Ctrl-C: the parent stops what still runs
    finally:
        connection.close()


def _end_with(parent: int) -> None:
    """Have Linux kill this worker when the parent dies, however it dies: a worker
    between jobs would wait for the next for ever (the workers forked after it hold the
    parent's end of its pipe open), and one on a hung deal would run on."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere, a worker between jobs ends when its pipe does
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (ImportError, OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before that took effect
        os._exit(0)


class _MemoryBudget:
    """What each job may add to its worker's address space (`MEMORY_BUDGET`), whatever
    the jobs before it left there, set as the soft limit for each job in turn (never
    above a limit the user set). A worker whose jobs left more than a budget behind is
    replaced. Without /proc or the resource module, the time limit still applies."""

    def __init__(self) -> None:
        self.at_start = _address_space()
        try:
            import resource

            self.user_limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        except (ImportError, OSError, ValueError):
            self.user_limit = None

    def set_for_next_job(self) -> None:
        in_use = _address_space()
        if in_use is None or self.user_limit is None:
            return
        import resource

        limit = in_use + MEMORY_BUDGET
        if self.user_limit != resource.RLIM_INFINITY:
            limit = min(limit, self.user_limit)
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))

    def holds_too_much(self) -> bool:
        in_use = _address_space()
        if in_use is None or self.at_start is None:
            return False
        return in_use - self.at_start > MEMORY_BUDGET


def _address_space() -> int | None:
    """This process's address space in bytes (what RLIMIT_AS limits), if Linux says."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


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
