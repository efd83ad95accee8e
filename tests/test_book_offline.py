"""The built book must render without the internet: no page may load a script, stylesheet, image or
frame from another host. Links (<a href>) to other sites are fine: a reader follows them on purpose.

The last test scans _build/html (from `make book` / `make test`); it is marked `book_check`, so `make test`
runs it in `make check-book`, after the build (`make test-unit` deselects it). Without a built book it fails
under CI=true and skips elsewhere.
"""

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "_build" / "html"

# (tag, attribute) pairs whose URL the browser fetches while rendering the page.
LOADED = {
    ("script", "src"),
    ("img", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("video", "src"),
    ("audio", "src"),
    ("embed", "src"),
    ("object", "data"),
    ("input", "src"),
}
# <link rel=...> values that make the browser fetch href (canonical, alternate, ... are only metadata).
LINK_LOADS = {
    "stylesheet",
    "preload",
    "modulepreload",
    "icon",
    "shortcut",
    "prefetch",
    "manifest",
    "apple-touch-icon",
}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
CSS_REMOTE = re.compile(r"""(?:@import\s+(?:url\()?|url\()\s*['"]?((?:https?:)?//[^'")\s]+)""", re.IGNORECASE)


class _Loads(HTMLParser):
    def __init__(self):
        super().__init__()
        self.remote: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        urls = [attrs.get(a) for t, a in LOADED if t == tag]
        if tag == "link" and LINK_LOADS & set((attrs.get("rel") or "").lower().split()):
            urls.append(attrs.get("href"))
        if tag in ("img", "source"):
            urls += [part.split()[0] for part in (attrs.get("srcset") or "").split(",") if part.strip()]
        self.remote += [f"<{tag}> {u}" for u in urls if u and REMOTE.match(u)]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


def remote_loads(html_dir: Path) -> list[str]:
    """'<file>: <tag> <url>' for every remote URL a page (or a stylesheet) of html_dir would fetch."""
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        parser = _Loads()
        text = page.read_text(errors="replace")
        parser.feed(text)
        remote = parser.remote + [
            f"css {u}"
            for u in CSS_REMOTE.findall(" ".join(re.findall(r"<style.*?</style>", text, re.DOTALL)))
        ]
        found += [f"{page.relative_to(html_dir)}: {r}" for r in remote]
    for css in sorted(html_dir.rglob("*.css")):
        found += [
            f"{css.relative_to(html_dir)}: css {u}"
            for u in CSS_REMOTE.findall(css.read_text(errors="replace"))
        ]
    return found


def test_scanner_finds_remote_loads_and_ignores_links(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<html><head><script src="https://cdn.example.org/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/f.css"><link rel="canonical" href="https://example.org/">'
        '<script src="_static/local.js"></script></head><body>'
        '<a href="https://arxiv.org/abs/2509.21016">paper</a><img src="_images/a.png">'
        '<img src="http://example.org/b.png"/></body></html>'
    )
    (tmp_path / "sub" / "page.html").write_text('<iframe src="https://example.org/embed"></iframe>')
    (tmp_path / "style.css").write_text(
        "@import url('https://fonts.example.org/x.css'); a { background: url(img.png) }"
    )
    found = remote_loads(tmp_path)
    assert found == [
        "index.html: <script> https://cdn.example.org/x.js",
        "index.html: <link> //fonts.example.org/f.css",
        "index.html: <img> http://example.org/b.png",
        "sub/page.html: <iframe> https://example.org/embed",
        "style.css: css https://fonts.example.org/x.css",
    ]


@pytest.mark.book_check
def test_built_book_loads_nothing_from_the_internet():
    if not (BUILT / "index.html").is_file():
        missing = f"the book is not built ({BUILT}/index.html is missing): run `make book` first"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{missing}; CI=true, so this is a failure, not a skip")
        pytest.skip(missing)
    found = remote_loads(BUILT)
    assert found == [], (
        "pages of the built book load files from the internet (vendor them under book/_static/vendor/ and "
        "point _config.yml at them):\n" + "\n".join(found)
    )
