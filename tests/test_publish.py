"""Publishing to a password-protected host, checked against a real nginx on 127.0.0.1."""

from __future__ import annotations

import base64
import http.client
import os
import re
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import Host, browser_needed, make_deal, nginx_needed, write_deal, write_project
from dealroom.publish import releases as publishing
from dealroom.publish.access import (
    AccessList,
    Credentials,
    Scope,
    add_viewer,
    revoke_viewer,
    rotate_password,
)
from dealroom.publish.nginx import write_nginx_config
from dealroom.publish.releases import PublishError, publish, rollback

pytestmark = nginx_needed


CANARY_FIGURE = 987654  # the deal value: never on a page a reader without access sees


def canary_deal(tag: str) -> dict:
    deal = make_deal(customer={"name": f"Customer{tag}"}, summary=f"Summary{tag}",
                     deal_value=CANARY_FIGURE)  # fmt: skip
    deal["internal"] = {"notes": f"Internal{tag}"}
    deal["stakeholders"][2]["email"] = "tom@ledgerly.example"  # the account executive
    return deal


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "project")
    for tag in ("one", "two"):
        write_deal(root / "deals", f"deal-{tag}", canary_deal(tag.upper()),
                   {"internal/notes.md": f"InternalFile{tag.upper()}"})  # fmt: skip
    gap = root / "deals" / "deal-two" / "deal.yml"  # a gap a seller's preview would mark
    gap.write_text(gap.read_text().replace("go_live: '2027-03-01'", "go_live: null"))
    drawing = '<svg xmlns="http://www.w3.org/2000/svg" width="9"><rect width="9"/></svg>'
    (root / "deals" / "deal-one" / "assets").mkdir()
    (root / "deals" / "deal-one" / "assets" / "diagram.svg").write_text(drawing)
    return root


@pytest.fixture
def passwords(project: Path) -> dict[str, str]:
    """viewer -> password: one viewer per deal, a forwardable one, and the team."""
    deals = project / "deals"
    one = Scope.of(project, deals, "deal-one")
    passwords = {
        "ana": add_viewer(project, one, "ana", "Ana One"),
        "fwd": add_viewer(project, one, "fwd", forwardable=True),
        "ben": add_viewer(project, Scope.of(project, deals, "deal-two"), "ben", "Ben Two"),
        "team": add_viewer(project, Scope.of(project, deals, None), "team"),
        "gone": add_viewer(project, one, "gone"),  # revoked before the first publish
    }
    revoke_viewer(project, one, "gone")
    return passwords


@pytest.fixture
def published(project: Path, passwords: dict[str, str], served_dir: Path) -> Iterator[tuple]:
    out = served_dir
    publish(project / "mkdocs.yml", out)
    host = Host(out)
    try:
        yield out, host, passwords
    finally:
        host.stop()


def deal_files(out: Path, slug: str) -> list[str]:
    """URL paths of every file of a published deal site (directories as their index)."""
    root = out / "current" / "sites" / slug
    paths = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            paths.append(f"/{slug}/" + relative.removesuffix("index.html"))
    return paths


def test_every_file_needs_that_deals_credentials(published) -> None:
    out, host, passwords = published
    own = {"deal-one": ["ana", "fwd", "team"], "deal-two": ["ben", "team"]}
    checked = 0
    for slug, allowed in own.items():
        files = deal_files(out, slug)
        assert len(files) > 20
        for path in files:
            assert host.get(path)[0] == 401, path
            for user in ("ana", "fwd", "ben", "team", "gone"):
                status = host.get(path, user, passwords[user])[0]
                assert status == (200 if user in allowed else 401), (path, user, status)
            assert host.get(path, allowed[0], passwords[allowed[0]] + "x")[0] == 401
            checked += 1
    assert checked > 40


def test_responses_carry_privacy_headers_and_no_listing(published) -> None:
    _out, host, passwords = published
    status, headers, _ = host.get("/deal-one/business-case/", "ana", passwords["ana"])
    assert status == 200
    assert headers["x-robots-tag"] == "noindex, nofollow"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "private, no-store"
    status, headers, _ = host.get("/deal-one/search/search_index.json", "ana", passwords["ana"])
    assert status == 200 and headers["cache-control"] == "private, no-cache"
    # What a deal publishes under assets/ opens in a sandbox, unless it is inert or loaded
    # by pages (the theme's scripts and styles).
    status, headers, _ = host.get("/deal-one/assets/diagram.svg", "ana", passwords["ana"])
    assert status == 200 and "sandbox" in headers["content-security-policy"]
    script = next(p for p in deal_files(_out, "deal-one") if p.endswith(".min.js"))
    status, headers, _ = host.get(script, "ana", passwords["ana"])
    assert status == 200 and "sandbox" not in headers["content-security-policy"]
    assert headers["x-robots-tag"] == "noindex, nofollow"
    # Directory listing is off: a folder without index.html is not listed.
    status, _, body = host.get("/deal-one/assets/", "ana", passwords["ana"])
    assert status == 403 and b"stylesheets" not in body


def test_unknown_deals_look_like_known_ones(published) -> None:
    _out, host, passwords = published
    assert host.get("/no-such-customer/")[0] == 401
    assert host.get("/no-such-customer/", "team", passwords["team"])[0] == 401
    assert host.get("/")[0] == 404


def test_nothing_outside_the_sites_is_reachable(published) -> None:
    out, host, passwords = published
    secrets = [(out / "current" / "htpasswd" / "deal-one.htpasswd").read_bytes()[:20],
               b"auth_basic", b"Internal"]  # fmt: skip
    probes = (
        "/current/htpasswd/deal-one.htpasswd",
        "/htpasswd/deal-one.htpasswd",
        "/deal-one/../htpasswd/deal-one.htpasswd",
        "/../nginx/server.conf",
        "/deal-one/%2e%2e/%2e%2e/nginx/server.conf",
        "/nginx/server.conf",
        "/deal-one/../../releases/",
        "/deal-one/..%2f..%2fhtpasswd/deal-one.htpasswd",
    )
    for path in probes:  # fmt: skip
        for user in (None, "ana", "team"):
            status, _, body = host.get(path, user, passwords.get(user or "", ""))
            assert status != 200 or not any(secret in body for secret in secrets), path
            assert status in (400, 401, 403, 404), (path, user, status)


def test_access_log_records_the_viewer(published) -> None:
    out, host, passwords = published
    assert host.get("/deal-two/", "ben", passwords["ben"])[0] == 200
    host.stop()  # flushes the log
    log = (out / "test-host" / "state" / "access.log").read_text()
    assert "127.0.0.1 - ben [" in log and '"GET /deal-two/ HTTP/1.1" 200' in log


def test_htpasswd_files_verify_with_apache_htpasswd(published) -> None:
    out, _host, passwords = published
    folder = out / "current" / "htpasswd"
    for slug, user in (("deal-one", "ana"), ("deal-one", "team"), ("deal-two", "ben")):
        ok = subprocess.run(["htpasswd", "-vb", str(folder / f"{slug}.htpasswd"), user,
                             passwords[user]], capture_output=True)  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        bad = subprocess.run(["htpasswd", "-vb", str(folder / f"{slug}.htpasswd"), user, "nope"],
                             capture_output=True)  # fmt: skip
        assert bad.returncode != 0


def test_revoked_and_rotated_passwords_stop_working(published, project: Path) -> None:
    out, host, passwords = published
    scope = Scope.of(project, project / "deals", "deal-one")
    revoke_viewer(project, scope, "ana")
    new_fwd = rotate_password(project, scope, "fwd")
    publish(project / "mkdocs.yml", out)  # live without restarting nginx
    assert host.get("/deal-one/", "ana", passwords["ana"])[0] == 401
    assert host.get("/deal-one/", "fwd", passwords["fwd"])[0] == 401
    assert host.get("/deal-one/", "fwd", new_fwd)[0] == 200


def test_passwords_live_only_in_the_private_credentials_file(published, project: Path) -> None:
    out, _host, passwords = published
    credentials = Credentials(project)
    assert stat.S_IMODE(credentials.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(credentials.folder.stat().st_mode) == 0o700
    assert (credentials.folder / ".gitignore").read_text() == "*\n"
    assert credentials.load()["deal-one"]["ana"] == passwords["ana"]
    committed = [project / "deals/deal-one/access.yml", project / "team-access.yml"]
    published_files = [p for p in out.rglob("*") if p.is_file()]
    for path in committed + published_files:
        data = path.read_bytes()
        for password in passwords.values():
            assert password.encode() not in data, path


def test_seller_only_material_is_never_published(published) -> None:
    out, _host, _passwords = published
    assert not (out / "current" / "sites" / "index.html").exists()  # the seller's index
    assert not (out / "current" / "sites" / "search").exists()
    pages = 0
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (b"InternalONE", b"InternalFileONE", b"InternalTWO"):
                assert secret not in data, path
            if path.suffix == ".html":
                assert b"MISSING:" not in data, path  # published pages are clean
                pages += 1
    assert pages >= 10


def test_the_gap_that_published_pages_hide_shows_in_a_preview(project: Path) -> None:
    from conftest import run_build

    site = run_build(project, command="serve")
    assert b"MISSING:" in (site / "deal-two" / "index.html").read_bytes()


def test_an_invalid_deal_keeps_its_published_version(published, project: Path) -> None:
    out, host, passwords = published
    deal_yml = project / "deals" / "deal-two" / "deal.yml"
    deal_yml.write_text(deal_yml.read_text().replace("stage: 3", "stage: 9"))
    one = project / "deals" / "deal-one" / "deal.yml"
    one.write_text(one.read_text().replace("SummaryONE", "SummaryONEv2"))
    result = publish(project / "mkdocs.yml", out)
    assert result.published == ["deal-one"] and result.kept == ["deal-two"]
    assert b"SummaryONEv2" in host.get("/deal-one/", "ana", passwords["ana"])[2]
    status, _, body = host.get("/deal-two/", "ben", passwords["ben"])
    assert status == 200 and b"SummaryTWO" in body


def test_nginx_mode_publishes_todays_build_of_every_deal_without_fingerprints(
    published, project: Path
) -> None:
    from dealroom.publish.grants import RELEASE_FILE, ReleaseRecord

    out, host, passwords = published  # carrying is for encrypted mode's key slots
    one = project / "deals" / "deal-one" / "deal.yml"
    one.write_text(one.read_text().replace("SummaryONE", "SummaryONEv2"))
    result = publish(project / "mkdocs.yml", out)
    assert result.published == ["deal-one", "deal-two"] and result.carried == []
    assert (out / "current" / RELEASE_FILE).is_file()
    record = ReleaseRecord.read(out / "current")
    assert record.mode == "nginx" and set(record.deals) == {"deal-one", "deal-two"}
    assert all("fingerprints" not in entry for entry in record.deals.values())
    assert b"SummaryONEv2" in host.get("/deal-one/", "ana", passwords["ana"])[2]
    assert b"SummaryTWO" in host.get("/deal-two/", "ben", passwords["ben"])[2]


def test_a_failed_publish_leaves_the_live_release_and_rollback_restores(
    published, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, host, passwords = published
    first = os.readlink(out / "current")
    one = project / "deals" / "deal-one" / "deal.yml"
    one.write_text(one.read_text().replace("SummaryONE", "SummaryVersionTwo"))

    real_write = publishing.write_htpasswd
    calls = []

    def fail_on_second_deal(*args, **kwargs):  # a disk-full in the middle of assembly
        calls.append(args)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(publishing, "write_htpasswd", fail_on_second_deal)
    with pytest.raises(OSError):
        publish(project / "mkdocs.yml", out)
    assert os.readlink(out / "current") == first
    assert not list((out / "releases").glob(".staging-*"))
    assert b"SummaryONE" in host.get("/deal-one/", "ana", passwords["ana"])[2]

    monkeypatch.setattr(publishing, "write_htpasswd", real_write)
    publish(project / "mkdocs.yml", out)
    assert b"SummaryVersionTwo" in host.get("/deal-one/", "ana", passwords["ana"])[2]
    assert rollback(out).release.name == Path(first).name
    body = host.get("/deal-one/", "ana", passwords["ana"])[2]
    assert b"SummaryONE" in body and b"SummaryVersionTwo" not in body


def test_rollback_without_an_earlier_release_says_so(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="no earlier release"):
        (tmp_path / "out" / "releases").mkdir(parents=True)
        rollback(tmp_path / "out")


def test_access_files_hold_hashes_and_reject_bad_input(project: Path) -> None:
    scope = Scope.of(project, project / "deals", "deal-one")
    password = add_viewer(project, scope, "maria.chen", "Maria Chen")
    assert len(password.split("-")) == 5
    viewer = AccessList.load(scope.access_file).find("maria.chen")
    assert viewer is not None and viewer.hash.startswith("$2y$05$")
    from dealroom.publish.access import AccessError

    with pytest.raises(AccessError, match="already has access"):
        add_viewer(project, scope, "maria.chen")
    with pytest.raises(AccessError, match="not allowed"):
        add_viewer(project, scope, "Maria Chen")
    with pytest.raises(AccessError, match="no deal 'nope'"):
        Scope.of(project, project / "deals", "nope")
    add_viewer(project, scope, "fwd", forwardable=True)
    with pytest.raises(AccessError, match="already has a forwardable"):
        add_viewer(project, scope, "fwd2", forwardable=True)


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_cli_shows_a_password_once_and_publish_never_prints_it(project: Path, tmp_path: Path):
    added = run_cli(["dealroom", "access", "add", "--deal", "deal-one", "maria.chen",
                     "--name", "Maria Chen"], project)  # fmt: skip
    assert added.returncode == 0, added.stderr
    password = Credentials(project).load()["deal-one"]["maria.chen"]
    assert added.stdout.count(password) == 1
    listed = run_cli(["dealroom", "access", "list", "--deal", "deal-one"], project)
    assert "maria.chen\tMaria Chen" in listed.stdout and password not in listed.stdout
    published = run_cli(["dealroom", "publish", "--out", str(tmp_path / "out")], project)
    assert published.returncode == 0, published.stderr
    assert "Published 2 deal(s)" in published.stdout
    assert password not in published.stdout + published.stderr
    both = run_cli(["dealroom", "access", "add", "x.y"], project)
    assert both.returncode != 0 and "exactly one of --deal SLUG or --team" in both.stderr


def test_host_command_serves_the_publish_directory(project: Path, served_dir: Path) -> None:
    scope = Scope.of(project, project / "deals", "deal-one")
    password = add_viewer(project, scope, "ana")
    out = served_dir
    publish(project / "mkdocs.yml", out)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["dealroom", "host", "--out", str(out), "--port", str(port)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout is not None
        assert "Serving" in server.stdout.readline()
        # nginx is exec'd after that line: wait for it to accept connections (bounded).
        connection = None
        for _attempt in range(10_000):
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except ConnectionRefusedError:
                continue
        assert connection is not None, "nginx never listened"
        connection.close()
        token = base64.b64encode(f"ana:{password}".encode()).decode()
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        client.request("GET", "/deal-one/", headers={"Authorization": f"Basic {token}"})
        response = client.getresponse()
        assert response.status == 200 and b"SummaryONE" in response.read()
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- revocation always wins ----------------------------------------------------------------


def break_deal(project: Path, slug: str) -> None:
    deal_yml = project / "deals" / slug / "deal.yml"
    deal_yml.write_text(deal_yml.read_text().replace("stage: 3", "stage: 9"))


def test_a_deal_that_fails_to_build_keeps_its_pages_only_under_the_new_access_list(
    published, project: Path
) -> None:
    out, host, passwords = published
    scope = Scope.of(project, project / "deals", "deal-one")
    revoke_viewer(project, scope, "ana")
    new_fwd = rotate_password(project, scope, "fwd")
    break_deal(project, "deal-one")
    result = publish(project / "mkdocs.yml", out)
    assert result.kept == ["deal-one"] and result.published == ["deal-two"]
    assert "stage" in result.reasons["deal-one"]
    files = deal_files(out, "deal-one")
    for path in files:  # the old pages, every one of them closed to the revoked passwords
        assert host.get(path, "ana", passwords["ana"])[0] == 401, path
        assert host.get(path, "fwd", passwords["fwd"])[0] == 401, path
        assert host.get(path, "fwd", new_fwd)[0] == 200, path
    status, _, body = host.get("/deal-one/", "team", passwords["team"])
    assert status == 200 and b"SummaryONE" in body


def test_rollback_never_restores_access_revoked_since(published, project: Path) -> None:
    out, host, passwords = published
    first = os.readlink(out / "current")
    revoke_viewer(project, Scope.of(project, project / "deals", "deal-one"), "ana")
    one = project / "deals" / "deal-one" / "deal.yml"
    one.write_text(one.read_text().replace("SummaryONE", "SummaryONEv2"))
    publish(project / "mkdocs.yml", out)
    assert host.get("/deal-one/", "ana", passwords["ana"])[0] == 401
    result = rollback(out)
    assert result.release.name == Path(first).name and result.withdrawn == {}
    for path in deal_files(out, "deal-one"):
        assert host.get(path, "ana", passwords["ana"])[0] == 401, path
    status, _, body = host.get("/deal-one/", "fwd", passwords["fwd"])
    assert status == 200 and b"SummaryONE" in body and b"SummaryONEv2" not in body
    assert host.get("/deal-two/", "ben", passwords["ben"])[0] == 200


@pytest.mark.parametrize(
    "broken",
    [
        "viewers: [unclosed\n",
        "viewers:\n  - username: 'evil:x'\n    hash: $2y$05$" + "a" * 53 + "\n",
        'viewers:\n  - username: mallory\n    hash: "$2y$05$' + "a" * 53 + '\\nben:x"\n',
        "viewers: &v [] \nother: *v\n",
    ],
    ids=["yaml", "colon-in-username", "line-break-in-hash", "alias"],
)
def test_a_broken_access_file_takes_only_its_own_deal_offline(
    published, project: Path, broken: str
) -> None:
    out, host, passwords = published
    (project / "deals" / "deal-two" / "access.yml").write_text(broken, encoding="utf-8")
    result = publish(project / "mkdocs.yml", out)
    assert result.published == ["deal-one"] and result.withdrawn == ["deal-two"]
    assert "deals/deal-two/access.yml" in result.reasons["deal-two"]
    for user in ("ben", "team"):
        assert host.get("/deal-two/", user, passwords[user])[0] == 401
    assert host.get("/deal-one/", "ana", passwords["ana"])[0] == 200
    htpasswd = (out / "current" / "htpasswd").iterdir()
    assert all(b"mallory" not in path.read_bytes() for path in htpasswd)


def test_a_broken_team_access_file_publishes_nothing(published, project: Path) -> None:
    out, host, passwords = published
    live = os.readlink(out / "current")
    (project / "team-access.yml").write_text("viewers: {oops\n", encoding="utf-8")
    with pytest.raises(PublishError, match=r"team-access\.yml"):
        publish(project / "mkdocs.yml", out)
    assert os.readlink(out / "current") == live
    assert host.get("/deal-one/", "ana", passwords["ana"])[0] == 200


def test_the_cli_says_which_deals_stay_online_and_which_are_withdrawn(
    project: Path, passwords: dict[str, str], served_dir: Path
) -> None:
    assert run_cli(["dealroom", "publish", "--out", str(served_dir)], project).returncode == 0
    break_deal(project, "deal-one")
    (project / "deals" / "deal-two" / "access.yml").write_text("viewers: [x\n")
    result = run_cli(["dealroom", "publish", "--out", str(served_dir)], project)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "deal-one: not published (deals/deal-one/deal.yml:" in result.stderr
    assert "stays online under the current access list" in result.stderr
    assert "deal-two: WITHDRAWN" in result.stderr and "access.yml" in result.stderr


def test_nginx_workers_never_run_as_root(tmp_path: Path) -> None:
    conf = write_nginx_config(tmp_path / "out", "127.0.0.1:8080", tmp_path / "host")
    text = conf.read_text()
    assert "user root" not in text
    if os.geteuid() == 0:
        assert re.search(r"^user (www-data|nginx|nobody);$", text, re.M)


def test_paths_that_could_end_an_nginx_directive_are_refused(tmp_path: Path) -> None:
    from dealroom.publish.nginx import NginxError

    with pytest.raises(NginxError, match="nginx paths"):
        write_nginx_config(tmp_path / "out; evil", "127.0.0.1:8080")
    with pytest.raises(NginxError, match="--listen"):
        write_nginx_config(tmp_path / "out", "8080; evil")


def test_with_a_domain_each_deal_is_an_origin_of_its_own(
    project: Path, passwords: dict[str, str], served_dir: Path
) -> None:
    publish(project / "mkdocs.yml", served_dir, domain="rooms.test")
    host = Host(served_dir, domain="rooms.test")
    try:
        one, two = "deal-one.rooms.test", "deal-two.rooms.test"
        status, headers, body = host.get("/", "ana", passwords["ana"], host=one)
        assert status == 200 and b"SummaryONE" in body
        assert headers["cache-control"] == "private, no-store"
        assert 'href="business-case/"' in body.decode()  # relative links work at the root
        for path in deal_files(served_dir, "deal-one"):
            at_root = path.removeprefix("/deal-one")
            assert host.get(at_root, "ana", passwords["ana"], host=one)[0] == 200, at_root
            assert host.get(at_root, "ana", passwords["ana"], host=two)[0] in (401, 404)
            assert host.get(at_root, host=one)[0] == 401
        assert host.get("/", "ben", passwords["ben"], host=one)[0] == 401
        assert host.get("/", "ben", passwords["ben"], host=two)[0] == 200
        assert host.get("/", "team", passwords["team"], host="nobody.rooms.test")[0] == 401
        assert host.get("/deal-one/", "team", passwords["team"])[0] == 404  # no shared origin
        svg = host.get("/assets/diagram.svg", "ana", passwords["ana"], host=one)[1]
        assert "sandbox" in svg["content-security-policy"]
    finally:
        host.stop()


def test_a_revoked_password_stops_working_even_if_the_publish_then_fails(
    published, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, host, passwords = published
    revoke_viewer(project, Scope.of(project, project / "deals", "deal-one"), "ana")

    def crash(*args, **kwargs):  # anything at all going wrong once the publish has begun
        raise RuntimeError("the build machine ran out of disk")

    monkeypatch.setattr(publishing, "build_project", crash)
    live = os.readlink(out / "current")
    with pytest.raises(RuntimeError):
        publish(project / "mkdocs.yml", out)
    assert os.readlink(out / "current") == live  # the same pages...
    for path in deal_files(out, "deal-one"):  # ...under today's access list
        assert host.get(path, "ana", passwords["ana"])[0] == 401, path
    assert host.get("/deal-one/", "fwd", passwords["fwd"])[0] == 200


# --- what a reader without access sees ------------------------------------------------------


TITLE = "Private deal room \u2013 Ledgerly"  # an en dash, as the page writes it


def unauthorized(
    host: Host, path: str, user: str | None = None, password: str = "", host_name: str = ""
) -> str:
    """The page nginx answers `path` with for a reader without (valid) credentials,
    checked to be a 401 that still makes browsers ask for the password."""
    status, headers, body = host.get(path, user, password, host=host_name)
    assert status == 401, (path, status)
    assert headers["www-authenticate"] == 'Basic realm="Deal room"', path
    assert headers["content-type"] == "text/html; charset=utf-8", path
    assert headers["cache-control"] == "private, no-store", path
    assert headers["x-frame-options"] == "DENY" and headers["x-robots-tag"] == "noindex, nofollow"
    assert "default-src 'none'" in headers["content-security-policy"]  # nothing loads or runs
    return body.decode()


def names_nothing_of_the_deal(page: str, tag: str) -> bool:
    figures = (str(CANARY_FIGURE), f"{CANARY_FIGURE:,}", "987.654", "987\u00a0654", "987 654")
    return not any(text in page for text in (f"Customer{tag}", f"Summary{tag}", *figures))


def test_a_reader_without_access_gets_the_deals_own_401_page(published) -> None:
    out, host, passwords = published
    script = next(p for p in deal_files(out, "deal-one") if p.endswith(".min.js"))
    pages = [
        unauthorized(host, "/deal-one/"),
        unauthorized(host, "/deal-one/business-case/"),
        unauthorized(host, "/deal-one/assets/diagram.svg"),
        unauthorized(host, script),
        unauthorized(host, "/deal-one/", "ana", passwords["ana"] + "x"),  # a wrong password
        unauthorized(host, "/deal-one/", "ben", passwords["ben"]),  # another deal's viewer
    ]
    page = pages[0]
    assert all(other == page for other in pages)
    assert '<html lang="en">' in page
    assert f"<title>{TITLE}</title>" in page
    assert '<main aria-labelledby="dealroom-title">' in page and "<h1" in page
    assert "private deal room from <strong>Ledgerly</strong>" in page
    assert "Ask the person who shared this link with you." in page
    assert not any(load in page for load in ("<script", "src=", "url(", "://"))  # self-contained
    assert names_nothing_of_the_deal(page, "ONE") and names_nothing_of_the_deal(page, "TWO")
    assert "Tom Ashby" not in page and "mailto:" not in page  # the option is off
    # An address that names no deal gets the very same page, with the same headers:
    # probing tells nothing.
    assert unauthorized(host, "/no-such-customer/") == page
    assert unauthorized(host, "/deal-two/") == page  # both deals name the same seller
    unknown = out / "current" / "unauthorized" / ".unknown.html"
    os.utime(unknown, (unknown.stat().st_mtime + 5,) * 2)  # as if written later
    answers = [host.get(path)[1] for path in ("/deal-one/", "/deal-two/", "/no-such/")]
    for headers in answers:
        headers.pop("date")
        assert "etag" not in headers
    assert answers[0] == answers[1] == answers[2]
    # The password still works, and is still needed for every file of the deal.
    status, _, body = host.get("/deal-one/", "ana", passwords["ana"])
    assert status == 200 and b"SummaryONE" in body and b"Private deal room" not in body


def test_the_401_page_reads_nothing_else_and_cannot_be_fetched_itself(published) -> None:
    out, host, passwords = published
    htpasswd = (out / "current" / "htpasswd" / "deal-one.htpasswd").read_bytes()[:20]
    for path in ("/.dealroom-401/deal-one.html", "/.dealroom-401/.unknown.html", "/.dealroom-401/"):
        for user in (None, "ana"):  # only nginx's error_page reaches it: 404 from outside
            status, _, body = host.get(path, user, passwords.get(user or "", ""))
            assert status == 404 and b"Private deal room" not in body, (path, user, status)
    probes = (  # what nginx makes of these lands in a deal's location, or nowhere
        "/.dealroom-401/../htpasswd/deal-one.htpasswd",
        "/.dealroom-401/%2e%2e/htpasswd/deal-one.htpasswd",
        "/.dealroom-401/..%2fhtpasswd%2fdeal-one.htpasswd",
        "/.dealroom-401/../sites/deal-one/index.html",
        "/.dealroom-401/../../current/sites/deal-one/index.html",
        "/.dealroom-401/deal-one/../../sites/deal-one/",
    )
    for path in probes:
        for user in (None, "ana"):
            status, _, body = host.get(path, user, passwords.get(user or "", ""))
            assert status in (400, 401, 404), (path, user, status)
            assert htpasswd not in body and b"SummaryONE" not in body, path
    # Inside a deal's address it is just a file the deal does not have, behind its password.
    assert unauthorized(host, "/deal-one/.dealroom-401/deal-one.html")
    status, _, body = host.get("/deal-one/.dealroom-401/deal-one.html", "ana", passwords["ana"])
    assert status == 404 and b"Private deal room" not in body


def test_a_release_without_401_pages_still_answers_401_with_the_prompt(published) -> None:
    out, host, _passwords = published
    shutil.rmtree(out / "current" / "unauthorized")  # as a release from before they existed
    status, headers, body = host.get("/deal-one/")
    assert status == 401 and headers["www-authenticate"] == 'Basic realm="Deal room"'
    assert b"SummaryONE" not in body


def test_the_401_page_names_the_seller_contact_only_with_the_option(
    published, project: Path
) -> None:
    out, host, passwords = published
    write_project(project, access_page_contact=True)  # mkdocs.yml only; the deals stay
    one = yaml.safe_load((project / "deals/deal-one/deal.yml").read_text())
    one["seller"] = {"name": 'Ledgerly <b>"Labs"</b> & Co'}  # escaped, never markup
    one["stakeholders"].append({"name": "Sara Lind", "title": "Head of Sales", "side": "seller",
                                "role": "solution engineer", "email": "sara@ledgerly.example",
                                "contact": True})  # fmt: skip
    (project / "deals/deal-one/deal.yml").write_text(yaml.safe_dump(one, sort_keys=False))
    two = yaml.safe_load((project / "deals/deal-two/deal.yml").read_text())
    two["stakeholders"][2]["title"] = "Account lead, customertwo team"  # names the customer
    two["stakeholders"][2]["email"] = "tom@ledgerly.example?subject=<x>"  # not an address
    (project / "deals/deal-two/deal.yml").write_text(yaml.safe_dump(two, sort_keys=False))
    assert publish(project / "mkdocs.yml", out).published == ["deal-one", "deal-two"]

    page = unauthorized(host, "/deal-one/business-case/")
    assert f"<title>{TITLE} &lt;b&gt;&#34;Labs&#34;&lt;/b&gt; &amp; Co</title>" in page
    assert "<b>" not in page
    assert "Sara Lind, Head of Sales" in page  # `contact: true` wins over the AE
    assert '<a href="mailto:sara@ledgerly.example">sara@ledgerly.example</a>' in page
    assert "Tom Ashby" not in page and names_nothing_of_the_deal(page, "ONE")
    page = unauthorized(host, "/deal-two/")
    assert "Tom Ashby" in page and "Account lead" not in page  # the title named the customer
    assert "mailto:" not in page and "subject=&lt;x&gt;" in page  # shown, not linked
    assert names_nothing_of_the_deal(page, "TWO")
    unknown = unauthorized(host, "/no-such-customer/")
    assert "Tom Ashby" not in unknown and "Sara Lind" not in unknown
    assert "<title>Private deal room</title>" in unknown  # the deals name different sellers

    # A deal that fails to build keeps its page; a withdrawn one loses it.
    break_deal(project, "deal-one")
    (project / "deals" / "deal-two" / "access.yml").write_text("viewers: [x\n")
    result = publish(project / "mkdocs.yml", out)
    assert result.kept == ["deal-one"] and result.withdrawn == ["deal-two"]
    assert "Sara Lind" in unauthorized(host, "/deal-one/")
    assert "Tom Ashby" not in unauthorized(host, "/deal-two/")
    assert host.get("/deal-one/", "ana", passwords["ana"])[0] == 200
    # With the option turned off again, the kept deal's page names nobody any more.
    write_project(project, access_page_contact=False)
    assert publish(project / "mkdocs.yml", out).kept == ["deal-one"]
    page = unauthorized(host, "/deal-one/")
    assert "Sara Lind" not in page and page == unauthorized(host, "/no-such-customer/")


def test_401_pages_are_alike_when_deals_name_different_sellers(tmp_path: Path) -> None:
    """Two sellers on one host: a page naming each deal's seller would tell which deal
    rooms exist (the page of an address that names no deal cannot name one), so with
    `access_page_contact` off every page names no seller, and all are the same bytes."""
    project = write_project(tmp_path / "project")
    write_deal(project / "deals", "one", make_deal())
    write_deal(project / "deals", "two", make_deal(seller={"name": "Tallbridge"}))
    for slug in ("one", "two"):
        add_viewer(project, Scope.of(project, project / "deals", slug), f"{slug}-viewer")
    publish(project / "mkdocs.yml", tmp_path / "out")
    pages = tmp_path / "out" / "current" / "unauthorized"
    [page] = {(pages / name).read_bytes() for name in ("one.html", "two.html", ".unknown.html")}
    assert b"Ledgerly" not in page and b"Tallbridge" not in page
    assert b"This is a private deal room." in page


def test_the_401_page_in_domain_mode(project: Path, passwords: dict, served_dir: Path) -> None:
    publish(project / "mkdocs.yml", served_dir, domain="rooms.test")
    host = Host(served_dir, domain="rooms.test")
    try:
        page = unauthorized(host, "/business-case/", host_name="deal-one.rooms.test")
        assert "Ledgerly" in page and names_nothing_of_the_deal(page, "ONE")
        assert unauthorized(host, "/", host_name="nobody.rooms.test") == page
        status, _, body = host.get("/.dealroom-401/deal-one.html", host="deal-one.rooms.test")
        assert status == 404 and b"Private deal room" not in body
        status, _, body = host.get("/", "ana", passwords["ana"], host="deal-one.rooms.test")
        assert status == 200 and b"SummaryONE" in body
    finally:
        host.stop()


@browser_needed
@pytest.mark.parametrize("width", [320, 390])
def test_the_401_page_fits_a_phone_and_reads_well(published, browser, width: int) -> None:
    _out, host, passwords = published
    # A forwarded reader's guess, refused: like cancelling the prompt, the browser then
    # shows the page that came with the 401.
    guess = {"username": "guess", "password": "x"}
    context = browser.new_context(viewport={"width": width, "height": 640}, http_credentials=guess)
    page = context.new_page()
    response = page.goto(f"{host.url}/deal-one/mutual-action-plan/")
    assert response is not None and response.status == 401
    assert page.title() == TITLE
    assert page.get_attribute("html", "lang") == "en"
    main = page.get_by_role("main")
    assert main.get_by_role("heading", level=1).inner_text() == "Private deal room"
    assert "Ask the person who shared this link with you." in main.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    for element in page.query_selector_all("main, main *"):
        box = element.bounding_box()
        if box is not None:
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, element.inner_html()
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 16
    # With the password the browser gets in, at any page.
    signed_in = browser.new_context(http_credentials={"username": "ana",
                                                      "password": passwords["ana"]})  # fmt: skip
    response = signed_in.new_page().goto(f"{host.url}/deal-one/mutual-action-plan/")
    assert response is not None and response.status == 200
    context.close()
    signed_in.close()


def test_share_links_to_a_page_of_an_nginx_deal_room(published, project: Path) -> None:
    _out, host, passwords = published
    result = run_cli(["dealroom", "share", "ana", "--deal", "deal-one", "--url", host.url + "/",
                      "--mode", "nginx", "--page", "business-case"], project)  # fmt: skip
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip()
    assert link == f"{host.url}/deal-one/business-case/"
    assert passwords["ana"] not in result.stdout + result.stderr
    path = link.removeprefix(host.url)
    status, _, body = host.get(path, "ana", passwords["ana"])
    assert status == 200 and b"<h1" in body and b"Business case" in body
    assert "Ledgerly" in unauthorized(host, path)
    nobody = run_cli(["dealroom", "share", "nobody", "--deal", "deal-one", "--url", host.url,
                      "--mode", "nginx"], project)  # fmt: skip
    assert nobody.returncode == 1 and "'nobody' has no access to deal-one" in nobody.stderr


@pytest.mark.parametrize("title", [
    "Account lead, Fjordline", "Fjordline-Shipping lead", "FJORDLINE team",
    "Lead for fjordline.example", "kim.fjordline_team",
])  # fmt: skip
def test_public_pages_leave_out_a_value_that_names_the_customer_even_in_short(title) -> None:
    from dealroom.deal.model import Deal
    from dealroom.publish.access_pages import Branding

    deal = make_deal(
        customer={"name": "Fjordline Shipping Group", "domains": ["fjordline.example"]}
    )
    deal["stakeholders"][2]["title"] = title
    deal["stakeholders"][2]["email"] = f"{title.split()[-1].lower()}@ledgerly.example"
    branding = Branding.of("fjordline", Deal.model_validate(deal), with_contact=True)
    assert branding.contact is not None and branding.contact.name == "Tom Ashby"
    assert branding.contact.title == ""
    assert "fjordline" not in branding.contact.email.casefold()
    kept = make_deal(customer={"name": "Fjordline Shipping Group"})
    kept["stakeholders"][2]["title"] = "Account Executive, Group accounts"  # "Group" is generic
    kept_branding = Branding.of("fjordline", Deal.model_validate(kept), with_contact=True)
    assert kept_branding.contact.title == "Account Executive, Group accounts"
