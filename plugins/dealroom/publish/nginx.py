"""nginx configuration for the server-enforced mode: each deal behind its own password
file, privacy headers, and a standalone nginx.conf for `dealroom host`."""

from __future__ import annotations

import os
import pwd
import re
import stat
from pathlib import Path

import jinja2

NGINX_TEMPLATES = Path(__file__).parent / "templates"
# Unprivileged users nginx's workers run as, Debian's first; never root.
WORKER_USERS = ("www-data", "nginx", "nobody")
# Paths go into nginx's configuration as they are: nothing that could end a directive.
SAFE_PATH = re.compile(r"^[\w./@+-]+$")
DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9-]{1,63}")


class NginxError(Exception):
    """The nginx configuration cannot be written or would not work; says how to fix it."""


def worker_user() -> str:
    """The user a root-started nginx should run its workers as ("" when not root: the
    workers then run as the user who started nginx)."""
    if os.geteuid() != 0:
        return ""
    for name in WORKER_USERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise NginxError("no unprivileged user for nginx's workers (www-data, nginx or nobody)")


def unreadable_for_others(path: Path) -> Path | None:
    """The first folder on the way to `path` that other users cannot enter, if any."""
    for folder in [path, *path.parents]:
        try:
            mode = folder.stat().st_mode
        except OSError:
            return folder
        if not mode & stat.S_IXOTH:
            return folder
    return None


def write_nginx_config(
    out: Path, listen: str, folder: Path | None = None, domain: str = ""
) -> Path:
    """Write server.conf (to include in nginx's http block), headers.conf, auth.conf and
    a standalone nginx.conf into `folder` (default OUT/nginx); returns nginx.conf. With a
    `domain`, each deal is served at the root of `<slug>.<domain>`, its own origin."""
    folder = (folder or out / "nginx").resolve()
    for path in (out.resolve(), folder):
        if not SAFE_PATH.match(str(path)):
            raise NginxError(
                f"{path}: nginx paths may hold only letters, digits and . _ - + @ /; "
                "publish to a folder without spaces or quotes"
            )
    if not re.fullmatch(r"[\w.:\[\]]+", listen):
        raise NginxError(f"--listen '{listen}': give an address such as 127.0.0.1:8080 or 8080")
    if domain and not DOMAIN.fullmatch(domain):
        raise NginxError(f"--domain '{domain}': give a host name such as rooms.example.com")
    state_dir = folder / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(NGINX_TEMPLATES), keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )  # fmt: skip
    values = {
        "root": out.resolve(),
        "listen": listen,
        "state_dir": state_dir,
        "access_log": state_dir / "access.log",
        "server_conf": folder / "server.conf",
        "headers_conf": folder / "headers.conf",
        "auth_conf": folder / "auth.conf",
        # Workers never run as root: a started-as-root nginx hands them to www-data.
        "user": worker_user(),
        "domain": domain.lower(),
    }
    for name in ("server.conf", "headers.conf", "auth.conf", "nginx.conf"):
        text = environment.get_template(name).render(values)
        (folder / name).write_text(text, encoding="utf-8")
    return folder / "nginx.conf"
