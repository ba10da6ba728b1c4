"""Incremental builds: a deal site is built again only when something that can change it
changed, and an incremental build's output is byte for byte a full build's.

Builds are real, in-process `mkdocs build` runs (MkDocs' default: site_dir emptied
first); "full" means a fresh site_dir and cache folder, nothing to reuse.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    make_deal,
    run_build,
    set_plugin_options,
    site_files,
    write_deal,
    write_project,
)
from mkdocs.exceptions import Abort

SLUGS = ("fjordline", "harbor", "northwind")


pytestmark = pytest.mark.usefixtures("fixed_clock")  # compares builds byte for byte


def project_with_deals(root: Path, **options) -> Path:
    project = write_project(root, **options)
    for slug in SLUGS:
        deal = make_deal(customer={"name": f"{slug.capitalize()} AS"})
        write_deal(project / "deals", slug, deal, {"approach.md": f"# Approach\n\n{slug}"})
    return project


def built(caplog: pytest.LogCaptureFixture) -> str:
    """The build's summary line ("built 3 deal site(s) (2 unchanged ...)")."""
    lines = [r.getMessage() for r in caplog.records if "dealroom: built" in r.getMessage()]
    caplog.clear()
    return lines[-1]


def full_build_of(project: Path, tmp_path: Path) -> dict[str, bytes]:
    """The same project built from nothing: a copy without site/ and cache."""
    fresh = tmp_path / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(project, fresh, ignore=shutil.ignore_patterns("site", ".cache", ".git"))
    return site_files(run_build(fresh))


def inodes(site: Path, slug: str) -> dict[str, int]:
    return {p.relative_to(site).as_posix(): p.stat().st_ino
            for p in (site / slug).rglob("*") if p.is_file()}  # fmt: skip


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="mkdocs")
    return caplog


def test_a_rebuild_with_nothing_changed_reuses_every_deal_site_as_it_was(
    tmp_path: Path, logs
) -> None:
    project = project_with_deals(tmp_path / "project")
    site = run_build(project)
    assert built(logs) == "dealroom: built 3 deal site(s); 0 deal(s) skipped"
    before = {slug: inodes(site, slug) for slug in SLUGS}
    first = site_files(site)

    run_build(project)
    assert "(3 unchanged since the last build)" in built(logs)
    assert {slug: inodes(site, slug) for slug in SLUGS} == before  # not rewritten
    assert site_files(site) == first
    assert not (site / ".dealroom-previous").exists()  # the stash is gone
    assert full_build_of(project, tmp_path) == first


def test_an_edited_page_rebuilds_its_deal_only_and_equals_a_full_build(
    tmp_path: Path, logs
) -> None:
    project = project_with_deals(tmp_path / "project")
    site = run_build(project)
    built(logs)
    untouched = inodes(site, "harbor")
    (project / "deals" / "fjordline" / "approach.md").write_text("# Approach\n\nEDITED")

    run_build(project)
    assert "(2 unchanged since the last build)" in built(logs)
    assert "EDITED" in (site / "fjordline" / "approach" / "index.html").read_text()
    assert inodes(site, "harbor") == untouched
    assert site_files(site) == full_build_of(project, tmp_path)


@pytest.mark.parametrize("change", ["theme override", "as_of", "markdown extension", "code"])
def test_what_every_deal_site_shares_rebuilds_every_deal(tmp_path: Path, logs, change: str) -> None:
    project = project_with_deals(tmp_path / "project")
    site = run_build(project)
    built(logs)
    if change == "theme override":
        override = project / "theme_overrides" / "dealroom" / "partials" / "contact.html"
        override.parent.mkdir(parents=True)
        override.write_text("<p>OVERRIDDEN</p>")
    elif change == "as_of":
        write_project(project, as_of="2027-01-10")
    elif change == "markdown extension":
        text = (project / "mkdocs.yml").read_text().replace("- def_list\n", "")
        (project / "mkdocs.yml").write_text(text)
    else:  # what dealroom's own code would be after an upgrade: its cache key differs
        from dealroom.build import incremental

        original = incremental.FORMAT
        incremental.FORMAT = original + 1000
    try:
        run_build(project)
    finally:
        if change == "code":
            incremental.FORMAT = original
    assert built(logs) == "dealroom: built 3 deal site(s); 0 deal(s) skipped"
    if change == "theme override":
        assert "OVERRIDDEN" in (site / "harbor" / "index.html").read_text()
    assert site_files(site) == full_build_of(project, tmp_path)


def test_a_removed_deal_disappears_and_a_failing_deal_loses_its_site(tmp_path: Path, logs) -> None:
    project = project_with_deals(tmp_path / "project")
    site = run_build(project)
    shutil.rmtree(project / "deals" / "northwind")
    (project / "deals" / "harbor" / "deal.yml").write_text("customer: [\n")
    run_build(project)
    assert "built 1 deal site(s) (1 unchanged since the last build); 1 deal(s) skipped" in built(
        logs
    )
    assert not (site / "northwind").exists() and not (site / "harbor").exists()
    assert (site / "fjordline" / "index.html").is_file()
    manifests = {p.stem for p in (project / ".cache" / "dealroom" / "sites").rglob("*.json")}
    assert manifests == {"fjordline"}
    # Fixed again: built again, not taken from anywhere stale.
    write_deal(project / "deals", "harbor", make_deal(customer={"name": "Harbor Again"}))
    run_build(project)
    assert "Harbor Again" in (site / "harbor" / "index.html").read_text()
    assert site_files(site) == full_build_of(project, tmp_path)


def _stray_file_deep_inside(site: Path) -> None:
    javascripts = next(site.rglob("javascripts"))  # a theme folder, hard-linked files
    (javascripts / "stray.js").write_text("alert(1)")


DAMAGES = {
    "a file removed": lambda site: (site / "business-case" / "index.html").unlink(),
    "a file rewritten": lambda site: (site / "index.html").write_text("tampered"),
    "a file added": lambda site: (site / "stray.html").write_text("stray"),
    "a file added deep inside": _stray_file_deep_inside,
    "a folder removed": lambda site: shutil.rmtree(site / "approach"),
    "a file renamed": lambda site: (site / "index.html").rename(site / "old.html"),
    "an empty folder added": lambda site: (site / "approach" / "stray").mkdir(),
}


def _save_activity(project: Path, day_and_hour: tuple[int, int] = (20, 9)) -> None:
    """What `dealroom activity --save` keeps: a buyer-side reader of harbor's case, on
    that day of November 2026 at that hour, UTC."""
    import datetime as dt

    from dealroom.seller.activity import DealActivity, Person, SavedActivity, View

    reader = Person("per", "buyer", "Per Dahl", "CFO", "economic buyer")
    at = dt.datetime(2026, 11, *day_and_hour, tzinfo=dt.timezone.utc)
    views = [View(at, "per", "business-case/", "net-1", "browser-1")]
    saved = SavedActivity({"harbor": DealActivity({"per": reader}, views)})
    saved.save(project / ".cache" / "dealroom" / "activity.json")


def test_the_dashboard_follows_the_time_zone_its_views_fall_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saved views count by the day they fall on where the build runs: a build in
    another time zone makes the rows again rather than reuse them."""
    project = project_with_deals(tmp_path / "project")
    _save_activity(project, (25, 20))  # late on conftest.AS_OF in UTC: the next day east
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        site = run_build(project)
        in_utc = (site / "index.html").read_text()
        monkeypatch.setenv("TZ", "Pacific/Auckland")
        time.tzset()
        run_build(project)
        fresh = tmp_path / "fresh"
        shutil.copytree(project, fresh, ignore=shutil.ignore_patterns("site"))
        for kept in ("deals", "logs", "dashboard"):
            shutil.rmtree(fresh / ".cache" / "dealroom" / kept)
        in_auckland = (run_build(fresh) / "index.html").read_text()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert in_auckland != in_utc  # the view is a day later there: after `as_of`
    assert (site / "index.html").read_text() == in_auckland


SELLER_CHANGES = {
    "the seller's language": lambda project: set_plugin_options(project, language="de"),
    "a scoring threshold": lambda project: set_plugin_options(
        project, scoring_stage_targets={3: 4.5}, scoring_thresholds={"plan_steps": 9}
    ),
    "saved activity": _save_activity,
}


@pytest.mark.parametrize("change", SELLER_CHANGES)
def test_the_dashboard_follows_what_the_seller_changes(tmp_path: Path, change: str) -> None:
    """The dashboard's rows are kept between builds too, and made again when what they
    show besides the deal changes; no deal site is rebuilt for it."""
    project = project_with_deals(tmp_path / "project")
    site = run_build(project)
    before = (site / "index.html").read_text()
    deal_sites = {path: data for path, data in site_files(site).items() if "/" in path
                  and path.split("/")[0] in SLUGS}  # fmt: skip
    SELLER_CHANGES[change](project)
    run_build(project)
    dashboard = (site / "index.html").read_text()
    assert dashboard != before
    fresh = tmp_path / "fresh"
    # With the saved activity, but nothing kept from a build.
    shutil.copytree(project, fresh, ignore=shutil.ignore_patterns("site"))
    for kept in ("deals", "logs", "dashboard"):
        shutil.rmtree(fresh / ".cache" / "dealroom" / kept)
    assert dashboard == (run_build(fresh) / "index.html").read_text()
    if change != "the seller's language":  # (Material's own words around the deals move)
        assert {path: data for path, data in site_files(site).items()
                if path in deal_sites} == deal_sites  # fmt: skip


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_site_is_built_again(tmp_path: Path, logs, damage: str) -> None:
    """Whatever happened to a deal site since it was built, it is built again; the
    deals whose sites are intact are reused."""
    project = project_with_deals(tmp_path / "project")
    site = run_build(project)
    DAMAGES[damage](site / "harbor")
    run_build(project)
    assert "(2 unchanged since the last build)" in built(logs)
    assert site_files(site) == full_build_of(project, tmp_path)


def test_a_damaged_site_and_an_edited_deal_build_and_report_in_deal_order(
    tmp_path: Path, logs
) -> None:
    """A damaged site (found so while the deals load) builds with the edited deal, the
    others are put back meanwhile, and every deal reports in deal order."""
    project = project_with_deals(tmp_path / "project")
    (project / "deals" / "fjordline" / "approach.md").write_text("[gone](first-gone.md)")
    (project / "deals" / "northwind" / "approach.md").write_text("[gone](second-gone.md)")
    site = run_build(project)
    (site / "fjordline" / "index.html").unlink()  # damaged: first in deal order
    (project / "deals" / "northwind" / "approach.md").write_text("[gone](second-gone.md) !")
    logs.clear()
    run_build(project)
    messages = [record.getMessage() for record in logs.records]
    assert "(1 unchanged since the last build)" in built(logs)
    first = next(i for i, text in enumerate(messages) if "first-gone.md" in text)
    second = next(i for i, text in enumerate(messages) if "second-gone.md" in text)
    assert first < second
    assert site_files(site) == full_build_of(project, tmp_path)


def test_a_reused_site_repeats_its_warnings_so_strict_fails_again(tmp_path: Path) -> None:
    project = project_with_deals(tmp_path / "project")
    (project / "deals" / "harbor" / "approach.md").write_text("[gone](missing.md)")
    run_build(project)
    for _ in range(2):  # the second time, from the reused site's manifest
        with pytest.raises(Abort):
            run_build(project, strict=True)


def test_a_change_to_one_deals_history_rebuilds_that_deal_only(tmp_path: Path, logs) -> None:
    project = project_with_deals(tmp_path / "project")

    def git(*args: str, author: str = "Ingrid Solberg <ingrid@fjordline.example>") -> None:
        name, email = author[:-1].split(" <")
        stamp = "2026-11-20T10:00:00Z"
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t.example",
               "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp,
               "PATH": "/usr/bin:/bin"}  # fmt: skip
        subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (project / ".gitignore").write_text("site/\n.cache/\n")
    git("add", "-A")
    git("commit", "-q", "-m", "Start")
    (project / "deals" / "fjordline" / "business-case.md").write_text("## Why now\n\nAudit")
    git("add", "-A")
    git("commit", "-q", "-m", "Why now")
    site = run_build(project)
    built(logs)
    page = site / "fjordline" / "business-case" / "index.html"
    assert "by Ingrid Solberg" in page.read_text()
    # The same files, another author: only the contributor log of that deal changed.
    git("commit", "-q", "--amend", "--no-edit", "--reset-author", author="Per Dahl <per@x.example>")
    run_build(project)
    assert "(2 unchanged since the last build)" in built(logs)
    assert "by Per Dahl" in page.read_text()
    assert site_files(site) == full_build_of_with_git(project, tmp_path)


def full_build_of_with_git(project: Path, tmp_path: Path) -> dict[str, bytes]:
    fresh = tmp_path / "fresh-git"
    shutil.copytree(project, fresh, ignore=shutil.ignore_patterns("site", ".cache"))
    return site_files(run_build(fresh))


def test_without_a_cache_every_build_is_a_full_one(tmp_path: Path, logs) -> None:
    project = project_with_deals(tmp_path / "project", cache_dir="")
    run_build(project)
    run_build(project)
    assert built(logs) == "dealroom: built 3 deal site(s); 0 deal(s) skipped"
    assert not (project / ".cache").exists()


def test_the_preview_rebuilds_only_the_deal_that_changed(tmp_path: Path, logs) -> None:
    project = project_with_deals(tmp_path / "project")
    site = run_build(project, command="serve")
    built(logs)
    (project / "deals" / "northwind" / "approach.md").write_text("# Approach\n\nLIVE EDIT")
    run_build(project, command="serve")
    assert "(2 unchanged since the last build)" in built(logs)
    assert "LIVE EDIT" in (site / "northwind" / "approach" / "index.html").read_text()
    # A preview and a published build differ (MISSING markers, no policy): never mixed.
    run_build(project)
    assert built(logs) == "dealroom: built 3 deal site(s); 0 deal(s) skipped"


def test_publishing_again_builds_and_encrypts_only_what_changed(tmp_path: Path, logs) -> None:
    from dealroom.publish.access import Scope, add_viewer
    from dealroom.publish.releases import publish

    project = project_with_deals(tmp_path / "project")
    (project / "deals" / "harbor" / "approach.md").write_text("# Approach\n\nPLAINCANARY")
    for slug in SLUGS:
        add_viewer(project, Scope.of(project, project / "deals", slug), f"viewer-{slug}")
    out = tmp_path / "out"
    assert publish(project / "mkdocs.yml", out, mode="encrypted").published == list(SLUGS)
    logs.clear()
    (project / "deals" / "fjordline" / "approach.md").write_text("# Approach\n\nChanged")
    result = publish(project / "mkdocs.yml", out, mode="encrypted")
    assert result.published == list(SLUGS) and result.carried == ["harbor", "northwind"]
    assert "(2 unchanged since the last build)" in built(logs)
    # The build it reuses is kept with the project's cache, never in the publish folder:
    # nothing there is plain text of an encrypted deal, nor the seller's dashboard.
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"PLAINCANARY" not in data and b"Pipeline dashboard" not in data, path
    assert not (project / "site").exists()


def test_a_damaged_cache_is_ignored_and_rebuilt(tmp_path: Path, logs) -> None:
    project = project_with_deals(tmp_path / "project")
    site = run_build(project)
    first = site_files(site)
    cache = project / ".cache" / "dealroom"
    (cache / "deals" / "harbor.pickle").write_bytes(b"\x80\x04garbage")
    # Its key still there, but not the deal: found damaged only once workers are loading.
    _keep_only_the_key(cache / "deals" / "fjordline.pickle")
    next((cache / "sites").rglob("northwind.json")).write_text("{not json")
    run_build(project)
    assert "(2 unchanged since the last build)" in built(logs)  # northwind built again
    assert site_files(site) == first
    (cache / "files.json").write_text("[1, 2")  # the deal files' digests
    (cache / "logs" / "harbor.pickle").write_bytes(b"\x80\x04garbage")
    (cache / "dashboard" / "northwind.pickle").write_bytes(b"")
    run_build(project)
    assert "(3 unchanged since the last build)" in built(logs)
    assert site_files(site) == first
    # A manifest that is JSON, but whose paths are not paths: that deal builds again,
    # the others are still put back.
    manifest = next((cache / "sites").rglob("northwind.json"))
    damaged = json.loads(manifest.read_text())
    damaged["files"] = [[1, 2]]
    manifest.write_text(json.dumps(damaged))
    run_build(project)
    assert "(2 unchanged since the last build)" in built(logs)
    assert site_files(site) == first
    # A kept log whose digest can be read, but not the log itself: made again from the
    # history when its dashboard row is made again (which asks for it).
    for kept in (cache / "logs" / "fjordline.pickle", cache / "dashboard" / "fjordline.pickle"):
        _keep_only_the_key(kept)
    run_build(project)
    assert "(3 unchanged since the last build)" in built(logs)
    assert site_files(site) == first


def _keep_only_the_key(entry: Path) -> None:
    """Damage a kept value but not the key (and note) it was kept under."""
    with entry.open("rb") as stream:
        pickle.load(stream)
        header = entry.read_bytes()[: stream.tell()]
    entry.write_bytes(header + b"\x80\x04garbage")


@pytest.fixture
def settled_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file's digest is remembered as soon as it is read, not only once it is two
    seconds old (which every file a test writes is not)."""
    from dealroom.build.incremental import FileDigests

    monkeypatch.setattr(FileDigests, "RACY", -60.0)


def test_an_edit_that_keeps_size_and_time_is_still_noticed(
    tmp_path: Path, logs, settled_at_once
) -> None:
    """A deal file's content is read again whenever its status differs from the one its
    digest was remembered with; its size and modification time alone are not enough."""
    project = project_with_deals(tmp_path / "project")
    page = project / "deals" / "harbor" / "approach.md"
    site = run_build(project)
    before = page.stat()
    page.write_text(page.read_text().replace("harbor", "HARBOR"))
    os.utime(page, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert page.stat().st_size == before.st_size
    run_build(project)
    assert "(2 unchanged since the last build)" in built(logs)
    assert "HARBOR" in (site / "harbor" / "approach" / "index.html").read_text()


def test_a_file_known_unchanged_is_not_read_again(tmp_path: Path, settled_at_once) -> None:
    from dealroom.build.incremental import FileDigests

    page, memo = tmp_path / "page.md", tmp_path / "files.json"
    page.write_text("text")
    digests = FileDigests(memo)
    first = digests.of(str(page))
    digests.save()
    # What is remembered is what is returned, without reading the file: shown by
    # remembering another digest for it.
    memo.write_text(memo.read_text().replace(first, "remembered"))
    assert FileDigests(memo).of(str(page)) == "remembered"
    page.write_text("TEXT")  # same size; its change time moved on
    assert FileDigests(memo).of(str(page)) == FileDigests(None).of(str(page)) != first


def test_a_file_changed_just_now_is_not_remembered_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file changed within the last two seconds may change again within the file
    system's clock tick, keeping its status: its digest is remembered once it is older."""
    from dealroom.build.incremental import FileDigests

    page, memo = tmp_path / "page.md", tmp_path / "files.json"
    page.write_text("text")
    digests = FileDigests(memo)
    digests.of(str(page))
    digests.save()
    assert json.loads(memo.read_text())[str(page)][4] is None
    monkeypatch.setattr(FileDigests, "RACY", -60.0)  # as if two seconds had passed
    digests = FileDigests(memo)
    digest = digests.of(str(page))
    digests.save()
    assert json.loads(memo.read_text())[str(page)][4] == digest
