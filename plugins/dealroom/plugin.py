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

from .build.rendering import render_sections
from .build.site import BuildOptions, SharedTheme, build_deal_site
from .config import DealRoomConfig
from .deal.loading import DealFolder
from .history.contributors import ContributorLog
from .project import load_project
from .seller.dashboard import Dashboard, build_dashboard
from .seller.scoring import ScoringRules

log = logging.getLogger("mkdocs.plugins.dealroom")

ROOT_PAGE = "index.md"
# The dashboard's table is wide: no navigation or table-of-contents sidebars.
ROOT_SOURCE = "---\ntemplate: dealroom/page.html\nhide:\n  - navigation\n  - toc\n---\n"


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
        if self.config.enabled:
            self._load(Path(self.config.deals_dir), Path(config.config_file_path).parent)
        assert self.options is not None
        self.dashboard = build_dashboard(self.deals, self.logs, self.rules, self.options.as_of)
        root = Files([file for file in files if file.src_dir != config.docs_dir])
        root.append(File.generated(config, ROOT_PAGE, content=ROOT_SOURCE))
        return root

    def on_page_content(
        self, html: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        if page.file.src_uri != ROOT_PAGE:
            return html
        context = {"dashboard": self.dashboard, "failed": self.failed}
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

    def _load(self, deals_dir: Path, project_root: Path) -> None:
        project = load_project(
            deals_dir, project_root, set(self.config.deals), self.config.contributors_enabled,
            self.config.contributors_cache_dir,
        )  # fmt: skip
        for error in project.errors:
            for problem in error.problems:
                log.error(str(problem))
            for warning in error.warnings:
                log.warning(str(warning))
            log.error(f"deal '{error.slug}' skipped: fix the problems above to build it")
            self.failed[error.slug] = len(error.problems)
        for folder in project.folders:
            for warning in folder.warnings:
                log.warning(str(warning))
        for notice in project.notices:
            log.warning(f"dealroom: {notice}")
        if self.config.contributors_enabled and project.folders and not project.history.available:
            log.info(f"dealroom: no git history for the contributor log: {project.history.reason}")
        self.deals, self.logs = project.folders, project.logs


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
