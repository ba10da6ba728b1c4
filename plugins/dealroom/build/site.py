"""Assemble and build one standalone MkDocs site per deal, all in one process.

Each deal gets its own MkDocs configuration (own navigation, own search index, own
sitemap) whose files are generated from the validated deal only, so nothing from
another deal, from `internal/` or from outside the deal folder can reach its site.
The expensive, deal-independent work (compiling Material's templates and listing its
~14k theme files) is done once per run by `SharedTheme`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from mkdocs.commands.build import build
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import TableOfContents, get_toc
from mkdocs.theme import Theme

from ..deal.loading import DealFolder
from ..history.contributors import ContributorLog, and_list
from .rendering import (
    PageSpec,
    contributor_context,
    deal_context,
    heading_tokens,
    nav_for,
    page_link,
    page_specs,
    plain_title,
    render_sections,
)

log = logging.getLogger("mkdocs.plugins.dealroom")

TEMPLATES_DIR = str(Path(__file__).parent.parent / "templates")
SNIPPETS = "pymdownx.snippets"
NARRATIVE_SLOT = "<!-- dealroom: narrative -->"


@dataclass(frozen=True)
class BuildOptions:
    """Per-run choices that every deal site of the run shares."""

    as_of: dt.date  # "today" for overdue steps and days left
    show_missing: bool  # MISSING markers (seller preview) or a clean page (published)
    show_emails: bool = False  # contributors' email addresses on the contributors page


# --- one theme environment per run ---------------------------------------------------


class _ListingCacheLoader(jinja2.FileSystemLoader):
    """Lists the theme's files once, since MkDocs asks for the listing on every build.
    Hidden paths (Material's ~14k `.icons/` files) are left out of the listing: MkDocs
    never copies them, and filtering them out again for every deal is most of the cost.
    Templates still load them by name."""

    def __init__(self, searchpath: list[str]) -> None:
        super().__init__(searchpath)
        self._listing: list[str] | None = None

    def list_templates(self) -> list[str]:
        if self._listing is None:
            self._listing = [
                name
                for name in super().list_templates()
                if not name.startswith(".") and "/." not in name
            ]
        return self._listing


def _autoescape(template_name: str | None) -> bool:
    # Material's own templates expect no autoescaping; ours always escape user text.
    return bool(template_name and template_name.startswith("dealroom/"))


class SharedTheme(Theme):
    """The user's theme plus dealroom's templates, with one Jinja environment that all
    deal sites of a run reuse (templates are compiled once, files listed once)."""

    _env: jinja2.Environment | None = None

    @classmethod
    def extending(cls, theme: Theme) -> SharedTheme:
        values = dict(theme.items())
        name = values.pop("name")
        locale = str(values.pop("locale"))
        shared = cls(
            name, custom_dir=theme.custom_dir, static_templates=theme.static_templates,
            locale=locale, **values,
        )  # fmt: skip
        # After the user's custom_dir and the theme, so `theme_overrides/dealroom/...` wins.
        shared.dirs.append(TEMPLATES_DIR)
        return shared

    def get_env(self) -> jinja2.Environment:
        if self._env is None:
            env = super().get_env()
            env.loader = _ListingCacheLoader(self.dirs)
            env.autoescape = _autoescape
            self._env = env
        return self._env


# --- the per-deal plugin -------------------------------------------------------------


class DealSitePlugin(BasePlugin):
    """Fills one deal's site: generated pages only, never a scan of the deal folder."""

    def __init__(
        self,
        folder: DealFolder,
        pages: list[PageSpec],
        options: BuildOptions,
        contributor_log: ContributorLog,
    ) -> None:
        super().__init__()
        self.folder = folder
        self.pages = {page.src_uri: page for page in pages}
        self.options = options
        self.contributor_log = contributor_log
        self.context = deal_context(folder, pages, options.as_of, options.show_missing)
        self.context |= contributor_context(contributor_log, pages, options.show_emails)

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        # Keep the theme's assets, drop everything MkDocs found in the deal folder, then
        # add exactly the pages and assets the deal publishes.
        site = Files([file for file in files if file.src_dir != config.docs_dir])
        for page in self.pages.values():
            site.append(File.generated(config, page.src_uri, content=page.source()))
        for asset in self.folder.assets:
            site.append(
                File(asset, str(self.folder.path), config.site_dir, config.use_directory_urls)
            )
        return site

    def on_page_content(
        self, html: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        spec = self.pages.get(page.file.src_uri)
        if spec is None:
            return html
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
        page.toc = TableOfContents([*sections, *narrative])
        return rendered.replace(NARRATIVE_SLOT, html)

    def on_page_context(
        self, context: dict[str, Any], *, page: Page, config: MkDocsConfig, nav: Any
    ) -> dict[str, Any]:
        context["dealroom_preview"] = self.options.show_missing
        update = self.contributor_log.last_update(page.file.src_uri)
        if update is not None:
            names = [person.name for person in self.contributor_log.credited(update)]
            context["dealroom_updated"] = {
                "date": self.context["fmt"].date(update.date),
                "by": and_list(names),
            }
        return context


# --- configuration and build ---------------------------------------------------------


def deal_site_config(
    outer: MkDocsConfig,
    folder: DealFolder,
    theme: SharedTheme,
    options: BuildOptions,
    contributor_log: ContributorLog,
) -> MkDocsConfig:
    """A complete MkDocs configuration for one deal, derived from the root mkdocs.yml."""
    deal = folder.deal
    pages = page_specs(folder, options.show_missing)
    site_url = f"{outer.site_url.rstrip('/')}/{folder.slug}/" if outer.site_url else None
    config = MkDocsConfig(config_file_path=outer.config_file_path)
    config.load_dict(
        {
            "site_name": plain_title(f"{deal.customer.name} and {deal.seller.name}"),
            "site_description": plain_title(f"Deal room for {deal.customer.name}"),
            "site_url": site_url,
            "docs_dir": str(folder.path),
            "site_dir": os.path.join(outer.site_dir, folder.slug),
            "use_directory_urls": True,
            "theme": {"name": theme.name},
            "nav": nav_for(pages),
            "markdown_extensions": _markdown_extensions(outer, folder.path),
            "plugins": [{"search": _search_options(outer)}],
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
    config["theme"] = theme
    config.plugins["dealroom/deal-site"] = DealSitePlugin(folder, pages, options, contributor_log)
    return config


def _markdown_extensions(outer: MkDocsConfig, deal_dir: Path) -> list[Any]:
    """The root site's Markdown extensions; includes are confined to the deal folder."""
    extensions: list[Any] = []
    for name in outer.markdown_extensions:
        if not isinstance(name, str):
            continue  # extension instances cannot be shared safely between sites
        options = dict(outer.mdx_configs.get(name, {}))
        if name == SNIPPETS:
            options.update(
                base_path=[str(deal_dir)], restrict_base_path=True, check_paths=True,
                url_download=False, auto_append=[],
            )  # fmt: skip
        extensions.append({name: options} if options else name)
    return extensions


def _validation_options(outer: MkDocsConfig) -> dict[str, dict[str, str]]:
    """The root `validation:` settings, written back as names MkDocs accepts."""
    names = {logging.WARNING: "warn", logging.INFO: "info", logging.DEBUG: "ignore"}
    return {
        group: {key: names.get(level, "warn") for key, level in outer.validation[group].items()}
        for group in ("nav", "links")
    }


def _search_options(outer: MkDocsConfig) -> dict[str, Any]:
    for name in ("material/search", "search"):
        if name in outer.plugins:
            options = dict(outer.plugins[name].config)
            options.pop("enabled", None)
            return options
    return {}


def build_deal_site(
    outer: MkDocsConfig,
    folder: DealFolder,
    theme: SharedTheme,
    options: BuildOptions,
    contributor_log: ContributorLog,
) -> bool:
    """Build one deal's site into `<site_dir>/<slug>/`. Returns False (after logging
    why and removing the half-written output) if the build failed."""
    target = os.path.join(outer.site_dir, folder.slug)
    try:
        build(deal_site_config(outer, folder, theme, options, contributor_log))
    except Exception as error:  # one broken deal must never stop the others
        log.error(f"deal '{folder.slug}' was not built: {error}")
        log.debug("traceback", exc_info=True)
        shutil.rmtree(target, ignore_errors=True)
        return False
    return True
