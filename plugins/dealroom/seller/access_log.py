"""Reading the host's own access log: which signed-in viewer asked for which page.

In nginx mode every request carries the viewer's username (`$remote_user`), and the
generated configuration logs it in nginx's `combined` format (with the host name added
when each deal has a host name of its own, see publish/templates/server.conf):

    127.0.0.1 - maria.chen [12/Nov/2026:09:14:03 +0100] "GET /fjordline/ HTTP/1.1" 200 5120
    "-" "Mozilla/5.0 …" ["fjordline.rooms.example.com"]

Plain and gzip-compressed files (logrotate's `.1`, `.2.gz`, …) are read alike, in any
order: views are sorted by time afterwards. A line that is not in this format is
counted and skipped, never an error: logs hold whatever clients sent.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

# nginx escapes `"` and `\` inside quoted fields as \xHH, so a quoted field ends at the
# first `"`. The user field is whatever a client sent when it failed to sign in (spaces
# included), up to the time; one with a `[` is not a user who signed in, and stays
# unmatched (no pattern here backtracks more than a character, whatever a line holds).
LINE = re.compile(
    r'(?P<address>\S+) \S+ (?P<user>[^\[]+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?:\d+|-) "[^"]*" "(?P<agent>[^"]*)"(?: "(?P<host>[^"]*)")?\s*'
)
TIME = re.compile(r"(\d{2})/(\w{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
MAX_LINE = 65_536  # characters; nginx's own request and header limits keep lines far shorter
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # terminal escapes and the like
SUCCESS = frozenset({200, 206, 304})  # a page the viewer got (304: from their cache)


@dataclass(frozen=True)
class Request:
    """One line of an access log."""

    at: dt.datetime  # aware, UTC
    address: str
    user: str  # "" when the request carried no credentials
    method: str
    path: str  # decoded, without the query
    status: int
    agent: str
    host: str  # "" unless the configuration logs it (one host name per deal)


@dataclass
class LogFiles:
    """What reading some log files found."""

    requests: list[Request] = field(default_factory=list)
    lines: int = 0
    malformed: dict[str, list[int]] = field(default_factory=dict)  # file -> line numbers

    @property
    def malformed_count(self) -> int:
        return sum(len(numbers) for numbers in self.malformed.values())


class LogError(Exception):
    """A log file cannot be read at all (missing, unreadable, not text or gzip)."""


def read_logs(paths: list[Path]) -> LogFiles:
    """Every request in `paths` (plain or `.gz`), in time order."""
    found = LogFiles()
    for path in paths:
        for number, text in _lines(path):
            found.lines += 1
            request = parse_line(text)
            if request is None:
                found.malformed.setdefault(str(path), []).append(number)
            else:
                found.requests.append(request)
    found.requests.sort(key=lambda request: request.at)
    return found


def parse_line(text: str) -> Request | None:
    """The request a `combined` log line records, or None for anything else."""
    text = text.rstrip("\r\n")
    if len(text) > MAX_LINE or CONTROL.search(text):  # nginx writes control bytes as \xHH
        return None
    match = LINE.fullmatch(text)
    if match is None:
        return None
    at = _time(match["time"])
    parts = match["request"].split(" ")
    if at is None or len(parts) != 3 or not parts[1].startswith("/"):
        return None
    method, target, _ = parts
    user = match["user"]
    return Request(
        at=at,
        address=match["address"],
        user="" if user == "-" else user,
        method=method,
        path=unquote(target.split("?", 1)[0].split("#", 1)[0]),
        status=int(match["status"]),
        agent=match["agent"],
        host=(match["host"] or "").lower(),
    )


def _time(text: str) -> dt.datetime | None:
    match = TIME.fullmatch(text)
    if match is None or match[2] not in MONTHS:
        return None
    day, month, year, hour, minute, second = (int(match[1]), MONTHS.index(match[2]) + 1,
                                              int(match[3]), int(match[4]), int(match[5]),
                                              int(match[6]))  # fmt: skip
    offset = dt.timedelta(hours=int(match[8]), minutes=int(match[9]))
    try:
        zone = dt.timezone(offset if match[7] == "+" else -offset)
        local = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
        return local.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):  # no such offset or day, or past year 9999
        return None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == b"\x1f\x8b"
        opener = gzip.open if compressed else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as stream:  # type: ignore[operator]
            yield from enumerate(stream, start=1)
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise LogError(f"{path}: cannot be read as an access log ({error})") from None


def deal_of(request: Request, known: set[str]) -> tuple[str, str] | None:
    """The deal a request was for and the page path inside its site ("" for the
    overview), or None if it names no deal in `known`."""
    if request.host:  # one host name per deal: https://<slug>.<domain>/<page>
        slug, inside = request.host.split(".", 1)[0], request.path.lstrip("/")
    else:  # one host for all: /<slug>/<page>
        slug, _, inside = request.path.lstrip("/").partition("/")
    if not SLUG.fullmatch(slug) or slug not in known:
        return None
    return slug, inside


def page_of(inside: str) -> str | None:
    """The page a deal-relative path asks for ("" is the overview, "business-case/" the
    business case), or None for anything that is not a page (styles, scripts, images,
    the search index)."""
    if inside.endswith("index.html"):
        inside = inside[: -len("index.html")]
    if inside == "" or inside.endswith("/"):
        return inside
    if inside.endswith(".html"):
        return inside
    return None
