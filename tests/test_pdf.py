"""The PDF of the book (``python -m ewc book --pdf``), read back with poppler: the title page, every chapter on a page
of its own in book order, the Background's equations typeset (no raw TeX in the text, the glyphs drawn as ink where
no text is), and the Results chapters' figures embedded as images."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import nbformat
import numpy as np
import pytest
import yaml
from helpers import POPPLER, ROOT, run_cli

from ewc import pdf, site
from ewc.errors import EwcError

ARTIFACTS = ROOT / "artifacts"
RESULTS_CHAPTERS = ("results_no_penalty", "results_ewc_all", "results_ewc_previous")
# Written here, apart from ewc.pdf's own check: TeX that MathJax replaces when it typesets.
RAW_TEX = re.compile(r"\\\(|\\\[|\$\$|\\sum_|\\frac|\\theta|\\lambda|\\mathcal")

needs_chromium = pytest.mark.skipif(
    not any(shutil.which(n) for n in pdf.CHROMIUM_NAMES),
    reason="headless Chromium is not installed (Debian: apt-get install chromium)",
)
needs_poppler = pytest.mark.skipif(
    not all(shutil.which(t) for t in POPPLER), reason="poppler is not installed (Debian: apt-get install poppler-utils)"
)


# --- reading a PDF back with poppler --------------------------------------------------------------------------------


def page_texts(path: Path) -> list[str]:
    """The text of every page, in layout order (``pdftotext -layout``)."""
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]  # every page ends with a form feed


def word_boxes(path: Path, page: int) -> list[tuple[str, float, float, float, float]]:
    """``(word, x0, y0, x1, y1)`` for every word on ``page`` (1-based), in points from the top left."""
    out = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    return [
        (html.unescape(w), float(x0), float(y0), float(x1), float(y1)) for x0, y0, x1, y1, w in re.findall(pattern, out)
    ]


def render(path: Path, page: int, dpi: int, png: Path, gray: bool = True) -> np.ndarray:
    """``page`` rendered by ``pdftoppm`` to ``png``; returns its pixels in [0, 1], (H, W) when gray."""
    stem = png.with_suffix("")
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            *(["-gray"] if gray else []),
            "-r",
            str(dpi),
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(path),
            str(stem),
        ],
        check=True,
    )
    pixels = matplotlib.image.imread(png)
    return pixels[..., 0] if pixels.ndim == 3 else pixels


def text_mask(shape: tuple[int, int], boxes, dpi: int, pad_pt: float = 1.5) -> np.ndarray:
    """True on the pixels covered by the word ``boxes`` (grown by ``pad_pt`` points)."""
    mask = np.zeros(shape, bool)
    scale = dpi / 72
    for _, x0, y0, x1, y1 in boxes:
        mask[
            int((y0 - pad_pt) * scale) : int(np.ceil((y1 + pad_pt) * scale)),
            int((x0 - pad_pt) * scale) : int(np.ceil((x1 + pad_pt) * scale)),
        ] = True
    return mask


def chapter_titles() -> dict[str, str]:
    """Chapter name -> its ``# `` heading in the source, in ``_toc.yml`` order."""
    titles = {}
    for path in site.toc_files():
        if path.suffix == ".md":
            text = path.read_text()
        else:
            text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        titles[path.stem] = re.search(r"^# (.+)$", text, re.M).group(1).strip()
    return titles


def chapter_pages(texts: list[str]) -> dict[str, list[int]]:
    """Chapter name -> its pages (1-based): from the page that begins with its title to the next chapter's."""

    def opening(text):  # the first words of a page, a heading wrapped over lines joined
        return " ".join(text.split()[:40])

    starts = {}
    for name, title in chapter_titles().items():
        found = [
            i for i, t in enumerate(texts, 1) if opening(t).startswith(title) and i > max(starts.values(), default=0)
        ]
        assert found, f"no page begins with the chapter title {title!r}"
        starts[name] = found[0]
    bounds = [*starts.values(), len(texts) + 1]
    return {name: list(range(bounds[i], bounds[i + 1])) for i, name in enumerate(starts)}


# --- without a book -------------------------------------------------------------------------------------------------


def test_find_chromium_says_what_to_install(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(EwcError, match=r"headless Chromium.*apt-get install chromium") as err:
        pdf.find_chromium()
    assert "\n" not in str(err.value)


def test_pdf_without_chromium_is_refused_before_anything_is_built(tmp_path):
    """With no Chromium on $PATH: one line on stderr, exit status 2, and no HTML built either."""
    proc = run_cli(
        "book",
        "--no-execute",
        "--html-dir",
        str(tmp_path / "html"),
        "--pdf",
        str(tmp_path / "b.pdf"),
        env={"PATH": str(Path(sys.executable).parent)},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("error: ")
    assert "Chromium" in proc.stderr
    assert not (tmp_path / "html").exists() and not (tmp_path / "b.pdf").exists()


@needs_chromium
@needs_poppler
def test_print_waits_for_mathjax_and_raw_tex_is_caught(tmp_path):
    """The same equations printed with and without the book's MathJax: typeset, nothing of the TeX is left in the
    text; without it, ``unrendered_tex`` finds the delimiters and commands."""
    mathjax = (ROOT / "book" / "_static" / "mathjax" / "tex-svg.js").as_uri()
    body = r"<p>Inline \(\sum_i F_i \theta_i\) and display $$\frac{\lambda}{2} \mathcal{L}$$</p>"
    for name, head in (("typeset", f'<script defer src="{mathjax}"></script>'), ("raw", "")):
        (tmp_path / f"{name}.html").write_text(f"<!doctype html><html><head>{head}</head><body>{body}</body></html>")
        pdf.print_to_pdf(
            tmp_path / f"{name}.html", tmp_path / f"{name}.pdf", pdf.find_chromium(), tmp_path / f"profile-{name}"
        )
    assert pdf.unrendered_tex(tmp_path / "typeset.pdf") == []
    assert RAW_TEX.search(page_texts(tmp_path / "typeset.pdf")[0]) is None
    assert {"\\(", "$$", "\\sum", "\\frac"} <= set(pdf.unrendered_tex(tmp_path / "raw.pdf"))


# --- the book -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def book_pdf(built_book) -> Path:
    """``python -m ewc book --no-execute --pdf PATH`` from the committed chapters (the session's ``built_book``)."""
    if built_book.pdf is None:
        pytest.skip("headless Chromium or poppler is not installed (Debian: apt-get install chromium poppler-utils)")
    assert built_book.pdf.is_file() and (built_book.html / "index.html").is_file()
    return built_book.pdf


def test_pdf_opens_with_the_title(book_pdf):
    """Page 1's largest words are the book's title, and its rendering has their ink; the document's title is
    _config.yml's."""
    info = subprocess.run(["pdfinfo", str(book_pdf)], capture_output=True, text=True, check=True).stdout
    assert (
        re.search(r"^Title:\s+(.*)$", info, re.M).group(1)
        == yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    )
    assert re.search(r"Page size:\s+59\d\.\d+ x 84\d\.\d+ pts \(A4\)", info)
    boxes = word_boxes(book_pdf, 1)
    tallest = max(y1 - y0 for _, _, y0, _, y1 in boxes)
    title = [b for b in boxes if b[4] - b[2] > 0.9 * tallest]
    assert " ".join(w for w, *_ in title) == chapter_titles()["intro"]

    ARTIFACTS.mkdir(exist_ok=True)
    render(book_pdf, 1, 60, ARTIFACTS / "pdf-page-1.png", gray=False)  # for a person to look at
    dpi = 50
    pixels = render(book_pdf, 1, dpi, book_pdf.parent / "page-1.png")
    dark = pixels < 0.5
    in_title = text_mask(dark.shape, title, dpi, pad_pt=0)
    assert dark[in_title].mean() > 0.1, "the title's letters are drawn"
    assert dark[~in_title].sum() < dark.sum(), "and the rest of the page is not blank"


def test_pdf_starts_every_chapter_on_a_new_page_in_book_order(book_pdf):
    pages = chapter_pages(page_texts(book_pdf))
    assert list(pages) == [p.stem for p in site.toc_files()]
    assert pages["intro"][0] == 1
    assert all(pages[name] for name in pages), pages


def test_pdf_background_equations_are_typeset(book_pdf):
    """No TeX source in the Background chapter's text, and its equations drawn: MathJax's SVG glyphs are paths, so
    they are ink outside every word box -- a large share of the chapter's ink, where raw TeX would leave none."""
    texts = page_texts(book_pdf)
    background = chapter_pages(texts)["background"]
    assert len(background) >= 2
    for page in background:
        assert RAW_TEX.search(texts[page - 1]) is None, f"raw TeX on page {page}"
    dpi, outside, total = 50, 0, 0
    for page in background:
        dark = render(book_pdf, page, dpi, book_pdf.parent / f"page-{page}.png") < 0.5
        outside += (dark & ~text_mask(dark.shape, word_boxes(book_pdf, page), dpi)).sum()
        total += dark.sum()
    assert outside > 0.05 * total, f"only {outside} of {total} dark pixels are outside the text"
    render(book_pdf, background[0], 60, ARTIFACTS / "pdf-background.png", gray=False)


def test_pdf_results_chapters_have_their_figures(book_pdf):
    """Each Results chapter embeds at least one figure-sized image (``pdfimages -list``; thin strips are
    Chromium's rasterised box shadows)."""
    listing = subprocess.run(["pdfimages", "-list", str(book_pdf)], capture_output=True, text=True, check=True).stdout
    images = [
        (int(f[0]), int(f[3]), int(f[4])) for f in (ln.split() for ln in listing.splitlines()[2:]) if f[2] == "image"
    ]
    pages = chapter_pages(page_texts(book_pdf))
    for name in RESULTS_CHAPTERS:
        figures = [(w, h) for page, w, h in images if page in pages[name] and min(w, h) >= 200]
        assert figures, f"{name}: no figure on pages {pages[name]}"
