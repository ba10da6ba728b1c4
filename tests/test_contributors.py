"""The contributor log from real git history: real repositories made with `git` in
tmp_path, real in-process `mkdocs build` runs, assertions on the rendered pages."""

from __future__ import annotations

import datetime as dt
import gzip
import html as html_lib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import make_deal, run_build, site_files, text_of, write_deal, write_project
from dealroom.deal.loading import DealError, load_deal_folder
from dealroom.history.contributors import Contribution, Contributor, ContributorLog

REAL_GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(REAL_GIT is None, reason="git is not installed")

TOM = ("Tom Ashby", "tom@ledgerly.example")  # seller, account executive (by email)
INGRID = ("Ingrid Solberg", "ingrid@fjordline.example")  # buyer, champion (by email)
PER = ("PER DAHL", "p.dahl@home.example")  # buyer, economic buyer (by name only)
OLA = ("Ola Nordmann", "ola@fjordline.example")  # unlisted, customer's domain
XAVI = ("Xavi Stranger", "xavi@elsewhere.example")  # unlisted, unknown domain


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the machine's git configuration nor a repository around tmp_path leaks in
    (for the plugin's own git calls during the in-process builds)."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the real git (never a wrapper a test put on PATH) with no outside config."""
    full_env = {
        **os.environ,
        "HOME": str(cwd),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Setup",
        "GIT_AUTHOR_EMAIL": "setup@setup.example",
        "GIT_COMMITTER_NAME": "Setup",
        "GIT_COMMITTER_EMAIL": "setup@setup.example",
        **(env or {}),
    }
    result = subprocess.run(
        [REAL_GIT, *args], cwd=cwd, env=full_env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def init_repo(root: Path) -> Path:
    """A new repository whose build output and history cache stay untracked."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("site/\n.cache/\n", encoding="utf-8")
    return root


def commit(
    repo: Path,
    message: str,
    *,
    author: tuple[str, str],
    date: str,
    co_authors: tuple[tuple[str, str], ...] = (),
) -> str:
    """Commit every change as `author` on `date` (YYYY-MM-DD, 10:00 UTC) with one
    `Co-authored-by:` trailer per co-author; return the commit id."""
    git(repo, "add", "-A")
    stamp = f"{date}T10:00:00+00:00"
    trailers = "\n".join(f"Co-authored-by: {name} <{email}>" for name, email in co_authors)
    text = f"{message}\n\n{trailers}\n" if trailers else f"{message}\n"
    env = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0],
        "GIT_COMMITTER_EMAIL": author[1],
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    git(repo, "commit", "-q", "--no-verify", "-m", text, env=env)
    return git(repo, "rev-parse", "HEAD")


def deal_with_people(**changes) -> dict:
    """The conftest deal with emails and domains on both sides."""
    deal = make_deal(seller={"name": "Ledgerly", "domains": ["ledgerly.example"]}, **changes)
    deal["stakeholders"][2]["email"] = TOM[1]
    return deal


def timeline(site: Path, slug: str) -> list[dict[str, str]]:
    """The rows of a deal's contributor timeline, newest first, cell by cell."""
    page = (site / slug / "contributors" / "index.html").read_text(encoding="utf-8")
    rows = []
    for css, body in re.findall(r'<tr class="dealroom-side-(\w+)">(.*?)</tr>', page, re.DOTALL):
        cells = re.findall(r"<td>(.*?)</td>", body, re.DOTALL)
        date, person, title, company, changed, how = (
            [_plain(part) for part in cell.split("<br>", 1)] for cell in cells
        )
        rows.append({
            "date": date[0], "person": person[0], "email": person[1] if len(person) > 1 else "",
            "title": title[0], "company": company[0], "changed": changed[0],
            "note": changed[1] if len(changed) > 1 else "", "how": how[0], "css": css,
        })  # fmt: skip
    return rows


def shapers(site: Path, slug: str) -> dict[str, list[tuple[str, ...]]]:
    """'Who helped write this case': {side heading: [(name, title, shaped, when), ...]}."""
    page = (site / slug / "contributors" / "index.html").read_text(encoding="utf-8")
    found = re.findall(
        r'<h3 id="[\w-]+">(.*?)</h3>\s*<div class="dealroom-shapers"><table>.*?<tbody>(.*?)'
        r"</tbody>", page, re.DOTALL,
    )  # fmt: skip
    cells = re.compile(r"<td>(.*?)</td>", re.DOTALL)
    return {
        _plain(heading): [tuple(_plain(cell) for cell in cells.findall(row))
                          for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)]
        for heading, body in found
    }  # fmt: skip


def _plain(fragment: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def contributors_text(site: Path, slug: str) -> str:
    return text_of(site / slug / "contributors" / "index.html")


def footer(site: Path, slug: str, page: str) -> str:
    """The "Last updated <date> by <names>" line of a page ("" when there is none)."""
    path = site / slug / (page.removesuffix("index.md").removesuffix(".md")) / "index.html"
    found = re.search(r"Last updated [^<]*", path.read_text(encoding="utf-8"))
    return found.group(0).strip() if found else ""


def all_site_text(site: Path) -> str:
    """Every file of the whole output (gzip files unpacked), so a canary cannot hide."""
    texts = []
    for name, data in site_files(site).items():
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        texts.append(data.decode("utf-8", errors="replace"))
    return "\n".join(texts)


def edit(project: Path, slug: str, deal: dict | str, files: dict[str, str] | None = None) -> None:
    write_deal(project / "deals", slug, deal, files)


RECORDED_CALL = {
    "who": "Per Dahl",
    "date": "2026-10-10",
    "what": "Confirmed the penalty figures",
    "section": "business_case.cost_of_inaction",
    "via": "call",
}
SECURITY_PAGE = "# Security\n\n## Access\n\nSSO only.\n"


def story(tmp_path: Path, *, build_between: bool = False) -> tuple[Path, Path, list[Path]]:
    """One deal shaped by people on both sides over seven commits; returns (repo,
    project, sites built after the 2nd, 3rd and 6th commits when `build_between`)."""
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo)
    sites = []
    deal = deal_with_people()
    files = {"business-case.md": "## Why now\n\nThe auditors flagged it.\n",
             "context/security.md": SECURITY_PAGE}  # fmt: skip
    edit(project, "fjordline", deal, files)
    commit(repo, "Start the Fjordline deal", author=TOM, date="2026-10-01")
    deal["business_case"]["problem"]["statement"] = "Invoices are matched by hand, slowly."
    edit(project, "fjordline", deal)
    commit(repo, "Sharpen the problem", author=TOM, date="2026-10-05", co_authors=(INGRID,))
    if build_between:
        sites.append(run_build(project).rename(tmp_path / "site-1"))
    edit(project, "fjordline", deal, {"business-case.md": "## Why now\n\nThe auditors, twice.\n"})
    commit(repo, "Add the second audit finding", author=OLA, date="2026-10-08")
    if build_between:
        sites.append(run_build(project).rename(tmp_path / "site-2"))
    deal["summary"] = "Fjordline closes its books in nine days; five is the goal."
    edit(project, "fjordline", deal)
    commit(repo, "Reword the summary", author=XAVI, date="2026-10-12")
    deal["mutual_action_plan"]["steps"][2]["status"] = "in progress"
    edit(project, "fjordline", deal)
    commit(repo, "Legal has started", author=PER, date="2026-10-15")
    edit(project, "fjordline", deal, {"context/security.md": SECURITY_PAGE + "MFA as well.\n"})
    commit(
        repo, "MFA too", author=("ingrid SOLBERG", "ingrid.private@mail.example"), date="2026-10-20"
    )
    if build_between:
        sites.append(run_build(project).rename(tmp_path / "site-3"))
    deal["contributions"] = [RECORDED_CALL]
    edit(project, "fjordline", deal)
    commit(repo, "Record Per's call", author=TOM, date="2026-10-22")
    return repo, project, sites


# --- 1, 3: sides, titles and the summary ------------------------------------------------


def test_people_show_with_their_company_and_title_and_the_summary_counts_each_side(
    tmp_path: Path,
) -> None:
    _repo, _project, (first, second, third) = story(tmp_path, build_between=True)

    text = contributors_text(first, "fjordline")
    assert (
        "1 person from Fjordline Shipping and 1 from Ledgerly have shaped this deal room; the "
        "latest contribution was on Oct 5, 2026." in text
    )
    rows = timeline(first, "fjordline")
    # The seller by email, the champion from the Co-authored-by trailer, both credited.
    assert [
        (r["person"], r["title"], r["company"]) for r in rows if r["date"] == "Oct 5, 2026"
    ] == [
        ("Tom Ashby", "Account Executive", "Ledgerly"),
        ("Ingrid Solberg", "Finance Director", "Fjordline Shipping"),
    ]

    # An unlisted person from the customer's email domain: the customer's, no title.
    text = contributors_text(second, "fjordline")
    assert "2 people from Fjordline Shipping and 1 from Ledgerly have shaped" in text
    assert "the latest contribution was on Oct 8, 2026." in text
    assert timeline(second, "fjordline")[0] == {
        "date": "Oct 8, 2026", "person": "Ola Nordmann", "email": "", "title": "",
        "company": "Fjordline Shipping", "changed": "Business case: Why now", "note": "",
        "how": "Edit", "css": "buyer",
    }  # fmt: skip

    # Ingrid (by email and, from another address, by name), Ola, Per (by name); Xavi's
    # domain is neither side's.
    text = contributors_text(third, "fjordline")
    assert (
        "3 people from Fjordline Shipping, 1 from Ledgerly and 1 more have shaped this deal "
        "room; the latest contribution was on Oct 20, 2026." in text
    )
    people = {
        (r["person"], r["title"], r["company"], r["css"]) for r in timeline(third, "fjordline")
    }
    assert people == {
        ("Tom Ashby", "Account Executive", "Ledgerly", "seller"),
        ("Ingrid Solberg", "Finance Director", "Fjordline Shipping", "buyer"),
        ("Ola Nordmann", "", "Fjordline Shipping", "buyer"),
        ("Xavi Stranger", "", "Other", "unknown"),
        ("Per Dahl", "CFO", "Fjordline Shipping", "buyer"),
    }
    # Who helped write it, per side, most recent first: what they shaped, in the reader's
    # words (a page's title, the business case, the plan), and when.
    helped = shapers(third, "fjordline")
    assert list(helped) == ["Fjordline Shipping", "Ledgerly", "Others"]
    assert helped["Fjordline Shipping"] == [
        ("Ingrid Solberg", "Finance Director", "Security, Business case",
         "Oct 5, 2026 to Oct 20, 2026"),
        ("Per Dahl", "CFO", "Mutual action plan", "Oct 15, 2026"),
        ("Ola Nordmann", "", "Business case", "Oct 8, 2026"),
    ]  # fmt: skip
    [(name, title, shaped, when)] = helped["Ledgerly"]
    assert (name, title, when) == ("Tom Ashby", "Account Executive", "Oct 1, 2026 to Oct 5, 2026")
    assert {"Business case", "Security", "Summary", "Mutual action plan", "People involved",
            "Go-live date"} <= set(shaped.split(", "))  # fmt: skip
    assert helped["Others"] == [("Xavi Stranger", "", "Summary", "Oct 12, 2026")]
    # Its headings carry ids, so the sidebar lists them.
    page = (third / "fjordline" / "contributors" / "index.html").read_text(encoding="utf-8")
    toc = page[page.index('data-md-component="toc"') : page.index('class="md-content"')]
    for anchor in ("who-helped", "buyer-side", "seller-side", "other-people", "timeline"):
        assert f'href="#{anchor}"' in toc, anchor


def test_a_stakeholder_is_matched_by_name_whatever_the_case_when_the_email_differs(
    tmp_path: Path,
) -> None:
    _repo, project, _ = story(tmp_path)
    site = run_build(project)
    rows = {r["date"]: r for r in timeline(site, "fjordline")}
    # "PER DAHL <p.dahl@home.example>": Per Dahl has no email in deal.yml.
    assert (rows["Oct 15, 2026"]["person"], rows["Oct 15, 2026"]["title"]) == ("Per Dahl", "CFO")
    # "ingrid SOLBERG <ingrid.private@…>": Ingrid's listed email is another one.
    assert (rows["Oct 20, 2026"]["person"], rows["Oct 20, 2026"]["title"]) == (
        "Ingrid Solberg",
        "Finance Director",
    )
    page = (site / "fjordline" / "contributors" / "index.html").read_text(encoding="utf-8")
    assert "PER DAHL" not in page and "ingrid SOLBERG" not in page


# --- 2: the timeline ---------------------------------------------------------------------


def test_timeline_is_newest_first_with_what_changed_and_where_it_came_from(
    tmp_path: Path,
) -> None:
    repo, project, _ = story(tmp_path)
    write_project(repo, contributors_show_messages=True)
    site = run_build(project)
    rows = timeline(site, "fjordline")
    short = [(r["date"], r["person"], r["title"], r["company"], r["how"]) for r in rows]
    assert short == [
        ("Oct 22, 2026", "Tom Ashby", "Account Executive", "Ledgerly", "Edit"),
        ("Oct 20, 2026", "Ingrid Solberg", "Finance Director", "Fjordline Shipping", "Edit"),
        ("Oct 15, 2026", "Per Dahl", "CFO", "Fjordline Shipping", "Edit"),
        ("Oct 12, 2026", "Xavi Stranger", "", "Other", "Edit"),
        ("Oct 10, 2026", "Per Dahl", "CFO", "Fjordline Shipping", "Call"),
        ("Oct 8, 2026", "Ola Nordmann", "", "Fjordline Shipping", "Edit"),
        ("Oct 5, 2026", "Tom Ashby", "Account Executive", "Ledgerly", "Edit"),
        ("Oct 5, 2026", "Ingrid Solberg", "Finance Director", "Fjordline Shipping", "Edit"),
        ("Oct 1, 2026", "Tom Ashby", "Account Executive", "Ledgerly", "Edit"),
    ]
    changed = [(r["changed"], r["note"]) for r in rows]
    assert changed[:8] == [
        ("Contributions", "Record Per's call"),
        ("Security: Access", "MFA too"),  # a context page's heading, under its title
        ("Mutual action plan: steps", "Legal has started"),
        ("Summary", "Reword the summary"),
        ("Business case: cost of inaction", "Confirmed the penalty figures"),
        ("Business case: Why now", "Add the second audit finding"),  # business-case.md
        ("Business case: problem", "Sharpen the problem"),
        ("Business case: problem", "Sharpen the problem"),
    ]
    first = changed[8][0].split("; ")
    assert changed[8][1] == "Start the Fjordline deal"
    expected = {"Business case: Why now", "Security: Security", "Security: Access", "Customer",
                "Go-live date", "Business case: problem", "Mutual action plan: steps",
                "People involved", "Contract signature date"}  # fmt: skip
    assert expected <= set(first)
    assert "Contributions" not in first  # added later, by another commit
    # The seller's pipeline fields are in that commit too, but no deal page shows them.
    assert not {"Stage", "Step", "Deal value"} & set(first)


# --- 4: emails ---------------------------------------------------------------------------


def test_emails_are_shown_only_when_the_option_asks_for_them(tmp_path: Path) -> None:
    repo, project, _ = story(tmp_path)
    emails = [TOM[1], INGRID[1], PER[1], OLA[1], XAVI[1], "ingrid.private@mail.example"]
    site = run_build(project)
    page = (site / "fjordline" / "contributors" / "index.html").read_text(encoding="utf-8")
    assert [email for email in emails if email in page] == []
    # Nor anywhere else; Tom's address may be on the overview, as the seller's contact.
    output = all_site_text(site)
    assert [email for email in emails[1:] if email in output] == []

    write_project(repo, contributors_show_emails=True)
    site = run_build(project)
    shown = {(r["person"], r["email"], r["how"]) for r in timeline(site, "fjordline")}
    assert shown == {
        ("Tom Ashby", TOM[1], "Edit"),
        ("Ingrid Solberg", INGRID[1], "Edit"),  # the listed one, also for her private address
        ("Per Dahl", PER[1], "Edit"),  # no listed email: the one he committed with
        ("Per Dahl", "", "Call"),  # a recorded contribution has no address
        ("Ola Nordmann", OLA[1], "Edit"),
        ("Xavi Stranger", XAVI[1], "Edit"),
    }
    helped = shapers(site, "fjordline")
    assert helped["Ledgerly"][0][0] == f"Tom Ashby {TOM[1]}"
    assert helped["Others"][0][0] == f"Xavi Stranger {XAVI[1]}"


# --- 4b: commit messages -----------------------------------------------------------------


def test_commit_messages_show_only_when_asked_for_and_recorded_notes_always(
    tmp_path: Path,
) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo)
    edit(project, "fjordline", deal_with_people(contributions=[RECORDED_CALL]))
    commit(repo, "QQMSGCANARY priced below the list for Per", author=TOM, date="2026-10-01",
           co_authors=(INGRID,))  # fmt: skip
    site = run_build(project)
    assert "QQMSGCANARY" not in all_site_text(site)
    notes = [(r["person"], r["note"]) for r in timeline(site, "fjordline")]
    # What a recorded contribution says was written for the log: it always shows.
    assert notes == [
        ("Per Dahl", "Confirmed the penalty figures"),
        ("Tom Ashby", ""),
        ("Ingrid Solberg", ""),
    ]

    write_project(repo, contributors_show_messages=True)
    site = run_build(project)
    notes = [(r["person"], r["note"]) for r in timeline(site, "fjordline")]
    assert notes == [
        ("Per Dahl", "Confirmed the penalty figures"),
        ("Tom Ashby", "QQMSGCANARY priced below the list for Per"),
        ("Ingrid Solberg", "QQMSGCANARY priced below the list for Per"),
    ]
    # On the contributors page only (the timeline is kept out of the search index).
    holding = [name for name, data in site_files(site).items() if b"QQMSGCANARY" in data]
    assert holding == ["fjordline/contributors/index.html"]


# --- 5: seller-only material -------------------------------------------------------------

IVY = ("Ivy Inside", "ivy@ledgerly.example")  # seller's domain: listed if ever counted


def test_internal_changes_are_never_listed_nor_their_messages_published(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo, contributors_show_messages=True)  # even with messages on
    deal = deal_with_people(internal={"pricing_floor": 100000}, opened="2026-09-01")
    edit(project, "fjordline", deal, {"internal/notes.md": "# Notes\n\nFloor 100k.\n"})
    commit(repo, "Start the deal", author=TOM, date="2026-10-01")
    edit(project, "fjordline", deal, {"internal/notes.md": "# Notes\n\nFloor 140k.\n"})
    commit(repo, "QQNOTESCANARY floor is 140k", author=IVY, date="2026-10-04")
    deal["internal"] = {"pricing_floor": 140000, "walk_away": "QQYAMLVALUE"}
    edit(project, "fjordline", deal)
    commit(repo, "QQYAMLCANARY raise the floor", author=IVY, date="2026-10-07")
    # The pipeline fields only the seller's dashboard reads: no deal page shows them.
    deal |= {"stage": 4, "step": "resolve", "deal_value": 210000, "opened": "2026-09-02"}
    edit(project, "fjordline", deal)
    commit(repo, "QQSTAGECANARY moved to stage 4", author=IVY, date="2026-10-08")
    deal["internal"]["pricing_floor"] = 150000
    deal["summary"] = "Fjordline wants a five-day close."
    edit(project, "fjordline", deal)
    commit(repo, "Tighten the summary", author=OLA, date="2026-10-09")
    site = run_build(project)

    rows = timeline(site, "fjordline")
    assert [(r["date"], r["person"]) for r in rows] == [
        ("Oct 9, 2026", "Ola Nordmann"),
        ("Oct 1, 2026", "Tom Ashby"),
    ]
    assert rows[0]["changed"] == "Summary"  # the `internal:` part of that commit is not listed
    assert "Internal" not in rows[1]["changed"].split("; ")
    output = all_site_text(site)
    for secret in ("QQNOTESCANARY", "QQYAMLCANARY", "QQYAMLVALUE", "QQSTAGECANARY", "Ivy Inside"):
        assert secret not in output, secret
    assert "Tighten the summary" in output  # messages of published changes do show
    # The footers are not moved by seller-only changes either.
    assert footer(site, "fjordline", "index.md") == "Last updated Oct 9, 2026 by Ola Nordmann"
    assert footer(site, "fjordline", "mutual-action-plan.md") == (
        "Last updated Oct 1, 2026 by Tom Ashby"
    )


def test_adding_an_internal_section_below_a_blank_line_and_comment_is_not_listed(
    tmp_path: Path,
) -> None:
    """The usual way a seller starts notes: a blank line, a comment, then `internal:`."""
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo)
    text = yaml_text(deal_with_people())
    edit(project, "fjordline", text)
    commit(repo, "Start the deal", author=TOM, date="2026-10-01")
    edit(project, "fjordline", text + "\n# Seller-only\ninternal:\n  floor: QQYAMLVALUE\n")
    commit(repo, "QQADDEDCANARY pricing floor", author=IVY, date="2026-10-04")
    site = run_build(project)
    assert [(r["date"], r["person"]) for r in timeline(site, "fjordline")] == [
        ("Oct 1, 2026", "Tom Ashby")
    ]
    output = all_site_text(site)
    for secret in ("QQADDEDCANARY", "QQYAMLVALUE", "Ivy Inside"):
        assert secret not in output, secret


# --- 6: commits touching several deals ---------------------------------------------------

BOB = ("Bob Brink", "bob@brightwater.example")


def brightwater_deal() -> dict:
    """A second deal whose champion is Bob, unknown to the Fjordline deal."""
    deal = deal_with_people(customer={"name": "Brightwater", "domains": ["brightwater.example"]})
    deal["stakeholders"][0] |= {"name": BOB[0], "email": BOB[1]}
    deal["mutual_action_plan"]["steps"][0]["owner"] = BOB[0]
    return deal


def two_deals(tmp_path: Path, **options: object) -> tuple[Path, Path, dict, dict]:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo, **options)
    fjordline, brightwater = deal_with_people(), brightwater_deal()
    edit(project, "fjordline", fjordline)
    commit(repo, "Start Fjordline", author=TOM, date="2026-10-01")
    edit(project, "brightwater", brightwater, {"internal/notes.md": "# Notes\n"})
    commit(repo, "Start Brightwater", author=TOM, date="2026-10-02")
    return repo, project, fjordline, brightwater


def test_a_commit_to_two_deals_shows_only_known_people_and_no_message(tmp_path: Path) -> None:
    # Even with commit messages shown, a shared commit's message is not.
    repo, project, fjordline, brightwater = two_deals(tmp_path, contributors_show_messages=True)
    fjordline["summary"] = brightwater["summary"] = "Both close in five days."
    edit(project, "fjordline", fjordline)
    edit(project, "brightwater", brightwater)
    commit(repo, "QQSHAREDCANARY Brightwater wording", author=TOM, date="2026-10-05",
           co_authors=(BOB,))  # fmt: skip
    fjordline["go_live"] = "2027-02-15"
    edit(project, "fjordline", fjordline)
    commit(repo, "QQSINGLEMSG earlier go-live", author=TOM, date="2026-10-07")
    site = run_build(project)

    rows = timeline(site, "fjordline")
    assert [(r["date"], r["person"], r["changed"], r["note"]) for r in rows] == [
        ("Oct 7, 2026", "Tom Ashby", "Go-live date", "QQSINGLEMSG earlier go-live"),
        ("Oct 5, 2026", "Tom Ashby", "Summary", ""),  # Bob left out, message withheld
        ("Oct 1, 2026", "Tom Ashby", rows[2]["changed"], "Start Fjordline"),
    ]
    brightwater_rows = timeline(site, "brightwater")
    shared = [(r["person"], r["note"]) for r in brightwater_rows if r["date"] == "Oct 5, 2026"]
    assert shared == [("Tom Ashby", ""), ("Bob Brink", "")]  # Bob is known here
    fjordline_output = all_site_text(site / "fjordline")
    assert "Bob Brink" not in fjordline_output and BOB[1] not in fjordline_output
    assert "QQSHAREDCANARY" not in all_site_text(site)  # in neither deal, nor the root page
    assert "QQSINGLEMSG" in fjordline_output
    assert "QQSINGLEMSG" not in all_site_text(site / "brightwater")
    assert (
        footer(site, "brightwater", "index.md")
        == "Last updated Oct 5, 2026 by Tom Ashby and Bob Brink"
    )


def test_a_commit_to_two_deals_dates_both_deals_pages_naming_only_whom_each_knows(
    tmp_path: Path,
) -> None:
    repo, project, fjordline, brightwater = two_deals(tmp_path, contributors_show_messages=True)
    # Bob (Brightwater's champion) and Xavi (known to neither deal) update both plans and
    # both approach pages in one commit.
    for slug, deal in (("fjordline", fjordline), ("brightwater", brightwater)):
        deal["mutual_action_plan"]["steps"][0]["status"] = "done"
        deal["mutual_action_plan"]["steps"][0]["completed"] = "2026-10-05"
        edit(project, slug, deal, {"approach.md": "# Approach\n\nPilot in one region.\n"})
    commit(repo, "QQBOTHPLANS Brightwater and Fjordline plans", author=BOB, date="2026-10-05",
           co_authors=(XAVI,))  # fmt: skip
    site = run_build(project)

    for page in ("mutual-action-plan.md", "approach.md", "index.md"):
        assert footer(site, "fjordline", page) == "Last updated Oct 5, 2026", page
        assert footer(site, "brightwater", page) == "Last updated Oct 5, 2026 by Bob Brink", page
    # The commit credits nobody Fjordline knows: no row, so its contributors page still
    # dates from its last named contribution.
    assert [r["date"] for r in timeline(site, "fjordline")] == ["Oct 1, 2026"]
    assert footer(site, "fjordline", "contributors.md") == "Last updated Oct 1, 2026 by Tom Ashby"
    fjordline_output = all_site_text(site / "fjordline")
    for leak in ("Bob Brink", BOB[1], "Xavi", XAVI[1], "QQBOTHPLANS"):
        assert leak not in fjordline_output, leak
    assert "Xavi" not in all_site_text(site / "brightwater")
    assert "QQBOTHPLANS" not in all_site_text(site)

    # A commit to one deal only names its author.
    fjordline["mutual_action_plan"]["steps"][2]["status"] = "in progress"
    edit(project, "fjordline", fjordline)
    commit(repo, "Legal has started", author=INGRID, date="2026-10-07")
    site = run_build(project)
    assert footer(site, "fjordline", "mutual-action-plan.md") == (
        "Last updated Oct 7, 2026 by Ingrid Solberg"
    )
    assert footer(site, "fjordline", "approach.md") == "Last updated Oct 5, 2026"
    assert footer(site, "brightwater", "mutual-action-plan.md") == (
        "Last updated Oct 5, 2026 by Bob Brink"
    )


@pytest.mark.parametrize("other", ["internal notes", "skipped deal", "deleted deal"])
def test_a_commit_that_also_touched_another_deal_in_any_way_leaks_nothing(
    tmp_path: Path, other: str
) -> None:
    repo, project, fjordline, brightwater = two_deals(tmp_path)
    fjordline["summary"] = "Both close in five days."
    edit(project, "fjordline", fjordline)
    if other == "internal notes":
        (project / "deals" / "brightwater" / "internal" / "notes.md").write_text("# Bob\n")
    else:
        edit(project, "brightwater", brightwater | {"summary": "Both close in five days."})
    commit(repo, "QQHALFSHARED Brightwater pricing", author=TOM, date="2026-10-05",
           co_authors=(BOB,))  # fmt: skip
    if other == "skipped deal":
        edit(project, "brightwater", brightwater | {"stage": 9})  # invalid: not built
        commit(repo, "Stage nine", author=TOM, date="2026-10-06")
    elif other == "deleted deal":
        git(repo, "rm", "-q", "-r", "deals/brightwater")
        commit(repo, "Brightwater is gone", author=TOM, date="2026-10-06")
    site = run_build(project)
    if other != "internal notes":
        assert not (site / "brightwater" / "index.html").exists()
    rows = timeline(site, "fjordline")
    assert [(r["date"], r["person"]) for r in rows] == [
        ("Oct 5, 2026", "Tom Ashby"),
        ("Oct 1, 2026", "Tom Ashby"),
    ]
    assert "QQHALFSHARED" not in all_site_text(site)
    assert "Bob Brink" not in all_site_text(site / "fjordline")


# --- 7: renames ----------------------------------------------------------------------------


def test_history_survives_renaming_the_deal_folder_and_a_page(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo, contributors_show_messages=True)
    deal = deal_with_people()
    edit(project, "old-name", deal, {"context/sec.md": SECURITY_PAGE})
    commit(repo, "Start the deal", author=TOM, date="2026-10-01")
    deal["business_case"]["problem"]["statement"] = "Matched by hand, in Ingrid's words."
    edit(project, "old-name", deal)
    commit(repo, "Problem in Ingrid's words", author=INGRID, date="2026-10-04")
    edit(project, "old-name", deal, {"context/sec.md": SECURITY_PAGE + "MFA as well.\n"})
    commit(repo, "Access rules", author=OLA, date="2026-10-06")
    git(repo, "mv", "deals/old-name", "deals/fjordline")
    commit(repo, "Rename the deal folder", author=TOM, date="2026-10-08")
    git(repo, "mv", "deals/fjordline/context/sec.md", "deals/fjordline/context/security.md")
    commit(repo, "Rename the security page", author=TOM, date="2026-10-10")
    site = run_build(project)

    assert not (site / "old-name").exists()
    assert (site / "fjordline" / "context" / "security" / "index.html").is_file()
    rows = {(r["date"], r["person"]): r for r in timeline(site, "fjordline")}
    assert rows["Oct 4, 2026", "Ingrid Solberg"]["changed"] == "Business case: problem"
    # Labelled with the renamed page's title: the edit belongs to context/security.md.
    assert rows["Oct 6, 2026", "Ola Nordmann"]["changed"] == "Security: Access"
    assert rows["Oct 1, 2026", "Tom Ashby"]["note"] == "Start the deal"
    text = contributors_text(site, "fjordline")
    assert "2 people from Fjordline Shipping and 1 from Ledgerly have shaped" in text


@pytest.mark.parametrize("with_a_deal_yml_asset", [False, True])
def test_a_page_moved_in_from_another_deal_brings_none_of_that_deals_history(
    tmp_path: Path, with_a_deal_yml_asset: bool
) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo, contributors_show_messages=True)
    other = make_deal(customer={"name": "OtherCoQM", "domains": ["otherco.example"]})
    olga = ("Olga ContactQM", "olga@otherco.example")
    files = {"context/terms.md": "# Terms\n\n## OtherCoQM clauses\n\nx\n"}
    if with_a_deal_yml_asset:  # a file merely named deal.yml moves along: not a folder move
        files["assets/deal.yml"] = "just: a file\n"
    edit(project, "otherco", other, files)
    commit(repo, "Terms agreed with OtherCoQM", author=olga, date="2026-10-01")
    edit(project, "fjordline", deal_with_people())
    commit(repo, "Start the deal", author=TOM, date="2026-10-02")
    edit(project, "otherco", other, {"context/terms.md": "# Terms\n\n## Clauses\n\nx\n"})
    commit(repo, "Neutral heading for reuse QMSUBJECT", author=olga, date="2026-10-03")
    (project / "deals" / "fjordline" / "context").mkdir()
    git(repo, "mv", "deals/otherco/context/terms.md", "deals/fjordline/context/terms.md")
    if with_a_deal_yml_asset:
        (project / "deals" / "fjordline" / "assets").mkdir()
        git(repo, "mv", "deals/otherco/assets/deal.yml", "deals/fjordline/assets/deal.yml")
    commit(repo, "Reuse the terms page", author=TOM, date="2026-10-05")
    site = run_build(project)

    fjordline = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in (site / "fjordline").rglob("*") if path.is_file()
    )  # fmt: skip
    for canary in ("OtherCoQM", "Olga", "QMSUBJECT", "otherco"):
        assert canary not in fjordline, canary
    rows = timeline(site, "fjordline")
    assert [row["note"] for row in rows] == ["", "Start the deal"]  # the move: no message
    assert "Terms" in rows[0]["changed"] and rows[0]["person"] == "Tom Ashby"
    # The history stays where it happened, with the deal it happened in.
    assert "Olga ContactQM" in contributors_text(site, "otherco")


def test_a_lost_deals_folder_reused_for_another_customer_keeps_its_history_to_itself(
    tmp_path: Path,
) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo)
    lost = make_deal(customer={"name": "LostCoQR", "domains": ["lostco.example"]})
    edit(project, "lostco", lost, {"context/terms.md": "# Terms\n\n## LostCoQR terms\n"})
    commit(repo, "Terms with LostCoQR", author=("Lars LostQR", "lars@lostco.example"),
           date="2026-10-01")  # fmt: skip
    git(repo, "mv", "deals/lostco", "deals/newco")
    edit(project, "newco", make_deal(customer={"name": "NewCo"}))
    commit(repo, "Start NewCo from the old folder", author=TOM, date="2026-10-05")
    site = run_build(project)
    newco = contributors_text(site, "newco")
    for canary in ("LostCoQR", "Lars", "Terms with"):
        assert canary not in newco, canary


def test_history_with_pathological_lines_is_read_in_linear_time(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo, contributors_show_messages=True)
    long_line = "# a" + " \t" * 300_000 + "x\n"  # backtracking would take hours
    edit(project, "fjordline", deal_with_people(), {"approach.md": "# Approach\n" + long_line})
    message = tmp_path / "message.txt"  # too long for a command-line argument
    message.write_text("Pathological heading\n\nCo-authored-by: x" + " " * 300_000 + "<y\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-F", str(message), env={
        "GIT_AUTHOR_NAME": TOM[0], "GIT_AUTHOR_EMAIL": TOM[1],
        "GIT_AUTHOR_DATE": "2026-10-01T10:00:00+00:00",
    })  # fmt: skip
    edit(project, "fjordline", deal_with_people(), {"approach.md": "# Approach\n\nFixed.\n"})
    commit(repo, "Fix it", author=INGRID, date="2026-10-02")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build"], cwd=project, capture_output=True, text=True,
        timeout=120, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Pathological heading" in contributors_text(project / "site", "fjordline")


# --- 8: shallow clones -------------------------------------------------------------------


def three_commits(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo)
    deal = deal_with_people()
    edit(project, "fjordline", deal)
    commit(repo, "Start the deal", author=TOM, date="2026-10-01")
    deal["business_case"]["problem"]["statement"] = "Matched by hand, in Ingrid's words."
    edit(project, "fjordline", deal)
    commit(repo, "Problem in Ingrid's words", author=INGRID, date="2026-10-04")
    deal["summary"] = "Fjordline wants a five-day close."
    edit(project, "fjordline", deal)
    commit(repo, "Tighten the summary", author=OLA, date="2026-10-06")
    return repo


PARTIAL = (
    "Edit history is partial (this is a shallow clone, so older history is missing); "
    "older contributions may be missing."
)


def test_a_shallow_clone_builds_and_says_its_history_is_partial(tmp_path: Path) -> None:
    repo = three_commits(tmp_path)
    full = contributors_text(run_build(repo), "fjordline")
    assert PARTIAL not in full and "Ingrid Solberg Finance Director" in full

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    write_project(clone)
    site = run_build(clone, strict=True)
    text = contributors_text(site, "fjordline")
    assert PARTIAL in text
    assert [r["person"] for r in timeline(site, "fjordline")] == ["Ola Nordmann"]
    assert footer(site, "fjordline", "index.md") == "Last updated Oct 6, 2026 by Ola Nordmann"


def test_unshallowing_a_clone_brings_back_the_older_history(tmp_path: Path) -> None:
    repo = three_commits(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    write_project(clone)
    assert PARTIAL in contributors_text(run_build(clone), "fjordline")
    git(clone, "fetch", "-q", "--unshallow")
    site = run_build(clone)
    people = [r["person"] for r in timeline(site, "fjordline")]
    assert people == ["Ola Nordmann", "Ingrid Solberg", "Tom Ashby"]
    assert PARTIAL not in contributors_text(site, "fjordline")


def test_deepening_a_shallow_clone_brings_back_more_history(tmp_path: Path) -> None:
    """Still shallow, at the same HEAD, but with older commits: the history cache and
    the kept logs are made again (the clone's boundary moved)."""
    repo = three_commits(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    write_project(clone)
    first = [r["person"] for r in timeline(run_build(clone), "fjordline")]
    git(clone, "fetch", "-q", "--deepen", "1")
    site = run_build(clone)
    people = [r["person"] for r in timeline(site, "fjordline")]
    assert len(people) == len(first) + 1 and people[: len(first)] == first
    assert PARTIAL in contributors_text(site, "fjordline")


# --- 9: no history to read ---------------------------------------------------------------


def recorded_only_project(root: Path) -> Path:
    project = write_project(root)
    edit(project, "fjordline", deal_with_people(contributions=[RECORDED_CALL]))
    return project


@pytest.mark.parametrize(
    ("situation", "reason"),
    [
        ("plain folder", "the deals folder is not in a git repository"),
        ("git missing", "git is not installed"),
        ("no commits", "the repository has no commits yet"),
    ],
)
def test_without_history_the_page_says_so_and_shows_recorded_contributions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, situation: str, reason: str
) -> None:
    root = tmp_path / "project"
    if situation != "plain folder":
        init_repo(root)
    project = recorded_only_project(root)
    if situation == "git missing":
        commit(root, "QQCOMMITTED", author=TOM, date="2026-10-01")  # there, but unreadable
        empty = tmp_path / "empty-bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))  # only the plugin's subprocess looks there
    site = run_build(project, strict=True)  # no warning, no failure
    text = contributors_text(site, "fjordline")
    assert (
        f"Edit history is unavailable ({reason}); only contributions recorded by hand are "
        "shown." in text
    )
    rows = timeline(site, "fjordline")
    # What was recorded is shown by default: it was written for the log.
    assert [(r["date"], r["person"], r["changed"], r["note"], r["how"]) for r in rows] == [
        ("Oct 10, 2026", "Per Dahl", "Business case: cost of inaction",
         "Confirmed the penalty figures", "Call"),
    ]  # fmt: skip
    assert "1 person from Fjordline Shipping has shaped this deal room" in text
    assert footer(site, "fjordline", "business-case.md") == (
        "Last updated Oct 10, 2026 by Per Dahl"
    )
    assert footer(site, "fjordline", "mutual-action-plan.md") == ""  # nothing fed it


# --- 10: recorded contributions are validated --------------------------------------------


def recorded_problems(tmp_path: Path, entry: str, files: dict[str, str] | None = None):
    """Load a deal whose deal.yml ends with one recorded contribution written as `entry`;
    return (deal.yml text, problems)."""
    text = yaml_text(deal_with_people()) + "contributions:\n" + entry
    folder = write_deal(tmp_path / "deals", "fjordline", text, files)
    with pytest.raises(DealError) as caught:
        load_deal_folder(folder, tmp_path)
    return text, caught.value.problems


def yaml_text(deal: dict) -> str:
    return yaml.safe_dump(deal, sort_keys=False)


def position(text: str, line_text: str, value: str) -> tuple[int, int]:
    """1-based (line, column) of `value` on the only line containing `line_text`."""
    [(number, line)] = [(n, line) for n, line in enumerate(text.splitlines(), 1)
                        if line_text in line]  # fmt: skip
    return number, line.index(value) + 1


ENTRY = "- who: {who}\n  date: {date}\n  what: Called\n  section: {section}\n  via: call\n"


def test_recorded_contribution_by_someone_not_listed_names_file_line_and_field(
    tmp_path: Path,
) -> None:
    entry = ENTRY.format(who="Pér Dahl", date="2026-10-10", section="business_case.problem")
    text, [problem] = recorded_problems(tmp_path, entry)
    line, column = position(text, "who: Pér Dahl", "Pér")
    assert str(problem) == (
        f"deals/fjordline/deal.yml:{line}:{column}: contributions[0].who: 'Pér Dahl' is not a "
        "listed stakeholder; add them under stakeholders or fix the spelling"
    )


def test_recorded_contribution_with_a_malformed_date_names_file_line_and_field(
    tmp_path: Path,
) -> None:
    entry = ENTRY.format(who="Per Dahl", date="10/20/2026", section="business_case.problem")
    text, [problem] = recorded_problems(tmp_path, entry)
    line, column = position(text, "date: 10/20/2026", "10/20")
    assert (problem.file, problem.line, problem.column, problem.field) == (
        "deals/fjordline/deal.yml", line, column, "contributions[0].date"
    )  # fmt: skip
    assert str(problem).startswith(f"deals/fjordline/deal.yml:{line}:{column}: ")
    assert "YYYY-MM-DD" in problem.message and "'10/20/2026'" in problem.message


@pytest.mark.parametrize(
    ("written", "suggested"),
    [
        ("business_case.problm", "business_case.problem"),
        ("mutual_action_plan.step", "mutual_action_plan.steps"),
        ("busines-case.md", "business-case.md"),
        ("context/legl.md", "context/legal.md"),  # the deal's own context pages count
    ],
)
def test_recorded_contribution_with_an_unknown_section_suggests_the_nearest(
    tmp_path: Path, written: str, suggested: str
) -> None:
    entry = ENTRY.format(who="Per Dahl", date="2026-10-10", section=written)
    text, [problem] = recorded_problems(tmp_path, entry, {"context/legal.md": "# Legal\n"})
    line, column = position(text, f"section: {written}", written)
    assert (problem.line, problem.column, problem.field) == (
        line, column, "contributions[0].section"
    )  # fmt: skip
    assert problem.message == f"'{written}' is unknown; did you mean '{suggested}'?"


def test_a_build_reports_a_bad_recorded_contribution_and_skips_the_deal(
    tmp_path: Path, mkdocs_logs: pytest.LogCaptureFixture
) -> None:
    project = write_project(tmp_path / "project")
    entry = ENTRY.format(who="Nobody Known", date="2026-10-10", section="business_case.problem")
    text = yaml_text(deal_with_people()) + "contributions:\n" + entry
    write_deal(project / "deals", "fjordline", text)
    edit(project, "second", deal_with_people(contributions=[RECORDED_CALL]))
    site = run_build(project)
    line, column = position(text, "who: Nobody Known", "Nobody")
    errors = [r.getMessage() for r in mkdocs_logs.records if r.levelname == "ERROR"]
    assert (
        f"deals/fjordline/deal.yml:{line}:{column}: contributions[0].who: 'Nobody Known' is not "
        "a listed stakeholder; add them under stakeholders or fix the spelling"
    ) in errors
    assert "deal 'fjordline' skipped: fix the problems above to build it" in errors
    assert not (site / "fjordline").exists()
    assert [r["person"] for r in timeline(site, "second")] == ["Per Dahl"]


# --- 11: "Last updated" footers ----------------------------------------------------------


def test_each_page_footer_names_the_newest_change_that_fed_that_page(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo)
    deal = deal_with_people()
    legal = "# Legal\n\n## Terms\n\nNet 30.\n"
    edit(project, "fjordline", deal, {"context/legal.md": legal, "approach.md": "# Approach\n"})
    commit(repo, "Start the deal", author=TOM, date="2026-10-01")
    deal["business_case"]["problem"]["statement"] = "Matched by hand, in Ingrid's words."
    edit(project, "fjordline", deal)
    commit(repo, "Problem in Ingrid's words", author=INGRID, date="2026-10-03")
    edit(project, "fjordline", deal, {"context/legal.md": "# Legal\n\n## Terms\n\nNet 45.\n"})
    commit(repo, "Payment terms", author=OLA, date="2026-10-06")
    before = run_build(project).rename(tmp_path / "site-before")

    deal["mutual_action_plan"]["steps"][0]["status"] = "done"
    deal["mutual_action_plan"]["steps"][0]["completed"] = "2026-10-09"
    edit(project, "fjordline", deal)
    commit(repo, "Security review done", author=TOM, date="2026-10-09", co_authors=(PER,))
    after = run_build(project).rename(tmp_path / "site-after")

    deal["go_live"] = "2027-03-15"  # a plan date: feeds the business case and the plan
    edit(project, "fjordline", deal)
    commit(repo, "Go-live moves", author=XAVI, date="2026-10-12")
    moved = run_build(project)

    pages = ["index.md", "business-case.md", "mutual-action-plan.md", "context/legal.md",
             "approach.md", "contributors.md"]  # fmt: skip
    assert [footer(before, "fjordline", page) for page in pages] == [
        "Last updated Oct 3, 2026 by Ingrid Solberg",  # overview: any deal.yml field
        "Last updated Oct 3, 2026 by Ingrid Solberg",
        "Last updated Oct 1, 2026 by Tom Ashby",
        "Last updated Oct 6, 2026 by Ola Nordmann",  # its own file
        "Last updated Oct 1, 2026 by Tom Ashby",
        "Last updated Oct 6, 2026 by Ola Nordmann",  # every contribution
    ]
    assert [footer(after, "fjordline", page) for page in pages] == [
        "Last updated Oct 9, 2026 by Tom Ashby and Per Dahl",
        "Last updated Oct 3, 2026 by Ingrid Solberg",  # the plan change did not feed it
        "Last updated Oct 9, 2026 by Tom Ashby and Per Dahl",
        "Last updated Oct 6, 2026 by Ola Nordmann",
        "Last updated Oct 1, 2026 by Tom Ashby",
        "Last updated Oct 9, 2026 by Tom Ashby and Per Dahl",
    ]
    assert [footer(moved, "fjordline", page) for page in pages] == [
        "Last updated Oct 12, 2026 by Xavi Stranger",
        "Last updated Oct 12, 2026 by Xavi Stranger",
        "Last updated Oct 12, 2026 by Xavi Stranger",
        "Last updated Oct 6, 2026 by Ola Nordmann",
        "Last updated Oct 1, 2026 by Tom Ashby",
        "Last updated Oct 12, 2026 by Xavi Stranger",
    ]
    assert "Last updated Oct 12, 2026 by Xavi Stranger" in text_of(
        moved / "fjordline" / "business-case" / "index.html"
    )


# --- 12, 13: a fixed number of git calls, and the cache ----------------------------------


@pytest.fixture
def git_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Put a `git` first on PATH that logs its arguments, then runs the real git.
    Returns a function giving the calls logged so far, each as its argument list, and
    forgetting them."""
    bin_dir = tmp_path / "wrapper-bin"
    bin_dir.mkdir()
    log_file = tmp_path / "git-calls.log"
    wrapper = bin_dir / "git"
    wrapper.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log_file}"\nexec "{REAL_GIT}" "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def calls() -> list[list[str]]:
        lines = log_file.read_text(encoding="utf-8").splitlines() if log_file.exists() else []
        log_file.unlink(missing_ok=True)
        return [line.split(" ") for line in lines]

    return calls


def subcommand(argv: list[str]) -> str:
    """'log' for `git -c core.quotePath=false log …`."""
    index = 0
    while argv[index].startswith("-"):
        index += 2 if argv[index] == "-c" else 1
    return argv[index]


def named(calls: list[list[str]], name: str) -> list[list[str]]:
    return [argv for argv in calls if subcommand(argv) == name]


def test_one_git_log_for_all_deals_then_the_cache_then_only_new_commits(
    tmp_path: Path, git_calls
) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo, contributors_show_messages=True)
    authors = {"alpha": INGRID, "bravo": OLA, "charlie": ("Per Dahl", "per@fjordline.example")}
    for day, (slug, person) in enumerate(authors.items(), 1):
        deal = deal_with_people(summary=f"The {slug} deal.")
        edit(project, slug, deal, {"context/legal.md": f"# Legal\n\n{slug}\n"})
        commit(repo, f"Start {slug}", author=TOM, date=f"2026-10-0{day}")
        deal["business_case"]["problem"]["statement"] = f"The {slug} problem."
        edit(project, slug, deal, {"business-case.md": f"## Why\n\n{slug}\n"})
        commit(repo, f"Problem of {slug}", author=person, date=f"2026-10-1{day}")
    old_head = git(repo, "rev-parse", "HEAD")

    site = run_build(project)
    calls = git_calls()
    assert len(named(calls, "log")) == 1  # one history read serves every deal
    assert len(named(calls, "cat-file")) <= 2  # the versions' sizes, then their text
    assert len(calls) <= 5, calls  # a fixed handful, not one per deal, page or commit
    first = {slug: timeline(site, slug) for slug in authors}
    for day, (slug, (name, _email)) in enumerate(authors.items(), 1):
        assert [(r["date"], r["person"], r["note"]) for r in first[slug]] == [
            (f"Oct 1{day}, 2026", name, f"Problem of {slug}"),
            (f"Oct {day}, 2026", "Tom Ashby", f"Start {slug}"),
        ]
        assert first[slug][0]["changed"] == "Business case: Why; Business case: problem"
    cache_file = project / ".cache" / "dealroom" / "history.json"
    assert json.loads(cache_file.read_text(encoding="utf-8"))["head"] == old_head

    # HEAD unchanged: no `git log` at all; the pages come from the cache. To prove it,
    # the cached subject of the newest commit is changed and shows up on the page.
    cached = json.loads(cache_file.read_text(encoding="utf-8"))
    assert cached["commits"][0]["subject"] == "Problem of charlie"
    cached["commits"][0]["subject"] = "QQFROMCACHE"
    cache_file.write_text(json.dumps(cached), encoding="utf-8")
    # (The logs the last build made from that history are kept too, for the same HEAD.)
    shutil.rmtree(project / ".cache" / "dealroom" / "logs")
    site = run_build(project)
    calls = git_calls()
    assert named(calls, "log") == [] and named(calls, "cat-file") == []
    assert calls != []  # the wrapper is in use: HEAD was still looked up
    assert timeline(site, "charlie")[0]["note"] == "QQFROMCACHE"
    assert timeline(site, "alpha") == first["alpha"]

    # One new commit: the next `git log` covers only the new range.
    deal = deal_with_people(summary="The bravo deal, reworded.")
    edit(project, "bravo", deal)
    new_head = commit(repo, "Reword bravo", author=XAVI, date="2026-10-20")
    site = run_build(project)
    [log_call] = named(git_calls(), "log")
    assert f"{old_head}..{new_head}" in log_call
    bravo = timeline(site, "bravo")
    assert [(r["date"], r["person"]) for r in bravo] == [
        ("Oct 20, 2026", "Xavi Stranger"),
        ("Oct 12, 2026", "Ola Nordmann"),
        ("Oct 2, 2026", "Tom Ashby"),
    ]
    assert timeline(site, "alpha") == first["alpha"]
    assert json.loads(cache_file.read_text(encoding="utf-8"))["head"] == new_head


def test_with_the_contributor_log_off_no_git_runs_and_recorded_input_still_shows(
    tmp_path: Path, git_calls
) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo, contributors_enabled=False)
    edit(project, "fjordline", deal_with_people(contributions=[RECORDED_CALL]))
    commit(repo, "Start the deal", author=TOM, date="2026-10-01")
    site = run_build(project, strict=True)
    assert git_calls() == []
    text = contributors_text(site, "fjordline")
    assert "Edit history" not in text  # off by choice: nothing to apologise for
    assert [(r["person"], r["how"]) for r in timeline(site, "fjordline")] == [("Per Dahl", "Call")]
    assert footer(site, "fjordline", "business-case.md") == "Last updated Oct 10, 2026 by Per Dahl"
    assert not (project / ".cache" / "dealroom" / "history.json").exists()  # no git read

    write_project(repo)  # the same project with the log on: the wrapper does see git run
    site = run_build(project)
    assert named(git_calls(), "log") != []
    assert [(r["person"], r["how"]) for r in timeline(site, "fjordline")] == [
        ("Per Dahl", "Call"),
        ("Tom Ashby", "Edit"),
    ]


# --- 14: the summary sentence ------------------------------------------------------------


def _log_of(*people: tuple[str, str]) -> ContributorLog:
    """A log with one contribution per (name, side)."""
    when = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    rows = [Contribution(when, Contributor(name, "", side), ("summary",), "git", name)
            for name, side in people]  # fmt: skip
    return ContributorLog(contributions=rows)


@pytest.mark.parametrize(
    ("people", "sentence"),
    [
        ([], ""),
        ([("Ana", "buyer")], "1 person from Acme has shaped this deal room"),
        ([("Ana", "seller"), ("Bo", "seller")],
         "2 people from Ledgerly have shaped this deal room"),
        ([("Ana", "buyer"), ("Bo", "seller")],
         "1 person from Acme and 1 from Ledgerly have shaped this deal room"),
        ([("Ana", "buyer"), ("Cy", "buyer"), ("Bo", "seller"), ("Xe", "unknown")],
         "2 people from Acme, 1 from Ledgerly and 1 more have shaped this deal room"),
        ([("Xe", "unknown"), ("Yu", "unknown")], "2 people have shaped this deal room"),
        ([("Ana", "buyer"), ("ANA", "buyer")], "1 person from Acme has shaped this deal room"),
    ],
)  # fmt: skip
def test_the_summary_counts_people_per_company_in_plain_words(
    people: list[tuple[str, str]], sentence: str
) -> None:
    assert _log_of(*people).headcount("Acme", "Ledgerly") == sentence


# --- 15: the seller's reading is for the dashboard only --------------------------------------

VERDICT_WORDS = ("Single-threaded", "Thinly threaded", "Multithreaded", "Seller-only so far",
                 "Not yet heard from", "Economic buyer", "Champion")  # fmt: skip


def dashboard_rows(site: Path) -> dict[str, dict[str, str]]:
    """The dashboard's deals table: {customer: {column header: cell text}}."""
    page = (site / "index.html").read_text(encoding="utf-8")
    start = page.index('id="dealroom-deals"')
    table = page[start : page.index("</table>", start)]
    headers = [_plain(h) for h in re.findall(r"<th>(.*?)</th>", table, re.DOTALL)]
    rows = {}
    for body in re.findall(r"<tr class=\"dealroom-(?:pass|fail)\">(.*?)</tr>", table, re.DOTALL):
        cells = [_plain(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.DOTALL)]
        rows[cells[0]] = dict(zip(headers, cells, strict=True))
    return rows


def test_the_threading_verdict_is_on_the_dashboard_and_in_no_deal_site(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    project = write_project(repo)
    names = {"quiet": "QuietCo", "single": "SingleCo", "thin": "ThinCo", "multi": "MultiCo"}
    deals = {}
    for slug, customer in names.items():
        deal = deals[slug] = deal_with_people(
            customer={"name": customer, "domains": ["fjordline.example"]}
        )
        if slug == "single":  # the champion, on a call
            deal["contributions"] = [RECORDED_CALL | {"who": "Ingrid Solberg"}]
        edit(project, slug, deal, {"approach.md": "# Approach\n\nPilot first.\n"})
        commit(repo, f"Start {slug}", author=TOM, date="2026-10-01")
    edit(project, "thin", deals["thin"] | {"summary": "Two voices, one role."})
    commit(repo, "Thin", author=OLA, date="2026-10-03", co_authors=(INGRID,))
    edit(project, "multi", deals["multi"] | {"summary": "Finance and the champion."})
    commit(repo, "Multi", author=PER, date="2026-10-04", co_authors=(INGRID,))
    site = run_build(project)

    rows = dashboard_rows(site)
    threading = {customer: (row["Threading"], row["Not yet heard from"])
                 for customer, row in rows.items()}  # fmt: skip
    assert threading == {
        "QuietCo": ("Seller-only so far: nobody on the buyer side has contributed yet.",
                    "Ingrid Solberg (Champion), Per Dahl (Economic buyer)"),
        "SingleCo": ("Single-threaded: only the champion has contributed.",
                     "Per Dahl (Economic buyer)"),
        "ThinCo": ("Thinly threaded: 2 people on the buyer side, all in one role (Champion).",
                   "Per Dahl (Economic buyer)"),
        "MultiCo": ("Multithreaded across champion and economic buyer.", "none"),
    }  # fmt: skip
    # Sorting by threading puts the weakest first.
    page = (site / "index.html").read_text(encoding="utf-8")
    ranks = dict(re.findall(r'<td data-value="(\d)" class="dealroom-threading-(\w+)">', page))
    assert ranks == {"0": "none", "1": "single", "2": "thin", "3": "multi"}

    for slug in names:
        output = all_site_text(site / slug)
        assert [word for word in VERDICT_WORDS if word in output] == [], slug
        assert "Per Dahl" in output and "CFO" in output  # the people are there, by title
    assert "Per Dahl CFO Summary Oct 4, 2026" in contributors_text(site, "multi")
    # The search index was among what was read.
    assert "Who helped write this case" in (
        site / "multi" / "search" / "search_index.json"
    ).read_text(encoding="utf-8")
