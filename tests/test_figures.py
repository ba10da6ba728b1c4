"""Computed business-case figures and plan progress, checked against hand-worked numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dealroom.deal.figures import compute_figures, plan_progress
from dealroom.deal.model import BusinessCase, Deal


def case(
    costs: list[dict[str, Any]] | None = None,
    one_time: list[dict[str, Any]] | None = None,
    recurring: list[dict[str, Any]] | None = None,
    horizon: int | None = None,
) -> BusinessCase:
    investment: dict[str, Any] = {"one_time": one_time or [], "recurring": recurring or []}
    if horizon is not None:
        investment["horizon_years"] = horizon
    return BusinessCase.model_validate({"cost_of_inaction": costs or [], "investment": investment})


def cost(amount: float, per: str = "year", avoidable: Any = 100) -> dict[str, Any]:
    return {
        "item": f"cost {amount}/{per}",
        "amount": amount,
        "per": per,
        "avoidable_percent": avoidable,
    }


def spend(amount: float, per: str = "once") -> dict[str, Any]:
    return {"item": f"spend {amount}/{per}", "amount": amount, "per": per}


# --- compute_figures -------------------------------------------------------------------


def test_simple_case_by_hand() -> None:
    # benefit 100k/yr for 3 years = 300k; investment 20k + 3 x 30k = 110k; net 190k
    figures = compute_figures(
        case([cost(100_000)], one_time=[spend(20_000)], recurring=[spend(30_000, "year")])
    )
    assert figures.horizon_years == 3  # the default horizon
    assert figures.annual_cost_of_inaction == 100_000
    assert figures.annual_benefit == 100_000
    assert figures.one_off_benefit == 0
    assert figures.one_time_investment == 20_000
    assert figures.annual_recurring_investment == 30_000
    assert figures.total_investment == 110_000
    assert figures.total_benefit == 300_000
    assert figures.net_benefit == 190_000
    assert figures.roi_percent == pytest.approx(172.7272727)  # 190 / 110
    # 20k upfront recovered at (100k - 30k) / 12 = 5,833.33 a month: 24/7 months
    assert figures.payback_months == pytest.approx(24 / 7)
    assert figures.pays_back is True
    assert figures.complete is True


def test_mixed_periods_shares_and_one_offs_by_hand() -> None:
    figures = compute_figures(
        case(
            [
                cost(2_000, "month", "70%"),  # 24,000/yr, 16,800 avoidable
                cost(50_000, "once", 50),  # one-off, 25,000 avoidable
                cost(10_000, "quarter"),  # 40,000/yr, all avoidable
            ],
            one_time=[spend(60_000), spend(15_000)],  # 75,000
            recurring=[spend(1_500, "month"), spend(1_000, "quarter")],  # 18,000 + 4,000
            horizon=2,
        )
    )
    assert figures.horizon_years == 2
    assert figures.annual_cost_of_inaction == pytest.approx(64_000)  # one-offs excluded
    assert figures.annual_benefit == pytest.approx(56_800)
    assert figures.one_off_benefit == pytest.approx(25_000)
    assert figures.one_time_investment == 75_000
    assert figures.annual_recurring_investment == 22_000
    assert figures.total_investment == pytest.approx(119_000)  # 75,000 + 2 x 22,000
    assert figures.total_benefit == pytest.approx(138_600)  # 2 x 56,800 + 25,000
    assert figures.net_benefit == pytest.approx(19_600)
    assert figures.roi_percent == pytest.approx(19_600 / 119_000 * 100)  # 16.47 %
    # gap 75,000 - 25,000 = 50,000; monthly net (56,800 - 22,000) / 12 = 2,900
    assert figures.payback_months == pytest.approx(50_000 / 2_900)  # 17.24 months
    assert figures.pays_back is True


@pytest.mark.parametrize(
    ("per", "annual"), [("month", 12_000), ("quarter", 4_000), ("year", 1_000), ("once", 0)]
)
def test_periods_turn_into_annual_amounts(per: str, annual: float) -> None:
    figures = compute_figures(case([cost(1_000, per)], recurring=[spend(10, "year")]))
    assert figures.annual_cost_of_inaction == annual
    assert figures.annual_benefit == annual
    assert figures.one_off_benefit == (1_000 if per == "once" else 0)


@pytest.mark.parametrize(("per", "annual"), [("month", 600), ("quarter", 200), ("year", 50)])
def test_recurring_investment_periods(per: str, annual: float) -> None:
    figures = compute_figures(case([cost(1_000)], recurring=[spend(50, per)], horizon=4))
    assert figures.annual_recurring_investment == annual
    assert figures.total_investment == 4 * annual


def test_avoidable_share_scales_the_benefit_not_the_cost() -> None:
    figures = compute_figures(case([cost(80_000, avoidable=25)], one_time=[spend(10_000)]))
    assert figures.annual_cost_of_inaction == 80_000
    assert figures.annual_benefit == pytest.approx(20_000)
    assert figures.total_benefit == pytest.approx(60_000)
    assert figures.net_benefit == pytest.approx(50_000)
    assert figures.roi_percent == pytest.approx(500)
    assert figures.payback_months == pytest.approx(6)  # 10,000 / (20,000 / 12)


def test_horizon_scales_benefit_and_recurring_cost() -> None:
    figures = compute_figures(
        case([cost(50_000)], one_time=[spend(40_000)], recurring=[spend(10_000, "year")], horizon=5)
    )
    assert figures.horizon_years == 5
    assert figures.total_investment == 90_000  # 40,000 + 5 x 10,000
    assert figures.total_benefit == 250_000
    assert figures.net_benefit == 160_000
    assert figures.roi_percent == pytest.approx(160_000 / 90_000 * 100)
    assert figures.payback_months == pytest.approx(12)  # 40,000 / (40,000 / 12)


def test_one_off_benefit_covering_one_time_cost_pays_back_at_go_live() -> None:
    figures = compute_figures(
        case([cost(40_000, "once", 50), cost(12_000)], one_time=[spend(20_000)], horizon=1)
    )
    assert figures.one_off_benefit == pytest.approx(20_000)
    assert figures.annual_benefit == pytest.approx(12_000)
    assert figures.net_benefit == pytest.approx(12_000)  # 12,000 + 20,000 - 20,000
    assert figures.payback_months == 0
    assert figures.pays_back is True


def test_payback_beyond_the_horizon() -> None:
    figures = compute_figures(case([cost(60_000)], one_time=[spend(100_000)], horizon=1))
    assert figures.net_benefit == -40_000
    assert figures.roi_percent == pytest.approx(-40)
    assert figures.payback_months == pytest.approx(20)  # 100,000 / 5,000 a month
    assert figures.pays_back is False


def test_payback_exactly_at_the_horizon_counts() -> None:
    figures = compute_figures(case([cost(60_000)], one_time=[spend(60_000)], horizon=1))
    assert figures.payback_months == pytest.approx(12)
    assert figures.pays_back is True


@pytest.mark.parametrize("recurring", [50_000, 60_000])
def test_no_payback_when_recurring_cost_eats_the_benefit(recurring: float) -> None:
    figures = compute_figures(
        case([cost(50_000)], one_time=[spend(10_000)], recurring=[spend(recurring, "year")])
    )
    assert figures.payback_months is None
    assert figures.pays_back is False
    assert figures.net_benefit == 150_000 - 10_000 - 3 * recurring
    assert figures.net_benefit < 0


@pytest.mark.parametrize(
    ("costs", "one_time"),
    [
        ([cost(50_000)], []),  # subscription only: -10,000 a year from day one
        # +10,000 at go-live, then -10,000 a year
        ([cost(50_000), cost(20_000, "once")], [spend(10_000)]),
    ],
    ids=["no-one-time-cost", "one-off-benefit-covers-one-time-cost"],
)
def test_no_payback_when_recurring_cost_exceeds_benefit_even_without_upfront_gap(
    costs: list[dict[str, Any]], one_time: list[dict[str, Any]]
) -> None:
    figures = compute_figures(case(costs, one_time=one_time, recurring=[spend(60_000, "year")]))
    assert figures.net_benefit is not None and figures.net_benefit < 0
    assert figures.pays_back is False
    assert figures.payback_months is None


def test_missing_investment_leaves_derived_figures_empty() -> None:
    figures = compute_figures(case([cost(100_000, avoidable=50)]))
    assert figures.annual_cost_of_inaction == 100_000
    assert figures.annual_benefit == pytest.approx(50_000)
    assert figures.one_off_benefit == 0
    assert figures.one_time_investment is None
    assert figures.annual_recurring_investment is None
    for name in ("total_investment", "total_benefit", "net_benefit", "roi_percent"):
        assert getattr(figures, name) is None, name
    assert figures.payback_months is None
    assert figures.pays_back is None
    assert figures.complete is False


def test_missing_costs_leave_derived_figures_empty() -> None:
    figures = compute_figures(case(one_time=[spend(20_000)], recurring=[spend(1_000, "month")]))
    assert figures.annual_cost_of_inaction is None
    assert figures.annual_benefit is None
    assert figures.one_off_benefit is None
    assert figures.one_time_investment == 20_000
    assert figures.annual_recurring_investment == 12_000
    for name in ("total_investment", "total_benefit", "net_benefit", "roi_percent"):
        assert getattr(figures, name) is None, name
    assert figures.payback_months is None
    assert figures.pays_back is None
    assert figures.complete is False


def test_empty_business_case() -> None:
    figures = compute_figures(BusinessCase())
    assert figures.horizon_years == 3
    assert figures.annual_benefit is None
    assert figures.one_time_investment is None
    assert figures.roi_percent is None
    assert figures.complete is False


def test_zero_investment_has_no_roi() -> None:
    figures = compute_figures(case([cost(10_000)], one_time=[spend(0)]))
    assert figures.total_investment == 0
    assert figures.net_benefit == 30_000
    assert figures.roi_percent is None  # no division by zero
    assert figures.payback_months == 0
    assert figures.complete is False


# --- plan_progress ---------------------------------------------------------------------

TODAY = dt.date(2027, 1, 20)


def deal(
    steps: list[tuple[str, dt.date] | tuple[str, dt.date, dict[str, Any]]],
    **fields: Any,
) -> Deal:
    """A deal whose plan has one step per (status, due) pair, all owned by Maria Chen."""
    plan = []
    for number, (status, due, *extra) in enumerate(steps):
        step = {"title": f"step {number}", "owner": "Maria Chen", "due": due, "status": status}
        for more in extra:
            step.update(more)
        plan.append(step)
    return Deal.model_validate(
        {
            "customer": "Northwind",
            "seller": "Acme",
            "stage": 3,
            "step": "learn",
            "stakeholders": [
                {"name": "Maria Chen", "title": "VP Finance", "side": "buyer", "role": "champion"}
            ],
            "mutual_action_plan": {"steps": plan},
            **fields,
        }
    )


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def test_no_plan() -> None:
    progress = plan_progress(deal([]), TODAY)
    assert progress.health == "no plan"
    assert (progress.total, progress.done, progress.overdue) == (0, 0, 0)
    assert progress.percent_done == 0


def test_complete_plan() -> None:
    done = {"completed": days(-40)}
    progress = plan_progress(deal([("done", days(-30), done), ("done", days(-60))]), TODAY)
    assert progress.health == "complete"
    assert (progress.total, progress.done, progress.overdue) == (2, 2, 0)
    assert progress.percent_done == 100


def test_on_track_plan() -> None:
    progress = plan_progress(
        deal(
            [
                ("done", days(-30)),  # done late is not overdue
                ("in progress", days(0)),  # due today is not overdue
                ("planned", days(10)),
            ]
        ),
        TODAY,
    )
    assert progress.health == "on track"
    assert progress.total == 3
    assert progress.done == 1
    assert progress.in_progress == 1
    assert progress.blocked == 0
    assert progress.overdue == 0
    assert progress.percent_done == 33


def test_overdue_step_puts_plan_at_risk() -> None:
    progress = plan_progress(deal([("in progress", days(-1)), ("planned", days(5))]), TODAY)
    assert progress.health == "at risk"
    assert progress.overdue == 1


def test_blocked_step_puts_plan_at_risk() -> None:
    progress = plan_progress(deal([("blocked", days(7)), ("done", days(-7))]), TODAY)
    assert progress.health == "at risk"
    assert progress.blocked == 1
    assert progress.overdue == 0
    assert progress.percent_done == 50


def test_six_days_overdue_is_at_risk() -> None:
    progress = plan_progress(deal([("planned", days(-6))]), TODAY)
    assert progress.health == "at risk"
    assert (progress.overdue, progress.at_risk, progress.stalled) == (1, 1, 0)


def test_seven_days_overdue_is_stalled_and_off_track() -> None:
    progress = plan_progress(deal([("planned", days(-7)), ("planned", days(3))]), TODAY)
    assert progress.health == "off track"
    assert (progress.overdue, progress.at_risk, progress.stalled) == (1, 0, 1)


def test_done_step_long_past_due_is_not_off_track() -> None:
    progress = plan_progress(deal([("done", days(-100)), ("planned", days(3))]), TODAY)
    assert progress.health == "on track"


def test_go_live_after_compelling_event_is_off_track() -> None:
    event = {"date": dt.date(2027, 4, 1), "reason": "new ERP goes live"}
    progress = plan_progress(
        deal([("planned", days(5))], compelling_event=event, go_live=dt.date(2027, 4, 2)),
        TODAY,
    )
    assert progress.health == "off track"
    assert progress.overdue == 0


def test_go_live_on_the_compelling_event_is_on_track() -> None:
    event = {"date": dt.date(2027, 4, 1), "reason": "new ERP goes live"}
    progress = plan_progress(
        deal([("planned", days(5))], compelling_event=event, go_live=dt.date(2027, 4, 1)),
        TODAY,
    )
    assert progress.health == "on track"


def test_progress_depends_on_the_as_of_date() -> None:
    plan = deal([("planned", dt.date(2027, 2, 1))])
    assert plan_progress(plan, dt.date(2027, 2, 1)).health == "on track"
    assert plan_progress(plan, dt.date(2027, 2, 2)).health == "at risk"
    assert plan_progress(plan, dt.date(2027, 2, 7)).health == "at risk"  # 6 days overdue
    assert plan_progress(plan, dt.date(2027, 2, 8)).health == "off track"  # 7: stalled


@pytest.mark.parametrize(
    ("locale", "money", "day"),
    [("de_DE", "1.829.500 €", "01.03.2026"), ("de-DE", "1.829.500 €", "01.03.2026"),
     ("en_US", "€1,829,500", "Mar 1, 2026"), ("xx", "€1,829,500", "Mar 1, 2026")],
)  # fmt: skip
def test_money_and_dates_follow_the_locale_written_either_way(
    locale: str, money: str, day: str
) -> None:
    """`de-DE` reads as `de_DE`, as it does for the deal room's language: German words
    with German money and dates; a locale Babel does not know is written as en_US."""
    from dealroom.build.rendering import Formatter

    formatter = Formatter(locale, "EUR", dt.date(2026, 1, 1))
    assert formatter.money(1_829_500).replace("\xa0", " ") == money
    assert formatter.date(dt.date(2026, 3, 1)) == day
