"""The README stays short and its two commands stay what CI and a new user run."""

from helpers import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_holds_at_most_900_words():
    words = len(README.split())
    assert words <= 900, f"README.md has {words} words; keep it to 900 (history belongs in the git log)"


def test_readme_gives_the_two_commands():
    assert ".venv/bin/pip install -r requirements.txt && .venv/bin/python -m ewc book" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\n.venv/bin/python -m pytest\n" in README and "\n.venv/bin/python -m pytest\n" in ci
