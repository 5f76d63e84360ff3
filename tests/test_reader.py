"""The built book as its reader meets it: short enough to read (at most 12,000 visible words, no page over 1,500)
and free of the code's internal names (run ids, module paths, Python reprs) outside the collapsed code cells."""

from helpers import ROOT
from reader import BOOK_WORDS, PAGE_WORDS, internal_names, visible_text, word_counts

from ewc import site


def test_reader_text_leaves_out_collapsed_code_and_finds_internal_names(tmp_path):
    page = tmp_path / "book" / "p.html"
    page.parent.mkdir()
    page.write_text(
        '<html><body><article class="bd-article"><p>EWC keeps task 1 at 95 %.</p>'
        '<div class="cell docutils container"><div class="cell_input"><pre>runs["l2_lam-0.01"]</pre></div>'
        "<div class=\"cell_output\"><pre>{'none': [0, 1, 2, 3, 4]} from ewc.tables</pre></div></div>"
        "</article></body></html>"
    )
    text = visible_text(page)
    assert "l2_lam" not in text and "EWC keeps task 1" in text
    assert internal_names(text) == {
        "module path": ["ewc.tables"],
        "dict repr": ["{'none':"],
        "list repr": ["[0, 1, 2, 3, 4]"],
    }
    assert internal_names("L2 (λ = 0.01), MLP without a penalty; 95 % [93.1, 96.0]; seeds 0-4") == {}
    assert internal_names("runs l2_lam-0.01 and none_arch-mlp, ewc-all/seed-3") == {
        "run id": ["ewc-all/seed-3", "l2_lam-0.01", "none_arch-mlp"]
    }
    assert word_counts(tmp_path) == {"p": len(text.split())}


def test_the_book_is_short_enough_to_read(built_book):
    counts = word_counts(built_book.html)
    assert set(counts) == {p.stem for p in site.toc_files()}, "every chapter page is counted"
    long_pages = {name: words for name, words in counts.items() if words > PAGE_WORDS}
    assert long_pages == {}, f"pages over {PAGE_WORDS} visible words: {long_pages}"
    assert sum(counts.values()) <= BOOK_WORDS, (
        f"{sum(counts.values())} visible words; the book's budget is {BOOK_WORDS}"
    )


def test_no_internal_names_in_the_readers_text(built_book):
    leaks = {}
    for chapter in site.toc_files():
        found = internal_names(visible_text(built_book.html / chapter.relative_to(ROOT).with_suffix(".html")))
        if found:
            leaks[chapter.stem] = found
    assert leaks == {}, f"internal names in the visible text: {leaks}"
