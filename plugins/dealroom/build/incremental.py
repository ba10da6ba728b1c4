"""Incremental builds: a deal is loaded again, and its site built again, only when
something that can change the result changed.

What can change a deal's site is fingerprinted:

- the files of its folder (content, and link targets as text, never followed);
- the run: dealroom's own code and templates, the versions of MkDocs, Material and the
  Markdown extensions, the theme's custom_dir, the root settings every deal site takes
  (`site_url`, Markdown extensions, `extra`, theme options, ...) and the build options
  (`as_of` day, MISSING markers, raw HTML, ...);
- its slice of the contributor history (the log its pages show).

Two caches live in the cache folder (`.cache/dealroom` by default):

- `deals/<slug>.pickle`: the loaded, validated deal, reused while its folder and
  dealroom's code are unchanged (loading runs in a worker per deal and dominates a
  rebuild where nothing changed);
- `sites/<site key>/<slug>.json`: the manifest of a built deal site, its fingerprint and
  the files the build wrote with their sizes, per output folder.

MkDocs empties `site_dir` before every build except its hidden entries, so before it
does (`stash`), the deal sites that have a manifest are moved into a hidden folder of
`site_dir`, and moved back (`restore`) if their fingerprint still matches and every file
is intact; the others are built anew. A deal site that is no longer built is gone with
the stash. No MkDocs imports here: the MkDocs glue passes plain settings in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ..deal.files import ACCESS_FILE, INTERNAL_DIR

log = logging.getLogger("mkdocs.plugins.dealroom")

STASH = ".dealroom-previous"  # hidden: MkDocs' clean leaves it alone
PACKAGE = Path(__file__).resolve().parent.parent  # plugins/dealroom
# The parts of dealroom that shape a deal site (not publishing, the CLI or the seller's
# dashboard, which is rebuilt every time).
SITE_CODE = ("deal", "history", "build", "templates", "locale", "plugin.py", "config.py")
# Packages whose version can change what a page looks like.
ENGINE = ("mkdocs", "mkdocs-material", "Markdown", "pymdown-extensions", "nh3", "Jinja2", "babel")
FORMAT = 1  # of the manifests and pickles; a change makes every deal build again
# What a deal folder holds that its site never reads: who may open it (publishing reads
# that, and encrypted publishing writes the deal's salt into it) and internal notes.
NOT_BUILT = frozenset({ACCESS_FILE, INTERNAL_DIR})


def digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()


def tree_digest(folder: Path, skip: frozenset[str] = frozenset()) -> str:
    """Every file under `folder` by relative path and content; links by their target
    text (never followed, as loading never follows one out of the folder). Top-level
    entries named in `skip` are left out."""
    parts: list[str | bytes] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if name != "__pycache__")  # Python's own cache
        if root == str(folder):
            dirs[:] = [name for name in dirs if name not in skip]
            files = [name for name in files if name not in skip]
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            if os.path.islink(path):
                parts += [f"link:{relative}", os.readlink(path)]
            elif os.path.isfile(path):
                parts += [f"file:{relative}", _file_digest(path)]
    return digest(*parts)


def _file_digest(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def code_digest() -> str:
    """dealroom's own code and templates, and the versions of what renders its pages."""
    versions = []
    for name in ENGINE:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}: absent")
    code = [_part_digest(PACKAGE / name) for name in SITE_CODE]
    return digest(f"format {FORMAT}", *versions, *code)


def _part_digest(path: Path) -> str:
    return tree_digest(path) if path.is_dir() else _file_digest(str(path))


def settings_digest(settings: dict[str, Any]) -> str:
    """Plain settings (strings, numbers, lists, dicts); anything else by its `str`."""
    return digest(json.dumps(settings, sort_keys=True, default=str))


def deal_fingerprints(
    run: dict[str, Any], inputs: dict[str, str], logs: dict[str, Any]
) -> dict[str, str]:
    """Each deal's site fingerprint: the run's settings and dealroom's code, the deal's
    inputs (its folder, as loaded: `LoadCache.key`) and its contributor log (by `repr`,
    which dataclasses make exact). Deals without an input fingerprint get none."""
    run_key = digest(code_digest(), settings_digest(run))
    return {slug: digest(run_key, key, repr(logs.get(slug))) for slug, key in inputs.items()}


# --- loaded deals --------------------------------------------------------------------------


class LoadCache:
    """Loaded deals by the fingerprint of their folder and of how they were loaded."""

    def __init__(self, cache_dir: Path | None, load_settings: dict[str, Any]) -> None:
        self.folder = cache_dir / "deals" if cache_dir else None
        self.settings = digest(code_digest(), settings_digest(load_settings))  # once a run

    def key(self, deal_folder: Path) -> str:
        inputs = tree_digest(deal_folder, NOT_BUILT)
        return digest(self.settings, str(deal_folder.resolve()), inputs)

    def get(self, slug: str, key: str) -> Any | None:
        if self.folder is None:
            return None
        try:
            with open(self.folder / f"{slug}.pickle", "rb") as stream:
                # The key first, on its own: an entry of another dealroom version is
                # never unpickled as an object (its classes may have moved).
                if pickle.load(stream) != key:
                    return None
                return pickle.load(stream)
        except Exception:  # none yet, or damaged: the cache only saves time, load it again
            return None

    def put(self, slug: str, key: str, loaded: Any) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = pickle.dumps(key) + pickle.dumps(loaded)
        _write_atomically(self.folder / f"{slug}.pickle", entry)


# --- built deal sites -------------------------------------------------------------------------


# A log record of a deal's build worth repeating when its site is reused: (logger name,
# level, message), e.g. a broken link's warning, so `--strict` fails the same way.
Record = tuple[str, int, str]


@dataclass(frozen=True)
class Manifest:
    fingerprint: str
    files: dict[str, int]  # every file the build wrote: relative path -> size
    warnings: list[Record]


class SiteCache:
    """The manifests of the deal sites built into one `site_dir`, and the previous
    build's deal sites while this build runs."""

    def __init__(self, cache_dir: Path | None, site_dir: Path) -> None:
        self.site_dir = site_dir
        self.stash_dir = site_dir / STASH
        key = digest(str(site_dir.resolve()))[:16]
        self.folder = cache_dir / "sites" / key if cache_dir else None

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def stash(self) -> None:
        """Before MkDocs empties `site_dir`: move every deal site with a manifest aside."""
        if self.folder is None or not self.site_dir.is_dir():
            return
        shutil.rmtree(self.stash_dir, ignore_errors=True)  # left by an interrupted build
        for manifest in sorted(self.folder.glob("*.json")):
            site = self.site_dir / manifest.stem
            if site.is_dir() and not site.is_symlink():
                self.stash_dir.mkdir(exist_ok=True)
                site.rename(self.stash_dir / manifest.stem)

    def restore(self, slug: str, fingerprint: str) -> bool:
        """Put the previous build's site of `slug` back if it was built from the same
        inputs and every file it wrote is still there, unchanged in size."""
        manifest = self._manifest(slug)
        previous = self.stash_dir / slug
        if manifest is None or manifest.fingerprint != fingerprint or not previous.is_dir():
            return False
        if _files_of(previous) != manifest.files:
            return False
        target = self.site_dir / slug
        if target.exists():
            return False
        previous.rename(target)
        return True

    def record(self, slug: str, fingerprint: str, warnings: Iterable[Record] = ()) -> None:
        """After `slug`'s site was built: what it was built from, what it wrote, and what
        its build warned about."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        manifest = {
            "fingerprint": fingerprint,
            "files": _files_of(self.site_dir / slug),
            "warnings": [list(record) for record in warnings],
        }
        _write_atomically(self.folder / f"{slug}.json", json.dumps(manifest).encode())

    def warnings(self, slug: str) -> list[Record]:
        manifest = self._manifest(slug)
        return manifest.warnings if manifest is not None else []

    def forget(self, slug: str) -> None:
        if self.folder is not None:
            (self.folder / f"{slug}.json").unlink(missing_ok=True)

    def finish(self, built: Iterable[str]) -> None:
        """Drop the previous build's leftovers and the manifests of sites not built now."""
        shutil.rmtree(self.stash_dir, ignore_errors=True)
        if self.folder is None or not self.folder.is_dir():
            return
        keep = set(built)
        for manifest in self.folder.glob("*.json"):
            if manifest.stem not in keep:
                manifest.unlink(missing_ok=True)

    def _manifest(self, slug: str) -> Manifest | None:
        if self.folder is None:
            return None
        try:
            data = json.loads((self.folder / f"{slug}.json").read_text(encoding="utf-8"))
            warnings = [
                (str(name), int(level), str(text)) for name, level, text in data["warnings"]
            ]
            return Manifest(str(data["fingerprint"]), dict(data["files"]), warnings)
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _files_of(site: Path) -> dict[str, int]:
    """Every file under `site` (relative path -> size), read with one scan per folder."""
    files: dict[str, int] = {}
    folders = [("", str(site))]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append((f"{prefix}{entry.name}/", entry.path))
                else:
                    files[prefix + entry.name] = entry.stat(follow_symlinks=False).st_size
    return files


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
