"""Real `mkdocs build` runs on real deal folders: pages, figures, plan, markers."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from conftest import make_deal, run_build, text_of, write_deal, write_project
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import Abort

DEAL_PAGES = [
    "index.html",
    "business-case/index.html",
    "mutual-action-plan/index.html",
    "contributors/index.html",
    "search/search_index.json",
    "sitemap.xml",
]


def test_every_deal_folder_becomes_its_own_site(project: Path) -> None:
    write_deal(
        project / "deals", "fjordline", make_deal(), files={"approach.md": "# Approach\n\nPilot."}
    )
    write_deal(project / "deals", "second", make_deal(customer="Second Customer"))
    site = run_build(project, strict=True)
    for slug in ("fjordline", "second"):
        for page in DEAL_PAGES:
            assert (site / slug / page).is_file(), f"{slug}/{page}"
    assert (site / "fjordline" / "approach" / "index.html").is_file()
    # Published builds leave out an approach page the seller has not written.
    assert not (site / "second" / "approach").exists()
    assert "Second Customer" in text_of(site / "second" / "index.html")


def test_business_case_shows_headline_tables_and_computed_figures(project: Path) -> None:
    narrative = {"business-case.md": "## Why now\n\nThe auditors flagged it."}
    write_deal(project / "deals", "fjordline", make_deal(), files=narrative)
    site = run_build(project)
    text = text_of(site / "fjordline" / "business-case" / "index.html")
    assert (
        "Because of the e-invoicing mandate, we should automate invoice matching by "
        "Mar 1, 2027. After, we'll avoid fines while unlocking a five-day close." in text
    )
    assert (
        "Developed by: Ingrid Solberg (Finance Director, Fjordline Shipping) and Per Dahl" in text
    )
    assert "Strategic priority: Finance 2027, owned by Per Dahl, CFO" in text
    assert "Manual matching €240,000 / year 50 % 23 clerks x 30% AP time study" in text
    assert "Days to close 9 5 Jun 30, 2027" in text  # KPI row: metric | current | target | by
    # Hand-computed: benefit 240k x 50% + 60k = 180k/yr; investment 60k + 96k x 3 = 348k;
    # net 540k - 348k = 192k; ROI 192/348 = 55 %; payback 60k / (84k / 12) = 8.6 months.
    assert "Cost of doing nothing per year €300,000" in text
    assert "Benefit per year (the avoidable share) €180,000" in text
    assert "Investment over 3 years €348,000" in text
    assert "Net benefit over 3 years €192,000" in text
    assert "Return on investment 55 %" in text
    assert "Payback period 8.6 months" in text
    assert "Why now The auditors flagged it." in text  # business-case.md merged in
    assert "MISSING" not in text
    page = (site / "fjordline" / "business-case" / "index.html").read_text()
    # Sections and narrative headings each appear once in the page's table of contents.
    toc = page[page.index('data-md-component="toc"') : page.index('class="md-content"')]
    copies = toc.count('href="#problem" class="md-nav__link"')
    assert copies >= 1
    for anchor in ("target-outcomes", "required-investment", "computation", "why-now"):
        assert toc.count(f'href="#{anchor}" class="md-nav__link"') == copies, anchor
    assert "¶" not in toc


def test_figures_follow_the_deal_locale_and_currency(project: Path) -> None:
    write_deal(project / "deals", "fjordline", make_deal(locale="de_DE"))
    site = run_build(project)
    text = text_of(site / "fjordline" / "business-case" / "index.html")
    assert "192.000 €" in text
    assert "01.03.2027" in text


def test_plan_is_date_ordered_with_overdue_steps_marked(project: Path) -> None:
    write_deal(project / "deals", "fjordline", make_deal())
    site = run_build(project)
    page = (site / "fjordline" / "mutual-action-plan" / "index.html").read_text()
    text = text_of(site / "fjordline" / "mutual-action-plan" / "index.html")
    order = [
        text.index(title) for title in ("Discovery workshop", "Legal redlines", "Security review")
    ]
    assert order == sorted(order)
    rows = re.findall(r'<tr class="([^"]*)">\s*<td>([^<]*)</td>\s*<td>([^<]*)', page)
    overdue = [title for classes, _due, title in rows if "dealroom-overdue" in classes]
    assert overdue == ["Legal redlines"]  # due Nov 20, as_of Nov 25, not done
    assert "Overdue (5 days ago)" in text
    assert "At risk : 1 of 3 steps done (33 %), 1 in progress, 0 blocked, 1 overdue" in text
    # An owner who is not listed, with their side given: named with their company.
    assert "Fjordline legal Fjordline Shipping" in text
    assert "Done Oct 30, 2026" in text


def test_as_of_moves_overdue_and_days_left(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", as_of="2027-03-31")
    write_deal(project / "deals", "fjordline", make_deal())
    site = run_build(project)
    overview = text_of(site / "fjordline" / "index.html")
    assert "EU e-invoicing mandate takes effect: Apr 1, 2027 (tomorrow)" in overview
    plan = text_of(site / "fjordline" / "mutual-action-plan" / "index.html")
    assert "2 overdue" in plan and "Off track" in plan


def test_overview_shows_dates_people_and_next_steps(project: Path) -> None:
    write_deal(project / "deals", "fjordline", make_deal())
    site = run_build(project)
    text = text_of(site / "fjordline" / "index.html")
    assert "Fjordline closes its books in nine days; the board wants five." in text
    assert "EU e-invoicing mandate takes effect: Apr 1, 2027 (in 127 days)" in text
    assert "Go-live: Mar 1, 2027 (in 96 days)" in text
    # People by name and job title: the sales-method roles are the seller's view.
    assert "Ingrid Solberg , Finance Director" in text
    assert "Tom Ashby , Account Executive" in text
    assert "Per Dahl , CFO" in text
    assert "Champion" not in text and "Economic buyer" not in text
    # Next due: open steps in date order; the done discovery workshop is not listed.
    overdue = "Overdue (5 days ago), planned"
    assert f"Nov 20, 2026 Legal redlines Fjordline legal, Fjordline Shipping {overdue}" in text
    assert "Discovery workshop" not in text


def test_missing_markers_in_preview_and_clean_published_page(tmp_path: Path) -> None:
    sparse = make_deal(summary=None, business_case={}, compelling_event=None, go_live=None,
                       signature_target=None)  # fmt: skip
    preview = write_project(tmp_path / "preview", missing_markers="show")
    write_deal(preview / "deals", "early", sparse)
    published = write_project(tmp_path / "published")
    write_deal(published / "deals", "early", sparse)

    shown = text_of(run_build(preview) / "early" / "business-case" / "index.html")
    for gap in ("MISSING: headline.change", "MISSING: business_case.cost_of_inaction",
                "MISSING: business_case.outcomes", "MISSING: the computed ROI"):  # fmt: skip
        assert gap in shown
    assert "Seller preview" in (tmp_path / "preview/site/early/index.html").read_text()
    assert (tmp_path / "preview/site/early/approach/index.html").is_file()

    clean_site = run_build(published)
    for page in clean_site.joinpath("early").rglob("*.html"):
        assert "MISSING" not in page.read_text(), page
    clean = text_of(clean_site / "early" / "business-case" / "index.html")
    assert "Because of" not in clean  # an incomplete headline is left out, not invented
    headings = ("Problem", "Target outcomes", "How the figures", "Recommended approach", "Detail")
    for empty in headings:
        assert empty not in clean  # no heading without content under it
    assert "Key dates" not in text_of(clean_site / "early" / "index.html")


def test_missing_markers_auto_shows_them_under_serve(project: Path) -> None:
    write_deal(project / "deals", "early", make_deal(summary=None))
    site = run_build(project, command="serve")
    assert "MISSING: summary" in text_of(site / "early" / "index.html")


def test_context_pages_and_assets_are_published(project: Path) -> None:
    folder = write_deal(project / "deals", "fjordline", make_deal(),
                        files={"context/it-security.md": "# IT and security\n\nSSO via SAML.\n\n"
                                                "![diagram](../assets/flow.svg)"})  # fmt: skip
    (folder / "assets").mkdir()
    (folder / "assets" / "flow.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    site = run_build(project, strict=True)
    page = site / "fjordline" / "context" / "it-security" / "index.html"
    assert "SSO via SAML." in text_of(page)
    assert (site / "fjordline" / "assets" / "flow.svg").is_file()
    assert "IT and security" in text_of(site / "fjordline" / "index.html")  # "Read more" list


def test_bad_deal_is_skipped_and_others_build(project: Path, mkdocs_logs) -> None:
    write_deal(project / "deals", "good", make_deal())
    write_deal(project / "deals", "broken", "customer: X\nstage: [\n")
    write_deal(project / "deals", "wrong", make_deal(stage=9))
    site = run_build(project)
    assert (site / "good" / "business-case" / "index.html").is_file()
    assert not (site / "broken").exists() and not (site / "wrong").exists()
    errors = [r.getMessage() for r in mkdocs_logs.records if r.levelname == "ERROR"]
    assert any(re.match(r"deals/broken/deal.yml:\d+:\d+: invalid YAML", m) for m in errors)
    assert any(
        m.startswith("deals/wrong/deal.yml:7:8: stage: input should be less than or equal to 5")
        for m in errors
    )
    assert "deal 'wrong' skipped: fix the problems above to build it" in errors


def test_strict_build_fails_on_a_bad_deal_after_building_the_rest(project: Path) -> None:
    write_deal(project / "deals", "good", make_deal())
    write_deal(project / "deals", "wrong", make_deal(step="negotiate"))
    with pytest.raises(Abort):
        run_build(project, strict=True)
    assert (project / "site" / "good" / "business-case" / "index.html").is_file()


def test_unknown_key_is_a_warning_that_fails_only_strict(project: Path, mkdocs_logs) -> None:
    deal = make_deal()
    deal["stakholders"] = []
    write_deal(project / "deals", "fjordline", deal)
    run_build(project)
    warnings = [r.getMessage() for r in mkdocs_logs.records if r.levelname == "WARNING"]
    assert any("stakholders: unknown key, ignored; did you mean 'stakeholders'?" in w
               for w in warnings)  # fmt: skip
    with pytest.raises(Abort):
        run_build(project, strict=True)


def test_only_listed_deals_are_built(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", deals=["one"])
    write_deal(project / "deals", "one", make_deal())
    write_deal(project / "deals", "two", make_deal())
    site = run_build(project)
    assert (site / "one" / "index.html").is_file()
    assert not (site / "two").exists()


def test_theme_overrides_replace_dealroom_partials(project: Path) -> None:
    override = project / "theme_overrides" / "dealroom" / "partials" / "business-case"
    override.mkdir(parents=True)
    (override / "figures.html").write_text('<h3 id="numbers">Our numbers</h3>{{ deal.stage }}')
    write_deal(project / "deals", "fjordline", make_deal())
    site = run_build(project)
    text = text_of(site / "fjordline" / "business-case" / "index.html")
    assert "Our numbers 3" in text
    assert "Payback period" not in text  # the detail's computation, replaced


def test_the_repository_example_deals_build_strictly(tmp_path: Path) -> None:
    import shutil

    from conftest import REPO

    project = tmp_path / "repo"
    shutil.copytree(REPO / "deals", project / "deals")
    write_project(project)
    site = run_build(project, strict=True)
    slugs = sorted(
        path.name for path in (REPO / "deals").iterdir() if (path / "deal.yml").is_file()
    )
    assert len(slugs) >= 3
    for slug in slugs:
        for page in DEAL_PAGES:
            assert (site / slug / page).is_file(), f"{slug}/{page}"


def test_a_folder_without_deal_yml_is_reported(project: Path, mkdocs_logs) -> None:
    write_deal(project / "deals", "fjordline", make_deal())
    (project / "deals" / "half-started").mkdir()
    (project / "deals" / "half-started" / "notes.md").write_text("draft")
    site = run_build(project)
    warnings = [r.getMessage() for r in mkdocs_logs.records if r.levelname == "WARNING"]
    assert "dealroom: deals/half-started has no deal.yml; skipped" in warnings
    assert not (site / "half-started").exists()


def test_the_overview_names_whom_to_ask_on_the_seller_side(project: Path) -> None:
    deal = make_deal()
    deal["stakeholders"].append({"name": "Kim Berg", "title": "Solution Engineer",
                                 "side": "seller", "role": "solution engineer",
                                 "email": "kim@ledgerly.example", "contact": True})  # fmt: skip
    write_deal(project / "deals", "fjordline", deal)
    write_deal(project / "deals", "plain", make_deal())
    site = run_build(project)
    assert (
        "Questions about this deal room? Ask Kim Berg, Solution Engineer at Ledgerly: "
        "kim@ledgerly.example ." in text_of(site / "fjordline" / "index.html")
    )
    page = (site / "fjordline" / "index.html").read_text()
    assert '<a href="mailto:kim@ledgerly.example">' in page
    # An email that is not a plain address is shown, never linked (no ?cc= or &body=).
    deal["stakeholders"][-1]["email"] = "kim@ledgerly.example?cc=x@evil.example"
    write_deal(project / "deals", "fjordline", deal)
    page = (run_build(project) / "fjordline" / "index.html").read_text()
    assert "mailto:" not in page and "kim@ledgerly.example?cc=x@evil.example" in page
    # Without `contact: true`: the account executive, here without an email address.
    assert "Ask Tom Ashby, Account Executive at Ledgerly." in text_of(site / "plain" / "index.html")


def test_link_previews_name_the_page_and_the_deal_room_and_never_a_figure(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "on")
    deal = make_deal(customer={"name": 'Fjord "<Line>" & Co'})
    write_deal(project / "deals", "fjordline", deal)
    site = run_build(project)
    for path in ("index.html", "business-case/index.html", "mutual-action-plan/index.html"):
        page = (site / "fjordline" / path).read_text()
        tags = dict(re.findall(r'<meta property="(og:[a-z]+)" content="([^"]*)">', page))
        assert set(tags) == {"og:type", "og:title", "og:description"}, path
        assert tags["og:title"].endswith(" · Fjord &#34;&lt;Line&gt;&#34; &amp; Co and Ledgerly")
        assert tags["og:description"] == (
            "Deal room shared by Ledgerly with Fjord &#34;&lt;Line&gt;&#34; &amp; Co."
        )
        shown = html.unescape(tags["og:title"] + tags["og:description"])
        assert not re.search(r"\d", shown)  # no figure, no date
    assert 'content="Business case · ' in (site / "fjordline/business-case/index.html").read_text()

    quiet = write_project(tmp_path / "off", link_preview=False)
    write_deal(quiet / "deals", "fjordline", make_deal())
    page = (run_build(quiet) / "fjordline" / "index.html").read_text()
    assert 'property="og:' not in page


def test_theme_files_are_written_once_and_each_deal_site_is_still_complete(
    project: Path, tmp_path: Path
) -> None:
    for slug in ("one", "two"):
        write_deal(project / "deals", slug, make_deal(), {"assets/own.txt": slug})
    site = run_build(project)
    script = next((site / "one" / "assets" / "javascripts").glob("bundle.*.min.js"))
    other = site / "two" / script.relative_to(site / "one")
    assert script.stat().st_ino == other.stat().st_ino  # one copy on disk
    css = site / "one" / "dealroom" / "assets" / "dealroom.css"
    assert (
        css.stat().st_ino == (site / "two" / "dealroom" / "assets" / "dealroom.css").stat().st_ino
    )
    # What is the deal's own is never shared.
    for own in ("index.html", "assets/own.txt", "search/search_index.json"):
        assert (site / "one" / own).stat().st_ino != (site / "two" / own).stat().st_ino
    # Copied alone (as `publish` and any web server copy does), a deal site is whole.
    alone = tmp_path / "alone"
    shutil.copytree(site / "one", alone)
    shutil.rmtree(site)
    assert (alone / script.relative_to(site / "one")).stat().st_size > 10_000
    assert all(path.is_file() and not path.is_symlink() for path in alone.rglob("*.js"))
    assert (alone / "dealroom" / "assets" / "dealroom.css").read_text().startswith("/* dealroom")


def test_the_garbage_collector_runs_again_after_a_build_however_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build pauses Python's collector and freezes its objects while workers fork:
    afterwards both are undone, after a build cut short by Ctrl-C too."""
    import gc
    import multiprocessing

    import dealroom.plugin
    from dealroom.build.runner import build_project

    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "fjordline", make_deal())
    run_build(project)
    assert gc.isenabled() and gc.get_freeze_count() == 0

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    # Interrupted while the deal's worker builds (the dashboard is scored meanwhile).
    monkeypatch.setattr(dealroom.plugin, "remembered_rows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_project(project / "mkdocs.yml", tmp_path / "site")
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert not multiprocessing.active_children()  # the worker was stopped, not left
    # As the command ends, what is still alive is frozen for Python's exit; another
    # command in the same process thaws it.
    monkeypatch.undo()
    config = load_config(str(project / "mkdocs.yml"))
    config.plugins.on_startup(command="build", dirty=False)
    build(config)
    assert config.plugins["dealroom"].deals != []
    config.plugins.on_shutdown()  # the loaded deals are let go of, too
    assert gc.get_freeze_count() > 0 and config.plugins["dealroom"].deals == []
    config.plugins.on_startup(command="build", dirty=False)
    assert gc.isenabled() and gc.get_freeze_count() == 0
