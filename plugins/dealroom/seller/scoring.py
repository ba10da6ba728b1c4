"""The business-case scorecard: five sections, levels 1-5, a target per stage.

A section reaches a level only if every condition of that level and of all levels below
it is met; a section that does not meet level 1 scores 0. The deal's score is the mean
of the five sections (0-5); readiness is the score as a percentage of 5. For every
section below 5 the unmet conditions of its next level are what caps it, and each
condition knows the concrete move that would meet it.

Everything is computed from the deal's data, its pages and its contributor log; the
level definitions below are the README's "Scorecard" table, condition for condition.
Seller-only: nothing here is ever rendered into a deal site.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from babel.numbers import format_decimal

from ..deal.i18n import N_, current_language, mid_sentence
from ..deal.i18n import gettext as _
from ..deal.loading import DealFolder
from ..deal.model import Deal
from ..history.contributors import ContributorLog

DEFAULT_STAGE_TARGETS = {1: 2.0, 2: 3.0, 3: 4.0, 4: 4.5, 5: 4.9}
DEFAULT_THRESHOLDS = {
    "problem_agreed_by": 2,  # buyer-side people who shaped the problem (level 4)
    "cost_items": 2,  # quantified costs of inaction: impact at several levels (level 4)
    "capabilities": 3,  # required capabilities listed (level 2)
    "outcomes": 3,  # specific outcome metrics (level 4)
    "plan_steps": 5,  # dated plan steps worked back from the event (level 3)
}
SECTIONS = {  # titles translated where a score is made (the seller's language)
    "headline": N_("Priority headline"),
    "problem": N_("Problem"),
    "approach": N_("Approach"),
    "outcomes": N_("Outcomes"),
    "investment": N_("Investment"),
}
PROBLEM_SECTIONS = ("business_case.problem", "business_case.cost_of_inaction")
APPROACH_SECTIONS = ("business_case.capabilities", "business_case.alternatives", "approach.md")


@dataclass(frozen=True)
class Condition:
    text: str  # what must be true, as the README states it (in the seller's language)
    met: bool
    move: str  # the concrete next move that would meet it


@dataclass(frozen=True)
class SectionScore:
    key: str
    title: str
    level: int  # 0-5
    caps: list[Condition]  # unmet conditions of the next level (empty at 5)


@dataclass(frozen=True)
class Scorecard:
    slug: str
    stage: int
    sections: list[SectionScore]
    target: float
    next_moves: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(s.level for s in self.sections) / len(self.sections), 2)

    @property
    def readiness(self) -> int:
        return round(self.score / 5 * 100)

    @property
    def passed(self) -> bool:
        return self.score >= self.target

    def as_dict(self) -> dict[str, Any]:
        return {
            "deal": self.slug, "stage": self.stage, "score": self.score, "target": self.target,
            "passed": self.passed, "readiness_percent": self.readiness,
            "sections": {
                s.key: {"level": s.level, "capped_by": [c.text for c in s.caps]}
                for s in self.sections
            },
            "next_moves": self.next_moves,
        }  # fmt: skip


@dataclass(frozen=True)
class ScoringRules:
    """Stage targets and thresholds, from mkdocs.yml (`scoring_*` options)."""

    stage_targets: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_STAGE_TARGETS))
    thresholds: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))

    @classmethod
    def from_options(cls, targets: dict, thresholds: dict) -> ScoringRules:
        unknown = set(thresholds) - set(DEFAULT_THRESHOLDS)
        if unknown:
            raise ValueError(
                f"scoring_thresholds: unknown {', '.join(sorted(unknown))}; "
                f"known: {', '.join(DEFAULT_THRESHOLDS)}"
            )
        merged_targets = {**DEFAULT_STAGE_TARGETS, **{int(k): float(v) for k, v in targets.items()}}
        if any(not 1 <= stage <= 5 or not 0 <= t <= 5 for stage, t in merged_targets.items()):
            raise ValueError("scoring_stage_targets: stages 1-5, targets from 0 to 5")
        return cls(
            merged_targets, {**DEFAULT_THRESHOLDS, **{k: int(v) for k, v in thresholds.items()}}
        )


def score_deal(
    folder: DealFolder,
    log: ContributorLog,
    rules: ScoringRules,
    readers: frozenset[str] = frozenset(),
) -> Scorecard:
    """`readers`: the stakeholder roles of the buyer-side people who have opened the
    business case, as `dealroom activity --save` saw them in the host's log."""
    facts = _Facts(folder, log, readers)
    sections = [
        _section(key, levels(facts, rules.thresholds))
        for key, levels in (("headline", _headline), ("problem", _problem),
                            ("approach", _approach), ("outcomes", _outcomes),
                            ("investment", _investment))
    ]  # fmt: skip
    card = Scorecard(
        folder.slug, folder.deal.stage, sections, rules.stage_targets[folder.deal.stage]
    )
    lowest = sorted(
        (s for s in sections if s.level < 5), key=lambda s: (s.level, list(SECTIONS).index(s.key))
    )
    moves = [c.move for section in lowest for c in section.caps]
    return Scorecard(card.slug, card.stage, sections, card.target, list(dict.fromkeys(moves))[:3])


def _section(key: str, levels: list[list[Condition]]) -> SectionScore:
    level = 0
    for conditions in levels:
        if not all(condition.met for condition in conditions):
            break
        level += 1
    caps = [c for c in levels[level] if not c.met] if level < 5 else []
    return SectionScore(key, _(SECTIONS[key]), level, caps)


# --- what the levels look at ------------------------------------------------------------


class _Facts:
    """Names and numbers the conditions and their moves refer to."""

    def __init__(self, folder: DealFolder, log: ContributorLog, readers: frozenset[str]) -> None:
        self.folder = folder
        self.readers = readers  # roles that opened the business case (engagement)
        self.deal: Deal = folder.deal
        self.log = log
        champion = self.deal.champion
        self.champion = champion.name if champion else _("your champion")

    def buyer_people(self, sections: tuple[str, ...]) -> list[Any]:
        """Buyer-side contributors whose contributions touched any of `sections`."""
        people = {}
        for entry in self.log.contributions:
            if entry.person.side == "buyer" and any(
                s.split("#")[0].startswith(sections) for s in entry.sections
            ):
                people[entry.person.key] = entry.person
        return list(people.values())

    def person(self, *roles: str) -> str | None:
        found = next((p for p in self.deal.people("buyer") if p.role in roles), None)
        return found.name if found else None

    def money(self, amount: float) -> str:
        number = format_decimal(round(amount), "#,##0", locale=current_language())
        return f"{self.deal.currency} {number}"


Levels = Callable[[_Facts, dict[str, int]], list[list[Condition]]]


def _headline(f: _Facts, t: dict[str, int]) -> list[list[Condition]]:
    h, case, event = f.deal.business_case.headline, f.deal.business_case, f.deal.compelling_event
    owner = (
        f.deal.stakeholder(case.priority.owner) if case.priority and case.priority.owner else None
    )
    sponsor = f.person("executive sponsor", "economic buyer") or _("the executive sponsor")
    who = {"champion": f.champion, "sponsor": sponsor}
    return [
        [Condition(_("the change and the approach are written"), bool(h.change and h.approach),
                   _("Write the headline's 'because of' and 'we should' with %(champion)s") % who)],
        [Condition(_("the full headline: change, approach, date, risk avoided, outcome unlocked"),
                   bool(h.change and h.approach and f.deal.headline_date and h.avoid and h.unlock),
                   _("Complete the headline (risk avoided, outcome unlocked) with %(champion)s")
                   % who)],
        [Condition(_("tied to a named strategic initiative"), bool(case.priority),
                   _("Ask %(champion)s which company initiative this serves and name it") % who)],
        [Condition(_("has a compelling-event date"), bool(event),
                   _("Ask %(champion)s what date makes this urgent, and what missing it costs")
                   % who)],
        [Condition(_("names an executive sponsor who owns the priority"),
                   bool(owner and owner.side == "buyer"
                        and owner.role in ("executive sponsor", "economic buyer")),
                   _("Get %(sponsor)s named as owner of the priority") % who)],
    ]  # fmt: skip


def _problem(f: _Facts, t: dict[str, int]) -> list[list[Condition]]:
    problem, costs = f.deal.business_case.problem, f.deal.business_case.cost_of_inaction
    quantified = [c for c in costs if c.amount > 0 and c.basis]
    shapers = f.buyer_people(PROBLEM_SECTIONS)
    finance = f.person("economic buyer", "finance") or _("the budget owner")
    biggest = max(costs, key=lambda c: c.annual_amount or c.amount, default=None)
    # The same move at the start of a sentence and after a semicolon: each language
    # decides what that does to its first word (German and Dutch start with the name).
    values = {"finance": finance}
    confirm = _("Quantify what the problem costs per year with %(finance)s") % values
    confirm_mid = _("quantify what the problem costs per year with %(finance)s") % values
    if biggest:
        period = "" if biggest.per == "once" else "/" + _(biggest.per)
        values = {"finance": finance, "amount": f.money(biggest.amount) + period,
                  "item": mid_sentence(biggest.item)}  # fmt: skip
        confirm = _("Ask %(finance)s to confirm the %(amount)s cost of %(item)s") % values
        confirm_mid = _("ask %(finance)s to confirm the %(amount)s cost of %(item)s") % values
    who = {"champion": f.champion, "confirm": confirm}
    return [
        [Condition(_("a problem statement"), bool(problem.statement),
                   _("Write the problem statement in %(champion)s's words") % who)],
        [Condition(_("a quantified cost with its basis"), bool(quantified),
                   _("Quantify the cost of inaction with its basis; %(confirm)s")
                   % {"confirm": confirm_mid})],
        [Condition(_("customer-validated: a buyer-side contribution shaped it"), bool(shapers),
                   _("%(confirm)s; co-edit the problem statement with %(champion)s") % who)],
        [Condition(_("agreed by at least %(count)s buyer-side people")
                   % {"count": t["problem_agreed_by"]},
                   len(shapers) >= t["problem_agreed_by"],
                   _("%(confirm)s; have a second buyer-side person sign off the problem") % who),
         Condition(_("impact at several levels: at least %(count)s quantified costs")
                   % {"count": t["cost_items"]},
                   len(quantified) >= t["cost_items"],
                   _("Add the cost to a second level (team, department or company) with its "
                     "basis"))],
        [Condition(_("shown to get worse over time"), bool(problem.worsens),
                   _("Show with %(champion)s how the problem grows if it is not addressed")
                   % who)],
    ]  # fmt: skip


def _approach(f: _Facts, t: dict[str, int]) -> list[list[Condition]]:
    case = f.deal.business_case
    must = [c for c in case.capabilities if c.must_have]
    roles = {p.role for p in f.buyer_people(APPROACH_SECTIONS)}
    it_person = f.person("it security", "technical") or _("IT / security")
    user = f.person("user") or _("an end user")
    who = {"champion": f.champion, "user": user, "it": it_person}
    return [
        [Condition(_("required capabilities listed"), bool(case.capabilities),
                   _("List the capabilities %(champion)s needs, before any product talk") % who)],
        [Condition(_("at least %(count)s capabilities, must-haves matched to the offer")
                   % {"count": t["capabilities"]},
                   len(case.capabilities) >= t["capabilities"] and all(c.met_by for c in must),
                   _("Match every must-have capability to how the offer meets it (met_by)"))],
        [Condition(_("the approach is written (approach.md)"), "approach.md" in f.folder.narrative,
                   _("Write approach.md: how the problem gets solved, with %(champion)s") % who)],
        [Condition(_("signed off from end users to IT / security"),
                   "user" in roles and bool(roles & {"it security", "technical"}),
                   _("Walk %(user)s and %(it)s through the capabilities; record their sign-off")
                   % who)],
        [Condition(_("alternatives considered and ruled out"), bool(case.alternatives),
                   _("Record the alternatives %(champion)s considered and why they were ruled "
                     "out") % who)],
    ]  # fmt: skip


def _outcomes(f: _Facts, t: dict[str, int]) -> list[list[Condition]]:
    outcomes = f.deal.business_case.outcomes
    complete = [o for o in outcomes if o.baseline and o.target and o.by]
    narrative = f.folder.narrative.get("business-case.md", "")
    # Headings in the deal room's language: scenario, Szenario, scénario, escenario; sensitivity,
    # Sensitivität, sensibilidad, gevoeligheid.
    scenarios = bool(re.search(r"^#+ .*(scenario|szenari|scénari|sensitivit|sensibili|gevoelig)",
                               narrative, re.I | re.M))  # fmt: skip
    who = {"champion": f.champion}
    return [
        [Condition(_("an outcome metric"), bool(outcomes),
                   _("Agree one measurable outcome with %(champion)s") % who)],
        [Condition(_("every metric has current value, target and date"),
                   bool(outcomes) and len(complete) == len(outcomes),
                   _("Fill in today's value, the target and the date for every outcome"))],
        [Condition(_("validated by the buyer"), bool(f.buyer_people(("business_case.outcomes",))),
                   _("Have %(champion)s confirm the baselines from their own reports") % who)],
        [Condition(_("at least %(count)s specific metrics") % {"count": t["outcomes"]},
                   len(complete) >= t["outcomes"],
                   _("Add outcome metrics for each group that benefits (users, finance, IT)"))],
        [Condition(_("scenarios or sensitivities (a business-case.md heading)"), scenarios,
                   _("Add a 'Scenarios' section: what if adoption or savings come in lower"))],
    ]  # fmt: skip


def _investment(f: _Facts, t: dict[str, int]) -> list[list[Condition]]:
    deal, investment, event = f.deal, f.deal.business_case.investment, f.deal.compelling_event
    steps = deal.mutual_action_plan.steps
    anchored = bool(event and deal.go_live and deal.go_live <= event.date)
    worked_back = (
        bool(event) and len(steps) >= t["plan_steps"] and all(s.due <= event.date for s in steps)
    )
    budget = f.person("economic buyer")
    procurement = f.person("procurement")
    owners_roles = {p.role for s in steps if (p := deal.stakeholder(s.owner)) and p.side == "buyer"}
    contributed_roles = {c.person.role for c in f.log.contributions if c.person.side == "buyer"}
    who = {
        "champion": f.champion, "budget": budget or _("the budget owner"),
        "procurement": procurement or _("procurement"),
    }  # fmt: skip
    return [
        [Condition(_("the money is stated"), bool(investment.one_time or investment.recurring),
                   _("State the one-time and recurring investment"))],
        [Condition(_("money, time and people stated"), bool(investment.people and deal.go_live),
                   _("Agree with %(champion)s who they commit, for how long, and the go-live "
                     "date") % who)],
        [Condition(_("go-live anchored to the compelling event"), anchored,
                   _("Set go-live on or before the compelling event")),
         Condition(_("at least %(count)s dated plan steps worked back from the event")
                   % {"count": t["plan_steps"]},
                   worked_back, _("Work the plan back from the compelling event, step by step"))],
        [Condition(_("the budget owner is engaged"),
                   bool(budget)
                   and "economic buyer" in owners_roles | contributed_roles | f.readers,
                   _("Get %(budget)s to own a plan step or confirm figures") % who)],
        [Condition(_("procurement is engaged"),
                   bool(procurement) and "procurement" in owners_roles,
                   _("Add %(procurement)s's steps to the plan, owned by them") % who)],
    ]  # fmt: skip
