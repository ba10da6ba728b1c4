"""Worker processes: jobs run in forked workers, several in turn, each job within its
time limit; a job that fails, hangs or ends its process costs only itself, and deals
that share a worker build exactly as each would alone.

Real forks and real builds; the jobs that hang are stopped by the time limit."""

from __future__ import annotations

import logging
import mmap
import multiprocessing
import os
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import make_deal, run_build, site_files, write_deal, write_project
from dealroom.build.workers import JOBS_PER_WORKER, MEMORY_BUDGET, Job, Outcome, Step, run_jobs
from mkdocs.utils import DuplicateFilter


def numbered(number: int) -> Callable[[Step], tuple[int, int]]:
    def run(step: Step) -> tuple[int, int]:
        step(str(os.getpid()))
        return number, os.getpid()

    return run


def stuck(step: Step) -> None:
    step(f"stuck in {os.getpid()}")
    multiprocessing.Event().wait()  # never set: only the time limit ends it


def ends_its_process(step: Step) -> None:
    os._exit(7)


def too_deep(step: Step) -> None:
    step(str(os.getpid()))
    raise RecursionError


def outcomes_of(*runs: Callable[[Step], object], workers: int = 1) -> list[Outcome]:
    jobs = [Job(f"job {index}", run) for index, run in enumerate(runs)]
    outcomes = list(run_jobs(jobs, workers, time_limit=1))
    assert [outcome.key for outcome in outcomes] == [job.key for job in jobs]  # job order
    assert not multiprocessing.active_children()  # every worker stopped
    return outcomes


def test_workers_take_jobs_in_turn_and_outcomes_come_in_job_order() -> None:
    count = 2 * JOBS_PER_WORKER + 5
    outcomes = outcomes_of(*(numbered(number) for number in range(count)), workers=2)
    assert [outcome.result[0] for outcome in outcomes] == list(range(count))
    jobs_per_process = Counter(outcome.result[1] for outcome in outcomes)
    assert os.getpid() not in jobs_per_process
    assert max(jobs_per_process.values()) == JOBS_PER_WORKER  # shared, then replaced
    assert len(jobs_per_process) >= 3


def test_a_job_over_its_time_limit_is_stopped_and_the_next_run_in_a_new_worker() -> None:
    before, late, after, last = outcomes_of(numbered(0), stuck, numbered(2), numbered(3))
    assert late.timed_out and late.error == "it took longer than 1 s"
    assert late.step == f"stuck in {before.result[1]}"  # the job said where it was
    assert after.result[0] == 2 and last.result[0] == 3
    assert after.result[1] != before.result[1]  # the stuck worker was killed, not reused
    assert after.result[1] == last.result[1]


def test_a_job_that_ends_its_process_is_reported_and_the_others_run() -> None:
    first, ended, after = outcomes_of(numbered(0), ends_its_process, numbered(2))
    assert ended.error == "its build stopped unexpectedly (exit code 7)"
    assert first.ok and after.ok and after.result[1] != first.result[1]


def test_a_failed_jobs_worker_is_given_no_other_job() -> None:
    failed, after = outcomes_of(too_deep, numbered(1))
    assert failed.error is not None and "nested too deeply" in failed.error
    assert after.ok and str(after.result[1]) != failed.step


def test_each_job_keeps_its_log_records_even_when_mkdocs_drops_repeats() -> None:
    """`mkdocs` (the command) filters repeated messages out of its build logger: in a
    worker, every deal after the first would lose a warning it shares with another."""

    def warns(step: Step) -> None:
        logging.getLogger("mkdocs.commands.build").warning("Template skipped: 'x.html'")

    build_log = logging.getLogger("mkdocs.commands.build")
    repeats = DuplicateFilter()
    build_log.addFilter(repeats)
    try:
        outcomes = outcomes_of(warns, warns, warns)
    finally:
        build_log.removeFilter(repeats)
    for outcome in outcomes:
        assert outcome.records == [
            ("mkdocs.commands.build", logging.WARNING, "Template skipped: 'x.html'")
        ]


KEPT: list[mmap.mmap] = []  # what a job leaves behind in its worker, on purpose


def keeps(size: int) -> Callable[[Step], int]:
    def run(step: Step) -> int:  # address space only: the pages are never touched
        KEPT.append(mmap.mmap(-1, size))
        return os.getpid()

    return run


def test_each_job_has_its_own_memory_budget_and_a_worker_holding_more_is_replaced() -> None:
    most = MEMORY_BUDGET * 3 // 4
    first, second, third, greedy = outcomes_of(
        keeps(most), keeps(most), numbered(2), keeps(MEMORY_BUDGET + 1)
    )
    assert first.ok and second.ok and first.result == second.result  # one worker, in turn
    assert third.ok and third.result[1] != second.result  # left 1.5 budgets behind: replaced
    assert greedy.error == "it needs more memory than one deal may use"


def test_jobs_need_keys_of_their_own() -> None:
    with pytest.raises(ValueError, match="key of its own"):
        run_jobs([Job("same", numbered(0)), Job("same", numbered(1))], 1, time_limit=1)


PARENT = """
import sys, time
from dealroom.build.workers import Job, run_jobs
def wait(step):
    step("waiting")
    time.sleep(3600)
outcomes = run_jobs([Job("a", lambda step: 1), Job("b", wait), Job("c", wait)], 2, 3600)
print(next(outcomes).ok, flush=True)
time.sleep(3600)
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="Linux's process file descriptors")
def test_workers_end_when_their_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "True\n"
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        assert len(children) == 2  # one on a job, one between jobs or on the next
        ends = [os.pidfd_open(int(pid)) for pid in children]  # readable once it has ended
    finally:
        parent.kill()
        parent.wait()
    try:
        deadline = time.monotonic() + 10
        for end in ends:
            ended, _, _ = select.select([end], [], [], max(0.0, deadline - time.monotonic()))
            assert ended, "a worker outlived its parent"
    finally:
        for end in ends:
            os.close(end)


def test_closing_early_stops_every_worker() -> None:
    jobs = [Job("first", numbered(0)), Job("stuck", stuck), Job("also stuck", stuck)]
    outcomes = run_jobs(jobs, workers=2, time_limit=600)
    assert next(outcomes).ok
    assert len(multiprocessing.active_children()) == 2
    outcomes.close()  # type: ignore[attr-defined]  (what `contextlib.closing` does)
    assert not multiprocessing.active_children()


DEALS = {  # built in this order, one after another in one worker
    "anker": make_deal(customer={"name": "Anker GmbH"}, locale="de_DE"),
    "brise": make_deal(customer={"name": "Brise SA"}, locale="fr_FR", currency="EUR"),
    "cobalt": make_deal(customer={"name": "Cobalt Inc"}),
}


# An override of a macro that the overview imports without context, in the words of the
# deal room's language: Jinja keeps such a template's module, made once, across deals.
PEOPLE_OVERRIDE = (
    '{% macro people_list(people) -%}<p class="probe">{{ _("buyer-side stakeholders") }}</p>'
    "{%- endmacro %}\n"
)


def test_deals_that_share_a_worker_build_as_each_would_alone(tmp_path: Path, fixed_clock) -> None:
    def project(name: str, slugs: list[str]) -> dict[str, bytes]:
        root = write_project(tmp_path / name, workers=1)
        partials = root / "theme_overrides" / "dealroom" / "partials"
        partials.mkdir(parents=True)
        (partials / "people.html").write_text(PEOPLE_OVERRIDE, encoding="utf-8")
        for slug in slugs:
            page = f"# Approach\n\nOnly {slug.upper()}-CANARY here.\n\n[^1]\n\n[^1]: {slug}\n"
            write_deal(root / "deals", slug, DEALS[slug], {"approach.md": page})
        return site_files(run_build(root))

    together = project("together", list(DEALS))
    for slug in DEALS:
        alone = project(slug, [slug])
        ours = {path: data for path, data in alone.items() if path.startswith(f"{slug}/")}
        assert ours and ours == {
            path: data for path, data in together.items() if path.startswith(f"{slug}/")
        }
        others = [other.upper() for other in DEALS if other != slug]
        for path, data in ours.items():
            assert not any(f"{other}-CANARY".encode() in data for other in others), path
    probes = {slug: together[f"{slug}/index.html"].decode() for slug in DEALS}
    assert '<p class="probe">Beteiligte auf Kundenseite</p>' in probes["anker"]
    assert '<p class="probe">buyer-side stakeholders</p>' in probes["cobalt"]
