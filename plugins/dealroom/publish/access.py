"""Who may open which deal room: viewers, passwords and where each is kept.

- `deals/<slug>/access.yml` (committed) lists a deal's viewers with bcrypt hashes only.
- `team-access.yml` beside mkdocs.yml (committed) lists the seller team, whose
  credentials open every deal.
- `.dealroom/credentials.yml` (mode 0600, inside a folder git is told to ignore) keeps
  the plain passwords, for the seller to hand out; nothing published reads it.

Passwords are generated passphrases (five words from the EFF long list: about 64 bits),
so their strength does not rest on the hash cost. The hash cost is low on purpose:
nginx checks the password on every request, assets included (see README, "Publishing").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import yaml
from xkcdpass import xkcd_password

from ..deal.files import ACCESS_FILE, DEAL_FILE, Refused, read_text
from ..deal.yamlfile import YamlProblem, load_yaml

TEAM_ACCESS_FILE = "team-access.yml"
CREDENTIALS_DIR = ".dealroom"
CREDENTIALS_FILE = "credentials.yml"
TEAM = "team"  # the credentials file's key for the seller team
BCRYPT_COST = 5  # ~2 ms per check in nginx; see README for the trade-off
PASSPHRASE_WORDS = 5
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# What `hash_password` writes; anything else in an access file (a typo, a stray colon or
# line break that would add a line to the password file) is refused.
HASH_PATTERN = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
MAX_ACCESS_FILE = 1_000_000
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")  # secrets.token_urlsafe(16)


class AccessError(Exception):
    """A user mistake in access management, with a message saying how to fix it."""


@dataclass
class Viewer:
    username: str
    name: str = ""
    hash: str = ""
    forwardable: bool = False  # the one credential a champion may pass on
    added: str = ""
    # The random name of the viewer's own key file in encrypted mode, when share links
    # are told apart (`share_link_tokens`): not secret, it is in the link.
    token: str = ""


@dataclass
class AccessList:
    """The viewers of one deal, or the seller team, as kept in an access file."""

    path: Path
    viewers: list[Viewer] = field(default_factory=list)
    salt: str = ""  # base64; the deal's PBKDF2 salt for encrypted publishing (not secret)

    @classmethod
    def load(cls, path: Path) -> AccessList:
        """The access file at `path` (empty if there is none). Raises `AccessError`
        naming the file for anything but a well-formed file of its own: a link could
        grant one deal's viewers another deal."""
        if path.is_symlink():
            raise AccessError(f"{path}: is a link; keep the deal's own access file there")
        if not path.exists():
            return cls(path)
        try:
            data = load_yaml(read_text(path, MAX_ACCESS_FILE)).data or {}
        except Refused as refusal:
            raise AccessError(f"{path}: {refusal}") from None
        except YamlProblem as problem:
            raise AccessError(f"{path}:{problem.line}: {problem}") from None
        if not isinstance(data, dict) or not isinstance(data.get("viewers") or [], list):
            raise AccessError(f"{path}: not an access file (expected 'viewers:' with a list)")
        viewers = [
            _viewer(path, index, entry) for index, entry in enumerate(data.get("viewers") or [])
        ]
        return cls(path, viewers, str(data.get("encryption_salt") or ""))

    def save(self) -> None:
        header = "# Managed by `dealroom access`: password hashes only, never passwords.\n"
        data: dict = {
            "viewers": [
                {key: value for key, value in vars(viewer).items() if key != "token" or value}
                for viewer in self.viewers
            ]
        }
        if self.salt:
            data["encryption_salt"] = self.salt
        write_atomically(self.path, header + yaml.safe_dump(data, sort_keys=False))

    def find(self, username: str) -> Viewer | None:
        return next((viewer for viewer in self.viewers if viewer.username == username), None)

    def htpasswd(self) -> str:
        """Apache/nginx htpasswd lines for these viewers."""
        return "".join(f"{viewer.username}:{viewer.hash}\n" for viewer in self.viewers)


def _viewer(path: Path, index: int, entry: object) -> Viewer:
    where = f"{path}: viewers[{index}]"
    if not isinstance(entry, dict):
        raise AccessError(f"{where}: expected username, name and hash")
    username, hashed = str(entry.get("username", "")), str(entry.get("hash", ""))
    if not USERNAME_PATTERN.match(username):
        raise AccessError(f"{where}.username: '{username}' is not a valid username")
    if not HASH_PATTERN.match(hashed):
        raise AccessError(
            f"{where}.hash: not a bcrypt hash written by dealroom; run "
            f"`dealroom access rotate {username}` to set a new password"
        )
    name, added = str(entry.get("name") or ""), str(entry.get("added") or "")
    token = str(entry.get("token") or "")
    if token and not TOKEN_PATTERN.match(token):
        raise AccessError(f"{where}.token: not a token written by dealroom; delete the line "
                          "and publish again to get a new one")  # fmt: skip
    return Viewer(username, name, hashed, bool(entry.get("forwardable")), added, token)


def grants(scope: str, access: AccessList) -> set[str]:
    """Who `access` lets in, as fingerprints (scope, username, password hash): a revoked
    viewer's fingerprint disappears, a rotated one's changes. Kept with each release so
    that no kept or rolled-back version grants what has since been taken away."""
    return {
        hashlib.sha256(f"{scope}\0{viewer.username}\0{viewer.hash}".encode()).hexdigest()[:32]
        for viewer in access.viewers
    }


def hash_password(password: str, cost: int = BCRYPT_COST) -> str:
    """bcrypt in the `$2y$` spelling that Apache's htpasswd and nginx both accept."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost)).decode()
    return "$2y$" + hashed[4:]


def new_passphrase() -> str:
    """Five random words (xkcdpass draws with the system's secure random source)."""
    words = xkcd_password.generate_wordlist(wordfile=xkcd_password.locate_wordfile("eff-long"))
    return xkcd_password.generate_xkcdpassword(words, numwords=PASSPHRASE_WORDS, delimiter="-")


# --- the plain-password store ----------------------------------------------------------


class Credentials:
    """Plain passwords, outside any site and out of git, readable by their owner only."""

    def __init__(self, project_root: Path) -> None:
        self.folder = project_root / CREDENTIALS_DIR
        self.path = self.folder / CREDENTIALS_FILE

    def load(self) -> dict[str, dict[str, str]]:
        if not self.path.is_file():
            return {}
        try:
            data = load_yaml(read_text(self.path, MAX_ACCESS_FILE)).data or {}
            return {str(scope): {str(u): str(p) for u, p in (users or {}).items()}
                    for scope, users in data.items()}  # fmt: skip
        except (Refused, YamlProblem, AttributeError) as error:
            raise AccessError(f"{self.path}: not a valid credentials file ({error})") from None

    def set(self, scope: str, username: str, password: str | None) -> None:
        data = self.load()
        if password is None:
            data.get(scope, {}).pop(username, None)
        else:
            data.setdefault(scope, {})[username] = password
        self.folder.mkdir(mode=0o700, exist_ok=True)
        # Ignored by git whatever the project's own .gitignore says.
        (self.folder / ".gitignore").write_text("*\n", encoding="utf-8")
        text = "# Plain passwords for dealroom viewers. Never commit or publish this file.\n"
        write_atomically(self.path, text + yaml.safe_dump(data, sort_keys=True), mode=0o600)


# --- the operations behind `dealroom access` --------------------------------------------


@dataclass(frozen=True)
class Scope:
    """A deal's viewers, or the seller team."""

    key: str  # the deal's slug, or TEAM
    access_file: Path

    @classmethod
    def of(cls, project_root: Path, deals_dir: Path, deal: str | None) -> Scope:
        if deal is None:
            return cls(TEAM, project_root / TEAM_ACCESS_FILE)
        folder = deals_dir / deal
        if not (folder / DEAL_FILE).is_file():
            raise AccessError(f"no deal '{deal}' in {deals_dir} (no {folder / DEAL_FILE})")
        return cls(deal, folder / ACCESS_FILE)


def add_viewer(
    project_root: Path, scope: Scope, username: str, name: str = "", forwardable: bool = False
) -> str:
    """Add a viewer with a new passphrase; returns the passphrase (to show once)."""
    if not USERNAME_PATTERN.match(username):
        raise AccessError(
            f"username '{username}' is not allowed; use 2-64 lowercase letters, digits, "
            "dots, dashes or underscores, e.g. 'maria.chen'"
        )
    access = AccessList.load(scope.access_file)
    if access.find(username):
        raise AccessError(f"'{username}' already has access; use `dealroom access rotate`")
    if forwardable and any(viewer.forwardable for viewer in access.viewers):
        raise AccessError("this deal already has a forwardable credential; rotate or revoke it")
    password = new_passphrase()
    today = dt.date.today().isoformat()
    access.viewers.append(Viewer(username, name, hash_password(password), forwardable, today))
    access.save()
    Credentials(project_root).set(scope.key, username, password)
    return password


def rotate_password(project_root: Path, scope: Scope, username: str) -> str:
    """Give a viewer a new passphrase; the old one stops working at the next publish."""
    access = AccessList.load(scope.access_file)
    viewer = access.find(username)
    if viewer is None:
        raise AccessError(f"'{username}' has no access to {scope.key}")
    password = new_passphrase()
    viewer.hash = hash_password(password)
    access.save()
    Credentials(project_root).set(scope.key, username, password)
    return password


def revoke_viewer(project_root: Path, scope: Scope, username: str) -> None:
    access = AccessList.load(scope.access_file)
    if access.find(username) is None:
        raise AccessError(f"'{username}' has no access to {scope.key}")
    access.viewers = [viewer for viewer in access.viewers if viewer.username != username]
    access.save()
    Credentials(project_root).set(scope.key, username, None)


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write via a temporary sibling so a crash never leaves a half-written file; the
    temporary file is created with its final mode, so a secret is never world-readable."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, mode)  # in case the file existed with another mode
    os.replace(temporary, path)
