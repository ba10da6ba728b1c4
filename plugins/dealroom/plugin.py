"""The `dealroom` MkDocs plugin: wires MkDocs events to the plain modules.

The root `mkdocs build` renders a small seller-only index page at the site root and,
after it, one standalone site per deal under `site/<slug>/` (see `site.py`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from .config import DealRoomConfig
from .contributors import ContributorLog, build_contributor_logs
from .dashboard import Dashboard, build_dashboard
from .history import RepositoryHistory, read_history
from .loading import (
    DEAL_FILE,
    DealError,
    DealFolder,
    discover_deals,
    load_deal_folder,
    shown_path,
)
from .rendering import Formatter, render_sections
from .scoring import ScoringRules, score_deal
from .site import BuildOptions, SharedTheme, build_deal_site

log = logging.getLogger("mkdocs.plugins.dealroom")

ROOT_PAGE = "index.md"
DEFAULT_CACHE_DIR = ".cache/dealroom"


class DealRoomPlugin(BasePlugin[DealRoomConfig]):
    def __init__(self) -> None:
        super().__init__()
        self.command: str | None = None
        self.options: BuildOptions | None = None
        self.deals: list[DealFolder] = []
        self.failed: dict[str, int] = {}  # slug -> number of problems
        self.logs: dict[str, ContributorLog] = {}
        self.rules = ScoringRules()
        self.dashboard: Dashboard | None = None

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.command = command  # `serve` previews show MISSING markers by default

    # Last, so the shared theme sees whatever other plugins changed in the theme config.
    @event_priority(-100)
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        if self.config.deals_dir is None:
            self.config.deals_dir = config.docs_dir
        markers = self.config.missing_markers
        show_missing = markers == "show" or (markers == "auto" and self.command == "serve")
        self.options = BuildOptions(
            as_of=_as_of(self.config.as_of),
            show_missing=show_missing,
            show_emails=self.config.contributors_show_emails,
        )
        try:
            self.rules = ScoringRules.from_options(
                self.config.scoring_stage_targets, self.config.scoring_thresholds
            )
        except ValueError as error:
            raise PluginError(f"dealroom: {error}") from None
        config["theme"] = SharedTheme.extending(config.theme)
        return config

    def on_serve(self, server: Any, *, config: MkDocsConfig, builder: Any) -> Any:
        if not _inside(Path(self.config.deals_dir), Path(config.docs_dir)):
            server.watch(self.config.deals_dir)
        return server

    # First, so no other plugin sees the deal folders' files as pages of the root site.
    @event_priority(100)
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        self.deals, self.failed, self.logs = [], {}, {}
        project_root = Path(config.config_file_path).parent
        if self.config.enabled:
            self._load_deals(Path(self.config.deals_dir), project_root)
        if self.deals:
            self.logs = build_contributor_logs(self._history(project_root), self.deals)
        cards = {f.slug: score_deal(f, self.logs[f.slug], self.rules) for f in self.deals}
        assert self.options is not None
        self.dashboard = build_dashboard(
            self.deals, self.logs, cards, self.rules.stage_targets, self.options.as_of
        )
        root = Files([file for file in files if file.src_dir != config.docs_dir])
        root.append(
            File.generated(config, ROOT_PAGE, content="---\ntemplate: dealroom/page.html\n---\n")
        )
        return root

    def on_page_content(
        self, html: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        if page.file.src_uri != ROOT_PAGE:
            return html
        assert self.options is not None
        context = {
            "dashboard": self.dashboard,
            "failed": self.failed,
            "fmt": Formatter("en_US", "USD", self.options.as_of),
        }
        return render_sections(config.theme.get_env(), "root", context)

    # Late, so the root site is complete before the deal sites are written beside it.
    @event_priority(-100)
    def on_post_build(self, *, config: MkDocsConfig) -> None:
        assert self.options is not None and isinstance(config.theme, SharedTheme)
        built = sum(
            build_deal_site(config, folder, config.theme, self.options, self.logs[folder.slug])
            for folder in self.deals
        )
        if self.config.enabled:
            log.info(f"dealroom: built {built} deal site(s); {len(self.failed)} deal(s) skipped")

    def _history(self, project_root: Path) -> RepositoryHistory:
        """One read of the git history for all deals (nothing when the log is off)."""
        if not self.config.contributors_enabled:
            return RepositoryHistory(available=False)
        cache_dir = self.config.contributors_cache_dir
        cache_dir = DEFAULT_CACHE_DIR if cache_dir is None else cache_dir
        cache_file = project_root / cache_dir / "history.json" if cache_dir else None
        history = read_history(Path(self.config.deals_dir), cache_file)
        if not history.available:
            log.info(f"dealroom: no git history for the contributor log: {history.reason}")
        return history

    def _load_deals(self, deals_dir: Path, project_root: Path) -> None:
        wanted = set(self.config.deals)
        for folder in discover_deals(deals_dir):
            if wanted and folder.name not in wanted:
                continue
            try:
                loaded = load_deal_folder(folder, project_root)
            except DealError as error:
                for problem in error.problems:
                    log.error(str(problem))
                for warning in error.warnings:
                    log.warning(str(warning))
                log.error(f"deal '{error.slug}' skipped: fix the problems above to build it")
                self.failed[error.slug] = len(error.problems)
                continue
            for warning in loaded.warnings:
                log.warning(str(warning))
            self.deals.append(loaded)
        for folder in sorted(deals_dir.iterdir()) if deals_dir.is_dir() else []:
            if (
                folder.is_dir()
                and not folder.name.startswith(".")
                and not (folder / DEAL_FILE).exists()
            ):
                log.warning(
                    f"dealroom: {shown_path(folder, project_root)} has no {DEAL_FILE}; skipped"
                )
        missing = wanted - {deal.slug for deal in self.deals} - set(self.failed)
        if missing:
            log.warning(f"dealroom: no deal folder for: {', '.join(sorted(missing))}")


def _as_of(value: str | dt.date | None) -> dt.date:
    """The build's "today": the `as_of` option, else SOURCE_DATE_EPOCH, else today."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise PluginError(
                f"dealroom: as_of: expected a date written as YYYY-MM-DD, got {value!r}"
            ) from None
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc).date()
    return dt.date.today()


def _inside(path: Path, parent: Path) -> bool:
    return path.resolve().is_relative_to(parent.resolve())
