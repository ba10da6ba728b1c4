"""Security is correctness: isolation between deals, seller-only material, escaping,
no external requests, relative links only, nothing from outside the deal folder."""

from __future__ import annotations

import gzip
import multiprocessing
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import make_deal, run_build, site_files, text_of, write_deal, write_project


def canary_deal(tag: str) -> tuple[dict, dict[str, str], list[str]]:
    """A deal whose every text carries `tag`; returns (deal.yml, files, canaries)."""
    deal = make_deal(
        customer={"name": f"Cust{tag}", "domains": [f"{tag.lower()}.example"]},
        seller={"name": f"Sell{tag}"},
        summary=f"Summary{tag}",
    )
    people = deal["stakeholders"]
    for person in people:
        person["name"] = f"{person['name'].split()[0]} Name{tag}{people.index(person)}"
        person["title"] = f"Title{tag}"
    case = deal["business_case"]
    case["headline"]["change"] = f"Change{tag}"
    case["priority"] = {"initiative": f"Initiative{tag}", "owner": people[1]["name"]}
    case["problem"]["statement"] = f"Problem{tag}"
    case["cost_of_inaction"][0]["item"] = f"Cost{tag}"
    case["outcomes"][0]["metric"] = f"Metric{tag}"
    case["contributors"] = [people[1]["name"]]
    for step in deal["mutual_action_plan"]["steps"]:
        step["owner"] = people[0]["name"]
        step.pop("side", None)
        step["notes"] = f"Note{tag}"
    deal["internal"] = {"notes": f"Internal{tag}", "pricing_floor": f"Floor{tag}"}
    files = {
        "business-case.md": f"## Detail\n\nNarrative{tag}",
        "approach.md": f"# Approach\n\nApproach{tag}",
        "context/legal.md": f"# Legal\n\nLegal{tag}",
        "internal/notes.md": f"# Notes\n\nInternalFile{tag}",
        "call-notes.md": f"Stray{tag}",  # not a deal page: never published
    }
    published = [f"Cust{tag}", f"Sell{tag}", f"Summary{tag}", f"Name{tag}", f"Title{tag}",
                 f"Change{tag}", f"Initiative{tag}", f"Problem{tag}", f"Cost{tag}",
                 f"Metric{tag}", f"Note{tag}", f"Narrative{tag}", f"Approach{tag}",
                 f"Legal{tag}"]  # fmt: skip
    return deal, files, published


def all_text(site: Path) -> dict[str, str]:
    """Every file of a site as text, gzip files unpacked, so canaries cannot hide."""
    texts = {}
    for name, data in site_files(site).items():
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        texts[name] = data.decode("utf-8", errors="replace")
    return texts


@pytest.fixture(params=["forked", "in-process"])
def three_deals(
    project: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dict[str, list[str]]]:
    """Three deals with canaries, built in worker processes, and (as where there is no
    fork, on Windows) one after another in this process."""
    if request.param == "in-process":
        monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    canaries = {}
    for tag in ("QXA", "QXB", "QXC"):
        deal, files, published = canary_deal(tag)
        write_deal(project / "deals", tag.lower(), deal, files)
        canaries[tag.lower()] = published
    return run_build(project), canaries


def test_no_string_from_one_deal_appears_in_another_deals_site(three_deals) -> None:
    site, canaries = three_deals
    for slug, own in canaries.items():
        texts = all_text(site / slug)
        joined = "\n".join(texts.values())
        for canary in own:  # the canaries are really published in their own site...
            assert canary in joined, f"{canary} missing from {slug}"
        for other, foreign in canaries.items():  # ...and in no other
            if other == slug:
                continue
            for name, text in texts.items():
                for canary in foreign:
                    assert canary not in text, f"{canary} from {other} leaked into {slug}/{name}"


def test_each_deal_has_its_own_search_index_and_sitemap(three_deals) -> None:
    site, canaries = three_deals
    for slug in canaries:
        index = (site / slug / "search" / "search_index.json").read_text()
        assert f"Narrative{slug.upper()}" in index
        locations = re.findall(r'"location":"([^"#]*)', index)
        assert set(locations) >= {"", "business-case/", "mutual-action-plan/", "context/legal/"}
        assert all(not loc.startswith(("/", "..", "http")) for loc in locations)
        assert (site / slug / "sitemap.xml").read_text().startswith("<?xml")
    # The seller's root site has an index of its own page, the dashboard, only.
    root = (site / "search" / "search_index.json").read_text()
    assert re.findall(r'"location":"([^"#]*)', root) == [""] * len(re.findall('"location"', root))
    pages = ("Narrative", "Approach", "Legal")  # what only a deal's pages say
    assert not any(f"{page}{slug.upper()}" in root for page in pages for slug in canaries)


def test_seller_only_material_never_reaches_any_output(three_deals) -> None:
    site, canaries = three_deals
    for name, text in all_text(site).items():  # every deal site and the root page
        for tag in canaries:
            for secret in (f"Internal{tag.upper()}", f"Floor{tag.upper()}",
                           f"InternalFile{tag.upper()}", f"Stray{tag.upper()}"):  # fmt: skip
                assert secret not in text, f"{secret} in {name}"
    for slug in canaries:
        assert not (site / slug / "internal").exists()
        assert not (site / slug / "deal.yml").exists()


SCRIPT = '<script>alert("x")</script>'


def test_user_text_is_escaped_everywhere(project: Path) -> None:
    deal = make_deal(customer={"name": f"Evil {SCRIPT} Inc"}, seller=f"Sell {SCRIPT}",
                     summary=f"Summary {SCRIPT}")  # fmt: skip
    deal["stakeholders"][0]["title"] = f"Title {SCRIPT}"
    deal["stakeholders"][2]["name"] = f"Name {SCRIPT}"
    case = deal["business_case"]
    for key in ("change", "approach", "avoid", "unlock"):
        case["headline"][key] = f"{key} {SCRIPT}"
    case["priority"]["initiative"] = f"Initiative {SCRIPT}"
    case["problem"]["statement"] = f"Problem {SCRIPT}"
    case["cost_of_inaction"][0]["basis"] = f"Basis {SCRIPT}"
    case["capabilities"][0]["name"] = f"Capability {SCRIPT}"
    case["outcomes"][0]["baseline"] = f"Baseline {SCRIPT}"
    case["investment"]["people"] = f"People {SCRIPT}"
    step = deal["mutual_action_plan"]["steps"][0]
    step["title"], step["notes"] = f"Step {SCRIPT}", f"Notes {SCRIPT}"
    deal["mutual_action_plan"]["steps"][1]["owner"] = f"Name {SCRIPT}"
    write_deal(project / "deals", "evil", deal,
               files={"context/it.md": f"---\ntitle: Security {SCRIPT}\n---\nText"})  # fmt: skip
    site = run_build(project)
    for name, text in all_text(site).items():
        if name.endswith((".html", ".xml", ".json")):
            assert SCRIPT not in text, name
            assert "<script>alert" not in text, name
    business_case = text_of(site / "evil" / "business-case" / "index.html")
    assert f"Because of change {SCRIPT}" in business_case  # shown as text, not run
    assert f"Problem {SCRIPT}" in business_case
    plan = text_of(site / "evil" / "mutual-action-plan" / "index.html")
    assert f"Step {SCRIPT}" in plan and f"Notes {SCRIPT}" in plan


EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
LOADING_ATTRS = re.compile(
    r"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc=\"([^\"]+)\""
    r"|<link\b[^>]*\bhref=\"([^\"]+)\"",
    re.IGNORECASE,
)
CSS_URLS = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])([^'\")\s]+)", re.IGNORECASE)


def test_pages_load_nothing_from_outside_the_site(three_deals) -> None:
    site, canaries = three_deals
    checked = 0
    for slug in canaries:
        for path in (site / slug).rglob("*"):
            if path.suffix == ".html":
                text = path.read_text()
                for match in LOADING_ATTRS.finditer(text):
                    url = match.group(1) or match.group(2)
                    tag = match.group(0)
                    if 'rel="canonical"' in tag:
                        continue  # a link relation, never fetched
                    assert not EXTERNAL.match(url), f"{path}: {tag}"
                    checked += 1
                assert "fonts.googleapis" not in text and "cdn.jsdelivr" not in text
            elif path.suffix == ".css":
                for url in CSS_URLS.findall(path.read_text()):
                    assert not EXTERNAL.match(url), f"{path}: {url}"
    assert checked > 50


def test_links_are_relative_and_resolve_inside_the_deal_site(three_deals) -> None:
    site, canaries = three_deals
    for slug in canaries:
        root = (site / slug).resolve()
        for page in root.rglob("*.html"):
            if page.name == "404.html":
                continue  # served for unknown paths; MkDocs makes its links root-relative
            for url in re.findall(r'(?:href|src)="([^"]+)"', page.read_text()):
                if url.startswith(("#", "mailto:", "data:")) or EXTERNAL.match(url):
                    continue
                assert not url.startswith("/"), f"{page}: absolute link {url}"
                target = (page.parent / unquote(urlsplit(url).path)).resolve()
                assert target.is_relative_to(root), f"{page}: {url} leaves the deal site"
                if target.is_dir():
                    target = target / "index.html"
                assert target.exists(), f"{page}: broken link {url}"


def test_includes_cannot_reach_outside_the_deal_folder(project: Path, mkdocs_logs) -> None:
    write_deal(project / "deals", "victim", make_deal(summary="SecretOfVictim"))
    include = {"approach.md": '# Approach\n\n--8<-- "../victim/deal.yml"\n'}
    write_deal(project / "deals", "thief", make_deal(), files=include)
    write_deal(
        project / "deals", "honest", make_deal(), files={"approach.md": "# Approach\n\nFine."}
    )
    site = run_build(project)
    assert (site / "honest" / "approach" / "index.html").is_file()
    assert not (site / "thief").exists()  # reported and skipped, nothing half-written
    errors = " ".join(r.getMessage() for r in mkdocs_logs.records if r.levelname == "ERROR")
    assert "deals/thief/approach.md:3: include '../victim/deal.yml' points outside" in errors
    assert "deal 'thief' skipped" in errors
    for name, text in all_text(site).items():
        if not name.startswith("victim/"):
            assert "SecretOfVictim" not in text, name


def test_files_linked_from_outside_the_deal_folder_are_not_copied(project: Path) -> None:
    write_deal(project / "deals", "victim", make_deal(), files={"assets/plan.pdf": "SecretPdf"})
    write_deal(
        project / "deals",
        "thief",
        make_deal(),
        files={"approach.md": "# A\n\n[x](../../victim/assets/plan.pdf) ![y](../../../mkdocs.yml)"},
    )
    site = run_build(project)
    assert (site / "victim" / "assets" / "plan.pdf").read_text() == "SecretPdf"
    for name, text in all_text(site / "thief").items():
        assert "SecretPdf" not in text, name
        assert "missing_markers" not in text, name  # mkdocs.yml was not copied either


def test_symlink_into_another_deal_is_refused(project: Path, mkdocs_logs) -> None:
    write_deal(
        project / "deals", "victim", make_deal(), files={"context/secret.md": "SecretByLink"}
    )
    thief = write_deal(project / "deals", "thief", make_deal())
    (thief / "context").mkdir()
    (thief / "context" / "stolen.md").symlink_to(project / "deals/victim/context/secret.md")
    site = run_build(project)
    assert not (site / "thief").exists()
    errors = " ".join(r.getMessage() for r in mkdocs_logs.records if r.levelname == "ERROR")
    assert "deals/thief/context/stolen.md: points outside the deal folder" in errors
    assert (site / "victim" / "context" / "secret" / "index.html").is_file()


# --- seller HTML and the content security policy -----------------------------------------

RAW_HTML = """# Approach

<script>alert("inline")</script>
<img src="x.png" onerror="alert('img')"> <iframe src="https://evil.example/"></iframe>
<form action="https://evil.example/"><input name="q"></form>
<a href="javascript:alert('href')">a link</a> and [a Markdown link](javascript:alert('md'))
<style>body { background: url(https://evil.example/x) }</style>

<div id="__config">{"base": "https://evil.example/"}</div> <p id="__search">x</p>

A paragraph with <kbd>Ctrl</kbd>, <sup>2</sup> and <mark>marked</mark> text.
{: onclick="alert('attr')" style="position: fixed" }

| Left | Right |
|:-----|------:|
| a    | b     |
"""


def _article(page: Path) -> str:
    text = page.read_text()
    return text[text.index("<article") : text.index("</article>")]


def test_seller_html_is_sanitized_unless_allowed(tmp_path: Path) -> None:
    for allow in (False, True):
        project = write_project(tmp_path / f"allow-{allow}", allow_raw_html=allow)
        write_deal(project / "deals", "raw", make_deal(), files={"approach.md": RAW_HTML})
        article = _article(run_build(project) / "raw" / "approach" / "index.html")
        dangerous = ("<script", "onerror=", "onclick=", "<iframe", "<form", "<style",
                     "javascript:", 'src="https://evil.example', "position: fixed",
                     'id="__config"', 'id="__search"')  # fmt: skip
        for needle in dangerous:
            assert (needle in article) == allow, (allow, needle)
        for kept in ("<kbd>Ctrl</kbd>", "<sup>2</sup>", "<mark>marked</mark>",
                     'style="text-align: right', 'href="#approach"'):  # fmt: skip
            assert kept.replace(" ", "") in article.replace(" ", ""), (allow, kept)


INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL)


def _policy_hashes(page: str) -> set[str]:
    head = page[: page.index("</head>")]
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', head)
    assert policy, "no policy in <head>"
    assert head.index(policy.group(0)) < head.index("<meta charset"), "policy must come first"
    assert "'unsafe-inline'" not in policy.group(1).split("style-src")[0]
    return set(re.findall(r"'sha256-([^']+)'", policy.group(1)))


def test_every_page_allows_the_themes_scripts_and_never_the_sellers(tmp_path: Path) -> None:
    import base64
    import hashlib

    project = write_project(tmp_path / "p", allow_raw_html=True)
    seller_script = "alert('seller')"
    write_deal(project / "deals", "raw", make_deal(),
               files={"approach.md": f"# A\n\n<script>{seller_script}</script>\n"})  # fmt: skip
    site = run_build(project)
    pages = list((site / "raw").rglob("*.html"))
    assert len(pages) >= 5 and (site / "raw" / "404.html") in pages
    for page in pages:
        text = page.read_text()
        hashes = _policy_hashes(text)
        for attributes, body in INLINE_SCRIPT.findall(text):
            if "src=" in attributes or "application/json" in attributes:
                continue
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert (digest in hashes) == (seller_script not in body), (page, body[:60])


def test_the_preview_under_serve_has_no_policy_for_live_reload(project: Path) -> None:
    write_deal(project / "deals", "fjordline", make_deal())
    site = run_build(project, command="serve")
    assert "Content-Security-Policy" not in (site / "fjordline" / "index.html").read_text()


def test_snippets_are_confined_however_the_extension_is_spelled(tmp_path: Path) -> None:
    import yaml

    project = write_project(tmp_path / "p")
    config = yaml.safe_load((project / "mkdocs.yml").read_text())
    config["markdown_extensions"] = [
        "pymdownx.snippets:SnippetExtension" if e == "pymdownx.snippets" else e
        for e in config["markdown_extensions"]
    ]
    (project / "mkdocs.yml").write_text(yaml.safe_dump(config))
    leaky = {"approach.md": '# A\n\n--8<-- "internal/n.md"\n', "internal/n.md": "InternalQS"}
    write_deal(project / "deals", "leaky", make_deal(), leaky)
    fine = {"approach.md": '# A\n\n--8<-- "assets/t.md"\n', "assets/t.md": "IncludedQS"}
    write_deal(project / "deals", "fine", make_deal(), fine)
    site = run_build(project)
    assert not (site / "leaky").exists()
    assert "IncludedQS" in text_of(site / "fine" / "approach" / "index.html")
    for name, text in all_text(site).items():
        assert "InternalQS" not in text, name


def test_an_extension_that_could_read_files_stops_the_build(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    project = write_project(tmp_path / "p")
    config = yaml.safe_load((project / "mkdocs.yml").read_text())
    config["markdown_extensions"].append("pymdownx.b64")  # embeds files it reads from disk
    (project / "mkdocs.yml").write_text(yaml.safe_dump(config))
    write_deal(project / "deals", "one", make_deal())
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build"], cwd=project, env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "pymdownx.b64: not known to be safe in deal sites" in result.stderr
    config["plugins"][1]["dealroom"]["trusted_markdown_extensions"] = ["pymdownx.b64"]
    (project / "mkdocs.yml").write_text(yaml.safe_dump(config))
    trusted = subprocess.run([sys.executable, "-m", "mkdocs", "build"], cwd=project, env=env,
                             capture_output=True, text=True)  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
