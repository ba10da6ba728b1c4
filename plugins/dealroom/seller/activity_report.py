"""What `dealroom activity` prints: per deal, who on the buyer side read what, the
forwarding signal of the champion's forwardable credential, who has not opened the
business case or the room yet, and the seller team's own views kept apart."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .activity import SHARE_LINK, DealActivity, Person, ViewerSummary, summarise


def deal_report(
    slug: str, activity: DealActivity, viewers: list[Person], since: dt.datetime | None
) -> dict[str, Any]:
    """The figures of one deal as plain data (the JSON of `--json`). `viewers` are the
    deal's viewers in its access list now, read or not."""
    summaries = summarise(activity, since)
    read = {summary.person.username for summary in summaries}
    # Pages are known for views that signed in; of a share link opened, only that it was.
    opened_case = {s.person.username for s in summaries
                   if s.business_case is not None or set(s.pages) == {SHARE_LINK}}  # fmt: skip
    buyer = [s for s in summaries if s.person.side != "team"]
    last_buyer_view = max((s.last for s in buyer if s.person.side == "buyer"), default=None)
    return {
        "slug": slug,
        "viewers": [_viewer(summary) for summary in buyer],
        "team": [_viewer(summary) for summary in summaries if summary.person.side == "team"],
        "last_buyer_view": _time(last_buyer_view),
        "never_opened": [_who(p) for p in viewers if p.username not in read],
        "never_opened_business_case": [
            _who(p) for p in viewers if p.username in read and p.username not in opened_case
        ],
    }


def _viewer(summary: ViewerSummary) -> dict[str, Any]:
    person = summary.person
    return {
        **_who(person),
        "first": _time(summary.first),
        "last": _time(summary.last),
        "visits": summary.visits,
        "page_views": sum(summary.pages.values()),
        "pages": {(page or "overview"): count for page, count in sorted(summary.pages.items())},
        "business_case_opened": _time(summary.business_case),
        "networks": summary.networks,
        "browsers": summary.browsers,
    }


def _who(person: Person) -> dict[str, Any]:
    return {
        "username": person.username,
        "side": person.side,
        "label": person.label,
        "name": person.name,
        "title": person.title,
        "role": person.role,
        "forwardable": person.forwardable,
    }


def _time(moment: dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else None


def as_text(report: dict[str, Any]) -> list[str]:
    """The report of one deal as lines for a terminal."""
    buyer = [v for v in report["viewers"] if v["side"] == "buyer"]
    last = report["last_buyer_view"]
    lines = [f"{report['slug']}: {len(buyer)} buyer-side viewer(s)"
             + (f", last buyer view {last}" if last else ", no buyer view yet")]  # fmt: skip
    for viewer in report["viewers"]:
        case = viewer["business_case_opened"]
        if set(viewer["pages"]) == {SHARE_LINK}:  # encrypted mode: no pages in the log
            lines.append(f"  {viewer['label']}: opened their share link "
                         f"{_count(viewer['page_views'], 'time')}, {viewer['first']} to "
                         f"{viewer['last']}")  # fmt: skip
        else:
            lines.append(
                f"  {viewer['label']}: {_count(viewer['visits'], 'visit')}, "
                f"{_count(viewer['page_views'], 'page view')}, {viewer['first']} to "
                f"{viewer['last']}; business case " + (f"opened {case}" if case else "not opened")
            )
        if viewer["forwardable"] and (viewer["networks"] > 1 or viewer["browsers"] > 1):
            lines.append(
                f"    forwarding signal: opened from {_count(viewer['networks'], 'network')} "
                f"and {_count(viewer['browsers'], 'browser')} since {viewer['first'][:10]}"
            )
    if report["never_opened_business_case"]:
        names = ", ".join(p["label"] for p in report["never_opened_business_case"])
        lines.append(f"  Never opened the business case: {names}")
    if report["never_opened"]:
        lines.append("  Never opened the deal room: "
                     + ", ".join(p["label"] for p in report["never_opened"]))  # fmt: skip
    for viewer in report["team"]:
        visits, views = _count(viewer["visits"], "visit"), _count(viewer["page_views"], "page view")
        lines.append(f"  Seller team, not counted above: {viewer['username']}: {visits}, "
                     f"{views}, last {viewer['last']}")  # fmt: skip
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
