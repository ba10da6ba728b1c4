"""Engagement from the host's access log: `dealroom activity` on the log of a real nginx
that served real viewers (from several loopback addresses and browsers), rotated and
gzipped logs, junk lines, the saved activity, the dashboard and the scorecard, and a
canary check that none of it reaches a deal site."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import http.client
import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import (
    NGINX,
    Host,
    browser_needed,
    make_deal,
    nginx_needed,
    run_build,
    set_plugin_options,
    write_deal,
    write_project,
)
from dealroom.publish.access import AccessList, Scope, add_viewer, revoke_viewer
from dealroom.publish.encryption import decrypt, derive_key, unb64
from dealroom.publish.releases import publish
from dealroom.seller.access_log import deal_of, page_of, parse_line
from dealroom.seller.activity import Pseudonyms, count_visits

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
ENV.pop("DEALROOM_SHARD", None)
TODAY = dt.datetime.now(dt.timezone.utc).date()
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Version/18.0 Safari/604.1"
EDGE = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/140.0.0.0 Safari/537.36 Edg/140.0"
CANARY = "canary-viewer-7f3a"  # a username only the activity and the dashboard may show


# --- the log format --------------------------------------------------------------------


def test_parses_nginx_combined_lines_and_refuses_anything_else() -> None:
    line = ('127.0.1.2 - maria.chen [12/Nov/2026:09:14:03 +0100] "GET /fjordline/business-case/'
            '?x=1 HTTP/1.1" 200 5120 "-" "Firefox"')  # fmt: skip
    request = parse_line(line)
    assert request is not None
    assert request.at == dt.datetime(2026, 11, 12, 8, 14, 3, tzinfo=dt.timezone.utc)
    assert (request.user, request.path, request.status) == (
        "maria.chen",
        "/fjordline/business-case/",
        200,
    )
    assert request.host == "" and request.agent == "Firefox"
    with_host = parse_line(line + ' "FJORDLINE.rooms.example.com"')
    assert with_host is not None and with_host.host == "fjordline.rooms.example.com"
    assert deal_of(with_host, {"fjordline"}) == ("fjordline", "fjordline/business-case/")
    assert deal_of(request, {"fjordline"}) == ("fjordline", "business-case/")
    assert deal_of(request, {"vega"}) is None
    # Whatever a client sent as a user name on a failed sign-in (spaces, quotes escaped
    # by nginx as \x22) still parses; bad dates, requests and truncated lines do not.
    odd = parse_line(
        '10.0.0.1 - a b\\x22c [12/Nov/2026:09:14:03 +0000] "GET / HTTP/1.1" 401 0 "-" "x"'
    )
    assert odd is not None and odd.user == "a b\\x22c" and odd.status == 401
    escape = line.replace("maria.chen", "maria\x1b[2Jchen")  # raw: nginx would write \x1B
    stamp = "12/Nov/2026:09:14:03 +0100"
    far = [line.replace("+0100", "+2400"), line.replace(stamp, "31/Dec/9999:23:59:59 -2359")]
    for bad in ("", "garbage", line[:40], line.replace("Nov", "Noe"), escape, *far, " [a" * 9000,
                line.replace("12/Nov", "31/Nov"), line.replace('"GET /fjord', '"GET fjord'),
                line.replace(" HTTP/1.1", "")):  # fmt: skip
        assert parse_line(bad) is None, bad


def test_pages_visits_and_pseudonyms() -> None:
    assert [page_of(p) for p in ("", "index.html", "business-case/", "context/legal/index.html",
                                 "assets/stylesheets/main.css", "search/search_index.json",
                                 "dealroom/assets/dealroom.js")] == [
        "", "", "business-case/", "context/legal/", None, None, None]  # fmt: skip
    start = dt.datetime(2026, 11, 12, 9, tzinfo=dt.timezone.utc)
    minutes = [0, 10, 39, 69, 70, 200]  # gaps of 10, 29, 30, 1 and 130 minutes
    assert count_visits([start + dt.timedelta(minutes=m) for m in minutes]) == 3
    assert count_visits([]) == 0
    names = Pseudonyms(b"salt")
    assert names.network("203.0.113.7") == names.network("203.0.113.200")  # one /24
    assert names.network("203.0.113.7") != names.network("203.0.114.7")
    assert names.network("2001:db8:1:2::1") == names.network("2001:db8:1:ffff::9")  # one /48
    assert Pseudonyms(b"other").network("203.0.113.7") != names.network("203.0.113.7")
    assert names.network("::ffff:203.0.113.9") == names.network("203.0.113.7")  # dual stack
    assert names.network("::ffff:198.51.100.1") != names.network("::ffff:203.0.113.9")
    assert "203.0" not in names.network("203.0.113.7")


# --- against a real nginx -----------------------------------------------------------------


def vega_deal() -> dict:
    """A deal whose investment section stops at level 3 for want of the budget owner: he
    owns no plan step and has not contributed, so only his reading can count."""
    deal = make_deal(customer={"name": "Vega Labs"})
    deal["business_case"]["contributors"] = ["Ingrid Solberg"]
    deal["mutual_action_plan"]["steps"] += [
        {"title": "Board approval", "owner": "Ingrid Solberg", "due": "2027-01-10",
         "status": "planned"},
        {"title": "Cut-over rehearsal", "owner": "Tom Ashby", "due": "2027-02-15",
         "status": "planned"},
    ]  # fmt: skip
    return deal


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "project", as_of=TODAY.isoformat())
    write_deal(root / "deals", "fjordline", make_deal())
    write_deal(root / "deals", "vega-labs", vega_deal())
    write_deal(root / "deals", "harbor", make_deal(customer={"name": "Harbor Health"}))
    return root


def request(host: Host, path: str, user: str, password: str, source: str, agent: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=10,
                                            source_address=(source, 0))  # fmt: skip
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    connection.request("GET", path, headers={"Authorization": f"Basic {token}",
                                             "User-Agent": agent})  # fmt: skip
    status = connection.getresponse().status
    connection.close()
    return status


def activity(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["dealroom", "activity", *args], cwd=project, env=ENV,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def shifted(line: str, days: int) -> str:
    """The same log line, `days` earlier."""

    def earlier(match: re.Match[str]) -> str:
        day = dt.datetime.strptime(match[1], "%d/%b/%Y") - dt.timedelta(days=days)
        return f"[{day.strftime('%d/%b/%Y')}:"

    return re.sub(r"\[(\d{2}/\w{3}/\d{4}):", earlier, line, count=1)


@pytest.fixture
def served(project: Path, served_dir: Path):
    """Two weeks of reading in a real nginx's log: today's requests, and a rotated,
    gzipped log of three days ago (the same requests of Ingrid's, earlier)."""
    deals = project / "deals"
    fjord, vega = Scope.of(project, deals, "fjordline"), Scope.of(project, deals, "vega-labs")
    password = {
        "ingrid": add_viewer(project, fjord, "ingrid", "Ingrid Solberg"),
        "per": add_viewer(project, fjord, "per", "per dahl"),  # matched whatever the case
        "anna": add_viewer(project, fjord, "anna", "Anna Berg"),
        CANARY: add_viewer(project, fjord, CANARY, forwardable=True),
        "gone": add_viewer(project, fjord, "gone", "Gone Person"),
        "vega-cfo": add_viewer(project, vega, "vega-cfo", "Per Dahl"),
        "tom": add_viewer(project, Scope.of(project, deals, None), "tom"),
    }
    publish(project / "mkdocs.yml", served_dir)
    host = Host(served_dir)
    try:
        get = {name: (lambda path, source="127.0.1.2", agent=FIREFOX, name=name:
                      request(host, path, name, password[name], source, agent))
               for name in password}  # fmt: skip
        assert get["ingrid"]("/fjordline/") == 200
        assert get["ingrid"]("/fjordline/business-case/") == 200
        assert get["ingrid"]("/fjordline/dealroom/assets/dealroom.css") == 200  # not a page
        assert get["per"]("/fjordline/", "127.0.2.3", SAFARI) == 200
        assert get["per"]("/fjordline/mutual-action-plan/", "127.0.2.3", SAFARI) == 200
        for source, agent in (("127.0.1.2", FIREFOX), ("127.0.2.3", SAFARI),
                              ("127.0.3.4", EDGE), ("127.0.4.5", EDGE)):  # fmt: skip
            assert get[CANARY]("/fjordline/business-case/", source, agent) == 200
        assert get["gone"]("/fjordline/contributors/") == 200
        assert get["tom"]("/fjordline/") == 200
        assert get["tom"]("/vega-labs/") == 200
        assert get["vega-cfo"]("/vega-labs/business-case/index.html") == 200
        assert request(host, "/fjordline/", "per", "wrong", "127.0.2.3", SAFARI) == 401
        assert get["per"]("/vega-labs/") == 401  # not a viewer there
        assert request(host, "/no-such-deal/", "tom", password["tom"], "127.0.9.9", "bot") == 401
    finally:
        host.stop()
    revoke_viewer(project, fjord, "gone")
    log = host.conf.parent / "state" / "access.log"
    earlier = [shifted(line, 3) for line in log.read_text().splitlines(keepends=True)
               if " ingrid " in line]  # fmt: skip
    rotated = log.with_name("access.log.2.gz")
    with gzip.open(rotated, "wt", encoding="utf-8") as stream:
        stream.writelines(earlier)
    junk = log.with_name("other-site.log")
    junk.write_text(
        "not a log line\n"
        '10.0.0.1 - - [26/Nov/2026:10:00:00 +0000] "GET /wp-login.php HTTP/1.1" 404 0 "-" "x"\n'
        '10.0.0.1 - - [99/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "x"\n',
        encoding="utf-8",
    )
    return project, log, password


@nginx_needed
def test_activity_reports_every_figure_from_the_real_log(served) -> None:
    project, log, password = served
    patterns = [str(log), str(log.parent / "access.log*"),  # the live log twice: read once
                str(log.parent / "other-site.log")]  # fmt: skip
    result = activity(project, *[arg for p in patterns for arg in ("--log", p)], "--json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "other-site.log: 2 line(s) not in nginx's combined format skipped (line 1, 3)" in (
        result.stderr
    )
    assert "request(s) for no deal room of this project skipped" in result.stderr
    report = json.loads(result.stdout)
    assert report["read"]["malformed"] == 2 and report["read"]["foreign"] >= 2
    assert report["read"]["without_credentials"] == 2  # the wrong password, the wrong deal
    deals = {deal["slug"]: deal for deal in report["deals"]}
    fjord = deals["fjordline"]
    viewers = {viewer["username"]: viewer for viewer in fjord["viewers"]}
    assert set(viewers) == {"ingrid", "per", CANARY, "gone"}
    ingrid = viewers["ingrid"]
    assert ingrid["label"] == "Ingrid Solberg (Finance Director, champion)"
    assert ingrid["visits"] == 2  # three days ago (rotated, gzipped) and today
    assert ingrid["page_views"] == 4 and ingrid["pages"] == {"business-case/": 2, "overview": 2}
    assert ingrid["first"][:10] == (TODAY - dt.timedelta(days=3)).isoformat()
    assert ingrid["business_case_opened"][:10] == ingrid["first"][:10]
    assert (ingrid["networks"], ingrid["browsers"]) == (1, 1)
    per = viewers["per"]
    assert per["label"] == "Per Dahl (CFO, economic buyer)" and per["business_case_opened"] is None
    assert (per["visits"], per["page_views"]) == (1, 2)
    forwarded = viewers[CANARY]
    assert forwarded["forwardable"] and (forwarded["networks"], forwarded["browsers"]) == (4, 3)
    assert (
        viewers["gone"]["side"] == "revoked" and viewers["gone"]["label"] == "revoked viewer (gone)"
    )
    assert [p["username"] for p in fjord["never_opened"]] == ["anna"]
    assert [p["username"] for p in fjord["never_opened_business_case"]] == ["per"]
    assert [v["username"] for v in fjord["team"]] == ["tom"]  # kept apart from the buyer's
    assert fjord["last_buyer_view"][:10] == TODAY.isoformat()
    vega = deals["vega-labs"]
    assert [v["username"] for v in vega["viewers"]] == ["vega-cfo"]
    assert vega["viewers"][0]["business_case_opened"] is not None
    assert [v["username"] for v in vega["team"]] == ["tom"]
    assert deals["harbor"]["viewers"] == [] and deals["harbor"]["last_buyer_view"] is None
    # The same, for a person; only fjordline; --since drops what came before.
    text = activity(project, "fjordline", "--log", str(log), "--log",
                    str(log.parent / "access.log.*.gz"))  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("fjordline: 3 buyer-side viewers, last buyer view ")
    assert "vega-labs" not in text.stdout
    assert f"  {CANARY} [forwardable credential]: 4 visits" not in text.stdout  # 1 visit
    assert "forwarding signal: opened from 4 networks and 3 browsers since" in text.stdout
    assert "revoked viewer (gone): 1 visit, 1 page view" in text.stdout
    assert "Never opened the business case: Per Dahl (CFO, economic buyer)" in text.stdout
    assert "Never opened the deal room: Anna Berg" in text.stdout
    assert "Seller team, not counted above: tom: 1 visit, 1 page view" in text.stdout
    rotated = str(log.parent / "access.log.*.gz")
    recent = activity(project, "fjordline", "--log", str(log), "--log", rotated,
                      "--since", TODAY.isoformat(), "--json")  # fmt: skip
    recent_ingrid = next(v for v in json.loads(recent.stdout)["deals"][0]["viewers"]
                         if v["username"] == "ingrid")  # fmt: skip
    assert recent_ingrid["visits"] == 1 and recent_ingrid["page_views"] == 2
    for password_text in password.values():
        assert password_text not in result.stdout + text.stdout


@nginx_needed
def test_saved_activity_feeds_dashboard_and_scorecard_never_a_deal_site(served) -> None:
    project, log, _ = served
    score = scores(project)
    vega_card = next(card for card in score if card["deal"] == "vega-labs")
    assert _level(vega_card, "investment") == 3  # the budget owner is not engaged yet
    assert vega_card["sections"]["investment"]["capped_by"] == ["the budget owner is engaged"]
    saved = activity(project, "--log", str(log), "--save")
    assert saved.returncode == 0, saved.stderr
    path = project / ".cache" / "dealroom" / "activity.json"
    assert f"Saved the views of 3 deal(s) to {path}" in saved.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    kept = path.read_text()
    for secret in ("127.0.", "Firefox", "Safari", "Edg/"):  # no address, no user agent
        assert secret not in kept
    views = len(json.loads(kept)["deals"]["fjordline"]["views"])
    assert activity(project, "--log", str(log), "--save").returncode == 0  # the same log again
    assert len(json.loads(path.read_text())["deals"]["fjordline"]["views"]) == views
    # The scorecard counts the budget owner's reading of the business case.
    score = scores(project)
    assert _level(next(c for c in score if c["deal"] == "vega-labs"), "investment") >= 4
    # The dashboard shows it; no deal site does.
    site = run_build(project)
    dashboard = (site / "index.html").read_text()
    assert "Buyer viewers 7 / 30 days" in dashboard and "Business case read by" in dashboard
    rows = {
        slug: dashboard[dashboard.index(f'href="{slug}/"') :] for slug in ("fjordline", "harbor")
    }
    fjord_row = rows["fjordline"][: rows["fjordline"].index("</tr>")]
    assert '<td data-value="3">3 / 3</td>' in fjord_row  # ingrid, per and the forwarded one
    assert "Ingrid Solberg" in fjord_row and "Quiet" not in fjord_row
    harbor_row = rows["harbor"][: rows["harbor"].index("</tr>")]
    assert "Quiet: no buyer view for 14+ days while plan steps are due" in harbor_row
    assert CANARY in kept
    for page in site.rglob("*"):
        if page.is_file() and page.parent != site and page.name != "sitemap.xml":
            data = page.read_bytes()
            for canary in (CANARY.encode(), b"Business case read by", b"Quiet: no buyer view",
                           b"activity.json"):  # fmt: skip
                assert canary not in data, (page, canary)


@nginx_needed
def test_a_host_name_per_deal_is_read_from_the_logged_host(project: Path, served_dir: Path) -> None:
    fjord = Scope.of(project, project / "deals", "fjordline")
    password = add_viewer(project, fjord, "ingrid", "Ingrid Solberg")
    publish(project / "mkdocs.yml", served_dir, domain="rooms.test")
    host = Host(served_dir, domain="rooms.test")
    try:
        status, _, _ = host.get("/business-case/", "ingrid", password, "fjordline.rooms.test")
        assert status == 200
    finally:
        host.stop()
    log = host.conf.parent / "state" / "access.log"
    assert log.read_text().rstrip().endswith('"fjordline.rooms.test"')
    result = activity(project, "fjordline", "--log", str(log), "--json")
    assert result.returncode == 0, result.stderr
    [viewer] = json.loads(result.stdout)["deals"][0]["viewers"]
    assert viewer["username"] == "ingrid" and viewer["pages"] == {"business-case/": 1}


def scores(project: Path) -> list[dict]:
    done = subprocess.run(["dealroom", "score", "--json"], cwd=project, env=ENV,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout)


def _level(card: dict, section: str) -> int:
    return card["sections"][section]["level"]


@nginx_needed
def test_saving_drops_views_older_than_the_retention(served) -> None:
    project, log, _ = served
    set_plugin_options(project, activity_retention_days=2)
    rotated = str(log.parent / "access.log.*.gz")  # Ingrid's reading of three days ago
    saved = activity(project, "--log", str(log), "--log", rotated, "--save")
    assert saved.returncode == 0, saved.stderr
    assert "2 view(s) older than 2 days dropped" in saved.stderr
    kept = json.loads((project / ".cache" / "dealroom" / "activity.json").read_text())
    ingrid = [v for v in kept["deals"]["fjordline"]["views"] if v[1] == "ingrid"]
    assert len(ingrid) == 2 and all(v[0][:10] == TODAY.isoformat() for v in ingrid)
    set_plugin_options(project, activity_retention_days=0)
    refused = activity(project, "--log", str(log), "--save")
    assert refused.returncode == 1
    assert "activity_retention_days: give a number of days from 1 to 3650" in refused.stderr


def test_activity_errors_are_sentences(project: Path, tmp_path: Path) -> None:
    missing = activity(project, "--log", str(tmp_path / "nope.log"))
    assert missing.returncode == 1 and "nope.log: cannot be read as an access log" in missing.stderr
    assert "Traceback" not in missing.stderr
    pattern = activity(project, "--log", str(tmp_path / "*.log"))
    assert pattern.returncode == 1 and "no file matches" in pattern.stderr
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(b"\x1f\x8b" + os.urandom(64))
    whole = gzip.compress(b"".join(b'1.2.3.4 - a [12/Nov/2026:09:14:03 +0000] "GET / HTTP/1.1" '
                                   b'200 5 "-" "UA %d"\n' % n for n in range(2000)))  # fmt: skip
    damaged_inside = tmp_path / "damaged.log.gz"
    damaged_inside.write_bytes(whole[:30] + bytes(b ^ 0x55 for b in whole[30:60]) + whole[60:])
    for path in (broken, damaged_inside):
        bad_gzip = activity(project, "--log", str(path))
        assert bad_gzip.returncode == 1 and "cannot be read as an access log" in bad_gzip.stderr
        assert "Traceback" not in bad_gzip.stderr
    saved = project / ".cache" / "dealroom" / "activity.json"
    saved.parent.mkdir(parents=True)
    saved.write_text("{not json")
    empty = tmp_path / "empty.log"
    empty.write_text("")
    damaged = activity(project, "--log", str(empty), "--save")
    assert damaged.returncode == 1 and "delete it and run `dealroom activity --save` again" in (
        damaged.stderr
    )
    assert "Traceback" not in damaged.stderr


# --- encrypted mode: which share link was opened -------------------------------------------


class StaticNginx:
    """A real nginx as a plain static host (no passwords) with nginx's combined log."""

    def __init__(self, root: Path, folder: Path) -> None:
        from dealroom.publish.nginx import worker_user

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / "access.log"
        user = worker_user()
        self.conf = folder / "nginx.conf"
        self.conf.write_text(f"""
            {f"user {user};" if user else ""}
            worker_processes 1; pid {folder}/nginx.pid; error_log {folder}/error.log;
            events {{ worker_connections 64; }}
            http {{
                types {{ text/html html; application/javascript js; application/json json;
                         text/css css; image/svg+xml svg; }}
                access_log {self.log} combined;
                client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy;
                fastcgi_temp_path {folder}/fastcgi; uwsgi_temp_path {folder}/uwsgi;
                scgi_temp_path {folder}/scgi;
                server {{ listen 127.0.0.1:{self.port}; root {root}; }}
            }}
        """)
        subprocess.run([NGINX, "-c", str(self.conf), "-e", f"{folder}/error.log"], check=True)

    def __enter__(self) -> StaticNginx:
        return self

    def __exit__(self, *exception: object) -> None:
        subprocess.run([NGINX, "-c", str(self.conf), "-e", f"{self.conf.parent}/error.log",
                        "-s", "stop"], check=False)  # fmt: skip


@nginx_needed
@browser_needed
def test_share_link_tokens_tell_which_share_link_was_opened(
    tmp_path: Path, served_dir: Path, browser
) -> None:
    project = write_project(tmp_path / "project", as_of=TODAY.isoformat(), share_link_tokens=True)
    write_deal(project / "deals", "fjordline", make_deal())
    fjord = Scope.of(project, project / "deals", "fjordline")
    password = {
        "ingrid": add_viewer(project, fjord, "ingrid", "Ingrid Solberg"),
        "per": add_viewer(project, fjord, "per", "Per Dahl"),
        "tom": add_viewer(project, Scope.of(project, project / "deals", None), "tom"),
    }
    publish(project / "mkdocs.yml", served_dir, mode="encrypted")
    viewers = {v.username: v for v in AccessList.load(fjord.access_file).viewers}
    assert all(
        re.fullmatch(r"[A-Za-z0-9_-]{22}", viewers[name].token) for name in ("ingrid", "per")
    )
    site = served_dir / "current" / "sites" / "fjordline"
    salt = unb64(AccessList.load(fjord.access_file).salt)
    own = {name: json.loads((site / "dealroom-keys" / f"{viewers[name].token}.json").read_text())
           for name in ("ingrid", "per")}  # fmt: skip
    assert sorted(path.name for path in (site / "dealroom-keys").iterdir()) == sorted(
        f"{viewers[name].token}.json" for name in ("ingrid", "per")
    )  # none for the team
    common = json.loads((site / "dealroom-keys.json").read_text())
    content_key = decrypt(
        derive_key(password["tom"], salt),
        next(slot for slot in common["slots"] if _opens(derive_key(password["tom"], salt), slot)),
    )
    for name, keys in own.items():
        [slot] = keys["slots"]  # the viewer's own slot, and nobody else's
        assert decrypt(derive_key(password[name], salt), slot) == content_key
        other = "per" if name == "ingrid" else "ingrid"
        assert not _opens(derive_key(password[other], salt), slot)
    with StaticNginx(served_dir / "current" / "sites", tmp_path / "static") as host:
        link = share(project, "--url", host.url, "--page", "business-case")
        assert link.endswith(f"&viewer={viewers['ingrid'].token}")
        page = browser.new_page()
        page.goto(link)
        page.wait_for_selector("h1:has-text('Business case: Fjordline Shipping')")
        assert "#key=" not in page.url
    logged = host.log.read_text()
    assert f'GET /fjordline/dealroom-keys/{viewers["ingrid"].token}.json HTTP/1.1" 200' in logged
    assert "dealroom-keys.json" not in logged  # the common file was not needed
    # A user name sent to a static host signs nobody in: only share links count there.
    forged = '127.0.0.1 - per [{}] "GET /fjordline/business-case/ HTTP/1.1" 200 9 "-" "x"\n'
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    with host.log.open("a") as log:
        log.write(forged.format(stamp))
    result = activity(project, "--mode", "encrypted", "--log", str(host.log), "--json")
    assert result.returncode == 0, result.stderr
    [deal] = json.loads(result.stdout)["deals"]
    [ingrid] = deal["viewers"]
    assert ingrid["username"] == "ingrid" and ingrid["pages"] == {"share link": 1}
    assert [p["username"] for p in deal["never_opened"]] == ["per"]
    assert deal["never_opened_business_case"] == []  # unknown, not "never"
    text = activity(project, "--mode", "encrypted", "--log", str(host.log)).stdout
    assert "Ingrid Solberg (Finance Director, champion): opened their share link 1 time" in text
    # Turned off: no viewer's keys file, links without a token, every slot made anew.
    set_plugin_options(project, share_link_tokens=False)
    again = publish(project / "mkdocs.yml", served_dir, mode="encrypted")
    assert again.carried == []
    assert not (served_dir / "current" / "sites" / "fjordline" / "dealroom-keys").exists()
    assert "&viewer=" not in share(project, "--url", "https://rooms.example/")


def share(project: Path, *args: str) -> str:
    command = ["dealroom", "share", "ingrid", "--deal", "fjordline", *args]
    done = subprocess.run(command, cwd=project, env=ENV, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout.strip()


def _opens(key: bytes, slot: dict) -> bool:
    try:
        decrypt(key, slot)
        return True
    except Exception:
        return False


def test_the_share_link_keys_folder_is_named_alike_everywhere() -> None:
    from dealroom.publish.encryption import VIEWER_KEYS
    from dealroom.seller import activity as engagement

    assert engagement.VIEWER_KEYS == VIEWER_KEYS
