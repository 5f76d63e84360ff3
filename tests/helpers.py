"""Shared test helpers (a module of its own: book/conftest.py also exists, so 'conftest' is ambiguous)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env=None, timeout=600):
    """``python -m ewc ARGS`` in a subprocess from the repo root; returns the CompletedProcess."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ewc", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


#: The workflow's build step runs exactly this, and ``test_build_command_builds_the_book`` runs it too.
BUILD_COMMAND = "python -m ewc book --no-execute"
#: What the command builds, relative to the checkout: the directory the workflow uploads.
BUILT_HTML = Path("_build") / "html"
#: Not copied when the build command runs in a copy of the checkout: outputs, caches, environments.
UNCOPIED = {".git", ".venv", "_build", "artifacts", ".cache", "results/smoke", "results/paper"}
UNCOPIED_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}


def copy_checkout(dest: Path) -> Path:
    """The checkout's sources (what a clone has, plus uncommitted edits) copied to ``dest``."""

    def ignore(directory, names):
        rel = Path(directory).relative_to(ROOT)
        return {n for n in names if n in UNCOPIED_NAMES or (rel / n).as_posix() in UNCOPIED}

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


#: poppler's tools the PDF tests read the book's PDF with.
POPPLER = ("pdftotext", "pdftoppm", "pdfimages", "pdfinfo")
