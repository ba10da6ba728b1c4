"""The plan as files people work from: `plan.ics`, a calendar feed (RFC 5545, written
with the `icalendar` library), and `plan.csv`, for a spreadsheet.

The feed holds every open step as an all-day event on its due date (owner, side, status
and notes in its description), and the compelling event, the contract signature target
and go-live. Each event's UID is made from the deal and the step's `id` (or its title),
never from its date, so that a subscribed calendar moves an event whose date changed
instead of adding another. DTSTAMP is the build's `as_of` day: a build is byte for byte
the same however often it runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from typing import Any

from ..deal.i18n import N_
from ..deal.i18n import gettext as _
from ..deal.model import Deal, PlanStep
from ..deal.plan import plan_flags

CALENDAR_FILE = "plan.ics"
SPREADSHEET_FILE = "plan.csv"
PLAN_FILES = (CALENDAR_FILE, SPREADSHEET_FILE)  # published beside the deal's pages
SPREADSHEET_HEADINGS = (N_("Due"), N_("Step"), N_("Owner"), N_("Company"), N_("Status"),
                        N_("Flags"), N_("After"), N_("Notes"))  # fmt: skip
# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def side_name(deal: Deal, step: PlanStep) -> str:
    return deal.customer.name if deal.side_of(step) == "buyer" else deal.seller.name


def step_keys(steps: list[PlanStep]) -> list[str]:
    """What identifies each step from one build to the next: its id, else its title (a
    title used again, e.g. a recurring steering committee, counted: "-2", "-3")."""
    keys, seen = [], {}
    for step in steps:
        if step.id:
            keys.append(step.id)
            continue
        key = hashlib.sha256(step.title.encode()).hexdigest()[:16]
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}-{seen[key]}")
    return keys


def plan_calendar(deal: Deal, slug: str, as_of: dt.date) -> bytes:
    import icalendar  # here: it adds 40 ms to the start of every build, needed or not

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//dealroom//Mutual action plan//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    name = _("%(customer)s and %(seller)s: mutual action plan") % {
        "customer": deal.customer.name, "seller": deal.seller.name}  # fmt: skip
    calendar.add("x-wr-calname", name)
    stamp = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.timezone.utc)
    keys = step_keys(deal.mutual_action_plan.steps)
    every_flags = plan_flags(deal, as_of)
    for index, step in enumerate(deal.mutual_action_plan.steps):
        if step.status == "done":
            continue
        flags = every_flags[index]
        status = ", ".join(_(word) for word in [step.status, *flags])
        lines = [_("Owner: %(owner)s (%(company)s)") % {"owner": step.owner,
                                                      "company": side_name(deal, step)},
                 _("Status: %(status)s") % {"status": status}]  # fmt: skip
        if step.phase:
            lines.append(_("Phase: %(phase)s") % {"phase": step.phase})
        if step.notes:
            lines.append(step.notes)
        calendar.add_component(_day_event(
            f"{slug}-step-{keys[index]}", step.title, step.due, stamp,  # type: ignore[arg-type]
            "\n".join(lines), side_name(deal, step),
        ))  # fmt: skip
    event = deal.compelling_event
    for key, title, day in (
        (
            "deadline",
            _("Deadline: %(reason)s") % {"reason": event.reason} if event else "",
            event.date if event else None,
        ),
        ("signature", _("Contract signature (target)"), deal.signature_target),
        ("go-live", _("Go-live"), deal.go_live),
    ):
        if day is not None:
            calendar.add_component(_day_event(f"{slug}-{key}", title, day, stamp, "", ""))
    return calendar.to_ical()


def _day_event(
    uid: str, summary: str, day: dt.date, stamp: dt.datetime, description: str, category: str
) -> Any:
    import icalendar

    event = icalendar.Event()
    event.add("uid", f"{uid}@dealroom")
    event.add("dtstamp", stamp)
    event.add("summary", summary)
    event.add("dtstart", day)
    event.add("dtend", day + dt.timedelta(days=1))
    event.add("transp", "TRANSPARENT")  # a due date, not a meeting: it blocks no time
    if description:
        event.add("description", description)
    if category:
        event.add("categories", [category])
    return event


def plan_spreadsheet(deal: Deal, as_of: dt.date) -> str:
    """Every step in date order, one row each, with what its status and date say."""
    steps = deal.mutual_action_plan.steps
    flags = dict(zip(map(id, steps), plan_flags(deal, as_of), strict=True))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_(heading) for heading in SPREADSHEET_HEADINGS])
    for step in deal.mutual_action_plan.ordered_steps():
        writer.writerow([_cell(value) for value in (
            step.due.isoformat(),  # type: ignore[union-attr]
            step.title, step.owner, side_name(deal, step), _(step.status),
            ", ".join(_(flag) for flag in flags[id(step)]), ", ".join(step.after),
            step.notes or "",
        )])  # fmt: skip
    return out.getvalue()


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value.startswith(FORMULA_START) else value
