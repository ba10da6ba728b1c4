"""The seller-only pipeline dashboard: one row per deal, pipeline figures, charts.

It is the root page of `mkdocs build` (site/index.html), outside every deal site and
never part of `dealroom publish`. Everything here is data for the template
`dealroom/sections/root.html`, which draws the charts as inline SVG at build time.

The multithreading verdict and the buyer-side people not heard from yet are shown here
and nowhere else: deal sites are read by the buyer's team without the seller.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..deal.figures import PipelineFigures, PlanProgress, pipeline_figures, plan_progress
from ..deal.i18n import current_language
from ..deal.loading import DealFolder
from ..deal.model import Stakeholder
from ..history.contributors import THREADING, ContributorLog
from .activity import QUIET_DAYS, DealActivity, Engagement, SavedActivity
from .scoring import Scorecard, ScoringRules, score_deal


@dataclass(frozen=True)
class DashboardRow:
    folder: DealFolder
    card: Scorecard
    progress: PlanProgress
    days_to_event: int | None
    buyer_contributors: int
    last_buyer_activity: dt.date | None
    threading: str  # one of THREADING, weakest first
    reading: str  # the verdict in a sentence, naming the buyer roles covered
    not_heard_from: list[Stakeholder]  # listed buyer-side people who have not, yet
    engagement: Engagement | None = None  # None: no saved activity (`dealroom activity`)

    @property
    def threading_rank(self) -> int:
        """For sorting: 0 (nobody on the buyer side) to 3 (multithreaded)."""
        return THREADING.index(self.threading)


@dataclass(frozen=True)
class StageSummary:
    stage: int
    deals: int
    average_score: float
    target: float


@dataclass(frozen=True)
class Dashboard:
    rows: list[DashboardRow]
    pipeline: PipelineFigures
    stages: list[StageSummary]
    engagement: bool = False  # whether there is saved activity to show

    @property
    def below_target(self) -> int:
        return sum(not row.card.passed for row in self.rows)


class Memo(Protocol):
    """Values kept between builds by slug and key (`build/incremental.py: Memo`)."""

    def get(self, slug: str, key: str) -> Any | None: ...
    def put(self, slug: str, key: str, value: Any) -> None: ...


def remembered_rows(
    folders: list[DealFolder],
    logs: Mapping[str, ContributorLog],
    rules: ScoringRules,
    as_of: dt.date,
    activity: SavedActivity | None,
    fingerprints: dict[str, str],
    memo: Memo,
) -> dict[str, DashboardRow]:
    """`dashboard_rows`, with the last build's row of every deal whose site fingerprint
    (its inputs, log, `as_of` and dealroom's code) and what else the row shows (the
    seller's language, the scoring rules, the deal's saved activity) are unchanged."""
    # Views fall on days where the build runs (`activity.day_of`): its zone too.
    shown = f"{current_language()}\n{rules!r}\n{local_zone() if activity else 'no activity'}"
    keys = {
        folder.slug: hashlib.sha256("\n".join([
            fingerprints[folder.slug], shown,
            repr(activity.deals.get(folder.slug)) if activity else "",
        ]).encode()).hexdigest()
        for folder in folders
        if folder.slug in fingerprints
    }  # fmt: skip
    kept = {slug: row for slug, key in keys.items() if (row := memo.get(slug, key)) is not None}
    missing = [folder for folder in folders if folder.slug not in kept]
    rows = dashboard_rows(missing, logs, rules, as_of, activity)
    for folder in folders:
        if folder.slug in kept:  # kept without its deal, which is this build's
            rows[folder.slug] = replace(kept[folder.slug], folder=folder)
        elif folder.slug in keys:
            memo.put(folder.slug, keys[folder.slug], replace(rows[folder.slug], folder=None))
    return {folder.slug: rows[folder.slug] for folder in folders}


def local_zone() -> str:
    """The time zone this process sees days in (its rules as `time` knows them)."""
    return repr((os.environ.get("TZ"), time.tzname, time.timezone, time.altzone))


def dashboard_rows(
    folders: list[DealFolder],
    logs: Mapping[str, ContributorLog],
    rules: ScoringRules,
    as_of: dt.date,
    activity: SavedActivity | None = None,
) -> dict[str, DashboardRow]:
    """Each deal's row, by slug: its scorecard, plan and who took part. With `activity`
    (what `dealroom activity --save` kept), each row also shows who on the buyer side
    read the deal room, and the scorecard counts the economic buyer's reading of the
    business case."""
    rows = {}
    for folder in folders:
        deal, log = folder.deal, logs[folder.slug]
        event = deal.compelling_event
        engagement = None
        if activity is not None:
            due_by = as_of + dt.timedelta(days=QUIET_DAYS)
            steps_due = any(step.status != "done" and step.due <= due_by
                            for step in deal.mutual_action_plan.steps)  # fmt: skip
            viewed = activity.deals.get(folder.slug, DealActivity())
            engagement = Engagement.of(viewed, as_of, steps_due)
        readers = engagement.reader_roles if engagement else frozenset()
        rows[folder.slug] = DashboardRow(
            folder, score_deal(folder, log, rules, readers), plan_progress(deal, as_of),
            (event.date - as_of).days if event else None,
            len(log.people("buyer")), log.last_buyer_contribution,
            log.threading, log.reading, log.not_heard_from(deal), engagement,
        )  # fmt: skip
    return rows


def assemble_dashboard(
    rows: list[DashboardRow], rules: ScoringRules, activity: SavedActivity | None = None
) -> Dashboard:
    """The dashboard of these rows (the deals whose sites were built), in their order:
    the pipeline's figures and each stage's average score against its target."""
    stages = []
    for stage in range(1, 6):
        scores = [row.card.score for row in rows if row.folder.deal.stage == stage]
        average = round(sum(scores) / len(scores), 2) if scores else 0.0
        stages.append(StageSummary(stage, len(scores), average, rules.stage_targets[stage]))
    pipeline = pipeline_figures([row.folder.deal for row in rows])
    return Dashboard(rows, pipeline, stages, activity is not None)
