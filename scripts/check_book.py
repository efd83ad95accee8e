"""Load every page of the built book in headless Chromium and fail on what a reader would see broken.

    python scripts/check_book.py [_build/html] [--screenshots _build/screenshots] [--chromium PATH]

The pages are served from a local HTTP server on 127.0.0.1 (as GitHub Pages serves them); every request
to any other host is blocked, so the check also proves that the book renders offline. A page fails on:

- a console error or an uncaught exception in the page;
- a request to another host (blocked here; it would need the internet);
- a local request that failed or answered >= 400 (a missing script, stylesheet, image, font);
- a broken internal link: an <a href> to a local file that does not exist, or to an anchor (#id) that
  the target page does not have;
- an <img> that did not decode (naturalWidth 0), and an empty figure: a notebook output or figure
  whose <img> has no source or zero size, or whose <svg> has no content, or an ipywidget that was not
  rendered from the state saved in the notebook;
- a raw Markdown table: pipe-table text (`|---|`) left in a rendered paragraph, list item or table cell
  (Markdown that a notebook output printed and nobody parsed), code excluded;
- a stderr block in a notebook output (warnings, tracebacks, library chatter: not for readers);
- a figure whose labels may overlap: matplotlib's layout warnings ("Tight layout not applied", "constrained
  layout not applied", and the like) in any output;
- a progress bar in an output (a tqdm widget or its text, e.g. "Loading weights: 0%|").

A PNG screenshot of each page goes to --screenshots, and a summary table is printed. Exit status: 0 when
every page passes, 1 when one fails, 2 when the check could not run (no Chromium, no built book).

Chromium is the system's (Debian: `apt-get install chromium`), driven over the DevTools protocol by
Playwright (`pip install playwright`; no browser download: the executable is passed in).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Where Chromium may be, in order: the Debian binary itself (the /usr/bin/chromium wrapper script
# only adds flags), then the usual names on PATH (GitHub's Ubuntu runners have google-chrome).
CHROMIUM_CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
)
# Console errors that are not faults of the book, each with the reason. Keep this list short.
HARMLESS_CONSOLE = {
    "Got invalid theme mode: . Resetting to auto.": "pydata-sphinx-theme 0.17 on a reader's first page: no "
    "light/dark choice is stored yet, so it logs this and uses `auto`",
}
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads", ".doctrees", ".pytest_cache"}
LOCAL_SCHEMES = ("data:", "blob:", "about:")


# --no-sandbox: CI and this project's machines run as root, where Chromium's sandbox refuses.
# --disable-dev-shm-usage: containers often give /dev/shm 64 MiB, too little for a tall page's
# screenshot; the renderer then dies ("Target page, context or browser has been closed").
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium executable: --chromium, else $CHROMIUM, else the first of CHROMIUM_CANDIDATES found.
    A named executable that does not exist gives None rather than some other browser."""

    def usable(name: str) -> str | None:
        path = name if os.path.isabs(name) else shutil.which(name)
        return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None

    named = explicit or os.environ.get("CHROMIUM")
    if named:
        return usable(named)
    return next((p for p in map(usable, CHROMIUM_CANDIDATES) if p), None)


def html_pages(root: Path) -> list[Path]:
    """Every .html file under root, except the theme's and Sphinx's asset folders."""
    return sorted(
        p for p in root.rglob("*.html") if not SKIP_DIRS.intersection(p.relative_to(root).parts[:-1])
    )


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k == "id" or (k == "name" and tag == "a"):
                self.ids.add(v or "")


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    """The ids (and <a name>s) a page defines: what a #fragment link to it can land on."""
    parser = _Ids()
    parser.feed(path.read_text(errors="replace"))
    return frozenset(parser.ids)


def link_problem(href: str, page_url: str, base_url: str, root: Path) -> str | None:
    """Why an absolute link (as the browser resolved it) is broken, or None. Only links inside the
    served site are checked; external links are a reader's business (and unreachable here)."""
    if not href.startswith(base_url):
        return None
    parts = urlsplit(href)
    rel = unquote(parts.path[len(urlsplit(base_url).path) :])
    target = root / rel
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"missing file {rel or '/'}"
    if parts.fragment and target.suffix == ".html":
        frag = unquote(parts.fragment)
        if frag not in anchors(target):
            return f"missing anchor #{frag} in {target.relative_to(root)}"
    return None


@dataclass
class PageReport:
    page: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # requests to other hosts
    failed: list[str] = field(default_factory=list)  # local requests that failed or answered >= 400
    broken_links: list[str] = field(default_factory=list)
    bad_images: list[str] = field(default_factory=list)
    empty_figures: list[str] = field(default_factory=list)
    raw_tables: list[str] = field(default_factory=list)  # pipe-table text in a rendered paragraph
    stderr_blocks: list[str] = field(default_factory=list)  # stderr outputs of notebook cells
    figure_warnings: list[str] = field(default_factory=list)  # matplotlib layout warnings: overlapping labels
    progress_bars: list[str] = field(default_factory=list)  # tqdm widgets or their text in outputs
    links: int = 0
    images: int = 0
    seconds: float = 0.0
    screenshot: str | None = None

    PROBLEMS = (
        "console_errors",
        "page_errors",
        "blocked",
        "failed",
        "broken_links",
        "bad_images",
        "empty_figures",
        "raw_tables",
        "stderr_blocks",
        "figure_warnings",
        "progress_bars",
    )

    @property
    def problems(self) -> list[str]:
        return [f"{kind}: {item}" for kind in self.PROBLEMS for item in getattr(self, kind)]

    @property
    def ok(self) -> bool:
        return not self.problems


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the browser's requests are reported by the checker, not here
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A static file server for root on a free port of 127.0.0.1, in a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# Runs in the page once it has loaded: settle MathJax, make lazy images load, then report the images,
# empty figures and the links.
PAGE_PROBE = r"""
async () => {
  for (const img of document.images) if (img.loading === "lazy") img.loading = "eager";
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise, new Promise(r => setTimeout(r, 15000))]);
  }
  const pending = [...document.images].filter(i => !i.complete);
  await Promise.race([
    Promise.all(pending.map(i => new Promise(r => { i.addEventListener("load", r); i.addEventListener("error", r); }))),
    new Promise(r => setTimeout(r, 15000)),
  ]);
  const where = el => {
    const sec = el.closest("section[id]");
    return sec ? "#" + sec.id : "page";
  };
  // ipywidgets: html-manager renders each saved view into a .widget-subarea just before its script tag
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const rendered = v => {
    const el = v.previousElementSibling;
    return el && el.classList.contains("widget-subarea") && el.childElementCount > 0;
  };
  for (let i = 0; i < 50 && !views.every(rendered); i++) await new Promise(r => setTimeout(r, 100));
  const badImages = [...document.images]
    .filter(i => !i.complete || i.naturalWidth === 0)
    .map(i => `${i.getAttribute("src") || "(no src)"} in ${where(i)}`);
  const empty = [];
  const areas = document.querySelectorAll(".cell_output, .output, figure, .figure");
  for (const area of areas) {
    for (const img of area.querySelectorAll("img")) {
      const src = img.getAttribute("src") || "";
      if (!src || src === "data:," || (img.complete && (img.naturalWidth === 0 || img.naturalHeight === 0)))
        empty.push(`empty <img src="${src.slice(0, 60)}"> in ${where(area)}`);
    }
    for (const svg of area.querySelectorAll("svg")) {
      if (svg.closest("mjx-container")) continue;  // MathJax's own output
      if (svg.childElementCount === 0) empty.push(`empty <svg> in ${where(area)}`);
    }
  }
  for (const v of views) if (!rendered(v)) empty.push(`widget not rendered from its saved state in ${where(v)}`);
  const links = [...document.querySelectorAll("a[href]")]
    .map(a => a.href)
    .filter(h => h.startsWith("http:") || h.startsWith("https:"));
  // text a reader sees as prose: code, maths and scripts left out
  const prose = el => [...el.childNodes].map(n => n.nodeType === Node.TEXT_NODE ? n.textContent
    : n.nodeType === Node.ELEMENT_NODE && !n.matches("code, pre, kbd, script, style, .math, mjx-container") ? prose(n) : "").join("");
  const short = text => text.replace(/\s+/g, " ").trim().slice(0, 70);
  const rawTables = [...document.querySelectorAll("p, li, td, th, dd, blockquote")]
    .filter(el => !el.closest("pre, .highlight") && /\|\s*:?-{3,}:?\s*\|/.test(prose(el)))
    .map(el => `"${short(prose(el))}" in ${where(el)}`);
  const stderr = [...document.querySelectorAll(".output.stderr, .stderr")]
    .map(el => `"${short(el.textContent)}" in ${where(el)}`);
  const outputs = [...document.querySelectorAll(".cell_output, .output")];
  const LAYOUT = /(tight_layout|tight layout|constrained_layout|constrained layout)[^\n]*(not applied|cannot|overlap)|not compatible with tight_layout|Tight layout not applied/i;
  const figureWarnings = outputs.filter(el => LAYOUT.test(el.textContent))
    .map(el => `"${short(el.textContent.match(LAYOUT)[0])}" in ${where(el)}`);
  const BAR = /\d+%\|[^\n]*\|\s*\d+\/\d+/;
  const progress = [
    ...outputs.filter(el => el.querySelector(".widget-progress, progress, .progress-bar")).map(el => `progress widget in ${where(el)}`),
    ...outputs.filter(el => BAR.test(el.textContent)).map(el => `"${short(el.textContent.match(BAR)[0])}" in ${where(el)}`),
  ];
  return {badImages, empty: [...new Set(empty)], links, images: document.images.length, rawTables: [...new Set(rawTables)],
          stderr: [...new Set(stderr)], figureWarnings: [...new Set(figureWarnings)], progress: [...new Set(progress)]};
}
"""


def watch(page, report: PageReport, host: str, base: str) -> None:
    """Block requests to other hosts and record console errors, page errors and failed local requests."""

    def route(r):
        url = r.request.url
        if url.startswith(LOCAL_SCHEMES) or urlsplit(url).netloc == host:
            r.continue_()
        else:
            report.blocked.append(url)
            r.abort("internetdisconnected")

    def on_console(msg):
        text = msg.text
        # blocked requests are reported once, as `blocked`, not again as console noise
        if msg.type == "error" and "ERR_INTERNET_DISCONNECTED" not in text and text not in HARMLESS_CONSOLE:
            loc = msg.location or {}
            report.console_errors.append(f"{text} ({loc.get('url', '')}:{loc.get('lineNumber', '')})")

    def on_failed(req):
        if urlsplit(req.url).netloc == host:
            report.failed.append(f"{req.url[len(base) - 1 :]}: {req.failure}")

    def on_response(resp):
        if urlsplit(resp.url).netloc == host and resp.status >= 400:
            report.failed.append(f"{resp.url[len(base) - 1 :]}: HTTP {resp.status}")

    page.route("**/*", route)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)


def take_screenshot(context, page, url: str, shot: Path, timeout_s: float, report: PageReport):
    """Save a full-page PNG of page; returns the page still open (a fresh one if the renderer died).

    A page taller than Chromium can paint at once gets its first screen instead. If the renderer
    dies while painting (seen once in CI), the page is loaded again in a fresh tab and its first
    screen is taken; if that fails too, the failure is reported on the page, not raised.
    """
    try:
        page.screenshot(path=str(shot), full_page=True, timeout=timeout_s * 1000)
        report.screenshot = str(shot)
        return page
    except Exception:
        pass
    try:
        if page.is_closed():
            raise RuntimeError("page closed")
        page.evaluate("1")  # raises if the renderer died
        alive = True
    except Exception:
        alive = False
    try:
        if not alive:
            page = context.new_page()
            page.goto(url, wait_until="load", timeout=timeout_s * 1000)
        page.screenshot(path=str(shot), timeout=timeout_s * 1000)
        report.screenshot = str(shot)
    except Exception as e:
        report.page_errors.append(f"could not screenshot: {e.__class__.__name__}: {e}".splitlines()[0])
    return page


def check_site(
    root: str | Path,
    screenshots: str | Path | None = None,
    chromium: str | None = None,
    timeout_s: float = 60.0,
    pages: list[Path] | None = None,
) -> list[PageReport]:
    """Check every page under root (or the given pages); returns one report per page."""
    from playwright.sync_api import sync_playwright

    root = Path(root).resolve()
    exe = find_chromium(chromium)
    if exe is None:
        raise FileNotFoundError(
            f"no Chromium: {chromium or os.environ.get('CHROMIUM') or ', '.join(CHROMIUM_CANDIDATES)}"
        )
    shots = Path(screenshots) if screenshots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    server, base = serve(root)
    host = urlsplit(base).netloc
    reports = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            for path in pages or html_pages(root):
                rel = path.relative_to(root).as_posix()
                report = PageReport(rel)
                page = context.new_page()
                watch(page, report, host, base)
                start = time.perf_counter()
                url = base + rel
                try:
                    page.goto(url, wait_until="load", timeout=timeout_s * 1000)
                    try:
                        page.wait_for_load_state("networkidle", timeout=10_000)
                    except Exception:  # a page that keeps polling is not broken for that
                        pass
                    probe = page.evaluate(PAGE_PROBE)
                    page.wait_for_timeout(200)  # late console errors of widget rendering
                except Exception as e:
                    report.page_errors.append(f"could not load: {e.__class__.__name__}: {e}".splitlines()[0])
                    probe = {"badImages": [], "empty": [], "links": [], "images": 0}
                report.bad_images = probe["badImages"]
                report.empty_figures = probe["empty"]
                report.raw_tables = probe.get("rawTables", [])
                report.stderr_blocks = probe.get("stderr", [])
                report.figure_warnings = probe.get("figureWarnings", [])
                report.progress_bars = probe.get("progress", [])
                report.images = probe["images"]
                report.links = len(probe["links"])
                for href in sorted(set(probe["links"])):
                    problem = link_problem(href, url, base, root)
                    if problem:
                        report.broken_links.append(f"{href[len(base) - 1 :]}: {problem}")
                if shots:
                    shot = shots / (rel.replace("/", "__").removesuffix(".html") + ".png")
                    page = take_screenshot(context, page, url, shot, timeout_s, report)
                report.seconds = time.perf_counter() - start
                page.close()
                reports.append(report)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return reports


def summary_table(reports: list[PageReport]) -> str:
    """A fixed-width table: one line per page, one column per kind of problem."""
    cols = ("console", "js", "blocked", "failed", "links", "images", "figures", "tables", "stderr", "layout",
            "progress")
    width = max([len("page"), *(len(r.page) for r in reports)])
    lines = [
        f"{'page':<{width}}  {'result':<6}  " + "  ".join(f"{c:>7}" for c in cols) + "  checked     time"
    ]
    for r in reports:
        counts = [len(getattr(r, k)) for k in PageReport.PROBLEMS]
        checked = f"{r.links:>4}a {r.images:>3}img"
        lines.append(
            f"{r.page:<{width}}  {'ok' if r.ok else 'FAIL':<6}  "
            + "  ".join(f"{c:>7}" for c in counts)
            + f"  {checked}  {r.seconds:5.1f} s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "html_dir", nargs="?", default="_build/html", help="the built book (default: _build/html)"
    )
    parser.add_argument(
        "--screenshots", default="_build/screenshots", help="folder for one PNG per page ('' for none)"
    )
    parser.add_argument(
        "--chromium", help="the Chromium (or Chrome) executable; default: $CHROMIUM, then PATH"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to load one page")
    args = parser.parse_args(argv)

    root = Path(args.html_dir)
    if not (root / "index.html").is_file():
        print(
            f"check_book: {root}/index.html does not exist: build the book first (make book)", file=sys.stderr
        )
        return 2
    if find_chromium(args.chromium) is None:
        print(
            "check_book: no Chromium found. Install it (Debian/Ubuntu: apt-get install chromium) or pass "
            "--chromium PATH / set CHROMIUM to a Chrome or Chromium executable.",
            file=sys.stderr,
        )
        return 2
    try:
        import playwright  # noqa: F401
    except ImportError:
        print(
            "check_book: the Python package playwright is missing: pip install -e '.[book]'", file=sys.stderr
        )
        return 2

    start = time.perf_counter()
    reports = check_site(root, args.screenshots or None, args.chromium, args.timeout)
    print(summary_table(reports))
    failed = [r for r in reports if not r.ok]
    for r in failed:
        print(f"\n{r.page}:")
        for problem in r.problems:
            print(f"  {problem}")
    print(
        f"\n{len(reports) - len(failed)} of {len(reports)} pages ok in {time.perf_counter() - start:.0f} s"
        f" (Chromium: {find_chromium(args.chromium)})"
        + (f"; screenshots in {args.screenshots}/" if args.screenshots else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
