"""Publishing: the GitHub Pages workflow builds the book with exactly the command tested here, from the committed
chapters, without training, and deploys what that command builds."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from helpers import BUILD_COMMAND, BUILT_HTML

from ewc import paths, site
from ewc.offsite import offsite_references

ROOT = Path(__file__).resolve().parents[1]
PAGES_WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    data = yaml.safe_load(PAGES_WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_pages_workflow_builds_with_the_tested_command(workflow):
    runs = [step["run"].strip() for step in steps(workflow) if "run" in step]
    ewc_runs = [run for run in runs if "ewc" in run]
    assert ewc_runs == [BUILD_COMMAND], "one step builds the book, and it is the command this module runs"
    assert "pip install -r requirements.txt" in runs
    assert "--no-execute" in shlex.split(BUILD_COMMAND), "publishing renders the committed chapters, never trains"


def test_pages_workflow_deploys_what_the_command_builds(workflow):
    uses = {step["uses"].split("@")[0]: step for step in steps(workflow) if "uses" in step}
    assert Path(uses["actions/upload-pages-artifact"]["with"]["path"]) == BUILT_HTML
    assert paths.html_dir_for("quick") == ROOT / BUILT_HTML, "the command's default output is what gets uploaded"
    assert "actions/deploy-pages" in uses
    deploy_job = next(
        job
        for job in workflow["jobs"].values()
        if any(s.get("uses", "").startswith("actions/deploy-pages@") for s in job["steps"])
    )
    assert deploy_job["needs"] == "build" and deploy_job["environment"]["name"] == "github-pages"
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
    assert workflow["concurrency"]["group"]
    assert str(uses["actions/setup-python"]["with"]["python-version"]) == "3.11"
    for step in steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"pin actions by major tag: {step['uses']}"
    assert "main" in workflow["on"]["push"]["branches"]


def test_build_command_builds_the_book(built_book):
    """The workflow's command, run in a copy of the checkout (as on a fresh runner, by the session's ``built_book``),
    builds every chapter's page from the committed chapters without executing any."""
    html = built_book.html
    assert (html / "index.html").is_file()
    for chapter in site.toc_files():
        assert (html / chapter.relative_to(ROOT).with_suffix(".html")).is_file(), chapter
    assert offsite_references(html) == []
    chapters = sorted((built_book.checkout / "results" / "quick" / "chapters").glob("*.ipynb"))
    assert chapters and all(p.stat().st_mtime < built_book.started for p in chapters), "nothing was executed"
