"""Encrypted static deal sites: every byte of a deal's content is ciphertext.

Format version 1 (locked by tests/fixtures/encrypted-v1.json):

- Each publish of a changed deal draws a random 256-bit content key (an unchanged deal
  keeps its encrypted files, key and slots: see carry.py). Every page (the whole
  rendered HTML: title, navigation, table of contents and body), the search index and
  every asset of the deal is encrypted with it using AES-256-GCM, a random 96-bit IV
  per file and the associated data `dealroom:1`, into an *envelope*:
  `{"format": "dealroom-encrypted", "version": 1, "iv": b64, "data": b64}`.
- `dealroom-keys.json` holds one *key slot* per viewer: the content key encrypted the
  same way under that viewer's key, which is PBKDF2-HMAC-SHA256(password, the deal's
  random salt, 600,000 iterations). Slots carry no names, so the file reveals nothing
  but how many viewers there are. With `share_link_tokens`, each viewer's slot is also
  in `dealroom-keys/<token>.json`, a keys file of one slot under the viewer's random
  token, which their share link (`#key=…&viewer=<token>`) fetches instead.
- A page's file is a password page (no title or text of the deal; it names only the
  seller, see access_pages.py) that holds the page's envelope; `dealroom/unlock.js`
  derives the key in the browser with WebCrypto, opens a slot, decrypts the page and
  shows it. Assets get opaque names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .access_pages import Branding, environment

FORMAT = "dealroom-encrypted"
KEYS_FORMAT = "dealroom-keys"
VERSION = 1
ITERATIONS = 600_000
ASSOCIATED_DATA = b"dealroom:1"
KEYS_FILE = "dealroom-keys.json"
VIEWER_KEYS = "dealroom-keys"  # one keys file per share-link token, when they are on
UNLOCK_SCRIPT = "dealroom/unlock.js"
BLOBS_DIR = "dealroom/blobs"
SEARCH_INDEX = "search/search_index.json"
SITEMAPS = "sitemap.xml*"  # dropped: page addresses only, and a deal room advertises nothing
TEMPLATES = Path(__file__).parent / "templates"  # unlock.js
# The policy a built page carries (build/csp.py), repeated on its password page.
_POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')
LOCKED_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self' blob:; object-src 'none'; base-uri 'self'"
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def derive_key(password: str, salt: bytes, iterations: int = ITERATIONS) -> bytes:
    """A viewer's key: PBKDF2-HMAC-SHA256, as WebCrypto's deriveKey computes it."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, dklen=32)


def encrypt(key: bytes, plaintext: bytes, iv: bytes | None = None) -> dict[str, str | int]:
    iv = iv if iv is not None else os.urandom(12)
    data = AESGCM(key).encrypt(iv, plaintext, ASSOCIATED_DATA)
    return {"format": FORMAT, "version": VERSION, "iv": b64(iv), "data": b64(data)}


def decrypt(key: bytes, envelope: dict) -> bytes:
    """Open an envelope (raises cryptography's InvalidTag for a wrong key)."""
    if envelope.get("format") != FORMAT or envelope.get("version") != VERSION:
        raise ValueError("not a dealroom envelope of a version this tool reads")
    return AESGCM(key).decrypt(unb64(envelope["iv"]), unb64(envelope["data"]), ASSOCIATED_DATA)


def keys_file(slots: list[dict], salt: bytes) -> dict:
    """A keys file holding `slots` (the content key, each wrapped under one viewer's
    key), in an order that hints at nothing: by their random IVs."""
    slots = sorted(slots, key=lambda slot: slot["iv"])
    return {
        "format": KEYS_FORMAT,
        "version": VERSION,
        "kdf": {"name": "PBKDF2", "hash": "SHA-256", "iterations": ITERATIONS, "salt": b64(salt)},
        "slots": slots,
    }


# --- encrypting a built deal site -------------------------------------------------------


@dataclass(frozen=True)
class SiteKeys:
    salt: bytes
    viewer_keys: list[bytes]  # derived from the viewers' and the team's passwords
    # For each of `viewer_keys`, the token naming that viewer's own keys file
    # (VIEWER_KEYS/<token>.json, fetched by their share links), or "" for none.
    tokens: list[str] = field(default_factory=list)


def encrypt_site(
    site: Path, keys: SiteKeys, deal_assets: list[str], branding: Branding | None = None
) -> None:
    """Turn a built deal site into its encrypted form, in place. Its password pages name
    what `branding` holds (the seller, perhaps its contact), nothing else."""
    content_key = AESGCM.generate_key(bit_length=256)
    slots = [encrypt(key, content_key) for key in keys.viewer_keys]
    (site / KEYS_FILE).write_text(json.dumps(keys_file(slots, keys.salt)), encoding="utf-8")
    # A viewer's share link fetches their own slot under a random name, so that the
    # host's log can tell which share link was opened (see README, "Engagement").
    for token, slot in zip(keys.tokens, slots, strict=False):
        if token:
            path = site / VIEWER_KEYS / f"{token}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(keys_file([slot], keys.salt)), encoding="utf-8")
    # Deal assets get opaque names; pages learn the mapping from inside their envelope.
    blobs: dict[str, str] = {}
    (site / BLOBS_DIR).mkdir(parents=True, exist_ok=True)
    for asset in deal_assets:
        path = site / asset
        if not path.is_file():
            continue
        name = hashlib.sha256(os.urandom(16)).hexdigest()[:24]
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        payload = {"type": media_type, "content": b64(path.read_bytes())}
        _write_envelope(site / BLOBS_DIR / name, content_key, json.dumps(payload).encode())
        blobs[asset] = f"{BLOBS_DIR}/{name}"
        path.unlink()
    _remove_empty_folders(site / "assets")
    index = site / SEARCH_INDEX
    if index.is_file():
        _write_envelope(index, content_key, index.read_bytes())
    for sitemap in site.glob(SITEMAPS):
        sitemap.unlink()
    locked = environment((branding or Branding()).language).get_template("locked.html")
    for page in sorted(site.rglob("*.html")):
        depth = len(page.relative_to(site).parts) - 1
        root = "../" * depth
        html = page.read_text(encoding="utf-8")
        payload = {"html": html, "blobs": blobs}
        envelope = encrypt(content_key, json.dumps(payload).encode())
        policy = _POLICY.search(html)
        _replace_text(
            page,
            locked.render(
                root=root, envelope=json.dumps(envelope), unlock=UNLOCK_SCRIPT,
                policy=policy.group(1) if policy else LOCKED_POLICY,
                branding=branding or Branding(),
            ),
        )  # fmt: skip
    script = site / UNLOCK_SCRIPT
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEMPLATES / "unlock.js", script)


def _write_envelope(path: Path, key: bytes, plaintext: bytes) -> None:
    _replace_text(path, json.dumps(encrypt(key, plaintext)))


def _replace_text(path: Path, text: str) -> None:
    """Write `path` as a new file, never into the old one: a site being encrypted may
    share its files (hard links) with the build it came from, which must stay plain."""
    partial = path.with_name(f".{path.name}.encrypting")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _remove_empty_folders(folder: Path) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def share_fragment(password: str, salt: bytes) -> str:
    """The URL fragment that opens a deal without typing the password: the viewer's
    derived key. Browsers never send fragments to the server."""
    return "#key=" + base64.urlsafe_b64encode(derive_key(password, salt)).decode().rstrip("=")
