"""The book's site: the chapter sources ``_toc.yml`` lists, their execution into notebooks, and the HTML built from
them.

Chapter sources (``book/*.md``, MyST Markdown notebooks) are executed by papermill in fresh kernels into
``results/<profile>/chapters``; the static pages and those executed chapters are staged in ``_build/site-<profile>``
in the places ``_toc.yml`` names, and Jupyter Book renders them (it never executes anything) into a fresh directory
that is swapped in for the previous HTML. ``python -m ewc book`` runs these steps after training, and the rerun check
(``ewc.rerun``) runs them again into a scratch directory; ``ewc.pdf`` prints the staged site.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ewc.console import quiet_kernels
from ewc.errors import EwcError
from ewc.files import atomic_write
from ewc.offsite import offsite_references
from ewc.paths import BOOK_DIR, IPYTHON_DIR, ROOT, TOC, executed_dir, relative, site_dir

CHECK_TAG = "nbval-check-output"  # the cells whose outputs nbval compares and the rerun check compares


class ChapterError(EwcError):
    """A chapter notebook raised while executing."""


# ---------------------------------------------------------------------------------------------------------------
# Sources


def toc_files() -> list[Path]:
    """Every document of ``_toc.yml`` in reading order (``book/NAME.md``)."""
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
# Execution


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
    parameters = next((c.metadata.get("tags", []) for c in nb.cells if "parameters" in c.metadata.get("tags", [])), [])
    shown_as = [t for t in parameters if t in ("hide-input", "remove-input")] or ["hide-input"]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # papermill's injected cell arrives with a random id
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:  # shown (folded or not at all) as the chapter shows its parameters cell
            cell.metadata["tags"] = [t for t in tags if t not in ("hide-input", "remove-input")] + shown_as
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


# ---------------------------------------------------------------------------------------------------------------
# Staging and the Jupyter Book build


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
