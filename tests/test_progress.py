"""Progress over many deals: a bar on a terminal (a real pseudo-terminal), INFO lines each
tenth of the way in a log, nothing with -q; from `mkdocs build` and `dealroom publish`."""

from __future__ import annotations

import logging
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_deal, write_deal, write_project
from dealroom.build.progress import SHOWN_FROM, progress
from dealroom.publish.access import Scope, add_viewer

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "COLUMNS": "120", "TERM": "xterm"}
ENV.pop("DEALROOM_SHARD", None)
DEALS = 12
BROKEN_LINK = "deal-07"  # its approach links to a page that does not exist: one warning
LINE = re.compile(r"INFO +- +dealroom: (\w[\w ]*): (\d+) of (\d+) done, (\d+) left \(last: (\S+)\)")


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("many") / "project", cache_dir="")
    for number in range(1, DEALS + 1):
        slug = f"deal-{number:02d}"
        approach = "# Approach\n\nSee [the plan](nowhere.md).\n" if slug == BROKEN_LINK else ""
        write_deal(root / "deals", slug, make_deal(), {"approach.md": approach or "# Approach\n"})
    return root


def mkdocs(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mkdocs", "build", *args]
    return subprocess.run(command, cwd=root, env=ENV, capture_output=True, text=True, timeout=300)


def on_terminal(root: Path, *args: str) -> str:
    """What `args` print on a real pseudo-terminal (stdout and stderr both on it)."""
    main, secondary = pty.openpty()
    with subprocess.Popen(args, cwd=root, env=ENV, stdin=subprocess.DEVNULL,
                          stdout=secondary, stderr=secondary) as process:  # fmt: skip
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=300) == 0, b"".join(chunks).decode(errors="replace")
    os.close(main)
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_a_log_gets_a_line_each_tenth_of_the_way(many: Path) -> None:
    result = mkdocs(many)
    assert result.returncode == 0, result.stderr
    lines = [match.groups() for match in LINE.finditer(result.stderr)]
    building = [line for line in lines if line[0] == "building deal sites"]
    loading = [line for line in lines if line[0] == "loading deals"]
    # In deal order, each tenth once, never the last (the summary says how it ended).
    done = [int(count) for _, count, *_ in building]
    assert done == [2, 3, 4, 5, 6, 8, 9, 10, 11]  # of 12: where the tenth goes up
    for _task, count, total, left, last in building:
        assert (int(total), int(left)) == (DEALS, DEALS - int(count))
        assert last == f"deal-{int(count):02d}"
    assert [int(count) for _, count, *_ in loading] == done  # loading, the same way
    # After the deal's own warning, never inside it; then the summary.
    stderr = result.stderr
    warning = stderr.index("nowhere.md")
    assert stderr.index("sites: 6 of 12") < warning < stderr.index("sites: 8 of 12")
    assert stderr.index("sites: 11 of 12") < stderr.index("dealroom: built 12 deal site(s)")
    # MkDocs' own two lines per deal site are left to -v: progress tells it now.
    assert f"Building documentation to directory: {many / 'site' / 'deal-01'}" not in stderr
    verbose = mkdocs(many, "-v")
    assert f"Building documentation to directory: {many / 'site' / 'deal-01'}" in verbose.stderr
    # The same run twice, the same lines: logs stay comparable.
    assert LINE.findall(mkdocs(many).stderr) == LINE.findall(result.stderr)


def test_quiet_shows_no_progress(many: Path) -> None:
    result = mkdocs(many, "-q")
    assert result.returncode == 0, result.stderr
    assert "dealroom:" not in result.stderr and "INFO" not in result.stderr
    shown = on_terminal(many, sys.executable, "-m", "mkdocs", "build", "-q")
    assert "dealroom" not in shown and "━" not in shown


def test_a_terminal_gets_a_bar_and_log_lines_above_it(many: Path) -> None:
    shown = on_terminal(many, sys.executable, "-m", "mkdocs", "build")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)  # the bar's colours and moves
    assert "dealroom: building deal sites" in plain and "━" in plain
    assert f"{DEALS}/{DEALS}" in plain and "deal-12" in plain
    assert not LINE.search(plain)  # the bar, not the lines of a log
    # The deal's warning is printed whole on a line of its own, above the bar.
    warning = next(line for line in plain.splitlines() if "nowhere.md" in line)
    assert warning.lstrip("\r").startswith("WARNING") and "━" not in warning
    # The bar is gone at the end: the summary is the last thing on the screen.
    last_lines = [line for line in plain.replace("\r", "\n").splitlines() if line.strip()]
    assert "Documentation built in" in last_lines[-1]
    assert "dealroom: built 12 deal site(s)" in last_lines[-2]


def test_publish_tells_its_progress_and_quiet_silences_it(many: Path, tmp_path: Path) -> None:
    deals = many / "deals"
    for number in range(1, DEALS + 1):
        slug = f"deal-{number:02d}"
        add_viewer(many, Scope.of(many, deals, slug), f"viewer-{number}")
    add_viewer(many, Scope.of(many, deals, None), "team")
    command = ["dealroom", "publish", "--mode", "encrypted"]
    result = subprocess.run([*command, "--out", str(tmp_path / "out")], cwd=many, env=ENV,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    publishing = [match.groups() for match in LINE.finditer(result.stderr)
                  if match.group(1) == "publishing deals"]  # fmt: skip
    assert publishing and publishing[-1][1:4] == (str(DEALS - 1), str(DEALS), "1")
    assert "encrypted" in result.stderr  # and the summary of what was carried
    assert f"Published {DEALS} deal(s)" in result.stdout
    quiet = subprocess.run([*command, "-q", "--out", str(tmp_path / "quiet")], cwd=many,
                           env=ENV, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and f"Published {DEALS} deal(s)" in quiet.stdout
    assert (tmp_path / "quiet" / "current" / "sites" / "deal-12" / "index.html").is_file()


def test_small_runs_and_quiet_loggers_tell_nothing(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("mkdocs.plugins.dealroom.test")
    caplog.set_level(logging.INFO, logger=log.name)
    with progress(log, "building deal sites", SHOWN_FROM - 1) as done:
        for number in range(SHOWN_FROM - 1):
            done(f"deal-{number}")
    assert caplog.records == []
    with progress(log, "building deal sites", 20) as done:
        for number in range(20):
            done(f"deal-{number}")
    assert [record.getMessage() for record in caplog.records][:2] == [
        "dealroom: building deal sites: 2 of 20 done, 18 left (last: deal-1)",
        "dealroom: building deal sites: 4 of 20 done, 16 left (last: deal-3)",
    ]
    assert len(caplog.records) == 9
    caplog.clear()
    log.setLevel(logging.WARNING)  # as `-q` leaves it
    with progress(log, "building deal sites", 20) as done:
        for number in range(20):
            done(f"deal-{number}")
    assert caplog.records == []
