"""The example deal rooms as buyers read them, in a real headless Chromium: printed on A4
as a pre-read, on a 390 px phone, at 1280 px, with a screen reader's eyes (axe-core),
and after unlocking in encrypted mode.

The example deals are built as they are (not shortened to pass), from a git repository
in which each deal's champion made the last change, so every page has a history.
axe-core is the copy packaged in `axe-playwright-python` (installed with the test
needs); nothing is fetched while the tests run.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import (
    REPO,
    browser_needed,
    make_deal,
    run_build,
    static_host,
    write_deal,
    write_project,
)
from dealroom.publish.access import Scope, add_viewer
from dealroom.publish.releases import publish

pytestmark = [
    browser_needed,
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]

EXAMPLES = sorted(path.parent.name for path in (REPO / "deals").glob("*/deal.yml"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SERIOUS = ("serious", "critical")


def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def commit_as_champion(root: Path, slug: str) -> None:
    """One commit per deal by its champion, so pages have a dated, named history."""
    deal = yaml.safe_load((root / "deals" / slug / "deal.yml").read_text(encoding="utf-8"))
    champion = next(p for p in deal["stakeholders"] if p.get("role") == "champion")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": champion["name"],
        "GIT_AUTHOR_EMAIL": champion.get("email") or "champion@customer.example",
        "GIT_COMMITTER_NAME": "dealroom tests",
        "GIT_COMMITTER_EMAIL": "tests@dealroom.example",
        "GIT_AUTHOR_DATE": "2026-11-20T10:00:00+00:00",
        "GIT_COMMITTER_DATE": "2026-11-20T10:00:00+00:00",
    }
    for args in (["add", f"deals/{slug}"], ["commit", "-q", "-m", f"Update {slug}"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's example deals in a project of their own, under git."""
    root = write_project(tmp_path_factory.mktemp("examples") / "project")
    shutil.rmtree(root / "deals")
    shutil.copytree(REPO / "deals", root / "deals")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    for slug in EXAMPLES:
        commit_as_champion(root, slug)
    return root


@pytest.fixture(scope="module")
def site(examples: Path) -> Path:
    return run_build(examples)


@pytest.fixture(scope="module")
def host(site: Path) -> Iterator[str]:
    with static_host(site) as url:
        yield url


@pytest.fixture(scope="module")
def module_browser():
    from conftest import CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def deal_pages(site: Path, slug: str) -> list[str]:
    """Every page of a deal site, as URL paths below the deal's root."""
    folders = [
        path.parent.relative_to(site / slug).as_posix()
        for path in (site / slug).rglob("index.html")
        if "dealroom" not in path.parts and "search" not in path.parts
    ]
    return sorted("" if folder == "." else folder + "/" for folder in folders)


def open_page(browser, url: str, viewport: dict[str, int], **context_options):
    context = browser.new_context(viewport=viewport, **context_options)
    page = context.new_page()
    page.goto(url)
    page.wait_for_load_state("load")
    return page


# --- print ------------------------------------------------------------------------------


def pdf_pages(page) -> list[str]:
    """The text of each A4 page of the page's printout."""
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(page.pdf(format="A4", print_background=True)))
    return [pdf_page.extract_text() or "" for pdf_page in reader.pages]


def squeezed(text: str) -> str:
    """Text without whitespace: a PDF breaks lines (even inside long words) where the
    page did, and its text extraction joins them in its own way."""
    return re.sub(r"\s+", "", text)


def found_in_order(cell: str, text: str) -> bool:
    """Whether the cell's words appear in `text` in order (other cells' lines of the
    same row may come between them in a PDF's text)."""
    position = 0
    for word in cell.split():
        position = text.find(squeezed(word), position)
        if position < 0:
            return False
        position += len(squeezed(word))
    return True


# What the examples' pages say in their own language: alpine-retail is a German deal room.
WORDS = {
    "en": {"print": "Print / save as PDF", "cost": "Cost of doing nothing",
           "computed": "How the figures are computed", "updated": "Last updated",
           "done": "Done", "days": " days)", "copy": "Copy link", "copied": "Link copied",
           "terms": ["Cost of doing nothing", "Investment", "Net benefit",
                     "Return on investment", "Payback"]},
    "de": {"print": "Drucken / als PDF speichern", "cost": "Kosten des Nichthandelns",
           "computed": "Wie die Zahlen berechnet werden", "updated": "Zuletzt aktualisiert",
           "done": "Erledigt", "days": " Tagen)", "copy": "Link kopieren",
           "copied": "Link kopiert",
           "terms": ["Kosten des Nichthandelns", "Investition", "Nettonutzen", "Rendite",
                     "Amortisation"]},
}  # fmt: skip


def words(slug: str) -> dict:
    return WORDS["de" if slug == "alpine-retail" else "en"]


def table_rows(page) -> list[list[str]]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.md-content table tr')].map(
            (row) => [...row.cells].map((cell) => cell.innerText.trim()).filter(Boolean))"""
    )


@pytest.mark.parametrize("slug", EXAMPLES)
def test_the_business_case_without_its_detail_prints_on_at_most_two_a4_pages(
    module_browser, host, slug
) -> None:
    page = open_page(module_browser, f"{host}/{slug}/business-case/", DESKTOP)
    assert page.is_visible(f"text={words(slug)['print']}")
    pages = pdf_pages(page)
    assert len(pages) <= 2, f"{slug}: the one-page case printed on {len(pages)} pages"
    printed = squeezed("".join(pages))
    assert squeezed(words(slug)["cost"]) in printed
    assert squeezed(words(slug)["computed"]) not in printed  # the detail part
    # A printout leads back to the live page and says how fresh it is.
    assert squeezed(f"{host}/{slug}/business-case/") in printed
    assert squeezed(words(slug)["updated"]) in printed


@pytest.mark.parametrize(("slug", "path"), [
    *((slug, "business-case/") for slug in EXAMPLES),
    *((slug, "mutual-action-plan/") for slug in EXAMPLES),
])  # fmt: skip
def test_the_full_printout_holds_every_table_cell_with_no_row_split_and_no_orphan_heading(
    module_browser, host, slug, path
) -> None:
    page = open_page(module_browser, f"{host}/{slug}/{path}", DESKTOP)
    if page.is_visible("[data-dealroom-print-detail]"):
        page.check("[data-dealroom-print-detail]")
    page.emulate_media(media="print")
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('.md-content td, .md-content th')]
            .filter((cell) => cell.scrollWidth > cell.clientWidth + 1)
            .map((cell) => cell.innerText)"""
    )
    assert clipped == [], f"cells cut off in print: {clipped}"
    headings = page.evaluate(
        "() => [...document.querySelectorAll('.md-content h2, .md-content h3')]"
        ".map((h) => h.innerText.trim())"
    )
    rows = table_rows(page)
    pages = pdf_pages(page)
    squeezed_pages = [squeezed(text) for text in pages]
    everything = "".join(squeezed_pages)
    for row in rows:
        for cell in row:
            assert found_in_order(cell, everything), f"{slug}/{path}: {cell!r} not printed"
        assert any(all(found_in_order(cell, text) for cell in row) for text in squeezed_pages), (
            f"{slug}/{path}: the row {row} is split across pages"
        )
    for number, text in enumerate(pages[:-1], start=1):
        last_line = [line.strip() for line in text.splitlines() if line.strip()][-1]
        assert last_line not in headings, f"page {number} ends with the heading {last_line!r}"
    assert squeezed(words(slug)["updated"]) in everything
    if path == "business-case/" and slug != "northwind-freight":
        assert squeezed(words(slug)["computed"]) in everything


# --- phone and desktop ------------------------------------------------------------------

HIDDEN_CELLS = """() => {
  const width = innerWidth;
  const scrolls = (element) => {
    for (let e = element.parentElement; e; e = e.parentElement) {
      const overflow = getComputedStyle(e).overflowX;
      if (["auto", "scroll", "hidden"].includes(overflow) && e.scrollWidth > e.clientWidth + 1) {
        return true;
      }
    }
    return false;
  };
  return [...document.querySelectorAll('.md-content td')].filter((cell) => {
    const box = cell.getBoundingClientRect();
    return box.left < -1 || box.right > width + 1 || scrolls(cell);
  }).map((cell) => cell.innerText.slice(0, 40));
}"""

TOO_WIDE = """() => [...document.querySelectorAll('.md-main *')]
  .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 1)
  .filter((e) => !e.closest('thead'))  // kept, clipped, for screen readers
  .map((e) => e.tagName + '.' + e.className)"""


@pytest.mark.parametrize("slug", EXAMPLES)
def test_on_a_phone_nothing_is_wider_than_the_screen_and_no_table_hides_a_column(
    module_browser, site, host, slug
) -> None:
    for path in deal_pages(site, slug):
        page = open_page(module_browser, f"{host}/{slug}/{path}", PHONE)
        where = f"{slug}/{path}"
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth"), where
        assert page.evaluate(TOO_WIDE) == [], where
        assert page.locator(".dealroom-updated").count() == 1, f"{where}: no last-updated line"
        assert page.evaluate(HIDDEN_CELLS) == [], where
        # Each stacked cell says which column it is.
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('.md-content table[data-dealroom-stacked] td')]
                .filter((td) => td.innerText.trim())
                .filter((td) => getComputedStyle(td, '::before').content !== `"${td.dataset.label}"`
                                || !td.dataset.label)
                .map((td) => td.innerText.slice(0, 40))"""
        )
        assert unlabelled == [], where
        # ... and everything in the cell sits to the right of that label.
        under_label = page.evaluate(
            """() => [...document.querySelectorAll('table[data-dealroom-stacked] td')]
                .filter((td) => td.querySelector('.dealroom-cell'))
                .filter((td) => {
                  const range = document.createRange();
                  range.selectNodeContents(td.querySelector('.dealroom-cell'));
                  const left = td.getBoundingClientRect().left + td.clientWidth * 0.25;
                  return [...range.getClientRects()].some((box) => box.width && box.left < left);
                }).map((td) => td.innerText.slice(0, 40))"""
        )
        assert under_label == [], where
        page.context.close()


def test_stacked_tables_follow_column_and_row_spans(module_browser, tmp_path) -> None:
    project = write_project(tmp_path / "project")
    table = (
        "<table><thead><tr><th colspan=2>Wide</th><th>Last</th></tr></thead><tbody>"
        "<tr><td rowspan=2>a1</td><td>b1</td><td>c1</td></tr><tr><td>b2</td><td>c2</td></tr>"
        "<tr><th>h3</th><td>b3</td><td>c3</td></tr></tbody></table>"
    )
    no_header = "<table><tbody><tr><td>x</td><td>y</td></tr></tbody></table>"
    markdown = "| One | Two |\n|---|---|\n| 1 | 2 |\n"
    terms = f"# Terms\n\n{table}\n\n{no_header}\n\n{markdown}"
    write_deal(project / "deals", "spans", make_deal(), {"context/terms.md": terms})
    site = run_build(project)
    with static_host(site) as url:
        page = open_page(module_browser, f"{url}/spans/context/terms/", PHONE)
        labels = page.evaluate(
            """() => Object.fromEntries(
                [...document.querySelectorAll('.md-content td, .md-content tbody th')].map(
                  (cell) => [cell.innerText.trim(),
                             [cell.dataset.label || null, cell.getAttribute('role')]]))"""
        )
        page.context.close()
    assert labels == {
        "a1": ["Wide", "cell"], "b1": ["Wide", "cell"], "c1": ["Last", "cell"],
        "b2": ["Wide", "cell"], "c2": ["Last", "cell"],
        "h3": ["Wide", "rowheader"], "b3": ["Wide", "cell"], "c3": ["Last", "cell"],
        "x": [None, None], "y": [None, None],  # no header row: left as a table
        "1": ["One", "cell"], "2": ["Two", "cell"],
    }  # fmt: skip


def test_on_a_phone_the_plan_shows_status_and_overdue_at_a_glance(
    module_browser, host, examples
) -> None:
    page = open_page(module_browser, f"{host}/alpine-retail/mutual-action-plan/", PHONE)
    statuses = page.locator("table[data-dealroom-stacked] td[data-label=Status]")
    assert statuses.count() == 14
    for index in range(statuses.count()):
        assert statuses.nth(index).is_visible()
        assert statuses.nth(index).bounding_box()["x"] + 10 < PHONE["width"]
    assert words("alpine-retail")["done"] in statuses.first.inner_text()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
@pytest.mark.parametrize("slug", EXAMPLES)
def test_the_business_case_opens_on_its_headline_and_figures(
    module_browser, host, slug, viewport
) -> None:
    page = open_page(module_browser, f"{host}/{slug}/business-case/", viewport)
    strip = page.locator(".dealroom-strip")
    assert strip.count() == 1
    assert strip.bounding_box()["y"] < viewport["height"], "the figures are below the first screen"
    terms = strip.locator("dt").all_inner_texts()
    if slug != "northwind-freight":  # an early-stage deal: no investment yet
        assert terms[:5] == words(slug)["terms"]
    order = page.evaluate(
        """() => ['.dealroom-headline', '.dealroom-strip', '#problem', '#case-detail']
            .map((selector) => document.querySelector(selector))
            .filter(Boolean).map((e) => e.getBoundingClientRect().top)"""
    )
    assert order == sorted(order)


def test_the_overview_opens_on_dates_next_steps_figures_and_whom_to_ask(
    module_browser, host
) -> None:
    page = open_page(module_browser, f"{host}/alpine-retail/", DESKTOP)
    assert page.locator(".dealroom-strip").bounding_box()["y"] < DESKTOP["height"]
    tops = page.evaluate(
        """() => ['#key-dates', '#due-next', '.dealroom-progress', '.dealroom-contact',
                  '#who-is-involved']
                 .map((s) => document.querySelector(s).getBoundingClientRect().top)"""
    )
    assert tops[:-1] == sorted(tops[:-1]) and tops[-1] > max(tops[:-1])
    contact = page.locator(".dealroom-contact").inner_text()
    assert "Jonas Eberhardt" in contact and "jonas.eberhardt@tallbridge.example" in contact
    dates = page.locator(".dealroom-dates").inner_text()
    assert dates.count(words("alpine-retail")["days"]) >= 2  # days left


def test_copy_link_copies_the_page_address_and_the_detail_checkbox_sets_what_prints(
    module_browser, host
) -> None:
    page = open_page(
        module_browser, f"{host}/alpine-retail/business-case/#case-detail", DESKTOP,
        permissions=["clipboard-read", "clipboard-write"],
    )  # fmt: skip
    page.click(f"text={words('alpine-retail')['copy']}")
    assert page.evaluate("() => navigator.clipboard.readText()") == (
        f"{host}/alpine-retail/business-case/"
    )
    assert words("alpine-retail")["copied"] in page.locator(".dealroom-action-status").inner_text()
    brief_class = "() => document.documentElement.classList.contains('dealroom-print-brief')"
    brief = page.evaluate(brief_class)
    page.check("[data-dealroom-print-detail]")
    full = page.evaluate(brief_class)
    assert (brief, full) == (True, False)


# --- accessibility --------------------------------------------------------------------------


def serious_violations(page) -> list[str]:
    page.evaluate(axe_source())  # evaluated, not injected: the pages' policy forbids that
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']} {v['help']}"
        for v in violations
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
@pytest.mark.parametrize("slug", EXAMPLES)
def test_axe_finds_no_serious_or_critical_violation_on_any_page(
    module_browser, site, host, slug, viewport
) -> None:
    context = module_browser.new_context(viewport=viewport)
    page = context.new_page()
    found = {}
    for path in deal_pages(site, slug):
        page.goto(f"{host}/{slug}/{path}")
        page.wait_for_load_state("load")
        if violations := serious_violations(page):
            found[path] = violations
    context.close()
    assert found == {}


@pytest.fixture(scope="module")
def encrypted(examples: Path, site: Path) -> Iterator[tuple[str, str]]:
    """alpine-retail published in encrypted mode: its URL and a viewer's password."""
    password = add_viewer(examples, Scope.of(examples, examples / "deals", "alpine-retail"), "cfo")
    out = examples.parent / "published"
    result = publish(examples / "mkdocs.yml", out, mode="encrypted")
    assert "alpine-retail" in result.published
    with static_host(out / "current" / "sites") as url:
        yield f"{url}/alpine-retail/", password


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_axe_finds_no_serious_violation_after_unlocking_an_encrypted_deal_room(
    module_browser, site, encrypted, viewport
) -> None:
    url, password = encrypted
    page = open_page(module_browser, url + "business-case/", viewport)
    page.wait_for_selector("#dealroom-password", state="visible")  # after asking open tabs
    assert serious_violations(page) == []  # the password page itself
    page.fill("#dealroom-password", password)
    page.click("button[type=submit]")
    page.wait_for_selector(".dealroom-strip")
    page.wait_for_load_state("load")
    assert serious_violations(page) == []
    found = {}
    for path in deal_pages(site, "alpine-retail"):  # every other page opens unlocked
        page.goto(url + path)
        page.wait_for_selector(".md-content")
        page.wait_for_load_state("load")
        if violations := serious_violations(page):
            found[path] = violations
    assert found == {}
    page.context.close()
