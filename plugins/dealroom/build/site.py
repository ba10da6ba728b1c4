"""Assemble and build one standalone MkDocs site per deal.

Each deal gets its own MkDocs configuration (own navigation, own search index, own
sitemap) whose files are generated from the validated deal only: its `docs_dir` is an
empty folder, so MkDocs never walks the deal folder, and the pages and assets are
added by `DealSitePlugin` from what loading allowed (see `deal/files.py`). Nothing from
another deal, from `internal/` or from outside the deal folder can reach its site.

Every deal builds in a worker process (`workers.py`) within a time budget; a deal
that fails or runs out of time is reported, naming the file it was on, and its
half-written output removed, while the others build on.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from markupsafe import Markup
from mkdocs.commands.build import build
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort, PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import AnchorLink, TableOfContents, get_toc
from mkdocs.theme import Theme

from ..deal.files import DEAL_FILE, DealFiles, Refused
from ..deal.i18n import gettext, in_language, translations
from ..deal.includes import is_snippets
from ..deal.loading import DealFolder, shown_path
from ..history.contributors import ContributorLog, and_list
from .calendar import CALENDAR_FILE, PLAN_FILES, SPREADSHEET_FILE, plan_calendar, plan_spreadsheet
from .csp import with_policy
from .incremental import SiteCache, tree_digest
from .progress import progress
from .project import Limits
from .rendering import (
    Formatter,
    PageSpec,
    contributor_context,
    deal_context,
    heading_tokens,
    inert_text,
    link_preview,
    nav_for,
    page_link,
    page_specs,
    render_sections,
)
from .sanitize import clean_html, clean_text
from .theme import SHARED_STORE, SharedTheme, link_shared
from .workers import Job, Outcome, Step, run_jobs

log = logging.getLogger("mkdocs.plugins.dealroom")
DEAL_SITE_PLUGIN = "dealroom/deal-site"
MKDOCS_BUILD_NOTES = "mkdocs.commands.build"  # MkDocs' logger for its build's steps

NARRATIVE_SLOT = "<!-- dealroom: narrative -->"
DETAIL_ANCHOR = "case-detail"  # the business case's "Detail" part, which holds the narrative


@dataclass(frozen=True)
class BuildOptions:
    """Per-run choices that every deal site of the run shares."""

    as_of: dt.date  # "today" for overdue steps and days left
    show_missing: bool  # MISSING markers (seller preview) or a clean page (published)
    show_emails: bool = False  # contributors' email addresses on the contributors page
    show_messages: bool = False  # single-deal commits' subjects on the contributors page
    allow_raw_html: bool = False  # seller HTML as written, or sanitized
    link_preview: bool = True  # og:title and og:description naming the deal room
    content_policy: bool = True  # a CSP in every page (off under `mkdocs serve`)
    limits: Limits = field(default_factory=Limits)  # deals built at once, seconds each


class DealBuildError(Exception):
    """Why a deal site cannot be built, for the seller; raised as is by MkDocs' build (it
    is not one of MkDocs' own errors), so the report carries this message."""


class AssetFile(File):
    """A deal asset: always copied as it is, even `.md` files (never rendered as pages)."""

    def is_documentation_page(self) -> bool:
        return False


class SharedThemeFile(File):
    """A theme file (Material's scripts and stylesheets, dealroom's own), the same in
    every deal site: written as a hard link to one shared copy (`theme.link_shared`)."""

    store: Path

    def copy_file(self, dirty: bool = False) -> None:
        assert self.abs_src_path is not None
        link_shared(self.abs_src_path, self.abs_dest_path, self.store)

    @classmethod
    def of(cls, file: File, config: MkDocsConfig) -> SharedThemeFile:
        shared = cls(file.src_uri, file.src_dir, config.site_dir, config.use_directory_urls)
        shared.store = Path(config.site_dir).parent / SHARED_STORE  # next to the deal sites
        return shared


# --- the per-deal plugin -------------------------------------------------------------


class DealSitePlugin(BasePlugin):
    """Fills one deal's site: generated pages only, never a scan of the deal folder."""

    def __init__(
        self,
        folder: DealFolder,
        pages: list[PageSpec],
        options: BuildOptions,
        contributor_log: ContributorLog,
        step: Step,
    ) -> None:
        super().__init__()
        self.folder = folder
        self.pages = {page.src_uri: page for page in pages}
        self.options = options
        self.contributor_log = contributor_log
        self.step = step
        self.context = deal_context(folder, pages, options.as_of, options.show_missing)
        self.context |= contributor_context(
            contributor_log, pages, options.show_emails, options.show_messages
        )

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        # The theme's files (those copied as they are shared by every deal site), then
        # exactly the pages and assets the deal publishes.
        site = Files([
            SharedThemeFile.of(file, config) if file.is_static_page() or file.is_media_file()
            else file
            for file in files
            if file.src_dir != config.docs_dir
        ])  # fmt: skip
        theme_files = {file.src_uri for file in site}
        for page in self.pages.values():
            site.append(File.generated(config, page.src_uri, content=page.source()))
        deal, as_of = self.folder.deal, self.options.as_of
        if deal.mutual_action_plan.steps:  # the plan as a calendar feed and a spreadsheet
            calendar = plan_calendar(deal, self.folder.slug, as_of)
            site.append(File.generated(config, CALENDAR_FILE, content=calendar))
            spreadsheet = plan_spreadsheet(deal, as_of)
            site.append(File.generated(config, SPREADSHEET_FILE, content=spreadsheet))
        deal_files = DealFiles.of(self.folder.path)
        for asset in self.folder.assets:
            self.step(asset)
            if asset in theme_files or asset in PLAN_FILES:
                raise DealBuildError("has the same path as one of the theme's files; rename it")
            try:
                real = deal_files.published(asset)  # again: it may have changed since loading
            except Refused as refusal:
                raise DealBuildError(str(refusal)) from None
            site.append(AssetFile.generated(config, asset, abs_src_path=str(real)))
        return site

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        self.step(page.file.src_uri)  # if rendering hangs, the report names this page
        return markdown

    def on_page_content(
        self, html: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        spec = self.pages.get(page.file.src_uri)
        if spec is None:
            return html
        if not self.options.allow_raw_html:
            html = clean_html(html)
            _clean_titles(page.toc)
        context = {**self.context, "link": page_link(page.url)}
        # Render around a placeholder so the sidebar gets the sections' own headings
        # from the template and the narrative's headings from Markdown, each once.
        context["narrative"] = Markup(NARRATIVE_SLOT)
        rendered = render_sections(config.theme.get_env(), spec.kind, context)
        sections = get_toc(heading_tokens(rendered))
        narrative = list(page.toc)
        if len(sections) and any(item.level == 1 for item in narrative):
            # Material shows only the children of a leading h1; keep ours visible.
            narrative = [child for item in narrative for child in item.children]
        detail = next((item for item in sections if item.id == DETAIL_ANCHOR), None)
        if detail is not None:
            detail.children += narrative  # the narrative is part of the detail
            narrative = []
        page.toc = TableOfContents([*sections, *narrative])
        return rendered.replace(NARRATIVE_SLOT, html)

    def on_page_context(
        self, context: dict[str, Any], *, page: Page, config: MkDocsConfig, nav: Any
    ) -> dict[str, Any]:
        context["dealroom_preview"] = self.options.show_missing
        if self.options.link_preview:
            spec = self.pages.get(page.file.src_uri)  # its raw title: the partial escapes
            context["dealroom_link_preview"] = link_preview(
                self.folder.deal, spec.title if spec else None
            )
        update = self.contributor_log.last_update(page.file.src_uri)
        if update is not None:
            # A commit that also touched other deals may credit nobody this deal knows:
            # it still dates the page, and names no one ("by" stays empty).
            context["dealroom_updated"] = {
                "date": self.context["fmt"].date(update.date),
                "by": and_list([person.name for person in update.people]),
            }
        return context

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str | None:
        if not self.options.content_policy:
            return output
        return with_policy(output, page.content or "")

    def on_post_template(
        self, output_content: str, *, template_name: str, config: MkDocsConfig
    ) -> str | None:
        if self.options.content_policy and template_name.endswith(".html"):
            return with_policy(output_content)  # 404.html: theme markup only
        return output_content


def _clean_titles(items: list[AnchorLink]) -> None:
    """Table-of-contents entries from the seller's headings: text only."""
    for item in items:
        item.title = clean_text(item.title)
        _clean_titles(item.children)


# --- configuration and build ---------------------------------------------------------


class _RunTheme(c.BaseConfigOption[Theme]):
    """The run's shared theme (`SharedTheme`), validated once with the root site: a deal
    site takes it as it is. MkDocs' own option makes a new theme for every site, and
    making one empties MkDocs' list of installed themes, which the next deal's option
    then reads again from every installed package's entry points (12 ms a deal)."""

    def run_validation(self, value: object) -> Theme:
        if not isinstance(value, Theme):
            raise c.ValidationError(f"expected the run's theme, not {type(value).__name__}")
        return value


class DealSiteConfig(MkDocsConfig):
    """A deal site's MkDocs configuration, with a `plugins` option of its own: MkDocs
    keeps one instance of each plugin that has `on_startup` (Material's search) per
    option, and the root site's must never be the one a deal site's build fills. Where
    deals build in this process (no fork), the root's search index held the last deal's
    pages. Its `theme` is the run's (`_RunTheme`)."""

    theme = _RunTheme()
    plugins = c.Plugins(theme_key="theme", default=["search"])


def deal_site_config(
    outer: MkDocsConfig,
    folder: DealFolder,
    theme: SharedTheme,
    options: BuildOptions,
    contributor_log: ContributorLog,
    empty_dir: str,
    step: Step = lambda _: None,
) -> MkDocsConfig:
    """A complete MkDocs configuration for one deal, derived from the root mkdocs.yml.
    `empty_dir` is its docs_dir: the deal's files come from the plugin, never a scan."""
    deal = folder.deal
    pages = page_specs(folder, options.show_missing)
    site_url = f"{outer.site_url.rstrip('/')}/{folder.slug}/" if outer.site_url else None
    config = DealSiteConfig(config_file_path=outer.config_file_path)
    config.load_dict(
        {
            "site_name": inert_text(
                gettext("%(customer)s and %(seller)s")
                % {"customer": deal.customer.name, "seller": deal.seller.name}
            ),
            "site_description": inert_text(
                gettext("Deal room for %(customer)s") % {"customer": deal.customer.name}
            ),
            "site_url": site_url,
            "docs_dir": empty_dir,
            "site_dir": os.path.join(outer.site_dir, folder.slug),
            "use_directory_urls": True,
            "theme": theme,
            "nav": nav_for(pages),
            "markdown_extensions": _markdown_extensions(outer),
            "plugins": [{"search": _search_options(outer, deal.site_language)}],
            "extra": dict(outer.extra),
            "copyright": outer.copyright,
            "strict": False,  # the root build counts warnings and applies --strict once
            "validation": _validation_options(outer),
        }
    )
    errors, warnings = config.validate()
    for name, problem in warnings:
        log.warning(f"deal '{folder.slug}': config '{name}': {problem}")
    if errors:
        raise PluginError("; ".join(f"config '{name}': {problem}" for name, problem in errors))
    plugin = DealSitePlugin(folder, pages, options, contributor_log, step)
    config.plugins[DEAL_SITE_PLUGIN] = plugin
    return config


def _markdown_extensions(outer: MkDocsConfig) -> list[Any]:
    """The root site's Markdown extensions, except snippets: includes were expanded,
    under the confinement rule, when the deal was loaded."""
    extensions: list[Any] = []
    for name in outer.markdown_extensions:
        if not isinstance(name, str) or is_snippets(name):
            continue  # instances cannot be shared between sites; includes are expanded
        options = dict(outer.mdx_configs.get(name, {}))
        extensions.append({name: options} if options else name)
    return extensions


def _validation_options(outer: MkDocsConfig) -> dict[str, dict[str, str]]:
    """The root `validation:` settings, written back as names MkDocs accepts."""
    names = {logging.WARNING: "warn", logging.INFO: "info", logging.DEBUG: "ignore"}
    return {
        group: {key: names.get(level, "warn") for key, level in outer.validation[group].items()}
        for group in ("nav", "links")
    }


def _search_options(outer: MkDocsConfig, language: str) -> dict[str, Any]:
    """The root site's search options, in the deal room's language (stemming and stop
    words for its words)."""
    for name in ("material/search", "search"):
        if name in outer.plugins:
            options = dict(outer.plugins[name].config)
            options.pop("enabled", None)
            options["lang"] = [language]
            return options
    return {"lang": [language]}


# --- building every deal ---------------------------------------------------------------


@dataclass(frozen=True)
class DealBuild:
    """How one deal's build went; `problems` name the file and say what to do."""

    slug: str
    built: bool
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # what the build warned about (broken links, ...)
    reused: bool = False  # the previous build's site, put back: its inputs are unchanged


class DealSiteBuilds:
    """This run's deal sites, each built into `<site_dir>/<slug>/` in a worker.
    Made, it starts the workers on the deals whose inputs changed or whose previous site
    is damaged, then (while they build) puts the previous build's site back for every
    other deal: the caller can work on meanwhile. Iterate for how each deal went, in
    deal order (after its log records are re-emitted); `close()` stops the workers still
    running. `empty_dir` is an empty folder: every deal site's docs_dir."""

    def __init__(
        self,
        outer: MkDocsConfig,
        folders: list[DealFolder],
        theme: SharedTheme,
        options: BuildOptions,
        logs: Mapping[str, ContributorLog],
        empty_dir: str,
        sites: SiteCache | None = None,
        fingerprints: dict[str, str] | None = None,
    ) -> None:
        self.folders, self.sites, self.site_dir = folders, sites, outer.site_dir
        self.fingerprints = fingerprints or {}
        self.display_root = Path(outer.config_file_path).parent
        self.job = partial(_deal_job, outer, theme, options, logs, empty_dir)
        self.limits = options.limits
        unchanged = {
            folder.slug
            for folder in folders
            if sites is not None
            and folder.slug in self.fingerprints
            and sites.matches(folder.slug, self.fingerprints[folder.slug])
        }
        changed = [folder for folder in folders if folder.slug not in unchanged]
        if len(changed) > options.limits.workers:
            # Before forking, so that the workers start with the compiled templates and
            # what else every worker would load for itself (the calendar library, locale
            # data, catalogs). Not for a deal or two (an edit under `mkdocs serve`): the
            # worker then loads only what it needs, while this process restores the
            # unchanged sites and scores the dashboard.
            theme.warm()
            _prepare_workers(changed, options.as_of)
        self.first = {folder.slug for folder in changed}
        self.rest: Iterator[Outcome] | None = None  # the not restored deals' builds
        self.waiting: dict[str, Outcome] = {}  # the first builds' outcomes, taken early
        self.outcomes = self._run(changed)
        try:
            self.reused = {slug for slug in unchanged if sites is not None and sites.restore(slug)}
        except BaseException:  # the workers started: stopped, whatever stopped this
            self.close()
            raise
        # A site that matched but could not be moved back (its folder gone meanwhile):
        # built once the first builds are done.
        not_restored = unchanged - self.reused
        self.not_restored = [folder for folder in folders if folder.slug in not_restored]
        self.building = len(changed) + len(self.not_restored)

    def _run(self, folders: list[DealFolder]) -> Iterator[Outcome]:
        jobs = [Job(folder.slug, partial(self.job, folder)) for folder in folders]
        return run_jobs(jobs, self.limits.workers, self.limits.time_limit)

    def close(self) -> None:
        for outcomes in (self.outcomes, self.rest):
            if outcomes is not None:
                outcomes.close()  # type: ignore[attr-defined]  (see `run_jobs`)

    def __iter__(self) -> Iterator[DealBuild]:
        # Closed as soon as this loop ends or raises: the workers stopped, nothing frozen.
        with closing(self), progress(log, "building deal sites", self.building) as done:
            for folder in self.folders:
                if folder.slug in self.reused:
                    yield self._reused(folder.slug)
                    continue
                result = self._built(folder, self._outcome(folder.slug))
                done(folder.slug)
                yield result

    def _outcome(self, slug: str) -> Outcome:
        """How the build of `slug` went: its worker's outcome, in deal order."""
        if slug in self.first:
            return self.waiting.pop(slug) if slug in self.waiting else next(self.outcomes)
        if self.rest is None:  # within the worker limit: the first builds end first
            self.waiting = {outcome.key: outcome for outcome in self.outcomes}
            self.rest = self._run(self.not_restored)
        return next(self.rest)

    def _reused(self, slug: str) -> DealBuild:
        assert self.sites is not None
        records = self.sites.warnings(slug)  # what its build warned about, again
        for name, level, message in records:
            logging.getLogger(name).log(level, message)
        warnings = tuple(text for _, _, text in records)
        return DealBuild(slug, True, (), warnings, reused=True)

    def _built(self, folder: DealFolder, outcome: Outcome) -> DealBuild:
        for name, level, message in outcome.records:
            # MkDocs' own notes on each deal site it builds ("Building documentation to
            # directory …") would be two lines per deal: progress tells that.
            quieter = name == MKDOCS_BUILD_NOTES and level == logging.INFO
            logging.getLogger(name).log(logging.DEBUG if quieter else level, message)
        notable = [record for record in outcome.records if record[1] >= logging.WARNING]
        warnings = tuple(text for _, _, text in notable)
        if outcome.ok:
            if self.sites is not None and folder.slug in self.fingerprints:
                self.sites.record(folder.slug, self.fingerprints[folder.slug], notable)
            return DealBuild(outcome.key, True, (), warnings)
        if self.sites is not None:
            self.sites.forget(outcome.key)
        shutil.rmtree(os.path.join(self.site_dir, outcome.key), ignore_errors=True)
        where = _source_of(folder, outcome.step, self.display_root)
        hint = ""
        if outcome.timed_out:
            hint = (
                " (deal_time_limit); look for very long lines or deeply nested brackets, "
                "lists or quotes, or raise the limit"
            )
        problem = f"{where}: not built: {outcome.error}{hint}"
        return DealBuild(outcome.key, False, (problem,), warnings)


def run_settings(outer: MkDocsConfig, options: BuildOptions) -> dict[str, Any]:
    """Everything of this run that reaches every deal site (see `deal_site_config`), as
    plain values for the incremental build's fingerprint; not the limits, which do not
    change what is built."""
    theme = outer.theme
    custom_dir = theme.custom_dir if isinstance(theme.custom_dir, str) else None
    return {
        "options": {key: value for key, value in vars(options).items() if key != "limits"},
        "site_url": outer.site_url,
        "markdown_extensions": _markdown_extensions(outer),
        "extra": dict(outer.extra),
        "copyright": outer.copyright,
        "validation": _validation_options(outer),
        "search": _search_options(outer, "any"),  # the language is the deal's own input
        # Not the theme's language: each deal site sets its own (`_build_one`).
        "theme": {"name": theme.name, **{key: theme[key] for key in theme if key != "language"}},
        "custom_dir": tree_digest(Path(custom_dir)) if custom_dir else None,
    }


def _prepare_workers(folders: list[DealFolder], as_of: dt.date) -> None:
    """Load what each deal's build would load for itself, once, in this process: the
    calendar library (plan.ics), the locales' data (money and dates) and the catalogs
    of the deal rooms' languages. Forked afterwards, every worker has them from the
    start, as it has the compiled templates. Only a head start: a failure here is left
    to the deal's own build, which then reports it for that deal alone."""
    try:
        import icalendar  # noqa: F401  (see calendar.py: not at the start of every build)

        for locale in {folder.deal.locale for folder in folders}:
            Formatter(locale, "EUR", as_of)  # reads all of the locale's data
        for language in {folder.deal.site_language for folder in folders}:
            translations(language)
    except Exception as error:
        log.debug(f"dealroom: preparing the workers: {error}")


def _deal_job(
    outer: MkDocsConfig,
    theme: SharedTheme,
    options: BuildOptions,
    logs: Mapping[str, ContributorLog],
    empty_dir: str,
    folder: DealFolder,
    step: Step,
) -> bool:
    """In the worker: build `folder`'s site (see `_build_one`)."""
    config = partial(deal_site_config, outer, folder, theme, options, logs[folder.slug], empty_dir)
    return _build_one(theme, folder.deal.site_language, config, step)


def _build_one(
    theme: SharedTheme, language: str, deal_config: Callable[[Step], MkDocsConfig], step: Step
) -> bool:
    """In the worker: build one deal's site from its configuration, in its language:
    dealroom's words and the theme's interface (search, navigation, "Table of contents",
    <html lang>). The theme is shared by every deal of the run: the language is set for
    this build only: deals take turns in a worker (and in this process where there is
    no fork)."""
    previous, theme["language"] = theme["language"], language
    errors = _LastError()
    logging.getLogger("mkdocs").addHandler(errors)
    try:
        with in_language(language):
            config = deal_config(step)
            build(config)
    except Abort:  # MkDocs logged why (relayed to the parent); say it again in the report
        raise DealBuildError(errors.message or "the build stopped with an error") from None
    finally:
        theme["language"] = previous
        logging.getLogger("mkdocs").removeHandler(errors)
    return True


class _LastError(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.message = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.message = record.getMessage()


def _source_of(folder: DealFolder, step: str, display_root: Path) -> str:
    """The deal file behind what the build was working on, for the seller to look at."""
    if step in folder.narrative or step in folder.context_pages or step in folder.assets:
        name = step
    elif step:
        name = DEAL_FILE  # generated pages show deal.yml's fields
    else:
        return shown_path(folder.path, display_root)
    return shown_path(folder.path / name, display_root)
