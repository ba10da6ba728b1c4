"""Benchmark: build time of many deals with a long git history, contributor log on vs off.

Creates a throwaway git repository (100 deals, 2,000 commits by default, written with
`git fast-import` so setup takes seconds), then builds it in this one process:

  off   contributors_enabled: false (no git at all)
  cold  log on, no history cache (what a fresh clone or CI pays)
  warm  log on, history cache filled by the previous build (HEAD unchanged)

and prints each time with its ratio to `off`. Target (issue 3): on <= 1.2 x off.

    python bench/contributor_log.py [--deals 100] [--commits 2000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from mkdocs.commands.build import build
from mkdocs.config import load_config

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "deals" / "alpine-retail"
AUTHORS = [
    ("Jonas Eberhardt", "jonas.eberhardt@tallbridge.example"),
    ("Mei Lindqvist", "mei.lindqvist@tallbridge.example"),
    ("Stefanie Brandner", "stefanie.brandner@alpine-retail.example"),
]


def make_repository(root: Path, deals: int, commits: int) -> None:
    """`deals` copies of an example deal, then `commits` commits that each edit one deal."""
    deal_yml = (EXAMPLE / "deal.yml").read_text(encoding="utf-8")
    narrative = (EXAMPLE / "business-case.md").read_text(encoding="utf-8")
    stream: list[bytes] = []
    mark = 0

    def blob(text: str) -> int:
        nonlocal mark
        mark += 1
        data = text.encode()
        stream.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
        return mark

    def commit(number: int, files: dict[str, str], message: str) -> None:
        marks = {path: blob(text) for path, text in files.items()}
        name, email = AUTHORS[number % len(AUTHORS)]
        when = 1_767_225_600 + number * 3600  # one commit an hour from 2026-01-01
        body = message.encode()
        stream.append(
            b"commit refs/heads/main\ncommitter %s <%s> %d +0000\ndata %d\n%s\n"
            % (name.encode(), email.encode(), when, len(body), body)
        )
        for path, blob_mark in marks.items():
            stream.append(b"M 100644 :%d %s\n" % (blob_mark, path.encode()))
        stream.append(b"\n")

    slugs = [f"deal-{index:03d}" for index in range(deals)]
    first = {f"deals/{slug}/deal.yml": deal_yml for slug in slugs}
    first |= {f"deals/{slug}/business-case.md": narrative for slug in slugs}
    for page in sorted((EXAMPLE / "context").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        first |= {f"deals/{slug}/context/{page.name}": text for slug in slugs}
    commit(0, first, "Add the deals")
    for number in range(1, commits):
        slug = slugs[number % deals]
        if number % 2:
            text = deal_yml.replace("deal_value: 541000", f"deal_value: {541000 + number}")
            commit(number, {f"deals/{slug}/deal.yml": text}, f"Update the deal value ({number})")
        else:
            text = narrative + f"\n\n## Note {number}\n\nAgreed on the call.\n"
            trailer = "Co-authored-by: Katrin Aigner <katrin.aigner@alpine-retail.example>"
            message = f"Add call note {number}\n\n{trailer}"
            commit(number, {f"deals/{slug}/business-case.md": text}, message)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True)


def write_config(root: Path, name: str, enabled: bool, cache: str) -> Path:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text().replace("!ENV", ""))
    config["theme"].pop("custom_dir", None)
    config["plugins"] = ["search", {"dealroom": {
        "as_of": "2026-11-25", "contributors_enabled": enabled, "contributors_cache_dir": cache,
    }}]  # fmt: skip
    path = root / f"mkdocs-{name}.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def timed_build(config_file: Path, deals: int) -> float:
    config = load_config(str(config_file))
    start = time.perf_counter()
    build(config)
    seconds = time.perf_counter() - start
    built = sum(1 for page in Path(config.site_dir).glob("*/contributors/index.html"))
    if built != deals:
        raise SystemExit(f"only {built} of {deals} deals were built; see the errors above")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2, help="builds per variant; best counts")
    args = parser.parse_args()
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    logging.getLogger("mkdocs").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory(prefix="dealroom-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        make_repository(root, args.deals, args.commits)
        print(f"repository: {args.deals} deals, {args.commits} commits "
              f"(made in {time.perf_counter() - start:.1f} s)")  # fmt: skip
        off = write_config(root, "off", enabled=False, cache="")
        cold = write_config(root, "cold", enabled=True, cache="")
        warm = write_config(root, "warm", enabled=True, cache=".cache/bench")
        timed_build(
            warm, args.deals
        )  # fills the cache, and warms Python's imports for every variant
        # Interleave the variants so drift over the run (memory growth, other load)
        # weighs on each alike; the best of the repeats counts.
        variants = {"off": off, "cold": cold, "warm": warm}
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeat):
            for name, config_file in variants.items():
                times[name].append(timed_build(config_file, args.deals))
        results = {name: min(values) for name, values in times.items()}
        for name, seconds in results.items():
            print(f"{name:>5}: {seconds:6.2f} s   ratio to off: {seconds / results['off']:.2f}")
        worst = max(results["cold"], results["warm"]) / results["off"]
        print(f"contributor log on / off: {worst:.2f} (target <= 1.20)")
        shutil.rmtree(root / "site", ignore_errors=True)


if __name__ == "__main__":
    main()
