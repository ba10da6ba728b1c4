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
from conftest import REPO, browser_needed, make_deal, run_build, write_deal, write_project
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
    # nginx: every 401 page the same bytes, the German deal's too, so probing addresses
    # tells nothing (not even which deal rooms are German).
    publish(project / "mkdocs.yml", tmp_path / "nginx")
    pages = tmp_path / "nginx" / "current" / UNAUTHORIZED_DIR
    german_page = (pages / "german.html").read_bytes()
    assert german_page == (pages / "english.html").read_bytes()
    assert b'<html lang="en"' in german_page and b"Private deal room" in german_page
