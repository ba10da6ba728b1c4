"""The contributor log: who from which side shaped each deal, and when.

Git history (`history.py`) and the contributions recorded in deal.yml are merged into
one timeline per deal. People are matched to the deal's stakeholders by email, then by
name; others get their side from the customer's and seller's email domains.

Isolation rules: only published files count (never `internal/`, nor a deal.yml change
confined to `internal:`), and a commit that touches several deals shows in each deal
only the people that deal knows, and no commit message, since either could name
another customer.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..deal.files import ASSET, DEAL_FILE, PAGE, published_kind
from ..deal.loading import DealFolder
from ..deal.model import Deal, RecordedContribution, Stakeholder, role_label, section_feeds_page
from .git import Commit, Person, RepositoryHistory, relative_to

SECTION_LABELS = {
    "business_case": "Business case",
    "mutual_action_plan": "Mutual action plan",
    "business-case.md": "Business case",
    "approach.md": "Approach",
    "compelling_event": "Compelling event",
    "go_live": "Go-live date",
    "signature_target": "Signature target",
    "deal_value": "Deal value",
}


@dataclass(frozen=True)
class Contributor:
    """A person as this deal knows them."""

    name: str
    email: str  # "" when unknown
    side: str  # "buyer", "seller" or "unknown"
    role: str | None = None  # the stakeholder's role, when matched

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


@dataclass
class ContributorLog:
    """Everything the contributors page and the page footers show for one deal."""

    contributions: list[Contribution] = field(default_factory=list)  # newest first
    history: str = "complete"  # "complete", "partial" or "unavailable"
    history_reason: str = ""

    def people(self, side: str) -> list[Contributor]:
        unique = {c.person.key: c.person for c in reversed(self.contributions)}
        return [person for person in unique.values() if person.side == side]

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
    def reading(self) -> str:
        """The multithreading verdict in plain language."""
        buyers, roles = self.people("buyer"), self.buyer_roles
        if not buyers:
            return "Seller-only so far: nobody on the buyer side has contributed yet."
        if len(buyers) == 1:
            person = buyers[0]
            if person.role == "champion":
                return "Single-threaded: only the champion has contributed."
            who = f"{person.name} ({person.role_label})" if person.role else person.name
            return f"Single-threaded: only {who} has contributed."
        if len(roles) < 2:
            where = (
                f"all in one role ({roles[0]})" if roles else "none of them a listed stakeholder"
            )
            return f"Thinly threaded: {len(buyers)} people on the buyer side, {where}."
        return f"Multithreaded across {and_list([_in_sentence(role) for role in roles])}."

    def last_update(self, page: str) -> Contribution | None:
        """The newest contribution that changed `page` (e.g. "business-case.md")."""
        return next(
            (c for c in self.contributions if any(section_feeds_page(s, page) for s in c.sections)),
            None,
        )

    def credited(self, contribution: Contribution) -> list[Contributor]:
        """Everyone credited for the same change (a commit's author and co-authors)."""
        return [c.person for c in self.contributions if c.change == contribution.change]


def section_label(section: str, context_titles: dict[str, str]) -> str:
    """'business_case.cost_of_inaction' -> 'Business case: cost of inaction'."""
    file_part, _, heading = section.partition("#")
    if file_part in context_titles:
        label = context_titles[file_part]
    elif published_kind(PurePosixPath(file_part)) == ASSET:
        label = f"File {PurePosixPath(file_part).name}"  # assets/plan.pdf -> File plan.pdf
    elif "." in file_part and not file_part.endswith(".md"):
        parent, child = file_part.split(".", 1)
        label = f"{SECTION_LABELS.get(parent, parent)}: {child.replace('_', ' ')}"
    else:
        label = SECTION_LABELS.get(file_part, file_part.replace("_", " ").capitalize())
    return f"{label}: {heading}" if heading else label


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
            logs[slug].contributions += _git_contributions(commit, sections, deals[slug], shared)
    for folder in folders:
        log = logs[folder.slug]
        log.contributions += [
            _recorded(index, entry, folder.deal)
            for index, entry in enumerate(folder.deal.contributions)
        ]
        log.contributions.sort(key=lambda c: c.when, reverse=True)
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
    return inside is not None and PurePosixPath(inside).parts[1:] == (DEAL_FILE,)


def _deal_of(path: str | None, prefix: str) -> str | None:
    """The deal folder a repository path lies in (None outside the deals folder)."""
    inside = _inside(path, prefix) if path else None
    if inside is None or "/" not in inside:
        return None
    return inside.split("/", 1)[0]


def _published_sections(path: str, sections: tuple[str, ...]) -> list[str]:
    """The sections of a deal-relative file that a reader may see; [] for anything
    seller-only or unpublished (internal/, stray files, `internal:` in deal.yml), by the
    confinement rule's own definition of what is published."""
    if path == DEAL_FILE:
        return [s for s in sections if s != "internal" and not s.startswith("internal.")]
    kind = published_kind(PurePosixPath(path))
    if kind == PAGE:
        return [f"{path}#{heading}" if heading else path for heading in sections] or [path]
    return [path] if kind == ASSET else []


def _git_contributions(
    commit: Commit, sections: list[str], deal: Deal, shared: bool
) -> list[Contribution]:
    when = dt.datetime.fromisoformat(commit.date)
    people = list(
        {p.email.casefold() or p.name: p for p in (commit.author, *commit.co_authors)}.values()
    )
    known = [_match(person, deal) for person in people]
    if shared:  # never carry a name or message from one deal into another
        known = [person for person in known if person.side != "unknown"]
    note = "" if shared else commit.subject
    unique = tuple(dict.fromkeys(sections))
    return [Contribution(when, person, unique, "git", commit.sha, note) for person in known]


def _recorded(index: int, entry: RecordedContribution, deal: Deal) -> Contribution:
    person = _match(Person(entry.who, ""), deal)
    # A recorded day sorts after that day's commits' early hours, before its evening.
    when = dt.datetime.combine(entry.date, dt.time(12), tzinfo=dt.timezone.utc)
    return Contribution(
        when, person, (entry.section,), "recorded", f"recorded:{index}", entry.what, entry.via
    )


def _match(person: Person, deal: Deal) -> Contributor:
    """Stakeholder by email, then by name; else a side from the email's domain."""
    email = person.email.casefold()
    for stakeholder in deal.stakeholders:
        if email and stakeholder.email and stakeholder.email.casefold() == email:
            return Contributor(
                stakeholder.name, stakeholder.email, stakeholder.side, stakeholder.role
            )
    for stakeholder in deal.stakeholders:
        if stakeholder.name.casefold() == person.name.casefold():
            return Contributor(
                stakeholder.name, stakeholder.email or person.email, stakeholder.side,
                stakeholder.role,
            )  # fmt: skip
    domain = email.rpartition("@")[2]
    side = "unknown"
    if domain and domain in {d.casefold() for d in deal.customer.domains}:
        side = "buyer"
    elif domain and domain in {d.casefold() for d in deal.seller.domains}:
        side = "seller"
    return Contributor(person.name, person.email, side)


def _in_sentence(label: str) -> str:
    """A capitalised label as it reads mid-sentence; acronyms such as IT stay."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
