"""A Content-Security-Policy for every deal page: only the theme's own scripts run.

The policy goes into the page itself (a `<meta>` element first in `<head>`), so it holds
on any host and in both publish modes, and the nginx headers add `frame-ancestors`.
Material's inline scripts are allowed by their hashes, computed from the rendered page
with the page's content cut out first: an inline script in the seller's content (even
with `allow_raw_html`) is never hashed, so it never runs; nor do event handlers or
`javascript:` URLs, since the policy has no 'unsafe-inline' for scripts.
"""

from __future__ import annotations

import base64
import hashlib
import re

HEAD = "<head>"
# Scripts with a `src` load from the site itself ('self'); only inline ones are hashed.
_INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_DATA_BLOCK = re.compile(r"\btype=[\"']?(?!text/javascript|module)[\w/+.-]+", re.IGNORECASE)
POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' blob:; "
    "media-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'"
)


def theme_script_hashes(theme_html: str) -> list[str]:
    """CSP source expressions for the inline scripts in markup the theme rendered."""
    hashes = []
    for attributes, body in _INLINE_SCRIPT.findall(theme_html):
        if "src=" in attributes.lower() or _DATA_BLOCK.search(attributes):
            continue  # external scripts are 'self'; JSON data blocks never run
        digest = hashlib.sha256(body.encode("utf-8")).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return sorted(set(hashes))


def with_policy(page_html: str, content: str = "") -> str:
    """`page_html` with its policy as the first element of `<head>`. `content` is the
    part of the page that came from the deal (its article), whose scripts never run."""
    if content and page_html.count(content) != 1:
        theme_html = ""  # cannot tell theme from content: no inline script may run
    else:
        before, _, after = page_html.partition(content) if content else (page_html, "", "")
        theme_html = before + after
    hashes = "".join(f" {value}" for value in theme_script_hashes(theme_html))
    meta = f'<meta http-equiv="Content-Security-Policy" content="{POLICY.format(hashes=hashes)}">'
    return page_html.replace(HEAD, f"{HEAD}\n    {meta}", 1)
