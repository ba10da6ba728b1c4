"""Publishing a very large deal set from N machines: one shard release each, then a merge.

    dealroom publish --shard 1/4 --out shard-1      # on four CI runners, one shard each
    dealroom merge --out /srv/dealroom shard-1 shard-2 shard-3 shard-4

`publish_shard` is `publish` (releases.py) restricted to the deals of one shard (see
`build/shards.py`), into a publish folder of its own; its release carries `shard.json`
saying which shard it holds. `merge_shards` assembles the deal sites of all N shard
releases into one new release of the served folder and makes it live with the same
machinery as `publish`: today's access lists are applied to the live release first, the
new release is assembled beside it and swapped in with one rename, previous releases
are kept for `rollback`. Revocation always wins here too: the merged release is brought
under the access lists of the machine that merges (`grants.bring_under`), so nginx's
password files are written from today's lists, and an encrypted deal whose key slots let
in someone who has lost access since its shard was published is withdrawn.

A merge refuses, before it changes anything but the live release's access, a set of
shard releases that is not exactly one split: all N shards of one N, each once, each
holding only deals that fall in it. A deal missing from its shard's release (it did not
build there, and that shard had no earlier version of it) keeps its live pages in the
served folder under the rules `publish` applies to a deal that did not build.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..build.progress import progress
from ..build.runner import BuildError, deals_dir_of
from ..build.shards import SHARD_ENV, Shard, shard_of
from ..deal.loading import discover_deals
from .access import write_atomically
from .access_pages import Branding, recorded_branding, write_unauthorized_pages
from .grants import RELEASE_FILE, CurrentAccess, ReleaseRecord, bring_under

# The same access reading, nginx configuration, swap and pruning as `publish`, not
# copies of them: a fix there holds for merged releases too.
from .releases import (
    CURRENT,
    RELEASES,
    PublishError,
    PublishResult,
    _access_page_contact,
    _configure_nginx,
    _current_access,
    _live_release,
    publish,
    swap_in_release,
)

log = logging.getLogger("mkdocs.plugins.dealroom")

SHARD_FILE = "shard.json"  # in a shard's release, beside release.json: which shard it holds


# --- one shard -----------------------------------------------------------------------------


def publish_shard(
    config_file: Path,
    out: Path,
    shard: Shard,
    mode: str = "nginx",
    listen: str = "127.0.0.1:8080",
    domain: str = "",
) -> PublishResult:
    """`publish` of the deals in `shard` only, into `out`, a publish folder of its own.
    Refuses a folder whose live release holds anything else (every deal, or another
    shard): publishing one shard there would take the other deals out of it."""
    out = out.resolve()
    live = _live_release(out)
    if live is not None and (held := shard_of_release(live)) != shard:
        what = f"shard {held}" if held else "every deal"
        raise PublishError(
            f"{out} holds a release of {what}; publish shard {shard} into a folder of "
            "its own (one per shard), then combine them with `dealroom merge`"
        )
    with _building_shard(shard):
        result = publish(config_file, out, mode, listen, domain)
    # Written once the release is live (publish assembles and swaps it): a release left
    # without it by a crash in between is refused by `merge`, never misread.
    write_atomically(result.release / SHARD_FILE, json.dumps({"shard": str(shard)}) + "\n")
    return result


@contextmanager
def _building_shard(shard: Shard) -> Iterator[None]:
    """The build `publish` runs makes only `shard`: DEALROOM_SHARD is how any build is
    told (the plugin reads it, and the build's worker processes inherit it)."""
    before = os.environ.get(SHARD_ENV)
    os.environ[SHARD_ENV] = str(shard)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SHARD_ENV, None)
        else:
            os.environ[SHARD_ENV] = before


def shard_of_release(release: Path) -> Shard | None:
    """The shard a release holds, or None for a release of every deal."""
    marker = release / SHARD_FILE
    if not marker.is_file():
        return None
    try:
        return Shard.parse(json.loads(marker.read_text(encoding="utf-8"))["shard"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PublishError(f"{marker}: not a shard marker dealroom wrote ({error})") from None


# --- merging all shards ----------------------------------------------------------------------


@dataclass(frozen=True)
class ShardRelease:
    """One input of a merge: a shard's release, which shard it holds, and its record."""

    given: Path  # as named on the command line
    release: Path
    shard: Shard
    record: ReleaseRecord

    @property
    def slugs(self) -> list[str]:
        sites = self.release / "sites"
        found = {p.name for p in sites.iterdir() if not p.name.startswith(".")} if (
            sites.is_dir()
        ) else set()  # fmt: skip
        return sorted(found | set(self.record.deals))


def read_shard_release(path: Path) -> ShardRelease:
    """The live release of a shard's publish folder, or a release folder itself (CI
    artifacts often lose the `current` link: upload `OUT/current/` then)."""
    path = path.resolve()
    release = _live_release(path) if (path / CURRENT).is_symlink() else path
    if release is None or not (release / RELEASE_FILE).is_file():
        raise PublishError(
            f"{path}: no release in it; give the folder `dealroom publish --shard I/N --out` "
            "wrote, or the release its `current` points to"
        )
    shard = shard_of_release(release)
    if shard is None:
        raise PublishError(
            f"{path}: not a shard release (no {SHARD_FILE}); publish it with "
            "`dealroom publish --shard I/N`"
        )
    return ShardRelease(path, release, shard, ReleaseRecord.read(release))


def check_split(inputs: list[ShardRelease], out: Path) -> str:
    """That `inputs` are exactly the N shards of one split, each holding only its own
    deals, all in one mode; returns that mode. Raises PublishError saying what is wrong."""
    if not inputs:
        raise PublishError("no shard releases given")
    counts = sorted({item.shard.count for item in inputs})
    if len(counts) > 1:
        raise PublishError(
            "the shard releases come from different splits ("
            + ", ".join(f"{item.given}: {item.shard}" for item in inputs)
            + "); publish every shard with the same N"
        )
    count = counts[0]
    seen: dict[int, Path] = {}
    for item in inputs:
        if item.shard.index in seen:
            raise PublishError(
                f"shard {item.shard} is given twice: {seen[item.shard.index]} and {item.given}"
            )
        seen[item.shard.index] = item.given
        if out == item.release or out in item.release.parents:
            raise PublishError(f"{item.given} is inside {out}; merge into a folder of its own")
    if missing := [f"{index}/{count}" for index in range(1, count + 1) if index not in seen]:
        raise PublishError(
            f"shard(s) {', '.join(missing)} missing: a merge needs all {count}, or the "
            "deals of a missing shard would go offline"
        )
    modes = {item.record.mode for item in inputs}
    if len(modes) > 1:
        raise PublishError(
            "the shard releases were published in different modes ("
            + ", ".join(f"{item.given}: {item.record.mode}" for item in inputs)
            + "); publish every shard in one mode"
        )
    for item in inputs:
        for slug in item.slugs:
            if not item.shard.holds(slug):
                raise PublishError(
                    f"{item.given}: deal '{slug}' falls in shard {shard_of(slug, count)}/"
                    f"{count}, not {item.shard}; was this folder published with another "
                    "split? Publish each shard into a new folder"
                )
    return modes.pop()


def merge_shards(
    config_file: Path,
    out: Path,
    shard_dirs: list[Path],
    listen: str = "127.0.0.1:8080",
    domain: str = "",
) -> PublishResult:
    """Combine the releases of all N shards into one new live release in `out`, under
    the access lists of the project at `config_file` (the same commit the shards were
    published from). `published` lists the deals taken from the shards, `kept` those
    whose live pages stay because their shard's release lacks them, `withdrawn` those
    taken offline, `skipped` deals of the project that are online nowhere."""
    out = out.resolve()
    releases = out / RELEASES
    releases.mkdir(parents=True, exist_ok=True)
    access = _current_access(config_file)
    with_contact = _access_page_contact(config_file)
    try:
        deals_dir = deals_dir_of(config_file)
    except BuildError as error:
        raise PublishError(f"{error}; nothing was published") from None
    live = _live_release(out)
    if live is not None and shard_of_release(live) is not None:
        raise PublishError(f"{out} holds a shard's release; merge into the folder you serve")
    # First of all, as in `publish`: today's access lists for what is live now, so that
    # a revoked password stops working even if the shard releases below are refused.
    taken_offline = bring_under(live, access) if live is not None else {}
    inputs = sorted((read_shard_release(path) for path in shard_dirs),
                    key=lambda item: item.shard.index)  # fmt: skip
    mode = check_split(inputs, out)
    if mode == "nginx":
        _configure_nginx(out, listen, domain)

    def assemble(staging: Path, result: PublishResult) -> None:
        _Merge(staging, live, mode, access, result, with_contact).run(inputs)

    def report_missing(result: PublishResult) -> None:
        online = {*result.published, *result.kept, *result.withdrawn}
        count = inputs[0].shard.count
        for folder in discover_deals(deals_dir):
            if folder.name not in online:
                result.skipped.append(folder.name)
                result.reasons[folder.name] = (
                    f"not in the release of shard {shard_of(folder.name, count)}/{count}; "
                    "see that shard's publish"
                )

    return swap_in_release(out, assemble, taken_offline, report_missing)


class _Merge:
    """One new release, assembled from the shard releases in a staging folder."""

    def __init__(
        self,
        staging: Path,
        live: Path | None,
        mode: str,
        access: CurrentAccess,
        result: PublishResult,
        with_contact: bool,
    ) -> None:
        self.staging = staging
        self.live = live
        self.mode = mode
        self.access = access
        self.result = result
        self.with_contact = with_contact
        self.record = ReleaseRecord(mode, str(access.team.path))
        self.pages: dict[str, Branding | None] = {}  # nginx mode: as in `publish`

    def run(self, inputs: list[ShardRelease]) -> None:
        total = sum(len(item.slugs) for item in inputs)
        with progress(log, "merging deals", total) as done:
            for item in inputs:
                for slug in item.slugs:
                    if (item.release / "sites" / slug).is_dir():
                        self._take(item.release, slug, item.record.deals.get(slug, {}))
                        self.result.published.append(slug)
                    done(slug)
        if self.live is not None:
            self._keep_from_live()
        if self.mode == "nginx":  # the same pages as one publish of every deal writes
            write_unauthorized_pages(self.staging, self.pages, self.with_contact)
        self.record.write(self.staging)
        # Today's access lists on the machine that merges: nginx password files written
        # from them, and an encrypted deal whose key slots let in anyone who has lost
        # access since its shard was published taken out (see grants.py).
        for slug, reason in bring_under(self.staging, self.access).items():
            for done in (self.result.published, self.result.kept):
                if slug in done:
                    done.remove(slug)
            self.result.withdrawn.append(slug)
            self.result.reasons[slug] = reason
        self.result.published.sort()

    def _take(
        self, release: Path, slug: str, recorded: dict[str, Any], with_page: bool = True
    ) -> None:
        """A deal's site, public page (`with_page`) and record from `release`, its access
        file now the one of this machine's project (a shard's record names the runner's)."""
        shutil.copytree(release / "sites" / slug, self.staging / "sites" / slug, symlinks=True)
        self.pages[slug] = recorded_branding(
            release, self.staging, slug, recorded, with_page and self.mode == "nginx"
        )
        access_file = self.access.access_file(slug)
        self.record.deals[slug] = {**recorded, "access": str(access_file or "")}

    def _keep_from_live(self) -> None:
        """Deals online now that no shard release holds (their build failed on a shard
        runner that had no earlier version of them) stay online, as `publish` keeps a
        deal that did not build: only the rules of `bring_under` decide, applied to the
        whole release in `run`. Pages of the other mode cannot be served in this one."""
        assert self.live is not None
        previous = ReleaseRecord.read(self.live)
        sites = self.live / "sites"
        for site in sorted(sites.iterdir()) if sites.is_dir() else []:
            slug = site.name
            if slug.startswith(".") or slug in self.record.deals:
                continue
            reason = "its shard's release does not hold it"
            if previous.mode != self.mode:
                self.result.withdrawn.append(slug)
                self.result.reasons[slug] = (
                    f"{reason}, and its live version was published in the other mode"
                )
                continue
            # As `publish` keeps a deal: its own public page only if that may name the
            # seller's contact, else the shared one (`_unknown_page`).
            self._take(self.live, slug, previous.deals.get(slug, {}), self.with_contact)
            self.result.kept.append(slug)
            self.result.reasons[slug] = reason
