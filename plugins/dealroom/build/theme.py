"""One theme environment per run: the user's theme plus dealroom's templates.

Compiling Material's templates and listing its ~14k theme files is the expensive,
deal-independent part of building a deal site, so `SharedTheme` does it once per run;
every deal site of the run (built in worker processes forked after `warm()`)
starts with the compiled templates already in memory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from mkdocs.theme import Theme

from ..deal.i18n import follow_language

TEMPLATES_DIR = str(Path(__file__).parent.parent / "templates")

# What every deal site renders: its pages, the 404 page and the sitemap.
WARM_ROOTS = (
    "dealroom/page.html",
    "404.html",
    "sitemap.xml",
    *(f"dealroom/sections/{kind}.html" for kind in
      ("overview", "business-case", "mutual-action-plan", "approach", "context", "contributors")),
)  # fmt: skip


class _ListingCacheLoader(jinja2.FileSystemLoader):
    """Lists the theme's files once, since MkDocs asks for the listing on every build.
    Hidden paths (Material's ~14k `.icons/` files) are left out of the listing: MkDocs
    never copies them, and filtering them out again for every deal is most of the cost.
    Templates still load them by name."""

    def __init__(self, searchpath: list[str]) -> None:
        super().__init__(searchpath)
        self._listing: list[str] | None = None

    def list_templates(self) -> list[str]:
        if self._listing is None:
            found: set[str] = set()
            for searchpath in self.searchpath:
                for root, dirs, files in os.walk(searchpath, followlinks=self.followlinks):
                    dirs[:] = [name for name in dirs if not name.startswith(".")]  # not walked
                    folder = os.path.relpath(root, searchpath).replace(os.sep, "/")
                    prefix = "" if folder == "." else f"{folder}/"
                    found.update(prefix + name for name in files if not name.startswith("."))
            self._listing = sorted(found)
        return self._listing


def _autoescape(template_name: str | None) -> bool:
    # Material's own templates expect no autoescaping; ours always escape user text.
    return bool(template_name and template_name.startswith("dealroom/"))


class SharedTheme(Theme):
    """The user's theme plus dealroom's templates, with one Jinja environment that all
    deal sites of a run reuse (templates are compiled once, files listed once)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._env: jinja2.Environment | None = None
        self._warm = False  # compiled already: `mkdocs serve` builds again and again
        self.compiled_dir: Path | None = None  # Jinja's cache of compiled templates

    @classmethod
    def extending(cls, theme: Theme, compiled_dir: Path | None = None) -> SharedTheme:
        values = dict(theme.items())
        name = values.pop("name")
        locale = str(values.pop("locale"))
        shared = cls(
            name, custom_dir=theme.custom_dir, static_templates=theme.static_templates,
            locale=locale, **values,
        )  # fmt: skip
        # After the user's custom_dir and the theme, so `theme_overrides/dealroom/...` wins.
        shared.dirs.append(TEMPLATES_DIR)
        shared.compiled_dir = compiled_dir
        return shared

    def get_env(self) -> jinja2.Environment:
        if self._env is None:
            env = super().get_env()
            env.loader = _ListingCacheLoader(self.dirs)
            env.autoescape = _autoescape
            # dealroom's own words go through gettext (deal/i18n.py), new-style, in the
            # language in use as each page renders: set before any template is compiled,
            # which depends on it.
            follow_language(env)
            # The first letter up, the rest as the catalog wrote it: "Im Plan", not
            # "Im plan" as Jinja's `capitalize` would have it.
            env.filters["sentence"] = lambda text: str(text)[:1].upper() + str(text)[1:]
            if self.compiled_dir is not None:
                # Compiling Material's templates is most of what a build that reuses every
                # deal site still does; Jinja keys each by its source, so an edit recompiles.
                self.compiled_dir.mkdir(parents=True, exist_ok=True)
                env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(self.compiled_dir))
            self._env = env
        return self._env

    def warm(self, roots: tuple[str, ...] = WARM_ROOTS) -> None:
        """Compile the templates a deal site renders (`roots` and everything they
        include, extend or import by name), so that worker processes forked afterwards
        share them instead of each compiling its own."""
        if self._warm:
            return
        self._warm = True
        env = self.get_env()
        pending, seen = list(roots), set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            try:
                template = env.get_template(name)
                source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
                pending += [
                    found for found in meta.find_referenced_templates(env.parse(source)) if found
                ]
            except jinja2.TemplateError:
                continue  # compiled when (and if) a page uses it
            del template


# --- theme files shared by every deal site ------------------------------------------------

SHARED_STORE = ".dealroom-theme"  # in site_dir, hidden: MkDocs' clean leaves it alone


def link_shared(source: str, target: str, store: Path) -> None:
    """Write `target` as a hard link to one shared copy of the theme file `source`, so the
    same stylesheet or script in hundreds of deal sites takes the disk space once, and
    each deal site is still complete when copied alone (a link is a file, not a pointer
    out of its folder). The shared copy is made once, atomically, whichever worker needs
    it first (whole, under its final name); where hard links are not possible, `target`
    is a copy."""
    stat = os.stat(source)
    name = hashlib.sha256(f"{source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    shared = store / name
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.lexists(target):
        os.unlink(target)
    try:
        if not shared.exists():
            store.mkdir(parents=True, exist_ok=True)
            partial = store / f".{name}.{os.getpid()}"
            shutil.copyfile(source, partial)
            try:  # the first worker to get here makes the shared copy; the others use it
                os.link(partial, shared)
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        os.link(shared, target)
    except OSError:  # another file system, or no hard links: a copy is just as complete
        shutil.copyfile(source, target)


def prune_shared(store: Path) -> None:
    """Drop shared copies no deal site links to any more (a theme upgraded, deals gone)."""
    if not store.is_dir():
        return
    for shared in store.iterdir():
        if shared.is_file() and shared.stat().st_nlink == 1:
            shared.unlink(missing_ok=True)
