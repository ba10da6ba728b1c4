"""What a published asset may contain: nothing a browser runs when it opens the file.

A deal's assets are served with the deal rooms' origin. Most are inert (images, PDFs,
spreadsheets), but a browser opens some types as documents that can run script: web
pages and scripts are refused by name (`files.ACTIVE_SUFFIXES`), and drawings (SVG) are
read and published only if every element is a drawing element and nothing can run or
load from outside: no scripts or event handlers, no `javascript:` or outside links, no
embedded HTML, animations or entity declarations. Refusals say what was found.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from .files import Refused, read_text

MAX_DRAWING = 10_000_000  # bytes of an SVG drawing that is checked; larger: export PNG
SVG = "http://www.w3.org/2000/svg"
XHTML = "http://www.w3.org/1999/xhtml"
XLINK = "http://www.w3.org/1999/xlink"
_FILTERS = (
    "Blend", "ColorMatrix", "ComponentTransfer", "Composite", "ConvolveMatrix",
    "DiffuseLighting", "DisplacementMap", "DistantLight", "DropShadow", "Flood", "FuncA",
    "FuncB", "FuncG", "FuncR", "GaussianBlur", "Image", "Merge", "MergeNode", "Morphology",
    "Offset", "PointLight", "SpecularLighting", "SpotLight", "Tile", "Turbulence",
)  # fmt: skip
# Drawing elements; not script, foreignObject (HTML inside), animate/set (which can
# change a link to `javascript:`), iframe, or anything else.
DRAWING_ELEMENTS = frozenset({
    "svg", "g", "defs", "symbol", "use", "title", "desc", "metadata", "path", "rect",
    "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan", "textPath",
    "image", "clipPath", "mask", "marker", "pattern", "linearGradient", "radialGradient",
    "stop", "filter", "style", "switch", "view", "a",
    *(f"fe{name}" for name in _FILTERS),
})  # fmt: skip
_SPACES = re.compile(r"[\x00-\x20]+")
_OUTSIDE = re.compile(r"(?:url\(|@import)\s*['\"]?\s*(?!data:)(?:[a-z][a-z0-9+.-]*:|//)", re.I)
# Entities can expand without bound; a DOCTYPE that only names the SVG DTD is harmless.
_DECLARATIONS = re.compile(r"<!ENTITY|<!DOCTYPE[^>\[]*\[")
# Processing instructions (an XSLT stylesheet can turn the file into a page); the parser
# drops them, so they are looked for in the text. `<?xml ...?>` is the declaration.
_INSTRUCTION = re.compile(r"<\?(?!xml[\s?])", re.I)
# Namespaces whose elements a browser renders and could run: checked element by element.
_RENDERED = {SVG, "", "http://www.w3.org/1998/Math/MathML"}
_LOCAL_URL = re.compile(r"^(?:#|data:image/(?:png|jpeg|gif|webp)[;,])", re.I)


def drawing_problem(path: Path) -> str | None:
    """Why the SVG drawing at `path` may not be published, or None if it is inert."""
    try:
        text = read_text(path, MAX_DRAWING)
    except Refused as refusal:
        return str(refusal).replace("(max_file_size)", "to be checked; export it as PNG")
    if _DECLARATIONS.search(text):
        return "declares entities; export the drawing again without them"
    if _INSTRUCTION.search(text):
        return "has a processing instruction (<?...?>); export the drawing again without it"
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        return f"is not a well-formed SVG drawing ({error})"
    for element in root.iter():
        namespace, local = _split(element.tag)
        if namespace == XHTML or (namespace in _RENDERED and local not in DRAWING_ELEMENTS):
            return (
                f"contains a <{local}> element; a published drawing may hold drawing elements "
                "only (no scripts, embedded pages or animations)"
            )
        for name, value in element.attrib.items():
            attribute = _split(name)[1]
            if attribute.lower().startswith("on"):
                return f"has an {attribute} attribute (a script); remove it"
            squashed = _SPACES.sub("", value)
            if attribute == "href" and squashed and not _LOCAL_URL.match(squashed):
                return f"links to {value[:60]!r}; a drawing may link only within itself"
            if "javascript:" in squashed.lower() or _OUTSIDE.search(value):
                return f"has a {attribute} that runs or loads from outside; remove it"
        if (
            local == "style"
            and element.text
            and (_OUTSIDE.search(element.text) or "javascript:" in element.text.lower())
        ):
            return "has a style that loads from outside; remove it"
    return None


def _split(name: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag or attribute name."""
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        return namespace, local
    return "", name
