"""The book: chapter notebooks, the runner's refusals and failure handling, and the built HTML opened offline in
headless Chromium (equations typeset, every image loaded, no request off the machine)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from ewc import bench, book, run_pool, site
from ewc.offsite import offsite_references
from ewc.pdf import OFFLINE_FLAGS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
RESULTS_CHAPTERS = ("results_no_penalty", "results_ewc_all", "results_ewc_previous")


def run_book(*args, timeout=900, env=None):
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ewc.book", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- chapter sources and the published record ------------------------------------------------------------------


def test_toc_lists_every_page_once_and_all_exist():
    files = site.toc_files()
    assert len(files) == len(set(files)) == 17
    assert files[0].name == "intro.md" and files[-1].name == "appendix_engineering.md"
    on_disk = {p.name for p in (ROOT / "book").glob("*.md")}
    assert on_disk == {p.name for p in files}, "every page is in _toc.yml and vice versa"
    assert not list((ROOT / "book").glob("*.ipynb")), "chapter sources are Markdown; executed copies live in results/"


@pytest.mark.parametrize("name", list(site.chapter_sources()))
def test_chapter_source_shape(name):
    """Text a person edits: the parameters cell first (just the profile), checked cells tagged, no outputs."""
    source = site.chapter_sources()[name]
    nb = site.read_chapter(source)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert site.notebook_parameters(source).keys() == {"profile"}
    assert site.notebook_parameters(source)["profile"]["default"] == '"quick"'
    assert any(site.CHECK_TAG in c.metadata.get("tags", []) for c in code)
    assert "NBVAL_CHECK_OUTPUT" not in source.read_text(), "checked cells are marked by a tag, not a comment"
    assert not any(c.get("outputs") for c in code)


@pytest.mark.parametrize("name", list(site.chapter_sources()))
def test_published_chapter_is_executed_at_the_quick_profile(name):
    executed = ROOT / "results" / "quick" / "chapters" / f"{name}.ipynb"
    nb = nbformat.read(executed, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert not [o for o in cell.get("outputs", []) if o.output_type == "error"], "a committed error output"
        if "injected-parameters" in cell.metadata.get("tags", []):
            assert re.search(r'^profile = "quick"$', cell.source, re.M), "the published book is the quick profile"
    source_code = [c.source for c in site.read_chapter(site.chapter_sources()[name]).cells if c.cell_type == "code"]
    published_code = [c.source for c in code if "injected-parameters" not in c.metadata.get("tags", [])]
    assert published_code == source_code, f"results/quick/chapters/{name}.ipynb is not an execution of book/{name}.md"


# --- the runner ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_runner_refuses_unknown_chapter_profile_and_combinations():
    bad = run_book("--chapters", "no_such_chapter")
    assert bad.returncode == 2 and "unknown chapter(s): no_such_chapter" in bad.stderr
    assert bad.stderr.count("\n") == 1
    bad = run_book("--chapters", "appendix_a", "--no-execute")
    assert bad.returncode == 2 and "--chapters only applies when executing" in bad.stderr
    bad = run_book("--profile", "paper")
    assert bad.returncode == 2 and "python -m ewc suite paper" in bad.stderr
    bad = run_book("--profile", "fast")
    assert bad.returncode == 2 and "unknown profile 'fast'" in bad.stderr


def broken_chapter(tmp_path: Path, body: str) -> Path:
    source = tmp_path / "broken_chapter.md"
    source.write_text(
        "---\nfile_format: mystnb\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n"
        '# Broken\n\n```{code-cell} ipython3\n:tags: [parameters]\n\nprofile = "quick"\n```\n\n'
        f"```{{code-cell}} ipython3\n\n{body}\n```\n"
    )
    return source


@pytest.mark.slow
def test_failing_chapter_stops_the_book_and_keeps_the_previous_html(tmp_path, monkeypatch):
    source = broken_chapter(tmp_path, "raise RuntimeError('chapter exploded')")
    before = source.read_bytes()
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("previous book")
    monkeypatch.setenv("EWC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setattr(site, "chapter_sources", lambda: {"broken_chapter": source})
    # the runs are another test's
    monkeypatch.setattr(run_pool, "train_pending", lambda profile, progress=True, jobs=None: 0)
    monkeypatch.setattr(bench, "run_missing_benches", lambda profile: None)

    status = book.main_book(profile="smoke", html_dir=str(html), progress=False)

    assert status == 1
    assert (html / "index.html").read_text() == "previous book"  # not replaced by a partial build
    assert source.read_bytes() == before  # the source is never written
    chapters = tmp_path / "results" / "smoke" / "chapters"
    assert not (chapters / "broken_chapter.ipynb").exists()  # no half-executed chapter where a complete one goes
    error_nb = nbformat.read(chapters / "broken_chapter.error.ipynb", as_version=4)
    assert any(o.get("evalue") == "chapter exploded" for c in error_nb.cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_failing_chapter_message_names_chapter_and_error_notebook(tmp_path):
    source = broken_chapter(tmp_path, "1 / 0")
    with pytest.raises(
        site.ChapterError,
        match=r"chapter ch failed \(ZeroDivisionError.*error notebook: .*"
        r"ch\.error\.ipynb",
    ):
        site.execute_chapter("ch", source, "smoke", tmp_path / "out")


def test_offsite_scanner(tmp_path):
    (tmp_path / "a.html").write_text(
        '<script src="_static/x.js"></script><link href="https://cdn.example/x.css" rel="stylesheet">'
        '<img src="//cdn.example/i.png"><img src="data:image/png;base64,AA"><a href="https://doi.org/1">doi</a>'
        '<img srcset="a.png 1x, http://x.example/b.png 2x">'
    )
    (tmp_path / "s.css").write_text('@import "https://fonts.example/f.css"; .a { background: url(img/ok.png) }')
    found = offsite_references(tmp_path)
    assert len(found) == 4 and all("example" in f for f in found)


# --- the built book in a browser ----------------------------------------------------------------------------------


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4): no extra dependency."""

    def __init__(self, exe: str, profile_dir: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds():  # in the child: the protocol's fixed descriptors
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        args = [
            exe,
            *OFFLINE_FLAGS,
            "--remote-debugging-pipe",
            "--hide-scrollbars",
            f"--user-data-dir={profile_dir}",
            "--window-size=1280,1800",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args, pass_fds=(3, 4), preexec_fn=wire_fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer, self._next_id, self.events = b"", 0, []
        target = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable", session=True)

    def _read_message(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from Chromium")
            if not select.select([self._from_browser], [], [], min(remaining, 1.0))[0]:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"Chromium exited with status {self.proc.returncode}")
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: bool = False, timeout: float = 60, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, event: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == event:
                return self.events.pop(i)
        while True:
            e = self._read_message(deadline)
            if e.get("method") == event:
                return e
            self.events.append(e)

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str, timeout: float = 60):
        result = self.call(
            "Runtime.evaluate",
            session=True,
            timeout=timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"]["value"]

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def failed_loads(self) -> list[str]:
        return [e["params"].get("errorText", "") for e in self.events if e.get("method") == "Network.loadingFailed"]

    def screenshot(self, path: Path) -> None:
        import base64

        height = min(int(self.evaluate("document.documentElement.scrollHeight")), 12000)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=1280,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        self.call("Emulation.clearDeviceMetricsOverride", session=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)


PAGE_REPORT = """(async () => {
  for (const img of document.images) img.loading = 'eager';
  const settle = (img) => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; });
  const timeout = new Promise(r => setTimeout(r, 20000));
  await Promise.race([Promise.all([...document.images].map(settle)), timeout]);
  const mj = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
  if (mj) await Promise.race([mj, timeout]);
  return {
    math: document.querySelectorAll('.math').length,
    typeset: document.querySelectorAll('.math mjx-container svg').length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
    images: [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth]),
    figures: document.querySelectorAll('.cell_output img').length,
    tables: document.querySelectorAll('.cell_output table').length,
    // what a reader at 1280 px cannot see whole: a table or a figure's box wider than the space it is given
    clipped: [...document.querySelectorAll(
      'article table, article .pst-scrollable-table-container, article .cell_output, article figure, article img')]
      .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right >
               document.querySelector('article').getBoundingClientRect().right + 1)
      .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} ${e.scrollWidth}>${e.clientWidth}`),
  };
})()"""


@pytest.fixture(scope="module")
def built_html(built_book):
    """The book built from the committed notebooks (no execution), once per test session."""
    return built_book.html


def test_built_book_has_every_chapter_and_stays_on_the_machine(built_html):
    assert (built_html / "index.html").is_file()
    for chapter in site.toc_files():
        assert (built_html / chapter.relative_to(ROOT).with_suffix(".html")).is_file(), chapter
    assert offsite_references(built_html) == []
    # An independent, cruder scan: no src/href to http(s) or // on script, link or img tags.
    pattern = re.compile(r"<(script|link|img)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:|//)", re.I)
    offenders = [p.name for p in built_html.rglob("*.html") if pattern.search(p.read_text(errors="replace"))]
    assert offenders == []
    assert (built_html / "_static" / "mathjax" / "tex-svg.js").is_file()


@pytest.mark.skipif(chromium() is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
def test_built_book_renders_offline_in_chromium(built_html, tmp_path):
    browser = Browser(chromium(), tmp_path / "chromium-profile")
    reports, clipped = {}, {}
    try:
        for chapter in site.toc_files():
            page = built_html / chapter.relative_to(ROOT).with_suffix(".html")
            browser.open(page.as_uri())
            reports[chapter.stem] = report = browser.evaluate(PAGE_REPORT)
            off_machine = [u for u in browser.requests() if not u.startswith(("file:", "data:", "blob:", "about:"))]
            assert off_machine == [], f"{chapter.stem} requested {off_machine}"
            assert browser.failed_loads() == [], f"{chapter.stem}: a local resource failed to load"
            assert report["typeset"] >= report["math"], f"{chapter.stem}: equations not typeset: {report}"
            assert report["mathErrors"] == 0, chapter.stem
            assert all(width > 0 for _, width in report["images"]), f"{chapter.stem}: image not loaded {report}"
            if report["clipped"]:
                clipped[chapter.stem] = report["clipped"]
            if chapter.stem == "results_ewc_all":
                ARTIFACTS.mkdir(exist_ok=True)
                browser.screenshot(ARTIFACTS / "book-results_ewc_all.png")
    finally:
        browser.close()
    assert clipped == {}, f"tables or figures wider than the page at 1280 px (scrollWidth > clientWidth): {clipped}"
    assert reports["background"]["typeset"] >= 10, "the Background chapter's equations"
    for name in RESULTS_CHAPTERS:  # each results chapter shows its figure, its table and its metrics
        assert reports[name]["figures"] >= 1 and reports[name]["tables"] >= 1, (name, reports[name])
    assert (ARTIFACTS / "book-results_ewc_all.png").stat().st_size > 10_000
