"""What a reader sees on the built book's pages: the visible text of each page (prose and cell outputs, not the
collapsed code), its word count, and internal identifiers that leaked into it.

``python tests/reader.py [HTML_DIR]`` prints each page's visible words (default ``_build/html``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from bs4 import BeautifulSoup

#: Not what a reader reads: the code of cells (collapsed or removed), scripts, heading anchors, typeset equations.
HIDDEN = ("div.cell_input", "script", "style", "a.headerlink", "span.math", "div.math", "div.toggle-hidden")

#: Internal names a reader must not meet (the code behind the collapsed cells may use them).
INTERNAL = {
    "run id": re.compile(r"\b(?:none|l2|ewc-all|ewc-previous|ewc-online)(?:_[a-z0-9]+-[\w.-]+)+|\b[\w.-]+/seed-\d+\b"),
    "module path": re.compile(r"\bewc\.[a-z_]+(?:\.[a-z_]+)*\b"),
    "dict repr": re.compile(r"\{\s*['\"][^'\"]*['\"]\s*:"),
    "list repr": re.compile(r"\[\s*['\"]|\[-?\d+(?:, -?\d+){2,}\]"),
}

BOOK_WORDS = 12_000
PAGE_WORDS = 1_500


def visible_text(page: Path) -> str:
    """The page's article as a reader sees it, as plain text."""
    soup = BeautifulSoup(page.read_text(), "html.parser")
    article = soup.select_one("article.bd-article")
    for selector in HIDDEN:
        for element in article.select(selector):
            element.decompose()
    return article.get_text(" ")


def pages(html_dir: Path) -> list[Path]:
    return sorted(p for p in html_dir.rglob("*.html") if p.parent.name == "book" or p.name == "index.html")


def word_counts(html_dir: Path) -> dict[str, int]:
    """Visible words per chapter page (``book/<name>.html``)."""
    return {p.stem: len(visible_text(p).split()) for p in sorted((html_dir / "book").glob("*.html"))}


def internal_names(text: str) -> dict[str, list[str]]:
    found = {kind: sorted({m.group(0) for m in pattern.finditer(text)}) for kind, pattern in INTERNAL.items()}
    return {kind: hits for kind, hits in found.items() if hits}


if __name__ == "__main__":
    counts = word_counts(Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html"))
    for name, words in counts.items():
        print(f"{name:28s} {words:6d}{'  over ' + str(PAGE_WORDS) if words > PAGE_WORDS else ''}")
    print(f"{'book':28s} {sum(counts.values()):6d} (at most {BOOK_WORDS})")
