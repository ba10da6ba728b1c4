"""Engagement: who from the buying group read what, from the host's own access log.

Seller-only, like the rest of `seller/`: nothing here reaches a deal site. Requests
(`access_log.py`) become page views of signed-in viewers, joined to who each username is
(the deal's access list, the seller team's, the deal's stakeholders), then summed up per
viewer: first and last view, visits (page views less than 30 minutes apart are one visit),
pages read, the business case opened or not, and for the credential the champion may
forward, from how many networks and browsers it was used.

No address is kept: a view records a pseudonym of the viewer's network (the /24 of an
IPv4 address, the /48 of an IPv6 one) and of their browser (the user agent), each a
keyed hash with a salt of the project's, so the same network reads as the same pseudonym
from one run to the next and as nothing to anyone else. `dealroom activity --save` keeps
views in the cache folder (git-ignored, never published), for the dashboard and the
scorecard, and drops those older than the retention period.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..deal.i18n import gettext as _
from ..deal.i18n import mid_sentence
from ..deal.model import Stakeholder, role_label
from .access_log import SUCCESS, Request, deal_of, page_of

VISIT_GAP = dt.timedelta(minutes=30)
QUIET_DAYS = 14  # no buyer-side view for this long while plan steps are due: flagged
BUSINESS_CASE = "business-case/"
SHARE_LINK = "share link"  # the page of a view that is a share link opened (encrypted)
# Where a share link's own keys file is (publish/encryption.py's VIEWER_KEYS, which a
# test holds this to): not imported, so that a build does not load the cryptography.
VIEWER_KEYS = "dealroom-keys"
ACTIVITY_FILE = "activity.json"  # in the cache folder
SALT_FILE = "activity-salt"  # beside it: the key of the pseudonyms
FORMAT = 1
SIDES = ("buyer", "team", "revoked")  # who a username is: a deal viewer, the seller team,
# or nobody any more (revoked, or never known here)
UNSEEN = "not heard from"


@dataclass(frozen=True)
class View:
    """One page view by a signed-in viewer."""

    at: dt.datetime  # aware, UTC
    username: str
    page: str  # inside the deal site: "" (overview), "business-case/", "context/legal/"
    network: str  # pseudonym of the viewer's network, never the address
    browser: str  # pseudonym of the user agent


@dataclass(frozen=True)
class Person:
    """Who a username is."""

    username: str
    side: str  # one of SIDES
    name: str = ""
    title: str = ""
    role: str = ""  # the stakeholder's role, e.g. "economic buyer"
    forwardable: bool = False  # the credential the champion may pass on

    @property
    def label(self) -> str:
        """Who it is, in the language in use (the seller's)."""
        if self.side == "revoked":
            return _("revoked viewer (%(username)s)") % {"username": self.username}
        who = self.name or self.username
        role = mid_sentence(role_label(self.role)) if self.role else ""
        details = ", ".join(part for part in (self.title, role) if part)
        forwardable = " " + _("[forwardable credential]") if self.forwardable else ""
        return f"{who}{f' ({details})' if details else ''}{forwardable}"


@dataclass
class DealActivity:
    """The views of one deal room, and who every username in them is."""

    people: dict[str, Person] = field(default_factory=dict)  # username -> who
    views: list[View] = field(default_factory=list)  # in time order


@dataclass(frozen=True)
class Skipped:
    malformed: int = 0  # not a log line of the expected format
    foreign: int = 0  # for no deal room of this project (another site, a probe)
    unsigned: int = 0  # without accepted credentials (the password prompt, 401s)
    not_pages: int = 0  # styles, scripts, images, the search index


@dataclass(frozen=True)
class ViewerSummary:
    person: Person
    first: dt.datetime
    last: dt.datetime
    visits: int
    pages: dict[str, int]  # page -> views
    business_case: dt.datetime | None  # when first opened
    networks: int
    browsers: int


# --- from requests to views -------------------------------------------------------------


class Pseudonyms:
    """Keyed hashes of networks and browsers, with the project's salt."""

    def __init__(self, salt: bytes) -> None:
        self.salt = salt

    @classmethod
    def of_project(cls, cache: Path | None) -> Pseudonyms:
        """The project's salt, made once in the cache folder (a fresh one per run when
        there is none: pseudonyms then mean nothing from one run to the next)."""
        if cache is None:
            return cls(secrets.token_bytes(32))
        path = cache / SALT_FILE
        try:
            return cls(bytes.fromhex(path.read_text(encoding="ascii").strip()))
        except (OSError, ValueError):
            cache.mkdir(parents=True, exist_ok=True)
            salt = secrets.token_bytes(32)
            temporary = path.with_name(f".{SALT_FILE}.{os.getpid()}")
            temporary.write_text(salt.hex(), encoding="ascii")
            temporary.chmod(0o600)
            os.replace(temporary, path)
            return cls(salt)

    def of(self, kind: str, text: str) -> str:
        mac = hmac.new(self.salt, f"{kind}\0{text}".encode(), hashlib.sha256)
        return mac.hexdigest()[:16]

    def network(self, address: str) -> str:
        try:
            ip = ipaddress.ip_address(address)
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:  # a dual-stack listener
                ip = ip.ipv4_mapped
            prefix = 24 if ip.version == 4 else 48
            network = str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
        except ValueError:  # not an address (a proxy's placeholder): itself
            network = address
        return self.of("network", network)


def views_by_deal(
    requests: list[Request],
    slugs: set[str],
    pseudonyms: Pseudonyms,
    tokens: dict[str, dict[str, str]] | None = None,
    mode: str = "nginx",
) -> tuple[dict[str, list[View]], Skipped]:
    """Per deal of `slugs`, the page views of viewers who signed in (nginx `mode`) or
    the share links opened (encrypted `mode`; `tokens`: per deal, each viewer's
    share-link token -> their username). On a static host nobody signs in, and a user
    name in its log is whatever a client sent: never taken as a viewer there."""
    views: dict[str, list[View]] = {slug: [] for slug in slugs}
    foreign = unsigned = not_pages = 0
    for request in requests:
        found = deal_of(request, slugs)
        if found is None:
            foreign += 1
            continue
        slug, inside = found
        opened = _share_link(inside, (tokens or {}).get(slug, {})) if mode != "nginx" else None
        if opened and request.status in SUCCESS:
            views[slug].append(View(
                request.at, opened, SHARE_LINK,
                pseudonyms.network(request.address), pseudonyms.of("browser", request.agent),
            ))  # fmt: skip
            continue
        if mode != "nginx" or not request.user or request.status not in SUCCESS:
            unsigned += 1
            continue
        page = page_of(inside)
        if page is None or request.method not in ("GET", "HEAD"):
            not_pages += 1
            continue
        views[slug].append(View(
            request.at, request.user, page,
            pseudonyms.network(request.address), pseudonyms.of("browser", request.agent),
        ))  # fmt: skip
    return views, Skipped(0, foreign, unsigned, not_pages)


def _share_link(inside: str, tokens: dict[str, str]) -> str | None:
    """Whose share link a deal-relative path is the keys file of, if any."""
    folder, _, name = inside.partition("/")
    if folder != VIEWER_KEYS or not name.endswith(".json"):
        return None
    return tokens.get(name.removesuffix(".json"))


def identify(
    username: str,
    viewers: dict[str, tuple[str, bool]],
    team: set[str],
    stakeholders: list[Stakeholder],
) -> Person:
    """Who `username` is in a deal: one of its viewers (`viewers`: username -> name and
    forwardable), matched to a stakeholder by name for title and role; a member of the
    seller team; or a revoked viewer (in no access list now)."""
    if username in viewers:
        name, forwardable = viewers[username]
        match = next((s for s in stakeholders if name and s.name.casefold() == name.casefold()),
                     None)  # fmt: skip
        if match is not None:
            return Person(username, "buyer", match.name, match.title, match.role, forwardable)
        return Person(username, "buyer", name, forwardable=forwardable)
    if username in team:
        return Person(username, "team", username)
    return Person(username, "revoked")


# --- summaries --------------------------------------------------------------------------


def day_of(view: View) -> dt.date:
    """The day of a view where the build runs, as `as_of` (default: today there) is."""
    return view.at.astimezone().date()


def summarise(activity: DealActivity, since: dt.datetime | None = None) -> list[ViewerSummary]:
    """Each viewer's reading, most recent reader first."""
    by_user: dict[str, list[View]] = {}
    for view in activity.views:
        if since is None or view.at >= since:
            by_user.setdefault(view.username, []).append(view)
    summaries = []
    for username, views in by_user.items():
        views.sort(key=lambda view: view.at)
        person = activity.people.get(username, Person(username, "revoked"))
        pages: dict[str, int] = {}
        for view in views:
            pages[view.page] = pages.get(view.page, 0) + 1
        opened = next((view.at for view in views if view.page == BUSINESS_CASE), None)
        summaries.append(ViewerSummary(
            person, views[0].at, views[-1].at, count_visits([view.at for view in views]),
            pages, opened, len({view.network for view in views}),
            len({view.browser for view in views}),
        ))  # fmt: skip
    summaries.sort(key=lambda summary: summary.last, reverse=True)
    return summaries


def count_visits(times: list[dt.datetime]) -> int:
    """Visits among view times in order: a gap of 30 minutes or more starts a new one."""
    return sum(1 for before, after in zip([None, *times], times, strict=False)
               if before is None or after - before >= VISIT_GAP)  # fmt: skip


@dataclass(frozen=True)
class Engagement:
    """A deal's engagement for the seller's dashboard, as of the build's day."""

    buyer_viewers_7: int
    buyer_viewers_30: int
    last_buyer_view: dt.date | None
    business_case_readers: list[str]  # buyer-side names
    reader_roles: frozenset[str]  # the stakeholder roles among them
    quiet: bool  # nobody on the buyer side for QUIET_DAYS while plan steps are due

    @classmethod
    def of(cls, activity: DealActivity, as_of: dt.date, steps_due: bool) -> Engagement:
        buyer = [view for view in activity.views
                 if activity.people.get(view.username, Person("", "revoked")).side == "buyer"
                 and day_of(view) <= as_of]  # fmt: skip

        def viewers_within(days: int) -> int:
            start = as_of - dt.timedelta(days=days - 1)
            return len({view.username for view in buyer if day_of(view) >= start})

        last = max((day_of(view) for view in buyer), default=None)
        readers = sorted({view.username for view in buyer if view.page == BUSINESS_CASE})
        people = [activity.people[username] for username in readers]
        quiet = steps_due and (last is None or (as_of - last).days >= QUIET_DAYS)
        return cls(
            viewers_within(7), viewers_within(30), last,
            [person.name or person.username for person in people],
            frozenset(person.role for person in people if person.role), quiet,
        )  # fmt: skip


# --- the saved activity (cache folder) ------------------------------------------------


class ActivityFileError(Exception):
    """The saved activity file cannot be used; says which file and why."""


@dataclass
class SavedActivity:
    """Views kept between runs of `dealroom activity --save`, per deal."""

    deals: dict[str, DealActivity] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> SavedActivity:
        """The saved activity at `path` (empty if there is none)."""
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            deals = {}
            for slug, entry in data["deals"].items():
                people = {u: Person(**p) for u, p in entry["people"].items()}
                views = [View(dt.datetime.fromisoformat(at), u, page, net, browser)
                         for at, u, page, net, browser in entry["views"]]  # fmt: skip
                deals[str(slug)] = DealActivity(people, views)
            return cls(deals)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ActivityFileError(
                f"{path}: not an activity file dealroom can read ({error}); delete it and "
                "run `dealroom activity --save` again"
            ) from None

    @classmethod
    def of_project(cls, cache: Path | None) -> SavedActivity | None:
        """What `dealroom activity --save` kept in the cache folder; None if it never
        ran. Raises ActivityFileError for a file that cannot be read."""
        if cache is None or not (cache / ACTIVITY_FILE).exists():
            return None
        return cls.load(cache / ACTIVITY_FILE)

    def merge(self, slug: str, views: list[View]) -> DealActivity:
        """Add `views` to the deal's (a view already kept is kept once: the same log may
        be read again); the caller then says who every username in them is now."""
        kept = self.deals.setdefault(slug, DealActivity())
        kept.views = sorted(dict.fromkeys([*kept.views, *views]), key=lambda view: view.at)
        return kept

    def reader_roles(self, slug: str, as_of: dt.date) -> frozenset[str]:
        """The stakeholder roles of buyer-side people who opened the deal's business case
        by `as_of`, as the dashboard counts them."""
        activity = self.deals.get(slug, DealActivity())
        return Engagement.of(activity, as_of, steps_due=False).reader_roles

    def drop_before(self, start: dt.datetime) -> int:
        """Forget views before `start` (the retention period); how many went."""
        dropped = 0
        for activity in self.deals.values():
            kept = [view for view in activity.views if view.at >= start]
            dropped += len(activity.views) - len(kept)
            activity.views = kept
        return dropped

    def save(self, path: Path) -> None:
        data = {
            "format": FORMAT,
            "note": "Seller-only engagement from `dealroom activity --save`; never publish.",
            "deals": {
                slug: {
                    "people": {u: asdict(p) for u, p in sorted(activity.people.items())},
                    "views": [
                        [v.at.isoformat(), v.username, v.page, v.network, v.browser]
                        for v in activity.views
                    ],
                }
                for slug, activity in sorted(self.deals.items())
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        temporary.chmod(0o600)
        os.replace(temporary, path)
