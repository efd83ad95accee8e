"""The chapters in JupyterLab, live (issue 23).

The browser test (marker `browser`; `make check-lab` runs it, `make test-unit` deselects it) starts
JupyterLab as `make lab` does, on a free loopback port with a token, and drives the system's Chromium
through playwright: it opens chapter 1, runs all its cells, finds the DSL playground, types a change to
the program that gets the example tape rejected, a new tape that is accepted, then a syntax error, and
checks that the widget's output follows each edit (verdict, trace table, pictures) and shows the
parser's `Line N:` message, never a traceback. Screenshots go to _build/screenshots/lab/. The server is
stopped by its PID. Without Chromium the test fails under CI=true and skips elsewhere.

The other tests check, without a browser, what makes a chapter rerunnable from inside it: the parameters
cell comes first, `papermill --help-notebook` shows every parameter with its meaning, and the first cell
links to the chapter's section of the rerun page, which names every parameter.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RERUN = ROOT / "book" / "rerun.md"
SCREENSHOTS = ROOT / "_build" / "screenshots" / "lab"
CHAPTER = "01_manufactoria_dsl.ipynb"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def parameters_cell(path: Path) -> dict:
    tagged = [c for c in _cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    return tagged[0]


def assigned_names(source: str) -> list[str]:
    """The names a parameters cell assigns at top level, in order."""
    names = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def rerun_sections(text: str) -> dict[str, str]:
    """The rerun page's sections by heading slug (MyST's default slug function: the page sets
    `heading_anchors` in its front matter), each with its text up to the next heading."""
    from myst_parser.mdit_to_docutils.base import default_slugify

    sections, slug, fenced = {}, None, False
    for line in text.splitlines():
        fenced ^= line.startswith("```")  # a `# comment` in a code block is no heading
        heading = None if fenced else re.match(r"#{1,6} (.+)", line)
        if heading:
            slug = default_slugify(heading[1].strip())
            sections[slug] = ""
        elif slug:
            sections[slug] += line + "\n"
    return sections


# --- rerunnable from inside the chapter ---------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_the_first_code_cell(path):
    # JupyterLab runs a chapter top to bottom as papermill does: the parameters come before any code.
    first_code = next(c for c in _cells(path) if c["cell_type"] == "code")
    tags = first_code["metadata"].get("tags", [])
    assert "parameters" in tags, f"{path.name}: code runs before the parameters"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_help_shows_every_parameter_with_its_meaning(path):
    # What `papermill --help-notebook` prints. Papermill skips a line with a second `=` (in a comment
    # too), so such a parameter would silently vanish from the help.
    from papermill.translators import PythonTranslator

    cell = parameters_cell(path)
    inferred = {p.name: p.help for p in PythonTranslator.inspect({"source": _source(cell)})}
    names = assigned_names(_source(cell))
    assert names, f"{path.name}: the parameters cell assigns nothing"
    shown = list(inferred)
    assert shown == names, f"{path.name}: papermill --help-notebook shows {shown} of {names}"
    assert [n for n, help in inferred.items() if not help] == [], f"{path.name}: parameters without a comment"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cell_links_to_its_section_of_the_rerun_page(path):
    first = _cells(path)[0]
    links = re.findall(r"\]\(\.\./book/rerun\.md#([\w-]+)\)", _source(first))
    assert first["cell_type"] == "markdown" and len(links) == 1, f"{path.name}: no ../book/rerun.md#... link"
    sections = rerun_sections(RERUN.read_text())
    assert links[0] in sections, f"{path.name} links to #{links[0]}; the rerun page has {sorted(sections)}"
    section = sections[links[0]]
    assert f"notebooks/{path.name}" in section, f"#{links[0]} is not the section of {path.name}"
    missing = [n for n in assigned_names(_source(parameters_cell(path))) if f"`{n}=" not in section]
    assert missing == [], f"book/rerun.md#{links[0]} does not give {missing} (`name=default` and its meaning)"


def test_rerun_page_makes_anchors_of_its_headings():
    # Without heading_anchors, MyST resolves no `rerun.md#slug` link and `jupyter-book build -W` fails.
    front = RERUN.read_text().split("---")[1]
    assert re.search(r"heading_anchors:\s*[3-6]", front), front


def test_make_lab_serves_the_repository_on_loopback_with_the_venv_kernel():
    recipe = subprocess.run(
        ["make", "-s", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    lab = next(line for line in recipe.splitlines() if "jupyter lab" in line or "jupyter-lab" in line)
    lab += recipe.split(lab, 1)[1]  # the continuation lines
    flags = ("--ServerApp.ip=127.0.0.1", f'--ServerApp.root_dir="{ROOT}"', "--ServerApp.open_browser=False",
             "--LabApp.default_url=/lab/tree/notebooks", "JUPYTER_PREFER_ENV_PATH=1", "--allow-root")
    for flag in flags:
        assert flag in lab, f"`make lab` lacks {flag}:\n{lab}"
    # The notebooks name the `python3` kernel; the venv must provide it (ipykernel's spec, run with
    # the server's own Python, so with this venv's packages).
    spec = Path(sys.prefix, "share", "jupyter", "kernels", "python3", "kernel.json")
    if spec.exists():
        assert json.loads(spec.read_text())["argv"][0] in ("python", "python3", sys.executable)
    for path in NOTEBOOKS:
        assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "python3"


# --- the playground, live in JupyterLab ---------------------------------------------------------


def _find_chromium() -> str | None:
    """scripts/check_book.py's search: $CHROMIUM, else the Debian binary, else chromium/chrome on PATH."""
    check_book = sys.modules.get("check_book")
    if check_book is None:  # registered before it runs: its dataclasses look their module up
        spec = importlib.util.spec_from_file_location("check_book", ROOT / "scripts" / "check_book.py")
        check_book = sys.modules["check_book"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(check_book)
    return check_book.find_chromium()


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason}: the live-widget test cannot run (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


class LabServer:
    """JupyterLab with `make lab`'s options on a copy of one chapter, its Jupyter dirs all under `home`
    (no user config, settings or workspace leaks in), stopped by its PID."""

    def __init__(self, home: Path, notebook: Path):
        self.home, self.port, self.token = home, _free_port(), secrets.token_hex(16)
        self.root = home / "repo"
        (self.root / "notebooks").mkdir(parents=True)
        # Run here, so that the outputs JupyterLab saves never reach the repository's copy.
        shutil.copy(notebook, self.root / "notebooks" / notebook.name)
        settings = home / "lab-settings"
        # Every cell in the DOM (no virtual scrolling), and no prompt about Jupyter news.
        for plugin, values in {
            "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
            "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        }.items():
            target = settings / f"{plugin}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        self.env = os.environ | {
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTER_PREFER_ENV_PATH": "1",
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "IPYTHONDIR": str(home / "ipython"),
        }
        self.log_path = home / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> None:
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False", "--LabApp.extension_manager=readonly", "--allow-root",
        ]
        self._log = self.log_path.open("w")
        # A session of its own: the kernels it starts share its process group, so that a server that
        # will not stop is killed together with them (by its PID, which is the group's id).
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                _get_json(f"{self.url}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer /api/status in {timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.proc is None:
            return
        try:  # shut the kernels down through the server while it still runs
            for kernel in _get_json(f"{self.url}/api/kernels?token={self.token}", timeout=2):
                request = urllib.request.Request(
                    f"{self.url}/api/kernels/{kernel['id']}?token={self.token}", method="DELETE")
                urllib.request.urlopen(request, timeout=10).close()
        except OSError:
            pass
        pid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        try:  # anything the server left in its group (a kernel it failed to stop)
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


ALL_CELLS_DONE = """() => {
    const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
    if (!notebook) return false;
    const prompts = [...notebook.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
    const failed = [...notebook.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')]
        .some(e => /Traceback/.test(e.innerText));  // Run All stops at a cell that raised
    return failed || (prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p)));
}"""

# Puts the cursor on (or selects) a slice of a textarea's text, found by a marker, as a click and a drag
# would: `[start, end)` is relative to the marker's last occurrence.
SELECT = """(el, [marker, start, end]) => {
    const at = el.value.lastIndexOf(marker);
    if (at < 0) throw new Error('not in the program: ' + marker);
    el.focus();
    el.setSelectionRange(at + start, at + end);
}"""


@pytest.mark.browser
def test_playground_reacts_live_in_jupyterlab(tmp_path):
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (it comes with the book extra)")
    chromium = _find_chromium()
    if chromium is None:
        _unavailable("no Chromium or Chrome found (set CHROMIUM, or apt-get install chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()

    server = LabServer(tmp_path, ROOT / "notebooks" / CHAPTER)
    console: list[str] = []
    try:
        server.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(f"{server.url}/lab/tree/notebooks/{CHAPTER}?token={server.token}", timeout=90_000)
            panel = page.locator(".jp-NotebookPanel")
            expect(panel).to_be_visible(timeout=90_000)
            expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=30_000)
            # The kernel connected (Run All sent while it still starts is dropped by JupyterLab).
            kernel_idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"^Python 3.*\| Idle$"))
            expect(kernel_idle).to_be_visible(timeout=90_000)

            # Run → Run All Cells, as a reader would; then every code cell has its execution count.
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            page.wait_for_function(ALL_CELLS_DONE, timeout=150_000, polling=500)
            notebook_text = page.locator(".jp-Notebook").inner_text()
            page.screenshot(path=str(SCREENSHOTS / "01-chapter-run.png"))
            assert "Traceback" not in notebook_text, f"chapter 1 raised:\n{notebook_text[-3000:]}"

            # The playground: the VBox holding the program Textarea, the tape Text and the Output.
            box = page.locator(".widget-vbox").filter(has=page.locator(".widget-textarea textarea"))
            expect(box).to_have_count(1, timeout=30_000)
            program = box.locator(".widget-textarea textarea")
            tape = box.locator(".widget-text input")
            out = box.locator(".widget-output")
            expect(out).to_contain_text("Tape RBRB → accepted", timeout=30_000)
            expect(out.locator("img")).to_have_count(2, timeout=30_000)
            first_pictures = [out.locator("img").nth(i).get_attribute("src") for i in range(2)]
            first_text = out.inner_text()
            box.scroll_into_view_if_needed()
            box.screenshot(path=str(SCREENSHOTS / "02-playground.png"))

            # Type a change: `first` now lets a B through instead of an R, so RBRB is rejected there.
            program.evaluate(SELECT, ["[R] scan", 1, 2])  # the R of `first`'s route `[R] scan`
            page.keyboard.type("B")
            page.keyboard.press("Tab")  # the program box sends its value when it loses focus
            expect(out).to_contain_text("Tape RBRB → rejected (Routed to NONE)", timeout=30_000)
            expect(out).to_contain_text("no [R] route → NONE", timeout=30_000)  # the trace
            edited_pictures = [out.locator("img").nth(i).get_attribute("src") for i in range(2)]
            assert all(a != b for a, b in zip(first_pictures, edited_pictures)), "pictures not redrawn"
            assert out.inner_text() != first_text
            box.screenshot(path=str(SCREENSHOTS / "03-program-edited.png"))

            # A new tape, typed into the tape box: starts and ends with B, so the edited factory accepts it.
            tape.click()
            tape.press("Control+A")
            tape.press_sequentially("BRRB")
            expect(out).to_contain_text("Tape BRRB → accepted", timeout=30_000)
            expect(out).to_contain_text("tape empty → [EMPTY] → end", timeout=30_000)  # the trace
            box.screenshot(path=str(SCREENSHOTS / "04-tape-edited.png"))

            # A syntax error: delete the colon of `START start:`.
            program.evaluate(SELECT, ["START start:", 11, 12])
            page.keyboard.press("Delete")
            page.keyboard.press("Tab")
            message = re.compile(r"Line \d+: START nodes must have a colon \(hint: write 'START start:'\)")
            expect(out).to_contain_text(message, timeout=30_000)
            expect(out.locator("img")).to_have_count(0, timeout=30_000)
            box.screenshot(path=str(SCREENSHOTS / "05-syntax-error.png"))
            assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
            browser.close()
    except Exception as err:
        raise AssertionError(
            f"{err}\n--- browser console errors ---\n" + "\n".join(console[-20:])
            + f"\n--- JupyterLab log ---\n{server.log_tail()}"
        ) from err
    finally:
        server.stop()
    assert server.proc.poll() is not None, "the JupyterLab server is still running"
