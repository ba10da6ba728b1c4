"""Shards: a stable split of the deal set, shard builds, shard publishes and their merge
into one release, checked against a one-shot publish and a real nginx."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Host, make_deal, nginx_needed, run_build, site_files, write_deal, write_project
from dealroom.build.shards import SHARD_ENV, Shard, ShardError, effective_shard, shard_of
from dealroom.publish.access import Scope, add_viewer, revoke_viewer
from dealroom.publish.releases import PublishError, publish
from dealroom.publish.sharded import SHARD_FILE, merge_shards, publish_shard

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
ENV.pop(SHARD_ENV, None)
# Slugs whose shards of 2 are pinned below: "acme" and "gale" fall in 1/2, the rest in 2/2.
SLUGS = ("acme", "birch", "cedar", "gale")


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env={**ENV, **env}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


# --- the split ----------------------------------------------------------------------------


def test_assignment_is_pinned_so_every_machine_agrees() -> None:
    # Fixed values: a change of the hash would move deals between running CI jobs.
    assert [shard_of(slug, 2) for slug in SLUGS] == [1, 2, 2, 1]
    assert [shard_of(slug, 4) for slug in ("fjord", "harbor", "deal-three")] == [4, 4, 3]
    assert {shard_of(slug, 1) for slug in SLUGS} == {1}


def test_assignment_does_not_depend_on_pythons_salted_hash() -> None:
    code = "from dealroom.build.shards import shard_of; print([shard_of(s, 7) for s in "
    code += f"{[f'deal-{n}' for n in range(40)]!r}])"
    outputs = {run([sys.executable, "-c", code], Path.cwd(), PYTHONHASHSEED=seed).stdout
               for seed in ("1", "2", "random")}  # fmt: skip
    assert len(outputs) == 1
    assert outputs.pop().strip() == str([shard_of(f"deal-{n}", 7) for n in range(40)])


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_every_deal_is_in_exactly_one_shard(count: int) -> None:
    slugs = [f"customer-{n}-ap" for n in range(400)]
    shards = [Shard(index, count) for index in range(1, count + 1)]
    for slug in slugs:
        assert sum(shard.holds(slug) for shard in shards) == 1, slug
    sizes = [sum(shard.holds(slug) for slug in slugs) for shard in shards]
    assert sum(sizes) == len(slugs)
    mean = len(slugs) / count
    assert all(abs(size - mean) <= 0.3 * mean for size in sizes), sizes  # spread evenly


def test_shards_are_parsed_with_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Shard.parse("") is None and Shard.parse("  ") is None
    assert Shard.parse("2/4") == Shard(2, 4) and Shard.parse(" 1 / 3 ") == Shard(1, 3)
    assert str(Shard(3, 8)) == "3/8"
    for text, says in (("0/4", "1 to 4"), ("5/4", "1 to 4"), ("1/0", "number of shards"),
                       ("two", "expected I/N"), ("1/2/3", "expected I/N"),
                       ("-1/2", "expected I/N")):  # fmt: skip
        with pytest.raises(ShardError, match=says):
            Shard.parse(text)
    monkeypatch.setenv(SHARD_ENV, "2/3")
    assert effective_shard("1/3") == Shard(2, 3)  # the environment wins over mkdocs.yml
    monkeypatch.setenv(SHARD_ENV, "")
    assert effective_shard("1/3") == Shard(1, 3)
    monkeypatch.setenv(SHARD_ENV, "9")
    with pytest.raises(ShardError, match=f"^{SHARD_ENV}: expected I/N"):
        effective_shard("")


# --- building one shard ---------------------------------------------------------------------


def shard_project(root: Path, **options: str) -> Path:
    """Four deals; `birch` (of shard 2 of 2) is a German deal room, the others English."""
    project = write_project(root, **options)
    for slug in SLUGS:
        language = {"language": "de"} if slug == "birch" else {}
        deal = make_deal(customer={"name": f"Customer {slug}"}, **language)
        write_deal(project / "deals", slug, deal)
    return project


def built_deals(site: Path) -> set[str]:
    return {p.name for p in site.iterdir() if (p / "index.html").is_file()}


def test_shard_builds_together_make_the_full_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SHARD_ENV, raising=False)
    project = shard_project(tmp_path / "project")
    full = run_build(project).rename(tmp_path / "full")
    assert built_deals(full) == set(SLUGS)
    shard_project(project, shard="1/2")  # the option in mkdocs.yml
    first = run_build(project).rename(tmp_path / "first")
    shard_project(project)
    monkeypatch.setenv(SHARD_ENV, "2/2")  # or the environment, as a CI matrix sets it
    second = run_build(project).rename(tmp_path / "second")
    assert built_deals(first) == {"acme", "gale"}
    assert built_deals(second) == {"birch", "cedar"}
    for slug in SLUGS:  # the same sites, byte for byte, whichever build made them
        part = first if slug in built_deals(first) else second
        assert site_files(part / slug) == site_files(full / slug), slug
    # The seller's dashboard covers the deals of its shard only.
    dashboard = (first / "index.html").read_text(encoding="utf-8")
    assert "Customer acme" in dashboard and "Customer gale" in dashboard
    assert "Customer birch" not in dashboard and "Customer cedar" not in dashboard


def test_a_bad_shard_stops_the_build_with_its_reason(tmp_path: Path) -> None:
    project = shard_project(tmp_path / "project", shard="3/2")
    result = run([sys.executable, "-m", "mkdocs", "build"], project)
    assert result.returncode != 0
    assert "dealroom: shard: the shard must be 1 to 2, as in 1/2 (got '3/2')" in result.stderr
    shard_project(project)
    result = run([sys.executable, "-m", "mkdocs", "build"], project, DEALROOM_SHARD="half")
    assert result.returncode != 0
    assert f"dealroom: {SHARD_ENV}: expected I/N" in result.stderr
    result = run(["dealroom", "publish", "--shard", "1/0", "--out", "out"], project)
    assert result.returncode == 2 and "Invalid value for --shard" in result.stderr
    for output in (result.stderr, result.stdout):
        assert "Traceback" not in output
    assert not (project / "site").exists() and not (project / "out").exists()


def test_a_plain_publish_refuses_a_sharded_build(tmp_path: Path) -> None:
    project = shard_project(tmp_path / "project")
    result = run(["dealroom", "publish", "--out", "out"], project, DEALROOM_SHARD="1/2")
    assert result.returncode == 1 and "publish it with --shard 1/2" in result.stderr
    assert "Traceback" not in result.stderr and not (project / "out" / "current").exists()


# --- publishing shards and merging them --------------------------------------------------------


@pytest.fixture
def viewers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """A project of four deals with a viewer each ("<slug>-viewer") and a team member."""
    monkeypatch.delenv(SHARD_ENV, raising=False)
    project = shard_project(tmp_path / "project")
    deals = project / "deals"
    passwords = {f"{slug}-viewer": add_viewer(project, Scope.of(project, deals, slug),
                                              f"{slug}-viewer") for slug in SLUGS}  # fmt: skip
    passwords["team"] = add_viewer(project, Scope.of(project, deals, None), "team")
    return project, passwords


def publish_shards(project: Path, folder: Path, count: int = 2, mode: str = "nginx") -> list[Path]:
    outs = [folder / f"shard-{index}" for index in range(1, count + 1)]
    for index, out in enumerate(outs, start=1):
        publish_shard(project / "mkdocs.yml", out, Shard(index, count), mode)
    return outs


def release_files(release: Path) -> dict[str, bytes]:
    return {path: data for path, data in site_files(release).items() if path != SHARD_FILE}


@nginx_needed
def test_merged_shards_equal_a_one_shot_publish_and_are_served(
    viewers: tuple[Path, dict[str, str]], tmp_path: Path, served_dir: Path
) -> None:
    project, passwords = viewers
    config = project / "mkdocs.yml"
    publish(config, tmp_path / "one-shot")
    shards = publish_shards(project, tmp_path)
    assert (shards[0] / "current" / SHARD_FILE).is_file()
    assert sorted(p.name for p in (shards[0] / "current" / "sites").iterdir()) == ["acme", "gale"]
    result = merge_shards(config, served_dir, shards)
    assert result.published == sorted(SLUGS) and not (result.kept or result.withdrawn)
    # The same release, byte for byte: sites, password files, 401 pages and release.json.
    merged = release_files(served_dir / "current")
    assert merged == release_files(tmp_path / "one-shot" / "current")
    assert any(path.startswith("sites/birch/") for path in merged)
    # The 401 pages too, though only shard 2 has a German deal room: every page of the
    # host is in English and German, shard 1's deals' pages included.
    shard_page = (shards[0] / "current" / "unauthorized" / "acme.html").read_text()
    assert 'lang="de"' not in shard_page
    page = merged["unauthorized/acme.html"].decode()
    assert '<section lang="de"' in page and "Privater Deal Room" in page
    assert page == merged["unauthorized/birch.html"].decode()
    host = Host(served_dir)
    try:
        for slug in SLUGS:
            for user, password in passwords.items():
                allowed = user in (f"{slug}-viewer", "team")
                status = host.get(f"/{slug}/", user, password)[0]
                assert status == (200 if allowed else 401), (slug, user, status)
        # Revocation wins: once revoked, the live merged release lets the viewer in no
        # more even when the next merge is refused, and the shard releases published
        # before the revocation let nobody revoked in either.
        revoke_viewer(project, Scope.of(project, project / "deals", "birch"), "birch-viewer")
        with pytest.raises(PublishError, match="missing"):
            merge_shards(config, served_dir, shards[:1])
        assert host.get("/birch/", "birch-viewer", passwords["birch-viewer"])[0] == 401
        assert host.get("/birch/", "team", passwords["team"])[0] == 200
        merge_shards(config, served_dir, shards)
        assert host.get("/birch/", "birch-viewer", passwords["birch-viewer"])[0] == 401
        assert host.get("/cedar/", "cedar-viewer", passwords["cedar-viewer"])[0] == 200
        assert host.get("/no-such-deal/")[0] == 401
    finally:
        host.stop()


def test_a_deal_missing_from_its_shard_stays_online_as_publish_keeps_it(
    viewers: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    project, _passwords = viewers
    config, out = project / "mkdocs.yml", tmp_path / "out"
    merge_shards(config, out, publish_shards(project, tmp_path / "first"))
    (project / "deals" / "cedar" / "deal.yml").write_text("stage: 9\n", encoding="utf-8")
    # Fresh shard folders, as on CI runners: cedar's shard has no earlier version of it.
    result = merge_shards(config, out, publish_shards(project, tmp_path / "second"))
    assert result.published == ["acme", "birch", "gale"] and result.kept == ["cedar"]
    assert "its shard's release does not hold it" in result.reasons["cedar"]
    assert (out / "current" / "sites" / "cedar" / "index.html").is_file()
    # Removed from the deals folder, it goes offline (as in publish).
    shutil.rmtree(project / "deals" / "cedar")
    result = merge_shards(config, out, publish_shards(project, tmp_path / "third"))
    assert "cedar" in result.withdrawn and not (out / "current" / "sites" / "cedar").exists()


def test_a_merge_refuses_anything_but_one_whole_split(
    viewers: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    project, _passwords = viewers
    config, out = project / "mkdocs.yml", tmp_path / "out"
    halves = publish_shards(project, tmp_path / "halves")
    thirds = publish_shards(project, tmp_path / "thirds", count=3)
    with pytest.raises(PublishError, match="different splits"):
        merge_shards(config, out, [halves[0], thirds[1]])
    with pytest.raises(PublishError, match="given twice"):
        merge_shards(config, out, [halves[0], halves[0], halves[1]])
    # A folder of shard 2/2 whose deals are not all of that shard (published by hand).
    publish(config, tmp_path / "everything")
    (tmp_path / "everything" / "current" / SHARD_FILE).write_text('{"shard": "2/2"}')
    with pytest.raises(PublishError, match="'acme' falls in shard 1/2, not 2/2"):
        merge_shards(config, out, [halves[0], tmp_path / "everything"])
    (tmp_path / "everything" / "current" / SHARD_FILE).unlink()
    with pytest.raises(PublishError, match="not a shard release"):
        merge_shards(config, out, [halves[0], tmp_path / "everything", halves[1]])
    with pytest.raises(PublishError, match="no release in it"):
        merge_shards(config, out, [halves[0], tmp_path, halves[1]])
    assert not (out / "current").exists()  # nothing was made live
    # A shard's folder takes only that shard: another one would drop its deals.
    with pytest.raises(PublishError, match="holds a release of shard 1/2"):
        publish_shard(config, halves[0], Shard(1, 3))
    with pytest.raises(PublishError, match="holds a release of every deal"):
        publish_shard(config, tmp_path / "everything", Shard(1, 2))
    # The merged release is whole again: all the deals, from a fresh folder per shard.
    assert sorted(merge_shards(config, out, halves).published) == sorted(SLUGS)


def test_encrypted_shards_merge_and_revocation_withdraws(
    viewers: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    project, _passwords = viewers
    config, out = project / "mkdocs.yml", tmp_path / "out"
    shards = publish_shards(project, tmp_path, mode="encrypted")
    result = merge_shards(config, out, shards)
    assert result.published == sorted(SLUGS)
    keys = out / "current" / "sites" / "acme" / "dealroom-keys.json"
    assert keys.read_bytes() == (shards[0] / "current" / "sites" / "acme" / keys.name).read_bytes()
    # Key slots cannot be rewritten without the content key: a deal whose shard release
    # lets in someone revoked since is taken offline by the merge.
    revoke_viewer(project, Scope.of(project, project / "deals", "gale"), "gale-viewer")
    result = merge_shards(config, out, shards)
    assert result.withdrawn == ["gale"] and "revoked" in result.reasons["gale"]
    assert not (out / "current" / "sites" / "gale").exists()
    assert (out / "current" / "sites" / "acme" / "index.html").is_file()


def test_the_commands_publish_shards_and_merge_them(
    viewers: tuple[Path, dict[str, str]],
) -> None:
    project = viewers[0]
    for index in (1, 2):
        result = run(["dealroom", "publish", "--shard", f"{index}/2", "--out", f"s{index}"],
                     project)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"Published 2 deal(s) of shard {index}/2 to s{index}/current" in result.stdout
    result = run(["dealroom", "merge", "--out", "out", "s1", "s2/current"], project)
    assert result.returncode == 0, result.stderr
    assert "Merged 4 deal(s) from 2 shard(s) into out/current" in result.stdout
    result = run(["dealroom", "merge", "--out", "out", "s1"], project)
    assert result.returncode == 1 and "shard(s) 2/2 missing" in result.stderr
    assert "Traceback" not in result.stderr
