"""The book as one PDF, laid out like the report: ``python -m ewc book --pdf [PATH]``.

Jupyter Book's ``singlehtml`` builder renders every chapter into one page; headless Chromium prints that page.
Chromium runs with a virtual-time budget: virtual time stands still while files load and fast-forwards through idle
timers, so the bundled MathJax (``book/_static/mathjax``, see ``_config.yml``) loads and typesets every equation before
the page is printed, and a slow machine does not cut it short. When poppler's ``pdftotext`` is installed the PDF is
checked for TeX that was left unrendered. Nothing is fetched from another machine: the page and its scripts are local
files, and Chromium's name resolution and proxy point nowhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from ewc.errors import EwcError
from ewc.paths import PDF_PATH, ROOT
from ewc.site import jupyter_book_command

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

#: Headless Chromium that reaches no other machine: no background services, every host name resolves nowhere, and
#: the proxy is a closed local port (the book and its scripts are local files).
OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
    "--proxy-server=127.0.0.1:9",
)

#: Virtual milliseconds the page may run before it is printed; idle-time only, so a slow machine needs no more.
VIRTUAL_TIME_BUDGET_MS = 120_000
#: Wall-clock limit for one Chromium print, seconds (a hung browser is an error, not a hung book build).
CHROMIUM_TIMEOUT_S = 600

#: Added to the printed page only: A4 with report-like margins; every chapter (the section after singlehtml's
#: ``document-<name>`` marker) starts a new page; a displayed equation stays on one page with its number, a heading
#: with what follows it; the collapsed "Show code cell source" toggles, which a reader of paper cannot open, are left
#: out (the HTML book keeps them).
PRINT_CSS = """<style media="print">
@page { size: A4; margin: 18mm 16mm 18mm 16mm; }
span[id^="document-"] + section { break-before: page; }
div.math, tr { break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; }
details.hide:not([open]) { display: none !important; }
</style>
"""

# TeX delimiters and commands that only survive into the PDF's text when MathJax did not typeset them.
_RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\(?:sum|frac|mathcal|theta|lambda)(?![A-Za-z])")


def find_chromium() -> str:
    """The path of a headless-capable Chromium on ``$PATH``.

    Raises:
        EwcError: none is installed.
    """
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise EwcError("the PDF needs headless Chromium, which is not installed (Debian: apt-get install chromium)")


def build_singlehtml(source_dir: str | os.PathLike, build_dir: str | os.PathLike) -> Path:
    """Render the book in ``source_dir`` (its ``_config.yml``, ``_toc.yml`` and chapters) into one HTML page under
    ``build_dir`` (warnings are errors, as for the HTML book) and return the page to print.

    Sphinx's ``singlehtml`` writes the root document at its own path (``book/intro.html``) but makes every link
    relative to the build root, so the page to print is a copy at the root, with links into the page made local
    anchors and the print style sheet added.

    Raises:
        EwcError: the build failed or warned.
    """
    source_dir, build_dir = Path(source_dir).resolve(), Path(build_dir).resolve()
    cmd = jupyter_book_command() + [
        "build",
        str(source_dir),
        "--path-output",
        str(build_dir),
        "--builder",
        "singlehtml",
        "--all",
        "--warningiserror",
        "--nitpick",
        "--keep-going",
    ]
    proc = subprocess.run(cmd, cwd=source_dir, capture_output=True, text=True)
    root_doc = yaml.safe_load((source_dir / "_toc.yml").read_text())["root"]  # e.g. "book/intro"
    built = build_dir / "_build" / "singlehtml"
    page = built / f"{root_doc}.html"
    if proc.returncode != 0 or not page.is_file():
        lines = (proc.stdout + proc.stderr).splitlines()
        problems = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln] or lines[-15:]
        print("\n".join(problems), file=sys.stderr)
        raise EwcError(f"jupyter-book singlehtml build failed with {len(problems)} warning/error line(s)")
    html = page.read_text()
    html = html.replace(f'href="{root_doc}.html#', 'href="#')
    html = html.replace("</head>", PRINT_CSS + "</head>", 1)
    printable = built / "print.html"
    printable.write_text(html)
    return printable


def print_to_pdf(
    page: str | os.PathLike, out_pdf: str | os.PathLike, chromium: str, profile_dir: str | os.PathLike
) -> Path:
    """Print the local HTML ``page`` to ``out_pdf`` with headless ``chromium`` (a fresh ``profile_dir``).

    Raises:
        EwcError: Chromium failed, timed out or wrote no PDF.
    """
    out_pdf = Path(out_pdf)
    args = [
        chromium,
        *OFFLINE_FLAGS,
        "--disable-quic",
        f"--user-data-dir={profile_dir}",
        "--run-all-compositor-stages-before-draw",
        f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
        "--no-pdf-header-footer",
        "--generate-pdf-document-outline",
        f"--print-to-pdf={out_pdf}",
        Path(page).resolve().as_uri(),
    ]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EwcError(f"Chromium did not print the book within {CHROMIUM_TIMEOUT_S} s") from None
    if proc.returncode != 0 or not out_pdf.is_file() or out_pdf.stat().st_size == 0:
        errors = [ln for ln in proc.stderr.splitlines() if "dbus" not in ln.lower()]  # dbus noise: no session bus
        print("\n".join(errors[-15:]), file=sys.stderr)
        raise EwcError(f"Chromium failed to print the book (exit status {proc.returncode})")
    return out_pdf


def unrendered_tex(pdf: str | os.PathLike) -> list[str]:
    """Raw TeX found in the text of ``pdf`` (``\\(``, ``$$``, ``\\sum`` ...): empty when MathJax typeset every
    equation, or when poppler's ``pdftotext`` is not installed (nothing can be said then)."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        return []
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return sorted(set(_RAW_TEX.findall(text)))


def build_pdf(source_dir: str | os.PathLike = ROOT, out_pdf: str | os.PathLike | None = None) -> Path:
    """Build the book in ``source_dir`` as one PDF at ``out_pdf`` (default ``_build/pdf/ewc-book.pdf``), replacing
    any previous one only when the new one is complete.

    Raises:
        EwcError: no Chromium, the build failed, or the printed PDF still shows raw TeX; ``out_pdf`` is untouched.
    """
    chromium = find_chromium()
    out_pdf = Path(out_pdf or PDF_PATH).resolve()
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_pdf.parent, prefix=".pdf-build-") as tmp:
        page = build_singlehtml(source_dir, Path(tmp) / "html")
        printed = print_to_pdf(page, Path(tmp) / out_pdf.name, chromium, Path(tmp) / "chromium-profile")
        raw = unrendered_tex(printed)
        if raw:
            raise EwcError(f"the PDF shows unrendered TeX ({', '.join(raw)}): MathJax did not finish typesetting")
        os.replace(printed, out_pdf)  # same directory tree: the old PDF is replaced whole or not at all
    return out_pdf
