"""``python -m ewc book``: train the profile's runs, render the chapters from them, build the HTML (and a PDF).

Where things live (data flows one way, from sources to outputs; running never edits a source)::

    book/*.md                        chapter sources: MyST Markdown notebooks a person edits (and static pages)
    ewc/suites.py                    the runs each profile's book needs (modes x seeds, the grid, the λ sweep)
    results/<profile>/<group>/seed-<k>.json   one run's results (quick: committed, the published record)
    results/<profile>/chapters/*.ipynb        the executed chapters (quick: committed; nbval checks them)
    _build/site-<profile>/           the book assembled for Jupyter Book: static pages + executed chapters
    _build/html (quick) or _build/html-<profile>   the HTML book

Steps of ``python -m ewc book [--profile quick]``:

1. *Runs.* Every run the profile's suite declares that has no complete, matching results file is trained (an
   interrupted run resumes from its last finished task), with one live progress display for all of them. The same
   suite runs through Snakemake with ``python -m ewc suite <profile>``.
2. *Benchmarks* the training-time chapter shows, when missing (each in a fresh process).
3. *Chapters.* Each chapter source is executed by papermill in a fresh kernel; chapters only reload results and fail,
   naming the command that makes them, when a result is missing or was made by other code or settings. One line
   per chapter. A chapter that fails stops the book; its error notebook is kept and the HTML is not touched.
4. *HTML*, built into a fresh directory with warnings as errors, checked for references to other machines, and
   swapped in for the previous one; then the PDF with ``--pdf``.

``--no-execute`` skips steps 1-3 and builds from the executed chapters already in ``results/<profile>/chapters``.
``--check-against-published`` retrains every run of the profile afresh into a scratch directory, renders the
chapters from those, and compares every checked line and every mean with the published record (``ewc.rerun``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ewc.console import progress_stream, quiet_kernels
from ewc.errors import EwcError
from ewc.files import atomic_write
from ewc.paths import (
    BOOK_DIR,
    IPYTHON_DIR,
    PDF_PATH,
    ROOT,
    TOC,
    bench_path,
    executed_dir,
    html_dir_for,
    relative,
    site_dir,
)
from ewc.pdf import build_pdf, find_chromium

CHECK_TAG = "nbval-check-output"  # the cells whose outputs nbval compares and the rerun check compares


class ChapterError(EwcError):
    """A chapter notebook raised while executing."""


# ---------------------------------------------------------------------------------------------------------------
# Sources


def toc_files() -> list[Path]:
    """Every document of ``_toc.yml`` in reading order (``book/NAME.md``)."""
    import yaml

    toc = yaml.safe_load(TOC.read_text())
    entries = [toc["root"]]

    def walk(node):
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                if "file" in child:
                    entries.append(child["file"])
                walk(child)

    walk(toc)
    files = []
    for entry in entries:
        path = ROOT / f"{entry}.md"
        if not path.is_file():
            raise EwcError(f"_toc.yml lists {entry}, but there is no {entry}.md")
        files.append(path)
    return files


def is_notebook_source(path: Path) -> bool:
    """True for a MyST Markdown notebook (front matter ``file_format: mystnb``), false for a static page."""
    head = path.read_text().split("\n---", 1)[0]
    return path.suffix == ".md" and head.startswith("---") and "file_format: mystnb" in head


def chapter_sources() -> dict[str, Path]:
    """The executable chapters, name (file stem) -> source, in ``_toc.yml`` order."""
    return {p.stem: p for p in toc_files() if is_notebook_source(p)}


def read_chapter(path: Path):
    """A chapter source as an ``nbformat`` notebook (MyST-NB's own reader: no outputs, tags kept)."""
    import nbformat
    from myst_nb.core.read import read_myst_markdown_notebook

    nb = read_myst_markdown_notebook(path.read_text(), path=str(path))
    nb.metadata.pop("file_format", None)
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb = nbformat.from_dict(nb)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # stable ids: a rerun's diff shows what changed, not fresh random ids
    return nb


def notebook_parameters(path: Path) -> dict[str, dict]:
    """The names declared in a chapter's ``parameters`` cell (papermill's own parser)."""
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        ipynb = Path(tmp) / f"{path.stem}.ipynb"
        _write_notebook(read_chapter(path), ipynb)
        return papermill.inspect_notebook(str(ipynb))


def select_chapters(names: list[str] | None) -> dict[str, Path]:
    """The chapters to execute, in book order; EwcError for a name that is not an executable chapter."""
    available = chapter_sources()
    if not names:
        return available
    wanted = {Path(n).stem for n in names}
    unknown = sorted(wanted - set(available))
    if unknown:
        raise EwcError(f"unknown chapter(s): {', '.join(unknown)}; chapters: {', '.join(available)}")
    return {name: path for name, path in available.items() if name in wanted}


def _write_notebook(nb, path: Path) -> None:
    import nbformat

    with atomic_write(path, "w") as f:
        nbformat.write(nb, f)


# ---------------------------------------------------------------------------------------------------------------
# Steps


def train_pending(profile: str, progress: bool = True, jobs: int | None = None) -> int:
    """Train every run of the profile's suite that is not complete and matching, ``jobs`` side by side (default
    ``ewc.run_pool.default_jobs``); returns how many were trained."""
    from tqdm import tqdm

    from ewc import run_pool, suites

    suite = suites.suite(profile)
    pending = [
        (name, c, suite.path(name))
        for name, c in suite.runs.items()
        if suites.status(c, suite.path(name), check_fingerprint=True) != "done"
    ]
    done = len(suite.runs) - len(pending)
    if not pending:
        print(f"runs: all {len(suite.runs)} runs of suite {profile} are complete", file=sys.stderr, flush=True)
        return 0
    jobs = run_pool.default_jobs() if jobs is None else jobs
    print(
        f"runs: training {len(pending)} of {len(suite.runs)} runs of suite {profile} ({done} complete), "
        + (f"{jobs} at a time, each in a fresh process" if jobs else "in this process"),
        file=sys.stderr,
        flush=True,
    )
    with tqdm(
        total=sum(run_pool.declared_images(c) for _, c, _ in pending),
        unit="img",
        unit_scale=True,
        file=progress_stream(),
        disable=not progress,
        bar_format="{desc} {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} img [{elapsed}<{remaining}, "
        "{rate_fmt}] {postfix}",
    ) as bar:
        run_pool.train_runs(pending, jobs, bar)
    print(f"runs: {len(pending)} trained", file=sys.stderr, flush=True)
    return len(pending)


BENCHES = ("penalty", "fisher", "train", "step")


def run_missing_benches(profile: str) -> int:
    """Measure the benches the training-time chapter shows, each in a fresh process, when not stored yet; returns
    how many were measured."""
    from ewc import bench
    from ewc.results import write_json_atomic

    size = "smoke" if profile == "smoke" else "full"
    measured = 0
    for name in BENCHES:
        path = bench_path(profile, name)
        if path.is_file():
            continue
        measured += 1
        print(f"bench: {name} ({size}) ...", file=sys.stderr, flush=True)
        # the per-task sum's memory grows with K: the book times it up to K = 5 (the online form up to 20)
        kwargs = {"ks": (1, 5, 20), "all_up_to": 5} if name == "penalty" else {}
        value = bench.run_isolated(name, size, **kwargs)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(value, path)
    return measured


def execute_chapter(name: str, source: Path, profile: str, out_dir: Path) -> Path:
    """Execute one chapter with papermill into ``out_dir/NAME.ipynb`` (written only when it finished).

    Raises:
        ChapterError: the chapter failed; the message names it and the error notebook (``NAME.error.ipynb``).
    """
    import nbformat
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=out_dir) as tmp:
        template = Path(tmp) / f"{name}.ipynb"
        _write_notebook(read_chapter(source), template)
        executed = Path(tmp) / "executed.ipynb"
        try:
            papermill.execute_notebook(
                str(template),
                str(executed),
                parameters={"profile": profile},
                cwd=str(ROOT),
                kernel_name="python3",
                progress_bar=False,
                # the notebook is complete when the last cell ends: a graceful shutdown only adds a race in which
                # ipykernel, handling the shutdown while its sockets close, logs a ZMQError traceback to stderr
                shutdown_kernel="immediate",
            )
        except Exception as exc:  # PapermillExecutionError, kernel death, missing kernel: all stop the book
            error_nb = out_dir / f"{name}.error.ipynb"
            if executed.is_file():
                shutil.copyfile(executed, error_nb)
            what = f"{exc.ename}: {exc.evalue}" if hasattr(exc, "ename") else f"{type(exc).__name__}: {exc}"
            first = what.strip().splitlines()[0] if what.strip() else what
            raise ChapterError(f"chapter {name} failed ({first}); error notebook: {relative(error_nb)}") from None
        nb = nbformat.read(executed, as_version=4)
    pm = nb.metadata.get("papermill", {})
    pm["input_path"] = relative(source)
    pm["output_path"] = relative(out_dir / f"{name}.ipynb")
    for key in ("start_time", "end_time", "duration"):  # keep reruns' diffs to what changed
        pm.pop(key, None)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # papermill's injected cell arrives with a random id
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            cell.metadata["tags"] = tags + ["hide-input"]  # shown folded in the book, like the parameters cell
    out = out_dir / f"{name}.ipynb"
    _write_notebook(nb, out)
    (out_dir / f"{name}.error.ipynb").unlink(missing_ok=True)
    return out


def execute_chapters(chapters: dict[str, Path], profile: str, out_dir: Path | None = None) -> None:
    """Execute ``chapters`` in order, one line each; stops at the first failure (ChapterError)."""
    out_dir = out_dir or executed_dir(profile)
    with _kernel_environment():
        for i, (name, source) in enumerate(chapters.items(), 1):
            started = time.time()
            try:
                execute_chapter(name, source, profile, out_dir)
            except ChapterError:
                print(f"chapter {i}/{len(chapters)}: {name} failed", file=sys.stderr, flush=True)
                raise
            print(f"chapter {i}/{len(chapters)}: {name} ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)


class _kernel_environment:
    """While chapters run, their kernels (which inherit this environment) import this checkout's ewc; the caller's
    environment is restored afterwards."""

    def __enter__(self):
        self.saved = dict(os.environ)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ["IPYTHONDIR"] = quiet_kernels(IPYTHON_DIR)
        return self

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


def stage_site(profile: str, chapters_dir: Path | None = None) -> Path:
    """Assemble ``_build/site-<profile>``: the configuration, the static pages and the executed chapters in the
    places ``_toc.yml`` names, so Jupyter Book renders the executed notebooks (it never executes anything)."""
    chapters_dir = chapters_dir or executed_dir(profile)
    site = site_dir(profile)
    if site.exists():
        shutil.rmtree(site)
    (site / "book").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copyfile(ROOT / name, site / name)
    for path in BOOK_DIR.iterdir():
        if path.is_dir():
            shutil.copytree(path, site / "book" / path.name)
        elif not (path.suffix == ".md" and is_notebook_source(path)) and path.suffix in (".md", ".bib"):
            shutil.copyfile(path, site / "book" / path.name)
    missing = []
    for name in chapter_sources():
        executed = chapters_dir / f"{name}.ipynb"
        if not executed.is_file():
            missing.append(name)
            continue
        shutil.copyfile(executed, site / "book" / f"{name}.ipynb")
    if missing:
        raise EwcError(
            f"no executed chapter(s) {', '.join(missing)} in {relative(chapters_dir)}; run: python -m ewc book"
            + ("" if profile == "quick" else f" --profile {profile}")
        )
    return site


def jupyter_book_command() -> list[str]:
    """``jupyter-book`` of this Python environment."""
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


def build_html(site: Path, html_dir: str | os.PathLike) -> Path:
    """Build the staged book from a clean build directory (warnings are errors) and swap it in for ``html_dir``.

    Raises:
        EwcError: the build failed or warned, or the HTML references another machine; ``html_dir`` is untouched.
    """
    from ewc.offsite import offsite_references

    html_dir = Path(html_dir).resolve()
    html_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=html_dir.parent, prefix=".book-build-") as tmp:
        cmd = jupyter_book_command() + [
            "build",
            str(site),
            "--path-output",
            tmp,
            "--builder",
            "html",
            "--all",
            "--warningiserror",
            "--nitpick",
            "--keep-going",
        ]
        proc = subprocess.run(cmd, cwd=site, capture_output=True, text=True)
        built = Path(tmp) / "_build" / "html"
        if proc.returncode != 0 or not (built / "index.html").is_file():
            lines = (proc.stdout + proc.stderr).splitlines()
            problems = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln] or lines[-15:]
            print("\n".join(problems), file=sys.stderr)
            raise EwcError(
                f"jupyter-book build failed with {len(problems)} warning/error line(s); "
                f"the previous HTML in {relative(html_dir)} is unchanged"
            )
        offsite = offsite_references(built)
        if offsite:
            raise EwcError(f"the built HTML loads {len(offsite)} resource(s) from other machines, e.g. {offsite[0]}")
        old = Path(tmp) / "previous-html"
        if html_dir.exists():
            os.replace(html_dir, old)  # same filesystem: two renames, never a half-written book
        os.replace(built, html_dir)
    return html_dir


# ---------------------------------------------------------------------------------------------------------------
# The command


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
    from ewc import book_run, chapter, run_pool, suites
    from ewc.config import load_profile

    load_profile(profile)  # unknown profile -> ConfigError
    chapter.book_suite(profile)  # a profile the book does not render -> EwcError naming its suite
    if pdf:
        find_chromium()  # before anything trains, not after
    if check_against_published:
        if chapters or not execute:
            raise EwcError("--check-against-published reruns every chapter; drop --chapters and --no-execute")
        from ewc.rerun import check_against_published as check

        return check(profile, progress=progress, jobs=jobs)
    started = time.time()
    selected = select_chapters(chapters)
    jobs = run_pool.default_jobs() if jobs is None else jobs
    work = {}
    with book_run.TreeMemory() as memory:
        if execute:
            try:
                work["runs_trained"] = train_pending(profile, progress, jobs)
            except run_pool.WorkerFailed as exc:
                print(f"error: {exc}; the book was not rebuilt", file=sys.stderr)
                return 1
            work["runs_total"] = len(suites.suite(profile).runs)
            work["benches_measured"] = run_missing_benches(profile)
            try:
                execute_chapters(selected, profile)
            except ChapterError as exc:
                print(f"error: {exc}; the book was not rebuilt", file=sys.stderr)
                return 1
        elif chapters:
            raise EwcError("--chapters only applies when executing (drop --no-execute)")
        out = build_html(stage_site(profile), html_dir or html_dir_for(profile))
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
        from ewc.console import quiet_native_stderr

        with quiet_native_stderr():
            return args.func(args)
    except EwcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
