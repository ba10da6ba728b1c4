"""The `dealroom` command: scaffold and check deal folders (building is `mkdocs build`)."""

from __future__ import annotations

import datetime as dt
import glob
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from string import Template

import click
import yaml
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort, ConfigurationError

from .build.project import Project, cache_folder, load_project
from .build.rendering import page_specs
from .build.runner import BuildError, build_project
from .build.shards import Shard, ShardError, effective_shard
from .config import DealRoomConfig, load_limits, load_options, plugin_as_of
from .deal.files import ACCESS_FILE, DEAL_FILE, INTERNAL_DIR
from .deal.i18n import in_language
from .deal.loading import RESERVED_SLUGS, SLUG_PATTERN, DealError, load_deal_folder
from .publish.access import (
    CREDENTIALS_DIR,
    CREDENTIALS_FILE,
    TEAM_ACCESS_FILE,
    AccessError,
    AccessList,
    Credentials,
    Scope,
    add_viewer,
    revoke_viewer,
    rotate_password,
)
from .publish.encryption import share_fragment, unb64
from .publish.grants import password_is_current
from .publish.nginx import NginxError, unreadable_for_others, worker_user, write_nginx_config
from .publish.releases import MODES, PublishError, PublishResult, publish
from .publish.releases import rollback as rollback_release
from .publish.sharded import merge_shards, publish_shard
from .seller.access_log import LogError, read_logs
from .seller.activity import (
    ACTIVITY_FILE,
    ActivityFileError,
    Pseudonyms,
    SavedActivity,
    identify,
    views_by_deal,
)
from .seller.activity_report import as_text, deal_report
from .seller.reminders import MailError, SmtpServer, digests
from .seller.scorecard_report import gate_lines, score_lines
from .seller.scoring import ScoringRules, score_deal

SCAFFOLD = Path(__file__).parent / "scaffold" / DEAL_FILE
MAX_RETENTION_DAYS = 3650  # activity_retention_days
NEXT_STEPS = """\
Created {path}. Fill in, in this order:
  1. stakeholders: your champion first, then everyone on both sides
  2. compelling_event and go_live: the date that makes this urgent
  3. business_case: problem and cost_of_inaction with the champion, then outcomes
     and investment (ROI, net benefit and payback are computed for you)
  4. mutual_action_plan.steps: dated steps for both sides, worked back from the event
Preview with `mkdocs serve`: every gap shows as a MISSING marker.
Seller-only notes go in {internal}/ or under `internal:` and are never published."""

deals_dir_option = click.option(
    "--deals-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("deals"),
    show_default=True,
    help="Folder holding the deal folders.",
)

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=Path("mkdocs.yml"),
    show_default=True,
    help="The project's MkDocs configuration.",
)


@click.group()
@click.version_option(package_name="dealroom")
def main() -> None:
    """Deal rooms from folders of Markdown and YAML. Build them with `mkdocs build`."""


@main.command()
@click.argument("slug")
@click.option("--customer", help="Customer company name (defaults to the slug).")
@click.option("--seller", default="Your company", show_default=True, help="Your company name.")
@deals_dir_option
def new(slug: str, customer: str | None, seller: str, deals_dir: Path) -> None:
    """Create deals/SLUG/ from a template that builds as it is."""
    if not SLUG_PATTERN.fullmatch(slug) or slug in RESERVED_SLUGS:
        raise click.BadParameter(
            "use lowercase letters, digits and dashes, e.g. 'northwind-ap'", param_hint="SLUG"
        )
    folder = deals_dir / slug
    if folder.exists():
        raise click.ClickException(f"{folder} already exists; pick another slug")
    customer = customer or slug.replace("-", " ").title()
    text = Template(SCAFFOLD.read_text(encoding="utf-8")).substitute(
        title=customer.replace("\n", " "),
        customer=_yaml_scalar(customer),
        seller=_yaml_scalar(seller),
    )
    (folder / INTERNAL_DIR).mkdir(parents=True)
    (folder / DEAL_FILE).write_text(text, encoding="utf-8")
    (folder / INTERNAL_DIR / "notes.md").write_text(
        f"# Seller-only notes on {customer}\n\nNever published.\n", encoding="utf-8"
    )
    try:  # the template must always build; fail loudly here rather than in mkdocs
        load_deal_folder(folder)
    except DealError as error:
        raise click.ClickException(f"the new deal does not validate:\n{error}") from None
    click.echo(NEXT_STEPS.format(path=folder / DEAL_FILE, internal=folder / INTERNAL_DIR))


@main.command()
@click.argument("slugs", nargs=-1)
@click.option("--gate", is_flag=True,
              help="Also fail when a deal's business case is below its stage target.")  # fmt: skip
@config_option
def check(slugs: tuple[str, ...], gate: bool, config_file: Path) -> None:
    """Validate deal folders and test-build their sites in a temporary folder; exit 1 if
    any has errors (or, with --gate, is below its stage target). A deal reported ok
    builds: the check runs the same build as `mkdocs build`."""
    _mkdocs_logging(shown=False)  # the report below says it all, deal by deal
    with tempfile.TemporaryDirectory(prefix="dealroom-check-") as site_dir, _user_errors():
        result = build_project(config_file, Path(site_dir), deals=slugs, missing_markers="hide")
    _refuse_unknown(slugs, result.reports)
    failed = 0
    for report in result.reports.values():
        if report.problems:
            failed += 1
            click.echo(f"{report.slug}: {len(report.problems)} error(s)", err=True)
        else:
            click.echo(f"{report.slug}: ok")
        for problem in report.problems:
            click.echo(f"  error: {problem}", err=True)
        for warning in report.warnings:
            click.echo(f"  warning: {warning}", err=True)
    if gate:
        saved = _saved_activity(config_file)
        with _seller_language(config_file):
            for folder in result.deals:
                readers = saved.reader_roles(folder.slug, dt.date.today())
                card = score_deal(folder, result.logs[folder.slug], result.rules, readers)
                if not card.passed:
                    failed += 1
                    click.echo("\n".join(gate_lines(card)), err=True)
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("slugs", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for tooling.")
@config_option
def score(slugs: tuple[str, ...], as_json: bool, config_file: Path) -> None:
    """Score each deal's business case against its stage target (seller-only)."""
    project, rules = _load(config_file, slugs)
    for report in project.failed:
        click.echo(f"{report.slug}: not scored, {len(report.problems)} error(s); "
                   "run `dealroom check`", err=True)  # fmt: skip
    saved = _saved_activity(config_file)
    today = dt.date.today()
    with _seller_language(config_file):
        cards = [score_deal(f, project.logs[f.slug], rules, saved.reader_roles(f.slug, today))
                 for f in project.folders]  # fmt: skip
        output = (json.dumps([card.as_dict() for card in cards], indent=2) if as_json
                  else "\n".join(score_lines(cards)))  # fmt: skip
    click.echo(output)


@main.command()
@click.argument("slugs", nargs=-1)
@click.option(
    "--log",
    "log_paths",
    multiple=True,
    required=True,
    metavar="PATH",
    help="An nginx access log, plain or .gz; repeat it, or quote a pattern such "
    "as '/var/log/nginx/dealroom.log*' for every rotation.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only views on or after this day (YYYY-MM-DD, UTC).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for tooling.")
@click.option("--mode", type=click.Choice(MODES), default="nginx", show_default=True,
              help="How the deal rooms were published: nginx logs who signed in; an "
                   "encrypted deal room's host logs only share links opened (with "
                   "share_link_tokens).")  # fmt: skip
@click.option(
    "--save",
    is_flag=True,
    help="Keep the views in the cache folder for the dashboard and the scorecard "
    "(seller-only, never published), dropping those past the retention.",
)
@config_option
def activity(
    slugs: tuple[str, ...],
    log_paths: tuple[str, ...],
    since: dt.datetime | None,
    as_json: bool,
    mode: str,
    save: bool,
    config_file: Path,
) -> None:
    """Who from each buying group read what, from the host's access logs (nginx mode;
    seller-only)."""
    project, _ = _load(config_file, slugs)
    config, options = _project_config(config_file)
    cache = cache_folder(config_file.resolve().parent, options.cache_dir)
    if save and cache is None:
        raise click.ClickException('--save needs a cache folder; cache_dir is set to ""')
    if not 1 <= options.activity_retention_days <= MAX_RETENTION_DAYS:
        raise click.ClickException(f"{config_file}: activity_retention_days: give a number "
                                   f"of days from 1 to {MAX_RETENTION_DAYS}")  # fmt: skip
    try:
        logs = read_logs(_log_files(log_paths))
    except LogError as error:
        raise click.ClickException(str(error)) from None
    for path, numbers in logs.malformed.items():
        shown = ", ".join(map(str, numbers[:5])) + (", ..." if len(numbers) > 5 else "")
        click.echo(f"warning: {path}: {len(numbers)} line(s) not in nginx's combined format "
                   f"skipped (line {shown})", err=True)  # fmt: skip
    slugs_known = set(project.reports)
    deals_dir = Path(options.deals_dir or config.docs_dir)
    with _user_errors():
        team = AccessList.load(config_file.resolve().parent / TEAM_ACCESS_FILE)
        access_lists = {slug: AccessList.load(deals_dir / slug / ACCESS_FILE)
                        for slug in sorted(slugs_known)}  # fmt: skip
    tokens = {slug: {v.token: v.username for v in access.viewers if v.token}
              for slug, access in access_lists.items()}  # fmt: skip
    pseudonyms = Pseudonyms.of_project(cache)
    views, skipped = views_by_deal(logs.requests, slugs_known, pseudonyms, tokens, mode)
    if skipped.foreign:
        click.echo(f"warning: {skipped.foreign} request(s) for no deal room of this project "
                   "skipped (another site, or a probe)", err=True)  # fmt: skip
    saved = SavedActivity()
    path = cache / ACTIVITY_FILE if cache is not None else None
    if save and path is not None:
        try:
            saved = SavedActivity.load(path)
        except ActivityFileError as error:
            raise click.ClickException(str(error)) from None
    stakeholders = {f.slug: f.deal.stakeholders for f in project.folders}
    team_names = {viewer.username for viewer in team.viewers}
    start = since.replace(tzinfo=dt.timezone.utc) if since else None
    reports = []
    for slug in sorted(slugs_known):
        deal_activity = saved.merge(slug, views[slug])
        viewers = {v.username: (v.name, v.forwardable) for v in access_lists[slug].viewers}
        people = {
            username: identify(username, viewers, team_names, stakeholders.get(slug, []))
            for username in sorted({view.username for view in deal_activity.views} | set(viewers))
        }
        deal_activity.people = people
        current = [people[username] for username in viewers]
        with in_language(options.language):  # its labels name roles
            reports.append(deal_report(slug, deal_activity, current, start))
    if save and path is not None:
        retention = dt.timedelta(days=options.activity_retention_days)
        dropped = saved.drop_before(dt.datetime.now(dt.timezone.utc) - retention)
        saved.save(path)
        click.echo(f"Saved the views of {len(slugs_known)} deal(s) to {path}"
                   + (f"; {dropped} view(s) older than {retention.days} days dropped"
                      if dropped else ""), err=True)  # fmt: skip
    if as_json:
        summary = {"lines": logs.lines, "malformed": logs.malformed_count,
                   "foreign": skipped.foreign, "without_credentials": skipped.unsigned,
                   "not_pages": skipped.not_pages}  # fmt: skip
        click.echo(json.dumps({"read": summary, "deals": reports}, indent=2))
        return
    with in_language(options.language):
        for report in reports:
            click.echo("\n".join(as_text(report)))


@main.command()
@click.argument("slugs", nargs=-1)
@click.option(
    "--days",
    type=click.IntRange(0, 365),
    default=7,
    show_default=True,
    help="Remind of steps due within this many days (and every overdue step).",
)
@click.option("--dry-run", is_flag=True, help="Print the messages instead of sending them.")
@config_option
def remind(slugs: tuple[str, ...], days: int, dry_run: bool, config_file: Path) -> None:
    """Email each step owner a digest of their overdue and upcoming plan steps, across
    deals, through the SMTP server in mkdocs.yml (remind_smtp, remind_from)."""
    project, _ = _load(config_file, slugs)
    _, options = _project_config(config_file)
    try:
        as_of = plugin_as_of(options.as_of)
    except ValueError as error:
        raise click.ClickException(f"{config_file}: {error}") from None
    unsendable: set[str] = set()
    found = digests(project.folders, as_of, days, unsendable)
    for owner in sorted(unsendable):
        click.echo(f"warning: {owner}: not one plain email address; no reminder for them",
                   err=True)  # fmt: skip
    if not found:
        click.echo(f"Nothing overdue or due in the next {days} days for owners with an email.")
        return
    sender = options.remind_from or ("dealroom <dealroom@localhost>" if dry_run else "")
    if not sender:
        raise click.ClickException(f"{config_file}: set remind_from, e.g. "
                                   "'Deal desk <deals@example.com>'")  # fmt: skip
    messages = [digest.message(sender, as_of, days, options.language) for digest in found]
    if dry_run:
        for message in messages:
            click.echo(message.as_string())
        click.echo(f"(dry run: {len(messages)} message(s) not sent)", err=True)
        return
    host, _, port = options.remind_smtp.rpartition(":")
    if not host or not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        raise click.ClickException(f"{config_file}: remind_smtp: give the SMTP server as "
                                   "host:port, e.g. smtp.example.com:587")  # fmt: skip
    server = SmtpServer(host, int(port), options.remind_starttls,
                        os.environ.get("DEALROOM_SMTP_USER", ""),
                        os.environ.get("DEALROOM_SMTP_PASSWORD", ""))  # fmt: skip
    try:
        server.send(messages)
    except MailError as error:
        if error.sent:  # said, so that running it again is a choice, not a surprise
            raise click.ClickException(
                f"{error}; sent {len(error.sent)} of {len(messages)} before that "
                f"({', '.join(error.sent)}); the others were not sent"
            ) from None
        raise click.ClickException(f"{error}; nothing was sent") from None
    click.echo(f"Sent {len(messages)} reminder(s): "
               + ", ".join(digest.email for digest in found))  # fmt: skip


def _seller_language(config_file: Path) -> AbstractContextManager[None]:
    """The seller's language (the `language` option) for a report's words; messages
    about problems stay in English, as MkDocs' own do."""
    _, options = _project_config(config_file)
    return in_language(options.language)


def _saved_activity(config_file: Path) -> SavedActivity:
    """What `dealroom activity --save` kept (nothing if it never ran), so that `score`
    and `check --gate` score as the dashboard does."""
    _, options = _project_config(config_file)
    cache = cache_folder(config_file.resolve().parent, options.cache_dir)
    try:
        return SavedActivity.of_project(cache) or SavedActivity()
    except ActivityFileError as error:
        click.echo(f"warning: {error}", err=True)
        return SavedActivity()


def _log_files(given: tuple[str, ...]) -> list[Path]:
    """The log files named, each pattern (`*`, `?`, `[`) expanded in name order; a file
    named twice (a pattern that matches a file also given) is read once."""
    files: list[Path] = []
    for name in given:
        if any(mark in name for mark in "*?["):
            matched = sorted(Path(p) for p in glob.glob(name))
            if not matched:
                raise click.ClickException(f"--log {name}: no file matches")
            files += matched
        else:
            files.append(Path(name))
    return list({path.resolve(): path for path in files}.values())


def _project_config(config_file: Path) -> tuple[MkDocsConfig, DealRoomConfig]:
    """mkdocs.yml, and the dealroom plugin's options in it."""
    try:
        config = load_config(str(config_file))
    except (ConfigurationError, Abort) as error:
        raise click.ClickException(f"{config_file}: {error}") from None
    plugin = config.plugins.get("dealroom")
    if plugin is None:
        raise click.ClickException(f"{config_file} does not use the dealroom plugin")
    return config, plugin.config


def _load(config_file: Path, slugs: tuple[str, ...]) -> tuple[Project, ScoringRules]:
    """The deals, their contributor logs and the scoring rules as mkdocs.yml sets them."""
    config, options = _project_config(config_file)
    try:
        rules = ScoringRules.from_options(options.scoring_stage_targets, options.scoring_thresholds)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    project = load_project(
        Path(options.deals_dir or config.docs_dir), config_file.resolve().parent, set(slugs),
        options.contributors_enabled, options.contributors_cache_dir,
        load_options(options, config),
        load_limits(options),
    )  # fmt: skip
    _refuse_unknown(slugs, project.reports)
    return project, rules


def _refuse_unknown(slugs: tuple[str, ...], known: dict[str, object]) -> None:
    unknown = set(slugs) - set(known)
    if unknown:
        raise click.ClickException(f"no deal folder for: {', '.join(sorted(unknown))}")


# --- access ---------------------------------------------------------------------------


@main.group()
def access() -> None:
    """Manage who may open each deal room (run from the project folder)."""


@contextmanager
def _user_errors() -> Iterator[None]:
    """Show a user mistake as a one-line error, never a traceback."""
    try:
        yield
    except (AccessError, PublishError, BuildError, NginxError) as error:
        raise click.ClickException(str(error)) from None


def _scope(deal: str | None, team: bool, deals_dir: Path) -> Scope:
    if team == (deal is not None):
        raise click.UsageError("give exactly one of --deal SLUG or --team")
    with _user_errors():
        return Scope.of(Path.cwd(), deals_dir, None if team else deal)


scope_options = [
    click.option("--deal", metavar="SLUG", help="The deal whose viewers to change."),
    click.option("--team", is_flag=True, help="The seller team: their access opens every deal."),
    deals_dir_option,
]


def _with_scope(command):  # type: ignore[no-untyped-def]
    for option in reversed(scope_options):
        command = option(command)
    return command


def _show_once(username: str, password: str, scope: Scope) -> None:
    click.echo(f"Password for {username} ({scope.key}), shown once:\n\n    {password}\n")
    click.echo(
        f"It is also kept in {CREDENTIALS_DIR}/{CREDENTIALS_FILE} (readable by you only, "
        "never committed). Publish to make the change live."
    )


@access.command("add")
@click.argument("username")
@click.option("--name", default="", help="The person's name, e.g. 'Maria Chen'.")
@click.option("--forwardable", is_flag=True, help="The one credential the champion may pass on.")
@_with_scope
def access_add(
    username: str, name: str, forwardable: bool, deal: str | None, team: bool, deals_dir: Path
) -> None:
    """Give USERNAME a new generated passphrase."""
    scope = _scope(deal, team, deals_dir)
    with _user_errors():
        password = add_viewer(Path.cwd(), scope, username, name, forwardable)
    _show_once(username, password, scope)


@access.command("rotate")
@click.argument("username")
@_with_scope
def access_rotate(username: str, deal: str | None, team: bool, deals_dir: Path) -> None:
    """Replace USERNAME's passphrase with a new one."""
    scope = _scope(deal, team, deals_dir)
    with _user_errors():
        password = rotate_password(Path.cwd(), scope, username)
    _show_once(username, password, scope)


@access.command("revoke")
@click.argument("username")
@_with_scope
def access_revoke(username: str, deal: str | None, team: bool, deals_dir: Path) -> None:
    """Remove USERNAME's access."""
    scope = _scope(deal, team, deals_dir)
    with _user_errors():
        revoke_viewer(Path.cwd(), scope, username)
    click.echo(f"Revoked {username} ({scope.key}). Publish to make the change live.")


@access.command("list")
@_with_scope
def access_list(deal: str | None, team: bool, deals_dir: Path) -> None:
    """List who has access (never passwords)."""
    scope = _scope(deal, team, deals_dir)
    for viewer in AccessList.load(scope.access_file).viewers:
        flag = " (forwardable)" if viewer.forwardable else ""
        click.echo(f"{viewer.username}\t{viewer.name}{flag}\tadded {viewer.added}")


# --- publishing -----------------------------------------------------------------------

out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The publish directory a web server serves.",
)


domain_option = click.option(
    "--domain",
    default="",
    metavar="DOMAIN",
    help="nginx mode: serve each deal at <slug>.DOMAIN, an origin of its own (hardened).",
)


quiet_option = click.option(
    "-q", "--quiet", is_flag=True,
    help="Errors only: no warnings or progress (as `mkdocs build -q`).",
)  # fmt: skip

listen_option = click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="Address for the generated nginx server block.",
)


@main.command("publish")
@click.option("--mode", type=click.Choice(MODES), default="nginx", show_default=True)
@listen_option
@domain_option
@click.option("--shard", default="", metavar="I/N",
              help="Build and publish only the deals of shard I of N, into an OUT of its "
                   "own; combine all N with `dealroom merge`.")  # fmt: skip
@out_option
@config_option
@quiet_option
def publish_command(
    mode: str, listen: str, domain: str, shard: str, out: Path, config_file: Path, quiet: bool
) -> None:
    """Build clean deal sites and make them the live release in OUT."""
    try:
        chosen = Shard.parse(shard)
    except ShardError as error:
        raise click.BadParameter(str(error), param_hint="--shard") from None
    _mkdocs_logging(shown=True, quiet=quiet)
    with _user_errors():
        if chosen is not None:
            result = publish_shard(config_file, out, chosen, mode, listen, domain)
        elif configured := _configured_shard(config_file):
            # A release of one shard's deals would take every other deal offline.
            raise click.ClickException(
                f"the build is set to shard {configured} (DEALROOM_SHARD or the shard "
                f"option); publish it with --shard {configured} into a folder of its own "
                "and combine the shards with `dealroom merge`, or unset it"
            )
        else:
            result = publish(config_file, out, mode, listen, domain)
    what = f" of shard {chosen}" if chosen else ""
    click.echo(f"Published {len(result.published)} deal(s){what} to {out}/current")
    _report(result)


@main.command()
@click.argument("shard_outs", nargs=-1, required=True, metavar="SHARD_OUT...",
                type=click.Path(file_okay=False, exists=True, path_type=Path))  # fmt: skip
@listen_option
@domain_option
@out_option
@config_option
@quiet_option
def merge(
    shard_outs: tuple[Path, ...],
    listen: str,
    domain: str,
    out: Path,
    config_file: Path,
    quiet: bool,
) -> None:
    """Combine the releases of all N shards into one new live release in OUT.

    Each SHARD_OUT is a folder `dealroom publish --shard I/N --out` wrote (or the release
    its `current` points to). The merged release is checked against today's access lists
    here, swapped in atomically, and kept for `dealroom rollback`, as with `publish`."""
    _mkdocs_logging(shown=True, quiet=quiet)
    with _user_errors():
        result = merge_shards(config_file, out, list(shard_outs), listen, domain)
    click.echo(f"Merged {len(result.published)} deal(s) from {len(shard_outs)} shard(s) "
               f"into {out}/current")  # fmt: skip
    _report(result)


def _configured_shard(config_file: Path) -> Shard | None:
    """The shard a plain build of the project makes (DEALROOM_SHARD, else the `shard`
    option): a plain `publish` refuses to run with one, since its release would lack
    every other shard's deals."""
    try:
        config = load_config(str(config_file))
    except (ConfigurationError, Abort) as error:
        raise click.ClickException(f"{config_file}: {error}") from None
    plugin = config.plugins.get("dealroom")
    try:
        return effective_shard(plugin.config.shard if plugin is not None else "")
    except ShardError as error:
        raise click.ClickException(f"{error}; nothing was published") from None


def _report(result: PublishResult) -> None:
    """Every deal that was not published now, and what became of it; exit 1 if any."""
    for slug in result.kept:
        click.echo(f"  {slug}: not published ({result.reasons[slug]}); its last version "
                   "stays online under the current access list", err=True)  # fmt: skip
    for slug in result.withdrawn:
        click.echo(f"  {slug}: WITHDRAWN, no longer online ({result.reasons[slug]}); "
                   "publish it again once it builds", err=True)  # fmt: skip
    for slug in result.skipped:
        click.echo(f"  {slug}: not published ({result.reasons[slug]})", err=True)
    if result.kept or result.withdrawn or result.skipped:
        sys.exit(1)


@main.command()
@click.argument("username")
@click.option("--deal", metavar="SLUG", required=True, help="The deal to share.")
@click.option(
    "--url",
    "base_url",
    default="",
    metavar="URL",
    help="Where the deal rooms are published: each deal is at URL/<slug>/.",
)
@click.option("--domain", default="", metavar="DOMAIN",
              help="For deal rooms published with --domain: each deal is at "
                   "https://<slug>.DOMAIN/ (instead of --url).")  # fmt: skip
@click.option("--page", default="", metavar="PAGE",
              help="Link straight to this page, e.g. business-case, mutual-action-plan or "
                   "context/legal (default: the overview).")  # fmt: skip
@click.option("--mode", type=click.Choice(MODES), default="encrypted", show_default=True,
              help="How the deal rooms are published: encrypted links carry the key, nginx "
                   "links ask for the user name and password.")  # fmt: skip
@deals_dir_option
@config_option
def share(
    username: str,
    deal: str,
    base_url: str,
    domain: str,
    page: str,
    mode: str,
    deals_dir: Path,
    config_file: Path,
) -> None:
    """Print a link to a deal room (or one of its pages) for USERNAME.

    In encrypted mode the link carries USERNAME's key in its #fragment, which browsers
    never send to the server: anyone holding the link can open the deal room, until that
    password is rotated or revoked and the deal published again. Nothing is written to
    disk."""
    with _user_errors():
        scope = Scope.of(Path.cwd(), deals_dir, deal)
        access_list = AccessList.load(scope.access_file)
    if bool(base_url) == bool(domain):
        raise click.UsageError("give either --url (deals at URL/<slug>/) or --domain")
    viewer = access_list.find(username)
    deal_root = (
        f"https://{deal}.{domain.strip('.')}/" if domain else f"{base_url.rstrip('/')}/{deal}/"
    )
    page_url = deal_root + _page_path(deals_dir / deal, page)
    if mode == "nginx":
        if viewer is None:
            with _user_errors():  # the seller team opens every deal room
                team = AccessList.load(Scope.of(Path.cwd(), deals_dir, None).access_file)
            viewer = team.find(username)
        if viewer is None:
            raise click.ClickException(f"'{username}' has no access to {deal}")
        click.echo(page_url)
        click.echo(f"It asks for {username}'s user name and password; the link holds neither.",
                   err=True)  # fmt: skip
        return
    with _user_errors():
        password = Credentials(Path.cwd()).load().get(deal, {}).get(username)
    if viewer is None or password is None:
        raise click.ClickException(f"no password for '{username}' ({deal}) on this machine")
    if not password_is_current(password, viewer.hash):
        raise click.ClickException(
            f"the password kept on this machine for '{username}' ({deal}) is not their "
            "current one; rotate it here with `dealroom access rotate`"
        )
    if not access_list.salt:
        raise click.ClickException(f"publish '{deal}' with --mode encrypted first")
    fragment = share_fragment(password, unb64(access_list.salt))
    _, options = _project_config(config_file)
    if options.share_link_tokens:  # see README, "Engagement"
        if not viewer.token:
            raise click.ClickException(f"publish '{deal}' with --mode encrypted first, so "
                                       f"that '{username}' gets a share-link token")  # fmt: skip
        fragment += f"&viewer={viewer.token}"
    click.echo(page_url + fragment)


# The names `share --page` takes for the overview, besides its file name.
OVERVIEW_PAGES = ("index", "overview")


def _page_path(folder: Path, page: str) -> str:
    """Where `page` of the deal in `folder` is, relative to the deal's address ("" for
    the overview, "business-case/", "context/legal/"). Only pages its site publishes."""
    name = page.strip("/").removesuffix(".md")
    if not name or name in OVERVIEW_PAGES:
        return ""
    try:
        loaded = load_deal_folder(folder, Path.cwd())
    except DealError:
        raise click.ClickException(
            f"deal '{folder.name}' does not load, so its pages are not known; run "
            f"`dealroom check {folder.name}`"
        ) from None
    # The pages `mkdocs build` makes of it (a published site has no page for a gap).
    pages = [spec.src_uri.removesuffix(".md") for spec in page_specs(loaded, False)]
    pages = [path for path in pages if path != "index"]
    if name not in pages:
        raise click.BadParameter(
            f"deal '{folder.name}' has no page '{page}'; use one of: "
            + ", ".join([*OVERVIEW_PAGES, *pages]),
            param_hint="--page",
        )
    return f"{name}/"


@main.command()
@out_option
def rollback(out: Path) -> None:
    """Make the previous release in OUT live again, under today's access lists."""
    with _user_errors():
        result = rollback_release(out)
    click.echo(f"{out}/current now points to {result.release.name}")
    for slug, reason in result.withdrawn.items():
        click.echo(f"  {slug}: left offline in the rolled-back release ({reason})", err=True)


@main.command()
@out_option
@click.option("--port", type=int, default=8080, show_default=True)
@domain_option
def host(out: Path, port: int, domain: str) -> None:
    """Serve OUT with a real nginx on 127.0.0.1 (Ctrl-C stops it)."""
    if not (out / "current").exists():
        raise click.ClickException(f"nothing published in {out}; run `dealroom publish` first")
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if nginx is None:
        raise click.ClickException("nginx is not installed (Debian: apt-get install nginx)")
    with _user_errors():
        conf = write_nginx_config(out, f"127.0.0.1:{port}", out / "host", domain)
        user = worker_user()
    if user and (blocked := unreadable_for_others(out.resolve() / "current")):
        raise click.ClickException(
            f"nginx's workers run as {user}, who cannot enter {blocked}; make it readable "
            "(chmod o+rx) or publish to a folder others can read"
        )
    where = f"http://<slug>.{domain}:{port}/" if domain else f"http://127.0.0.1:{port}/<slug>/"
    click.echo(f"Serving {out}/current on {where}")
    os.execv(nginx, [nginx, "-e", str(conf.parent / "state" / "error.log"), "-c", str(conf),
                     "-g", "daemon off;"])  # fmt: skip


def _mkdocs_logging(shown: bool, quiet: bool = False) -> None:
    """Show the build's messages as `mkdocs build` would: warnings, errors and dealroom's
    progress and summaries, without MkDocs' own notes on each deal site it builds; with
    `quiet`, errors only. Or keep them all quiet (they are still collected per deal)."""
    mkdocs_log = logging.getLogger("mkdocs")
    handler: logging.Handler = logging.StreamHandler() if shown else logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-7s -  %(message)s"))
    mkdocs_log.addHandler(handler)
    mkdocs_log.setLevel(logging.ERROR if quiet else logging.WARNING)
    mkdocs_log.propagate = False
    if shown and not quiet:
        logging.getLogger("mkdocs.plugins.dealroom").setLevel(logging.INFO)


def _yaml_scalar(value: str) -> str:
    """A YAML scalar for `value`, quoted when needed."""
    return yaml.safe_dump(value, default_style=None).removesuffix("\n...\n").strip()
