"""What `dealroom activity` prints: per deal, who on the buyer side read what, the
forwarding signal of the champion's forwardable credential, who has not opened the
business case or the room yet, and the seller team's own views kept apart."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..deal.i18n import gettext as _
from ..deal.i18n import ngettext
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
    """The report of one deal as lines for a terminal, in the language in use (the
    seller's)."""
    buyer = [v for v in report["viewers"] if v["side"] == "buyer"]
    last = report["last_buyer_view"]
    head = ngettext("%(slug)s: %(count)s buyer-side viewer",
                    "%(slug)s: %(count)s buyer-side viewers",
                    len(buyer)) % {"slug": report["slug"], "count": len(buyer)}  # fmt: skip
    tail = _(", last buyer view %(time)s") % {"time": last} if last else _(", no buyer view yet")
    lines = [head + tail]
    for viewer in report["viewers"]:
        case = viewer["business_case_opened"]
        span = {"label": viewer["label"], "first": viewer["first"], "last": viewer["last"]}
        if set(viewer["pages"]) == {SHARE_LINK}:  # encrypted mode: no pages in the log
            lines.append("  " + ngettext(
                "%(label)s: opened their share link %(count)s time, %(first)s to %(last)s",
                "%(label)s: opened their share link %(count)s times, %(first)s to %(last)s",
                viewer["page_views"]) % {**span, "count": viewer["page_views"]})  # fmt: skip
        else:
            visits = ngettext("%(count)s visit", "%(count)s visits", viewer["visits"])
            views = ngettext("%(count)s page view", "%(count)s page views", viewer["page_views"])
            opened = (_("business case opened %(time)s") % {"time": case} if case
                      else _("business case not opened"))  # fmt: skip
            lines.append("  " + _("%(label)s: %(visits)s, %(views)s, %(first)s to %(last)s; "
                                  "%(opened)s") % {
                **span, "visits": visits % {"count": viewer["visits"]},
                "views": views % {"count": viewer["page_views"]}, "opened": opened,
            })  # fmt: skip
        if viewer["forwardable"] and (viewer["networks"] > 1 or viewer["browsers"] > 1):
            networks = ngettext("%(count)s network", "%(count)s networks", viewer["networks"])
            browsers = ngettext("%(count)s browser", "%(count)s browsers", viewer["browsers"])
            lines.append("    " + _("forwarding signal: opened from %(networks)s and "
                                    "%(browsers)s since %(day)s") % {
                "networks": networks % {"count": viewer["networks"]},
                "browsers": browsers % {"count": viewer["browsers"]},
                "day": viewer["first"][:10],
            })  # fmt: skip
    if report["never_opened_business_case"]:
        names = ", ".join(p["label"] for p in report["never_opened_business_case"])
        lines.append("  " + _("Never opened the business case: %(names)s") % {"names": names})
    if report["never_opened"]:
        names = ", ".join(p["label"] for p in report["never_opened"])
        lines.append("  " + _("Never opened the deal room: %(names)s") % {"names": names})
    for viewer in report["team"]:
        visits = ngettext("%(count)s visit", "%(count)s visits", viewer["visits"])
        views = ngettext("%(count)s page view", "%(count)s page views", viewer["page_views"])
        lines.append("  " + _("Seller team, not counted above: %(username)s: %(visits)s, "
                              "%(views)s, last %(last)s") % {
            "username": viewer["username"], "visits": visits % {"count": viewer["visits"]},
            "views": views % {"count": viewer["page_views"]}, "last": viewer["last"],
        })  # fmt: skip
    return lines
