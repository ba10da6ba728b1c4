"""Shared helpers: real deal folders in tmp_path and real in-process `mkdocs build` runs."""

from __future__ import annotations

import base64
import copy
import http.client
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from mkdocs.commands.build import build
from mkdocs.config import load_config

REPO = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-25"

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
# The commands the tests run (`dealroom`, `mkdocs`) are the ones installed beside the
# Python running the tests, as if its virtual environment were active: the README runs
# `.venv/bin/python -m pytest` without activating `.venv`, and another `dealroom` on the
# PATH (a system-wide install) must never stand in for this checkout's.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])

# A complete, valid deal; tests copy it and change what they need.
BASE_DEAL: dict[str, Any] = {
    "customer": {"name": "Fjordline Shipping", "domains": ["fjordline.example"]},
    "seller": {"name": "Ledgerly"},
    "stage": 3,
    "step": "propose",
    "currency": "EUR",
    "summary": "Fjordline closes its books in nine days; the board wants five.",
    "compelling_event": {
        "date": "2027-04-01",
        "reason": "EU e-invoicing mandate takes effect",
        "if_missed": "Twelve months of manual compliance work",
    },
    "go_live": "2027-03-01",
    "signature_target": "2027-01-15",
    "deal_value": 180000,
    "stakeholders": [
        {"name": "Ingrid Solberg", "title": "Finance Director", "side": "buyer", "role": "champion",
         "email": "ingrid@fjordline.example"},
        {"name": "Per Dahl", "title": "CFO", "side": "buyer", "role": "economic buyer"},
        {"name": "Tom Ashby", "title": "Account Executive", "side": "seller",
         "role": "account executive"},
    ],
    "business_case": {
        "headline": {
            "change": "the e-invoicing mandate",
            "approach": "automate invoice matching",
            "by": "2027-03-01",
            "avoid": "fines",
            "unlock": "a five-day close",
        },
        "priority": {"initiative": "Finance 2027", "owner": "Per Dahl"},
        "problem": {"statement": "Invoices are matched by hand.", "frequency": "month-end",
                    "reach": "23 clerks", "worsens": "volumes grow 18% a year"},
        "cost_of_inaction": [
            {"item": "Manual matching", "amount": 240000, "per": "year",
             "basis": "23 clerks x 30%", "source": "AP time study", "avoidable_percent": 50},
            {"item": "Late-payment penalties", "amount": 5000, "per": "month"},
        ],
        "capabilities": [{"name": "Three-way matching", "must_have": True}],
        "outcomes": [{"metric": "Days to close", "baseline": "9", "target": "5",
                      "by": "2027-06-30"}],
        "investment": {
            "one_time": [{"item": "Implementation", "amount": 60000}],
            "recurring": [{"item": "Subscription", "amount": 8000, "per": "month"}],
            "people": "Two AP leads, 30% for eight weeks",
            "horizon_years": 3,
        },
        "contributors": ["Per Dahl"],
    },
    "mutual_action_plan": {
        "success_criteria": ["Close in five days by June"],
        "steps": [
            {"title": "Security review", "owner": "Ingrid Solberg", "due": "2026-12-10",
             "status": "in progress"},
            {"title": "Discovery workshop", "owner": "Tom Ashby", "due": "2026-11-01",
             "status": "done", "completed": "2026-10-30"},
            {"title": "Legal redlines", "owner": "Fjordline legal", "side": "buyer",
             "due": "2026-11-20", "status": "planned"},
        ],
    },
}  # fmt: skip


def make_deal(**changes: Any) -> dict[str, Any]:
    deal = copy.deepcopy(BASE_DEAL)
    deal.update(changes)
    return deal


def write_deal(
    deals_dir: Path, slug: str, deal: dict[str, Any] | str, files: dict[str, str] | None = None
) -> Path:
    """Write deals/<slug>/deal.yml (a dict or raw YAML text) plus other files of the
    folder, e.g. files={"context/legal.md": "# Legal"}."""
    folder = deals_dir / slug
    folder.mkdir(parents=True, exist_ok=True)
    text = deal if isinstance(deal, str) else yaml.safe_dump(deal, sort_keys=False)
    (folder / "deal.yml").write_text(text, encoding="utf-8")
    for name, content in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return folder


def write_project(root: Path, **plugin_options: Any) -> Path:
    """A project like this repository's: mkdocs.yml, deals/, theme_overrides/."""
    (root / "deals").mkdir(parents=True, exist_ok=True)
    (root / "theme_overrides").mkdir(exist_ok=True)
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text().replace("!ENV", ""))
    options = {"as_of": AS_OF, **plugin_options}
    config["plugins"] = ["search", {"dealroom": options}]
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return root


def set_plugin_options(root: Path, **options: Any) -> None:
    """Change dealroom's options in the project's mkdocs.yml, as a seller would."""
    path = root / "mkdocs.yml"
    config = yaml.safe_load(path.read_text())
    next(p for p in config["plugins"] if isinstance(p, dict))["dealroom"].update(options)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def run_build(root: Path, *, command: str = "build", strict: bool = False) -> Path:
    """Run a real in-process `mkdocs build` of the project at root; return site_dir."""
    config = load_config(str(root / "mkdocs.yml"), strict=strict)
    config.plugins.on_startup(command=command, dirty=False)
    try:
        build(config)
    finally:  # the collector, paused for the build, runs again whatever stopped it
        config.plugins["dealroom"].collector.close()
    return Path(config.site_dir)


def site_files(site: Path) -> dict[str, bytes]:
    return {path.relative_to(site).as_posix(): path.read_bytes()
            for path in site.rglob("*") if path.is_file()}  # fmt: skip


def text_of(html_path: Path) -> str:
    """The visible text of a page's article, whitespace collapsed."""
    import html as html_lib
    import re

    page = html_path.read_text(encoding="utf-8")
    article = page[page.index("<article") : page.index("</article>")]
    article = re.sub(r"<(script|style)\b.*?</\1>", " ", article, flags=re.DOTALL)
    article = re.sub(r'<a class="headerlink"[^>]*>.*?</a>', " ", article)  # permalink marks
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", article)).split())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project")


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """MkDocs stamps sitemap.xml.gz with the build time: fixed, as reproducible builds
    do, so that two builds can be compared byte for byte."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764115200")


@pytest.fixture
def served_dir() -> Iterator[Path]:
    """A publish folder nginx's unprivileged workers can read (pytest's own temporary
    folders are private to their owner), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="dealroom-served-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder / "out"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def mkdocs_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="mkdocs")
    return caplog


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
browser_needed = pytest.mark.skipif(
    not os.environ.get("CI") and not Path(CHROMIUM).exists(),
    reason="needs Debian's chromium (apt-get install chromium)",
)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


# --- real servers: nginx for the protected host, Python's own for any static host -------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# Skipped on a developer machine without them; never in CI, which installs them.
nginx_needed = pytest.mark.skipif(
    not os.environ.get("CI") and (not Path(NGINX).exists() or not shutil.which("htpasswd")),
    reason="needs nginx and apache2-utils (apt-get install nginx apache2-utils)",
)


class Host:
    """A real nginx serving a publish directory on a free loopback port."""

    def __init__(self, out: Path, domain: str = "") -> None:
        from dealroom.publish.nginx import write_nginx_config

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = write_nginx_config(out, f"127.0.0.1:{self.port}", out / "test-host", domain)
        self.error_log = self.conf.parent / "state" / "error.log"
        # Daemon mode: the command returns once nginx has bound its port.
        subprocess.run([NGINX, "-e", str(self.error_log), "-c", str(self.conf)], check=True)

    def get(
        self, path: str, user: str | None = None, password: str = "", host: str = ""
    ) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Host": host} if host else {}
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body

    def stop(self) -> None:
        subprocess.run([NGINX, "-e", str(self.error_log), "-c", str(self.conf), "-s", "stop"],
                       check=False)  # fmt: skip


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_host(directory: Path) -> Iterator[str]:
    """Any static host will do: Python's own HTTP server on a free loopback port."""
    handler = partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
