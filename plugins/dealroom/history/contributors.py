"""The contributor log: who from which side shaped each deal, and when.

Git history (`history.py`) and the contributions recorded in deal.yml are merged into
one timeline per deal. People are matched to the deal's stakeholders by email, then by
name; others get their side from the customer's and seller's email domains.

Isolation rules: only published files count (never `internal/`, nor a deal.yml change
confined to `internal:` or to the seller's pipeline fields), and a commit that touches
several deals shows in each deal only the people that deal knows, and no commit
message, since either could name another customer; it still dates the pages it fed.

The log holds the seller's reading of it too (the multithreading verdict, buyers not
heard from yet), but that is seller-only: the dashboard shows it, never a deal site.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..deal.files import ASSET, DEAL_FILE, PAGE, published_kind
from ..deal.i18n import N_, mid_sentence, ngettext
from ..deal.i18n import gettext as _
from ..deal.loading import DealFolder
from ..deal.model import Deal, RecordedContribution, Stakeholder, role_label, section_feeds_page
from .git import Commit, Person, RepositoryHistory, relative_to

# Section names in the reader's words; other deal.yml keys read as themselves
# ("summary" -> "Summary", "cost_of_inaction" -> "cost of inaction").
SECTION_LABELS = {  # translated where shown (deal/i18n.py)
    "business_case": N_("Business case"),
    "mutual_action_plan": N_("Mutual action plan"),
    "business-case.md": N_("Business case"),
    "approach.md": N_("Approach"),
    "compelling_event": N_("Deadline"),
    "go_live": N_("Go-live date"),
    "signature_target": N_("Contract signature date"),
    "stakeholders": N_("People involved"),
    "summary": N_("Summary"),
    "decision": N_("Decision"),
    "customer": N_("Customer"),
    "seller": N_("Seller"),
    "mutual-action-plan.md": N_("Mutual action plan"),
}
FIELD_LABELS = {  # the parts of a section readers see most, e.g. business_case.outcomes
    "problem": N_("problem"),
    "cost_of_inaction": N_("cost of inaction"),
    "capabilities": N_("capabilities"),
    "alternatives": N_("alternatives"),
    "outcomes": N_("outcomes"),
    "investment": N_("investment"),
    "headline": N_("headline"),
    "priority": N_("priority"),
    "contributors": N_("contributors"),
    "steps": N_("steps"),
    "success_criteria": N_("success criteria"),
}
# deal.yml fields only the seller reads (notes, and the pipeline's stage, step, value and
# opening date, which the dashboard uses): no deal page shows them, so a change to them
# is nothing a reader of the deal room helped write.
SELLER_ONLY_FIELDS = frozenset({"internal", "stage", "step", "deal_value", "opened"})
CONTRIBUTORS_PAGE = "contributors.md"
# The multithreading verdict's levels, weakest first (the dashboard sorts by them).
THREADING = ("none", "single", "thin", "multi")


@dataclass(frozen=True)
class Contributor:
    """A person as this deal knows them."""

    name: str
    email: str  # "" when unknown
    side: str  # "buyer", "seller" or "unknown"
    role: str | None = None  # the stakeholder's sales-method role: seller-only
    title: str = ""  # the stakeholder's job title; "" for someone not listed

    @property
    def role_label(self) -> str:
        return role_label(self.role) if self.role else ""

    @property
    def key(self) -> str:
        return self.name.casefold()


@dataclass(frozen=True)
class Contribution:
    """One row of the timeline: a person's part in one change."""

    when: dt.datetime  # timezone-aware
    person: Contributor
    sections: tuple[str, ...]  # "business_case.problem", "context/legal.md#Terms", ...
    source: str  # "git" or "recorded"
    change: str  # the commit, or the recorded entry, this row belongs to
    note: str = ""  # the commit subject or what was recorded; "" when withheld
    via: str = ""  # for recorded input: call, email, redline, ...

    @property
    def date(self) -> dt.date:
        return self.when.date()


@dataclass(frozen=True)
class Update:
    """One change that fed the deal's pages (a commit or a recorded contribution), for
    the "Last updated" footers. `people` is empty when a commit that also touched other
    deals credits nobody this deal knows: it still dates the pages, naming no one."""

    when: dt.datetime
    sections: tuple[str, ...]
    people: tuple[Contributor, ...]

    @property
    def date(self) -> dt.date:
        return self.when.date()

    def feeds(self, page: str) -> bool:
        if page == CONTRIBUTORS_PAGE and not self.people:
            return False  # the contributors page lists people: a nameless change adds no row
        return any(section_feeds_page(section, page) for section in self.sections)


@dataclass(frozen=True)
class Shaper:
    """One person's part in the deal as a whole, for the contributors page."""

    person: Contributor
    sections: tuple[str, ...]  # everything they shaped, most recent first, each once
    first: dt.date
    latest: dt.date


@dataclass
class ContributorLog:
    """Everything the contributors page, the page footers and the seller's dashboard show
    for one deal. The verdict (`threading`, `reading`, `not_heard_from`, `buyer_roles`)
    is the seller's diagnosis: only the dashboard and the scorecard read it."""

    contributions: list[Contribution] = field(default_factory=list)  # newest first
    updates: list[Update] = field(default_factory=list)  # newest first
    history: str = "complete"  # "complete", "partial" or "unavailable"
    history_reason: str = ""

    def add(self, update: Update, contributions: list[Contribution]) -> None:
        self.updates.append(update)
        self.contributions += contributions

    def sort(self) -> None:
        """Newest first; changes of the same moment keep the order they were added in."""
        self.contributions.sort(key=lambda c: c.when, reverse=True)
        self.updates.sort(key=lambda u: u.when, reverse=True)

    def people(self, side: str) -> list[Contributor]:
        unique = {c.person.key: c.person for c in reversed(self.contributions)}
        return [person for person in unique.values() if person.side == side]

    def shapers(self, side: str) -> list[Shaper]:
        """Each person on `side` with what they shaped and when, most recent first."""
        found: dict[str, list[Contribution]] = {}
        for entry in self.contributions:
            if entry.person.side == side:
                found.setdefault(entry.person.key, []).append(entry)
        return [
            Shaper(entries[0].person,
                   tuple(dict.fromkeys(s for entry in entries for s in entry.sections)),
                   entries[-1].date, entries[0].date)
            for entries in found.values()
        ]  # fmt: skip

    @property
    def latest(self) -> dt.date | None:
        """The day of the newest contribution, from either side."""
        return self.contributions[0].date if self.contributions else None

    def headcount(self, customer: str, seller: str) -> str:
        """'12 people from Alpine Retail Group and 4 from Tallbridge Forecasting have
        shaped this deal room' (sides nobody contributed from are left out); '' if none."""
        groups = [
            (count, where)
            for count, where in ((len(self.people("buyer")), customer),
                                 (len(self.people("seller")), seller),
                                 (len(self.people("unknown")), ""))
            if count
        ]  # fmt: skip
        if not groups:
            return ""
        parts = []
        for index, (count, company) in enumerate(groups):
            if index:  # "and 4 from Tallbridge", "and 1 more"
                part = (_("%(num)d from %(company)s") if company else _("%(num)d more")) % {
                    "num": count, "company": company}  # fmt: skip
            elif company:
                part = ngettext("%(num)d person from %(company)s",
                                "%(num)d people from %(company)s", count) % {
                    "num": count, "company": company}  # fmt: skip
            else:
                part = ngettext("%(num)d person", "%(num)d people", count) % {"num": count}
            parts.append(part)
        total = sum(count for count, _ in groups)
        return ngettext("%(who)s has shaped this deal room", "%(who)s have shaped this deal room",
                        total) % {"who": and_list(parts)}  # fmt: skip

    # --- the seller's diagnosis: dashboard and scorecard only ---------------------------

    def not_heard_from(self, deal: Deal) -> list[Stakeholder]:
        """Buyer-side stakeholders who have not contributed yet."""
        heard = {person.key for person in self.people("buyer")}
        return [p for p in deal.people("buyer") if p.name.casefold() not in heard]

    @property
    def buyer_roles(self) -> list[str]:
        roles = [p.role_label for p in self.people("buyer") if p.role]
        return list(dict.fromkeys(roles))

    @property
    def last_buyer_contribution(self) -> dt.date | None:
        return next((c.date for c in self.contributions if c.person.side == "buyer"), None)

    @property
    def threading(self) -> str:
        """One of THREADING: nobody, one person, several in fewer than two roles, or
        several people in several roles on the buyer side."""
        buyers = self.people("buyer")
        if len(buyers) < 2:
            return THREADING[len(buyers)]
        return "thin" if len(self.buyer_roles) < 2 else "multi"

    @property
    def reading(self) -> str:
        """The multithreading verdict in plain language."""
        buyers, roles, level = self.people("buyer"), self.buyer_roles, self.threading
        if level == "none":
            return _("Seller-only so far: nobody on the buyer side has contributed yet.")
        if level == "single":
            person = buyers[0]
            if person.role == "champion":
                return _("Single-threaded: only the champion has contributed.")
            who = f"{person.name} ({person.role_label})" if person.role else person.name
            return _("Single-threaded: only %(who)s has contributed.") % {"who": who}
        if level == "thin":
            where = (
                _("all in one role (%(role)s)") % {"role": roles[0]}
                if roles else _("none of them a listed stakeholder")
            )  # fmt: skip
            return _("Thinly threaded: %(count)s people on the buyer side, %(where)s.") % {
                "count": len(buyers), "where": where,
            }  # fmt: skip
        return _("Multithreaded across %(roles)s.") % {
            "roles": and_list([mid_sentence(role) for role in roles])
        }

    # --- page footers ----------------------------------------------------------------

    def last_update(self, page: str) -> Update | None:
        """The newest change that fed `page` (e.g. "business-case.md")."""
        return next((update for update in self.updates if update.feeds(page)), None)


def section_area(section: str, context_titles: dict[str, str]) -> str:
    """What a section is part of, in the reader's words: 'business_case.cost_of_inaction'
    -> 'Business case', 'context/legal.md#Terms' -> the legal page's title."""
    file_part = section.partition("#")[0]
    if file_part in context_titles:
        return context_titles[file_part]
    if published_kind(PurePosixPath(file_part)) == ASSET:
        # assets/plan.pdf -> File plan.pdf
        return _("File %(name)s") % {"name": PurePosixPath(file_part).name}
    key = file_part.split(".", 1)[0] if _is_field(file_part) else file_part
    return _(SECTION_LABELS[key]) if key in SECTION_LABELS else key.replace("_", " ").capitalize()


def section_label(section: str, context_titles: dict[str, str]) -> str:
    """'business_case.cost_of_inaction' -> 'Business case: cost of inaction'."""
    file_part, _hash, heading = section.partition("#")
    label = section_area(file_part, context_titles)
    if _is_field(file_part) and "." in file_part:
        part = file_part.split(".", 1)[1]
        label += ": " + (_(FIELD_LABELS[part]) if part in FIELD_LABELS else part.replace("_", " "))
    return f"{label}: {heading}" if heading else label


def _is_field(section: str) -> bool:
    """A deal.yml field ("summary", "business_case.problem"), not a file of the folder."""
    return "/" not in section and not section.endswith(".md")


# --- building the logs -----------------------------------------------------------------


def build_contributor_logs(
    history: RepositoryHistory, folders: list[DealFolder]
) -> dict[str, ContributorLog]:
    """One log per deal from one pass over the repository history."""
    state = "unavailable" if not history.available else "partial" if history.partial else "complete"
    logs = {f.slug: ContributorLog(history=state, history_reason=history.reason) for f in folders}
    deals = {folder.slug: folder.deal for folder in folders}
    for commit, touched, shared in _commits_by_deal(history, set(deals)):
        for slug, sections in touched.items():
            logs[slug].add(*_git_change(commit, sections, deals[slug], shared))
    for folder in folders:
        log = logs[folder.slug]
        for index, entry in enumerate(folder.deal.contributions):
            log.add(*_recorded(index, entry, folder.deal))
        log.sort()
    return logs


def _commits_by_deal(
    history: RepositoryHistory, slugs: set[str]
) -> list[tuple[Commit, dict[str, list[str]], bool]]:
    """Each commit with the published sections it changed per deal, and whether it also
    touched any other deal folder (built or not, published files or not). Walking newest
    to oldest, a rename teaches the older path its new home, so history survives moves;
    but a file that moved in from another deal brings none of that deal's history, unless
    the deal folder itself was renamed: its own deal.yml moved, for the same customer."""
    moved: dict[str, str] = {}  # old repository path -> current repository path
    result = []
    for commit in history.commits:
        touched: dict[str, list[str]] = defaultdict(list)
        folders: set[str] = set()
        renamed_deals = {
            (_deal_of(change.old_path, history.prefix), _deal_of(change.path, history.prefix))
            for change in commit.files
            if _is_deal_file(change.path, history.prefix)
            and change.old_path and _is_deal_file(change.old_path, history.prefix)
            and "customer" not in change.sections  # another customer: not the same deal
        }  # fmt: skip
        for change in commit.files:
            current = moved.get(change.path, change.path)
            if change.old_path:
                route = (_deal_of(change.old_path, history.prefix),
                         _deal_of(change.path, history.prefix))  # fmt: skip
                if route[0] == route[1] or route in renamed_deals:
                    moved[change.old_path] = current
                elif route[0] is not None:
                    folders.add(route[0])  # the move itself touched the other deal too
            slug = _deal_of(current, history.prefix)
            if slug is None:
                continue
            path = _inside(current, history.prefix).split("/", 1)[1]  # type: ignore[union-attr]
            folders.add(slug)
            if slug in slugs:
                touched[slug] += _published_sections(path, change.sections)
        touched = {slug: sections for slug, sections in touched.items() if sections}
        if touched:
            result.append((commit, touched, len(folders) > 1))
    return result


def _inside(path: str, prefix: str) -> str | None:
    return relative_to(path, prefix) if prefix else path


def _is_deal_file(path: str, prefix: str) -> bool:
    """Whether a repository path is a deal folder's own deal.yml (`<slug>/deal.yml`)."""
    inside = _inside(path, prefix)
    if inside is None:
        return False
    folder, _slash, name = inside.partition("/")
    return bool(folder) and name == DEAL_FILE


def _deal_of(path: str | None, prefix: str) -> str | None:
    """The deal folder a repository path lies in (None outside the deals folder)."""
    inside = _inside(path, prefix) if path else None
    if inside is None or "/" not in inside:
        return None
    return inside.split("/", 1)[0]


def _published_sections(path: str, sections: tuple[str, ...]) -> list[str]:
    """The sections of a deal-relative file that a reader may see; [] for anything
    seller-only or unpublished (internal/, stray files, `internal:` and the pipeline
    fields in deal.yml), by the confinement rule's own definition of what is published."""
    if path == DEAL_FILE:
        return [s for s in sections if s.split(".", 1)[0] not in SELLER_ONLY_FIELDS]
    kind = published_kind(PurePosixPath(path))
    if kind == PAGE:
        return [f"{path}#{heading}" if heading else path for heading in sections] or [path]
    return [path] if kind == ASSET else []


def _git_change(
    commit: Commit, sections: list[str], deal: Deal, shared: bool
) -> tuple[Update, list[Contribution]]:
    """A commit as one deal sees it: the update that dates its pages, and one timeline
    row per person credited. A commit that touched other deals too credits only people
    this deal knows and carries no message, since either could name another customer;
    its date and this deal's own sections are all it brings when nobody is known."""
    when = dt.datetime.fromisoformat(commit.date)
    people = list(
        {p.email.casefold() or p.name: p for p in (commit.author, *commit.co_authors)}.values()
    )
    known = [_match(person, deal) for person in people]
    if shared:
        known = [person for person in known if person.side != "unknown"]
    note = "" if shared else commit.subject
    unique = tuple(dict.fromkeys(sections))
    rows = [Contribution(when, person, unique, "git", commit.sha, note) for person in known]
    return Update(when, unique, tuple(known)), rows


def _recorded(
    index: int, entry: RecordedContribution, deal: Deal
) -> tuple[Update, list[Contribution]]:
    person = _match(Person(entry.who, ""), deal)
    # A recorded day sorts after that day's commits' early hours, before its evening.
    when = dt.datetime.combine(entry.date, dt.time(12), tzinfo=dt.timezone.utc)
    row = Contribution(
        when, person, (entry.section,), "recorded", f"recorded:{index}", entry.what, entry.via
    )
    return Update(when, row.sections, (person,)), [row]


def _match(person: Person, deal: Deal) -> Contributor:
    """Stakeholder by email, then by name; else a side from the email's domain."""
    email = person.email.casefold()
    for stakeholder in deal.stakeholders:
        if email and stakeholder.email and stakeholder.email.casefold() == email:
            return _as_contributor(stakeholder, stakeholder.email)
    for stakeholder in deal.stakeholders:
        if stakeholder.name.casefold() == person.name.casefold():
            return _as_contributor(stakeholder, stakeholder.email or person.email)
    domain = email.rpartition("@")[2]
    side = "unknown"
    if domain and domain in {d.casefold() for d in deal.customer.domains}:
        side = "buyer"
    elif domain and domain in {d.casefold() for d in deal.seller.domains}:
        side = "seller"
    return Contributor(person.name, person.email, side)


def _as_contributor(stakeholder: Stakeholder, email: str) -> Contributor:
    return Contributor(
        stakeholder.name, email, stakeholder.side, stakeholder.role, stakeholder.title
    )


def and_list(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'; '' for no items."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " " + _("and") + " " + items[-1]
