"""Figures the tool computes from the business case: never typed in by the seller.

The model is deliberately plain so a CFO can redo it on a napkin:

- annual benefit  = sum over recurring costs of inaction of (annual amount x avoidable share)
- one-off benefit = sum over one-off ("once") costs of inaction of (amount x avoidable share)
- investment over the horizon = one-time costs + annual recurring costs x horizon years
- net benefit = annual benefit x horizon + one-off benefit - investment over the horizon
- ROI = net benefit / investment over the horizon
- payback = months until cumulative benefit covers cumulative cost, with one-time costs
  and one-off benefits at go-live and recurring amounts spread evenly over each month.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from .model import BusinessCase, Deal
from .plan import plan_flags


@dataclass(frozen=True)
class BusinessCaseFigures:
    """Computed figures; a field is None when the inputs it needs are missing."""

    horizon_years: int
    annual_cost_of_inaction: float | None
    annual_benefit: float | None
    one_off_benefit: float | None
    one_time_investment: float | None
    annual_recurring_investment: float | None
    total_investment: float | None
    total_benefit: float | None
    net_benefit: float | None
    roi_percent: float | None
    payback_months: float | None
    pays_back: bool | None  # False when the investment is not recovered within the horizon

    @property
    def complete(self) -> bool:
        return self.roi_percent is not None


def compute_figures(case: BusinessCase) -> BusinessCaseFigures:
    horizon = case.investment.horizon_years
    costs = case.cost_of_inaction
    investment = case.investment
    has_costs = bool(costs)
    has_investment = bool(investment.one_time or investment.recurring)

    annual_cost = sum(item.annual_amount for item in costs) if has_costs else None
    annual_benefit = (
        sum(item.annual_amount * item.avoidable_fraction for item in costs) if has_costs else None
    )
    one_off_benefit = (
        sum(item.amount * item.avoidable_fraction for item in costs if item.per == "once")
        if has_costs
        else None
    )
    one_time = sum(item.amount for item in investment.one_time) if has_investment else None
    recurring = sum(item.annual_amount for item in investment.recurring) if has_investment else None

    if annual_benefit is None or one_off_benefit is None or one_time is None or recurring is None:
        return BusinessCaseFigures(
            horizon, annual_cost, annual_benefit, one_off_benefit, one_time, recurring,
            None, None, None, None, None, None,
        )  # fmt: skip

    total_investment = one_time + recurring * horizon
    total_benefit = annual_benefit * horizon + one_off_benefit
    net_benefit = total_benefit - total_investment
    # A ratio to an investment of less than one unit of money means nothing (and overflows).
    roi = _finite(net_benefit / total_investment * 100) if total_investment >= 1 else None
    payback, pays_back = _payback_months(
        one_time - one_off_benefit, annual_benefit - recurring, horizon
    )
    return BusinessCaseFigures(
        horizon, annual_cost, annual_benefit, one_off_benefit, one_time, recurring,
        total_investment, total_benefit, net_benefit, roi, payback, pays_back,
    )  # fmt: skip


def _payback_months(
    upfront_gap: float, annual_net: float, horizon_years: int
) -> tuple[float | None, bool]:
    """Months until the upfront gap is recovered by the monthly net benefit."""
    if annual_net < 0 or (annual_net == 0 and upfront_gap > 0):
        return None, False  # the gap never closes: each month adds cost
    if upfront_gap <= 0:
        return 0.0, True
    months = upfront_gap / (annual_net / 12)
    if not math.isfinite(months):
        return None, False  # a benefit of a fraction of a cent never pays back
    return months, months <= horizon_years * 12


def _finite(value: float) -> float | None:
    """None for a ratio that overflows (an investment of a fraction of a cent)."""
    return value if math.isfinite(value) else None


# --- mutual action plan progress ------------------------------------------------------


@dataclass(frozen=True)
class PlanProgress:
    """Where the mutual action plan stands on a given day."""

    total: int
    done: int
    in_progress: int
    blocked: int
    overdue: int
    health: str  # "complete", "on track", "at risk", "off track" or "no plan"
    at_risk: int = 0  # open steps 1 to 6 days overdue, or blocked
    stalled: int = 0  # open steps 7 or more days overdue
    late_for_event: int = 0  # open steps that cannot finish before the compelling event

    @property
    def percent_done(self) -> int:
        return round(self.done / self.total * 100) if self.total else 0


def plan_progress(deal: Deal, as_of: dt.date) -> PlanProgress:
    """Summarise the plan by its steps' flags (see plan.step_flags). Off track: a step
    stalled or late for the event, or go-live after the compelling event. At risk: a
    step at risk (a few days overdue, or blocked). Else on track."""
    steps = deal.mutual_action_plan.steps
    flags = plan_flags(deal, as_of)
    done = sum(step.status == "done" for step in steps)
    event = deal.compelling_event
    late_go_live = bool(event and deal.go_live and deal.go_live > event.date)
    count = {flag: sum(flag in found for found in flags)
             for flag in ("at risk", "stalled", "late for the event")}  # fmt: skip
    if not steps:
        health = "no plan"
    elif done == len(steps):
        health = "complete"
    elif late_go_live or count["stalled"] or count["late for the event"]:
        health = "off track"
    elif count["at risk"]:
        health = "at risk"
    else:
        health = "on track"
    return PlanProgress(
        total=len(steps),
        done=done,
        in_progress=sum(step.status == "in progress" for step in steps),
        blocked=sum(step.status == "blocked" for step in steps),
        overdue=sum(step.is_overdue(as_of) for step in steps),
        health=health,
        at_risk=count["at risk"],
        stalled=count["stalled"],
        late_for_event=count["late for the event"],
    )


# --- pipeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineFigures:
    """Sales velocity = open opportunities x win rate x average deal value / average
    cycle length, from the deals' own `decision`, `deal_value` and `opened` fields."""

    open_deals: int
    win_rate: float | None  # yes / (yes + no)
    average_value: float | None  # mean deal_value of deals that have one
    average_cycle_days: float | None  # mean days from `opened` to `decision.date`, decided deals
    currencies: tuple[str, ...]

    @property
    def velocity_per_day(self) -> float | None:
        parts = (self.win_rate, self.average_value, self.average_cycle_days)
        if any(part is None for part in parts) or not self.average_cycle_days:
            return None
        return self.open_deals * self.win_rate * self.average_value / self.average_cycle_days  # type: ignore[operator]


def pipeline_figures(deals: list[Deal]) -> PipelineFigures:
    decided = [d for d in deals if d.decision.status in ("yes", "no")]
    won = sum(d.decision.status == "yes" for d in decided)
    values = [d.deal_value for d in deals if d.deal_value is not None]
    cycles = [(d.decision.date - d.opened).days for d in decided if d.decision.date and d.opened]
    return PipelineFigures(
        open_deals=sum(d.decision.status == "open" for d in deals),
        win_rate=won / len(decided) if decided else None,
        average_value=sum(values) / len(values) if values else None,
        average_cycle_days=sum(cycles) / len(cycles) if cycles else None,
        currencies=tuple(sorted({d.currency for d in deals if d.deal_value is not None})),
    )
