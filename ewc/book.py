"""The book: ``python -m ewc book`` executes the chapter notebooks with papermill, then builds the HTML with Jupyter
Book; plus the few helpers the chapters call (where results go, whether to reload them).

Command line (``add_book_command`` registers it as a sub-command; ``python -m ewc.book`` runs it stand-alone)::

    python -m ewc book [--profile quick] [--chapters NAME ...] [--no-execute] [--reuse-results]
                       [-p NAME=VALUE ...] [--html-dir DIR] [--pdf [PATH]]

* ``--profile``: the profile every chapter runs with (papermill parameter ``profile``); the published book is ``quick``.
* ``--chapters``: only execute these notebooks (file names without ``.ipynb``, see ``_toc.yml``); the HTML is still
  built from every chapter, the others as last committed.
* ``--no-execute``: execute nothing; only build the HTML from the notebooks as they are.
* ``--reuse-results``: let chapters reload a complete results file made from the same configuration instead of
  training again (papermill parameter ``reuse_results=True``). Default: every chapter trains afresh.
* ``-p NAME=VALUE``: an extra papermill parameter for every selected chapter (VALUE is read as YAML, e.g.
  ``-p lam=500``, ``-p mlp_hidden=[64,64]``); refused unless every selected chapter's ``parameters`` cell has it.
* ``--html-dir``: where the HTML goes (default ``_build/html``).
* ``--pdf``: also print the book as one PDF (default ``_build/pdf/ewc-book.pdf``) with headless Chromium
  (``ewc.pdf``); refused before anything runs when Chromium is not installed.

Chapters run in ``_toc.yml`` order, each in a fresh kernel with ``book/`` as working directory. A chapter's executed
copy goes to ``_build/chapters/NAME.ipynb`` and replaces ``book/NAME.ipynb`` only when it finished, so the committed
notebooks hold the last complete run. A chapter that fails stops everything: the error names the chapter and its
error notebook, and the HTML is not touched. The HTML is built into a fresh temporary directory with warnings as
errors, checked for references to other machines, and only then swapped in for the previous one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from ewc.errors import EwcError
from ewc.files import atomic_write
from ewc.pdf import PDF_PATH, build_pdf, find_chromium

ROOT = Path(__file__).resolve().parent.parent  # the checkout: _config.yml, _toc.yml, book/, results/
BOOK_DIR = ROOT / "book"
TOC = ROOT / "_toc.yml"
HTML_DIR = ROOT / "_build" / "html"
CHAPTER_RUNS = ROOT / "_build" / "chapters"  # executed copies, and the error notebook of a failed chapter
REUSE_ENV = "EWC_REUSE_RESULTS"  # "1": chapters reload matching results (set for CI's nbval by book/conftest.py)


class ChapterError(EwcError):
    """A chapter notebook raised while executing."""


# ---------------------------------------------------------------------------------------------------------------
# Helpers the chapters call


def reuse(reuse_results: bool | None) -> bool:
    """Whether a chapter may reload results instead of training: ``reuse_results`` when given (True/False), else
    whether ``$EWC_REUSE_RESULTS`` is ``1`` (CI's nbval sets it; ``python -m ewc book`` clears it)."""
    if reuse_results is None:
        return os.environ.get(REUSE_ENV) == "1"
    return bool(reuse_results)


def results_path(config, name: str | None = None) -> Path:
    """``results/<profile>/<name>.json`` under the checkout (its directory created).

    The default name is the mode followed by ``_<field>-<value>`` for every field that differs from the profile
    (``ewc-all``, ``none_permutation-block``, ``ewc-all_arch-mlp_permutation-block``), so a variant never
    overwrites the profile's own run.
    """
    if name is None:
        from ewc.config import make_config

        base = make_config(config.profile, mode=config.mode).to_dict()
        changed = [(k, v) for k, v in config.to_dict().items() if k not in ("profile", "mode") and v != base[k]]
        name = config.mode + "".join(f"_{k}-{_slug(v)}" for k, v in changed)
    path = ROOT / "results" / config.profile / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _slug(value) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


#: The modes the Results chapters train (the report's Experiments 1-3) on the profile's own values.
RESULTS_MODES = ("none", "ewc-all", "ewc-previous")


def published(config) -> bool:
    """True when a Results chapter trains exactly ``config`` (one of RESULTS_MODES, every other field the profile's)."""
    from ewc.config import make_config

    return config.mode in RESULTS_MODES and config == make_config(config.profile, mode=config.mode)


def run(config, reuse_results: bool, name: str | None = None, reload_published: bool = False) -> dict:
    """Train ``config`` into ``results_path(config, name)``, or reload a complete file made from exactly ``config``
    when ``reuse_results`` -- or, with ``reload_published`` (the chapters after the Results), when it is a run the
    Results chapters have just made (``published``), so that no experiment is trained twice in one book run."""
    from ewc.experiment import run_experiment

    reuse_results = reuse_results or (reload_published and published(config))
    return run_experiment(config, results_path(config, name), progress=False, reuse=reuse_results, share_task1=True)


def sweep_dir(config) -> Path:
    """Directory for sweeps around ``config``: ``results/<profile>/<results_path name>/`` (e.g. ``.../ewc-all/``)."""
    path = results_path(config).with_suffix("")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached(name: str, profile: str, reuse_results: bool, compute, *args, **kwargs) -> dict:
    """``compute(*args, **kwargs)`` (a JSON-able dict, e.g. a timing measurement) stored as
    ``results/<profile>/<name>.json``; with ``reuse_results`` an existing file is loaded instead."""
    from ewc.results import write_json_atomic

    path = ROOT / "results" / profile / f"{name}.json"
    if reuse_results and path.is_file():
        return json.loads(path.read_text())
    value = compute(*args, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(value, path)
    return value


# ---------------------------------------------------------------------------------------------------------------
# The runner


def toc_files() -> list[Path]:
    """Every document of ``_toc.yml`` in reading order (with its suffix, .md or .ipynb)."""
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
        matches = [ROOT / f"{entry}{suffix}" for suffix in (".ipynb", ".md") if (ROOT / f"{entry}{suffix}").is_file()]
        if not matches:
            raise EwcError(f"_toc.yml lists {entry}, but there is no {entry}.ipynb or {entry}.md")
        files.append(matches[0])
    return files


def chapter_notebooks() -> dict[str, Path]:
    """The executable chapters, name (file stem) -> notebook, in ``_toc.yml`` order."""
    return {p.stem: p for p in toc_files() if p.suffix == ".ipynb"}


def notebook_parameters(path: Path) -> dict[str, dict]:
    """The names declared in a notebook's ``parameters`` cell (papermill's own parser), name -> {default, ...}."""
    import papermill

    return papermill.inspect_notebook(str(path))


def select_chapters(names: list[str] | None) -> dict[str, Path]:
    """The chapters to execute, in book order; EwcError for a name that is not an executable chapter."""
    available = chapter_notebooks()
    if not names:
        return available
    wanted = {Path(n).stem for n in names}
    unknown = sorted(wanted - set(available))
    if unknown:
        raise EwcError(f"unknown chapter(s): {', '.join(unknown)}; chapters: {', '.join(available)}")
    return {name: path for name, path in available.items() if name in wanted}


def parse_params(pairs: list[str]) -> dict:
    """``["lam=500", "mlp_hidden=[64, 64]"]`` -> ``{"lam": 500, "mlp_hidden": [64, 64]}`` (values read as YAML)."""
    import yaml

    params = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise EwcError(f"parameter {pair!r} is not NAME=VALUE")
        try:
            params[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise EwcError(f"parameter {name}: cannot read value {value!r}") from None
    return params


def check_parameters(chapters: dict[str, Path], params: dict) -> None:
    """Refuse a parameter some selected chapter does not declare (papermill itself would only warn), and invalid
    run knobs (through ``make_config``, as the notebooks do) before anything runs."""
    from ewc.config import PARAMETERS, make_config

    for name, path in chapters.items():
        declared = notebook_parameters(path)
        if "profile" not in declared:
            raise EwcError(f"chapter {name} has no 'profile' in its parameters cell")
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise EwcError(f"unknown parameter(s) {', '.join(unknown)} for chapter {name} "
                           f"(its parameters: {', '.join(declared)})")
    knobs = {k: v for k, v in params.items() if k in PARAMETERS and k != "profile"}
    make_config(params.get("profile", "quick"), **knobs)


def execute_chapter(name: str, path: Path, parameters: dict, progress: bool = True) -> Path:
    """Run one chapter with papermill into ``_build/chapters/NAME.ipynb``; on success copy it over ``path``.

    Raises:
        ChapterError: the chapter failed; the message names it and the error notebook.
    """
    import nbformat
    import papermill

    CHAPTER_RUNS.mkdir(parents=True, exist_ok=True)
    out = CHAPTER_RUNS / path.name
    try:
        papermill.execute_notebook(str(path), str(out), parameters=parameters, cwd=str(BOOK_DIR),
                                   kernel_name="python3", progress_bar=progress)
    except Exception as exc:  # PapermillExecutionError, kernel death, missing kernel: all stop the book
        what = f"{exc.ename}: {exc.evalue}" if hasattr(exc, "ename") else f"{type(exc).__name__}: {exc}"
        raise ChapterError(f"chapter {name} failed ({what.strip().splitlines()[0] if what.strip() else what}); "
                           f"error notebook: {_rel(out)}") from None
    nb = nbformat.read(out, as_version=4)
    pm = nb.metadata.get("papermill", {})
    pm["input_path"] = pm["output_path"] = _rel(path)  # not the temporary path
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            cell.metadata["tags"] = tags + ["hide-input"]  # shown folded in the book, like the parameters cell
    with atomic_write(path, "w") as f:
        nbformat.write(nb, f)
    return path


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def execute_chapters(chapters: dict[str, Path], profile: str, params: dict, reuse_results: bool,
                     progress: bool = True) -> None:
    """Execute ``chapters`` in order with ``profile``; stops at the first failure (ChapterError)."""
    parameters = {"profile": profile, **params}
    if reuse_results:
        parameters["reuse_results"] = True
    with _kernel_environment():
        for i, (name, path) in enumerate(chapters.items(), 1):
            print(f"[{i}/{len(chapters)}] {name} (profile {profile})", file=sys.stderr, flush=True)
            declared = notebook_parameters(path)  # chapters that train nothing have no reuse_results
            execute_chapter(name, path, {k: v for k, v in parameters.items() if k in declared}, progress)


@contextlib.contextmanager
def _kernel_environment():
    """While chapters run, their kernels (which inherit this environment) import this checkout's ewc -- their cwd
    is book/ -- and train unless told to reuse; the caller's environment is restored afterwards."""
    saved = dict(os.environ)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    os.environ.pop(REUSE_ENV, None)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def jupyter_book_command() -> list[str]:
    """``jupyter-book`` of this Python environment."""
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


def build_html(html_dir: str | os.PathLike | None = None) -> Path:
    """Build the book from a clean build directory (warnings are errors) and swap it in for ``html_dir``.

    Raises:
        EwcError: the build failed or warned, or the HTML references another machine; ``html_dir`` is untouched.
    """
    html_dir = Path(html_dir or HTML_DIR).resolve()
    html_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=html_dir.parent, prefix=".book-build-") as tmp:
        cmd = jupyter_book_command() + ["build", str(ROOT), "--path-output", tmp, "--builder", "html", "--all",
                                        "--warningiserror", "--nitpick", "--keep-going"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        built = Path(tmp) / "_build" / "html"
        if proc.returncode != 0 or not (built / "index.html").is_file():
            lines = (proc.stdout + proc.stderr).splitlines()
            problems = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln] or lines[-15:]
            print("\n".join(problems), file=sys.stderr)
            raise EwcError(f"jupyter-book build failed with {len(problems)} warning/error line(s); "
                           f"the previous HTML in {_rel(html_dir)} is unchanged")
        offsite = offsite_references(built)
        if offsite:
            raise EwcError(f"the built HTML loads {len(offsite)} resource(s) from other machines, e.g. {offsite[0]}")
        old = Path(tmp) / "previous-html"
        if html_dir.exists():
            os.replace(html_dir, old)  # same filesystem: two renames, never a half-written book
        os.replace(built, html_dir)
    return html_dir


_RESOURCE_ATTRS = {"script": ("src",), "link": ("href",), "img": ("src", "srcset"), "iframe": ("src",),
                   "source": ("src", "srcset"), "video": ("src", "poster"), "audio": ("src",), "embed": ("src",),
                   "object": ("data",)}


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
    import re

    html_dir = Path(html_dir)
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        parser = _ResourceParser()
        parser.feed(page.read_text(errors="replace"))
        found += [f"{page.relative_to(html_dir)}: <{tag}> {url}" for tag, url in parser.urls if is_offsite(url)]
    css_url = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""")
    for sheet in sorted(html_dir.rglob("*.css")):
        found += [f"{sheet.relative_to(html_dir)}: css {u}" for u in css_url.findall(sheet.read_text(errors="replace"))
                  if is_offsite(u)]
    return found


def main_book(profile: str = "quick", chapters: list[str] | None = None, execute: bool = True,
              reuse_results: bool = False, params: dict | None = None, html_dir: str | None = None,
              progress: bool = True, pdf: str | None = None) -> int:
    """Execute the chapters (unless ``execute`` is False), then build the HTML, and the PDF at ``pdf`` when given.
    Returns 0, or 1 if a chapter failed (message on stderr). Raises EwcError for user errors (unknown chapter,
    parameter or profile; no Chromium for the PDF)."""
    from ewc.config import load_profile

    load_profile(profile)  # unknown profile -> ConfigError
    if pdf:
        find_chromium()  # before any chapter trains, not after
    started = time.time()
    params = dict(params or {})
    if "profile" in params or "reuse_results" in params:
        raise EwcError("give the profile with --profile and reuse with --reuse-results, not -p")
    if execute:
        selected = select_chapters(chapters)
        check_parameters(selected, {"profile": profile, **params})
        try:
            execute_chapters(selected, profile, params, reuse_results, progress)
        except ChapterError as exc:
            print(f"error: {exc}; the book was not rebuilt", file=sys.stderr)
            return 1
    elif chapters or params or reuse_results:
        raise EwcError("--chapters, -p and --reuse-results only apply when executing (drop --no-execute)")
    out = build_html(html_dir)
    print(f"built {_rel(out / 'index.html')} ({len(list(out.rglob('*.html')))} pages)", file=sys.stderr)
    if execute and not chapters and not reuse_results and not params:
        record_book_run(profile, time.time() - started)
    if pdf:
        print(f"built {_rel(build_pdf(ROOT, pdf))}", file=sys.stderr)
    return 0


def book_run_path(profile: str) -> Path:
    """``results/<profile>/book-run.json``: the cost of the last complete ``python -m ewc book`` at ``profile``."""
    return ROOT / "results" / profile / "book-run.json"


def last_book_run(profile: str) -> dict | None:
    """The record ``record_book_run`` wrote for ``profile``, or None."""
    path = book_run_path(profile)
    return json.loads(path.read_text()) if path.is_file() else None


def record_book_run(profile: str, wall_s: float) -> dict:
    """Write the cost of a complete book run (every chapter trained afresh, then the HTML): wall seconds and the peak
    resident memory of this process and of any one of its children (the chapter kernels, the HTML build), MiB."""
    import resource

    from ewc.results import write_json_atomic

    peak_kib = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    record = {"profile": profile, "wall_s": round(wall_s, 1), "peak_rss_mib": round(peak_kib / 1024, 1),
              "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu_count": os.cpu_count(),
              "load_avg_1min_at_end": os.getloadavg()[0]}
    book_run_path(profile).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(record, book_run_path(profile))
    return record


def add_book_command(subparsers) -> argparse.ArgumentParser:
    """Register ``book`` on an ``argparse`` sub-parsers object; the parsed args carry ``func`` (returns the exit
    status)."""
    p = subparsers.add_parser(
        "book", help="execute the chapter notebooks (papermill) and build the HTML book (Jupyter Book)",
        description="Execute the chapters of _toc.yml in order with papermill, writing each executed notebook back "
        "to book/, then build _build/html from a clean directory with warnings as errors.",
    )
    p.add_argument("--profile", default="quick", help="profile every chapter runs with (the published book: quick)")
    p.add_argument("--chapters", nargs="+", metavar="NAME", help="execute only these chapters (file names without "
                   ".ipynb); the HTML still includes every chapter")
    p.add_argument("--no-execute", action="store_true", help="execute nothing; build the HTML from the notebooks")
    p.add_argument("--reuse-results", action="store_true",
                   help="reload complete results made from the same configuration instead of training")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="extra papermill parameter for every selected chapter (VALUE read as YAML)")
    p.add_argument("--html-dir", help="where the HTML goes (default _build/html)")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    p.add_argument("--pdf", nargs="?", const=str(PDF_PATH), metavar="PATH",
                   help="also print the book as one PDF with headless Chromium (default _build/pdf/ewc-book.pdf)")
    p.set_defaults(func=cmd_book)
    return p


def cmd_book(args) -> int:
    return main_book(profile=args.profile, chapters=args.chapters, execute=not args.no_execute,
                     reuse_results=args.reuse_results, params=parse_params(args.param), html_dir=args.html_dir,
                     progress=not args.no_progress, pdf=args.pdf)


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
