"""Incremental builds: a deal is loaded again, and its site built again, only when
something that can change the result changed.

What can change a deal's site is fingerprinted:

- the files of its folder (content, and link targets as text, never followed);
- the run: dealroom's own code and templates, the versions of MkDocs, Material and the
  Markdown extensions, the theme's custom_dir, the root settings every deal site takes
  (`site_url`, Markdown extensions, `extra`, theme options, ...) and the build options
  (`as_of` day, MISSING markers, raw HTML, ...);
- its slice of the contributor history (the log its pages show).

These caches live in the cache folder (`.cache/dealroom` by default):

- `deals/<slug>.pickle`: the loaded, validated deal, reused while its folder and
  dealroom's code are unchanged (loading dominates a rebuild where nothing changed);
  `files.json` remembers its files' digests;
- `logs/<slug>.pickle`: its contributor log, while the deal and the history (HEAD) are
  unchanged; `dashboard/<slug>.pickle`: its row of the seller's dashboard;
- `sites/<site key>/<slug>.json`: the manifest of a built deal site, its fingerprint,
  the files the build wrote with their sizes and its folders' modification times, per
  output folder.

MkDocs empties `site_dir` before every build except its hidden entries, so before it
does (`stash`), the deal sites that have a manifest are moved into a hidden folder of
`site_dir`, and moved back (`restore`) if their fingerprint still matches and every file
is intact (checked in a worker while the deals load); the others are built anew. A deal
site that is no longer built is gone with the stash. "Intact" means every file is there
with its size, and no folder has entries the build did not write: a folder whose
modification time is the one recorded has had no entry added, removed or renamed since
(renaming the site's own folder away and back leaves it as it was), so only a folder
whose time differs is listed again.
No MkDocs imports here: the MkDocs glue passes plain settings in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from ..deal.files import ACCESS_FILE, INTERNAL_DIR
from .workers import Job, Outcome, run_jobs

log = logging.getLogger("mkdocs.plugins.dealroom")

STASH = ".dealroom-previous"  # hidden: MkDocs' clean leaves it alone
PACKAGE = Path(__file__).resolve().parent.parent  # plugins/dealroom
# The parts of dealroom that shape a deal site (not publishing, the CLI or the seller's
# dashboard).
SITE_CODE = ("deal", "history", "build", "templates", "locale", "plugin.py", "config.py")
# And what the seller's dashboard shows besides (its rows are kept between builds too).
SELLER_CODE = (*SITE_CODE, "seller")
# Packages whose version can change what a page looks like.
ENGINE = ("mkdocs", "mkdocs-material", "Markdown", "pymdown-extensions", "nh3", "Jinja2", "babel")
FORMAT = 2  # of the manifests and pickles; a change makes every deal build again
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


def tree_digest(
    folder: Path, skip: frozenset[str] = frozenset(), known: FileDigests | None = None
) -> str:
    """Every file under `folder` by relative path and content; links by their target
    text (never followed, as loading never follows one out of the folder). Top-level
    entries named in `skip` are left out. With `known`, a file it knows unchanged is not
    read again."""
    parts: list[str | bytes] = []
    top = str(folder)
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(name for name in dirs if name != "__pycache__")  # Python's own cache
        if root == top:
            dirs[:] = [name for name in dirs if name not in skip]
            files = [name for name in files if name not in skip]
        inside = root[len(top) + 1 :]  # the folder relative to `folder` ("" for itself)
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
            path = os.path.join(root, name)
            relative = os.path.join(inside, name) if inside else name
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                parts += [f"link:{relative}", os.readlink(path)]
            elif stat.S_ISREG(info.st_mode):
                file_digest = known.of(path, info) if known else _file_digest(path)
                parts += [f"file:{relative}", file_digest]
    return digest(*parts)


def _file_digest(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def code_digest(parts: tuple[str, ...] = SITE_CODE) -> str:
    """dealroom's own code and templates (`parts` of the package), and the versions of
    what renders its pages."""
    versions = []
    for name in ENGINE:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}: absent")
    code = [_part_digest(PACKAGE / name) for name in parts]
    return digest(f"format {FORMAT}", *versions, *code)


def _part_digest(path: Path) -> str:
    return tree_digest(path, known=_CODE_FILES) if path.is_dir() else _CODE_FILES.of(str(path))


def settings_digest(settings: dict[str, Any]) -> str:
    """Plain settings (strings, numbers, lists, dicts); anything else by its `str`."""
    return digest(json.dumps(settings, sort_keys=True, default=str))


def deal_fingerprints(
    run: dict[str, Any], inputs: dict[str, str], log_digests: dict[str, str]
) -> dict[str, str]:
    """Each deal's site fingerprint: the run's settings and dealroom's code, the deal's
    inputs (its folder, as loaded: `LoadCache.key`) and its contributor log (its
    `log_digest`). Deals without an input fingerprint get none."""
    run_key = digest(code_digest(), settings_digest(run))
    return {slug: digest(run_key, key, log_digests.get(slug, "")) for slug, key in inputs.items()}


def log_digest(log: Any) -> str:
    """A contributor log by its `repr`, which its dataclasses make exact."""
    return digest(repr(log))


# --- loaded deals --------------------------------------------------------------------------


class FileDigests:
    """Files' content digests by path and status, as git's index keeps them: a file
    whose size, modification and change times and inode are the ones recorded is not
    read again. A file changed less than `RACY` seconds before it was read is read every
    time, until it is older: a second change within the file system's clock tick could
    leave all four as they were."""

    RACY = 2.0

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.known: dict[str, list] = {}  # path -> [size, mtime, ctime, inode, digest]
        self.seen: dict[str, list] = {}  # this run's, saved by `save`
        if path is not None:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.known = {str(k): list(v) for k, v in data.items() if len(v) == 5}
            except (OSError, ValueError, AttributeError, TypeError):
                pass  # none yet, or damaged: every file is read once more

    def of(self, path: str, info: os.stat_result | None = None) -> str:
        info = info or os.lstat(path)
        status = [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
        entry = self.seen.get(path) or self.known.get(path)
        if entry is not None and entry[:4] == status and isinstance(entry[4], str):
            self.seen[path] = entry
            return entry[4]
        file_digest = _file_digest(path)
        settled = max(info.st_mtime_ns, info.st_ctime_ns) < (time.time() - self.RACY) * 1e9
        self.seen[path] = [*status, file_digest if settled else None]
        return file_digest

    def save(self) -> None:
        """Keep what this run read, for the next (files no longer read are dropped)."""
        if self.path is None or self.seen == self.known:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.path, json.dumps(self.seen).encode())


# dealroom's own files, by status: a build takes the code's digest three times (loading,
# deal sites, dashboard), and `mkdocs serve` once a build; each file is read once, and
# again only when it changed (an edited template).
_CODE_FILES = FileDigests(None)


class Memo:
    """Values by slug, each kept between builds in a file of its own with the key it was
    made from (`<folder>/<slug>.pickle`): a value is reused while its key is the same,
    and a build writes only the values it made. Each file holds `version` and the key
    first, on their own: a value of another dealroom version is never unpickled as an
    object (its classes may have moved)."""

    def __init__(self, folder: Path | None, version: str = "") -> None:
        self.folder, self.version = folder, version

    def get(self, slug: str, key: str) -> Any | None:
        if self.folder is None:
            return None
        try:
            with open(self.folder / f"{slug}.pickle", "rb") as stream:
                if pickle.load(stream)[:2] != (self.version, key):
                    return None
                return pickle.load(stream)
        except Exception:  # none yet, or damaged: a memo only saves time, make it again
            return None

    def note(self, slug: str, key: str) -> str | None:
        """The note kept with the value for `slug` made from `key` (without reading the
        value); None if there is no such value."""
        if self.folder is None:
            return None
        try:
            with open(self.folder / f"{slug}.pickle", "rb") as stream:
                version, made_from, note = pickle.load(stream)
            return str(note) if (version, made_from) == (self.version, key) else None
        except Exception:
            return None

    def has(self, slug: str, key: str) -> bool:
        """Whether there is a value for `slug` made from `key` (not read yet)."""
        return self.note(slug, key) is not None

    def put(self, slug: str, key: str, value: Any, note: str = "") -> None:
        """Keep `value` for `slug`, made from `key`; `note`: a few words about it that
        `note` reads without reading the value (e.g. its digest)."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = pickle.dumps((self.version, key, note)) + pickle.dumps(value)
        _write_atomically(self.folder / f"{slug}.pickle", entry)


class LoadCache:
    """Loaded deals by the fingerprint of their folder and of how they were loaded
    (`deals/`), and their contributor logs by that and the history's identity (`logs/`)."""

    def __init__(self, cache_dir: Path | None, load_settings: dict[str, Any]) -> None:
        self.settings = digest(code_digest(), settings_digest(load_settings))  # once a run
        self.deals = Memo(cache_dir / "deals" if cache_dir else None)  # keys hold settings
        self.logs = Memo(cache_dir / "logs" if cache_dir else None, self.settings)
        self.files = FileDigests(cache_dir / "files.json" if cache_dir else None)

    def key(self, deal_folder: Path) -> str:
        inputs = tree_digest(deal_folder, NOT_BUILT, self.files)
        return digest(self.settings, str(deal_folder.resolve()), inputs)

    def keyed(self) -> None:
        """Every deal's key is known: keep the file digests read for them."""
        self.files.save()


# --- built deal sites -------------------------------------------------------------------------


# A log record of a deal's build worth repeating when its site is reused: (logger name,
# level, message), e.g. a broken link's warning, so `--strict` fails the same way.
Record = tuple[str, int, str]


@dataclass(frozen=True)
class Manifest:
    fingerprint: str
    files: dict[str, int]  # every file the build wrote: relative path -> size
    folders: dict[str, int]  # every folder ("" the site's own): relative path -> mtime (ns)
    warnings: list[Record]

    def describes(self, site: Path) -> bool:
        """Whether `site` holds exactly the files this manifest lists, each of its size."""
        base = f"{site}{os.sep}"
        try:
            for path, size in self.files.items():
                if os.lstat(base + path).st_size != size:
                    return False
            for path, mtime in self.folders.items():
                if os.lstat(base + path).st_mtime_ns != mtime:  # listed again, to be sure
                    files, folders = _tree_of(site)
                    return files == self.files and folders.keys() == self.folders.keys()
        except OSError:
            return False
        return True


class SiteCache:
    """The manifests of the deal sites built into one `site_dir`, and the previous
    build's deal sites while this build runs."""

    def __init__(self, cache_dir: Path | None, site_dir: Path) -> None:
        self.site_dir = site_dir
        self.stash_dir = site_dir / STASH
        key = digest(str(site_dir.resolve()))[:16]
        self.folder = cache_dir / "sites" / key if cache_dir else None
        self.checking: Iterator[Outcome] | None = None  # see `stash`
        self.intact: dict[str, Kept] | None = None

    def stash(self, time_limit: float = 60.0) -> None:
        """Before MkDocs empties `site_dir`: move every deal site with a manifest aside,
        and start checking in a worker which of them are intact (see `Manifest`), while
        this process goes on to load the deals."""
        if self.folder is None or not self.site_dir.is_dir():
            return
        shutil.rmtree(self.stash_dir, ignore_errors=True)  # left by an interrupted build
        stashed = []
        for manifest in sorted(self.folder.glob("*.json")):
            site = self.site_dir / manifest.stem
            if site.is_dir() and not site.is_symlink():
                self.stash_dir.mkdir(exist_ok=True)
                site.rename(self.stash_dir / manifest.stem)
                stashed.append(manifest.stem)
        if stashed:
            check = partial(_intact_sites, self.folder, self.stash_dir, stashed)
            self.checking = run_jobs([Job("previous deal sites", check)], 1, time_limit)

    def matches(self, slug: str, fingerprint: str) -> bool:
        """Whether the previous build's site of `slug` was built from the same inputs and
        is intact: `restore` then puts it back."""
        kept = self._intact().get(slug)
        return kept is not None and kept.fingerprint == fingerprint

    def restore(self, slug: str) -> bool:
        """Put the previous build's site of `slug` back, if it `matches`."""
        previous, target = self.stash_dir / slug, self.site_dir / slug
        if slug not in self._intact() or not previous.is_dir() or target.exists():
            return False
        previous.rename(target)
        return True

    def close(self) -> None:
        """Stop checking, if it still runs (the build stopped early)."""
        if self.checking is not None:
            self.checking.close()  # type: ignore[attr-defined]  (see `run_jobs`)
            self.checking = None

    def _intact(self) -> dict[str, Kept]:
        if self.intact is None:
            self.intact = {}
            if self.checking is not None:
                outcome = next(self.checking, None)
                if outcome is not None and outcome.ok:
                    self.intact = outcome.result
                elif outcome is not None:  # nothing is put back: every deal builds anew
                    log.debug(f"dealroom: checking the previous deal sites: {outcome.error}")
                self.close()
        return self.intact

    def record(self, slug: str, fingerprint: str, warnings: Iterable[Record] = ()) -> None:
        """After `slug`'s site was built: what it was built from, what it wrote, and what
        its build warned about."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        files, folders = _tree_of(self.site_dir / slug)
        manifest = {
            "fingerprint": fingerprint,
            "files": files,
            "folders": folders,
            "warnings": [list(record) for record in warnings],
        }
        _write_atomically(self.folder / f"{slug}.json", json.dumps(manifest).encode())

    def warnings(self, slug: str) -> list[Record]:
        """What the build of a site that was put back warned about."""
        kept = self._intact().get(slug)
        return kept.warnings if kept is not None else []

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


@dataclass(frozen=True)
class Kept:
    """A previous deal site found intact: what it was built from and warned about."""

    fingerprint: str
    warnings: list[Record]


def _intact_sites(manifests: Path, stash_dir: Path, slugs: list[str], step: Any) -> dict[str, Kept]:
    """In a worker: the stashed deal sites each as its manifest describes it."""
    intact = {}
    for slug in slugs:
        try:
            manifest = _manifest(manifests, slug)
            if manifest is not None and manifest.describes(stash_dir / slug):
                intact[slug] = Kept(manifest.fingerprint, manifest.warnings)
        except Exception:  # a damaged manifest (paths that are not paths): built anew
            continue
    return intact


def _manifest(folder: Path | None, slug: str) -> Manifest | None:
    if folder is None:
        return None
    try:
        data = json.loads((folder / f"{slug}.json").read_text(encoding="utf-8"))
        warnings = [(str(name), int(level), str(text)) for name, level, text in data["warnings"]]
        return Manifest(
            str(data["fingerprint"]), dict(data["files"]), dict(data["folders"]), warnings
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _tree_of(site: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Every file under `site` (relative path -> size) and every folder, `site` itself
    as "" (relative path -> modification time in ns), read with one scan per folder."""
    files: dict[str, int] = {}
    folders: dict[str, int] = {"": os.lstat(site).st_mtime_ns}
    pending = [("", str(site))]
    while pending:
        prefix, folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                if entry.is_dir(follow_symlinks=False):
                    folders[prefix + entry.name] = info.st_mtime_ns
                    pending.append((f"{prefix}{entry.name}/", entry.path))
                else:
                    files[prefix + entry.name] = info.st_size
    return files, folders


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
