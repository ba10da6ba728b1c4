"""Everything a build, `dealroom score` and `dealroom check` read: the valid deals, the
problems of the others, and their contributor logs (one git history read for all)."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..deal.files import DEAL_FILE
from ..deal.loading import (
    DealError,
    DealFolder,
    LoadOptions,
    discover_deals,
    load_deal_folder,
    shown_path,
)
from ..history.contributors import ContributorLog, build_contributor_logs
from ..history.git import RepositoryHistory, read_history
from .incremental import LoadCache, Memo, digest, log_digest
from .progress import progress
from .shards import Shard
from .workers import Job, Outcome, Step, run_jobs

DEFAULT_CACHE_DIR = ".cache/dealroom"

log = logging.getLogger("mkdocs.plugins.dealroom")


def cache_folder(project_root: Path, option: str | None) -> Path | None:
    """The `cache_dir` option (relative to mkdocs.yml; unset: `.cache/dealroom`), or
    None when it is "": nothing is kept between builds."""
    folder = DEFAULT_CACHE_DIR if option is None else option
    return project_root / folder if folder else None


@dataclass(frozen=True)
class Limits:
    """How many deals load and build at once, and how long one may take."""

    workers: int = 1
    time_limit: float = 60.0


@dataclass
class DealReport:
    """What became of one deal: its problems (it is skipped if there are any), its
    warnings, and whether its site was built. Messages name file, line and field."""

    slug: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    built: bool = False
    reused: bool = False  # its site is the previous build's: nothing it depends on changed


@dataclass
class Project:
    folders: list[DealFolder] = field(default_factory=list)  # the deals that loaded
    reports: dict[str, DealReport] = field(default_factory=dict)  # every deal, in order
    notices: list[str] = field(default_factory=list)  # folders without deal.yml and the like
    logs: Mapping[str, ContributorLog] = field(default_factory=dict)
    history: RepositoryHistory = field(default_factory=RepositoryHistory)
    # Each loaded deal's input fingerprint (its folder and how it was loaded), when a
    # load cache was given: what an incremental build compares (`incremental.py`).
    fingerprints: dict[str, str] = field(default_factory=dict)
    log_digests: dict[str, str] = field(default_factory=dict)  # each log's, to compare

    @property
    def failed(self) -> list[DealReport]:
        return [report for report in self.reports.values() if report.problems]


def load_project(
    deals_dir: Path,
    project_root: Path,
    wanted: set[str] | None = None,
    contributors_enabled: bool = True,
    cache_dir: str | None = None,
    options: LoadOptions | None = None,
    limits: Limits | None = None,
    load_cache: LoadCache | None = None,
    shard: Shard | None = None,
) -> Project:
    """Load the deals under `deals_dir` (only `wanted` ones, if given, and only those of
    `shard`). Each deal loads in a worker, within the same time and memory budget
    as its build: whatever a deal folder holds, loading it cannot exhaust or hold up this
    process or the other deals.
    A deal whose folder is unchanged since it last loaded comes from `load_cache`."""
    project, limits = Project(), limits or Limits()
    found = discover_deals(deals_dir)
    # A deal of another shard is left to the machine that builds that shard: it is not
    # loaded or reported here (see `shards.py`).
    folders = [f for f in found if (not wanted or f.name in wanted)
               and (shard is None or shard.holds(f.name))]  # fmt: skip
    unchanged: set[str] = set()  # loaded before from the same folder: in load_cache
    if load_cache is not None:
        for folder in folders:
            key = project.fingerprints[folder.name] = load_cache.key(folder)
            if load_cache.deals.has(folder.name, key):
                unchanged.add(folder.name)
        load_cache.keyed()

    def load(names: set[str]) -> Iterator[Outcome]:  # in workers, started at once
        jobs = [Job(f.name, partial(_load_one, f, project_root, options))
                for f in folders if f.name in names]  # fmt: skip
        return run_jobs(jobs, limits.workers, limits.time_limit)

    cached: dict[str, DealFolder] = {}
    outcomes: dict[str, Outcome] = {}
    with closing(load({folder.name for folder in folders} - unchanged)) as loading:
        # While the workers load the deals that changed, the others are unpickled here.
        with paused_garbage_collection():
            for name in unchanged:
                assert load_cache is not None
                if (loaded := load_cache.deals.get(name, project.fingerprints[name])) is not None:
                    cached[name] = loaded
        damaged = unchanged - set(cached)  # its entry could not be read: loaded again
        with progress(log, "loading deals", len(folders) - len(cached)) as done:
            for outcome in loading:
                outcomes[outcome.key] = outcome
                done(outcome.key)
            with closing(load(damaged)) as again:  # once the first are done: within limits
                for outcome in again:
                    outcomes[outcome.key] = outcome
                    done(outcome.key)
    for folder in folders:
        report = project.reports[folder.name] = DealReport(folder.name)
        if folder.name in cached:
            report.warnings = [str(warning) for warning in cached[folder.name].warnings]
            project.folders.append(cached[folder.name])
            continue
        outcome = outcomes[folder.name]
        if not outcome.ok:
            hint = " (deal_time_limit); look for includes that repeat a file" if (
                outcome.timed_out
            ) else ""  # fmt: skip
            where = shown_path(folder / outcome.step if outcome.step else folder, project_root)
            report.problems = [f"{where}: not loaded: {outcome.error}{hint}"]
        elif isinstance(outcome.result, DealFolder):
            report.warnings = [str(warning) for warning in outcome.result.warnings]
            project.folders.append(outcome.result)
            if load_cache is not None:
                key = project.fingerprints[folder.name]
                load_cache.deals.put(folder.name, key, outcome.result)
        else:
            report.problems, report.warnings = outcome.result
    for folder in sorted(deals_dir.iterdir()) if deals_dir.is_dir() else []:
        if (
            folder.is_dir()
            and not folder.name.startswith(".")
            and folder.name not in project.reports
            and not (folder / DEAL_FILE).exists()
        ):
            project.notices.append(
                f"{shown_path(folder, project_root)} has no {DEAL_FILE}; skipped"
            )
    if wanted and wanted - {f.name for f in found}:
        missing = ", ".join(sorted(wanted - {f.name for f in found}))
        project.notices.append(f"no deal folder for: {missing}")
    if project.folders:
        if contributors_enabled:
            cache_dir = DEFAULT_CACHE_DIR if cache_dir is None else cache_dir
            cache_file = project_root / cache_dir / "history.json" if cache_dir else None
            project.history = read_history(deals_dir, cache_file)
        else:
            project.history = RepositoryHistory(available=False)
        _add_contributor_logs(project, load_cache.logs if load_cache else None)
    return project


def _add_contributor_logs(project: Project, kept: Memo | None) -> None:
    """Each loaded deal's contributor log and its digest. A deal whose folder and the
    history are those of the last build gets that build's log from `kept`, read only
    when asked for (a rebuild that puts the deal's site back never does): the log of a
    deal depends on nothing else (not on which other deals there are)."""
    identity = project.history.identity
    keys = {}
    if kept is not None and identity is not None:
        inputs = project.fingerprints
        keys = {f.slug: digest(identity, f.slug, inputs[f.slug])
                for f in project.folders if f.slug in inputs}  # fmt: skip
    for slug, key in keys.items():
        if (noted := kept.note(slug, key)) is not None:  # type: ignore[union-attr]
            project.log_digests[slug] = noted
    missing = [folder for folder in project.folders if folder.slug not in project.log_digests]
    made = build_contributor_logs(project.history, missing) if missing else {}
    for slug, log in made.items():
        project.log_digests[slug] = log_digest(log)
        if kept is not None and slug in keys:
            kept.put(slug, keys[slug], log, note=project.log_digests[slug])
    project.logs = ContributorLogs(project, made, keys, kept)


class ContributorLogs(Mapping[str, ContributorLog]):
    """The loaded deals' contributor logs, by slug: those made in this build, and those
    kept from the last one, read when first asked for (made again from the history if
    the kept one cannot be read)."""

    def __init__(
        self,
        project: Project,
        made: dict[str, ContributorLog],
        keys: dict[str, str],
        kept: Memo | None,
    ) -> None:
        self.logs = dict(made)
        self.keys, self.kept = keys, kept
        self.history = project.history
        self.folders = {folder.slug: folder for folder in project.folders}

    def __getitem__(self, slug: str) -> ContributorLog:
        if slug not in self.logs:
            folder = self.folders[slug]  # KeyError: no such deal
            log = self.kept.get(slug, self.keys[slug]) if self.kept is not None else None
            if log is None:
                log = build_contributor_logs(self.history, [folder])[slug]
            self.logs[slug] = log
        return self.logs[slug]

    def __iter__(self) -> Iterator[str]:
        return iter(self.folders)

    def __len__(self) -> int:
        return len(self.folders)


@contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """Unpickling hundreds of deals makes tens of thousands of objects, none of them
    garbage: Python's collector would walk them again and again as they are made."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_one(
    folder: Path, project_root: Path, options: LoadOptions | None, step: Step
) -> DealFolder | tuple[list[str], list[str]]:
    """In a worker: the loaded deal, or its (problems, warnings) as messages."""
    try:
        return load_deal_folder(folder, project_root, options, step)
    except DealError as error:
        return [str(p) for p in error.problems], [str(w) for w in error.warnings]
