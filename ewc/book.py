"""``python -m ewc book``: train the profile's runs, render the chapters from them, build the HTML (and a PDF).

Where things live (data flows one way, from sources to outputs; running never edits a source)::

    book/*.md                        chapter sources: MyST Markdown notebooks a person edits (and static pages)
    ewc/suites.py                    the runs each profile's book needs (modes x seeds, the grid, the λ sweep)
    results/<profile>/<group>/seed-<k>.json   one run's results (quick: committed, the published record)
    results/<profile>/chapters/*.ipynb        the executed chapters (quick: committed; nbval checks them)
    _build/site-<profile>/           the book assembled for Jupyter Book: static pages + executed chapters
    _build/html (quick) or _build/html-<profile>   the HTML book

Steps of ``python -m ewc book [--profile quick]``:

1. *Runs* (``ewc.run_pool``). Every run the profile's suite declares that has no complete, matching results file
   is trained (an interrupted run resumes from its last finished task), with one live progress display for all of
   them. The same suite runs through Snakemake with ``python -m ewc suite <profile>``.
2. *Benchmarks* (``ewc.bench``) the training-time chapter shows, when missing (each in a fresh process).
3. *Chapters* (``ewc.site``). Each chapter source is executed by papermill in a fresh kernel; chapters only reload
   results and fail, naming the command that makes them, when a result is missing or was made by other code or
   settings. One line per chapter. A chapter that fails stops the book; its error notebook is kept and the HTML is
   not touched.
4. *HTML* (``ewc.site``), built into a fresh directory with warnings as errors, checked for references to other
   machines, and swapped in for the previous one; then the PDF with ``--pdf`` (``ewc.pdf``).

``--no-execute`` skips steps 1-3 and builds from the executed chapters already in ``results/<profile>/chapters``.
``--check-against-published`` retrains every run of the profile afresh into a scratch directory, renders the
chapters from those, and compares every checked line and every mean with the published record (``ewc.rerun``).
"""

from __future__ import annotations

import argparse
import sys
import time

from ewc import bench, book_run, chapter, rerun, run_pool, site, suites
from ewc.config import load_profile
from ewc.console import quiet_native_stderr
from ewc.errors import EwcError
from ewc.paths import PDF_PATH, html_dir_for, relative, site_dir
from ewc.pdf import build_pdf, find_chromium


def main_book(
    profile: str = "quick",
    chapters: list[str] | None = None,
    execute: bool = True,
    html_dir: str | None = None,
    progress: bool = True,
    pdf: str | None = None,
    check_against_published: bool = False,
    jobs: int | None = None,
) -> int:
    """Run the steps of the module docstring. Returns 0, or 1 if a chapter failed or the rerun check found a
    difference (message on stderr). Raises EwcError for user errors (unknown profile or chapter, no Chromium)."""
    load_profile(profile)  # unknown profile -> ConfigError
    chapter.book_suite(profile)  # a profile the book does not render -> EwcError naming its suite
    if pdf:
        find_chromium()  # before anything trains, not after
    if check_against_published:
        if chapters or not execute:
            raise EwcError("--check-against-published reruns every chapter; drop --chapters and --no-execute")
        return rerun.check_against_published(profile, progress=progress, jobs=jobs)
    started = time.time()
    selected = site.select_chapters(chapters)
    jobs = run_pool.default_jobs() if jobs is None else jobs
    work = {}
    with book_run.TreeMemory() as memory:
        if execute:
            try:
                work["runs_trained"] = run_pool.train_pending(profile, progress, jobs)
            except run_pool.WorkerFailed as exc:
                print(f"error: {exc}; the book was not rebuilt", file=sys.stderr)
                return 1
            work["runs_total"] = len(suites.suite(profile).runs)
            work["benches_measured"] = bench.run_missing_benches(profile)
            try:
                site.execute_chapters(selected, profile)
            except site.ChapterError as exc:
                print(f"error: {exc}; the book was not rebuilt", file=sys.stderr)
                return 1
        elif chapters:
            raise EwcError("--chapters only applies when executing (drop --no-execute)")
        out = site.build_html(site.stage_site(profile), html_dir or html_dir_for(profile))
    print(f"built {relative(out / 'index.html')} ({len(list(out.rglob('*.html')))} pages)", file=sys.stderr)
    if execute and not chapters:
        book_run.record_book_run(profile, time.time() - started, memory.peak_mib, jobs, **work)
    if pdf:
        print(f"built {relative(build_pdf(site_dir(profile), pdf))}", file=sys.stderr)
    return 0


def add_book_command(subparsers) -> argparse.ArgumentParser:
    """Register ``book`` on an ``argparse`` sub-parsers object; the parsed args carry ``func``."""
    p = subparsers.add_parser(
        "book",
        help="train the profile's runs, render the chapters (papermill), build the HTML book (Jupyter Book)",
        description="Train every run the profile's suite declares that is not complete, execute the chapters of "
        "_toc.yml in order into results/<profile>/chapters, then build the HTML from a clean directory with warnings "
        "as errors. Chapter sources (book/*.md) are never modified.",
    )
    p.add_argument(
        "--profile",
        default="quick",
        help="profile whose runs the book renders: quick (the published "
        "book) or smoke (seconds per run, for trying the pipeline)",
    )
    p.add_argument(
        "--chapters",
        nargs="+",
        metavar="NAME",
        help="execute only these chapters (file names without "
        ".md); the HTML still includes every chapter, the others as last executed",
    )
    p.add_argument(
        "--no-execute",
        action="store_true",
        help="train and execute nothing; build the HTML from the executed chapters in results/<profile>/chapters",
    )
    p.add_argument(
        "--check-against-published",
        action="store_true",
        help="retrain every run afresh in a scratch directory, render the chapters from it, and compare "
        "every checked line and mean with the published record (exit 1 on a difference)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="train N runs side by side, each in a fresh process with cores/N threads (default 1: about 2.5 GB at "
        "the quick profile; 0 trains in this process)",
    )
    p.add_argument("--html-dir", help="where the HTML goes (default _build/html, or _build/html-<profile>)")
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.add_argument(
        "--pdf",
        nargs="?",
        const=str(PDF_PATH),
        metavar="PATH",
        help="also print the book as one PDF with headless Chromium (default _build/pdf/ewc-book.pdf)",
    )
    p.set_defaults(func=cmd_book)
    return p


def cmd_book(args) -> int:
    if args.jobs is not None and args.jobs < 0:
        raise EwcError(f"--jobs must be >= 0, got {args.jobs}")
    return main_book(
        profile=args.profile,
        chapters=args.chapters,
        execute=not args.no_execute,
        html_dir=args.html_dir,
        progress=not args.no_progress,
        pdf=args.pdf,
        check_against_published=args.check_against_published,
        jobs=args.jobs,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m ewc.book ...``: the same command without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="python -m ewc.book")
    add_book_command(parser.add_subparsers(dest="command"))
    try:
        args = parser.parse_args(["book", *(sys.argv[1:] if argv is None else argv)])
        with quiet_native_stderr():
            return args.func(args)
    except EwcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
