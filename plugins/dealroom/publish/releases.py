"""Publish deal sites into a directory a web server serves, safely.

Layout of the publish directory `OUT`:

    OUT/current -> releases/<id>     the live release (a symlink, swapped atomically)
    OUT/releases/<id>/sites/<slug>/  each deal site (clean pages: no MISSING markers)
    OUT/releases/<id>/htpasswd/      one bcrypt password file per deal (+ the team)
    OUT/nginx/                       server configuration for nginx (mode "nginx")

In mode "encrypted" each deal site is encrypted in place (see encryption.py) and can be
served by any static host.

A release is assembled beside the live one and only then swapped in, so an interrupted
or failed publish leaves the live output as it was; the previous release is kept for
`dealroom rollback`. A deal that fails to build keeps its previously published version.
The seller's root page, the internal files and the credentials are never copied.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mkdocs.commands.build import build
from mkdocs.config import load_config

from .access import ACCESS_FILE, TEAM, TEAM_ACCESS_FILE, AccessError, AccessList, Credentials
from .encryption import SiteKeys, b64, derive_key, encrypt_site, unb64
from .nginx import write_nginx_config

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
    kept: list[str] = field(default_factory=list)  # failed now, previous version kept
    skipped: list[str] = field(default_factory=list)  # failed, nothing to keep


def publish(
    config_file: Path, out: Path, mode: str = "nginx", listen: str = "127.0.0.1:8080"
) -> PublishResult:
    """Build every deal with clean pages and make the result the live release."""
    if mode not in MODES:
        raise PublishError(f"unknown mode '{mode}'; use one of: {', '.join(MODES)}")
    out = out.resolve()
    releases = out / RELEASES
    releases.mkdir(parents=True, exist_ok=True)
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
    if mode == "nginx":
        write_nginx_config(out, listen)
    _point_current_to(out, result.release)
    _prune(releases, keep={result.release.name})
    return result


def rollback(out: Path) -> Path:
    """Make the release before the live one live again; returns it."""
    out = out.resolve()
    live = _live_release(out)
    older = sorted(p for p in (out / RELEASES).iterdir() if not p.name.startswith("."))
    older = [release for release in older if live is None or release.name < live.name]
    if not older:
        raise PublishError(f"no earlier release in {out / RELEASES} to roll back to")
    _point_current_to(out, older[-1])
    return older[-1]


# --- assembling a release ---------------------------------------------------------------


def _assemble(
    config_file: Path, staging: Path, live: Path | None, final: Path, mode: str
) -> PublishResult:
    config = load_config(str(config_file), site_dir=str(staging / "build"))
    plugin = config.plugins.get("dealroom")
    if plugin is None:
        raise PublishError(f"{config_file} does not use the dealroom plugin")
    plugin.config.missing_markers = "hide"  # published pages never show MISSING markers
    build(config)
    project_root = config_file.resolve().parent
    team = AccessList.load(project_root / TEAM_ACCESS_FILE)
    credentials = Credentials(project_root).load()
    result = PublishResult(final)
    (staging / "sites").mkdir()
    (staging / "htpasswd").mkdir()
    # An empty password file for unknown slugs: see publish/auth.conf.
    (staging / "htpasswd" / ".nobody").write_text("", encoding="utf-8")
    (staging / RELEASE_FILE).write_text(json.dumps({"mode": mode}), encoding="utf-8")
    same_mode_live = live if live is not None and _mode_of(live) == mode else None
    built = {folder.slug: folder for folder in plugin.deals}
    for slug in sorted(set(built) | set(plugin.failed)):
        site = staging / "build" / slug
        if slug in built and (site / "index.html").is_file():
            viewers = AccessList.load(built[slug].path / ACCESS_FILE)
            if not viewers.viewers:
                log.warning(f"dealroom: deal '{slug}' has no viewers; only the team can open it")
            try:
                if mode == "encrypted":
                    keys = _site_keys(slug, viewers, team, credentials)
                    encrypt_site(site, keys, built[slug].assets)
                site.rename(staging / "sites" / slug)
                _write_htpasswd(staging / "htpasswd" / f"{slug}.htpasswd", viewers, team)
                result.published.append(slug)
                continue
            except AccessError as error:
                log.error(f"dealroom: deal '{slug}' not published: {error}")
        if same_mode_live is not None and (same_mode_live / "sites" / slug).is_dir():
            shutil.copytree(
                same_mode_live / "sites" / slug, staging / "sites" / slug, symlinks=True
            )
            previous = same_mode_live / "htpasswd" / f"{slug}.htpasswd"
            if previous.is_file():
                shutil.copy2(previous, staging / "htpasswd")
            log.warning(f"dealroom: deal '{slug}' was not published now; its last version stays")
            result.kept.append(slug)
        else:
            log.warning(f"dealroom: deal '{slug}' was not published and never was before")
            result.skipped.append(slug)
    shutil.rmtree(staging / "build")  # the seller's root page and search index stay out
    return result


def _site_keys(
    slug: str, viewers: AccessList, team: AccessList, credentials: dict[str, dict[str, str]]
) -> SiteKeys:
    """The deal's salt and its viewers' and the team's keys, from the passwords kept in
    the credentials file. A viewer whose password is not there cannot get a key slot."""
    if not viewers.salt:
        viewers.salt = b64(os.urandom(16))
        viewers.save()  # the salt is not secret; committing it keeps share links stable
        log.info(f"dealroom: added an encryption salt to {viewers.path}; commit it")
    passwords = []
    for scope, access in ((slug, viewers), (TEAM, team)):
        for viewer in access.viewers:
            password = credentials.get(scope, {}).get(viewer.username)
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
    return SiteKeys(salt, [derive_key(password, salt) for password in passwords])


def _mode_of(release: Path) -> str:
    try:
        return json.loads((release / RELEASE_FILE).read_text(encoding="utf-8"))["mode"]
    except (OSError, ValueError, KeyError):
        return "nginx"  # releases written before the file existed


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
