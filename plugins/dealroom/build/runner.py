"""Run the root `mkdocs build` for the CLI and for publishing, and return what became of
every deal. `dealroom check` and `dealroom publish` use the very build `mkdocs build`
runs, so a deal `check` calls ok is a deal that builds, with the same messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort, ConfigurationError, PluginError

from ..deal.loading import DealFolder
from ..history.contributors import ContributorLog
from .project import DealReport, cache_folder


class BuildError(Exception):
    """The project could not be built at all (no dealroom plugin, a broken mkdocs.yml)."""


@dataclass
class BuildResult:
    deals: list[DealFolder]  # the deals whose sites were built
    reports: dict[str, DealReport]  # every deal: problems, warnings, built
    deals_dir: Path
    logs: Mapping[str, ContributorLog] = field(default_factory=dict)
    rules: object = None  # the scoring rules mkdocs.yml sets (seller/scoring.ScoringRules)


def deals_dir_of(config_file: Path) -> Path:
    """The deals folder the project at `config_file` builds."""
    config = _load(config_file)
    return Path(config.plugins["dealroom"].config.deals_dir or config.docs_dir)


def cache_dir_of(config_file: Path) -> Path | None:
    """The cache folder of the project at `config_file` (None: it keeps none)."""
    config = _load(config_file)
    return cache_folder(config_file.resolve().parent, config.plugins["dealroom"].config.cache_dir)


def plugin_option(config_file: Path, name: str) -> object:
    """One of the dealroom plugin's options as the project at `config_file` sets it, for
    the steps after the build (publishing), which import nothing of MkDocs."""
    return getattr(_load(config_file).plugins["dealroom"].config, name)


def _load(config_file: Path, **overrides: str) -> MkDocsConfig:
    try:
        config = load_config(str(config_file), **overrides)
    except (ConfigurationError, Abort) as error:
        raise BuildError(f"{config_file}: {error}") from None
    if config.plugins.get("dealroom") is None:
        raise BuildError(f"{config_file} does not use the dealroom plugin")
    return config


def build_project(
    config_file: Path,
    site_dir: Path,
    *,
    deals: Iterable[str] = (),
    missing_markers: str | None = None,
    reuse: bool = False,
) -> BuildResult:
    """Build the project at `config_file` into `site_dir` (only `deals`, if given); with
    `reuse`, an incremental build that keeps the deal sites whose inputs did not change
    (`site_dir` must then be kept for the next build, and hold nothing else)."""
    config = _load(config_file, site_dir=str(site_dir))
    plugin = config.plugins["dealroom"]
    if deals:
        plugin.config.deals = list(deals)
    if missing_markers is not None:
        plugin.config.missing_markers = missing_markers
    try:
        # A plain build, whatever an earlier build in this process was: MkDocs keeps one
        # instance of a plugin with `on_startup`, so a preview's `serve` would carry over.
        config.plugins.on_startup(command="build", dirty=False)
        plugin.reuse_sites = reuse  # else a fresh folder: no site of a previous build
        build(config)
    except (Abort, PluginError, ConfigurationError) as error:
        raise BuildError(f"the build stopped: {error}") from None
    finally:
        plugin.collector.close()  # paused for the build (plugin.py), even if it was cut short
    deals_dir = Path(plugin.config.deals_dir or config.docs_dir)
    return BuildResult(plugin.deals, plugin.reports, deals_dir, plugin.logs, plugin.rules)
