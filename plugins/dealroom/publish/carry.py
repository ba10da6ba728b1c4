"""Incremental encrypted publishing: carry a deal's encrypted site into the next release
when nothing that shaped it has changed.

Encrypting a deal is cheap; deriving its key slots is not (PBKDF2 with 600,000
iterations, about 140 ms per viewer and team member). So each release records, per deal,
two fingerprints (`release.json`, see releases.py):

- `content`: every file of the deal's built site (path and bytes, before encryption),
  plus everything else its encrypted files are made from: the seller's branding on its
  password pages, which files become opaque blobs, and the code and templates that
  encrypt (a new dealroom version that encrypts differently re-encrypts everything);
- `slots`: what decides its key slots: the key derivation, the deal's salt and the grants
  (scope, username, password hash) of everyone who gets a slot.

A deal whose two fingerprints equal those of the live release gets the live release's
files, hard-linked: the same content key, the same slots. Anything else draws a new
content key and fresh slots. A revoked or rotated viewer changes the grants, hence the
`slots` fingerprint, so revocation still always takes effect.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from ..build.incremental import digest, tree_digest
from . import access_pages, encryption
from .access_pages import Branding
from .encryption import ITERATIONS, SITEMAPS

FINGERPRINTS = "fingerprints"  # the key of a deal's fingerprints in release.json
# Whatever turns a built site into its encrypted form (see `_encryption_code`).
ENCRYPTION_CODE = (
    Path(encryption.__file__),
    Path(access_pages.__file__),
    *(access_pages.TEMPLATES / name for name in ("locked.html", "access-page.html", "unlock.js")),
    # The password page's words, in every language (a changed translation re-encrypts).
    *sorted((Path(access_pages.__file__).parent.parent / "locale").glob("*/LC_MESSAGES/*.po")),
)


class CannotCarry(Exception):
    """The live release's files of a deal cannot be carried as they are."""


def deal_fingerprints(
    site: Path,
    deal_assets: Iterable[str],
    branding: Branding,
    salt: str,
    granted: set[str],
    tokens: Iterable[str] = (),
) -> dict[str, str]:
    """A deal's two fingerprints, as release.json records them; `site` is its built,
    not yet encrypted site."""
    return {
        "content": content_fingerprint(site, deal_assets, branding),
        "slots": slots_fingerprint(salt, granted, tokens),
    }


def content_fingerprint(site: Path, deal_assets: Iterable[str], branding: Branding) -> str:
    """Everything the deal's encrypted files are made from, but its keys: every file of
    the built site by path and bytes (`tree_digest`), but the sitemaps, which encryption
    deletes and whose lastmod moves daily."""
    recipe = {
        "code": _encryption_code(),
        "branding": asdict(branding),
        "assets": sorted(deal_assets),
    }
    sitemaps = frozenset(path.name for path in site.glob(SITEMAPS))
    return digest(json.dumps(recipe, sort_keys=True), tree_digest(site, skip=sitemaps))


def slots_fingerprint(salt: str, granted: set[str], tokens: Iterable[str] = ()) -> str:
    """What decides a deal's key slots: how keys are derived, from whose passwords, and
    the share-link tokens naming a viewer's own keys file (none: as before there were)."""
    kdf = {"name": "PBKDF2", "hash": "SHA-256", "iterations": ITERATIONS, "salt": salt}
    recipe: dict = {"kdf": kdf, "grants": sorted(granted)}
    if named := sorted(token for token in tokens if token):
        recipe["tokens"] = named
    text = json.dumps(recipe, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def link_tree(source: Path, target: Path) -> None:
    """Recreate `source` at `target` with hard links (a copy where the file system has
    none). Both are in the publish directory, whose release files are only ever
    replaced or deleted, never rewritten in place, so sharing them is safe. Raises
    CannotCarry for a link: it could point outside the deal's folder."""
    for folder, folders, files in os.walk(source):
        here = Path(folder)
        (target / here.relative_to(source)).mkdir(parents=True, exist_ok=True)
        for name in folders + files:
            if (here / name).is_symlink():
                raise CannotCarry(f"{here / name} is a link")
        for name in files:
            _link_or_copy(here / name, target / here.relative_to(source) / name)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:  # a file system without hard links, or a file with too many
        shutil.copy2(source, target)


@functools.cache
def _encryption_code() -> str:
    """A digest of the encrypting code and templates, read once per process."""
    return digest(*(path.read_bytes() for path in ENCRYPTION_CODE))
