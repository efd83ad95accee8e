"""`generate(family, level, colour_mode, n, seed)`: seeded, reproducible problem generation.

Each family enumerates its full parameter space for the level in a fixed order; `mode="systematic"`
takes the first `n`, `mode="random"` a seeded sample of `n` (spec A.2.1). Every problem gets its own
`random.Random` and a uuid-shaped id, both derived from a SHA-256 of (seed, family, level, colour mode,
mode, index), so the same arguments give byte-identical problems and a problem does not depend on how
many others were generated with it. (The reference seeds nothing; its ids are fresh uuid4s.) The
mode is part of the hash so that a systematic and a random set made with the same seed never share
an id for different problems.
"""

from __future__ import annotations

import hashlib
import random
import uuid
import warnings

from .base import COLOUR_MODES, FAMILIES, TWO_COLOUR_SUFFIX, Family, Params, Problem
from .cases import DEFAULT_CASES, CaseConfig, build_test_cases
from .levels import LEVELS, Level

__all__ = ["GENERATOR_VERSION", "MODES", "generate", "parameter_space", "build_problem"]

MODES = ("systematic", "random")

# Bumped whenever the same arguments start giving different problems (test tapes, ids, solutions), so
# that a result can say which problems it was computed on. 1: up to commit f7386a9. 2: issue 17 (test
# cases built kind by kind as in spec A.2.2b, plus the near-miss tapes of `near_miss.py`). 3: issue 18
# (contains_substring and ends_with also tell apart the automaton without KMP fallbacks, the prefix
# matcher that restarts on every mismatch, and every automaton one transition away from the solution;
# DELTA-mini v2 found a base model passing every test of 'BBRBBB' with the second and of 'RRRRBB' with
# one wrong fallback).
GENERATOR_VERSION = 3


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def _lookup(family: str, level: str, colour_mode: str) -> tuple[Family, Level]:
    if family not in LEVELS:
        raise ValueError(f"Unknown family {family!r}; choose one of {sorted(LEVELS)}")
    if family not in FAMILIES:
        raise ValueError(
            f"Family {family!r} has levels but no generator registered yet (its module is missing); "
            f"available: {sorted(FAMILIES)}"
        )
    levels = LEVELS[family]
    if level not in levels:
        raise ValueError(f"Unknown level {level!r} for {family}; choose one of {list(levels)}")
    modes = levels[level].colour_modes
    if colour_mode not in modes:
        raise ValueError(
            f"Colour mode {colour_mode!r} is not offered for {family} {level}; choose one of {list(modes)}"
        )
    return FAMILIES[family], levels[level]


def parameter_space(family: str, level: str, colour_mode: str) -> list[Params]:
    """The full, ordered parameter space of a family at a level in a colour mode."""
    fam, lev = _lookup(family, level, colour_mode)
    return fam.space(lev.settings, COLOUR_MODES[colour_mode])


def build_problem(
    family: Family,
    params: Params,
    level: str,
    colour_mode: str,
    index: int,
    seed_bytes: bytes,
    cases: CaseConfig = DEFAULT_CASES,
) -> Problem:
    """One problem from one point of the parameter space; `seed_bytes` seeds its RNG and id."""
    colours = COLOUR_MODES[colour_mode]
    rng = random.Random(int.from_bytes(seed_bytes[:16], "big"))
    criteria = family.criteria(params)
    if colour_mode == "two_color":
        criteria += TWO_COLOUR_SUFFIX
    return Problem(
        id=str(uuid.UUID(bytes=seed_bytes[16:32], version=4)),
        index=index,
        name=family.title(params),
        family=family.name,
        criteria=criteria,
        description=family.description(params) if family.description is not None else "",
        test_cases=build_test_cases(family, params, colours, rng, cases),
        solution=family.solution(params, colours),
        difficulty=family.difficulty,
        difficulty_level=level,
        color_mode=colour_mode,
        params=params,
        available_nodes=family.available_nodes(colour_mode),
    )


def generate(
    family: str,
    level: str,
    colour_mode: str,
    n: int | None = None,
    seed: int = 0,
    mode: str = "systematic",
    *,
    cases: CaseConfig = DEFAULT_CASES,
) -> list[Problem]:
    """Generate `n` problems of `family` at `level` (`n=None`: the whole parameter space).
    `cases` sets the test-case rules (`CaseConfig(near_miss_tapes=False)`: the reference's alone).

    >>> [p.name for p in generate("starts_with", "basic", "two_color", 3, seed=0)]
    ['Starts with R', 'Starts with B', 'Starts with RR']
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r}: must be an int")
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: choose one of {list(MODES)}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n={n!r}: must be a positive int (or None for the whole parameter space)")
    fam, lev = _lookup(family, level, colour_mode)
    space = fam.space(lev.settings, COLOUR_MODES[colour_mode])
    if n is None:
        n = len(space)
    elif n > len(space):
        warnings.warn(
            f"{family} {level} {colour_mode}: asked for {n} problems, the parameter space has "
            f"{len(space)}; generating {len(space)}",
            stacklevel=2,
        )
        n = len(space)
    if mode == "random":
        order = random.Random(int.from_bytes(_digest(seed, family, level, colour_mode, "order")[:16], "big"))
        chosen = order.sample(space, n)
    else:
        chosen = space[:n]
    return [
        build_problem(
            fam,
            params,
            level,
            colour_mode,
            index,
            _digest(seed, family, level, colour_mode, mode, index),
            cases,
        )
        for index, params in enumerate(chosen)
    ]
