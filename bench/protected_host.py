"""Benchmark: a full page load through the password-protected nginx host.

Publishes the bundled example deals, then serves them from three real nginx instances
on 127.0.0.1 and loads the business case page with every asset it references (plus the
search index) over one keep-alive connection, as a browser's first visit would:

  plain    the same files with no password check (the baseline)
  cost 5   dealroom's bcrypt cost
  cost 10  a common default bcrypt cost, for comparison

and prints the median load time of each and its ratio to the baseline. Target (issue 4):
a protected page with its assets loads in well under 300 ms.

    python bench/protected_host.py [--loads 20]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import logging
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

import yaml
from dealroom.publish.access import Scope, add_viewer, hash_password
from dealroom.publish.nginx import worker_user, write_nginx_config
from dealroom.publish.releases import publish

REPO = Path(__file__).resolve().parent.parent
PAGE = "/alpine-retail/business-case/"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ASSET = re.compile(r'<(?:script|img)\b[^>]*\bsrc="([^"]+)"|<link\b[^>]*\bhref="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(conf: Path) -> None:
    error_log = conf.parent / "state" / "error.log"
    error_log.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([NGINX, "-e", str(error_log), "-c", str(conf)], check=True)


def stop(conf: Path) -> None:
    error_log = conf.parent / "state" / "error.log"
    subprocess.run([NGINX, "-e", str(error_log), "-c", str(conf), "-s", "stop"], check=False)


def plain_config(folder: Path, sites: Path, port: int) -> Path:
    """A bare static nginx over the same files: the baseline."""
    state = folder / "state"
    state.mkdir(parents=True, exist_ok=True)
    user = f"user {worker_user()};" if worker_user() else ""
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""{user}
worker_processes 1;
pid {state}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    types {{ text/html html; text/css css; application/javascript js;
             application/json json; image/svg+xml svg; image/png png; }}
    client_body_temp_path {state}/cb; proxy_temp_path {state}/p; fastcgi_temp_path {state}/f;
    uwsgi_temp_path {state}/u; scgi_temp_path {state}/s;
    access_log off;
    server {{ listen 127.0.0.1:{port}; root {sites}; }}
}}
""",
        encoding="utf-8",
    )
    return conf


def page_load(port: int, auth: str | None) -> tuple[float, int]:
    """Seconds to fetch the page and everything it references, like a first visit, and
    the number of requests that took."""
    headers = {"Authorization": f"Basic {auth}"} if auth else {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    start_time = time.perf_counter()

    def get(path: str) -> bytes:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status}")
        return body

    html = get(PAGE).decode()
    assets = [urljoin(PAGE, a or b) for a, b in ASSET.findall(html)]
    assets = list(dict.fromkeys([*assets, urljoin(PAGE, "../search/search_index.json")]))
    for asset in assets:
        get(asset)
    seconds = time.perf_counter() - start_time
    connection.close()
    return seconds, 1 + len(assets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=20, help="page loads per variant")
    args = parser.parse_args()
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="dealroom-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx's unprivileged workers read the published files
        project = root / "project"
        shutil.copytree(REPO / "deals", project / "deals")
        config = yaml.safe_load((REPO / "mkdocs.yml").read_text().replace("!ENV", ""))
        config["theme"].pop("custom_dir", None)
        config["plugins"] = ["search", {"dealroom": {"contributors_enabled": False}}]
        (project / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        scope = Scope.of(project, project / "deals", "alpine-retail")
        password = add_viewer(project, scope, "reader")
        auth = base64.b64encode(f"reader:{password}".encode()).decode()

        cost5 = root / "cost5"
        publish(project / "mkdocs.yml", cost5)
        cost10 = root / "cost10"
        shutil.copytree(cost5, cost10, symlinks=True)
        htpasswd = cost10 / "current" / "htpasswd" / "alpine-retail.htpasswd"
        htpasswd.write_text(f"reader:{hash_password(password, cost=10)}\n", encoding="utf-8")

        ports = {name: free_port() for name in ("plain", "cost 5", "cost 10")}
        confs = {
            "plain": plain_config(root / "plain", cost5 / "current" / "sites", ports["plain"]),
            "cost 5": write_nginx_config(cost5, f"127.0.0.1:{ports['cost 5']}", root / "h5"),
            "cost 10": write_nginx_config(cost10, f"127.0.0.1:{ports['cost 10']}", root / "h10"),
        }
        for conf in confs.values():
            start(conf)
        requests = 0
        try:
            times: dict[str, list[float]] = {name: [] for name in confs}
            for _ in range(args.loads):  # interleaved, so drift weighs on each alike
                for name in confs:
                    seconds, requests = page_load(ports[name], None if name == "plain" else auth)
                    times[name].append(seconds)
        finally:
            for conf in confs.values():
                stop(conf)
        baseline = statistics.median(times["plain"])
        print(f"page load of {PAGE} with its assets ({requests} requests), median of "
              f"{args.loads}:")  # fmt: skip
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:>8}: {median * 1000:7.1f} ms   ratio to plain: {median / baseline:5.1f}")
        verdict = "met" if statistics.median(times["cost 5"]) < 0.3 else "NOT met"
        print(f"target: protected page load well under 300 ms: {verdict}")


if __name__ == "__main__":
    main()
