"""The mutual action plan as a working plan: steps that depend on each other, due dates
relative to the dates that matter, the critical path to go-live, and what is at risk.

A step may say which steps it comes `after` (their `id`, or their title), and give its
`due` date as a rule instead of a date:

    due: compelling_event - 21d      # three weeks before the compelling event
    due: signature + 1w              # a week after the contract signature target
    due: security-review + 3d        # three days after the step with `id: security-review`

Anchors are `compelling_event`, `signature` (`signature_target`), `go_live`, and any
step (by `id` or title). `schedule` resolves every rule to a date and finds what is
wrong, as (field path, message) pairs that loading turns into errors and warnings with
the file and line: a reference to no step or date, a cycle, a step due before one it
comes after (errors); a step due after the compelling event (a warning: that chain
cannot finish in time). No MkDocs here.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass

from .model import Deal, PlanStep

RULE = re.compile(
    r"(?P<anchor>.+?)(?:\s*(?P<sign>[+-])\s*(?P<amount>\d{1,4})\s*(?P<unit>[dw]))?", re.IGNORECASE
)
DATE_ANCHORS = ("compelling_event", "signature", "signature_target", "go_live")
STALLED_DAYS = 7  # overdue this long (or longer): stalled; less: at risk
# The dates a plan may hold: a calendar entry a day later must still be a date.
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


@dataclass(frozen=True)
class Schedule:
    dates: list[dt.date | None]  # each step's due date, resolved (None: could not be)
    problems: list[tuple[str, str]]  # (field path, message): errors
    warnings: list[tuple[str, str]]


def _where(index: int, field: str) -> str:
    return f"mutual_action_plan.steps[{index}].{field}"


@dataclass
class _Links:
    """What each step waits for, as `schedule` and the flags both read it."""

    after: list[list[tuple[int, str]]]  # per step: (step it comes after, its field)
    anchors: list[int | str | None]  # per step: the step or date name its rule counts from
    problems: list[tuple[str, str]]

    def waits(self, index: int) -> list[tuple[int, str]]:
        anchor = self.anchors[index]
        return self.after[index] + ([(anchor, "due")] if isinstance(anchor, int) else [])


def _links(steps: list[PlanStep]) -> _Links:
    problems: list[tuple[str, str]] = []
    names: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step.id:
            if step.id.casefold() in DATE_ANCHORS:
                problems.append((_where(index, "id"), f"'{step.id}' names a date of the "
                                 "deal (compelling_event, signature, go_live); choose "
                                 "another"))  # fmt: skip
            if step.id in names:
                problems.append((_where(index, "id"), f"'{step.id}' is the id of another "
                                 "step too; give each step its own"))  # fmt: skip
            names[step.id] = index
    for index, step in enumerate(steps):
        names.setdefault(step.title.casefold(), index)
    after: list[list[tuple[int, str]]] = [[] for _ in steps]
    anchors: list[int | str | None] = [None for _ in steps]
    for index, step in enumerate(steps):
        for position, reference in enumerate(step.after):
            field = f"after[{position}]"
            found = _step(reference, names)
            if found is None:
                problems.append((_where(index, field), _unknown(reference, steps)))
            elif found == index:
                problems.append((_where(index, field), "a step cannot come after itself"))
            else:
                after[index].append((found, field))
        rule_text = step.due if isinstance(step.due, str) else step.due_rule
        if rule_text is None:
            continue
        rule = RULE.fullmatch(rule_text.strip())
        anchor = rule["anchor"].strip() if rule else ""
        if anchor.casefold() in DATE_ANCHORS:  # a date's name before any step's title
            anchors[index] = anchor.casefold()
        elif (found := _step(anchor, names)) is not None and found != index:
            anchors[index] = found
        else:
            problems.append((_where(index, "due"), _unknown(anchor, steps, dates=True)))
    return _Links(after, anchors, problems)


def schedule(deal: Deal) -> Schedule:
    """Every step's due date, with the plan's problems."""
    steps = deal.mutual_action_plan.steps
    links = _links(steps)
    problems = links.problems
    if cycle := _cycle([links.waits(index) for index in range(len(steps))]):
        chain = " -> ".join(f"'{steps[i].title}'" for i, _ in [*cycle, cycle[0]])
        first, field = cycle[0]
        problems.append((_where(first, field), f"these steps wait for each other in a "
                         f"circle: {chain}; break the circle"))  # fmt: skip
    if problems:
        return Schedule([None] * len(steps), problems, [])
    dates = _resolve(deal, links.anchors, problems)
    warnings: list[tuple[str, str]] = []
    event = deal.compelling_event.date if deal.compelling_event else None
    for index, step in enumerate(steps):
        due = dates[index]
        if due is None:
            continue
        if not EARLIEST <= due <= LATEST:
            problems.append((_where(index, "due"), f"{due} is not a date a plan can hold; "
                             f"give one between {EARLIEST.year} and {LATEST.year}"))  # fmt: skip
            continue
        for before, _ in links.after[index]:
            first = dates[before]
            if first is not None and due < first:
                problems.append((_where(index, "due"), f"due {due}, before "
                                 f"'{steps[before].title}' (due {first}), which it comes "
                                 "after; move one of the dates"))  # fmt: skip
        if event and due > event and step.status != "done":
            warnings.append((_where(index, "due"), f"due {due}, after the compelling event "
                             f"({event}): this part of the plan cannot finish in "
                             "time"))  # fmt: skip
    return Schedule(dates, problems, warnings)


def with_dates(deal: Deal, dates: list[dt.date | None]) -> Deal:
    """`deal` with each step's rule resolved to its date (the rule kept in `due_rule`)."""
    steps = deal.mutual_action_plan.steps
    if not any(isinstance(step.due, str) for step in steps):
        return deal
    resolved = [
        step.model_copy(update={"due": date, "due_rule": step.due})
        if isinstance(step.due, str) else step
        for step, date in zip(steps, dates, strict=True)
    ]  # fmt: skip
    plan = deal.mutual_action_plan.model_copy(update={"steps": resolved})
    return deal.model_copy(update={"mutual_action_plan": plan})


def _step(reference: str, names: dict[str, int]) -> int | None:
    return names.get(reference) if reference in names else names.get(reference.casefold())


def _unknown(reference: str, steps: list[PlanStep], dates: bool = False) -> str:
    known = [s.id for s in steps if s.id] + [s.title for s in steps]
    if dates:
        known = [*DATE_ANCHORS, *known]
    close = difflib.get_close_matches(reference, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if dates:
        return (
            f"'{reference}' is no date or step of the plan; write YYYY-MM-DD, or a rule "
            f"such as 'compelling_event - 21d', 'signature + 1w' or '<step id> + 3d'{hint}"
        )
    return f"'{reference}' is no step of the plan; give a step's id or title{hint}"


def _cycle(waits: list[list[tuple[int, str]]]) -> list[tuple[int, str]] | None:
    """A cycle among the steps (each waits for the steps in `waits`, by a field of its
    own), as (step, the field by which it waits for the next) pairs. A loop, not
    recursion: a plan of thousands of steps in one chain is still a plan."""
    state = [0] * len(waits)  # 0 new, 1 on the current path, 2 done
    for start in range(len(waits)):
        if state[start]:
            continue
        path: list[tuple[int, str]] = []  # the steps on the way, each with its way on
        stack = [(start, iter(waits[start]))]
        state[start] = 1
        while stack:
            node, edges = stack[-1]
            edge = next(edges, None)
            if edge is None:
                state[node] = 2
                stack.pop()
                if path:
                    path.pop()
                continue
            other, field = edge
            if state[other] == 1:
                on_path = [step for step, _ in path] + [node]
                cycle = [*path, (node, field)][on_path.index(other) :]
                return cycle
            if state[other] == 0:
                state[other] = 1
                path.append((node, field))
                stack.append((other, iter(waits[other])))
    return None


def _resolve(
    deal: Deal, anchors: list[int | str | None], problems: list[tuple[str, str]]
) -> list[dt.date | None]:
    """Each step's date, its rule counted from its anchor (the plan is acyclic: checked
    before). Loops, not recursion, and each step once: a chain of thousands is a plan."""
    steps = deal.mutual_action_plan.steps
    named = {
        "compelling_event": deal.compelling_event.date if deal.compelling_event else None,
        "signature": deal.signature_target,
        "signature_target": deal.signature_target,
        "go_live": deal.go_live,
    }
    dates: list[dt.date | None] = [s.due if isinstance(s.due, dt.date) else None for s in steps]
    failed: set[int] = set()

    def count_from(index: int) -> None:
        step, anchor = steps[index], anchors[index]
        if isinstance(anchor, int) and anchor in failed:
            failed.add(index)  # its anchor's problem is reported already
            return
        base = dates[anchor] if isinstance(anchor, int) else named.get(str(anchor))
        if base is None:
            problems.append((_where(index, "due"), f"'{step.due}' counts from {anchor}, "
                             f"which this deal has no date for; set {anchor} or give "
                             "a date"))  # fmt: skip
            failed.add(index)
            return
        rule = RULE.fullmatch(str(step.due).strip())
        assert rule is not None  # checked by _links
        days = int(rule["amount"] or 0) * (7 if (rule["unit"] or "d").lower() == "w" else 1)
        try:
            dates[index] = base + dt.timedelta(days=-days if rule["sign"] == "-" else days)
        except OverflowError:
            problems.append((_where(index, "due"), f"'{step.due}' is past any calendar"))
            failed.add(index)

    for index in range(len(steps)):
        # A rule counts from one anchor: follow them to a date, then count back up.
        chain: list[int] = []
        node: int | str | None = index
        while (isinstance(node, int) and isinstance(steps[node].due, str)
               and dates[node] is None and node not in failed and node not in chain):  # fmt: skip
            chain.append(node)
            node = anchors[node]
        for node in reversed(chain):
            count_from(node)
    return dates


# --- status as sellers talk about it ----------------------------------------------------


def step_flags(step: PlanStep, as_of: dt.date, late_for_event: bool) -> list[str]:
    """What a step's status and date say beyond its status: "at risk" (1 to 6 days
    overdue, or blocked), "stalled" (7 or more days overdue), "late for the event" (it,
    or a step waiting for it, is due after the compelling event)."""
    flags = []
    overdue = (as_of - step.due).days if step.status != "done" else 0  # type: ignore[operator]
    if overdue >= STALLED_DAYS:
        flags.append("stalled")
    elif overdue > 0 or step.status == "blocked":
        flags.append("at risk")
    if late_for_event and step.status != "done":
        flags.append("late for the event")
    return flags


def plan_flags(deal: Deal, as_of: dt.date) -> list[list[str]]:
    """Each step's flags (see `step_flags`), in the plan's order."""
    late = late_for_event(deal)
    return [step_flags(step, as_of, index in late)
            for index, step in enumerate(deal.mutual_action_plan.steps)]  # fmt: skip


def late_for_event(deal: Deal) -> set[int]:
    """The open steps due after the compelling event, and every step they wait for."""
    steps = deal.mutual_action_plan.steps
    event = deal.compelling_event.date if deal.compelling_event else None
    if event is None:
        return set()
    waits = waiting_for(deal)
    late: set[int] = set()
    pending = [i for i, s in enumerate(steps) if s.status != "done" and s.due > event]  # type: ignore[operator]
    while pending:
        index = pending.pop()
        if index not in late:
            late.add(index)
            pending += waits[index]
    return late


def waiting_for(deal: Deal) -> list[list[int]]:
    """For each step, the steps it waits for: those it comes after, and the step its due
    date counts from (read as `schedule` reads them)."""
    links = _links(deal.mutual_action_plan.steps)
    return [[other for other, _ in links.waits(index)] for index in range(len(links.after))]


@dataclass(frozen=True)
class CriticalPath:
    steps: list[PlanStep]  # first to last
    ends: dt.date  # the last step's due date, or go-live if later
    slack_days: int | None  # days between `ends` and the compelling event (< 0: late)


def critical_path(deal: Deal) -> CriticalPath | None:
    """The chain of waiting steps that ends last: from the step due last, back through
    the latest step each waits for. None for a plan without dependencies."""
    steps = deal.mutual_action_plan.steps
    waits = waiting_for(deal)
    if not any(waits):
        return None
    index = max(range(len(steps)), key=lambda i: (steps[i].due, len(waits[i])))
    chain = [index]
    while waits[chain[-1]]:
        before = max(waits[chain[-1]], key=lambda i: steps[i].due)
        if before in chain:  # never in a plan that loaded; a walk must end all the same
            break
        chain.append(before)
    path = [steps[i] for i in reversed(chain)]
    ends = max(path[-1].due, deal.go_live) if deal.go_live else path[-1].due  # type: ignore[type-var]
    event = deal.compelling_event.date if deal.compelling_event else None
    return CriticalPath(path, ends, (event - ends).days if event else None)  # type: ignore[operator]
