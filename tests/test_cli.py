"""The commands a seller types: `dealroom new`, `dealroom check`, `mkdocs build --strict`
and `mkdocs serve` with live reload, each run as the real program."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import make_deal, run_build, text_of, write_deal

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120)


def test_new_scaffolds_a_deal_that_builds_strictly(project: Path) -> None:
    result = run(["dealroom", "new", "vega-labs", "--customer", "Vega Labs: R&D #1"], project)
    assert result.returncode == 0, result.stderr
    assert "Fill in, in this order" in result.stdout
    assert "stakeholders: your champion first" in result.stdout
    deal_file = project / "deals" / "vega-labs" / "deal.yml"
    assert "name: 'Vega Labs: R&D #1'" in deal_file.read_text()
    assert (project / "deals" / "vega-labs" / "internal" / "notes.md").is_file()
    site = run_build(project, strict=True)
    assert "Vega Labs: R&amp;D #1" in (site / "vega-labs" / "index.html").read_text()
    again = run(["dealroom", "new", "vega-labs"], project)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_new_refuses_a_slug_that_cannot_be_a_url(project: Path) -> None:
    for slug in ("Vega Labs", "assets", "../escape"):
        result = run(["dealroom", "new", slug], project)
        assert result.returncode == 2, slug
        assert "lowercase letters, digits and dashes" in result.stderr
    assert list((project / "deals").iterdir()) == []


def test_check_reports_errors_with_file_line_and_field(project: Path) -> None:
    write_deal(project / "deals", "good", make_deal())
    write_deal(project / "deals", "bad", "customer: X\nseller: Y\nstage: 2\nstep: lern\n")
    result = run(["dealroom", "check"], project)
    assert result.returncode == 1
    assert "good: ok" in result.stdout
    assert "error: deals/bad/deal.yml:4:7: step: must be one of" in result.stderr
    assert "did you mean 'learn'?" in result.stderr
    assert run(["dealroom", "check", "good"], project).returncode == 0


def test_strict_mkdocs_build_exits_non_zero_without_a_traceback(project: Path) -> None:
    write_deal(project / "deals", "good", make_deal())
    write_deal(project / "deals", "bad", "customer: X\n  seller: Y\n")
    result = run([sys.executable, "-m", "mkdocs", "build", "--strict"], project)
    assert result.returncode != 0
    assert "deals/bad/deal.yml:2:9: invalid YAML" in result.stderr
    assert "Traceback" not in result.stderr
    assert (project / "site" / "good" / "index.html").is_file()
    relaxed = run([sys.executable, "-m", "mkdocs", "build"], project)
    assert relaxed.returncode == 0, relaxed.stderr


def test_quiet_build_prints_only_problems(project: Path) -> None:
    write_deal(project / "deals", "good", make_deal())
    result = run([sys.executable, "-m", "mkdocs", "build", "-q"], project)
    assert result.returncode == 0
    assert result.stderr.strip() == "" and result.stdout.strip() == ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_line(process: subprocess.Popen[str], needle: str) -> None:
    """Read the server's log until `needle` appears (the log is the synchronisation)."""
    assert process.stderr is not None
    for line in process.stderr:
        if needle in line:
            return
    raise AssertionError(f"mkdocs serve exited before logging {needle!r}")


def test_serve_previews_deals_and_reloads_when_deal_yml_changes(project: Path) -> None:
    folder = write_deal(project / "deals", "fjordline", make_deal(summary=None))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
        cwd=project, env=ENV, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        _wait_for_line(server, "Serving on")
        url = f"http://127.0.0.1:{port}/fjordline/"
        first = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "<strong>MISSING:</strong> summary" in first  # the preview shows the gaps
        assert "livereload" in first

        (folder / "deal.yml").write_text(
            (folder / "deal.yml").read_text().replace("summary: null", "summary: NewSummaryText")
        )
        _wait_for_line(server, "Reloading browsers")
        second = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "NewSummaryText" in second

        (folder / "approach.md").write_text("# Approach\n\nNewApproachText")
        _wait_for_line(server, "Reloading browsers")
        approach = urllib.request.urlopen(url + "approach/", timeout=10).read().decode()
        assert "NewApproachText" in approach
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_build_output_can_be_moved_under_any_path(project: Path, tmp_path: Path) -> None:
    write_deal(project / "deals", "fjordline", make_deal())
    site = run_build(project)
    moved = tmp_path / "elsewhere" / "deep" / "path" / "room"
    moved.parent.mkdir(parents=True)
    (site / "fjordline").rename(moved)
    assert "Ingrid Solberg" in text_of(moved / "index.html")
    page = (moved / "business-case" / "index.html").read_text()
    assert 'href="../assets/stylesheets/' in page and (moved / "assets" / "stylesheets").is_dir()


def test_share_links_to_any_page_of_the_deal_site_and_refuses_others(project: Path) -> None:
    from dealroom.publish.access import Scope, add_viewer

    write_deal(project / "deals", "fjordline", make_deal(),
               {"context/legal.md": "# Legal\n\nTerms"})  # fmt: skip
    add_viewer(project, Scope.of(project, project / "deals", "fjordline"), "maria.chen")
    base = ["dealroom", "share", "maria.chen", "--deal", "fjordline", "--mode", "nginx",
            "--url", "https://rooms.example.com/"]  # fmt: skip
    expected = {
        "business-case": "business-case/",
        "mutual-action-plan": "mutual-action-plan/",
        "context/legal": "context/legal/",
        "contributors": "contributors/",
        "overview": "",
        "index": "",
    }
    for page, path in expected.items():
        result = run([*base, "--page", page], project)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"https://rooms.example.com/fjordline/{path}\n"
    for page in ("nope", "approach", "context/nope", "../fjordline"):  # no approach.md here
        result = run([*base, "--page", page], project)
        assert result.returncode == 2, (page, result.stderr)
        assert (
            f"deal 'fjordline' has no page '{page}'; use one of: index, overview, "
            "business-case, mutual-action-plan, context/legal, contributors" in result.stderr
        )
        assert "Traceback" not in result.stderr and result.stdout == ""
    # A deal room on a host name of its own, and a team member, who opens every deal.
    add_viewer(project, Scope.of(project, project / "deals", None), "tom.team")
    hosted = ["dealroom", "share", "tom.team", "--deal", "fjordline", "--mode", "nginx",
              "--domain", "rooms.example.com", "--page", "business-case"]  # fmt: skip
    result = run(hosted, project)
    assert result.stdout == "https://fjordline.rooms.example.com/business-case/\n", result.stderr
    nobody = run([*base[:2], "someone.else", *base[3:]], project)
    assert nobody.returncode == 1 and "'someone.else' has no access to fjordline" in nobody.stderr
    both = run([*base, "--domain", "rooms.example.com"], project)
    assert both.returncode == 2 and "either --url" in both.stderr
    # A deal that does not load has no known pages: said plainly.
    (project / "deals" / "fjordline" / "deal.yml").write_text("customer: [\n")
    broken = run([*base, "--page", "business-case"], project)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert "deal 'fjordline' does not load" in broken.stderr
    assert "dealroom check fjordline" in broken.stderr
