"""Options of the `dealroom` plugin, set under `plugins: - dealroom:` in mkdocs.yml."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.config.defaults import MkDocsConfig

from .build.project import Limits, cache_folder
from .deal.i18n import LANGUAGES
from .deal.includes import is_snippets
from .deal.loading import LoadOptions


class DealRoomConfig(Config):
    enabled = c.Type(bool, default=True)
    """Build the deal sites. With `false`, `mkdocs build` writes only the root page."""

    # Deals

    deals_dir = c.Optional(c.Dir(exists=True))
    """Folder holding one sub-folder per deal, relative to mkdocs.yml.
    Defaults to `docs_dir` (this repository sets `docs_dir: deals`)."""

    deals = c.ListOfItems(c.Type(str), default=[])
    """Slugs of the deals to build; empty builds every deal (a quick preview of one)."""

    cache_dir = c.Optional(c.Type(str))
    """Where dealroom keeps what it reuses between builds, relative to mkdocs.yml: loaded
    deals, a manifest of each built deal site, and the parsed git history. A build then
    loads and builds again only the deals whose inputs changed. Defaults to
    `.cache/dealroom`; `""` keeps nothing, so that every build is a full one."""

    shard = c.Type(str, default="")
    """`I/N`: build only the deals in shard I of N (a stable split by slug, see
    `build/shards.py`), so N CI jobs can share a very large deal set; the dashboard then
    covers that shard. Empty builds every deal. `DEALROOM_SHARD` overrides it."""

    # Rendering

    as_of = c.Optional(c.Type((str, dt.date)))
    """The day the build treats as today (YYYY-MM-DD), for overdue steps and days left.
    Defaults to `SOURCE_DATE_EPOCH` if set, else the build date."""

    missing_markers = c.Choice(("auto", "show", "hide"), default="auto")
    """Show `MISSING: ...` where the business case lacks data (`show`), or render a clean
    page (`hide`). `auto` shows them under `mkdocs serve` and hides them otherwise."""

    allow_raw_html = c.Type(bool, default=False)
    """Keep HTML in the seller's Markdown as written, and publish `.html` and `.js` assets.
    With `false`, HTML is sanitized: formatting stays; scripts, event handlers, iframes,
    forms and `javascript:` URLs are removed. Every deal shares one origin, so a script in
    one deal could read another with a team member's cached credentials."""

    link_preview = c.Type(bool, default=True)
    """Give every deal page `og:title` and `og:description` tags, so a forwarded link shows
    as "<page> · <customer> and <seller>" in mail and chat apps. They name the deal room
    and the page, never a figure; set `false` if even the names must not show."""

    trusted_markdown_extensions = c.ListOfItems(c.Type(str), default=[])
    """Markdown extensions besides the ones dealroom knows to be safe (Python-Markdown's
    own and pymdown-extensions') that deal sites may use. Name one only if it cannot
    read files or run code that a deal's Markdown controls."""

    # Limits: what one deal may cost the build

    max_file_size = c.Type(int, default=1_000_000)
    """Largest deal.yml, or Markdown page with its includes, in bytes; larger files are
    reported and their deal skipped."""

    deal_time_limit = c.Type((int, float), default=60)
    """Seconds one deal's site may take to build; a deal that takes longer is stopped,
    reported (naming the page it was on) and skipped, and the others build on."""

    workers = c.Type(int, default=0)
    """Worker processes that load and build deals, one deal at a time each; `0` uses
    every core."""

    # Contributor log

    contributors_enabled = c.Type(bool, default=True)
    """Fill each deal's contributor log and page footers from git history and the
    recorded `contributions`. With `false`, no git command runs and the contributors
    page lists recorded contributions only."""

    contributors_show_emails = c.Type(bool, default=False)
    """Show contributors' email addresses on the contributors page (names only when
    `false`: deal sites are forwarded)."""

    contributors_show_messages = c.Type(bool, default=False)
    """Show the subjects of commits that touched only this deal on its contributors page.
    Off by default: commit messages are written for colleagues, not for the customer.
    What a recorded contribution's `what` says is always shown: it is written for the log."""

    contributors_cache_dir = c.Optional(c.Type(str))
    """Where the parsed git history is cached between builds, relative to mkdocs.yml.
    Defaults to `cache_dir`; set `""` to keep no cache."""

    # Publishing

    access_page_contact = c.Type(bool, default=False)
    """Name the seller contact (name, title, email) on the sign-in and 401 pages a reader
    without access sees. Off by default: those pages are public, and a page that names a
    person also tells anyone who guesses a deal's address that this deal room exists.
    The contact is the seller-side stakeholder with `contact: true`, else the account
    executive. These pages name the seller, never the customer."""

    # Engagement (seller-only: `dealroom activity`, the dashboard and the scorecard)

    share_link_tokens = c.Type(bool, default=False)
    """Encrypted mode: give each viewer's share link a keys file of its own, named by a
    random token (kept in the deal's access.yml), so that the static host's log shows
    which viewer's share link was opened, and when. Off by default: it is a signal the
    reader cannot see. See the README, "Engagement"."""

    activity_retention_days = c.Type(int, default=180)
    """How many days of page views `dealroom activity --save` keeps in the cache folder;
    older views are dropped at every save. At least 1."""

    # Reminders (`dealroom remind`; a build never sends anything)

    remind_smtp = c.Type(str, default="")
    """The SMTP server `dealroom remind` sends through, as `host:port`, e.g.
    `smtp.example.com:587`. Its user name and password come from the environment
    (`DEALROOM_SMTP_USER`, `DEALROOM_SMTP_PASSWORD`), never from a file in git."""

    remind_from = c.Type(str, default="")
    """The sender of reminders, e.g. `Ledgerly deal desk <deals@ledgerly.example>`."""

    remind_starttls = c.Type(bool, default=True)
    """Encrypt the connection with STARTTLS (turn off only for a server on this machine)."""

    # The seller's side

    language = c.Choice(LANGUAGES, default="en")
    """The seller's language: of the dashboard, and of the reports of `dealroom score`,
    `check --gate`, `activity` and `remind`. Each deal room has its own (`language:` in
    its deal.yml); this never changes a deal room, and a deal room never changes this."""

    # Scorecard (seller-only: shown on the root dashboard and by `dealroom score`)

    scoring_stage_targets = c.Type(dict, default={})
    """Target score per pipeline stage, e.g. `{1: 2.0, 4: 4.5}`; stages left out keep the
    defaults 1: 2.0, 2: 3.0, 3: 4.0, 4: 4.5, 5: 4.9."""

    scoring_thresholds = c.Type(dict, default={})
    """Counts the rubric asks for, e.g. `{capabilities: 4}`; see the README's Scorecard."""


def load_options(options: DealRoomConfig, config: MkDocsConfig) -> LoadOptions:
    """What loading a deal may read, from the plugin's options and the root config."""
    snippets = None
    for name in config.markdown_extensions:
        if is_snippets(name):
            snippets = dict(config.mdx_configs.get(name, {}))
    return LoadOptions(options.max_file_size, options.allow_raw_html, snippets)


def cache_path(options: DealRoomConfig, config: MkDocsConfig) -> Path | None:
    """The cache folder (`cache_dir`, relative to mkdocs.yml), or None for no caching."""
    return cache_folder(Path(config.config_file_path).parent, options.cache_dir)


def load_limits(options: DealRoomConfig) -> Limits:
    """How many deals load and build at once (`workers`, 0: every core), and for how long."""
    return Limits(options.workers or os.cpu_count() or 1, options.deal_time_limit)


def plugin_as_of(value: str | dt.date | None) -> dt.date:
    """The build's "today": the `as_of` option, else SOURCE_DATE_EPOCH, else today.
    Raises ValueError for an option that is not a date."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"as_of: expected a date written as YYYY-MM-DD, got {value!r}"
            ) from None
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc).date()
    return dt.date.today()
