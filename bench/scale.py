"""Benchmark: hundreds of deals in one repository, built, previewed and published.

Generates N deals (500 by default) in a throwaway project: the repository's mkdocs.yml
and theme_overrides/, and deal folders varied from the example deals (alpine-retail,
harbor-health, northwind-freight: their own slugs, customer names and domains, amounts
and dates, with their Markdown and context pages), in a git repository with history
(every deal added and revised by buyer- and seller-side stakeholders, at fixed dates,
written with `git fast-import` so setup takes seconds). Then, with SOURCE_DATE_EPOCH
fixed and only public entry points (the `mkdocs` and `dealroom` commands, each a process
of its own), it measures:

  full build      `mkdocs build` of all N deals, per deal
  separate        one `mkdocs build` per deal, each a project of just that deal, over a
                  sample of deals; ratio = per-deal cost of separate builds / of the full
  no-op           the same build again, nothing changed (median of --repeat runs)
  one-deal edit   one deal's approach.md edited, then the build again (median of
                  --repeat runs, each a new edit)
  serve           `mkdocs serve`: one deal's approach.md edited until the page shows it
  site/ on disk   allocated blocks of unique inodes (hard links count once), like du
  peak memory     largest build process (max RSS), and the build's whole process tree
                  (summed PSS, sampled)
  publish         `dealroom publish --mode encrypted` of M deals with a team of one,
                  first and again with nothing changed

Every command runs as on a seller's machine, with Python's bytecode cache on (were
PYTHONDONTWRITEBYTECODE set, each process would compile dealroom again), and prints each
figure next to the target of issue 10 with PASS or MISS. Missing a
target never fails the run: it exits 0 unless something crashes.

    python bench/scale.py [--deals 500] [--sample 20] [--publish-deals 200] [--json]
    python bench/scale.py --deals 50 --sample 5 --publish-deals 20     # a quick run
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AS_OF = dt.datetime(2026, 11, 25, 12, tzinfo=dt.timezone.utc)  # the builds' "today"
HISTORY_START = int(dt.datetime(2026, 9, 1, 9, tzinfo=dt.timezone.utc).timestamp())
DAY = 86_400
MIB = 1024 * 1024

# Issue 10's targets. Sizes scale with the number of deals (150 MB for 500).
RATIO_TARGET = 20.0
NO_OP_TARGET = 2.0
EDIT_TARGET = 1.0
SERVE_TARGET = 2.0
SITE_TARGET_PER_DEAL = 150e6 / 500
# "Unchanged deals cost ~nothing": a publish with nothing changed may take what a no-op
# build may take, plus 10 ms a deal for carrying the deal into the new release.
UNCHANGED_PUBLISH_BASE, UNCHANGED_PUBLISH_PER_DEAL = 2.0, 0.010

# (example folder, customer name, the short name its pages also use); varied deals take
# a place-like first word (never one of these) and an industry word of their example.
EXAMPLES = [
    ("alpine-retail", "Alpine Retail Group", "Alpine"),
    ("harbor-health", "Harbor Health Partners", "Harbor Health"),
    ("northwind-freight", "Northwind Freight Lines", "Northwind"),
]
FIRST_WORDS = [
    "Aster", "Bayline", "Birchwood", "Bluewater", "Brightfield", "Cedar", "Clearwater",
    "Coastal", "Copperleaf", "Crestview", "Eastgate", "Elmstead", "Fairhaven", "Fernhill",
    "Foxglove", "Glenrock", "Granite", "Greystone", "Hawthorn", "Highland", "Ironbridge",
    "Juniper", "Kingsbay", "Lakeshore", "Larkspur", "Maple", "Meadowbrook", "Millbrook",
    "Oakridge", "Orchard", "Pinecrest", "Quarry", "Redwood", "Ridgeway", "Riverside",
    "Rosewood", "Saltmarsh", "Silverline", "Southport", "Stonebrook", "Summit", "Sunfield",
    "Thornbury", "Timberline", "Valley", "Westfield", "Willow", "Windmere",
]  # fmt: skip
INDUSTRY_WORDS = {
    "alpine-retail": ["Retail Group", "Outdoor Stores", "Sports Retail", "Home and Garden",
                      "Fashion House", "Supermarkets", "Pharmacies", "Bookshops", "Furniture",
                      "Electronics"],
    "harbor-health": ["Health Partners", "Clinics", "Medical Group", "Dental Care",
                      "Eye Hospitals", "Physiotherapy", "Care Homes", "Diagnostics",
                      "Veterinary Group", "Hearing Centres"],
    "northwind-freight": ["Freight Lines", "Logistics", "Haulage", "Express", "Carriers",
                          "Transport", "Shipping", "Couriers", "Distribution", "Trucking"],
}  # fmt: skip
AMOUNT = re.compile(r"^(\s*(?:- )?(?:amount|deal_value): )(\d+(?:\.\d+)?)[ \t]*$", re.M)
DATE = re.compile(r"\b(20\d\d-\d\d-\d\d)\b")


# --- the generated deals ------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    folder: str
    customer: str
    short: str
    domain: str
    deal_yml: str
    pages: dict[str, str]  # business-case.md, approach.md, context/*.md
    internal: dict[str, str]
    people: dict[str, tuple[str, str]]  # role -> (name, email)

    @classmethod
    def load(cls, folder: str, customer: str, short: str) -> Example:
        root = REPO / "deals" / folder
        text = (root / "deal.yml").read_text(encoding="utf-8")
        data = yaml.safe_load(text)

        def files(pattern: str) -> dict[str, str]:
            return {
                path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
                for path in sorted(root.glob(pattern))
                if path.is_file()
            }

        people: dict[str, tuple[str, str]] = {}
        for person in data.get("stakeholders", []):
            key = f"{person['side']}:{person['role']}"
            people.setdefault(key, (person["name"], person.get("email", "")))
        pages = files("*.md") | files("context/*.md")
        return cls(folder, customer, short, data["customer"]["domains"][0], text, pages,
                   files("internal/**/*"), people)  # fmt: skip

    def person(self, *roles: str) -> tuple[str, str]:
        """The first stakeholder with one of `roles` ('buyer:champion'), else the champion."""
        for role in (*roles, "buyer:champion"):
            if role in self.people:
                return self.people[role]
        raise ValueError(f"{self.folder}: no stakeholder for {roles}")


@dataclass(frozen=True)
class Deal:
    index: int
    slug: str
    customer: str
    short: str
    example: Example
    factor: float  # amounts are the example's times this
    shift: int  # dates are the example's moved by this many days

    @property
    def domain(self) -> str:
        return f"{self.slug}.example"

    def person(self, *roles: str) -> tuple[str, str]:
        name, email = self.example.person(*roles)
        return name, self.rename(email)

    def rename(self, text: str) -> str:
        example = self.example
        text = text.replace(example.customer, self.customer)
        return text.replace(example.domain, self.domain).replace(example.short, self.short)

    def deal_yml(self, version: int) -> str:
        """deal.yml as it read in `version` 1 (first draft), 2 or 3 (today)."""
        factor = self.factor * (0.8, 0.9, 1.0)[version - 1]

        def amount(match: re.Match[str]) -> str:
            return f"{match[1]}{round(float(match[2]) * factor)}"

        def date(match: re.Match[str]) -> str:
            day = dt.date.fromisoformat(match[1]) + dt.timedelta(days=self.shift)
            return day.isoformat()

        return self.rename(DATE.sub(date, AMOUNT.sub(amount, self.example.deal_yml)))

    def page(self, path: str, final: bool) -> str:
        """A Markdown page today, or as first drafted (without its last section)."""
        text = self.rename(self.example.pages[path])
        if final:
            return text
        cut = text.rfind("\n## ")
        cut = cut if cut > 0 else text.rstrip().rfind("\n\n")
        return text[: cut + 1] if cut > 0 else text


def make_deals(count: int) -> list[Deal]:
    examples = [Example.load(*entry) for entry in EXAMPLES]
    deals = []
    for index in range(count):
        example = examples[index % len(examples)]
        number = index // len(examples)
        first = FIRST_WORDS[number % len(FIRST_WORDS)]
        industry = INDUSTRY_WORDS[example.folder]
        round_ = number // len(FIRST_WORDS)
        customer = f"{first} {industry[round_ % len(industry)]}"
        if round_ >= len(industry):
            customer += f" {round_ // len(industry) + 1}"
        slug = re.sub(r"[^a-z0-9]+", "-", customer.lower()).strip("-")
        factor = 0.6 + (index * 37 % 90) / 100
        shift = -(index * 11 % 31)  # earlier, so that nothing recorded is after as_of
        deals.append(Deal(index, slug, customer, first, example, factor, shift))
    return deals


def make_project(root: Path, deals: list[Deal]) -> int:
    """A project folder with `deals` in a git repository with history; returns the
    number of commits. Deals of one example share their seller team, so a seller's
    batch commits touch many deals at once; buyers' commits touch their own deal."""
    stream: list[bytes] = []
    commits = 0

    def commit(when: int, author: tuple[str, str], message: str, files: dict[str, str]) -> None:
        nonlocal commits
        commits += 1
        name, email = author
        body = message.encode()
        stream.append(
            b"commit refs/heads/main\nauthor %s <%s> %d +0000\ncommitter %s <%s> %d +0000\n"
            b"data %d\n%s\n"
            % (name.encode(), email.encode(), when, name.encode(), email.encode(), when,
               len(body), body)
        )  # fmt: skip
        for path, text in files.items():
            data = text.encode()
            stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
        stream.append(b"\n")

    setup = {"mkdocs.yml": (REPO / "mkdocs.yml").read_text(encoding="utf-8"),
             ".gitignore": "site/\n.cache/\n"}  # fmt: skip
    for path in sorted((REPO / "theme_overrides").rglob("*")):
        if path.is_file():
            setup[path.relative_to(REPO).as_posix()] = path.read_text(encoding="utf-8")
    first_seller = deals[0].person("seller:account executive")
    commit(HISTORY_START - DAY, first_seller, "Set up the deal rooms", setup)

    groups: dict[str, list[Deal]] = {}
    for deal in deals:
        groups.setdefault(deal.example.folder, []).append(deal)
    for group in groups.values():  # round 1: each seller team adds its deals
        files: dict[str, str] = {}
        for deal in group:
            base = f"deals/{deal.slug}"
            files[f"{base}/deal.yml"] = deal.deal_yml(1)
            files |= {f"{base}/{path}": deal.page(path, final=False)
                      for path in deal.example.pages}  # fmt: skip
            files |= {f"{base}/{path}": deal.rename(text)
                      for path, text in deal.example.internal.items()}  # fmt: skip
        commit(HISTORY_START, group[0].person("seller:account executive"),
               "Add the deal rooms", files)  # fmt: skip
    for deal in deals:  # the champion sharpens the approach and the figures
        files = {f"deals/{deal.slug}/deal.yml": deal.deal_yml(2)}
        if "approach.md" in deal.example.pages:
            files[f"deals/{deal.slug}/approach.md"] = deal.page("approach.md", final=True)
        message = f"{deal.customer}: approach and figures from the planning review"
        commit(HISTORY_START + 14 * DAY + deal.index * 120, deal.person("buyer:champion"),
               message, files)  # fmt: skip
    for deal in deals:  # the solution engineer confirms the costs with finance
        name, email = deal.person("buyer:economic buyer", "buyer:finance")
        message = f"Cost of inaction confirmed\n\nCo-authored-by: {name} <{email}>"
        commit(HISTORY_START + 35 * DAY + deal.index * 120,
               deal.person("seller:solution engineer"), message,
               {f"deals/{deal.slug}/deal.yml": deal.deal_yml(3)})  # fmt: skip
    for deal in deals:  # IT security completes the context pages
        context = [path for path in deal.example.pages if path.startswith("context/")]
        if context:
            commit(HISTORY_START + 49 * DAY + deal.index * 120,
                   deal.person("buyer:it security", "buyer:technical"), "Security review notes",
                   {f"deals/{deal.slug}/{path}": deal.page(path, final=True)
                    for path in context})  # fmt: skip
    for group in groups.values():  # the seller teams finish the narratives
        files = {f"deals/{deal.slug}/business-case.md": deal.page("business-case.md", True)
                 for deal in group if "business-case.md" in deal.example.pages}  # fmt: skip
        if files:
            author = group[0].person("seller:customer success", "seller:solution engineer")
            commit(HISTORY_START + 63 * DAY, author, "Business-case narratives reviewed", files)

    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True)
    return commits


# --- running and measuring ----------------------------------------------------------


def command(name: str) -> list[str]:
    """The installed `mkdocs` or `dealroom` command of this Python."""
    found = BIN / name if (BIN / name).is_file() else shutil.which(name)
    if found is None:
        raise SystemExit(f"`{name}` is not installed for {sys.executable}")
    return [str(found)]


def environment() -> dict[str, str]:
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(int(AS_OF.timestamp())))
    env.setdefault("NO_MKDOCS_2_WARNING", "1")
    # Python keeps compiled modules as on a seller's machine: a sandbox or CI image that
    # turns that off would otherwise time compiling dealroom in every process.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("DEALROOM_MISSING_MARKERS", None)  # the repository's mkdocs.yml reads it
    return env


def process_tree_kib(root: int) -> int:
    """Memory of `root` and its descendants now: summed PSS (shared pages split among
    the processes sharing them), or RSS where PSS is not available."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parent = int(fields.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
            try:
                lines = Path(f"/proc/{pid}/{name}").read_text().splitlines()
            except OSError:
                continue
            values = [int(line.split()[1]) for line in lines if line.startswith(key)]
            if values:
                total += values[0]
                break
    return total


class TreeSampler:
    """Samples a process tree's memory every 0.2 s in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kib = pid, 0
        self.available = Path("/proc/self/stat").exists()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if self.available:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_kib = max(self.peak_kib, process_tree_kib(self.pid))

    def stop(self) -> float | None:
        self._stop.set()
        if self.available:
            self._thread.join()
        return self.peak_kib / 1024 if self.available else None


@dataclass
class Run:
    seconds: float
    max_rss_mib: float  # the largest single process of the run
    tree_mib: float | None  # the run's whole process tree at its sampled peak
    output: str


def run(args: list[str], cwd: Path, log: Path, check: bool = True) -> Run:
    """Run a command to its end: wall time, and the largest max RSS among the process
    and its waited-for descendants (wait4's rusage, as `/usr/bin/time` reports it)."""
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(args, cwd=cwd, env=environment(), stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        sampler = TreeSampler(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        tree = sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text(encoding="utf-8", errors="replace")
    if check and process.returncode != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise SystemExit(f"{' '.join(args)} in {cwd} exited {process.returncode}:\n{tail}")
    rss_kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return Run(seconds, rss_kib / 1024, tree, output)


def build(project: Path, log: Path, slugs: list[str], dirty: bool) -> Run:
    """`mkdocs build` of a project, checked: every deal's site is there afterwards."""
    result = run([*command("mkdocs"), "build", *(["--dirty"] if dirty else [])], project, log)
    missing = [slug for slug in slugs if not (project / "site" / slug / "index.html").is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} of {len(slugs)} deals not built ({missing[:5]}); "
                         f"see {log}")  # fmt: skip
    return result


def median_run(runs: list[Run]) -> Run:
    """The run of median time (the lower middle one of an even number)."""
    return sorted(runs, key=lambda run: run.seconds)[(len(runs) - 1) // 2]


def spread(runs: list[Run]) -> str:
    """The range of several runs' times, for the figure's text; "" for a single run."""
    if len(runs) < 2:
        return ""
    times = sorted(run.seconds for run in runs)
    return f" (median of {len(runs)}: {times[0]:.2f}-{times[-1]:.2f} s)"


def edit(project: Path, slug: str) -> str:
    """Add a paragraph with a unique marker to a deal's approach.md; returns the marker."""
    marker = f"SCALE-{uuid.uuid4().hex[:12]}"
    path = project / "deals" / slug / "approach.md"
    with path.open("a", encoding="utf-8") as page:
        page.write(f"\n\nBenchmark edit {marker}.\n")
    return marker


def disk_usage(folder: Path) -> dict[str, int]:
    """Like du: the blocks allocated to each inode once (hard links count once),
    directories included; also the apparent size (bytes) of the unique inodes, and of
    every path as if each were a copy of its own (what copying deals one by one takes)."""
    top = os.lstat(folder)
    seen: set[tuple[int, int]] = {(top.st_dev, top.st_ino)}
    allocated, apparent, every_path = top.st_blocks * 512, top.st_size, top.st_size
    files = unique_files = 0
    for directory, subdirectories, names in os.walk(folder):
        for name in [*subdirectories, *names]:
            info = os.lstat(os.path.join(directory, name))
            is_file = not stat.S_ISDIR(info.st_mode)
            files += is_file
            every_path += info.st_size
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                unique_files += is_file
                allocated += info.st_blocks * 512
                apparent += info.st_size
    return {"allocated_bytes": allocated, "apparent_bytes": apparent,
            "every_path_bytes": every_path, "files": files,
            "unique_files": unique_files}  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError):
        return None


def stop_session(process: subprocess.Popen) -> None:
    """Stop a process started in a session of its own, and whatever it started."""
    for sig, wait in ((signal.SIGINT, 20), (signal.SIGKILL, None)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind, if any


def serve_latency(project: Path, slug: str, log: Path, dirty: bool, timeout: float) -> dict:
    """Start `mkdocs serve`, wait for a deal page, edit the deal, and time until the page
    shows the edit. Serve runs in a session of its own, which is stopped at the end."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/{slug}/approach/"
    args = [*command("mkdocs"), "serve", "--dev-addr", f"127.0.0.1:{port}"]
    result: dict = {"url_path": f"/{slug}/approach/", "seconds": None}
    with log.open("wb") as out:
        started = time.perf_counter()
        serve = subprocess.Popen([*args, *(["--dirty"] if dirty else [])], cwd=project,
                                 env=environment(), stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)  # fmt: skip
        try:
            while fetch(url) is None:
                if serve.poll() is not None:
                    raise SystemExit(f"mkdocs serve exited {serve.returncode}; see {log}")
                if time.perf_counter() - started > timeout:
                    raise SystemExit(f"mkdocs serve did not serve {url} in {timeout:.0f} s")
                time.sleep(0.5)
            result["startup_seconds"] = time.perf_counter() - started
            time.sleep(1.0)  # let the watcher settle after the first build
            marker = edit(project, slug)
            edited = time.perf_counter()
            while time.perf_counter() - edited < timeout:
                if marker in (fetch(url) or ""):
                    result["seconds"] = time.perf_counter() - edited
                    break
                time.sleep(0.05)
        finally:
            stop_session(serve)
    return result


# --- the report ---------------------------------------------------------------------


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                model = value.strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = [round(value, 1) for value in os.getloadavg()] if hasattr(os, "getloadavg") else []
    return {"cpus": os.cpu_count(), "usable_cpus": usable, "cpu_model": model,
            "memory_gib": memory, "system": platform.platform(), "load_average": load,
            "python": platform.python_version(), "mkdocs": version("mkdocs"),
            "mkdocs-material": version("mkdocs-material"), "dealroom": version("dealroom"),
            "git": subprocess.run(["git", "--version"], capture_output=True, text=True,
                                  check=False).stdout.strip()}  # fmt: skip


def code_version() -> dict:
    """The dealroom code the builds run: where the package is imported from, and the
    commit of its git repository, noting changes not committed (benchmarks aside)."""
    locate = "import dealroom, os; print(os.path.dirname(dealroom.__file__))"
    done = subprocess.run([sys.executable, "-c", locate], env=environment(),
                          capture_output=True, text=True, check=False)  # fmt: skip
    package = done.stdout.strip() or str(REPO)

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", package, *args], capture_output=True, text=True,
                              check=False)  # fmt: skip
        return done.stdout.strip()

    changed = [line for line in git("status", "--porcelain").splitlines()
               if not line[3:].startswith("bench/")]  # fmt: skip
    return {"package": package, "commit": git("log", "-1", "--oneline") or "not in git",
            "uncommitted_changes": bool(changed)}  # fmt: skip


@dataclass
class Figure:
    name: str
    text: str  # the measured figure, readable
    value: float | None  # the checked number, in `unit`
    unit: str
    target: str = ""
    passed: bool | None = None  # None: no target, or nothing measured
    extra: dict = field(default_factory=dict)


def size(amount: float) -> str:
    return f"{amount / 1e9:.2f} GB" if amount >= 1e9 else f"{amount / 1e6:.1f} MB"


def print_report(report: dict, figures: list[Figure]) -> None:
    host, code = report["machine"], report["code"]
    print(f"dealroom at scale: {report['deals']} deals, {report['commits']} commits "
          f"(generated in {report['generate_seconds']:.1f} s); SOURCE_DATE_EPOCH="
          f"{report['source_date_epoch']} ({report['as_of']})")  # fmt: skip
    print(f"machine: {host['cpus']} CPUs ({host['usable_cpus']} usable), {host['cpu_model']}, "
          f"{host['memory_gib']} GiB; {host['system']}; load average at the end "
          f"{'/'.join(map(str, host['load_average']))} (1/5/15 min)")  # fmt: skip
    print(f"software: Python {host['python']}, mkdocs {host['mkdocs']}, mkdocs-material "
          f"{host['mkdocs-material']}, dealroom {host['dealroom']}, {host['git']}")  # fmt: skip
    dirty = " with uncommitted changes" if code["uncommitted_changes"] else ""
    print(f"code: {code['commit']}{dirty} ({code['package']}); `{report['build_command']}`")
    print()
    width = max(len(figure.name) for figure in figures)
    text_width = max(len(figure.text) for figure in figures)
    for figure in figures:
        verdict = {True: "PASS", False: "MISS", None: ""}[figure.passed]
        target = f"target {figure.target}" if figure.target else ""
        line = f"{figure.name:<{width}}  {figure.text:<{text_width}}  {target:<24} {verdict}"
        print(line.rstrip())
    checked = [figure for figure in figures if figure.passed is not None]
    print(f"\ntargets met: {sum(bool(figure.passed) for figure in checked)} of {len(checked)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=500, help="deals in the full project")
    parser.add_argument("--sample", type=int, default=20,
                        help="deals built one `mkdocs build` each, for the ratio")  # fmt: skip
    parser.add_argument("--publish-deals", type=int, default=200,
                        help="deals in the project that is published (encrypted)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3,
                        help="no-op and one-deal-edit rebuilds to take the median of")  # fmt: skip
    parser.add_argument("--dirty", action="store_true",
                        help="pass --dirty to the rebuilds and to `mkdocs serve`")  # fmt: skip
    parser.add_argument("--serve-timeout", type=float, default=900,
                        help="seconds to wait for serve's first build and for an edit")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.deals < 1 or args.sample < 1 or args.publish_deals < 1:
        parser.error("--deals, --sample and --publish-deals must be at least 1")

    def progress(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="dealroom-scale-"))
    logs = tmp / "logs"
    logs.mkdir()
    try:
        started = time.perf_counter()
        deals = make_deals(max(args.deals, args.publish_deals))
        full = deals[: args.deals]
        slugs = [deal.slug for deal in full]
        project = tmp / "project"
        commits = make_project(project, full)
        generate_seconds = time.perf_counter() - started
        progress(f"{len(full)} deals, {commits} commits in {project} "
                 f"({generate_seconds:.1f} s)")  # fmt: skip
        edited = next(deal.slug for deal in full if "approach.md" in deal.example.pages)
        runs: dict[str, Run] = {}

        progress("full build")
        runs["full"] = build(project, logs / "full.log", slugs, dirty=False)
        progress(f"full build: {runs['full'].seconds:.1f} s; no-op rebuild")
        repeats = range(max(1, args.repeat))
        no_ops = [build(project, logs / f"no-op-{i}.log", slugs, args.dirty) for i in repeats]
        runs["no-op"] = median_run(no_ops)
        progress(f"no-op rebuild: {runs['no-op'].seconds:.1f} s; one deal edited")
        edits = []
        for i in repeats:  # each time another paragraph, so the deal changed each time
            marker = edit(project, edited)
            edits.append(build(project, logs / f"edit-{i}.log", slugs, args.dirty))
            page = project / "site" / edited / "approach" / "index.html"
            if marker not in page.read_text(encoding="utf-8"):
                raise SystemExit(f"the edit of {edited}/approach.md is not in {page} after "
                                 "the build")  # fmt: skip
        runs["edit"] = median_run(edits)
        disk = disk_usage(project / "site")

        count = min(args.sample, len(full))
        sample = [full[index * len(full) // count] for index in range(count)]
        progress(f"one-deal edit: {runs['edit'].seconds:.1f} s; {count} separate builds")
        separate: list[Run] = []
        for deal in sample:
            folder = tmp / "separate" / deal.slug
            make_project(folder, [deal])
            separate.append(build(folder, logs / f"separate-{deal.slug}.log", [deal.slug],
                                  dirty=False))  # fmt: skip
            shutil.rmtree(folder / "site")

        progress("mkdocs serve")
        serve = serve_latency(project, edited, logs / "serve.log", args.dirty,
                              args.serve_timeout)  # fmt: skip
        progress(f"serve: {serve['seconds'] or 0:.2f} s; publish of {args.publish_deals} deals")

        published = tmp / "publish-project"
        make_project(published, deals[: args.publish_deals])
        run([*command("dealroom"), "access", "add", "--team", "bench-team", "--name", "Bench"],
            published, logs / "access.log")  # fmt: skip
        out = tmp / "published"
        publish = [*command("dealroom"), "publish", "--mode", "encrypted", "--out", str(out)]
        runs["publish"] = run(publish, published, logs / "publish-first.log")
        progress(f"first publish: {runs['publish'].seconds:.1f} s; again, unchanged")
        runs["republish"] = run(publish, published, logs / "publish-unchanged.log")
        for name in ("publish", "republish"):
            if f"Published {args.publish_deals} deal(s)" not in runs[name].output:
                raise SystemExit(f"publish did not publish every deal: see {logs}")

        # --- figures ---
        n = len(full)
        per_deal_full = runs["full"].seconds / n
        separate_times = [result.seconds for result in separate]
        per_deal_separate = statistics.mean(separate_times)
        ratio = per_deal_separate / per_deal_full
        site_target = SITE_TARGET_PER_DEAL * n
        unchanged_target = UNCHANGED_PUBLISH_BASE + UNCHANGED_PUBLISH_PER_DEAL * args.publish_deals
        build_runs = [runs["full"], runs["no-op"], runs["edit"], *separate]
        largest = max(result.max_rss_mib for result in build_runs)
        trees = [result.tree_mib for result in build_runs if result.tree_mib is not None]
        tree = max(trees) if trees else None
        publish_rss = max(runs["publish"].max_rss_mib, runs["republish"].max_rss_mib)
        serve_seconds = serve["seconds"]
        figures = [
            Figure(f"full build, {n} deals", f"{runs['full'].seconds:.1f} s "
                   f"({per_deal_full * 1000:.0f} ms/deal)", runs["full"].seconds, "s"),
            Figure(f"separate builds, {count} deals",
                   f"{per_deal_separate:.2f} s/deal (median "
                   f"{statistics.median(separate_times):.2f} s)", per_deal_separate, "s"),
            Figure("ratio separate / full, per deal", f"{ratio:.1f}x", ratio, "x",
                   f">= {RATIO_TARGET:.0f}x", ratio >= RATIO_TARGET),
            Figure("no-op rebuild", f"{runs['no-op'].seconds:.2f} s{spread(no_ops)}",
                   runs["no-op"].seconds, "s", f"< {NO_OP_TARGET:.0f} s",
                   runs["no-op"].seconds < NO_OP_TARGET,
                   {"runs_seconds": [run.seconds for run in no_ops]}),
            Figure("one deal's approach.md edited", f"{runs['edit'].seconds:.2f} s"
                   f"{spread(edits)}", runs["edit"].seconds, "s", f"< {EDIT_TARGET:.0f} s",
                   runs["edit"].seconds < EDIT_TARGET,
                   {"runs_seconds": [run.seconds for run in edits]}),
            Figure("serve: edit -> visible",
                   f"{serve_seconds:.2f} s" if serve_seconds is not None
                   else f"not visible in {args.serve_timeout:.0f} s",
                   serve_seconds, "s", f"< {SERVE_TARGET:.0f} s",
                   serve_seconds is not None and serve_seconds < SERVE_TARGET,
                   {"startup_seconds": serve.get("startup_seconds")}),
            Figure("site/ on disk (allocated)",
                   f"{size(disk['allocated_bytes'])} ({disk['files']:,} files, "
                   f"{disk['unique_files']:,} unique)", disk["allocated_bytes"] / 1e6, "MB",
                   f"< {size(site_target)}", disk["allocated_bytes"] < site_target, disk),
            Figure("site/ apparent size", f"{size(disk['apparent_bytes'])} unique, "
                   f"{size(disk['every_path_bytes'])} counting every path",
                   disk["apparent_bytes"] / 1e6, "MB"),
            Figure("peak memory, largest process", f"{largest:.0f} MiB (max RSS)", largest,
                   "MiB"),
            Figure("peak memory, whole build", f"{tree:.0f} MiB (summed PSS, sampled)"
                   if tree is not None else "not available", tree, "MiB"),
            Figure(f"publish encrypted, {args.publish_deals} deals, first",
                   f"{runs['publish'].seconds:.1f} s (max RSS {publish_rss:.0f} MiB)",
                   runs["publish"].seconds, "s"),
            Figure("publish again, nothing changed", f"{runs['republish'].seconds:.1f} s",
                   runs["republish"].seconds, "s", f"~0 (< {unchanged_target:.0f} s)",
                   runs["republish"].seconds < unchanged_target),
        ]  # fmt: skip
        report = {
            "deals": n, "commits": commits, "generate_seconds": round(generate_seconds, 2),
            "sample": [deal.slug for deal in sample], "separate_seconds": separate_times,
            "publish_deals": args.publish_deals, "edited_deal": edited,
            "source_date_epoch": int(AS_OF.timestamp()), "as_of": AS_OF.date().isoformat(),
            "build_command": "mkdocs build" + (" --dirty (rebuilds)" if args.dirty else ""),
            "machine": machine(), "code": code_version(),
        }  # fmt: skip
        if args.json:
            report["figures"] = [figure.__dict__ for figure in figures]
            print(json.dumps(report, indent=2))
        else:
            print_report(report, figures)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
