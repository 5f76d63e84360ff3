"""Markdown for the chapters: pipe tables, percentages and point differences as text, and the wrapper that makes a
notebook cell render text as Markdown.

Accuracies are fractions in results files; the book shows them in percent, and differences between them in
percentage points, with a true minus sign.
"""

from __future__ import annotations


def markdown(text: str):
    """``text`` as ``IPython.display.Markdown``: a cell that returns it renders as Markdown (a table, in Jupyter
    Book); ``.data`` holds the text."""
    from IPython.display import Markdown  # when called: `python -m ewc` imports the report (ewc.book) without it

    return Markdown(text)


def markdown_table(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub/MyST pipe table. ``align``: one of 'l', 'r', 'c' per column (default: first left, others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = ["| " + " | ".join(map(str, header)) + " |", "| " + " | ".join(rule[a] for a in align) + " |"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def pct(fraction: float | None, digits: int = 1) -> str:
    """0.9512 -> '95.1'; None -> '—'."""
    return "—" if fraction is None else f"{100 * fraction:.{digits}f}"


def points(delta: float, digits: int = 1) -> str:
    """A difference of fractions in signed percentage points: -0.403 -> '−40.3'."""
    return f"{100 * delta:+.{digits}f}".replace("-", "−")


def seeds_text(seeds, noun: str = "seed") -> str:
    """'seeds 0–4' for a run of consecutive seeds, 'seed 0' for one, 'seeds 0, 2 and 5' otherwise (``noun`` may be
    'calibration seed')."""
    s = sorted(seeds)
    if len(s) == 1:
        return f"{noun} {s[0]}"
    if s == list(range(s[0], s[-1] + 1)):
        return f"{noun}s {s[0]}–{s[-1]}"
    return f"{noun}s " + ", ".join(map(str, s[:-1])) + f" and {s[-1]}"


def number(x: float) -> str:
    """One decimal, with a true minus sign: -3.25 -> '−3.2'."""
    return f"{x:.1f}".replace("-", "−")


def signed(x: float) -> str:
    """One decimal with its sign, a true minus: 2 -> '+2.0', -0.5 -> '−0.5'."""
    return f"{x:+.1f}".replace("-", "−")


def printed_gap(a: float, b: float) -> float:
    """a - b as a reader computes it from the two numbers printed beside it (each rounded to 0.1)."""
    return round(a, 1) - round(b, 1)


def joined(parts: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
