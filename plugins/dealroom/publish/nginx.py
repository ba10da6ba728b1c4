"""nginx configuration for the server-enforced mode: each deal behind its own password
file, privacy headers, and a standalone nginx.conf for `dealroom host`."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import jinja2

NGINX_TEMPLATES = Path(__file__).parent / "templates"


def write_nginx_config(out: Path, listen: str, folder: Path | None = None) -> Path:
    """Write server.conf (to include in nginx's http block), headers.conf, auth.conf and
    a standalone nginx.conf into `folder` (default OUT/nginx); returns nginx.conf."""
    folder = (folder or out / "nginx").resolve()
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
        # A root master would run workers as `nobody`, who cannot read a private folder.
        "user": getpass.getuser() if os.geteuid() == 0 else "",
    }
    for name in ("server.conf", "headers.conf", "auth.conf", "nginx.conf"):
        text = environment.get_template(name).render(values)
        (folder / name).write_text(text, encoding="utf-8")
    return folder / "nginx.conf"
