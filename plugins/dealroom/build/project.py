"""Everything a build, `dealroom score` and `dealroom check` read: the valid deals, the
problems of the others, and their contributor logs (one git history read for all)."""

from __future__ import annotations

from dataclasses import dataclass, field
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

DEFAULT_CACHE_DIR = ".cache/dealroom"


@dataclass
class DealReport:
    """What became of one deal: its problems (it is skipped if there are any), its
    warnings, and whether its site was built. Messages name file, line and field."""

    slug: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    built: bool = False


@dataclass
class Project:
    folders: list[DealFolder] = field(default_factory=list)  # the deals that loaded
    reports: dict[str, DealReport] = field(default_factory=dict)  # every deal, in order
    notices: list[str] = field(default_factory=list)  # folders without deal.yml and the like
    logs: dict[str, ContributorLog] = field(default_factory=dict)
    history: RepositoryHistory = field(default_factory=RepositoryHistory)

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
) -> Project:
    """Load the deals under `deals_dir` (only `wanted` ones, if given)."""
    project = Project()
    for folder in discover_deals(deals_dir):
        if wanted and folder.name not in wanted:
            continue
        report = project.reports[folder.name] = DealReport(folder.name)
        try:
            loaded = load_deal_folder(folder, project_root, options)
        except DealError as error:
            report.problems = [str(problem) for problem in error.problems]
            report.warnings = [str(warning) for warning in error.warnings]
            continue
        report.warnings = [str(warning) for warning in loaded.warnings]
        project.folders.append(loaded)
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
    if wanted and wanted - set(project.reports):
        missing = ", ".join(sorted(wanted - set(project.reports)))
        project.notices.append(f"no deal folder for: {missing}")
    if project.folders:
        if contributors_enabled:
            cache_dir = DEFAULT_CACHE_DIR if cache_dir is None else cache_dir
            cache_file = project_root / cache_dir / "history.json" if cache_dir else None
            project.history = read_history(deals_dir, cache_file)
        else:
            project.history = RepositoryHistory(available=False)
        project.logs = build_contributor_logs(project.history, project.folders)
    return project
