"""The mutual action plan as a working plan: relative dates and dependencies resolved
and validated with file, line and field; flags, the critical path and its slack against
hand-computed examples; the timeline drawn the same way every time (a golden file) and
readable in a real Chromium at 390 px."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from conftest import (
    REPO,
    Host,
    browser_needed,
    make_deal,
    nginx_needed,
    run_build,
    write_deal,
    write_project,
)
from dealroom.build.timeline import build_timeline
from dealroom.deal.figures import plan_progress
from dealroom.deal.loading import parse_deal_yaml
from dealroom.deal.plan import critical_path, late_for_event, step_flags
from dealroom.publish.access import Scope, add_viewer
from dealroom.publish.releases import publish

GOLDEN = Path(__file__).parent / "fixtures" / "timeline.svg"
AS_OF = dt.date(2026, 11, 25)


def plan_deal(steps: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    deal = make_deal(**changes)
    deal["mutual_action_plan"]["steps"] = steps
    return deal


def parse(deal: dict[str, Any]):
    return parse_deal_yaml(yaml.safe_dump(deal, sort_keys=False), "deals/fjordline/deal.yml")


def step(title: str, due: Any, **more: Any) -> dict[str, Any]:
    return {"title": title, "owner": "Ingrid Solberg", "due": due, **more}


# A plan worked back from the compelling event (2027-04-01) and the signature (2027-01-15).
WORKED_BACK = [
    step("Security review", "compelling_event - 12w", id="security-review"),  # 2027-01-07
    step("Legal redlines", "security-review + 5d", after=["security-review"]),  # 2027-01-12
    step("Contract signed", "signature", id="signed", after=["Legal redlines"]),  # 2027-01-15
    step("Kick-off", "signed + 1w", after=["signed"]),  # 2027-01-22
    step("Go-live rehearsal", "compelling_event - 21d", after=["Kick-off"]),  # 2027-03-11
    step("Training", "2027-02-01", owner="Tom Ashby"),  # no dependencies
]


def test_relative_dates_resolve_as_worked_by_hand() -> None:
    deal, problems, warnings = parse(plan_deal(WORKED_BACK))
    assert problems == [] and warnings == []
    dues = {s.title: s.due for s in deal.mutual_action_plan.steps}
    assert dues == {
        "Security review": dt.date(2027, 1, 7),
        "Legal redlines": dt.date(2027, 1, 12),
        "Contract signed": dt.date(2027, 1, 15),
        "Kick-off": dt.date(2027, 1, 22),
        "Go-live rehearsal": dt.date(2027, 3, 11),
        "Training": dt.date(2027, 2, 1),
    }
    rules = {s.title: s.due_rule for s in deal.mutual_action_plan.steps}
    assert rules["Kick-off"] == "signed + 1w" and rules["Training"] is None


def test_critical_path_and_slack() -> None:
    deal, _, _ = parse(plan_deal(WORKED_BACK))
    path = critical_path(deal)
    assert path is not None
    chain = [
        "Security review",
        "Legal redlines",
        "Contract signed",
        "Kick-off",
        "Go-live rehearsal",
    ]
    assert [s.title for s in path.steps] == chain
    assert path.ends == dt.date(2027, 3, 11)  # go-live (2027-03-01) is earlier
    assert path.slack_days == 21  # to 2027-04-01
    late, _, _ = parse(plan_deal([*WORKED_BACK[:4], step("Go-live rehearsal", "2027-04-06",
                                                          after=["Kick-off"])]))  # fmt: skip
    assert critical_path(late).slack_days == -5
    assert critical_path(parse(plan_deal([WORKED_BACK[5]]))[0]) is None  # no dependencies


def test_flags_as_sellers_talk_about_them() -> None:
    deal, _, warnings = parse(plan_deal([
        step("On time", "2026-11-30"),
        step("Late a bit", "2026-11-19"),  # 6 days overdue
        step("Late a week", "2026-11-18"),  # 7 days
        step("Blocked", "2026-12-20", status="blocked"),
        step("Done late", "2026-11-01", status="done", completed="2026-11-10"),
        step("After the event", "2027-04-10", id="after-event"),
        step("Before it, but needed by it", "2027-03-20", id="needed"),
    ]))  # fmt: skip
    deal_steps = deal.mutual_action_plan.steps
    deal_steps[5].after.append("needed")  # the late step waits for this one
    late = late_for_event(deal)
    flags = {s.title: step_flags(s, AS_OF, i in late) for i, s in enumerate(deal_steps)}
    assert flags == {
        "On time": [], "Late a bit": ["at risk"], "Late a week": ["stalled"],
        "Blocked": ["at risk"], "Done late": [],
        "After the event": ["late for the event"],
        "Before it, but needed by it": ["late for the event"],
    }  # fmt: skip
    [warning] = warnings
    assert warning.field == "mutual_action_plan.steps[5].due"
    assert "after the compelling event (2027-04-01)" in str(warning) and warning.line
    progress = plan_progress(deal, AS_OF)
    assert (progress.at_risk, progress.stalled, progress.late_for_event) == (2, 1, 2)
    assert progress.health == "off track"


@pytest.mark.parametrize(
    ("steps", "field", "message"),
    [
        ([step("A", "2026-12-01", after=["Securty review"]), step("Security review", "2026-11-30")],
         "steps[0].after[0]", "'Securty review' is no step of the plan; give a step's id or "
                              "title; did you mean 'Security review'?"),
        ([step("A", "compelling_evnt - 3d")], "steps[0].due",
         "did you mean 'compelling_event'?"),
        ([step("A", "B + 1d", id="a"), step("B", "a + 1d")], "steps[0].due",
         "these steps wait for each other in a circle: 'A' -> 'B' -> 'A'"),
        ([step("A", "2026-12-01", after=["A"])], "steps[0].after[0]", "cannot come after itself"),
        ([step("A", "2026-12-01", id="x"), step("B", "2026-12-02", id="x")], "steps[1].id",
         "'x' is the id of another step too"),
        ([step("A", "2026-12-10", id="a"), step("B", "2026-12-01", after=["a"])], "steps[1].due",
         "due 2026-12-01, before 'A' (due 2026-12-10), which it comes after"),
        ([step("A", "go_live - 3d")], "steps[0].due",
         "counts from go_live, which this deal has no date for"),
        ([step("A", "signature + 3 months")], "steps[0].due", "is no date or step of the plan"),
        ([step("A", "2026-12-01", id="signature")], "steps[0].id", "names a date of the deal"),
    ],
)  # fmt: skip
def test_plan_problems_name_file_line_and_field(steps, field, message) -> None:
    changes = {"go_live": None} if "go_live" in str(steps) else {}
    deal, problems, _ = parse(plan_deal(steps, **changes))
    assert deal is None
    [problem] = problems
    assert problem.field == f"mutual_action_plan.{field}"
    assert message in problem.message
    assert str(problem).startswith(f"deals/fjordline/deal.yml:{problem.line}:")
    assert problem.line is not None


def test_dates_written_in_quotes_are_dates() -> None:
    deal, problems, _ = parse(plan_deal([step("A", "2026-12-01")]))
    assert problems == [] and deal.mutual_action_plan.steps[0].due == dt.date(2026, 12, 1)


# --- the timeline --------------------------------------------------------------------------


def render_timeline(deal) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(REPO / "plugins" / "dealroom" / "templates"),
        autoescape=True,
    )

    def side(s) -> str:
        return "Fjordline" if deal.side_of(s) == "buyer" else "Ledgerly"

    timeline = build_timeline(deal, AS_OF, lambda day: day.isoformat(), side)
    macro = env.get_template("dealroom/partials/timeline.html").module.timeline_svg
    return str(macro(timeline)).strip() + "\n"


def test_timeline_matches_its_golden_file() -> None:
    deal, _, _ = parse(plan_deal([
        *WORKED_BACK,
        step("Overdue & <escaped>", "2026-11-20", owner="Tom Ashby"),
        step("Blocked step with a title longer than the drawing allows", "2026-12-15",
             status="blocked", start="2026-12-01"),
        step("Discovery", "2026-11-01", status="done", completed="2026-11-01"),
    ]))  # fmt: skip
    drawn = render_timeline(deal)
    if os.environ.get("DEALROOM_UPDATE_GOLDEN"):
        GOLDEN.write_text(drawn, encoding="utf-8")
    assert drawn == GOLDEN.read_text(encoding="utf-8"), "set DEALROOM_UPDATE_GOLDEN=1 to update"
    assert "Overdue &amp; &lt;escaped&gt;: overdue" in drawn
    assert "Blocked step with a title l…: blocked" in drawn  # cut, status in words
    assert "<title>Blocked step with a title longer than the drawing allows (Fjordline)" in drawn


@browser_needed
def test_timeline_reads_at_390_px(tmp_path: Path, browser) -> None:
    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "fjordline", plan_deal(WORKED_BACK))
    site = run_build(project)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto((site / "fjordline" / "mutual-action-plan" / "index.html").as_uri())
    drawing = page.query_selector(".dealroom-plan-timeline svg")
    box = drawing.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    heights = page.evaluate("[...document.querySelectorAll('.dealroom-plan-timeline text')]"
                            ".map(t => t.getBoundingClientRect().height)")  # fmt: skip
    assert len(heights) == 6 + 4 and min(heights) >= 9  # six steps, four dated lines
    labels = page.evaluate("[...document.querySelectorAll('.dealroom-plan-timeline text')]"
                           ".map(t => { const r = t.getBoundingClientRect(); "
                           "return [r.left, r.right]; })")  # fmt: skip
    assert all(left >= 0 and right <= 390 for left, right in labels)  # nothing cut off
    assert drawing.get_attribute("role") == "img" and "Timeline of 6 plan steps" in (
        drawing.get_attribute("aria-label")
    )
    assert page.inner_text("#critical-path ~ .dealroom-slack").startswith("21 days to spare")


# --- the calendar feed and the spreadsheet ------------------------------------------------


def test_plan_ics_holds_every_open_step_with_stable_uids(tmp_path: Path) -> None:
    import icalendar

    project = write_project(tmp_path / "project")
    done = step("Discovery", "2026-11-01", status="done", completed="2026-11-01")
    overdue = step("Late one", "2026-11-20", owner="Tom Ashby", notes="Waiting, again; see notes")
    steps = [*WORKED_BACK, done, overdue]
    write_deal(project / "deals", "fjordline", plan_deal(steps))
    site = run_build(project)
    raw = (site / "fjordline" / "plan.ics").read_bytes()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # folded as RFC 5545 says
    calendar = icalendar.Calendar.from_ical(raw)
    assert str(calendar["x-wr-calname"]) == "Fjordline Shipping and Ledgerly: mutual action plan"
    events = {str(event["summary"]): event for event in calendar.walk("VEVENT")}
    assert set(events) == {
        "Security review",
        "Legal redlines",
        "Contract signed",
        "Kick-off",
        "Go-live rehearsal",
        "Training",
        "Late one",
        "Deadline: EU e-invoicing mandate takes effect",
        "Contract signature (target)",
        "Go-live",
    }  # fmt: skip  (the done step is not in it)
    kick_off = events["Kick-off"]
    assert kick_off.decoded("dtstart") == dt.date(2027, 1, 22)
    assert kick_off.decoded("dtend") == dt.date(2027, 1, 23)  # an all-day event
    assert str(kick_off["description"]) == (
        "Owner: Ingrid Solberg (Fjordline Shipping)\nStatus: planned"
    )
    late = events["Late one"]
    assert str(late["description"]) == ("Owner: Tom Ashby (Ledgerly)\nStatus: planned, at risk\n"
                                        "Waiting, again; see notes")  # fmt: skip
    assert events["Go-live"].decoded("dtstart") == dt.date(2027, 3, 1)
    uids = {summary: str(event["uid"]) for summary, event in events.items()}
    assert uids["Contract signed"] == "fjordline-step-signed@dealroom"  # its id
    assert len(set(uids.values())) == len(uids)
    assert kick_off.decoded("dtstamp") == dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)
    # Built again unchanged: the same bytes. A date moved: the same UIDs, the new date.
    assert (run_build(project) / "fjordline" / "plan.ics").read_bytes() == raw
    steps[3] = step("Kick-off", "signed + 2w", after=["signed"])
    write_deal(project / "deals", "fjordline", plan_deal(steps))
    moved = icalendar.Calendar.from_ical(
        (run_build(project) / "fjordline" / "plan.ics").read_bytes()
    )
    again = {str(event["summary"]): event for event in moved.walk("VEVENT")}
    assert {s: str(e["uid"]) for s, e in again.items()} == uids
    assert again["Kick-off"].decoded("dtstart") == dt.date(2027, 1, 29)
    page = (site / "fjordline" / "mutual-action-plan" / "index.html").read_text()
    assert 'href="../plan.ics">Add to your calendar</a>' in page
    assert 'href="../plan.csv">Download as a spreadsheet</a>' in page


def test_plan_csv_never_runs_a_formula(tmp_path: Path) -> None:
    import csv

    project = write_project(tmp_path / "project")
    formula = '=HYPERLINK("http://evil.example","Click")'
    steps = [step(formula, "2026-12-01"),
             step("Plain step", "2026-12-02", notes="+1 day, @Per", after=[formula])]  # fmt: skip
    write_deal(project / "deals", "fjordline", plan_deal(steps))
    rows = list(csv.reader((run_build(project) / "fjordline" / "plan.csv").open(newline="")))
    assert rows[0] == ["Due", "Step", "Owner", "Company", "Status", "Flags", "After", "Notes"]
    assert rows[1][:5] == ["2026-12-01", "'=HYPERLINK(\"http://evil.example\",\"Click\")",
                           "Ingrid Solberg", "Fjordline Shipping", "planned"]  # fmt: skip
    assert rows[2][7] == "'+1 day, @Per" and rows[2][6].startswith("'=")
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


@nginx_needed
def test_the_feed_is_protected_like_the_pages(tmp_path: Path, served_dir: Path) -> None:
    import icalendar

    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "fjordline", plan_deal(WORKED_BACK))
    scope = Scope.of(project, project / "deals", "fjordline")
    password = add_viewer(project, scope, "ingrid", "Ingrid Solberg")
    publish(project / "mkdocs.yml", served_dir)
    host = Host(served_dir)
    try:
        assert host.get("/fjordline/plan.ics")[0] == 401
        status, headers, body = host.get("/fjordline/plan.ics", "ingrid", password)
        assert status == 200 and headers["content-type"].startswith("text/calendar")
        assert len(icalendar.Calendar.from_ical(body).walk("VEVENT")) == 6 + 3
        assert host.get("/fjordline/plan.csv", "ingrid", password)[0] == 200
    finally:
        host.stop()
    encrypted = tmp_path / "encrypted"
    add_viewer(project, Scope.of(project, project / "deals", None), "team")
    publish(project / "mkdocs.yml", encrypted, mode="encrypted")
    site = encrypted / "current" / "sites" / "fjordline"
    assert not (site / "plan.ics").exists() and not (site / "plan.csv").exists()
    for path in site.rglob("*"):
        if path.is_file():
            assert b"Go-live rehearsal" not in path.read_bytes(), path


def test_the_dashboard_shows_each_deals_flags(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "fjordline", plan_deal([
        step("Late a week", "2026-11-18"), step("Blocked", "2026-12-20", status="blocked"),
        step("After the event", "2027-04-10"),
    ]))  # fmt: skip
    dashboard = (run_build(project) / "index.html").read_text()
    row = dashboard[dashboard.index('href="fjordline/"') :]
    row = row[: row.index("</tr>")]
    assert "0/3 (off track)<br><small>1 stalled, 1 at risk, 1 late for the event</small>" in row


def test_hostile_plans_load_quickly_with_one_message_each(tmp_path: Path) -> None:
    """From a review: a step named like a date, a chain thousands long listed last-first,
    repeated titles, dates past any calendar, a missing anchor many steps count from, a
    circle closed by a rule, and `due` values of every other type."""
    import time

    deal, problems, _ = parse(plan_deal([step("Signature", "signature"),
                                         step("Prepare", "signature - 3d")]))  # fmt: skip
    assert problems == [] and critical_path(deal) is None  # a date, not the step
    assert plan_progress(deal, AS_OF).total == 2
    chain = [step(f"S{i}", f"s{i - 1} + 1d" if i else "2026-12-01", id=f"s{i}",
                  after=[f"s{i - 1}"] if i else []) for i in range(3000)][::-1]  # fmt: skip
    started = time.monotonic()
    deal, problems, _ = parse(plan_deal(chain, compelling_event=None))
    assert problems == [] and time.monotonic() - started < 10
    assert deal.mutual_action_plan.steps[0].due == dt.date(2026, 12, 1) + dt.timedelta(2999)
    assert len(critical_path(deal).steps) == 3000
    cases = {
        "9999-12-31": "9999-12-31 is not a date a plan can hold",
        "1899-12-31": "1899-12-31 is not a date a plan can hold",
    }
    for due, message in cases.items():
        _, problems, _ = parse(plan_deal([step("A", due)]))
        assert [p.field for p in problems] == ["mutual_action_plan.steps[0].due"]
        assert message in problems[0].message
    _, problems, _ = parse(plan_deal([step("A", "go_live - 1d", id="a"), step("B", "a + 1d"),
                                      step("C", "a + 2d")], go_live=None))  # fmt: skip
    assert len(problems) == 1 and "counts from go_live" in problems[0].message
    circle = [step("A", "b + 1d", id="a", after=["c"]), step("B", "a + 1d", id="b"),
              step("C", "2026-12-01", id="c")]  # fmt: skip
    _, problems, _ = parse(plan_deal(circle))
    assert [p.field for p in problems] == ["mutual_action_plan.steps[0].due"]  # the rule's circle
    for odd in (12, True, None, [1], ""):
        _, problems, _ = parse(plan_deal([step("A", odd)]))
        assert [p.field for p in problems] == ["mutual_action_plan.steps[0].due"], odd
        assert problems[0].message.startswith("write the due date as YYYY-MM-DD")


def test_repeated_titles_get_their_own_uids(tmp_path: Path) -> None:
    import icalendar

    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "fjordline", plan_deal([
        step("Steering committee", "2026-12-01"), step("Steering committee", "2027-01-05"),
    ]))  # fmt: skip
    calendar = icalendar.Calendar.from_ical(
        (run_build(project) / "fjordline" / "plan.ics").read_bytes()
    )
    uids = [
        str(event["uid"])
        for event in calendar.walk("VEVENT")
        if "Steering" in str(event["summary"])
    ]
    assert len(set(uids)) == 2 and uids[1].endswith("-2@dealroom")
