"""The package stays light enough to change: no module over 400 lines (split a module by job before it grows past
that), and the trainer knows nothing of the display."""

from helpers import ROOT

MODULE_LINES = 400


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in sorted((ROOT / "ewc").rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MODULE_LINES
    }
    assert long == {}, f"modules over {MODULE_LINES} lines: {long}"


def test_the_trainer_imports_neither_tqdm_nor_the_console():
    source = (ROOT / "ewc" / "train.py").read_text()
    imports = [line for line in source.splitlines() if line.lstrip().startswith(("import ", "from "))]
    assert not [line for line in imports if "tqdm" in line or "console" in line], imports
