"""Hostile deal folders read in a real headless Chromium: no value from a deal folder runs
script in any position, in a plain `mkdocs build`, in the seller's preview (no
Content-Security-Policy there) and in both publish modes (nginx, encrypted).

Every string field of deal.yml, the Markdown pages, their titles and headings, and the
git history (author, co-authors, subject) carry payloads. Each payload has its own
marker (`alert('XS07e')` is part `e` of the payload in field XS07, `alert('MD12')` the
twelfth Markdown attack), so a dialog names the field it came from. Pages are checked
three ways: the files themselves (nothing a browser would run survives as markup), the
browser's DOM after reading, tabbing and searching (the same), and what the browser did
(no dialog, and no Content-Security-Policy violation: the policy had nothing to block).
"""

from __future__ import annotations

import gzip
import html
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    REPO,
    Host,
    browser_needed,
    make_deal,
    nginx_needed,
    run_build,
    static_host,
    text_of,
    write_deal,
    write_project,
)
from dealroom.publish.access import Scope, add_viewer
from dealroom.publish.releases import publish

GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")

# --- payloads ------------------------------------------------------------------------------


def payload_parts(marker: str) -> list[str]:
    """One breakout per position; the dialog a part would open says marker + its letter."""
    return [
        f"javascript:alert('{marker}a')//",  # URL position: the value starts with it
        f"\"><img src=x onerror=alert('{marker}b')>",  # text, double-quoted attribute
        f"'><svg onload=alert('{marker}c')>",  # single-quoted attribute
        f"</title><script>alert('{marker}d')</script>",  # <title>, <textarea>, <script>
        f"\" autofocus onfocus=\"alert('{marker}e')//",  # a new attribute inside "…"
        f"' autofocus onfocus='alert(\"{marker}f\")//",  # a new attribute inside '…'
        f"&lt;img src=x onerror=alert('{marker}g')&gt;",  # what `striptags` would decode
        f"[x](javascript:alert('{marker}h'))",  # if a value were rendered as Markdown
        "{{ 7*7 }} {% raw %}",  # template syntax: shown as typed, never evaluated
    ]


def hostile(marker: str) -> str:
    return " ".join(payload_parts(marker))


class Payloads:
    """Hands out one payload per field, each with its own marker, and remembers which
    field got which, so that a finding can name the field."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def __call__(self, field: str) -> str:
        marker = f"XS{len(self.fields) + 1:02d}"
        self.fields[marker] = field
        return hostile(marker)

    def marker(self, field: str) -> str:
        return next(marker for marker, name in self.fields.items() if name == field)

    def of(self, field: str) -> str:
        return hostile(self.marker(field))

    def explain(self, findings: list[str]) -> list[str]:
        """Findings with the field (or Markdown attack) behind each marker they mention."""
        explained = []
        for finding in findings:
            names = [f"{m} = {self.fields.get(m, 'Markdown attack')}"
                     for m in dict.fromkeys(re.findall(r"\b(?:XS|MD)\d\d", finding))]  # fmt: skip
            explained.append(f"{finding}  [{'; '.join(names)}]" if names else finding)
        return explained


# Raw HTML, links and attributes in the seller's Markdown (allow_raw_html is false).
MARKDOWN_ATTACKS = [
    "<script>alert('MD01')</script>",
    '<img src="x" onerror="alert(\'MD02\')">',
    "<img src=x onerror=alert('MD03')>",
    "<iframe src=\"javascript:alert('MD04')\"></iframe>",
    "<iframe srcdoc=\"&lt;script&gt;alert('MD05')&lt;/script&gt;\"></iframe>",
    "<a href=\"javascript:alert('MD06')\">plain MD06</a>",
    "<a href=\"jav&#x09;ascript:alert('MD07')\">tab MD07</a>",
    "<a href=\" JaVaScRiPt:alert('MD08')\">case MD08</a>",
    "[inline link MD09](javascript:alert('MD09'))",
    "[reference link MD10][evil]\n\n[evil]: javascript:alert('MD10')",
    "<javascript:alert('MD11')>",
    "![image MD12](javascript:alert('MD12'))",
    'Paragraph MD13\n{: onclick="alert(\'MD13\')" tabindex="0" }',
    '## Heading MD14 {: onmouseover="alert(\'MD14\')" tabindex="0" }',
    "[attr link MD15](https://example.com){: onfocus=\"alert('MD15')\" autofocus }",
    "<svg><script>alert('MD16')</script></svg>",
    "<svg onload=\"alert('MD17')\"></svg>",
    "<details open ontoggle=\"alert('MD18')\"><summary>MD18</summary>x</details>",
    "<object data=\"javascript:alert('MD19')\"></object>",
    "<embed src=\"javascript:alert('MD20')\">",
    "<form action=\"javascript:alert('MD21')\"><button>MD21</button></form>",
    "<input autofocus onfocus=\"alert('MD22')\">",
    "<a href=\"data:text/html,&lt;script&gt;alert('MD23')&lt;/script&gt;\">data MD23</a>",
    '<svg><a xlink:href="javascript:alert(\'MD24\')"><text y="20">MD24</text></a></svg>',
    "<div style=\"background-image: url(javascript:alert('MD25'))\">style MD25</div>",
    '<a href="#" onclick="alert(\'MD26\')">onclick MD26</a>',
    "<select autofocus onfocus=\"alert('MD27')\"><option>MD27</option></select>",
    "<video><source onerror=\"alert('MD28')\"></video>",
    "!!! note \"<img src=x onerror=alert('MD29')>\"\n    Admonition MD29",
    "??? note \"<svg onload=alert('MD30')>\"\n    Details MD30",
    'Footnote MD31[^evil]\n\n[^evil]: <img src="x" onerror="alert(\'MD31\')">',
    'Term MD32\n:   <img src="x" onerror="alert(\'MD32\')">',
    '| a | b |\n| - | - |\n| <img src="x" onerror="alert(\'MD33\')"> '
    "| <a href=\"javascript:alert('MD33')\">cell MD33</a> |",
    '<div markdown="1" onmouseover="alert(\'MD34\')">**MD34**</div>',
    "`<script>alert('MD35')</script>` shown as code",
    "```html\n<script>alert('MD36')</script>\n```",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('MD37')>"
    "</style></mglyph></table></mtext></math>",
    "<base href=\"javascript:alert('MD38')//\">",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'MD39\')">',
    "<noscript><p title=\"</noscript><img src=x onerror=alert('MD40')>\"></noscript>",
    "{{ 7*7 }} {% raw %} MD41",
    "<textarea autofocus onfocus=\"alert('MD42')\">MD42</textarea>",
    "<style>@import 'javascript:alert(\"MD43\")';</style>\n\nAfter the style MD43",
    "<!-- --><script>alert('MD44')</script><!-- -->",
]


def markdown_attacks(heading: str) -> str:
    return f"# {heading}\n\n" + "\n\n".join(MARKDOWN_ATTACKS) + "\n"


# What a deal's SVG or XML asset can hold: a document that runs script when opened. Both
# are refused unless allow_raw_html is set (tests/test_hostile.py); with it, the publish
# modes still keep them from running (below).
SVG_ASSET = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" onload="alert(\'AS01\')">'
    "<script>alert('AS02')</script><text y=\"15\">drawing</text></svg>"
)
XML_ASSET = (
    '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>'
    "<script>alert('AS03')</script><img src=\"x\" onerror=\"alert('AS04')\"/></body></html>"
)

# --- the project: a clean deal and two hostile ones, in a real git repository -----------


def hostile_deal(p: Payloads) -> dict[str, Any]:
    """deals/hostile/deal.yml: every string field carries a payload. Names that other
    fields refer to (owners, contributors, who) are the same payload strings."""
    champion, economic = p("stakeholders[0].name"), p("stakeholders[1].name")
    quiet, seller = p("stakeholders[2].name"), p("stakeholders[3].name")
    return make_deal(
        customer={"name": p("customer.name"), "domains": [p("customer.domains[0]")]},
        seller={"name": p("seller.name"), "domains": [p("seller.domains[0]")]},
        locale=p("locale"),
        summary=p("summary"),
        decision={"status": "later", "why": p("decision.why")},
        compelling_event={"date": "2027-04-01", "reason": p("compelling_event.reason"),
                          "if_missed": p("compelling_event.if_missed")},
        stakeholders=[
            {"name": champion, "title": p("stakeholders[0].title"), "side": "buyer",
             "role": "champion", "email": p("stakeholders[0].email")},
            {"name": economic, "title": p("stakeholders[1].title"), "side": "buyer",
             "role": "economic buyer"},
            {"name": quiet, "title": p("stakeholders[2].title"), "side": "buyer",
             "role": "legal"},  # never contributes: listed under "Not yet heard from"
            {"name": seller, "title": p("stakeholders[3].title"), "side": "seller",
             "role": "account executive", "email": p("stakeholders[3].email"),
             "contact": True},  # named on the overview and on the public sign-in pages
        ],
        business_case={
            "headline": {"change": p("headline.change"), "approach": p("headline.approach"),
                         "avoid": p("headline.avoid"), "unlock": p("headline.unlock")},
            "priority": {"initiative": p("priority.initiative"), "owner": economic},
            "problem": {"statement": p("problem.statement"), "frequency": p("problem.frequency"),
                        "reach": p("problem.reach"), "worsens": p("problem.worsens (before)")},
            "cost_of_inaction": [
                {"item": p("cost_of_inaction[0].item"), "amount": 240000, "per": "year",
                 "basis": p("cost_of_inaction[0].basis"),
                 "source": p("cost_of_inaction[0].source"), "avoidable_percent": 50},
                {"item": p("cost_of_inaction[1].item"), "amount": 5000, "per": "once"},
            ],
            "capabilities": [
                {"name": p("capabilities[0].name"), "why": p("capabilities[0].why"),
                 "met_by": p("capabilities[0].met_by")},
                {"name": p("capabilities[1].name"), "must_have": False},
            ],
            "alternatives": [{"option": p("alternatives[0].option"),
                              "why_not": p("alternatives[0].why_not")}],
            "outcomes": [{"metric": p("outcomes[0].metric"), "baseline": p("outcomes[0].baseline"),
                          "target": p("outcomes[0].target"), "by": "2027-06-30"}],
            "investment": {
                "one_time": [{"item": p("investment.one_time[0].item"), "amount": 60000}],
                "recurring": [{"item": p("investment.recurring[0].item"), "amount": 8000,
                               "per": "month"}],
                "people": p("investment.people"),
            },
            "contributors": [economic],
        },
        mutual_action_plan={
            "success_criteria": [p("success_criteria[0]"), p("success_criteria[1]")],
            "steps": [
                {"title": p("steps[0].title"), "owner": champion, "due": "2026-12-10",
                 "status": "in progress", "phase": p("steps[0].phase"),
                 "notes": p("steps[0].notes")},
                {"title": p("steps[1].title"), "owner": seller, "due": "2026-11-01",
                 "status": "done", "completed": "2026-10-30"},
                {"title": p("steps[2].title"), "owner": p("steps[2].owner (a team)"),
                 "side": "buyer", "due": "2026-11-20", "status": "blocked",
                 "phase": p("steps[2].phase"), "notes": p("steps[2].notes")},  # overdue
            ],
        },
        contributions=[
            {"who": economic, "date": "2026-10-10", "what": p("contributions[0].what"),
             "section": "business_case.problem", "via": "call"},
            {"who": champion, "date": "2026-10-12", "what": p("contributions[1].what"),
             "section": "context/front.md", "via": "email"},
        ],
        internal={"notes": p("internal.notes")},
    )  # fmt: skip


def hostile_files(p: Payloads) -> dict[str, str]:
    front = yaml.safe_dump({"title": p("context/front.md: title")}, width=1000)
    return {
        "business-case.md": markdown_attacks("Narrative of the business case"),
        "approach.md": markdown_attacks("Approach"),
        "context/front.md": f"---\n{front}---\n\nA page titled in its front matter.\n",
        "context/heading.md": f"# {p('context/heading.md: # heading')}\n\nTitled by it.\n",
        "context/attacks.md": markdown_attacks("Raw HTML"),
    }


def declined_deal(p: Payloads) -> dict[str, Any]:
    """deals/declined: the `customer: name` shorthand and a declined decision."""
    return make_deal(customer=p("declined: customer"), seller=p("declined: seller"),
                     summary=p("declined: summary"),
                     decision={"status": "no", "why": p("declined: decision.why"),
                               "date": "2026-11-01"})  # fmt: skip


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    assert GIT is not None
    subprocess.run([GIT, *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, "HOME": str(repo), "GIT_CONFIG_GLOBAL": os.devnull,
                        "GIT_CONFIG_NOSYSTEM": "1", **(env or {})})  # fmt: skip


def commit(
    repo: Path, subject: str, author: tuple[str, str], date: str, trailers: str = ""
) -> None:
    stamp = f"{date}T10:00:00+00:00"
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", f"{subject}\n\n{trailers}".strip() + "\n",
        env={"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
             "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1],
             "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})  # fmt: skip


@dataclass
class Project:
    root: Path
    payloads: Payloads
    passwords: dict[str, str]  # viewer -> password: "ana" (hostile), "team" (every deal)
    work: Path  # a folder for builds and publishes


HOSTILE = ("hostile", "declined")
CLEAN = "clean"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A clean deal (the repository's northwind-freight example) and two hostile ones, in
    a git repository whose last commit touches only the hostile deal: its author, its
    co-authors and its subject are payloads too (git itself drops `<` and `>` from an
    author's name, not from a subject or a `Co-authored-by:` trailer)."""
    work = tmp_path_factory.mktemp("escaping")
    root = write_project(
        work / "project",
        contributors_show_emails=True,
        contributors_show_messages=True,
        access_page_contact=True,
    )
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("site/\n.cache/\n", encoding="utf-8")
    p = Payloads()
    shutil.copytree(REPO / "deals" / "northwind-freight", root / "deals" / CLEAN)
    deal = hostile_deal(p)
    write_deal(root / "deals", "hostile", deal, hostile_files(p))
    write_deal(root / "deals", "declined", declined_deal(p))
    commit(root, "Start the deals", ("Setup", "setup@ledgerly.example"), "2026-10-01")
    heading = root / "deals" / "hostile" / "context" / "heading.md"
    heading.write_text(heading.read_text() + f"\n## {p('git: changed heading')}\n\nMore.\n")
    deal["business_case"]["problem"]["worsens"] = p("problem.worsens (changed in git)")
    write_deal(root / "deals", "hostile", deal)
    economic = deal["stakeholders"][1]["name"]
    commit(root, p("git: commit subject"),
           author=(p("git: author name"), p("git: author email")), date="2026-10-20",
           trailers=f"Co-authored-by: {economic} <economic@evil.example>\n"
           f"Co-authored-by: {p('git: co-author name')} <co@evil.example>")  # fmt: skip
    deals = root / "deals"
    passwords = {
        "ana": add_viewer(root, Scope.of(root, deals, "hostile"), "ana", p("viewer: name")),
        "team": add_viewer(root, Scope.of(root, deals, None), "team", p("team: name")),
    }
    with pytest.MonkeyPatch.context() as env:  # the plugin's own git calls: no outside config
        env.setenv("GIT_CONFIG_GLOBAL", os.devnull)
        env.setenv("GIT_CONFIG_NOSYSTEM", "1")
        env.setenv("GIT_CEILING_DIRECTORIES", str(work))
        yield Project(root, p, passwords, work)


@pytest.fixture(scope="module")
def built(project: Project) -> Path:
    """A plain `mkdocs build` (published pages, with the Content-Security-Policy)."""
    return run_build(project.root).rename(project.work / "built")


TESTS = Path(__file__).parent


def in_own_process(script: str, *args: Path | str) -> None:
    """Run Python code (which may import conftest) in a fresh interpreter."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], cwd=TESTS, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


PREVIEW = """
import sys
from pathlib import Path
from conftest import run_build
run_build(Path(sys.argv[1]), command="serve").rename(sys.argv[2])
"""


@pytest.fixture(scope="module")
def preview(project: Project) -> Path:
    """The seller's preview, built as `mkdocs serve` builds it: MISSING markers, and no
    Content-Security-Policy (the live-reload script is inline), so escaping alone holds.
    Built in a process of its own, as `mkdocs serve` runs: in this one its command would
    carry over into later publishes (see test_publish_keeps_its_policy_after_a_preview)."""
    in_own_process(PREVIEW, project.root, project.work / "preview")
    return project.work / "preview"


# --- the files: nothing a browser would run survives as markup -----------------------------

POLICY = '<meta http-equiv="Content-Security-Policy" content="default-src'
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster",
                  "background", "ping", "srcset", "cite", "codebase"}  # fmt: skip
RUNNING_URL = re.compile(r"^(?:javascript|vbscript|data:text/html|data:image/svg)", re.I)
EMBEDDING_TAGS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal"}


class ActiveMarkup(HTMLParser):
    """Collects what a browser would run in an HTML document or fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            squashed = re.sub(r"[\x00-\x20]+", "", value or "")
            if (
                name.startswith("on")
                or name == "srcdoc"
                or (name in URL_ATTRIBUTES and RUNNING_URL.match(squashed))
                or (name == "style" and "javascript:" in squashed.lower())
            ):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag in EMBEDDING_TAGS:
            self.found.append(f"<{tag}>")
        if tag == "meta" and (dict(attrs).get("http-equiv") or "").lower() == "refresh":
            self.found.append(f"<meta refresh {dict(attrs).get('content')!r}>")
        self._script = tag == "script" and "src" not in dict(attrs)

    def handle_data(self, data: str) -> None:
        if self._script and "alert(" in data:
            self.found.append(f"<script>{data.strip()[:80]}")

    def handle_endtag(self, tag: str) -> None:
        self._script = False


def active_markup(markup: str) -> list[str]:
    parser = ActiveMarkup()
    parser.feed(markup)
    parser.close()
    return parser.found


def output_texts(site: Path) -> dict[str, str]:
    """Every HTML, JSON and XML file of a site (gzip unpacked), by relative path."""
    texts = {}
    for path in sorted(site.rglob("*")):
        name = path.relative_to(site).as_posix()
        if path.suffix == ".gz":
            texts[name] = gzip.decompress(path.read_bytes()).decode("utf-8")
        elif path.suffix in (".html", ".json", ".xml") and "assets" not in path.parts:
            texts[name] = path.read_text(encoding="utf-8")
    return texts


def markup_findings(site: Path) -> list[str]:
    findings = []
    for name, text in output_texts(site).items():
        if name.endswith(".html"):
            findings += [f"{name}: {found}" for found in active_markup(text)]
        elif name.endswith(".json"):  # Material's search inserts titles and texts as HTML
            for document in json.loads(text).get("docs", []):
                for key in ("location", "title", "text"):
                    found = active_markup(document.get(key, ""))
                    findings += [f"{name} {document['location']!r} {key}: {f}" for f in found]
        elif "alert(" in text:  # sitemaps hold addresses only
            findings.append(f"{name}: alert(")
    return findings


@pytest.mark.parametrize("kind", ["built", "preview"])
def test_no_payload_survives_as_markup_in_any_output_file(
    kind: str, project: Project, request: pytest.FixtureRequest
) -> None:
    site: Path = request.getfixturevalue(kind)
    p = project.payloads
    for slug in (*HOSTILE, CLEAN):  # every deal built: nothing was skipped as invalid
        assert (site / slug / "index.html").is_file(), slug
    pages = {path.relative_to(site / "hostile").as_posix() for path in
             (site / "hostile").rglob("*.html")}  # fmt: skip
    assert pages >= {"index.html", "404.html", "business-case/index.html",
                     "mutual-action-plan/index.html", "approach/index.html",
                     "context/front/index.html", "context/heading/index.html",
                     "context/attacks/index.html", "contributors/index.html"}  # fmt: skip
    assert p.explain(markup_findings(site)) == []
    for page in (site / "hostile").rglob("*.html"):  # the policy is there, or not at all
        assert (POLICY in page.read_text(encoding="utf-8")) == (kind == "built"), page
    # The payloads did reach the pages: every published field's marker is in the output...
    everything = "\n".join(output_texts(site).values())
    unshown = {"customer.domains[0]", "seller.domains[0]", "locale", "internal.notes",
               "viewer: name", "team: name", "problem.worsens (before)"}  # fmt: skip
    shown = {marker for marker, field in p.fields.items() if field not in unshown}
    assert sorted(m for m in shown if m not in everything) == []
    # ...and what is seller-only or is no page's business is in none of it.
    for field in ("internal.notes", "viewer: name", "team: name"):
        assert p.marker(field) not in everything, field


def test_payloads_show_as_the_text_that_was_typed(built: Path, project: Project) -> None:
    p = project.payloads
    site = built / "hostile"
    overview = text_of(site / "index.html")
    for field in ("customer.name", "summary", "decision.why", "compelling_event.reason",
                  "compelling_event.if_missed", "stakeholders[2].title"):  # fmt: skip
        assert p.of(field) in overview, field
    case = text_of(site / "business-case" / "index.html")
    for field in ("headline.change", "problem.statement", "cost_of_inaction[0].basis",
                  "capabilities[0].met_by", "alternatives[0].why_not", "outcomes[0].target",
                  "investment.people", "priority.initiative"):  # fmt: skip
        assert p.of(field) in case, field
    plan = text_of(site / "mutual-action-plan" / "index.html")
    for field in ("steps[0].notes", "steps[2].owner (a team)", "steps[2].phase",
                  "success_criteria[1]"):  # fmt: skip
        assert p.of(field) in plan, field
    contributors = text_of(site / "contributors" / "index.html")
    for field in ("git: commit subject", "git: co-author name", "contributions[0].what",
                  "context/front.md: title", "git: changed heading"):  # fmt: skip
        assert p.of(field) in contributors, field
    assert "{{ 7*7 }} {% raw %}" in overview  # never evaluated (nor a template error)
    attacks = text_of(site / "context" / "attacks" / "index.html")
    assert "<script>alert('MD35')</script> shown as code" in attacks
    assert "{{ 7*7 }} {% raw %} MD41" in attacks
    assert "After the style MD43" in attacks  # no attack swallowed the ones after it
    # Titles that Material inserts unescaped: angle brackets become look-alikes.
    page = (site / "context" / "front" / "index.html").read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL).group(1)
    assert "<" not in title  # nothing closes <title>
    look_alike = str.maketrans({"<": "\u2039", ">": "\u203a"})
    typed = " ".join(payload_parts(p.marker("context/front.md: title"))[:5])
    assert html.unescape(title).startswith(typed.translate(look_alike))


# --- the browser ---------------------------------------------------------------------------

WATCH_POLICY = """
window.__violations = [];
addEventListener("securitypolicyviolation", (event) => window.__violations.push(
  `${event.violatedDirective}: ${event.blockedURI || "inline"} ${event.sample}`), true);
"""

# Everything in the live DOM (after Material's scripts, searches and focus) that would run.
ACTIVE_DOM = r"""() => {
  const found = [];
  const urls = new Set(["href", "src", "action", "formaction", "data", "xlink:href", "poster",
                        "background", "ping", "srcset"]);
  const running = /^(?:javascript|vbscript|data:text\/html|data:image\/svg)/i;
  const embedding = new Set(["IFRAME", "FRAME", "OBJECT", "EMBED", "APPLET", "BASE", "PORTAL"]);
  for (const element of document.querySelectorAll("*")) {
    const tag = element.tagName;
    if (embedding.has(tag)) found.push(`<${tag}>`);
    if (tag === "SCRIPT" && !element.src && element.textContent.includes("alert(")) {
      found.push(`<script>${element.textContent.slice(0, 80)}`);
    }
    for (const { name, value } of element.attributes) {
      const squashed = value.replace(/[\u0000-\u0020]+/g, "");
      if (name.startsWith("on") || name === "srcdoc" ||
          (urls.has(name) && running.test(squashed))) {
        found.push(`<${tag} ${name}="${value.slice(0, 80)}">`);
      }
    }
  }
  return found;
}"""

# Give every element focus and the events inline handlers listen for.
POKE = """() => {
  for (const element of document.querySelectorAll("body *")) {
    for (const type of ["mouseover", "mouseenter", "pointerover", "toggle", "animationstart"]) {
      element.dispatchEvent(new Event(type));
    }
    element.focus?.({ preventScroll: true });
  }
  document.activeElement?.blur?.();
}"""

SEARCH_INPUT = "input[data-md-component=search-query]"
SEARCH_META = ".md-search-result__meta"
PLACEHOLDER = "Type to start searching"


def about_the_policy(message: Any) -> bool:
    """Chromium reports what the Content-Security-Policy blocked on the console."""
    return "Content Security Policy" in message.text


class Reader:
    """One Chromium tab reading pages as a curious reader would (opening, tabbing,
    searching) and noting everything that means a payload ran or could have."""

    def __init__(self, context: Any, base: str, password: str | None = None) -> None:
        self.base = base
        self.password = password  # encrypted pages: the first page asks for it
        self.page = context.new_page()
        self.page.set_default_timeout(15_000)
        self.page.add_init_script(WATCH_POLICY)
        self.dialogs: list[str] = []
        self.violations: list[str] = []
        self.active: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{self.page.url}: {dialog.type} {dialog.message!r}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:  # also after an encrypted page is written
        if about_the_policy(message):
            self.violations.append(f"{self.page.url}: {message.text[:300]}")

    def open(self, path: str, theme_scripts: bool = True) -> None:
        """Open a page and wait for the theme: its inline scripts, and its bundle when
        the page can reach it (404.html links to /assets/, outside a deal's folder)."""
        self.page.goto(self.base + path, wait_until="domcontentloaded")
        if self.password is not None:
            self.page.fill("#dealroom-password", self.password)
            self.page.click("button[type=submit]")
            self.password = None  # the rest of the visit opens with the kept key
        self.page.wait_for_function("() => typeof window.__md_get === 'function'")
        if theme_scripts:
            self.page.wait_for_function("() => window.document$ !== undefined")

    def poke(self, tabs: int = 8) -> None:
        self.page.evaluate(POKE)
        self.page.locator("body").focus()
        for _ in range(tabs):
            self.page.keyboard.press("Tab")

    def inspect(self) -> None:
        self.active += [f"{self.page.url}: {found}" for found in self.page.evaluate(ACTIVE_DOM)]
        seen = self.page.evaluate("() => window.__violations || []")
        self.violations += [f"{self.page.url}: {violation}" for violation in seen]

    def read(self, path: str, theme_scripts: bool = True) -> None:
        self.open(path, theme_scripts)
        self.poke()
        self.inspect()

    def search(self, queries: list[str], known_word: str) -> None:
        """Type each query into Material's search and open its results."""
        self.query(known_word)  # the index is loaded and results render
        self.page.wait_for_selector(".md-search-result__item")
        for query in queries:
            self.query("")
            self.page.wait_for_function(
                f"() => document.querySelector('{SEARCH_META}').textContent.trim() "
                f"=== '{PLACEHOLDER}'"
            )
            self.query(query)
            self.page.wait_for_function(
                f"() => document.querySelector('{SEARCH_META}').textContent.trim() "
                f"!== '{PLACEHOLDER}'"
            )
            for more in self.page.locator(".md-search-result__more > summary").all()[:3]:
                more.click()
            if self.page.locator(".md-search-result__item").count():
                self.page.hover(".md-search-result__item >> nth=0")
            self.inspect()

    def query(self, text: str) -> None:
        self.page.fill(SEARCH_INPUT, text)
        self.page.press(SEARCH_INPUT, "End")  # Material reads the query on keyup

    def findings(self, payloads: Payloads) -> dict[str, list[str]]:
        self.page.evaluate("() => 0")  # a round trip: every event so far has been handled
        return {"dialogs": payloads.explain(self.dialogs),
                "policy violations": payloads.explain(self.violations),
                "active markup": payloads.explain(self.active)}  # fmt: skip


NOTHING = {"dialogs": [], "policy violations": [], "active markup": []}


def search_queries(p: Payloads) -> list[str]:
    marker = p.marker("summary")
    return [hostile(marker), *payload_parts(marker), *MARKDOWN_ATTACKS[:3]]


def page_paths(site: Path) -> list[str]:
    """URL paths of every page of a deal site, 404.html included."""
    paths = [path.relative_to(site).as_posix() for path in site.rglob("*.html")]
    return sorted("/" + path.removesuffix("index.html") for path in paths)


def read_deal_site(
    reader: Reader,
    prefix: str,
    site: Path,
    payloads: Payloads,
    bundle_404: bool = True,
    every_page: bool = True,
) -> None:
    """Every page of a deal site (or its overview only); on the hostile one, every search
    query too."""
    paths = page_paths(site)
    assert len(paths) >= 5 and "/404.html" in paths
    for path in paths if every_page else ["/"]:
        reader.read(prefix + path, theme_scripts=bundle_404 or not path.endswith("404.html"))
    if site.name == "hostile":
        reader.open(prefix + "/")
        reader.search(search_queries(payloads), known_word="Overview")


def test_the_file_check_sees_what_a_browser_would_run() -> None:
    """The static check is not blind: it flags each of these, and not escaped text."""
    for markup in ("<img src=x onerror=alert(1)>", "<svg><a xlink:href=' java\tscript:x'>",
                   '<a href="jav&#x09;ascript:x">', "<script>alert(1)</script>",
                   "<iframe srcdoc=x>", '<meta http-equiv="Refresh" content="0;url=x">',
                   '<div style="background:url(javascript:x)">'):  # fmt: skip
        assert active_markup(markup), markup
    assert active_markup('<p title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">x</p>') == []


@browser_needed
def test_the_reader_sees_what_runs_and_what_the_policy_blocks(tmp_path: Path, browser) -> None:
    """The browser checks are not blind: a handler that runs opens a dialog, one that a
    policy blocks is a violation, and both are active markup in the DOM."""
    handler = '<img src="x" onerror="alert(\'CTRL\')"><a href="javascript:alert(2)">x</a>'
    (tmp_path / "open.html").write_text(handler)
    (tmp_path / "policy.html").write_text(
        f'<meta http-equiv="Content-Security-Policy" content="script-src \'self\'">{handler}'
    )
    with static_host(tmp_path) as base:
        reader = Reader(browser.new_context(), base)
        with reader.page.expect_event("dialog"):
            reader.page.goto(f"{base}/open.html")
        reader.inspect()
        with reader.page.expect_event("console", predicate=about_the_policy):
            reader.page.goto(f"{base}/policy.html")
        reader.inspect()
        found = reader.findings(Payloads())
    assert [message.split(": ", 1)[1] for message in found["dialogs"]] == ["alert 'CTRL'"]
    assert any("policy.html: script-src-attr" in v for v in found["policy violations"])
    assert any("policy.html: " in v and "Content Security Policy" in v
               for v in found["policy violations"])  # fmt: skip
    assert len(found["active markup"]) == 4  # onerror and javascript:, on each page


@browser_needed
def test_plain_build_runs_no_payload_in_chromium(built: Path, project: Project, browser) -> None:
    """Each deal site served on its own, as README says it may be: copied to any host."""
    for slug in HOSTILE:
        with static_host(built / slug) as base:
            reader = Reader(browser.new_context(), base)
            read_deal_site(reader, "", built / slug, project.payloads)
            assert reader.findings(project.payloads) == NOTHING, slug
            assert reader.page.evaluate("() => typeof __md_get") == "function"  # theme ran


@browser_needed
def test_preview_without_a_policy_runs_no_payload(preview: Path, project: Project, browser):
    """No Content-Security-Policy to fall back on: escaping and sanitizing alone hold."""
    page = (preview / "hostile" / "index.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" not in page and "MISSING" in page
    for slug in HOSTILE:
        with static_host(preview / slug) as base:
            reader = Reader(browser.new_context(), base)
            read_deal_site(reader, "", preview / slug, project.payloads)
            assert reader.findings(project.payloads) == NOTHING, slug


@browser_needed
def test_seller_dashboard_runs_no_payload(built: Path, project: Project, browser) -> None:
    """The root page (seller-only, no policy) lists every deal's name and decision."""
    with static_host(built) as base:
        reader = Reader(browser.new_context(), base)
        reader.read("/")
        assert project.payloads.marker("declined: decision.why") in reader.page.content()
        for header in reader.page.locator("#dealroom-deals th").all():
            header.click()  # sorts by that column
        for query in search_queries(project.payloads):
            reader.page.fill("#dealroom-filter", query)
            reader.page.press("#dealroom-filter", "End")
        reader.inspect()  # (the root page has no search index of its own)
        assert reader.findings(project.payloads) == NOTHING


@browser_needed
def test_clean_deal_pages_meet_their_policy_and_search_works(built: Path, browser) -> None:
    """The policy lets the theme's own scripts run: no violation on any page of a clean
    deal, its inline scripts ran, and search finds a word of the deal."""
    with static_host(built / CLEAN) as base:
        reader = Reader(browser.new_context(), base)
        errors: list[str] = []
        reader.page.on("pageerror", lambda error: errors.append(str(error)))
        for path in page_paths(built / CLEAN):
            reader.read(path)
            assert reader.page.evaluate("() => typeof __md_get") == "function", path
        reader.open("/")
        reader.query("terminals")
        reader.page.wait_for_selector(".md-search-result__item")
        assert "terminals" in reader.page.inner_text(".md-search-result__list").lower()
        assert reader.findings(Payloads()) == NOTHING
        assert errors == []


INERT_DRAWING = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20">'
    '<rect width="80" height="20" fill="#3f51b5"/><text y="15">inert drawing</text></svg>'
)


@browser_needed
def test_an_inert_drawing_opened_from_a_link_runs_nothing(tmp_path: Path, browser) -> None:
    """A drawing that passes the asset check, opened on its own from a plain build's deal
    site (README says a deal site works copied to any web server)."""
    root = write_project(tmp_path / "project")
    files = {"assets/drawing.svg": INERT_DRAWING,
             "context/files.md": "# Files\n\n[the drawing](../assets/drawing.svg)\n"}  # fmt: skip
    write_deal(root / "deals", "drawings", make_deal(), files)
    site = run_build(root) / "drawings"
    with static_host(site) as base:
        reader = Reader(browser.new_context(), base)
        reader.open("/context/files/")
        with reader.page.expect_navigation():
            reader.page.click("article a[href$='drawing.svg']")
        assert reader.page.url == f"{base}/assets/drawing.svg"
        assert "inert drawing" in reader.page.content()
        assert reader.findings(Payloads()) == NOTHING


@pytest.fixture(scope="module")
def raw_html_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A project that allows raw HTML, with a deal whose SVG and XML files run script when
    opened as documents: the publish modes are then the only thing between them and the
    deal rooms' origin. Returns (project, the viewer's password)."""
    root = write_project(tmp_path_factory.mktemp("raw") / "project", allow_raw_html=True)
    links = "[the drawing](../assets/drawing.svg) [the data](../assets/data.xml)"
    write_deal(root / "deals", "drawings", make_deal(), {
        "context/files.md": f"# Files\n\n{links}\n",
        "assets/drawing.svg": SVG_ASSET, "assets/data.xml": XML_ASSET,
    })  # fmt: skip
    return root, add_viewer(root, Scope.of(root, root / "deals", "drawings"), "ana")


# --- publishing: nginx and encrypted --------------------------------------------------------


@contextmanager
def nginx_host(out: Path) -> Iterator[str]:
    host = Host(out)
    try:
        yield host.url
    finally:
        host.stop()


def read_published_sites(
    sites: Path, project: Project, reader_for: Callable[[str], Reader]
) -> list[Reader]:
    """Each published hostile deal read by its reader (PUBLISHED_READERS): nothing ran."""
    readers = []
    for slug, user, every_page in PUBLISHED_READERS:
        reader = reader_for(user)
        read_deal_site(reader, f"/{slug}", sites / slug, project.payloads, bundle_404=False,
                       every_page=every_page)  # fmt: skip
        assert reader.findings(project.payloads) == NOTHING, slug
        readers.append(reader)
    return readers


# The hostile deal's viewer reads every page of it; a team member the declined deal's
# overview, where its decision shows.
PUBLISHED_READERS = (("hostile", "ana", True), ("declined", "team", False))


@browser_needed
@nginx_needed
def test_nginx_publish_runs_no_payload(project: Project, served_dir: Path, browser) -> None:
    result = publish(project.root / "mkdocs.yml", served_dir, mode="nginx")
    assert set(result.published) == {*HOSTILE, CLEAN}
    sites = served_dir / "current" / "sites"
    assert project.payloads.explain(markup_findings(sites)) == []
    # The public 401 pages name the seller and its contact, as text only.
    assert project.payloads.explain(markup_findings(served_dir / "current" / "unauthorized")) == []
    for page in sites.rglob("*.html"):
        assert POLICY in page.read_text(encoding="utf-8"), page
    with nginx_host(served_dir) as base:

        def reader_for(user: str) -> Reader:
            credentials = {"username": user, "password": project.passwords[user]}
            return Reader(browser.new_context(http_credentials=credentials), base)

        read_published_sites(sites, project, reader_for)


@browser_needed
@nginx_needed
def test_nginx_opens_drawings_in_a_sandbox_where_nothing_runs(
    raw_html_project: tuple[Path, str], served_dir: Path, browser
) -> None:
    root, password = raw_html_project
    publish(root / "mkdocs.yml", served_dir, mode="nginx")
    with nginx_host(served_dir) as base:
        credentials = {"username": "ana", "password": password}
        reader = Reader(browser.new_context(http_credentials=credentials), base)
        for asset in ("drawing.svg", "data.xml"):
            reader.open("/drawings/context/files/")
            with reader.page.expect_navigation():
                reader.page.click(f"article a[href$='{asset}']")
            assert reader.page.url == f"{base}/drawings/assets/{asset}"
        assert reader.dialogs == []


@browser_needed
def test_encrypted_publish_runs_no_payload(project: Project, browser) -> None:
    out = project.work / "encrypted"
    result = publish(project.root / "mkdocs.yml", out, mode="encrypted")
    assert set(result.published) == {*HOSTILE, CLEAN}
    sites = out / "current" / "sites"
    for page in sites.rglob("*.html"):  # a password page repeats its page's own policy
        assert "'sha256-" in html.unescape(page.read_text(encoding="utf-8")), page
    with static_host(sites) as base:
        for reader in read_published_sites(
            sites, project, lambda user: Reader(browser.new_context(), base,
                                                password=project.passwords[user])
        ):  # fmt: skip
            assert "Deal room" not in reader.page.title()  # pages were really decrypted


PREVIEW_THEN_PUBLISH = """
import sys
from pathlib import Path
from conftest import run_build
from dealroom.publish.releases import publish
root, out = Path(sys.argv[1]), Path(sys.argv[2])
publish(root / "mkdocs.yml", out / "before", mode="nginx")
run_build(root, command="serve")  # a preview, as `mkdocs serve` builds it
publish(root / "mkdocs.yml", out / "after", mode="nginx")
"""


def test_publish_keeps_its_policy_after_a_preview(tmp_path: Path) -> None:
    """`publish()` in a process that built a preview earlier (a long-running tool, a test
    session): MkDocs keeps one instance of a plugin with `on_startup` per process, and
    the preview's `serve` must not carry over into the published pages."""
    root = write_project(tmp_path / "project")
    write_deal(root / "deals", "one", make_deal())
    add_viewer(root, Scope.of(root, root / "deals", "one"), "ana")
    in_own_process(PREVIEW_THEN_PUBLISH, root, tmp_path)
    for when in ("before", "after"):
        pages = sorted((tmp_path / when / "current" / "sites" / "one").rglob("*.html"))
        assert len(pages) >= 5
        without = [page.name if page.name == "404.html" else page.parent.name
                   for page in pages if POLICY not in page.read_text(encoding="utf-8")]  # fmt: skip
        assert without == [], f"published {when} the preview without a policy: {without}"


@browser_needed
def test_encrypted_pages_download_drawings_instead_of_opening_them(
    raw_html_project: tuple[Path, str], tmp_path: Path, browser
) -> None:
    root, password = raw_html_project
    publish(root / "mkdocs.yml", tmp_path / "out", mode="encrypted")
    with static_host(tmp_path / "out" / "current" / "sites") as base:
        reader = Reader(browser.new_context(accept_downloads=True), base, password=password)
        reader.open("/drawings/context/files/")
        links = reader.page.locator("article a[download]")
        assert links.count() == 2
        for link in links.all():
            with reader.page.expect_download():
                link.click()
        assert reader.dialogs == []
