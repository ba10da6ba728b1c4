"""The `dealroom` command: scaffold and check deal folders (building is `mkdocs build`)."""

from __future__ import annotations

import sys
from pathlib import Path
from string import Template

import click
import yaml

from .loading import (
    DEAL_FILE,
    INTERNAL_DIR,
    RESERVED_SLUGS,
    SLUG_PATTERN,
    DealError,
    discover_deals,
    load_deal_folder,
)

SCAFFOLD = Path(__file__).parent / "scaffold" / DEAL_FILE
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
@deals_dir_option
def check(slugs: tuple[str, ...], deals_dir: Path) -> None:
    """Validate deal folders without building; exit 1 if any has errors."""
    folders = [f for f in discover_deals(deals_dir) if not slugs or f.name in slugs]
    unknown = set(slugs) - {folder.name for folder in folders}
    if unknown:
        raise click.ClickException(
            f"no deal folder in {deals_dir} for: {', '.join(sorted(unknown))}"
        )
    if not folders:
        raise click.ClickException(f"no deal folders (with a {DEAL_FILE}) in {deals_dir}")
    failed = 0
    for folder in folders:
        try:
            loaded = load_deal_folder(folder, Path.cwd())
        except DealError as error:
            failed += 1
            click.echo(f"{folder.name}: {len(error.problems)} error(s)", err=True)
            for problem in error.problems:
                click.echo(f"  error: {problem}", err=True)
            for warning in error.warnings:
                click.echo(f"  warning: {warning}", err=True)
            continue
        click.echo(f"{folder.name}: ok")
        for warning in loaded.warnings:
            click.echo(f"  warning: {warning}", err=True)
    sys.exit(1 if failed else 0)


def _yaml_scalar(value: str) -> str:
    """A YAML scalar for `value`, quoted when needed."""
    return yaml.safe_dump(value, default_style=None).removesuffix("\n...\n").strip()
