"""Who each published deal lets in, and bringing a release under today's access lists.

Every release records, per deal, the *grants* it was published with (`release.json`):
fingerprints of the usernames and password hashes it lets in. Revocation always wins
because every path that makes a release live goes through `bring_under`:

- nginx mode: a deal's password file is rewritten from today's `access.yml` and
  `team-access.yml`, so a revoked or rotated password stops working at once;
- encrypted mode: key slots cannot be rewritten without the content key, which dealroom
  does not keep, so a deal whose grants include anyone who has lost access since is
  taken offline (withdrawn) instead;
- a deal whose access file cannot be read, or that is gone from the deals folder, is
  taken offline in both modes.

`publish` applies it to the live release before it builds anything (so revocation holds
even if the build then fails), and `rollback` to the release it goes back to.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt

from .access import TEAM, AccessError, AccessList, grants, write_atomically
from .access_pages import UNAUTHORIZED_DIR

RELEASE_FILE = "release.json"


@dataclass
class ReleaseRecord:
    """release.json: the mode, where access lives, and who each deal was published for
    (in mode "encrypted" also each deal's fingerprints: see carry.py)."""

    mode: str
    team_access: str = ""
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug -> access, grants

    @classmethod
    def read(cls, release: Path) -> ReleaseRecord:
        try:
            data = json.loads((release / RELEASE_FILE).read_text(encoding="utf-8"))
            return cls(data["mode"], data.get("team_access", ""), data.get("deals", {}))
        except (OSError, ValueError, KeyError, TypeError):
            return cls("nginx")  # a release from before the file existed: no grants known

    def write(self, release: Path) -> None:
        write_atomically(release / RELEASE_FILE, json.dumps(vars(self), indent=1, sort_keys=True))


@dataclass(frozen=True)
class CurrentAccess:
    """Today's access lists: the seller team's, and each deal's by its access file."""

    team: AccessList
    access_file: Callable[[str], Path | None]  # slug -> its access.yml (None: unknown)

    def viewers(self, slug: str) -> AccessList:
        """The deal's viewers; AccessError if they cannot be known for sure."""
        path = self.access_file(slug)
        if path is None:
            raise AccessError("this release does not say who may open it")
        if not path.parent.is_dir():
            raise AccessError("the deal no longer exists in the deals folder")
        return AccessList.load(path)

    def allowed(self, slug: str, viewers: AccessList) -> set[str]:
        return grants(slug, viewers) | grants(TEAM, self.team)


def bring_under(release: Path, access: CurrentAccess) -> dict[str, str]:
    """Bring `release` (live or not) under today's access lists, in place, one atomic
    file operation at a time. Returns the deals taken offline, and why."""
    record = ReleaseRecord.read(release)
    withdrawn: dict[str, str] = {}
    sites = release / "sites"
    for site in sorted(sites.iterdir()) if sites.is_dir() else []:
        slug = site.name
        if slug.startswith("."):
            continue
        try:
            viewers = access.viewers(slug)
            allowed = access.allowed(slug, viewers)
            before = record.deals.setdefault(slug, {})
            if record.mode == "encrypted":
                granted = before.get("grants")
                if granted is None:
                    raise AccessError("this release does not say who its key slots let in")
                if not set(granted) <= allowed:
                    raise AccessError("someone it lets in has had their access revoked or changed")
            write_htpasswd(release / "htpasswd" / f"{slug}.htpasswd", viewers, access.team)
            if record.mode == "nginx":
                before["grants"] = sorted(allowed)
        except AccessError as error:
            withdrawn[slug] = str(error)
            withdraw(release, slug)
            record.deals.pop(slug, None)
    record.write(release)
    return withdrawn


def withdraw(release: Path, slug: str) -> None:
    """Take a deal out of a release: its password file first (nginx then answers 401),
    then its pages, moved aside in one rename before they are deleted. Its 401 page goes
    too: the address then looks like one that names no deal."""
    (release / "htpasswd" / f"{slug}.htpasswd").unlink(missing_ok=True)
    (release / UNAUTHORIZED_DIR / f"{slug}.html").unlink(missing_ok=True)
    site = release / "sites" / slug
    if site.is_dir():
        aside = site.with_name(f".withdrawn-{slug}")
        shutil.rmtree(aside, ignore_errors=True)
        site.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)


def write_htpasswd(path: Path, viewers: AccessList, team: AccessList) -> None:
    """A deal's password file: its viewers and the team (bcrypt hashes only), readable by
    nginx's worker user."""
    write_atomically(path, viewers.htpasswd() + team.htpasswd(), mode=0o644)


def password_is_current(password: str, hashed: str) -> bool:
    """Whether a kept plain password is the one the access file's hash was made from (a
    credentials file copied from another machine can hold a password rotated since)."""
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False
