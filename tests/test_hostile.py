"""Hostile input, as an attacker or a careless seller would write it: many deals in one
project, one attack each, beside canary deals whose every text is traceable.

One real `mkdocs build` (the program, so a traceback would show) and one `dealroom check`
of the whole corpus, then both publish modes, assert the isolation promises as rules:
no traceback; every good deal built and published; every attack deal reported with its
file (and line where there is one) and skipped, or built harmlessly; no canary of one
deal in any byte of another deal's output; no internal or credential canary in any
output at all; `dealroom check` says exactly what the build did.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import make_deal, write_deal, write_project
from dealroom.publish.access import Scope, add_viewer
from dealroom.publish.releases import publish

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
TIME_LIMIT = 4  # seconds per deal in this project: pathological pages are stopped quickly
MAX_FILE = 200_000  # bytes per page in this project


def canary_deal(tag: str) -> tuple[dict, dict[str, str]]:
    """A deal whose texts all carry `tag`, with seller-only notes carrying Internal<tag>."""
    deal = make_deal(
        customer={"name": f"Cust{tag}"}, seller={"name": f"Sell{tag}"}, summary=f"Summary{tag}"
    )
    deal["stakeholders"][0]["title"] = f"Title{tag}"
    deal["business_case"]["problem"]["statement"] = f"Problem{tag}"
    deal["mutual_action_plan"]["steps"][0]["notes"] = f"Note{tag}"
    deal["internal"] = {"pricing_floor": f"Internal{tag}"}
    files = {
        "approach.md": f"# Approach\n\nApproach{tag}",
        "context/legal.md": f'# Legal\n\nLegal{tag}\n\n--8<-- "assets/clause.txt"\n',
        "assets/clause.txt": f"Clause{tag}",
        "internal/notes.md": f"Internal{tag} notes",
    }
    return deal, files


CANARY_TAGS = ("QHA", "QHB")
INTERNAL = [f"Internal{tag}" for tag in CANARY_TAGS]
PUBLISHED = {
    tag: [
        f"Cust{tag}",
        f"Summary{tag}",
        f"Title{tag}",
        f"Problem{tag}",
        f"Note{tag}",
        f"Approach{tag}",
        f"Legal{tag}",
        f"Clause{tag}",
    ]
    for tag in CANARY_TAGS
}
MINIMAL = "customer: X\nseller: Y\nstage: 2\nstep: learn\n"


def _link(folder: Path, name: str, target: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


# Each attack: (how to make the deal folder, what the build must say, or None if the
# deal builds harmlessly). Messages are matched as they start: file, line, reason.
Attack = tuple[Callable[[Path], None], str | re.Pattern[str] | None]


def _deal(text: str | dict, files: dict[str, str] | None = None) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        write_deal(folder.parent, folder.name, text, files)

    return make


def _bytes(name: str, data: bytes) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        write_deal(folder.parent, folder.name, make_deal())
        (folder / name).write_bytes(data)

    return make


def _with_links(files: dict[str, str], links: dict[str, str], text: str | dict | None = None):
    def make(folder: Path) -> None:
        write_deal(folder.parent, folder.name, text or make_deal(), files)
        for name, target in links.items():
            _link(folder, name, target)

    return make


def _amount(value: float, only: bool = False) -> dict:
    """A deal whose one-time investment is `value` (its only investment, if `only`)."""
    deal = make_deal()
    deal["business_case"]["investment"]["one_time"][0]["amount"] = value
    if only:
        deal["business_case"]["investment"]["recurring"] = []
    return deal


ATTACKS: dict[str, Attack] = {
    # Includes reach only published files of the deal itself.
    "inc-internal": (
        _deal(
            make_deal(),
            {
                "approach.md": '# A\n\n--8<-- "internal/notes.md"\n',
                "internal/notes.md": "InternalQHZ",
            },
        ),
        "deals/inc-internal/approach.md:3: include 'internal/notes.md' is a file "
        "that is seller-only",
    ),
    "inc-deal-yml": (
        _deal(make_deal(), {"approach.md": '# A\n\n--8<-- "deal.yml"\n'}),
        "deals/inc-deal-yml/approach.md:3: include 'deal.yml' is a file that is never published",
    ),
    "inc-access": (
        _deal(make_deal(), {"approach.md": '--8<-- "access.yml"\n', "access.yml": "viewers: []\n"}),
        "deals/inc-access/approach.md:1: include 'access.yml' is a file that is never published",
    ),
    "inc-outside": (
        _deal(make_deal(), {"context/x.md": '# X\n\n--8<-- "../qha/deal.yml"\n'}),
        "deals/inc-outside/context/x.md:3: include '../qha/deal.yml' points "
        "outside the deal folder",
    ),
    "inc-absolute": (
        _deal(make_deal(), {"approach.md": '# A\n\n--8<-- "/etc/passwd"\n'}),
        "deals/inc-absolute/approach.md:3: include '/etc/passwd' points outside",
    ),
    "inc-credentials": (
        _with_links(
            {"approach.md": '# A\n\n--8<-- "internal/c.yml"\n'},
            {"internal/c.yml": "../../../.dealroom/credentials.yml"},
        ),
        "deals/inc-credentials/approach.md:3: include 'internal/c.yml' points outside",
    ),
    "inc-via-link": (
        _with_links(
            {
                "approach.md": '# A\n\n--8<-- "assets/notes.txt"\n',
                "internal/notes.txt": "InternalQHZ",
            },
            {"assets/notes.txt": "../internal/notes.txt"},
        ),
        "deals/inc-via-link/assets/notes.txt: points to internal/notes.txt",
    ),
    "inc-missing": (
        _deal(make_deal(), {"approach.md": '# A\n\n--8<-- "context/nope.md"\n'}),
        "deals/inc-missing/approach.md:3: include 'context/nope.md' does not exist",
    ),
    "inc-bomb": (
        _deal(
            make_deal(),
            {"approach.md": '--8<-- "assets/a.txt"\n' * 50, "assets/a.txt": "x" * 10_000},
        ),
        "deals/inc-bomb/approach.md:1: include 'assets/a.txt' makes the page larger "
        "than 200,000 bytes",
    ),
    "inc-latin1": (
        _deal(make_deal(), {"approach.md": '# A\n\n--8<-- "assets/old.txt"\n'}),
        "deals/inc-latin1/approach.md:3: include 'assets/old.txt' is not UTF-8 text",
    ),
    "inc-indent-bomb": (
        _deal(
            make_deal(),
            {
                "approach.md": "\t" * 150_000 + '--8<-- "assets/y.md"\n',
                "assets/y.md": "\n" * 100_000,
            },
        ),
        "deals/inc-indent-bomb/approach.md:1: include 'assets/y.md' makes the page",
    ),
    "inc-range-bomb": (
        _deal(
            make_deal(),
            {
                "approach.md": '--8<-- "assets/y.md:1:2000' + ",1:2000" * 20_000 + '"\n',
                "assets/y.md": "line\n" * 2000,
            },
        ),
        # Stopped by the time limit (pymdownx 11+ repeats the ranges), or refused at once
        # (pymdownx 10 takes the whole target for a file name).
        re.compile(
            r"deals/inc-range-bomb/approach\.md(: not loaded: it took longer than "
            rf"{TIME_LIMIT} s \(deal_time_limit\)|:1: include 'assets/y\.md:1:2000)"
        ),
    ),
    "link-context-to-assets": (
        _with_links({"assets/notes.md": "# Notes"}, {"context": "assets"}),
        "deals/link-context-to-assets/context/notes.md: points to assets/notes.md, which is "
        "an asset, not a page",
    ),
    # Links that stay inside the folder still publish only published files.
    "link-context-dir": (
        _with_links({"internal/secret.md": "InternalQHZ"}, {"context": "internal"}),
        "deals/link-context-dir/context: points to internal, which is seller-only",
    ),
    "link-approach": (
        _with_links({"internal/notes.md": "InternalQHZ"}, {"approach.md": "internal/notes.md"}),
        "deals/link-approach/approach.md: points to internal/notes.md, which is seller-only",
    ),
    "link-asset": (
        _with_links({"internal/x.pdf": "InternalQHZ"}, {"assets/x.pdf": "../internal/x.pdf"}),
        "deals/link-asset/assets/x.pdf: points to internal/x.pdf",
    ),
    "link-asset-deal-yml": (
        _with_links({}, {"assets/d.txt": "../deal.yml"}),
        "deals/link-asset-deal-yml/assets/d.txt: points to deal.yml, which is never published",
    ),
    "link-other-deal": (
        _with_links({}, {"context/x.md": "../../qha/context/legal.md"}),
        "deals/link-other-deal/context/x.md: points outside the deal folder",
    ),
    "link-loop": (
        _with_links({"context/ok.md": "# OK"}, {"context/loop.md": "loop.md"}),
        "deals/link-loop/context/loop.md: is a link that loops back on itself",
    ),
    "link-ancestors": (
        _with_links({"assets/ok.png": "png"}, {"assets/up": "..", "assets/top": "../.."}),
        "deals/link-ancestors/assets/top: is a link to a folder",
    ),
    "folder-link": (
        lambda folder: folder.symlink_to("qha"),
        "deals/folder-link: is a link to another folder",
    ),
    "deal-yml-link": (
        lambda folder: _link(folder, "deal.yml", "../qhb/deal.yml"),
        "deals/deal-yml-link/deal.yml: is a link",
    ),
    # YAML that would never finish, exhaust memory or crash a parser.
    "yaml-recursive": (
        _deal("customer: &a [*a]\nseller: Y\nstage: 2\nstep: learn\n"),
        "deals/yaml-recursive/deal.yml:1:11: customer: anchors and aliases",
    ),
    "yaml-laughs": (
        _deal(
            "a: &a [x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
                for p, c in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + MINIMAL
        ),
        "deals/yaml-laughs/deal.yml:1:4: a: anchors and aliases",
    ),
    "yaml-merge-key": (
        _deal("base: &b {name: X}\ncustomer:\n  <<: *b\nseller: Y\nstage: 2\nstep: learn\n"),
        "deals/yaml-merge-key/deal.yml:1:7: base: anchors",
    ),
    "yaml-complex-key": (
        _deal(MINIMAL + "? [a, b]\n: c\n"),
        "deals/yaml-complex-key/deal.yml:5:3: a key must be a plain name",
    ),
    "yaml-deep": (
        _deal(MINIMAL + "internal: " + "[" * 1000 + "]" * 1000 + "\n"),
        # PyYAML 6.0.4's libyaml meets its own limit first, scanning ahead: another column.
        re.compile(r"deals/yaml-deep/deal\.yml:5:\d+: (internal\[0\]\[0\]: )?nested more than 24"),
    ),
    "yaml-duplicate": (
        _deal("customer: X\nseller: Y\nstage: 2\nstage: 5\nstep: learn\n"),
        "deals/yaml-duplicate/deal.yml:4:1: stage: duplicate key 'stage': it is also on line 3",
    ),
    "yaml-tag": (
        _deal(MINIMAL + "summary: !!python/object/apply:os.system [id]\n"),
        "deals/yaml-tag/deal.yml:5:10: tags such as",
    ),
    "yaml-huge-int": (
        _deal(MINIMAL.replace("stage: 2", "stage: " + "9" * 5000)),
        "deals/yaml-huge-int/deal.yml:3:8: stage: not a usable number (too many digits)",
    ),
    "yaml-too-big": (
        _deal(MINIMAL + "summary: " + "x" * MAX_FILE + "\n"),
        "deals/yaml-too-big/deal.yml: is larger than 200,000 bytes",
    ),
    "front-matter-alias": (
        _deal(make_deal(), {"context/a.md": "---\nt: &a [*a]\n---\n# A"}),
        "deals/front-matter-alias/context/a.md:2: front matter: anchors",
    ),
    # Values the model must refuse rather than let the figures overflow.
    "amount-inf": (
        _deal(_amount(float("inf"))),
        "deals/amount-inf/deal.yml:68:15: business_case.investment.one_time[0]."
        "amount: expected a finite number",
    ),
    "amount-nan": (
        _deal(_amount(float("nan"))),
        "deals/amount-nan/deal.yml:68:15: business_case.investment.one_time[0]."
        "amount: expected a finite number",
    ),
    "amount-huge": (
        _deal(_amount(1e300)),
        "deals/amount-huge/deal.yml:68:15: business_case.investment.one_time[0]."
        "amount: input should be less than or equal to",
    ),
    "amount-tiny": (_deal(_amount(1e-300, only=True)), None),  # builds, with no ROI shown
    # Markdown that would keep one deal's build running or crash it.
    "md-brackets": (
        _deal(make_deal(), {"approach.md": "[" * 60_000}),
        f"deals/md-brackets/approach.md: not built: it took longer than "
        f"{TIME_LIMIT} s (deal_time_limit)",
    ),
    "md-deep-nesting": (
        _deal(make_deal(), {"context/q.md": "- " * 1000 + "x\n"}),
        "deals/md-deep-nesting/context/q.md: not built: it is nested too deeply",
    ),
    "md-deep-list": (_deal(make_deal(), {"approach.md": "- " * 300 + "item\n"}), None),
    # Names that cannot be pages, files that are not pages, assets that would run.
    "name-index": (
        _deal(make_deal(), {"context/index.md": "# I"}),
        "deals/name-index/context/index.md: cannot be a page name",
    ),
    "name-spaces": (
        _deal(make_deal(), {"context/IT Security.md": "# I"}),
        "deals/name-spaces/context/IT Security.md: cannot be a page name",
    ),
    "name-hidden": (
        _deal(
            make_deal(),
            {
                "context/.hidden.md": "HiddenQHZ",
                "context/..md": "x",
                "assets/notes.md": "# NotAPageQHZ",
            },
        ),
        None,
    ),
    "asset-html": (
        _deal(make_deal(), {"assets/page.html": "<script>alert(1)</script>"}),
        "deals/asset-html/assets/page.html: is a web page, script or XML",
    ),
    "asset-js": (
        _deal(make_deal(), {"assets/app.js": "alert(1)"}),
        "deals/asset-js/assets/app.js: is a web page, script or XML",
    ),
    "asset-svg-script": (
        _deal(
            make_deal(),
            {
                "assets/d.svg": '<svg xmlns="http://www.w3.org/2000/svg" '
                'onload="alert(1)"><text>x</text></svg>'
            },
        ),
        "deals/asset-svg-script/assets/d.svg: has an onload attribute (a script)",
    ),
    "asset-svg-html": (
        _deal(
            make_deal(),
            {
                "assets/d.svg": '<svg xmlns="http://www.w3.org/2000/svg">'
                "<foreignObject><p>x</p></foreignObject></svg>"
            },
        ),
        "deals/asset-svg-html/assets/d.svg: contains a <foreignObject> element",
    ),
    "asset-svg-entities": (
        _deal(
            make_deal(),
            {
                "assets/d.svg": '<!DOCTYPE svg [<!ENTITY a "a">]>'
                '<svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'
            },
        ),
        "deals/asset-svg-entities/assets/d.svg: declares entities",
    ),
    "asset-svg-stylesheet": (
        _deal(
            make_deal(),
            {
                "assets/d.svg": '<?xml version="1.0"?><?xml-stylesheet '
                'type="text/xsl" href="t.png"?><svg xmlns="http://www.w3.org/2000/'
                'svg"><rect/></svg>'
            },
        ),
        "deals/asset-svg-stylesheet/assets/d.svg: has a processing instruction",
    ),
    "asset-xml": (
        _deal(make_deal(), {"assets/data.xml": "<html><script>alert(1)</script></html>"}),
        "deals/asset-xml/assets/data.xml: is a web page, script or XML document",
    ),
    "asset-svg-inert": (
        _deal(
            make_deal(),
            {
                "assets/d.svg": '<svg xmlns="http://www.w3.org/2000/svg" '
                'width="9"><rect width="9" height="9"/></svg>'
            },
        ),
        None,
    ),
    "asset-theme": (
        _deal(make_deal(), {"assets/images/favicon.png": "png"}),
        "deals/asset-theme/assets/images/favicon.png: not built: has the same path "
        "as one of the theme's files",
    ),
    "bad-utf8": (
        _bytes("approach.md", b"caf\xe9"),
        "deals/bad-utf8/approach.md: is not UTF-8 text",
    ),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = write_project(
        tmp_path_factory.mktemp("hostile") / "project",
        deal_time_limit=TIME_LIMIT,
        max_file_size=MAX_FILE,
    )
    deals = project / "deals"
    for tag in CANARY_TAGS:
        deal, files = canary_deal(tag)
        write_deal(deals, tag.lower(), deal, files)
    for slug, (make, _expected) in ATTACKS.items():
        make(deals / slug)
    (deals / "inc-latin1" / "assets").mkdir()
    (deals / "inc-latin1" / "assets" / "old.txt").write_bytes("Zürich".encode("latin-1"))
    team = Scope.of(project, deals, None)
    add_viewer(project, team, "team")  # so the credentials file exists, with a password
    for tag in CANARY_TAGS:
        add_viewer(project, Scope.of(project, deals, tag.lower()), "viewer")
    return project


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def built(corpus: Path) -> tuple[Path, list[str]]:
    result = run([sys.executable, "-m", "mkdocs", "build"], corpus)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [
        line.split("-  ", 1)[1] for line in result.stderr.splitlines() if line.startswith("ERROR")
    ]
    return corpus / "site", errors


def credentials(corpus: Path) -> list[str]:
    data = yaml.safe_load((corpus / ".dealroom" / "credentials.yml").read_text())
    return [password for users in data.values() for password in users.values()]


def output_texts(root: Path) -> dict[str, str]:
    """Every file below root as text, gzip unpacked, so a canary cannot hide."""
    texts = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            texts[path.relative_to(root).as_posix()] = data.decode("utf-8", errors="replace")
    return texts


def _matches(expected: str | re.Pattern[str], error: str) -> bool:
    return (
        bool(expected.match(error))
        if isinstance(expected, re.Pattern)
        else error.startswith(expected)
    )


def test_every_attack_is_reported_with_its_file_and_skipped(built) -> None:
    site, errors = built
    for slug, (_make, expected) in ATTACKS.items():
        skipped = f"deal '{slug}' skipped: fix the problems above to build it"
        if expected is None:
            assert skipped not in errors, slug
            assert (site / slug / "index.html").is_file(), slug
            continue
        assert skipped in errors, slug
        assert any(_matches(expected, error) for error in errors), (slug, expected)
        assert not (site / slug).exists(), f"{slug}: half-written output left behind"
    # The seller's dashboard lists them too, those that failed to build as well as those
    # that failed to load (it is drawn while deals build, and again if one fails).
    dashboard = (site / "index.html").read_text()
    listed = dashboard[dashboard.index('id="skipped"') :]
    for slug in ("md-brackets", "md-deep-nesting", "amount-nan"):
        assert f"<strong>{slug}</strong>" in listed, slug
        assert f'href="{slug}/"' not in dashboard, slug


def test_every_good_deal_is_built_with_its_own_content(built) -> None:
    site, _errors = built
    for tag in CANARY_TAGS:
        texts = "\n".join(output_texts(site / tag.lower()).values())
        for canary in PUBLISHED[tag]:
            assert canary in texts, f"{canary} missing from {tag.lower()}"


def test_no_canary_crosses_deals_and_nothing_internal_is_published(built, corpus) -> None:
    site, _errors = built
    secrets = [*INTERNAL, "InternalQHZ", "HiddenQHZ", *credentials(corpus)]
    for name, text in output_texts(site).items():
        for secret in secrets:
            assert secret not in text, f"{secret} in site/{name}"
        owner = name.split("/", 1)[0]
        if name == "index.html" or "/" not in name:
            continue  # the seller-only dashboard lists every deal by design
        for tag in CANARY_TAGS:
            if owner != tag.lower():
                for canary in PUBLISHED[tag]:
                    assert canary not in text, f"{canary} of {tag.lower()} in site/{name}"


def test_harmless_odd_files_are_published_as_files_never_as_pages(built) -> None:
    site, _errors = built
    assert (site / "name-hidden" / "assets" / "notes.md").read_text() == "# NotAPageQHZ"
    assert not (site / "name-hidden" / "assets" / "notes").exists()
    assert not (site / "name-hidden" / "context").exists()  # .hidden.md and ..md left out
    plan = (site / "amount-tiny" / "business-case" / "index.html").read_text()
    assert "Return on investment" not in plan  # no ratio to a fraction of a cent
    deep = (site / "md-deep-list" / "approach" / "index.html").read_text()
    assert deep.count("<li>") == 300 and "item" in deep


def test_check_says_exactly_what_the_build_did(built, corpus) -> None:
    site, errors = built
    result = run(["dealroom", "check"], corpus)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    ok = set(re.findall(r"^(\S+): ok$", result.stdout, re.M))
    assert ok == {path.name for path in site.iterdir() if (path / "index.html").is_file()}
    reported = [
        line.removeprefix("  error: ")
        for line in result.stderr.splitlines()
        if line.startswith("  error: ")
    ]
    build_problems = [e for e in errors if " skipped: fix the problems" not in e]
    assert sorted(reported) == sorted(e for e in build_problems if e.startswith("deals/")), (
        "check and build disagree"
    )


@pytest.mark.parametrize("mode", ["nginx", "encrypted"])
def test_publishing_the_corpus_publishes_good_deals_and_nothing_else(
    corpus: Path, served_dir: Path, mode: str
) -> None:
    result = publish(corpus / "mkdocs.yml", served_dir, mode=mode)
    expected_built = {"qha", "qhb"} | {slug for slug, (_m, e) in ATTACKS.items() if e is None}
    assert set(result.published) == expected_built
    assert set(result.skipped) == {slug for slug, (_m, e) in ATTACKS.items() if e}
    secrets = [*INTERNAL, "InternalQHZ", "HiddenQHZ", *credentials(corpus)]
    for name, text in output_texts(served_dir).items():
        for secret in secrets:
            assert secret not in text, f"{secret} in {mode} output {name}"
        for tag in CANARY_TAGS:
            owner = f"sites/{tag.lower()}/"
            for canary in PUBLISHED[tag]:
                if owner not in name and mode == "nginx":
                    assert canary not in text, f"{canary} in {name}"
                if mode == "encrypted":
                    assert canary not in text, f"{canary} in plain text in {name}"


def test_score_reads_the_corpus_without_a_traceback(corpus: Path) -> None:
    result = run(["dealroom", "score", "--json"], corpus)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    scored = {card["deal"] for card in json.loads(result.stdout)}
    assert {"qha", "qhb"} <= scored
    loading_failures = {
        slug for slug, (_m, e) in ATTACKS.items() if e and "not built" not in str(e)
    }
    assert not scored & loading_failures
    for slug in loading_failures:
        assert f"{slug}: not scored" in result.stderr
