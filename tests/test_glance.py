"""Page 1's "Findings at a glance" agrees with the chapters: each cell's verdict is the one the chapter that judges
the same runs prints (the published quick book, re-read from its executed notebooks)."""

import nbformat
import pytest
from helpers import ROOT

from ewc import chapter, claims, findings
from ewc.rerun import checked_lines

CHAPTERS = ROOT / "results" / "quick" / "chapters"


def glance_rows() -> list[list[str]]:
    nb = nbformat.read(CHAPTERS / "intro.ipynb", as_version=4)
    tables = [
        o["data"]["text/markdown"]
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if "text/markdown" in o.get("data", {}) and "| the report's finding |" in o["data"]["text/markdown"]
    ]
    assert len(tables) == 1, "page 1 has one findings table"
    lines = tables[0].strip().splitlines()
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def printed_verdicts(name: str) -> dict[str, str]:
    """'claim text' -> verdict, from a chapter's checked verdict lines."""
    out = {}
    for line in checked_lines(CHAPTERS / f"{name}.ipynb"):
        text, _, verdict = line.split(": ", 1)[1].rpartition(": ")
        out[text] = verdict
    return out


def word(verdict: str) -> str:
    return chapter.SHORT_VERDICTS[verdict.removesuffix(claims.ONE_RUN)]


@pytest.mark.parametrize(
    "column, source, prefix",
    [(2, "discussion_comparison", ""), (3, "scale_report", ""), (5, "discussion_comparison", "MLP: ")],
)
def test_each_cell_is_the_verdict_its_chapter_prints(column, source, prefix):
    report = findings.report_findings(5)
    rows = glance_rows()
    assert [r[0].removesuffix(" (exploratory)") for r in rows] == [c.short for c in report]
    printed = printed_verdicts(source)
    for row, claim in zip(rows, report):
        assert row[column].split(" (")[0] == word(printed[prefix + claim.text]), (claim.text, row[column])


def test_the_last_column_says_where_a_finding_holds():
    for row in glance_rows():
        holding = sum(cell.startswith("holds") for cell in row[2:6])
        assert row[6] == "holds nowhere yet" if not holding else row[6].startswith("holds: "), row
        assert row[6].count(",") == max(0, holding - 1), row


def test_the_summary_counts_the_tables_primary_verdicts():
    nb = nbformat.read(CHAPTERS / "intro.ipynb", as_version=4)
    answer = next(
        o["data"]["text/markdown"]
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.get("data", {}).get("text/markdown", "").startswith("**Does EWC work?**")
    )
    summary = answer.split("**Does this book reproduce the report?** ", 1)[1]
    rows = [r for r in glance_rows() if not r[0].endswith("(exploratory)")]
    assert summary.startswith(f"Of the report's {len(rows)} primary findings")
    for column, part in zip(range(2, 6), summary.split(": ", 1)[1].rstrip(".").split("; ")):
        words = [row[column].split(" (")[0] for row in rows]
        said = part.split("*: ")[1]
        if said == "not run yet":
            assert set(words) == {"not run yet"}, part
        else:
            counts = {w: words.count(w) for w in words}
            assert sorted(said.split(", ")) == sorted(f"{n} {w}" for w, n in counts.items()), part
