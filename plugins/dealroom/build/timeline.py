"""The plan's timeline: where each step, today and the dates that matter fall between
today and go-live, as coordinates the template `dealroom/partials/timeline.html` draws as
inline SVG at build time (nothing loaded, no script).

One row per step in date order, its marker at the due date (a bar from `start` when the
step has one), its label above it. What a step's status says is in the shape and in the
words, never in colour alone: done is a filled circle, open a ring, blocked a cross;
overdue and late steps say so in their label.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..deal.i18n import gettext as _
from ..deal.i18n import ngettext
from ..deal.model import Deal
from ..deal.plan import plan_flags

WIDTH = 480  # the drawing's own units; it scales to the page (and to 390 px phones)
MARGIN = 12
ROW = 30  # per step: a label line and its marker
TOP = 46  # room for the labels of the dated lines
FONT = 12
# Shown titles are cut to this many characters, so that every label stays inside the
# drawing from where its marker is (its full text is in the marker's tooltip).
TITLE_CHARS = 28


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    start_x: float | None  # a bar from here to x, for a step with a start date
    text: str  # what the drawing shows: the title (shortened) and what is wrong, if anything
    label: str  # in full: title, side, date, status and flags (a tooltip, and for print)
    shape: str  # "done", "open", "blocked"
    flagged: bool  # overdue, blocked, stalled or late: drawn heavier, and said in `label`
    anchor: str  # where the label starts: "start" (left of the page) or "end"


@dataclass(frozen=True)
class DateLine:
    x: float
    label: str
    kind: str  # "today", "event", "signature", "go-live"
    label_y: float  # staggered, so that labels of close dates do not overlap
    anchor: str  # "start", "middle" or "end": labels stay inside the drawing


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    markers: list[Marker]
    lines: list[DateLine]
    summary: str  # the whole timeline in a sentence, for screen readers


def build_timeline(
    deal: Deal, as_of: dt.date, date_text, side_name, limit: int | None = None
) -> Timeline | None:
    """The timeline of `deal`'s plan as of `as_of` (`limit`: only that many open steps,
    the next ones, for the overview). `date_text` writes a date in the deal's locale,
    `side_name` names a step's side ("Fjordline", "Ledgerly"). None without steps."""
    steps = deal.mutual_action_plan.steps
    if not steps:
        return None
    rows = list(zip(steps, plan_flags(deal, as_of), strict=True))
    rows.sort(key=lambda row: (row[0].due, row[0].title))
    if limit is not None:
        rows = [row for row in rows if row[0].status != "done"][:limit]
        if not rows:
            return None
    event = deal.compelling_event.date if deal.compelling_event else None
    dated = [(as_of, _("Today"), "today"), (event, _("Deadline"), "event"),
             (deal.signature_target, _("Signature"), "signature"),
             (deal.go_live, _("Go-live"), "go-live")]  # fmt: skip
    days = [step.due for step, _ in rows] + [day for day, _, _ in dated if day]
    days += [step.start for step, _ in rows if step.start]
    first, last = min(days), max(days)
    span = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        return round(MARGIN + (day - first).days / span * (WIDTH - 2 * MARGIN), 1)

    markers = []
    for row, (step, flags) in enumerate(rows):
        where = x(step.due)
        shape = (
            "done" if step.status == "done" else "blocked" if step.status == "blocked" else "open"
        )
        words = [step.status] + [
            flag for flag in flags if flag != "at risk" or step.status != "blocked"
        ]
        if step.status != "done" and step.due < as_of and "stalled" not in flags:
            words.insert(1, "overdue")
        said = list(dict.fromkeys(words))
        label = f"{step.title} ({side_name(step)}), {date_text(step.due)}: " + ", ".join(
            _(word) for word in said
        )
        wrong = [word for word in said if word not in ("planned", "in progress", "done", "at risk")]
        title = (
            step.title if len(step.title) <= TITLE_CHARS else step.title[: TITLE_CHARS - 1] + "…"
        )
        text = f"{title}: {', '.join(_(word) for word in wrong)}" if wrong else title
        markers.append(Marker(
            where, TOP + row * ROW + 20, x(step.start) if step.start else None, text, label, shape,
            bool(flags) or step.status == "blocked",
            "start" if where < WIDTH / 2 else "end",
        ))  # fmt: skip
    present = sorted((x(day), f"{name} {date_text(day)}", kind) for day, name, kind in dated if day)
    lines = [
        DateLine(where, label, kind, 12 + (order % 3) * 12,
                 "start" if where < WIDTH * 0.25 else "end" if where > WIDTH * 0.75 else "middle")
        for order, (where, label, kind) in enumerate(present)
    ]  # fmt: skip
    height = TOP + len(rows) * ROW + 8
    summary = ngettext("Timeline of %(num)d plan step from %(first)s to %(last)s",
                       "Timeline of %(num)d plan steps from %(first)s to %(last)s", len(rows)) % {
        "num": len(rows), "first": date_text(first), "last": date_text(last)}  # fmt: skip
    summary += "".join(f"; {line.label}" for line in lines) + "."
    return Timeline(WIDTH, height, markers, lines, summary)
