"""The deal model: what `deals/<slug>/deal.yml` may contain, and its cross-field rules.

The classes here only describe and check data; reading files lives in `loading.py`,
figures in `figures.py`, pages in `rendering.py`. Every field carries a description
(shown in error messages and mirrored in the README's deal folder reference).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Sequence
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .i18n import LANGUAGES, N_, gettext

# --- vocabularies ------------------------------------------------------------------------

SALES_STEPS = (
    "research",
    "introduce",
    "qualify",
    "learn",
    "present",
    "propose",
    "resolve",
    "agree",
)
DECISIONS = ("open", "yes", "no", "later")
SIDES = ("buyer", "seller")
PLAN_STATUSES = ("planned", "in progress", "done", "blocked")
PERIODS = ("once", "month", "quarter", "year")
BUYER_ROLES = (
    "champion",
    "economic buyer",
    "executive sponsor",
    "technical",
    "it security",
    "finance",
    "procurement",
    "legal",
    "user",
    "other",
)
SELLER_ROLES = (
    "account executive",
    "solution engineer",
    "customer success",
    "leadership",
    "legal",
    "security",
    "other",
)
ROLES = tuple(dict.fromkeys(BUYER_ROLES + SELLER_ROLES))
# How each role reads in the seller's views (deal sites never name the roles).
ROLE_LABELS = {
    "champion": N_("Champion"), "economic buyer": N_("Economic buyer"),
    "executive sponsor": N_("Executive sponsor"), "technical": N_("Technical"),
    "it security": N_("IT / security"), "finance": N_("Finance"),
    "procurement": N_("Procurement"), "legal": N_("Legal"), "user": N_("User"),
    "other": N_("Other"), "account executive": N_("Account executive"),
    "solution engineer": N_("Solution engineer"), "customer success": N_("Customer success"),
    "leadership": N_("Leadership"), "security": N_("Security"),
}  # fmt: skip


def role_label(role: str) -> str:
    """How a role reads, in the language in use: "Economic buyer", "IT / security"."""
    return gettext(ROLE_LABELS[role]) if role in ROLE_LABELS else role.capitalize()


PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


def _normalise_word(value: Any) -> Any:
    """Accept `In_Progress`, `in-progress` and `in progress` alike for vocabulary fields."""
    if isinstance(value, str):
        return re.sub(r"[\s_-]+", " ", value.strip().lower())
    return value


def _yes_no(value: Any) -> Any:
    """YAML reads an unquoted `yes`/`no` as true/false; a decision means the words."""
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


def _percent(value: Any) -> Any:
    """Accept `70`, `70%` and `"70 %"`; the model stores a number from 0 to 100."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return value.strip()[:-1].strip()
    return value


Word = BeforeValidator(_normalise_word)
Text = Annotated[str, Field(min_length=1)]
# Far above any real deal in any currency, low enough that no sum, product or ratio of
# amounts over ten years can overflow.
MAX_AMOUNT = 1e15
Money = Annotated[float, Field(ge=0, le=MAX_AMOUNT, description="an amount in the deal's currency")]
Step = Annotated[Literal[SALES_STEPS], Word]  # type: ignore[valid-type]
Side = Annotated[Literal[SIDES], Word]  # type: ignore[valid-type]
Role = Annotated[Literal[ROLES], Word]  # type: ignore[valid-type]
PlanStatus = Annotated[Literal[PLAN_STATUSES], Word]  # type: ignore[valid-type]
Period = Annotated[Literal[PERIODS], Word]  # type: ignore[valid-type]
Decision = Annotated[Literal[DECISIONS], Word, BeforeValidator(_yes_no)]  # type: ignore[valid-type]


class Model(BaseModel):
    # Unknown keys are reported as warnings with a suggestion by `loading.py`, which walks
    # the raw YAML against these classes; here they are simply ignored.
    model_config = ConfigDict(
        extra="ignore", frozen=True, str_strip_whitespace=True, allow_inf_nan=False
    )


def _name_shorthand(value: Any) -> Any:
    """`customer: Northwind` is shorthand for `customer: {name: Northwind}`."""
    return {"name": value} if isinstance(value, str) else value


# --- parties and people ---------------------------------------------------------------


class Party(Model):
    """A company on one side of the deal."""

    name: Text = Field(description="company name as the reader knows it", examples=["Northwind"])
    domains: list[str] = Field(
        default_factory=list,
        description="email domains of this company, used to place unlisted people on a side",
        examples=[["northwind.example"]],
    )


# Only an address this plain becomes a mailto: link; anything else is shown as text.
PLAIN_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def mailto(email: str | None) -> str:
    """A `mailto:` link for a plain email address, else "" (no `?cc=` or `&body=`)."""
    return f"mailto:{email}" if email and PLAIN_EMAIL.fullmatch(email) else ""


class Stakeholder(Model):
    """A person involved in the deal, on either side."""

    name: Text = Field(description="full name", examples=["Maria Chen"])
    title: Text = Field(description="job title", examples=["VP Finance Operations"])
    side: Side = Field(description="buyer or seller")
    role: Role = Field(description="role in the deal, e.g. champion, economic buyer, legal")
    email: str | None = Field(default=None, description="optional email address")
    contact: bool = Field(
        default=False,
        description="seller side only: the person buyers should ask (default: the account "
        "executive); named on the overview and, if enabled, on the sign-in pages",
    )

    @property
    def role_label(self) -> str:
        return role_label(self.role)

    @property
    def mailto(self) -> str:
        return mailto(self.email)

    @model_validator(mode="after")
    def _role_fits_side(self) -> Stakeholder:
        allowed = BUYER_ROLES if self.side == "buyer" else SELLER_ROLES
        if self.role not in allowed:
            raise ValueError(
                f"role '{self.role}' is not a {self.side}-side role; use one of: "
                + ", ".join(allowed)
            )
        if self.contact and self.side != "seller":
            raise ValueError(
                "'contact: true' marks the seller-side person buyers should ask; "
                "remove it from this buyer-side stakeholder"
            )
        return self


class CompellingEvent(Model):
    """The customer-given date that makes the deal urgent."""

    date: dt.date = Field(description="date as YYYY-MM-DD", examples=["2027-04-01"])
    reason: Text = Field(description="what happens on that date")
    if_missed: str | None = Field(default=None, description="what it costs the buyer if missed")


class DealDecision(Model):
    """Where the buyer's decision stands."""

    status: Decision = Field(default="open", description="open, yes, no or later")
    why: str | None = Field(default=None, description="the reason, required for no and later")
    date: dt.date | None = Field(default=None, description="when the decision was made")

    @model_validator(mode="after")
    def _closed_decisions_need_a_reason(self) -> DealDecision:
        if self.status in ("no", "later") and not self.why:
            raise ValueError(f"a '{self.status}' decision needs a 'why' (e.g. next fiscal year)")
        return self


# --- business case -------------------------------------------------------------------


class Headline(Model):
    """Because of [change], we should [approach] by [date]. After, we'll avoid [risk]
    while unlocking [outcome]."""

    change: str | None = Field(default=None, description="the change that forces action")
    approach: str | None = Field(default=None, description="what we should do")
    by: dt.date | None = Field(default=None, description="by when (defaults to go_live)")
    avoid: str | None = Field(default=None, description="the risk avoided")
    unlock: str | None = Field(default=None, description="the outcome unlocked")


class StrategicPriority(Model):
    """The company-wide initiative the case serves."""

    initiative: Text = Field(description="name of the strategic initiative")
    owner: str | None = Field(default=None, description="executive owner (a stakeholder's name)")


class Problem(Model):
    """Every [frequency], at least [reach] are affected by [problem], costing us [cost].
    If not addressed by [date], [it gets worse]."""

    statement: str | None = Field(default=None, description="the problem in the buyer's words")
    frequency: str | None = Field(
        default=None, description="how often it hits, e.g. every month-end"
    )
    reach: str | None = Field(default=None, description="who is affected, e.g. 23 AP clerks")
    worsens: str | None = Field(default=None, description="how it gets worse if not addressed")


class CostItem(Model):
    """One quantified cost of doing nothing."""

    item: Text = Field(description="what the cost is")
    amount: Money
    per: Period = Field(default="year", description="once, month, quarter or year")
    basis: str | None = Field(default=None, description="how the amount was calculated")
    source: str | None = Field(default=None, description="who or what the number comes from")
    avoidable_percent: Annotated[float, BeforeValidator(_percent), Field(ge=0, le=100)] = Field(
        default=100, description="share of this cost the solution removes (0-100)"
    )

    @property
    def annual_amount(self) -> float:
        """The amount per year (0 for one-off costs)."""
        return self.amount * PERIODS_PER_YEAR.get(self.per, 0)

    @property
    def avoidable_fraction(self) -> float:
        return self.avoidable_percent / 100


class Capability(Model):
    """A capability the buyer needs, agreed before any vendor is chosen."""

    name: Text = Field(description="the capability")
    must_have: bool = Field(default=True, description="true for must-have, false for nice-to-have")
    why: str | None = Field(default=None, description="why the buyer needs it")
    met_by: str | None = Field(default=None, description="how the proposed solution meets it")


class Alternative(Model):
    """An option the buyer considered and ruled out."""

    option: Text = Field(description="the alternative, e.g. build in-house, do nothing")
    why_not: Text = Field(description="why it was ruled out")


class Outcome(Model):
    """A target outcome as a measurable metric."""

    metric: Text = Field(description="what is measured", examples=["Days to close the books"])
    baseline: str | None = Field(default=None, description="today's value")
    target: str | None = Field(default=None, description="the target value")
    by: dt.date | None = Field(default=None, description="date the target is reached")


class InvestmentItem(Model):
    """One line of what the buyer invests."""

    item: Text = Field(description="what is bought")
    amount: Money
    per: Period = Field(default="once", description="once, month, quarter or year")

    @property
    def annual_amount(self) -> float:
        return self.amount * PERIODS_PER_YEAR.get(self.per, 0)


class Investment(Model):
    """Money, time and people the buyer puts in."""

    one_time: list[InvestmentItem] = Field(default_factory=list, description="one-off costs")
    recurring: list[InvestmentItem] = Field(default_factory=list, description="recurring costs")
    people: str | None = Field(default=None, description="people and time the buyer commits")
    horizon_years: int = Field(default=3, ge=1, le=10, description="years the figures cover")

    @model_validator(mode="after")
    def _recurring_items_recur(self) -> Investment:
        for index, line in enumerate(self.recurring):
            if line.per == "once":
                raise ValueError(
                    f"recurring[{index}] '{line.item}' has per: once; move it to one_time "
                    "or give per: month, quarter or year"
                )
        return self


class BusinessCase(Model):
    """The one-page business case, co-written with the champion."""

    headline: Headline = Field(default_factory=Headline)
    priority: StrategicPriority | None = Field(default=None, description="strategic priority")
    problem: Problem = Field(default_factory=Problem)
    cost_of_inaction: list[CostItem] = Field(default_factory=list)
    capabilities: list[Capability] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    investment: Investment = Field(default_factory=Investment)
    contributors: list[str] = Field(
        default_factory=list,
        description="stakeholder names credited under 'Developed by' besides the champion",
    )


# --- mutual action plan ---------------------------------------------------------------


def _due(value: Any) -> Any:
    """A date, or a rule (see deal/plan.py) checked there; a date written in quotes is
    still a date. Anything else gets one message, at `due` itself."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return value.strip()
    raise ValueError(
        "write the due date as YYYY-MM-DD, or a rule such as 'compelling_event - 21d', "
        "'signature + 1w' or '<step id> + 3d'"
    )


class PlanStep(Model):
    """One dated step of the mutual action plan."""

    title: Text = Field(description="what gets done")
    owner: Text = Field(description="who does it (a stakeholder's name or a team)")
    side: Side | None = Field(default=None, description="buyer or seller; taken from the owner")
    id: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="a short name other steps refer to, e.g. security-review",
    )  # fmt: skip
    after: list[Text] = Field(
        default_factory=list, description="the steps (id or title) that must be done first"
    )
    due: Annotated[dt.date | str, BeforeValidator(_due)] = Field(
        description="due date as YYYY-MM-DD, or a rule such as 'compelling_event - 21d', "
        "'signature + 1w' or 'security-review + 3d'",
        examples=["2027-01-15"],
    )
    due_rule: str | None = Field(
        default=None, description="the rule `due` was given as (set by dealroom)"
    )
    status: PlanStatus = Field(default="planned", description="planned, in progress, done, blocked")
    phase: str | None = Field(default=None, description="e.g. security review, legal, procurement")
    start: dt.date | None = Field(default=None, description="start date")
    completed: dt.date | None = Field(default=None, description="completion date (done steps)")
    notes: str | None = Field(default=None, description="free text shown in the plan")

    @model_validator(mode="after")
    def _completion_matches_status(self) -> PlanStep:
        if self.completed and self.status != "done":
            raise ValueError(f"has a completed date but status '{self.status}'; set status: done")
        return self

    def is_overdue(self, as_of: dt.date) -> bool:
        return self.status != "done" and self.due < as_of


class MutualActionPlan(Model):
    """The dated steps both sides take to go-live by the compelling event."""

    success_criteria: list[str] = Field(
        default_factory=list, description="how both sides judge success"
    )
    steps: list[PlanStep] = Field(default_factory=list)

    def ordered_steps(self) -> list[PlanStep]:
        return sorted(self.steps, key=lambda step: (step.due, step.title))


# --- recorded contributions ----------------------------------------------------------

VIA = ("call", "meeting", "email", "redline", "document", "chat", "other")
Via = Annotated[Literal[VIA], Word]  # type: ignore[valid-type]


class RecordedContribution(Model):
    """Input that did not come through git: a call, an email, a redline."""

    who: Text = Field(description="the contributor (a stakeholder's name)")
    date: dt.date = Field(description="when, as YYYY-MM-DD")
    what: Text = Field(description="what they contributed, in a sentence")
    section: Text = Field(
        description="what it shaped: a deal.yml field such as business_case.problem, or a "
        "page file such as approach.md or context/legal.md",
        examples=["business_case.problem"],
    )
    via: Via = Field(default="other", description="call, meeting, email, redline, ...")


# --- the deal -------------------------------------------------------------------------


class Deal(Model):
    """Everything `deal.yml` holds for one deal."""

    customer: Annotated[Party, BeforeValidator(_name_shorthand)] = Field(description="the buyer")
    seller: Annotated[Party, BeforeValidator(_name_shorthand)] = Field(description="your company")
    stage: int = Field(ge=1, le=5, description="pipeline stage from 1 to 5", examples=[3])
    step: Step = Field(description="sales-process step: " + ", ".join(SALES_STEPS))
    summary: str | None = Field(default=None, description="the case in one paragraph")
    decision: DealDecision = Field(default_factory=DealDecision)
    compelling_event: CompellingEvent | None = Field(default=None)
    go_live: dt.date | None = Field(default=None, description="target go-live date")
    signature_target: dt.date | None = Field(default=None, description="contract signature target")
    opened: dt.date | None = Field(default=None, description="when the opportunity was opened")
    deal_value: Money | None = Field(default=None, description="deal value in `currency`")
    currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code", examples=["EUR"]
    )
    locale: str = Field(default="en_US", description="how numbers and dates are written")
    language: Literal[LANGUAGES] | None = Field(  # type: ignore[valid-type]
        default=None,
        description="the deal room's language: " + ", ".join(LANGUAGES) + "; defaults from "
        "locale (de_DE: de), else en",
    )
    stakeholders: list[Stakeholder] = Field(default_factory=list)
    business_case: BusinessCase = Field(default_factory=BusinessCase)
    mutual_action_plan: MutualActionPlan = Field(default_factory=MutualActionPlan)
    contributions: list[RecordedContribution] = Field(
        default_factory=list, description="contributions recorded by hand"
    )
    internal: Any = Field(default=None, description="seller-only notes; never published")

    @property
    def site_language(self) -> str:
        """The deal room's language: `language`, else the locale's if one of LANGUAGES."""
        spoken = self.locale.replace("-", "_").split("_")[0].lower()
        return self.language or (spoken if spoken in LANGUAGES else "en")

    def reference_problems(self, context_files: Sequence[str] = ()) -> list[tuple[str, str]]:
        """Cross-field problems as (field path, message): names that point at nobody,
        sides that contradict their owner. Kept out of validators so each error can name
        the exact field (and so its line in deal.yml)."""
        problems: list[tuple[str, str]] = []
        seen: set[str] = set()
        contacts: list[str] = []
        for index, person in enumerate(self.stakeholders):
            if person.name in seen:
                problems.append((f"stakeholders[{index}].name", f"'{person.name}' is listed twice"))
            seen.add(person.name)
            if person.contact:
                if contacts:
                    problems.append((
                        f"stakeholders[{index}].contact",
                        f"{contacts[0]} is already the contact; mark only one person "
                        "'contact: true'",
                    ))  # fmt: skip
                contacts.append(person.name)
        for index, step in enumerate(self.mutual_action_plan.steps):
            person = self.stakeholder(step.owner)
            where = f"mutual_action_plan.steps[{index}]"
            if person is None and step.side is None:
                problems.append((
                    f"{where}.owner",
                    f"'{step.owner}' is not a listed stakeholder, so also give "
                    "'side: buyer' or 'side: seller'",
                ))  # fmt: skip
            elif person is not None and step.side not in (None, person.side):
                problems.append((
                    f"{where}.side",
                    f"'{step.side}' contradicts the owner {person.name}, who is on the "
                    f"{person.side} side; remove 'side' or fix the owner",
                ))  # fmt: skip
        case = self.business_case
        referenced = [
            (f"business_case.contributors[{i}]", name) for i, name in enumerate(case.contributors)
        ]
        if case.priority and case.priority.owner:
            referenced.append(("business_case.priority.owner", case.priority.owner))
        referenced += [
            (f"contributions[{i}].who", entry.who) for i, entry in enumerate(self.contributions)
        ]
        for where, name in referenced:
            if self.stakeholder(name) is None:
                problems.append((
                    where,
                    f"'{name}' is not a listed stakeholder; add them under stakeholders "
                    "or fix the spelling",
                ))  # fmt: skip
        known = deal_sections(list(context_files))
        for index, entry in enumerate(self.contributions):
            if entry.section not in known:
                nearest = difflib.get_close_matches(entry.section, known, n=1, cutoff=0.6)
                hint = f"did you mean '{nearest[0]}'?" if nearest else (
                    "use a deal.yml field such as business_case.problem or a page file such "
                    "as approach.md or context/legal.md"
                )  # fmt: skip
                problems.append(
                    (f"contributions[{index}].section", f"'{entry.section}' is unknown; {hint}")
                )
        return problems

    # Derived views used by rendering and, later, scoring.

    def stakeholder(self, name: str) -> Stakeholder | None:
        return self._stakeholders_by_name.get(name)

    @cached_property
    def _stakeholders_by_name(self) -> dict[str, Stakeholder]:
        # Plans and contributions name people thousands of times in a large deal.
        by_name: dict[str, Stakeholder] = {}
        for person in self.stakeholders:
            by_name.setdefault(person.name, person)  # the first of a duplicate, as listed
        return by_name

    def side_of(self, step: PlanStep) -> str:
        person = self.stakeholder(step.owner)
        return step.side or (person.side if person else "buyer")

    def people(self, side: str) -> list[Stakeholder]:
        return [person for person in self.stakeholders if person.side == side]

    @property
    def champion(self) -> Stakeholder | None:
        return next((p for p in self.stakeholders if p.role == "champion"), None)

    @property
    def seller_contact(self) -> Stakeholder | None:
        """Whom a buyer asks: the seller-side stakeholder marked `contact: true`, else the
        (first) account executive."""
        sellers = self.people("seller")
        return next((p for p in sellers if p.contact), None) or next(
            (p for p in sellers if p.role == "account executive"), None
        )

    @property
    def headline_date(self) -> dt.date | None:
        return self.business_case.headline.by or self.go_live


# --- sections: what a change or contribution shaped ---------------------------------

NARRATIVE_FILES = ("business-case.md", "approach.md")
_PLAN_DATES = ("compelling_event", "go_live", "signature_target")
PAGE_SOURCES = {
    # page of the deal site -> the sections that feed it ("*" = any deal.yml field)
    "index.md": ("*",),
    "business-case.md": ("business_case", "business-case.md", *_PLAN_DATES),
    "mutual-action-plan.md": ("mutual_action_plan", *_PLAN_DATES),
    "approach.md": ("approach.md",),
}


def deal_sections(context_files: list[str]) -> list[str]:
    """Every section id a change or recorded contribution can name."""
    sections = [name for name in Deal.model_fields if name != "internal"]
    for parent, model in (
        ("business_case", BusinessCase),
        ("mutual_action_plan", MutualActionPlan),
    ):
        sections += [f"{parent}.{child}" for child in model.model_fields]
    return sections + list(NARRATIVE_FILES) + context_files


def section_feeds_page(section: str, page: str) -> bool:
    """Whether a change to `section` (e.g. business_case.problem, context/legal.md#Terms)
    changes the page `page` (e.g. business-case.md)."""
    file_part = section.split("#", 1)[0]
    if page == "contributors.md" or file_part == page:
        return True  # the contributor log changes with every contribution
    is_yaml_field = not file_part.endswith(".md")
    for source in PAGE_SOURCES.get(page, ()):
        if source == "*" and is_yaml_field:
            return True
        if file_part == source or file_part.startswith(source + "."):
            return True
    return False
