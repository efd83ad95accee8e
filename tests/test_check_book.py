"""scripts/check_book.py must be able to fail: a tiny site with one fault of each kind it looks for
(broken pages, and what a reader should never see in a built page: raw Markdown tables, stderr blocks,
figures whose labels overlap, progress bars).

Needs Chromium (Debian: apt-get install chromium) and the playwright package. Marked `book_check`: run by
`make check-book` (after it has ensured Chromium), deselected in `make test-unit`. Without Chromium or
playwright the tests fail under CI=true and skip elsewhere (a developer without Chromium can run them).
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_book", ROOT / "scripts" / "check_book.py")
check_book = importlib.util.module_from_spec(spec)
sys.modules["check_book"] = check_book
spec.loader.exec_module(check_book)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
pytestmark = pytest.mark.book_check


@pytest.fixture(autouse=True)
def _browser():
    """Playwright and Chromium, or a skip (a failure under CI=true). A fixture, not module-level code, so
    that a deselected run (`make test-unit`, -m 'not book_check') never checks for them."""
    missing = None
    if importlib.util.find_spec("playwright") is None:
        missing = "the playwright package is not installed (pip install -e '.[book]')"
    elif check_book.find_chromium() is None:
        missing = "no Chromium or Chrome executable found (apt-get install chromium, or set CHROMIUM)"
    if missing and IN_CI:
        pytest.fail(f"{missing}: CI=true, so this is a failure, not a skip")
    if missing:
        pytest.skip(missing)

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2219bc30000000049454e44ae426082"
)


def write_site(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "good.png").write_bytes(PNG)
    (root / "index.html").write_text(
        '<html><body><h1 id="top">Good</h1><p id="there">x</p>'
        '<a href="sub/other.html#here">ok</a> <a href="#there">ok</a> <a href="sub/">ok (index.html)</a>'
        '<a href="https://example.org/">external link: not checked</a>'
        '<div class="cell_output"><img src="good.png"></div></body></html>'
    )
    (root / "sub" / "index.html").write_text('<html><body><p id="here">sub</p></body></html>')
    (root / "sub" / "other.html").write_text(
        '<html><body><p id="here">other</p><a href="../index.html#top">ok</a></body></html>'
    )
    (root / "broken.html").write_text(
        "<html><head>"
        '<script src="https://cdn.example.org/lib.js"></script>'  # another host: blocked
        '<script src="missing.js"></script>'  # a local 404
        "</head><body>"
        '<a href="nowhere.html">missing page</a> <a href="sub/other.html#nothere">missing anchor</a>'
        '<a href="#absent">missing anchor on this page</a>'
        '<img src="missing.png">'
        '<div class="cell_output"><img src="data:,"></div>'
        '<div class="cell_output"><svg width="100" height="100"></svg></div>'
        '<div class="cell_output"><script type="application/vnd.jupyter.widget-view+json">'
        '{"model_id": "abc", "version_major": 2, "version_minor": 0}</script></div>'  # no widget manager
        "<script>console.error('something went wrong'); null.boom;</script>"
        "</body></html>"
    )


def test_checker_passes_a_good_site_and_reports_every_fault(tmp_path):
    site = tmp_path / "html"
    write_site(site)
    reports = {r.page: r for r in check_book.check_site(site, screenshots=tmp_path / "shots")}
    assert set(reports) == {"index.html", "broken.html", "sub/index.html", "sub/other.html"}

    for page in ("index.html", "sub/index.html", "sub/other.html"):
        assert reports[page].ok, reports[page].problems

    bad = reports["broken.html"]
    assert not bad.ok
    assert any("cdn.example.org/lib.js" in u for u in bad.blocked)
    assert any("missing.js" in f for f in bad.failed) and any("missing.png" in f for f in bad.failed)
    assert any("something went wrong" in e for e in bad.console_errors)
    assert any("null" in e for e in bad.page_errors)
    broken = "\n".join(bad.broken_links)
    assert "missing file nowhere.html" in broken
    assert "missing anchor #nothere in sub/other.html" in broken
    assert "missing anchor #absent in broken.html" in broken
    assert any("missing.png" in i for i in bad.bad_images)
    empty = "\n".join(bad.empty_figures)
    assert "empty <img" in empty and "empty <svg>" in empty and "widget not rendered" in empty
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == [
        "broken.png",
        "index.png",
        "sub__index.png",
        "sub__other.png",
    ]


def test_command_line_fails_on_a_broken_site_and_without_a_book(tmp_path, capsys):
    site = tmp_path / "html"
    write_site(site)
    assert check_book.main([str(site), "--screenshots", ""]) == 1
    out = capsys.readouterr().out
    assert "broken.html" in out and "FAIL" in out and "3 of 4 pages ok" in out
    assert check_book.main([str(tmp_path / "nothing")]) == 2


def test_screenshot_survives_a_renderer_crash(tmp_path):
    """CI once lost the whole check to a renderer that died while painting a screenshot: the fallback
    opens the page again in a fresh tab and takes its first screen instead of raising."""
    from playwright.sync_api import sync_playwright

    site = tmp_path / "html"
    write_site(site)
    server, base = check_book.serve(site)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=check_book.find_chromium(), args=check_book.CHROMIUM_ARGS
            )
            context = browser.new_context()
            page = context.new_page()
            url = base + "index.html"
            page.goto(url)
            try:
                page.goto("chrome://crash", timeout=5000)  # kills this tab's renderer
            except Exception:
                pass
            report = check_book.PageReport("index.html")
            shot = tmp_path / "good.png"
            fresh = check_book.take_screenshot(context, page, url, shot, 20.0, report)
            assert report.page_errors == []
            assert report.screenshot == str(shot) and shot.stat().st_size > 0
            assert fresh is not page and not fresh.is_closed()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


def write_output_faults(root: Path) -> None:
    """A clean page, and one page per reader-facing fault of a rendered notebook (myst-nb's markup)."""
    root.mkdir(parents=True)
    cell = '<div class="cell_output docutils container">{}</div>'
    (root / "index.html").write_text(
        '<html><body><section id="ok"><p>A table written as a table:</p>'
        "<table><tr><td>a</td><td>b</td></tr></table>"
        "<p>Inline code may show the syntax: <code>| a | b |\n|---|---|</code>.</p>"
        '<div class="highlight"><pre>| a | b |\n|---|---|</pre></div>'
        + cell.format('<div class="output stream highlight-myst-ansi"><pre>10 steps in 6 s</pre></div>')
        + "</section></body></html>"
    )
    (root / "raw_table.html").write_text(
        '<html><body><section id="claims"><div class="cell_output"><div class="output text_markdown">'
        "<p>| | claim | status |\n|---|---|---|\n| C1 | a claim | reproduced |</p></div></div></section></body></html>"
    )
    (root / "stderr.html").write_text(
        '<html><body><section id="run">'
        + cell.format('<div class="output stderr highlight-myst-ansi"><pre>[transformers] Ignoring '
                      "clean_up_tokenization_spaces=True</pre></div>")
        + "</section></body></html>"
    )
    (root / "overlap.html").write_text(  # the warning printed to stdout: not a stderr block, still a fault
        '<html><body><section id="heatmaps">'
        + cell.format('<div class="output stream highlight-myst-ansi"><pre>transfer_report.py:95: UserWarning: '
                      "Tight layout not applied. tight_layout cannot make Axes height small enough to accommodate "
                      "all Axes decorations.</pre></div>")
        + "</section></body></html>"
    )
    (root / "progress.html").write_text(
        '<html><body><section id="load">'
        + cell.format("<pre>Loading weights:   0%|          | 0/272 [00:00&lt;?, ?it/s]</pre>")
        + cell.format('<div class="widget-progress"></div>')
        + "</section></body></html>"
    )


def test_checker_fails_on_raw_tables_stderr_overlapping_figures_and_progress_bars(tmp_path):
    site = tmp_path / "html"
    write_output_faults(site)
    reports = {r.page: r for r in check_book.check_site(site)}
    assert reports["index.html"].ok, reports["index.html"].problems
    raw = reports["raw_table.html"]
    assert not raw.ok and len(raw.raw_tables) == 1 and "#claims" in raw.raw_tables[0]
    err = reports["stderr.html"]
    assert not err.ok and "clean_up_tokenization_spaces" in err.stderr_blocks[0]
    overlap = reports["overlap.html"]
    assert not overlap.ok and "Tight layout not applied" in overlap.figure_warnings[0]
    assert overlap.stderr_blocks == []  # a separate fault: the warning went to stdout
    bars = reports["progress.html"]
    assert not bars.ok and len(bars.progress_bars) == 2
    for name, report in reports.items():  # each fault page fails for its own reason only
        kinds = {p.split(":")[0] for p in report.problems}
        assert len(kinds) <= 1, (name, report.problems)


def test_command_line_fails_on_output_faults(tmp_path, capsys):
    site = tmp_path / "html"
    write_output_faults(site)
    assert check_book.main([str(site), "--screenshots", ""]) == 1
    out = capsys.readouterr().out
    assert "1 of 5 pages ok" in out and "raw_tables:" in out and "stderr_blocks:" in out
