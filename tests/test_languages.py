"""Deal rooms in the buyer's language: dealroom's words from gettext catalogs (Babel), in
every shipped language, plurals included; catalogs complete and current; the German
example without an English word of dealroom's; Material's interface localised too."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from conftest import (
    REPO,
    browser_needed,
    make_deal,
    run_build,
    set_plugin_options,
    write_deal,
    write_project,
)
from dealroom.deal.i18n import LANGUAGES, LOCALE_DIR

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
# Per language: a heading, "in 127 days", "1 of 3 steps done", "over 1 year" (plural
# forms), and Material's search placeholder.
EXPECTED = {
    "en": ("Key dates", "in 127 days", "1 of 3 steps done", "over 1 year", "Search"),
    "de": ("Wichtige Termine", "in 127 Tagen", "1 von 3 Schritten erledigt", "über 1 Jahr",
           "Suche"),
    "fr": ("Dates clés", "dans 127 jours", "1 sur 3 étapes terminées", "sur 1 an",
           "Rechercher"),
    "es": ("Fechas clave", "en 127 días", "1 de 3 pasos completados", "en 1 año", "Búsqueda"),
    "nl": ("Belangrijke data", "over 127 dagen", "1 van 3 stappen klaar", "over 1 jaar",
           "Zoeken"),
}  # fmt: skip


def visible_text(page: Path) -> str:
    text = page.read_text(encoding="utf-8")
    article = text[text.index("<article") : text.index("</article>")]
    article = re.sub(r"<(script|style)\b.*?</\1>", " ", article, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", article)).split())


def catalog(language: str) -> dict:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        return {message.id: message.string for message in read_po(stream) if message.id}


def test_every_language_writes_its_own_words(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    for language in LANGUAGES:
        deal = make_deal(language=language)
        deal["business_case"]["investment"]["horizon_years"] = 1
        deal["mutual_action_plan"]["steps"][1]["status"] = "done"  # 1 of 3 done
        write_deal(project / "deals", f"deal-{language}", deal)
    one_step = make_deal(language="de")
    one_step["mutual_action_plan"]["steps"] = one_step["mutual_action_plan"]["steps"][:1]
    write_deal(project / "deals", "one-step", one_step)
    site = run_build(project)
    for language, (heading, days, progress, horizon, search) in EXPECTED.items():
        page = site / f"deal-{language}" / "index.html"
        text = visible_text(page)
        assert heading in text and days in text and progress in text, (language, text[:600])
        case = visible_text(site / f"deal-{language}" / "business-case" / "index.html")
        assert horizon in case, (language, case[:800])
        raw = page.read_text(encoding="utf-8")
        assert f'<html lang="{language}"' in raw
        assert f'placeholder="{search}"' in raw
    assert "0 von 1 Schritt erledigt" in visible_text(site / "one-step" / "index.html")
    # The seller's dashboard stays in English, whatever the deals' languages.
    dashboard = (site / "index.html").read_text(encoding="utf-8")
    assert "Pipeline dashboard" in dashboard and '<html lang="en"' in dashboard


def test_the_language_defaults_from_the_locale_and_is_checked(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "german", make_deal(locale="de_AT"))
    write_deal(project / "deals", "english", make_deal(locale="it_IT"))  # no catalog: en
    write_deal(project / "deals", "typo", make_deal(language="it"))
    result = subprocess.run(["dealroom", "check"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 1
    assert re.search(r"deals/typo/deal\.yml:\d+:\d+: language: must be one of 'en', 'de', "
                     r"'fr', 'es' or 'nl' \(got 'it'\)", result.stderr), result.stderr  # fmt: skip
    shutil.rmtree(project / "deals" / "typo")
    site = run_build(project)
    assert "Wichtige Termine" in visible_text(site / "german" / "index.html")
    assert "Key dates" in visible_text(site / "english" / "index.html")


def test_catalogs_are_current_and_complete(tmp_path: Path) -> None:
    """The template is what `pybabel extract` finds now, and every catalog translates
    every message, with the same placeholders (a missing one would fail at render)."""
    extracted = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", "-o", str(extracted),
                    "--no-location", "--sort-output", "."], cwd=REPO, check=True)  # fmt: skip
    with extracted.open("rb") as stream:
        found = {message.id for message in read_po(stream) if message.id}
    with (LOCALE_DIR / "messages.pot").open("rb") as stream:
        committed = {message.id for message in read_po(stream) if message.id}
    assert found == committed, "run `pybabel extract` (README, Languages)"
    for language in LANGUAGES[1:]:
        translations = catalog(language)
        assert set(translations) == found, f"{language}: run `pybabel update` and translate"
        for msgid, msgstr in translations.items():
            ids = msgid if isinstance(msgid, tuple) else (msgid,)
            strs = msgstr if isinstance(msgstr, tuple) else (msgstr,)
            assert all(strs), f"{language}: {msgid!r} is not translated"
            wanted = set(PLACEHOLDER.findall(ids[-1]))
            for text in strs:
                assert set(PLACEHOLDER.findall(text)) == wanted, (language, msgid, text)


def test_the_german_example_holds_no_english_word_of_dealrooms(tmp_path: Path) -> None:
    """No English phrase of dealroom's anywhere on the German example's pages, and no
    English word of it as a heading, table header or label. (A single word may be the
    seller's own text: "Customer Success Manager" is a job title.)"""
    project = tmp_path / "examples"
    shutil.copytree(REPO / "deals", project / "deals")
    shutil.copytree(REPO / "theme_overrides", project / "theme_overrides")
    shutil.copy(REPO / "mkdocs.yml", project / "mkdocs.yml")
    site = run_build(project)
    german = catalog("de")
    every = {
        page: page.read_text(encoding="utf-8") for page in (site / "alpine-retail").rglob("*.html")
    }
    pages = {page: raw for page, raw in every.items() if "<article" in raw}
    assert len(pages) >= 8
    texts = {page: visible_text(page) for page in pages}
    labels = {page: {" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
                     for cell in re.findall(r"<(?:h[1-3]|th|dt|label|button)\b[^>]*>(.*?)</", raw,
                                            re.DOTALL)}
              for page, raw in pages.items()}  # fmt: skip
    for msgid, msgstr in german.items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        strs = msgstr if isinstance(msgstr, tuple) else (msgstr,)
        for english in ids:
            for part in PLACEHOLDER.split(english):
                part = part.strip(" .,:;()")
                if len(part) < 4 or any(part in text for text in strs):
                    continue  # too short to tell, or the same in German ("Go-live")
                if " " not in part:
                    for page, found in labels.items():
                        assert part not in found, f"{page}: English label '{part}'"
                    continue
                pattern = re.compile(rf"(?<![\w-]){re.escape(part)}(?![\w-])")
                for page, text in texts.items():
                    assert not pattern.search(text), f"{page}: English '{part}'"


@browser_needed
def test_the_search_field_speaks_german(tmp_path: Path, browser) -> None:
    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "fjordline", make_deal(language="de"))
    site = run_build(project)
    page = browser.new_page()
    page.goto((site / "fjordline" / "index.html").as_uri())
    assert page.get_attribute("input[name=query]", "placeholder") == "Suche"
    assert page.get_attribute("html", "lang") == "de"
    assert page.locator("text=Wichtige Termine").count() >= 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_forms_follow_the_language(language: str) -> None:
    from dealroom.deal.i18n import translations

    chosen = translations(language)
    one = chosen.ngettext("in %(num)d day", "in %(num)d days", 1) % {"num": 1}
    many = chosen.ngettext("in %(num)d day", "in %(num)d days", 5) % {"num": 5}
    assert one != many.replace("5", "1")


def test_password_pages_speak_the_deal_rooms_language_and_401_pages_stay_alike(
    tmp_path: Path,
) -> None:
    from dealroom.publish.access import Scope, add_viewer
    from dealroom.publish.access_pages import UNAUTHORIZED_DIR
    from dealroom.publish.releases import publish

    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "german", make_deal(language="de"))
    write_deal(project / "deals", "english", make_deal())
    for slug in ("german", "english"):
        add_viewer(project, Scope.of(project, project / "deals", slug), f"{slug}-viewer")
    add_viewer(project, Scope.of(project, project / "deals", None), "team")
    publish(project / "mkdocs.yml", tmp_path / "encrypted", mode="encrypted")
    locked = (tmp_path / "encrypted" / "current" / "sites" / "german" / "index.html").read_text()
    assert '<html lang="de"' in locked and "Privater Deal Room" in locked
    assert "Passwort" in locked and "Auf diesem Gerät merken" in locked
    assert "Dies ist ein privater Deal Room von <strong>Ledgerly</strong>." in locked
    assert "Fjordline" not in locked  # still never the customer
    english = (tmp_path / "encrypted" / "current" / "sites" / "english" / "index.html").read_text()
    assert '<html lang="en"' in english and "Private deal room" in english
    # nginx: every 401 page the same bytes, in every language of the host's deal rooms,
    # so probing addresses tells nothing (not even which deal rooms are German).
    publish(project / "mkdocs.yml", tmp_path / "nginx")
    pages = tmp_path / "nginx" / "current" / UNAUTHORIZED_DIR
    german_page = (pages / "german.html").read_text()
    assert german_page == (pages / "english.html").read_text()
    assert german_page == (pages / ".unknown.html").read_text()
    assert '<html lang="en"' in german_page and "<h1" in german_page
    english, german = german_page.split('<section lang="de" aria-labelledby="dealroom-title-de">')
    assert "Private deal room" in english
    assert "It opens only with a user name and password." in english
    assert '<h2 id="dealroom-title-de">Privater Deal Room</h2>' in german
    assert "Dies ist ein privater Deal Room von <strong>Ledgerly</strong>." in german
    assert "Private deal room" not in german and "Fjordline" not in german_page
    # Only English deal rooms: an English page, as before.
    write_deal(project / "deals", "german", make_deal())
    publish(project / "mkdocs.yml", tmp_path / "nginx")
    english_only = (pages / "german.html").read_text()  # through `current`, now the new one
    assert 'lang="de"' not in english_only and "Privater" not in english_only


def test_the_seller_reads_the_dashboard_and_reports_in_their_own_language(
    tmp_path: Path,
) -> None:
    """The root `language` option: the dashboard and the CLI's reports in it; each deal
    room stays in its own, and switching the seller's language rebuilds no deal room."""
    project = write_project(tmp_path / "project", language="de")
    write_deal(project / "deals", "english", make_deal())
    write_deal(project / "deals", "french", make_deal(language="fr"))
    site = run_build(project)
    dashboard = visible_text(site / "index.html")
    for words in (
        "Pipeline-Dashboard",
        "Bewertung nach Phase",
        "Phase 3 (2)",
        "Abschlussquote",
        "Noch nicht beteiligt",
        "Nächster Schritt",
        "Per Dahl (Wirtschaftlicher Entscheider)",  # a role, in German
        "Bisher nur Verkäuferseite: auf Kundenseite hat noch niemand beigetragen.",
    ):
        assert words in dashboard, (words, dashboard[:1500])  # fmt: skip
    assert "Jede Pflichtfähigkeit der Art zuordnen, wie das Angebot sie erfüllt" in dashboard
    assert "Drucken / als PDF speichern" in dashboard  # the page's own controls too
    assert "Pipeline dashboard" not in dashboard and "Seller-only" not in dashboard
    assert '<html lang="de"' in (site / "index.html").read_text()  # Material's words too
    assert "Key dates" in visible_text(site / "english" / "index.html")
    assert "Dates clés" in visible_text(site / "french" / "index.html")
    assert "Wichtige Termine" not in (site / "english" / "index.html").read_text()

    score = subprocess.run(["dealroom", "score", "english"], cwd=project, capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert score.startswith("Deal ") and "Phase" in score.splitlines()[0]
    assert "english: 2,4 von 5 (48 % bereit), Ziel 4,0 für Phase 3" in score, score
    assert "  Vorgehen auf Stufe 1, begrenzt durch: mindestens 3 Fähigkeiten" in score
    assert "  als Nächstes: Per Dahl bitten, die Kosten von EUR 240.000/Jahr für" in score
    gate = subprocess.run(["dealroom", "check", "--gate", "french"], cwd=project,
                          capture_output=True, text=True)  # fmt: skip
    assert gate.returncode == 1
    assert "french: Business Case 2,4 liegt unter dem Ziel 4,0 für Phase 3" in gate.stderr
    assert "  Vorgehen (Stufe 1) braucht: mindestens 3 Fähigkeiten," in gate.stderr

    # Another seller language: the dashboard follows; the deal rooms are put back as
    # they were (the same files, not built again).
    before = {slug: (site / slug / "index.html").stat().st_ino for slug in ("english", "french")}
    set_plugin_options(project, language="nl")
    run_build(project)
    assert "Pipelinedashboard" in visible_text(site / "index.html")
    assert '<html lang="nl"' in (site / "index.html").read_text()
    assert before == {slug: (site / slug / "index.html").stat().st_ino for slug in before}


def test_the_dashboard_never_takes_a_deal_rooms_language(tmp_path: Path) -> None:
    """However many deal rooms in other languages were built before it in this process,
    the dashboard's sentences (the threading verdict, the next moves) are the seller's."""
    project = write_project(tmp_path / "project", workers=1)
    for language in LANGUAGES:
        write_deal(project / "deals", f"deal-{language}", make_deal(language=language))
    dashboard = visible_text(run_build(project) / "index.html")
    assert "Seller-only so far: nobody on the buyer side has contributed yet." in dashboard
    assert "Match every must-have capability to how the offer meets it (met_by)" in dashboard
    assert "Print / save as PDF" in dashboard
    for language in LANGUAGES[1:]:
        german_or_other = catalog(language)
        for msgid in ("Pipeline dashboard", "Next move", "Single-threaded: only %(who)s "
                      "has contributed.", "Seller-only so far: nobody on the buyer side "
                      "has contributed yet."):  # fmt: skip
            assert german_or_other[msgid].split("%")[0] not in dashboard, (language, msgid)


def test_the_activity_report_in_the_sellers_language() -> None:
    from dealroom.deal.i18n import in_language
    from dealroom.seller.activity import Person
    from dealroom.seller.activity_report import as_text

    ingrid = Person("ingrid", "buyer", "Ingrid Solberg", "Finanzchefin", "champion", True)
    viewer = {"side": "buyer", "label": ingrid.label, "pages": {"business-case/": 2},
              "business_case_opened": "2026-11-20 09:00 UTC", "visits": 1, "page_views": 2,
              "first": "2026-11-20 09:00 UTC", "last": "2026-11-24 10:00 UTC",
              "forwardable": True, "networks": 2, "browsers": 1}  # fmt: skip
    report = {"slug": "fjordline", "viewers": [viewer], "team": [],
              "last_buyer_view": "2026-11-24 10:00 UTC", "never_opened": [],
              "never_opened_business_case": []}  # fmt: skip
    with in_language("de"):  # as `dealroom activity` makes the report and prints it
        viewer["label"] = ingrid.label
        lines = as_text(report)
    assert lines == [
        "fjordline: 1 Leser auf Kundenseite, zuletzt auf Kundenseite gelesen 2026-11-24 10:00 UTC",
        "  Ingrid Solberg (Finanzchefin, Champion) [weitergebbarer Zugang]: 1 Besuch, "
        "2 Seitenaufrufe, 2026-11-20 09:00 UTC bis 2026-11-24 10:00 UTC; Business Case "
        "geöffnet 2026-11-20 09:00 UTC",
        "    Hinweis auf Weitergabe: geöffnet aus 2 Netzwerken und mit 1 Browser seit 2026-11-20",
    ]
    assert as_text(report)[0].startswith("fjordline: 1 buyer-side viewer, last buyer view")


def test_the_activity_command_speaks_the_sellers_language(tmp_path: Path) -> None:
    """`dealroom activity` on a log of the host (a line as nginx writes it), in German:
    the viewers' roles and the forwardable credential in German too."""
    from dealroom.publish.access import Scope, add_viewer

    project = write_project(tmp_path / "project", language="de")
    write_deal(project / "deals", "fjordline", make_deal())
    scope = Scope.of(project, project / "deals", "fjordline")
    add_viewer(project, scope, "per", "Per Dahl", forwardable=True)
    add_viewer(project, scope, "ingrid", "Ingrid Solberg")
    log = tmp_path / "access.log"
    log.write_text(
        '127.0.0.1 - per [24/Nov/2026:10:00:00 +0000] "GET /fjordline/business-case/ '
        'HTTP/1.1" 200 5120 "-" "Mozilla/5.0"\n'
    )
    result = subprocess.run(["dealroom", "activity", "--log", str(log)], cwd=project,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "fjordline: 1 Leser auf Kundenseite, zuletzt auf Kundenseite gelesen " in result.stdout
    assert "  Per Dahl (CFO, Wirtschaftlicher Entscheider) [weitergebbarer Zugang]: 1 Besuch, " \
           "1 Seitenaufruf, " in result.stdout  # fmt: skip
    assert "Deal Room nie geöffnet: Ingrid Solberg (Finance Director, Champion)" in result.stdout


def test_the_dashboard_keeps_its_language_where_deals_build_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without fork (Windows), deal rooms build one after another in this process, each
    in its own language: the dashboard after them is still the seller's."""
    import multiprocessing

    from dealroom.deal.i18n import current_language

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    project = write_project(tmp_path / "project", language="fr")
    for language in ("de", "nl"):
        write_deal(project / "deals", f"deal-{language}", make_deal(language=language))
    site = run_build(project)
    dashboard = visible_text(site / "index.html")
    assert "Tableau de bord du pipeline" in dashboard and "Prochaine action" in dashboard
    assert "Wichtige Termine" in visible_text(site / "deal-de" / "index.html")
    assert "Belangrijke data" in visible_text(site / "deal-nl" / "index.html")
    assert current_language() == "en"  # and nothing of it lingers in this process


@pytest.mark.parametrize(
    ("language", "move"),
    [
        ("en", "Quantify the cost of inaction with its basis; ask Per Dahl to confirm the "
               "EUR 240,000/year cost of manual matching"),
        ("de", "Die Kosten des Nichthandelns mit ihrer Grundlage beziffern; Per Dahl bitten, "
               "die Kosten von EUR 240.000/Jahr für Manual matching zu bestätigen"),
        ("nl", "De kosten van niets doen met onderbouwing kwantificeren; Per Dahl vragen de "
               "kosten van EUR 240.000/jaar voor manual matching te bevestigen"),
    ],
)  # fmt: skip
def test_a_move_after_a_semicolon_keeps_the_names_capital(
    tmp_path: Path, language: str, move: str
) -> None:
    project = write_project(tmp_path / "project", language=language)
    deal = make_deal()
    for cost in deal["business_case"]["cost_of_inaction"]:
        cost.pop("basis", None)  # the problem's level 2 then asks for one
    write_deal(project / "deals", "fjordline", deal)
    score = subprocess.run(["dealroom", "score"], cwd=project, capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert move in score, score


def test_a_damaged_page_record_is_no_branding() -> None:
    from dealroom.publish.access_pages import Branding, Contact

    branding = Branding("Ledgerly", Contact("Tom Ashby", "AE", "tom@ledgerly.example"), "de")
    assert Branding.from_record(branding.as_record()) == branding
    damaged = (
        None, "x", [], {}, {"seller": "Ledgerly"},
        {"seller": "L", "contact": 3, "language": "de"},
        {"seller": "L", "contact": {"name": "T"}, "language": "de"},
    )  # fmt: skip
    for record in damaged:
        assert Branding.from_record(record) is None, record
    odd = Branding.from_record({"seller": "L", "contact": None, "language": "xx"})
    assert odd == Branding("L", None, "en")  # a language without a catalog: English


def test_401_pages_stay_alike_for_a_kept_deal_and_after_a_release_without_records(
    tmp_path: Path,
) -> None:
    """A German deal that no longer builds stays online (`publish` keeps it): its
    language still counts, from release.json. A live release from before the records
    gives English pages, still the same bytes for every address."""
    import json

    from dealroom.publish.access import Scope, add_viewer
    from dealroom.publish.access_pages import UNAUTHORIZED_DIR
    from dealroom.publish.releases import publish

    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "german", make_deal(language="de"))
    write_deal(project / "deals", "english", make_deal())
    for slug in ("german", "english"):
        add_viewer(project, Scope.of(project, project / "deals", slug), f"{slug}-viewer")
    out = tmp_path / "out"
    publish(project / "mkdocs.yml", out)
    (project / "deals" / "german" / "deal.yml").write_text("stage: [unclosed\n")
    result = publish(project / "mkdocs.yml", out)
    assert result.kept == ["german"] and result.published == ["english"]
    pages = out / "current" / UNAUTHORIZED_DIR
    contents = {
        (pages / name).read_text() for name in ("german.html", "english.html", ".unknown.html")
    }
    [page] = contents
    assert '<section lang="de"' in page
    record = out / "current" / "release.json"
    data = json.loads(record.read_text())
    assert data["deals"]["german"]["page"]["language"] == "de"
    for entry in data["deals"].values():
        entry.pop("page")  # as a release from before the records
    record.write_text(json.dumps(data))
    publish(project / "mkdocs.yml", out)
    contents = {
        (pages / name).read_text() for name in ("german.html", "english.html", ".unknown.html")
    }
    [page] = contents
    assert 'lang="de"' not in page and "Private deal room" in page
