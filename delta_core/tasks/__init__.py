"""Seeded Manufactoria task generators: the families of spec A.2.2, each problem with a verified
DSL solution.

    >>> from delta_core.tasks import generate
    >>> problem = generate("contains_substring", "easy", "four_color", n=1, seed=0)[0]
    >>> problem.criteria
    "Accept if the tape contains the substring 'R' (must be consecutive); reject otherwise."

Modules: `base` (records, `Family`, the registry), `levels` (per-level parameter table), `cases`
(shared test-case construction), `generate`, `programs` (DSL building blocks), `prompt`, and one
module per family group: `sequence`, `contains`, `regex`, `numeric`. `near_miss` (the wrong
languages next to each problem's, and the tapes that tell them apart) and `stats` (test-case
distributions against the reference's, and the near-miss measure).
`ensembles` (the authors' 12 ensembles and the generalisation splits, as data), `export` (HF-schema
JSONL, `datasets.Dataset` for GRPO) and the CLI `python -m delta_core.tasks {build,show}`.
"""

import importlib
import importlib.util

from . import contains, regex, sequence  # noqa: F401  (each registers its families)
from .base import FAMILIES, Family, Problem, TestCase
from .generate import generate, parameter_space
from .levels import LEVELS
from .prompt import build_prompt

# The numerical families live in their own module, written separately; register them when present.
# (An ImportError raised *inside* numeric.py is a real bug and is not swallowed.)
if importlib.util.find_spec(f"{__name__}.numeric") is not None:
    importlib.import_module(f"{__name__}.numeric")

from .ensembles import ENSEMBLES, SPLITS, build_ensemble  # noqa: E402  (after the families)
from .export import to_dataset, write_ensemble  # noqa: E402

__all__ = [
    "ENSEMBLES",
    "SPLITS",
    "build_ensemble",
    "to_dataset",
    "write_ensemble",
    "generate",
    "parameter_space",
    "build_prompt",
    "FAMILIES",
    "LEVELS",
    "Family",
    "Problem",
    "TestCase",
]
