"""Notebooks are committed clean and in the shape the book and papermill rely on.

Clean: no outputs, no execution counts, no papermill-injected cells (`make strip` fixes the first two).
Shape: the first cell is markdown starting with a `# Title`, and exactly one code cell is tagged
`parameters`, so `papermill -p name value` can override the chapter's defaults.
"""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NO_NOTEBOOKS = "notebooks/ holds no .ipynb yet: these checks run as soon as one exists"


def notebook_problems(nb: dict) -> list[str]:
    """What is wrong with a notebook (parsed .ipynb JSON); empty when it is clean and well-formed."""
    problems = []
    cells = nb.get("cells", [])
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {i} has outputs (run `make strip`)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i} has an execution count (run `make strip`)")
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            problems.append(f"cell {i} was injected by papermill: commit the source notebook, not an output")

    first = cells[0] if cells else None
    first_text = "".join(first["source"]).lstrip() if first else ""
    if first is None or first["cell_type"] != "markdown" or not first_text.startswith("# "):
        problems.append("the first cell must be markdown starting with a '# Title' line")

    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        problems.append(f"exactly one cell must be tagged 'parameters'; found {len(tagged)} (cells {tagged})")
    elif cells[tagged[0]]["cell_type"] != "code":
        problems.append(f"the 'parameters' cell (cell {tagged[0]}) must be a code cell")

    # The book and nbval start the kernel named here; only the venv's default kernel exists in CI.
    kernel = nb.get("metadata", {}).get("kernelspec", {}).get("name", "python3")
    if kernel != "python3":
        problems.append(f"kernelspec is '{kernel}'; save the notebook with the 'python3' kernel")
    return problems


@pytest.mark.parametrize(
    "path",
    NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason=NO_NOTEBOOKS))],
    ids=lambda p: p.name if p else "no-notebooks",
)
def test_notebook_is_clean(path):
    problems = notebook_problems(json.loads(path.read_text()))
    assert problems == [], f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


def _cell(cell_type, source, tags=(), **extra):
    cell = {"cell_type": cell_type, "metadata": {"tags": list(tags)} if tags else {}, "source": source}
    if cell_type == "code":
        cell |= {"outputs": [], "execution_count": None}
    return cell | extra


CLEAN = {
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "cells": [
        _cell("markdown", ["# 1. A chapter\n", "\n", "Overview."]),
        _cell("code", ["example_tape = 'RBRB'\n"], tags=["parameters"]),
        _cell("code", ["print(example_tape)\n"]),
    ],
}


def test_checker_accepts_a_clean_notebook():
    assert notebook_problems(CLEAN) == []


@pytest.mark.parametrize(
    "broken, expected",
    [
        ({"cells": [CLEAN["cells"][0], CLEAN["cells"][1], _cell("code", ["1\n"], execution_count=3)]},
         "execution count"),
        ({"cells": CLEAN["cells"][:2] + [_cell("code", ["1\n"], outputs=[{"output_type": "stream"}])]},
         "has outputs"),
        ({"cells": CLEAN["cells"][1:]}, "first cell"),
        ({"cells": [_cell("markdown", ["## Not a title"])] + CLEAN["cells"][1:]}, "first cell"),
        ({"cells": CLEAN["cells"][:1] + CLEAN["cells"][2:]}, "found 0"),
        ({"cells": CLEAN["cells"] + [_cell("code", ["x = 1\n"], tags=["parameters"])]}, "found 2"),
        ({"cells": CLEAN["cells"][:1] + [_cell("markdown", ["x"], tags=["parameters"])]}, "must be a code cell"),
        ({"cells": CLEAN["cells"] + [_cell("code", ["x = 2\n"], tags=["injected-parameters"])]}, "papermill"),
        ({"metadata": {"kernelspec": {"name": "venv-delta"}}}, "kernelspec"),
        ({"cells": []}, "first cell"),
    ],
    ids=["count", "outputs", "no-markdown-first", "no-title", "no-parameters", "two-parameters",
         "markdown-parameters", "papermill-output", "kernel", "empty"],
)
def test_checker_flags_each_problem(broken, expected):
    problems = notebook_problems(CLEAN | broken)
    assert any(expected in p for p in problems), problems
