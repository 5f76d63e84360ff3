"""Where the checkout keeps things: every path of the repository that the package reads or writes, in one place.

The bottom of the package's layers (``.importlinter``): it imports nothing of ``ewc``, so every module, from the
suites to the commands, takes its paths from here and none takes them from a module above it::

    ROOT/book/*.md, ROOT/_toc.yml                     the chapter sources a person edits
    <results>/<profile>/<group>/seed-<k>.json         one run's results (``results_root``: $EWC_RESULTS_DIR or results/)
    <results>/<profile>/chapters/*.ipynb              the executed chapters (``executed_dir``)
    <results>/<profile>/bench-<name>-<size>.json      a stored benchmark (``bench_path``)
    ROOT/_build/site-<profile>, ROOT/_build/html      the staged book and its HTML (``site_dir``, ``html_dir_for``)
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # ewc/
ROOT = PACKAGE.parent  # the checkout: _config.yml, _toc.yml, book/, results/
BOOK_DIR = ROOT / "book"
TOC = ROOT / "_toc.yml"
BUILD = ROOT / "_build"
WORKFLOW = PACKAGE / "workflow"  # the suites' Snakefile
PDF_PATH = BUILD / "pdf" / "ewc-book.pdf"
RERUN_SCRATCH = BUILD / "rerun"  # where ``--check-against-published`` makes the book again from nothing
IPYTHON_DIR = BUILD / "ipython"  # the chapters' kernels' IPython profile (``console.quiet_kernels``)
REPORT_FIGURES = ROOT / "results" / "report-figures" / "figures.json"  # the report's digitized figures

RESULTS_ENV = "EWC_RESULTS_DIR"  # overrides where suites write (tests use a temporary directory)
CHAPTERS_DIRNAME = "chapters"


def results_root() -> Path:
    """``$EWC_RESULTS_DIR``, else ``results/`` in the checkout."""
    return Path(os.environ.get(RESULTS_ENV) or ROOT / "results")


def executed_dir(profile: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/<profile>/chapters`` (root: ``results_root()`` by default): where the executed chapters go."""
    return Path(root or results_root()) / profile / CHAPTERS_DIRNAME


def bench_path(profile: str, name: str) -> Path:
    """``results/<profile>/bench-<name>-<size>.json``: size ``smoke`` for the smoke profile, else ``full``."""
    size = "smoke" if profile == "smoke" else "full"
    return results_root() / profile / f"bench-{name}-{size}.json"


def book_run_path(profile: str) -> Path:
    """``results/<profile>/book-run.json``: the cost of the last complete ``python -m ewc book`` at ``profile``."""
    return results_root() / profile / "book-run.json"


def rerun_check_path(profile: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/<profile>/rerun-check.json`` (root: ``results_root()`` by default): the last
    ``--check-against-published`` report of ``profile``."""
    return Path(root or results_root()) / profile / "rerun-check.json"


def site_dir(profile: str) -> Path:
    """``_build/site-<profile>``: the book staged for Jupyter Book."""
    return BUILD / f"site-{profile}"


def html_dir_for(profile: str) -> Path:
    """``_build/html`` for the quick profile (the published book), else ``_build/html-<profile>``."""
    return BUILD / ("html" if profile == "quick" else f"html-{profile}")


def relative(path: str | os.PathLike) -> str:
    """``path`` relative to the checkout, for messages; as given when it lies outside."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
