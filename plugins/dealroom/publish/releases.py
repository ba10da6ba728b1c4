"""Publish deal sites into a directory a web server serves, safely.

Layout of the publish directory `OUT`:

    OUT/current -> releases/<id>     the live release (a symlink, swapped atomically)
    OUT/releases/<id>/sites/<slug>/  each deal site (clean pages: no MISSING markers)
    OUT/releases/<id>/htpasswd/      one bcrypt password file per deal (+ the team)
    OUT/releases/<id>/unauthorized/  nginx's 401 page per deal (see access_pages.py)
    OUT/releases/<id>/release.json   its mode, who each deal was published for and (in
                                     mode "encrypted") each deal's fingerprints
    OUT/nginx/                       server configuration for nginx (mode "nginx")

In mode "encrypted" each deal site is encrypted in place (see encryption.py) and can be
served by any static host. A deal whose built site and key slot holders are the same as
in the live release is not encrypted again: its live files are carried into the new
release as they are (see carry.py), sparing the slow key derivation.

A release is assembled beside the live one and only then swapped in, so an interrupted
or failed publish leaves the live pages as they were; the previous release is kept for
`dealroom rollback`. The seller's root page, the internal files and the credentials
are never copied. Revocation always wins (see grants.py): the live release is brought
under today's access lists before anything is built, a deal whose new version cannot be
published now keeps its live pages only under the same rule, and a broken access file
takes only its own deal offline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..build.calendar import PLAN_FILES
from ..build.progress import progress
from ..build.project import DealReport
from ..build.runner import (
    BuildError,
    BuildResult,
    build_project,
    cache_dir_of,
    deals_dir_of,
    plugin_option,
)
from ..deal.files import ACCESS_FILE
from ..deal.loading import DealFolder
from .access import TEAM, TEAM_ACCESS_FILE, AccessError, AccessList, Credentials, grants
from .access_pages import PAGE, Branding, recorded_branding, write_unauthorized_pages
from .carry import FINGERPRINTS, CannotCarry, deal_fingerprints, link_tree
from .encryption import KEYS_FILE, SiteKeys, b64, derive_key, encrypt_site, unb64
from .grants import (
    CurrentAccess,
    ReleaseRecord,
    bring_under,
    password_is_current,
    write_htpasswd,
)
from .nginx import NginxError, unreadable_for_others, write_nginx_config

log = logging.getLogger("mkdocs.plugins.dealroom")

# In a release being assembled: the live files of the deals carried into it.
CARRIED = ".carried"

RELEASES = "releases"
CURRENT = "current"
KEEP_RELEASES = 3  # the live one, the previous one (rollback) and one more
MODES = ("nginx", "encrypted")


class PublishError(Exception):
    """Publishing could not start or finish; says why and how to fix it."""


@dataclass
class PublishResult:
    release: Path
    published: list[str] = field(default_factory=list)  # built now
    carried: list[str] = field(default_factory=list)  # of those, live files kept as they were
    kept: list[str] = field(default_factory=list)  # failed now, previous pages kept
    withdrawn: list[str] = field(default_factory=list)  # were live, now offline
    skipped: list[str] = field(default_factory=list)  # failed, never published before
    reasons: dict[str, str] = field(default_factory=dict)  # slug -> why not published now


def publish(
    config_file: Path,
    out: Path,
    mode: str = "nginx",
    listen: str = "127.0.0.1:8080",
    domain: str = "",
) -> PublishResult:
    """Build every deal with clean pages and make the result the live release. With a
    `domain` (nginx mode), each deal is served at `https://<slug>.<domain>/`."""
    if mode not in MODES:
        raise PublishError(f"unknown mode '{mode}'; use one of: {', '.join(MODES)}")
    out = out.resolve()
    releases = out / RELEASES
    releases.mkdir(parents=True, exist_ok=True)
    if mode == "nginx":
        _configure_nginx(out, listen, domain)
    access = _current_access(config_file)
    with_contact = _access_page_contact(config_file)
    share_link_tokens = _publish_option(config_file, "share_link_tokens")
    live = _live_release(out)
    # First of all, today's access lists for what is live now: a revoked password stops
    # working even if the build below fails or is interrupted.
    taken_offline = bring_under(live, access) if live is not None else {}

    def assemble(staging: Path, result: PublishResult) -> None:
        build_dir = _build_dir(config_file, out) or staging / "build"
        built = _build(config_file, build_dir)
        assembly = _Assembly(staging, live, mode, access, result, with_contact, share_link_tokens)
        assembly.build = build_dir
        assembly.run(built, Credentials(config_file.resolve().parent))

    return swap_in_release(out, assemble, taken_offline)


def swap_in_release(
    out: Path,
    assemble: Callable[[Path, PublishResult], None],
    taken_offline: dict[str, str],
    before_swap: Callable[[PublishResult], None] = lambda result: None,
) -> PublishResult:
    """Assemble a new release in a staging folder beside the live one (laid out with
    `sites/` and `htpasswd/`; `assemble` fills it and the result), then make it live
    with one rename and keep the earlier ones for `rollback`. If anything fails, the
    staging folder goes and the live release stays. Deals `taken_offline` before
    (access withdrawn) are reported as withdrawn."""
    releases = out / RELEASES
    for leftover in releases.glob(".staging-*"):  # from a publish or merge that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    release_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    staging = releases / f".staging-{release_id}"
    result = PublishResult(releases / release_id)
    try:
        (staging / "sites").mkdir(parents=True)
        (staging / "htpasswd").mkdir()
        # An empty password file for unknown slugs: see publish/templates/auth.conf.
        (staging / "htpasswd" / ".nobody").write_text("", encoding="utf-8")
        assemble(staging, result)
        staging.rename(result.release)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the live release stays as it is
        raise
    for slug, reason in taken_offline.items():
        if slug not in result.published and slug not in result.withdrawn:
            result.withdrawn.append(slug)
            result.reasons[slug] = reason
    before_swap(result)
    _point_current_to(out, result.release)
    _prune(releases, keep={result.release.name})
    return result


@dataclass
class RollbackResult:
    release: Path
    withdrawn: dict[str, str] = field(default_factory=dict)  # slug -> why


def rollback(out: Path) -> RollbackResult:
    """Make the release before the live one live again, under today's access lists:
    nothing that has been revoked or rotated since opens it."""
    out = out.resolve()
    live = _live_release(out)
    older = sorted(p for p in (out / RELEASES).iterdir() if not p.name.startswith("."))
    older = [release for release in older if live is None or release.name < live.name]
    if not older:
        raise PublishError(f"no earlier release in {out / RELEASES} to roll back to")
    target = older[-1]
    record = ReleaseRecord.read(target)
    try:
        team = AccessList.load(Path(record.team_access)) if record.team_access else None
    except AccessError as error:
        raise PublishError(f"{error}; nothing was rolled back") from None

    def recorded(slug: str) -> Path | None:
        access_file = record.deals.get(slug, {}).get("access")
        return Path(access_file) if access_file else None

    # A release from before access was recorded: nothing can be checked, nothing kept.
    access = CurrentAccess(team or AccessList(Path()), recorded if team else lambda _: None)
    withdrawn = bring_under(target, access)
    _point_current_to(out, target)
    return RollbackResult(target, withdrawn)


# --- assembling a release ---------------------------------------------------------------


def _configure_nginx(out: Path, listen: str, domain: str) -> None:
    try:  # first: a configuration nginx could not use stops before any work
        write_nginx_config(out, listen, domain=domain)
    except NginxError as error:
        raise PublishError(str(error)) from None
    if blocked := unreadable_for_others(out):
        log.warning(f"dealroom: nginx's workers cannot enter {blocked}; make it readable "
                    "(chmod o+rx) before serving this folder")  # fmt: skip


def _current_access(config_file: Path) -> CurrentAccess:
    """Today's access lists of the project; the team's must be readable (every deal's
    access depends on it), a deal's is read when that deal is published."""
    try:
        deals_dir = deals_dir_of(config_file)
        team = AccessList.load(config_file.resolve().parent / TEAM_ACCESS_FILE)
    except (AccessError, BuildError) as error:
        raise PublishError(f"{error}; nothing was published") from None
    return CurrentAccess(team, lambda slug: deals_dir / slug / ACCESS_FILE)


def _access_page_contact(config_file: Path) -> bool:
    """The `access_page_contact` option: whether the public sign-in and 401 pages name
    the seller's contact."""
    return _publish_option(config_file, "access_page_contact")


def _publish_option(config_file: Path, name: str) -> bool:
    """One of the plugin's yes-or-no options for publishing."""
    try:
        return bool(plugin_option(config_file, name))
    except BuildError as error:
        raise PublishError(f"{error}; nothing was published") from None


def _build_dir(config_file: Path, out: Path) -> Path | None:
    """Where publishing into `out` builds, kept between publishes so that the next one
    rebuilds only the deals that changed: in the project's cache folder, never in `out`
    (whatever is uploaded from there must not hold plain pages of an encrypted deal, nor
    the seller's dashboard). None without a cache folder."""
    try:
        cache = cache_dir_of(config_file)
    except BuildError as error:
        raise PublishError(f"{error}; nothing was published") from None
    key = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]
    return cache / "publish" / key if cache is not None else None


def _build(config_file: Path, site_dir: Path) -> BuildResult:
    """Build every deal into `site_dir`, which is kept between publishes: like
    `mkdocs build`, a publish builds again only the deals whose inputs changed."""
    try:
        return build_project(config_file, site_dir, missing_markers="hide", reuse=True)
    except BuildError as error:
        raise PublishError(str(error)) from None


class _Assembly:
    """One new release, deal by deal, in a staging folder beside the live one."""

    def __init__(
        self,
        staging: Path,
        live: Path | None,
        mode: str,
        access: CurrentAccess,
        result: PublishResult,
        with_contact: bool = False,
        share_link_tokens: bool = False,
    ) -> None:
        self.staging = staging
        self.build = staging / "build"  # where the deals were built: see publish()
        self.live = live
        self.mode = mode
        self.access = access
        self.result = result
        previous = ReleaseRecord.read(live) if live is not None else None
        # Pages of the other mode cannot be served in this one.
        self.previous = previous if previous is not None and previous.mode == mode else None
        self.record = ReleaseRecord(mode, str(access.team.path))
        self.with_contact = with_contact  # name the seller's contact on the public pages
        self.share_link_tokens = share_link_tokens  # a keys file per viewer (encrypted)
        # nginx mode: each deal's public 401 page, written once every deal is placed.
        self.pages: dict[str, Branding | None] = {}

    def run(self, built: BuildResult, credentials: Credentials) -> PublishResult:
        try:
            self.passwords = credentials.load() if self.mode == "encrypted" else {}
        except AccessError as error:
            raise PublishError(f"{error}; nothing was published") from None
        folders = {folder.slug: folder for folder in built.deals}
        with progress(log, "publishing deals", len(built.reports)) as done:
            for slug, report in sorted(built.reports.items()):
                self._place(slug, report, folders.get(slug))
                done(slug)
        if self.mode == "nginx":
            write_unauthorized_pages(self.staging, self.pages, self.with_contact)
        if self.mode == "encrypted":
            carried = len(self.result.carried)
            log.info(f"dealroom: {carried} deal(s) carried unchanged from the live release, "
                     f"{len(self.result.published) - carried} encrypted")  # fmt: skip
        self.record.write(self.staging)
        shutil.rmtree(self.staging / CARRIED, ignore_errors=True)
        shutil.rmtree(self.staging / "build", ignore_errors=True)  # without a cache folder
        return self.result

    def _place(self, slug: str, report: DealReport, folder: DealFolder | None) -> None:
        """Publish the deal, or keep or withdraw what is live of it."""
        site = self.build / slug
        try:
            viewers = self.access.viewers(slug)
            if folder is not None and (site / "index.html").is_file():
                self._publish(folder, site, viewers)
            else:
                reason = report.problems[0] if report.problems else "it did not build"
                self._keep_or_withdraw(slug, reason, viewers)
        except AccessError as error:  # nobody can be let in on an unreadable access file
            self._keep_or_withdraw(slug, str(error), None)

    def _publish(self, folder: DealFolder, site: Path, viewers: AccessList) -> None:
        slug = folder.slug
        granted = self.access.allowed(slug, viewers)
        branding = Branding.of(slug, folder.deal, self.with_contact)
        entry: dict[str, Any] = {"access": str(viewers.path)}
        if self.mode == "encrypted":
            holders = _slot_holders(
                slug, viewers, self.access.team, self.passwords, self.share_link_tokens
            )
            granted = holders.granted
            # Of the plain site, before encrypting it changes it.
            entry[FINGERPRINTS] = deal_fingerprints(
                site,
                [*folder.assets, *PLAN_FILES],
                branding,
                holders.salt,
                granted,
                holders.tokens,
            )
            carried = self._carry(slug, entry[FINGERPRINTS], granted, holders.salt)
            if carried is not None:
                carried.rename(self.staging / "sites" / slug)
            else:
                staged = self.staging / "sites" / slug
                link_tree(site, staged)  # the build keeps its plain files: see _replace_text
                # The plan's calendar and spreadsheet are the deal's too: encrypted alike.
                files = [*folder.assets, *PLAN_FILES]
                encrypt_site(staged, _site_keys(holders), files, branding)
        else:
            self.pages[slug] = branding
            entry[PAGE] = branding.as_record()
            link_tree(site, self.staging / "sites" / slug)  # never written to again
        if not viewers.viewers:
            log.warning(f"dealroom: deal '{slug}' has no viewers; only the team can open it")
        write_htpasswd(self.staging / "htpasswd" / f"{slug}.htpasswd", viewers, self.access.team)
        self.record.deals[slug] = {**entry, "grants": sorted(granted)}
        self.result.published.append(slug)

    def _carry(
        self, slug: str, fingerprints: dict[str, str], granted: set[str], salt: str
    ) -> Path | None:
        """The live release's encrypted files of the deal, linked into the staging
        folder, if they were made from the same content for the same key slot holders;
        else None, and the deal is encrypted anew."""
        before = self.previous.deals.get(slug, {}) if self.previous is not None else {}
        live_site = self.live / "sites" / slug if self.live is not None else None
        if (
            live_site is None
            or before.get(FINGERPRINTS) != fingerprints  # none in an older release
            # Implied by equal fingerprints; checked on its own all the same, because a
            # slot of someone who has lost access must never be carried.
            or set(before.get("grants") or ()) != granted
            or not (live_site / "index.html").is_file()
            or _keys_salt(live_site) != salt
        ):
            return None
        carried = self.staging / CARRIED / slug
        try:
            link_tree(live_site, carried)
        except (CannotCarry, OSError) as error:
            shutil.rmtree(carried, ignore_errors=True)
            log.warning(f"dealroom: deal '{slug}': its live files cannot be carried over "
                        f"({error}); encrypting it again")  # fmt: skip
            return None
        self.result.carried.append(slug)
        return carried

    def _keep_or_withdraw(self, slug: str, reason: str, viewers: AccessList | None) -> None:
        """A deal that cannot be published now: keep its live pages if they let in
        nobody who has lost access since, else take it offline."""
        self.result.reasons[slug] = reason
        live_site = self.live / "sites" / slug if self.live is not None else None
        if live_site is None or not live_site.is_dir():
            log.warning(f"dealroom: deal '{slug}' was not published (and is not online)")
            self.result.skipped.append(slug)
            return
        before = self.previous.deals.get(slug, {}) if self.previous is not None else {}
        granted = before.get("grants")
        allowed = self.access.allowed(slug, viewers) if viewers is not None else None
        if self.previous is None:
            cannot = "its live version was published in the other mode"
        elif viewers is None or allowed is None:
            cannot = "nobody can be let in while its access file cannot be read"
        elif not granted or (self.mode == "encrypted" and not set(granted) <= allowed):
            # Key slots cannot be rewritten without the old content key.
            cannot = "its live version lets in someone whose access was revoked or changed"
        else:
            cannot = ""
        if cannot:
            log.error(f"dealroom: deal '{slug}' withdrawn: its new version was not published "
                      f"({reason}), and {cannot}; fix the problem and publish again")  # fmt: skip
            self.result.withdrawn.append(slug)
            return
        assert viewers is not None and allowed is not None and granted is not None
        shutil.copytree(live_site, self.staging / "sites" / slug, symlinks=True)
        # nginx: today's password file; encrypted: the same key slots as before.
        write_htpasswd(self.staging / "htpasswd" / f"{slug}.htpasswd", viewers, self.access.team)
        kept = allowed if self.mode == "nginx" else set(granted)
        self.record.deals[slug] = {"access": str(viewers.path), "grants": sorted(kept)}
        if self.mode == "nginx":  # its 401 page as it was published (its deal.yml may not load)
            self.pages[slug] = recorded_branding(
                self.live, self.staging, slug, before, self.with_contact
            )
            if self.pages[slug] is not None:
                self.record.deals[slug][PAGE] = before[PAGE]
        if self.mode == "encrypted" and FINGERPRINTS in before:
            # The same files, key and slots: the next publish may carry them again.
            self.record.deals[slug][FINGERPRINTS] = before[FINGERPRINTS]
        log.warning(f"dealroom: deal '{slug}' was not published now; its last version stays "
                    "online under the current access list")  # fmt: skip
        self.result.kept.append(slug)


@dataclass(frozen=True)
class _SlotHolders:
    """Whose passwords get a key slot in a deal's keys file, and whom that lets in."""

    salt: str  # base64: the deal's, from its access file
    passwords: list[str]
    granted: set[str]  # their grants (see access.grants)
    tokens: list[str]  # for each password, its viewer's share-link token ("" for none)


def _slot_holders(
    slug: str,
    viewers: AccessList,
    team: AccessList,
    passwords: dict[str, dict[str, str]],
    with_tokens: bool = False,
) -> _SlotHolders:
    """The deal's salt and the password of each viewer and team member whose current
    password is kept on this machine, and who those let in; `with_tokens`, the deal's
    viewers' share-link tokens too. A password missing from the credentials file, or one
    that no longer matches its hash (rotated elsewhere), gets no key slot. Quick: a
    bcrypt check per password at cost 5, no key derivation."""
    added = []
    if not viewers.salt:
        viewers.salt = b64(os.urandom(16))
        added.append("an encryption salt")
    if with_tokens and any(not viewer.token for viewer in viewers.viewers):
        for viewer in viewers.viewers:
            viewer.token = viewer.token or secrets.token_urlsafe(16)
        added.append("share-link tokens")
    if added:
        viewers.save()  # neither is secret; committed, share links stay stable
        log.info(f"dealroom: added {' and '.join(added)} to {viewers.path}; commit it")
    keys: list[str] = []
    tokens: list[str] = []
    granted: set[str] = set()
    for scope, access in ((slug, viewers), (TEAM, team)):
        for viewer in access.viewers:
            password = passwords.get(scope, {}).get(viewer.username)
            if password is None or not password_is_current(password, viewer.hash):
                why = "no password" if password is None else "not the current password"
                log.warning(
                    f"dealroom: {why} for '{viewer.username}' ({scope}) in the credentials "
                    "file on this machine, so they cannot open it; rotate their password here"
                )
                continue
            keys.append(password)
            tokens.append(viewer.token if with_tokens and scope == slug else "")
            granted |= grants(scope, AccessList(access.path, [viewer]))
    if not keys:
        raise AccessError("nobody could open it: add a viewer or a team member first")
    return _SlotHolders(viewers.salt, keys, granted, tokens)


def _site_keys(holders: _SlotHolders) -> SiteKeys:
    """The slow part of encrypting a deal: PBKDF2 with 600,000 iterations per slot."""
    salt = unb64(holders.salt)
    keys = [derive_key(password, salt) for password in holders.passwords]
    return SiteKeys(salt, keys, holders.tokens)


def _keys_salt(site: Path) -> str | None:
    """The salt an encrypted site's keys file was made with (None: no readable file)."""
    try:
        keys = json.loads((site / KEYS_FILE).read_text(encoding="utf-8"))
        return str(keys["kdf"]["salt"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- the live pointer ---------------------------------------------------------------------


def _live_release(out: Path) -> Path | None:
    current = out / CURRENT
    return current.resolve() if current.is_symlink() and current.exists() else None


def _point_current_to(out: Path, release: Path) -> None:
    """Swap the `current` symlink in one rename: readers see the old or the new release,
    never a mix."""
    temporary = out / f".{CURRENT}.tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(Path(RELEASES) / release.name)
    os.replace(temporary, out / CURRENT)


def _prune(releases: Path, keep: set[str]) -> None:
    finished = sorted(p for p in releases.iterdir() if not p.name.startswith("."))
    for release in finished[:-KEEP_RELEASES]:
        if release.name not in keep:
            shutil.rmtree(release, ignore_errors=True)
