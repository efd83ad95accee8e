"""What a program that ignores the prompt earns: the fixed-program baselines of the dense reward.

A dense (fraction-of-tests-passed) score means something only above what a program that does not read
the question would earn on the same tests. Three such programs, judged on the target problems exactly
as a run saw them (their committed test tapes, e.g. `held_out_target.jsonl`):

- reject-all (`START -> NONE`): earns the share of tests that expect a rejection;
- accept-all (`START -> end`): earns the share that expect an acceptance;
- the best constant program: the best single program of the target family, used for every problem.
  The candidates are the verified solutions of the family's whole parameter space at the target level
  (e.g. "contains BRRB" for every contains_substring/medium problem), the strongest prompt-blind
  program a policy could converge to without reading the pattern.

`fixed_program_baselines(problems, "contains_substring/medium")` returns all three and `best`, the
largest; chapter 7's C3 rule and the landing page's verdict read it.

    from delta_core.experiments.baselines import fixed_program_baselines, load_target_problems
    fixed_program_baselines(load_target_problems("book/results/delta_mini/held_out_target.jsonl"),
                            "contains_substring/medium")
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..judge import judge
from ..tasks.base import COLOUR_MODES
from ..tasks.generate import _lookup

__all__ = ["ACCEPT_ALL", "REJECT_ALL", "dense_score", "fixed_program_baselines", "load_target_problems"]

ACCEPT_ALL = "START start:\n    NEXT end\nEND end\n"
REJECT_ALL = "START start:\n    NEXT NONE\nEND end\n"


def load_target_problems(path: str | Path) -> list[dict[str, Any]]:
    """The problems of a `held_out_target.jsonl` (one JSON object a line: id, criteria, ground_truth)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _tests(problem: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    tests = problem.get("ground_truth", problem.get("test_cases"))
    return json.loads(tests) if isinstance(tests, str) else list(tests)


def dense_score(program: str, problems: Sequence[Mapping[str, Any]]) -> float:
    """The mean over problems of the fraction of its tests the program passes (a parse error: 0), the
    dense reward of `delta_core.rewards` averaged the way every dense mean of the book is."""
    if not problems:
        raise ValueError("dense_score: no problems")
    total = 0.0
    for p in problems:
        results = judge(program, _tests(p))["results"]
        total += sum(r["passed"] for r in results) / len(results) if results else 0.0
    return total / len(problems)


@functools.cache
def _candidates(target: str, colour_mode: str) -> tuple[tuple[str, str], ...]:
    """(name, program) for every verified solution of the target family at its level."""
    family_name, level = target.split("/")
    family, lev = _lookup(family_name, level, colour_mode)
    colours = COLOUR_MODES[colour_mode]
    return tuple(
        (family.title(params), family.solution(params, colours))
        for params in family.space(lev.settings, colours)
    )


def fixed_program_baselines(
    problems: Sequence[Mapping[str, Any]], target: str | None = None, colour_mode: str = "two_color"
) -> dict[str, Any]:
    """Mean dense score of reject-all, accept-all and (given `target`, "family/level") the best constant
    program over `problems`; `best` is the largest of them and `best_name` says which it is."""
    out: dict[str, Any] = {
        "reject_all": dense_score(REJECT_ALL, problems),
        "accept_all": dense_score(ACCEPT_ALL, problems),
    }
    if target:
        scored = [(dense_score(program, problems), name) for name, program in _candidates(target, colour_mode)]
        score, name = max(scored, key=lambda sn: (sn[0], sn[1]))
        out["best_constant"], out["best_constant_program"] = score, name
    name = max(out, key=lambda k: out[k] if isinstance(out[k], float) else -1.0)
    out["best"] = out[name]
    out["best_name"] = out["best_constant_program"] if name == "best_constant" else name.replace("_", "-")
    out["n_problems"] = len(problems)
    return out
