"""Publish deal sites into a directory a web server serves, safely.

Layout of the publish directory `OUT`:

    OUT/current -> releases/<id>     the live release (a symlink, swapped atomically)
    OUT/releases/<id>/sites/<slug>/  each deal site (clean pages: no MISSING markers)
    OUT/releases/<id>/htpasswd/      one bcrypt password file per deal (+ the team)
    OUT/releases/<id>/release.json   its mode, and who each deal was published for
    OUT/nginx/                       server configuration for nginx (mode "nginx")

In mode "encrypted" each deal site is encrypted in place (see encryption.py) and can be
served by any static host.

A release is assembled beside the live one and only then swapped in, so an interrupted
or failed publish leaves the live output as it was; the previous release is kept for
`dealroom rollback`. The seller's root page, the internal files and the credentials
are never copied.

Revocation always wins. Each release records, per deal, who it lets in (`grants`). A
deal whose new version does not build keeps its previous pages only under the current
access list: in nginx mode its password file is written from the current access file;
in encrypted mode the old pages stay only if nobody has lost access since (their key
slots cannot be rewritten without the old content key), else the deal is withdrawn.
`rollback` applies the same rule to the release it goes back to. A broken access file
withdraws only its own deal.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..build.runner import BuildError, build_project
from .access import (
    ACCESS_FILE,
    TEAM,
    TEAM_ACCESS_FILE,
    AccessError,
    AccessList,
    Credentials,
    grants,
)
from .encryption import SiteKeys, b64, derive_key, encrypt_site, unb64
from .nginx import NginxError, unreadable_for_others, write_nginx_config

log = logging.getLogger("mkdocs.plugins.dealroom")

RELEASES = "releases"
CURRENT = "current"
KEEP_RELEASES = 3  # the live one, the previous one (rollback) and one more
MODES = ("nginx", "encrypted")
RELEASE_FILE = "release.json"


class PublishError(Exception):
    """Publishing could not start or finish; the live output is unchanged."""


@dataclass
class PublishResult:
    release: Path
    published: list[str] = field(default_factory=list)  # built now
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
        try:  # first: a configuration nginx could not use stops before any work
            write_nginx_config(out, listen, domain=domain)
        except NginxError as error:
            raise PublishError(str(error)) from None
        if blocked := unreadable_for_others(out):
            log.warning(f"dealroom: nginx's workers cannot enter {blocked}; make it readable "
                        "(chmod o+rx) before serving this folder")  # fmt: skip
    for leftover in releases.glob(".staging-*"):  # from a publish that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    release_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    staging = releases / f".staging-{release_id}"
    try:
        result = _assemble(config_file, staging, _live_release(out), releases / release_id, mode)
        staging.rename(result.release)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the live release is untouched
        raise
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
    withdrawn = _apply_current_access(target)
    _point_current_to(out, target)
    return RollbackResult(target, withdrawn)


# --- assembling a release ---------------------------------------------------------------


@dataclass
class _Release:
    """release.json: the mode, where access lives, and who each deal was published for."""

    mode: str
    team_access: str = ""
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug -> access, grants

    @classmethod
    def read(cls, release: Path) -> _Release:
        try:
            data = json.loads((release / RELEASE_FILE).read_text(encoding="utf-8"))
            return cls(data["mode"], data.get("team_access", ""), data.get("deals", {}))
        except (OSError, ValueError, KeyError, TypeError):
            return cls("nginx")  # a release from before the file existed: no grants known

    def write(self, release: Path) -> None:
        text = json.dumps(vars(self), indent=1, sort_keys=True)
        temporary = release / f".{RELEASE_FILE}.tmp"
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(release / RELEASE_FILE)


def _assemble(
    config_file: Path, staging: Path, live: Path | None, final: Path, mode: str
) -> PublishResult:
    project_root = config_file.resolve().parent
    team_file = project_root / TEAM_ACCESS_FILE
    try:
        team = AccessList.load(team_file)  # everyone's access depends on it: check it first
        credentials = Credentials(project_root).load() if mode == "encrypted" else {}
    except AccessError as error:
        raise PublishError(f"{error}; nothing was published") from None
    try:
        built = build_project(config_file, staging / "build", missing_markers="hide")
    except BuildError as error:
        raise PublishError(str(error)) from None
    result = PublishResult(final)
    (staging / "sites").mkdir()
    (staging / "htpasswd").mkdir()
    # An empty password file for unknown slugs: see publish/templates/auth.conf.
    (staging / "htpasswd" / ".nobody").write_text("", encoding="utf-8")
    record = _Release(mode, str(team_file))
    previous = _Release.read(live) if live is not None else None
    if previous is not None and previous.mode != mode:
        previous = None  # pages of the other mode cannot be served in this one
    folders = {folder.slug: folder for folder in built.deals}
    for slug, report in sorted(built.reports.items()):
        access_file = built.deals_dir / slug / ACCESS_FILE
        try:
            viewers = AccessList.load(access_file)
            allowed = grants(slug, viewers) | grants(TEAM, team)
            if slug in folders and (staging / "build" / slug / "index.html").is_file():
                granted = allowed
                if mode == "encrypted":
                    keys, granted = _site_keys(slug, viewers, team, credentials)
                    encrypt_site(staging / "build" / slug, keys, folders[slug].assets)
                if not viewers.viewers:
                    log.warning(f"dealroom: deal '{slug}' has no viewers; only the team opens it")
                (staging / "build" / slug).rename(staging / "sites" / slug)
                _write_htpasswd(staging / "htpasswd" / f"{slug}.htpasswd", viewers, team)
                record.deals[slug] = {"access": str(access_file), "grants": sorted(granted)}
                result.published.append(slug)
                continue
            reason = report.problems[0] if report.problems else "it did not build"
            if _keep_or_withdraw(slug, reason, allowed, live, previous, staging, record, result):
                record.deals[slug]["access"] = str(access_file)
                _write_htpasswd(staging / "htpasswd" / f"{slug}.htpasswd", viewers, team)
        except AccessError as error:
            # Nobody can be let in on an access file that cannot be read.
            _keep_or_withdraw(slug, str(error), None, live, previous, staging, record, result)
    record.write(staging)
    shutil.rmtree(staging / "build")  # the seller's root page and search index stay out
    return result


def _keep_or_withdraw(
    slug: str,
    reason: str,
    allowed: set[str] | None,
    live: Path | None,
    previous: _Release | None,
    staging: Path,
    record: _Release,
    result: PublishResult,
) -> bool:
    """A deal that cannot be published now: keep its live pages if they let in nobody
    who has lost access since (True), else take it offline."""
    result.reasons[slug] = reason
    was_live = live is not None and previous is not None and (live / "sites" / slug).is_dir()
    if not was_live:
        log.warning(f"dealroom: deal '{slug}' was not published (and never was before)")
        result.skipped.append(slug)
        return False
    assert live is not None and previous is not None
    before = previous.deals.get(slug, {})
    keep = allowed is not None and (
        previous.mode == "nginx"  # the password file is rewritten from today's access list
        or ("grants" in before and set(before["grants"]) <= allowed)
    )
    if not keep:
        log.error(
            f"dealroom: deal '{slug}' withdrawn: its new version was not published ({reason}) "
            "and its last published version would let in someone whose access has been "
            "revoked or changed since; fix the problem and publish again"
        )
        result.withdrawn.append(slug)
        return False
    shutil.copytree(live / "sites" / slug, staging / "sites" / slug, symlinks=True)
    granted = allowed if previous.mode == "nginx" else set(before["grants"])
    record.deals[slug] = {"grants": sorted(granted)}
    log.warning(f"dealroom: deal '{slug}' was not published now; its last version stays "
                "online under the current access list")  # fmt: skip
    result.kept.append(slug)
    return True


def _apply_current_access(release: Path) -> dict[str, str]:
    """Bring a (not live) release under today's access lists: rewrite its password
    files, and take offline every deal whose access cannot be checked or that would let
    in someone who has lost access since. Returns the deals taken offline, and why."""
    record = _Release.read(release)
    withdrawn: dict[str, str] = {}
    try:
        team = AccessList.load(Path(record.team_access)) if record.team_access else None
    except AccessError as error:
        raise PublishError(f"{error}; nothing was rolled back") from None
    sites = release / "sites"
    for site in sorted(sites.iterdir()) if sites.is_dir() else []:
        slug = site.name
        before = record.deals.get(slug, {})
        try:
            if team is None or not before.get("access"):
                raise AccessError("this release does not say who may open it")
            if not Path(before["access"]).parent.is_dir():
                raise AccessError("the deal no longer exists in the deals folder")
            viewers = AccessList.load(Path(before["access"]))
            allowed = grants(slug, viewers) | grants(TEAM, team)
            if record.mode == "encrypted" and not set(before.get("grants", [])) <= allowed:
                raise AccessError("someone it lets in has had their access revoked or changed")
            _write_htpasswd(release / "htpasswd" / f"{slug}.htpasswd", viewers, team)
            if record.mode == "nginx":
                before["grants"] = sorted(allowed)
        except AccessError as error:
            withdrawn[slug] = str(error)
            shutil.rmtree(site)
            (release / "htpasswd" / f"{slug}.htpasswd").unlink(missing_ok=True)
            record.deals.pop(slug, None)
    record.write(release)
    return withdrawn


def _site_keys(
    slug: str, viewers: AccessList, team: AccessList, credentials: dict[str, dict[str, str]]
) -> tuple[SiteKeys, set[str]]:
    """The deal's salt and its viewers' and the team's keys, from the passwords kept in
    the credentials file, and who they let in. A viewer whose password is not there
    cannot get a key slot."""
    if not viewers.salt:
        viewers.salt = b64(os.urandom(16))
        viewers.save()  # the salt is not secret; committing it keeps share links stable
        log.info(f"dealroom: added an encryption salt to {viewers.path}; commit it")
    passwords = []
    granted: set[str] = set()
    for scope, access in ((slug, viewers), (TEAM, team)):
        for viewer in access.viewers:
            password = credentials.get(scope, {}).get(viewer.username)
            if password is not None:
                granted |= grants(scope, AccessList(access.path, [viewer]))
            if password is None:
                log.warning(
                    f"dealroom: no password for '{viewer.username}' ({scope}) in the credentials "
                    "file on this machine, so they cannot open it; rotate their password here"
                )
            else:
                passwords.append(password)
    if not passwords:
        raise AccessError("nobody could open it: add a viewer or a team member first")
    salt = unb64(viewers.salt)
    return SiteKeys(salt, [derive_key(password, salt) for password in passwords]), granted


def _write_htpasswd(path: Path, viewers: AccessList, team: AccessList) -> None:
    path.write_text(viewers.htpasswd() + team.htpasswd(), encoding="utf-8")
    path.chmod(0o644)  # nginx's worker user must read it; it holds hashes only


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
