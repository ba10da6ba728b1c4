"""The `dealroom` MkDocs plugin: wires MkDocs events to the plain modules.

The root `mkdocs build` loads every deal (`project.py`), builds one standalone site per
deal under `site/<slug>/` (`build/site.py`), then renders its own page at the site root:
the seller-only dashboard, which so knows every deal that was skipped and why.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from jinja2 import Environment
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from .build.extensions import untrusted_extensions
from .build.incremental import (
    SELLER_CODE,
    LoadCache,
    Memo,
    SiteCache,
    code_digest,
    deal_fingerprints,
)
from .build.project import DealReport, load_project, paused_garbage_collection
from .build.rendering import Formatter, render_sections
from .build.shards import Shard, ShardError, effective_shard
from .build.site import BuildOptions, DealSiteBuilds, run_settings
from .build.theme import SHARED_STORE, SharedTheme, prune_shared
from .build.workers import frozen_objects
from .config import DealRoomConfig, cache_path, load_limits, load_options, plugin_as_of
from .deal.i18n import in_language
from .deal.loading import DealFolder
from .history.contributors import ContributorLog
from .seller.activity import QUIET_DAYS, ActivityFileError, SavedActivity
from .seller.dashboard import Dashboard, assemble_dashboard, remembered_rows
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
        self.deals: list[DealFolder] = []  # the deals whose sites were built
        self.reports: dict[str, DealReport] = {}  # every deal: problems, warnings, built
        self.logs: Mapping[str, ContributorLog] = {}
        self.rules = ScoringRules()
        self.shard: Shard | None = None  # None: every deal
        self.dashboard: Dashboard | None = None
        self.dashboard_page: str | None = None  # its HTML, when drawn while deals built
        self.seller_language = ExitStack()  # while the root page is rendered
        self.collector = ExitStack()  # Python's garbage collector paused while it builds
        self.exiting = ExitStack()  # what is alive as the command ends, frozen
        # Incremental builds: the previous build's deal sites (None: build every deal),
        # and each loaded deal's input fingerprint.
        self.sites: SiteCache | None = None
        self.reuse_sites = True  # `dealroom check` and `publish` build into fresh folders
        self.fingerprints: dict[str, str] = {}
        self.log_digests: dict[str, str] = {}
        # The root site's docs_dir, and every deal site's: an empty folder, so that MkDocs
        # never walks a deal folder (a link to an ancestor there would never end).
        self.empty_dir = tempfile.mkdtemp(prefix="dealroom-empty-")
        weakref.finalize(self, shutil.rmtree, self.empty_dir, ignore_errors=True)

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.collector.close()  # were a build interrupted (Ctrl-C): collecting again
        self.exiting.close()  # another command in this process: what was frozen thaws
        self.command = command  # `serve` previews show MISSING markers by default
        # MkDocs keeps this instance for the whole process (it has `on_startup`): what
        # one build of `check` or `publish` turned off is on again for the next.
        self.reuse_sites = True

    # Last, so the shared theme sees whatever other plugins changed in the theme config.
    @event_priority(-100)
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        if self.config.deals_dir is None:
            self.config.deals_dir = config.docs_dir
        config.docs_dir = self.empty_dir  # deals are read by dealroom, never walked by MkDocs
        markers = self.config.missing_markers
        serving = self.command == "serve"
        self.options = BuildOptions(
            as_of=self._as_of(),
            show_missing=markers == "show" or (markers == "auto" and serving),
            show_emails=self.config.contributors_show_emails,
            show_messages=self.config.contributors_show_messages,
            allow_raw_html=self.config.allow_raw_html,
            link_preview=self.config.link_preview,
            # The live-reload script `mkdocs serve` injects is inline: no policy there.
            content_policy=not serving,
            limits=load_limits(self.config),
        )
        if untrusted := untrusted_extensions(
            config.markdown_extensions, self.config.trusted_markdown_extensions
        ):
            raise PluginError(
                f"dealroom: markdown_extensions: {', '.join(untrusted)}: not known to be safe "
                "in deal sites, where a deal's Markdown must not read files or run code; "
                "remove it, or name it under trusted_markdown_extensions if it does neither"
            )
        try:
            self.rules = ScoringRules.from_options(
                self.config.scoring_stage_targets, self.config.scoring_thresholds
            )
        except ValueError as error:
            raise PluginError(f"dealroom: {error}") from None
        try:  # a typo in a CI matrix stops the build here, before any work, with its reason
            self.shard = effective_shard(self.config.shard)
        except ShardError as error:
            raise PluginError(f"dealroom: {error}") from None
        cache = cache_path(self.config, config)
        compiled = cache / "templates" if cache is not None else None
        config["theme"] = SharedTheme.extending(config.theme, compiled)
        # Material's interface around the dashboard (search, "Table of contents") in the
        # seller's language too, unless mkdocs.yml sets the theme's to another than its
        # default. Each deal site sets its deal room's own in its build, never this one.
        if config.theme["language"] == "en":
            config.theme["language"] = self.config.language
        return config

    # Before MkDocs empties site_dir (it keeps hidden entries): set the previous build's
    # deal sites aside, to be put back for every deal whose inputs did not change.
    def on_pre_build(self, *, config: MkDocsConfig) -> None:
        # Loading hundreds of deals, their logs and the dashboard makes hundreds of
        # thousands of objects and no garbage worth a collection: Python's collector
        # would walk them again and again (a sixth of a build that reuses every site).
        # On again once the build is done (`mkdocs serve` builds again and again).
        self.collector.close()
        self.collector.enter_context(paused_garbage_collection())
        cache = cache_path(self.config, config) if self.reuse_sites else None
        self.sites = None
        if cache is not None and self.config.enabled:
            self.sites = SiteCache(cache, Path(config.site_dir))
            assert self.options is not None
            self.sites.stash(self.options.limits.time_limit)
            self.collector.callback(self.sites.close)  # however the build ends

    def on_serve(self, server: Any, *, config: MkDocsConfig, builder: Any) -> Any:
        server.watch(self.config.deals_dir)  # MkDocs watches docs_dir, now an empty folder
        return server

    # First, so no other plugin sees the deal folders' files as pages of the root site.
    @event_priority(100)
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        self.deals, self.reports, self.logs = [], {}, {}
        self.dashboard_page = None
        if self.config.enabled:
            self._load(Path(self.config.deals_dir), config)
        root = Files(list(files))  # the theme's files: docs_dir is empty
        root.append(File.generated(config, ROOT_PAGE, content=ROOT_SOURCE))
        return root

    # Late, once the root site's files and navigation are settled and before its page is
    # rendered, so that the dashboard lists the deals whose build failed.
    @event_priority(-100)
    def on_env(self, env: Environment, *, config: MkDocsConfig, files: Files) -> Environment:
        assert self.options is not None and isinstance(config.theme, SharedTheme)
        loaded, self.deals = self.deals, []
        fingerprints = deal_fingerprints(
            run_settings(config, self.options), self.fingerprints, self.log_digests
        )
        builds = DealSiteBuilds(
            config, loaded, config.theme, self.options, self.logs, self.empty_dir,
            self.sites, fingerprints,
        )  # fmt: skip
        with closing(builds):
            activity = self._activity(config)
            # Scored here while the workers build: an edit's rebuild waits for one deal's
            # build, on another core, and this takes about as long for hundreds of deals.
            with in_language(self.config.language):  # the seller's, whatever the deals' are
                rows = remembered_rows(
                    loaded, self.logs, self.rules, self.options.as_of, activity, fingerprints,
                    self._kept_rows(config),
                )  # fmt: skip
            # And its page, as if every deal builds (they nearly always do): drawn again
            # below if one does not.
            every = assemble_dashboard([rows[f.slug] for f in loaded], self.rules, activity)
            drawn = self._dashboard_page(config, every)
            for result in builds:
                report = self.reports[result.slug]
                report.warnings += result.warnings
                if result.built:
                    report.built, report.reused = True, result.reused
                    continue
                report.problems += result.problems
                for problem in result.problems:
                    log.error(problem)
                log.error(f"deal '{result.slug}' skipped: fix the problems above to build it")
        self.deals = [folder for folder in loaded if self.reports[folder.slug].built]
        if self.sites is not None:  # the previous sites not put back, and their manifests
            self.sites.finish(folder.slug for folder in self.deals)
        built_rows = [rows[folder.slug] for folder in self.deals]
        self.dashboard = assemble_dashboard(built_rows, self.rules, activity)
        self.dashboard_page = drawn if len(self.deals) == len(loaded) else None
        if self.config.enabled:
            skipped = len(self.reports) - len(self.deals)
            part = f" of shard {self.shard}" if self.shard else ""
            reused = sum(1 for folder in self.deals if self.reports[folder.slug].reused)
            unchanged = f" ({reused} unchanged since the last build)" if reused else ""
            log.info(f"dealroom: built {len(self.deals)} deal site(s){part}{unchanged}; "
                     f"{skipped} deal(s) skipped")  # fmt: skip
        return env

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        prune_shared(Path(config.site_dir) / SHARED_STORE)
        self.collector.close()

    # The root page is filled in only now, when its template is rendered: MkDocs converts
    # pages' Markdown before `on_env`, and the dashboard needs the deal builds' outcome.
    def on_page_context(
        self, context: dict[str, Any], *, page: Page, config: MkDocsConfig, nav: Any
    ) -> dict[str, Any]:
        if page.file.src_uri == ROOT_PAGE:
            # The seller's language for the page around the dashboard too (print and copy
            # controls), until that page is written (`on_post_page`).
            self.seller_language.enter_context(in_language(self.config.language))
            page.content = self.dashboard_page or self._dashboard_page(config, self.dashboard)
        return context

    def _dashboard_page(self, config: MkDocsConfig, dashboard: Dashboard | None) -> str:
        """The dashboard's HTML, listing the deals skipped so far with their problems."""
        assert self.options is not None
        skipped = {slug: r.problems for slug, r in self.reports.items() if r.problems}
        language, env = self.config.language, config.theme.get_env()
        sections = {
            "dashboard": dashboard, "skipped": skipped, "quiet_days": QUIET_DAYS,
            "fmt": Formatter(language, "", self.options.as_of),
        }  # fmt: skip
        with in_language(language):
            return render_sections(env, "root", sections)

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str:
        self.seller_language.close()
        return output

    def on_build_error(self, *, error: Exception) -> None:
        self.seller_language.close()  # a failed render must not leave it set for the next
        self.collector.close()

    def on_shutdown(self) -> None:
        self.collector.close()
        # The command is done: let go of hundreds of loaded deals and their logs now,
        # while little else is alive, rather than leave them to the full collections
        # Python runs as it exits; and freeze what is left (modules, the theme), which
        # lives until then anyway: together a fifth of a rebuild that reuses every site.
        self._forget_build()
        self.exiting.enter_context(frozen_objects())

    def _forget_build(self) -> None:
        self.deals, self.reports, self.logs, self.fingerprints = [], {}, {}, {}
        self.log_digests = {}
        self.dashboard, self.dashboard_page, self.sites = None, None, None

    def _load(self, deals_dir: Path, config: MkDocsConfig) -> None:
        assert self.options is not None
        project = load_project(
            deals_dir, Path(config.config_file_path).parent, set(self.config.deals),
            self.config.contributors_enabled,
            _first_set(self.config.contributors_cache_dir, self.config.cache_dir),
            load_options(self.config, config), self.options.limits,
            shard=self.shard, load_cache=self._load_cache(config),
        )  # fmt: skip
        for report in project.reports.values():
            for problem in report.problems:
                log.error(problem)
            for warning in report.warnings:
                log.warning(warning)
            if report.problems:
                log.error(f"deal '{report.slug}' skipped: fix the problems above to build it")
        for notice in project.notices:
            log.warning(f"dealroom: {notice}")
        if self.config.contributors_enabled and project.folders and not project.history.available:
            log.info(f"dealroom: no git history for the contributor log: {project.history.reason}")
        self.deals, self.logs, self.reports = project.folders, project.logs, project.reports
        self.fingerprints, self.log_digests = project.fingerprints, project.log_digests

    def _activity(self, config: MkDocsConfig) -> SavedActivity | None:
        """What `dealroom activity --save` kept, for the dashboard only (never a deal
        site's input): None if nothing was saved."""
        try:
            return SavedActivity.of_project(cache_path(self.config, config))
        except ActivityFileError as error:
            log.warning(f"dealroom: {error}")
            return None

    def _kept_rows(self, config: MkDocsConfig) -> Memo:
        """The last build's dashboard rows (seller-only: in the cache folder, as the
        deals it loaded are)."""
        cache = cache_path(self.config, config) if self.reuse_sites else None
        return Memo(cache / "dashboard" if cache else None, code_digest(SELLER_CODE))

    def _as_of(self) -> dt.date:
        try:
            return plugin_as_of(self.config.as_of)
        except ValueError as error:
            raise PluginError(f"dealroom: {error}") from None

    def _load_cache(self, config: MkDocsConfig) -> LoadCache | None:
        cache = cache_path(self.config, config)
        return LoadCache(cache, {"load": load_options(self.config, config)}) if cache else None


def _first_set(*values: str | None) -> str | None:
    return next((value for value in values if value is not None), None)
