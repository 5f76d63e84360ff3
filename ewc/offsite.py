"""Does a built HTML book load anything from another machine? (It must not: readers may be offline, and the book
bundles MathJax for that reason.)"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

_RESOURCE_ATTRS = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
}


class _ResourceParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and name in _RESOURCE_ATTRS.get(tag, ()):
                urls = [u.strip().split()[0] for u in value.split(",") if u.strip()] if name == "srcset" else [value]
                self.urls += [(tag, u) for u in urls]


def is_offsite(url: str) -> bool:
    """True when a browser would fetch ``url`` from another machine (http(s), protocol-relative, ftp, ...)."""
    url = url.strip()
    if url.startswith("//"):
        return True
    scheme = urlsplit(url).scheme.lower()
    return scheme not in ("", "file", "data", "blob", "about", "javascript")


def offsite_references(html_dir: str | os.PathLike) -> list[str]:
    """``file: <tag> url`` for every script/link/img/... in the built HTML, and every CSS ``url()``/``@import``,
    that points off this machine. Empty when the book is self-contained."""

    html_dir = Path(html_dir)
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        parser = _ResourceParser()
        parser.feed(page.read_text(errors="replace"))
        found += [f"{page.relative_to(html_dir)}: <{tag}> {url}" for tag, url in parser.urls if is_offsite(url)]
    css_url = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""")
    for sheet in sorted(html_dir.rglob("*.css")):
        found += [
            f"{sheet.relative_to(html_dir)}: css {u}"
            for u in css_url.findall(sheet.read_text(errors="replace"))
            if is_offsite(u)
        ]
    return found
