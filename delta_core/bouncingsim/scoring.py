"""Scoring BouncingSim answers, and TRL reward functions (spec B.5).

The rule is the reference's: at each timestamp, the mean Euclidean distance over the balls between
the predicted and the expected positions, rounded to 3 decimals, must be <= `tolerance` (50 px); a
missing ball or an empty answer fails that timestamp. `pass_rate` is the fraction of timestamps that
pass, `all_pass` is 1.0 only if all do.

Unlike the reference, the checker never enters the untrusted process: the program runs in the
sandbox (`sandbox.py`), which only returns its numbers, and the distance is computed here.

Reward functions follow TRL's contract, as `delta_core.rewards` does for Manufactoria:

    reward_func(completions=..., ground_truth=..., **kwargs) -> list[float]

`ground_truth` is the dataset column written by `prompt.make_record`: per sample a dict
`{"timestamps": [...], "positions": [[[x, y], ...], ...], "tolerance": 50.0}` or that dict as a JSON
string. Nothing else is accepted; in particular nothing is ever unpickled.

Explained in notebooks/06_bouncingsim.ipynb.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..rewards import completion_text, extract_fenced, make_reward
from .sandbox import ProgramRun, Sandbox, default_sandbox

__all__ = ["TOLERANCE", "check_distance", "outcomes", "ScoreReport", "score_program", "score_many",
           "extract_program", "dense_reward", "binary_reward", "REWARD_FUNCS"]

TOLERANCE = 50.0  # px, mean over balls, per timestamp

def extract_program(response_text: str) -> str:
    """The Python code in a model response: the last ```python (or bare ```) block, else the whole
    text (the reward client's fence rule, `delta_core.rewards.extract_fenced`).

    >>> extract_program("Reasoning...\\n```python\\ndef predict_position(t):\\n    return [[0, 0]]\\n```")
    'def predict_position(t):\\n    return [[0, 0]]'
    """
    return extract_fenced(response_text, "python")


def check_distance(predicted: Sequence[Sequence[float]], expected: Sequence[Sequence[float]]) -> float:
    """Mean Euclidean distance over balls, rounded to 3 decimals; ValueError on an empty or
    mismatched answer (the reference's assert then fails the test).

    >>> check_distance([[0, 0], [10, 0]], [[3, 4], [10, 0]])
    2.5
    """
    if not predicted or len(predicted) != len(expected):
        raise ValueError(f"expected {len(expected)} balls, got {len(predicted)}")
    return round(sum(math.dist(p, e) for p, e in zip(predicted, expected)) / len(expected), 3)


def outcomes(run: ProgramRun, expected: Sequence[Sequence[Sequence[float]]], tolerance: float = TOLERANCE) -> list[str]:
    """Per timestamp: "passed", "timed out" or "failed: ..." (human-eval style)."""
    if len(run.outputs) != len(expected):
        raise ValueError(f"{len(run.outputs)} answers for {len(expected)} timestamps")
    result = []
    for predicted, error, truth in zip(run.outputs, run.errors, expected):
        if error is not None:
            result.append(error)
            continue
        try:
            distance = check_distance(predicted, truth)
        except ValueError as exc:
            result.append(f"failed: {exc}")
            continue
        result.append("passed" if distance <= tolerance else f"failed: mean distance {distance} > {tolerance}")
    return result


@dataclass(frozen=True)
class ScoreReport:
    """The verdicts for one program on one scene."""

    outcomes: tuple[str, ...]
    run: ProgramRun

    @property
    def pass_rate(self) -> float:
        return sum(o == "passed" for o in self.outcomes) / len(self.outcomes) if self.outcomes else 0.0

    @property
    def all_pass(self) -> float:
        return 1.0 if self.outcomes and all(o == "passed" for o in self.outcomes) else 0.0


def _ground_truth(gt: Any) -> tuple[list[float], list, float]:
    if isinstance(gt, (str, bytes, bytearray)):
        gt = json.loads(gt)  # JSON only: a base64 pickle (the reference's format) is refused here
    if not isinstance(gt, Mapping) or not {"timestamps", "positions"} <= set(gt):
        raise ValueError("ground_truth must be a dict (or its JSON) with 'timestamps' and 'positions' "
                         "(see delta_core.bouncingsim.prompt.make_record)")
    timestamps, positions = list(gt["timestamps"]), list(gt["positions"])
    if len(timestamps) != len(positions) or not timestamps:
        raise ValueError(f"ground_truth has {len(timestamps)} timestamps and {len(positions)} position lists")
    return timestamps, positions, float(gt.get("tolerance", TOLERANCE))


def score_many(programs: Sequence[str], ground_truths: Sequence[Any], sandbox: Sandbox | None = None) -> list[ScoreReport]:
    """Score programs (text) against their ground truths, all sandboxed runs in parallel."""
    if len(programs) != len(ground_truths):
        raise ValueError(f"{len(programs)} programs but {len(ground_truths)} ground truths")
    sandbox = sandbox or default_sandbox()
    parsed = [_ground_truth(gt) for gt in ground_truths]
    runs = sandbox.run_many([(p, ts) for p, (ts, _, _) in zip(programs, parsed)])
    return [ScoreReport(tuple(outcomes(run, pos, tol)), run) for run, (_, pos, tol) in zip(runs, parsed)]


def score_program(program: str, ground_truth: Any, sandbox: Sandbox | None = None) -> ScoreReport:
    """Score one program (text)."""
    return score_many([program], [ground_truth], sandbox)[0]


def _scores(completions: Sequence[Any], ground_truth: Sequence[Any]) -> tuple[list[float], list[float]]:
    if len(completions) != len(ground_truth):
        raise ValueError(f"got {len(completions)} completions but {len(ground_truth)} ground_truth entries; "
                         "the dataset needs a `ground_truth` column (prompt.make_record)")
    reports = score_many([extract_program(completion_text(c)) for c in completions], ground_truth)
    return [r.pass_rate for r in reports], [r.all_pass for r in reports]


# The same reward functions as Manufactoria's (names, signature, logged metrics), on this scorer.
_dense = make_reward("dense", scorer=_scores)
_binary = make_reward("binary", scorer=_scores)


def dense_reward(completions: Sequence[Any], ground_truth: Sequence[Any], **kwargs: Any) -> list[float]:
    """Fraction of timestamps within tolerance, per completion (the reference's `pass_rate` mode).

    Args:
        completions: model outputs (strings, or lists of chat messages).
        ground_truth: per completion, `{"timestamps", "positions", "tolerance"}` or its JSON string.
        **kwargs: whatever else TRL passes (`prompts`, `trainer_state`, `log_metric`, ...).

    Returns:
        One float in [0, 1] per completion. The binary score's mean is logged as `binary_reward`.

    >>> gt = {"timestamps": [0.1, 0.2], "positions": [[[760.0, 750.0]], [[900.0, 750.0]]], "tolerance": 50.0}
    >>> dense_reward(["```python\\ndef predict_position(t):\\n    return [[750 + 100 * t, 750]]\\n```"], [gt])
    [0.5]
    """
    return _dense(completions, ground_truth, **kwargs)


def binary_reward(completions: Sequence[Any], ground_truth: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 if every timestamp is within tolerance, else 0.0 (the reference's default `all_pass` mode).

    Takes the same arguments as `dense_reward`; logs the dense mean as `dense_reward`.

    >>> gt = {"timestamps": [0.1, 0.2], "positions": [[[760.0, 750.0]], [[900.0, 750.0]]], "tolerance": 50.0}
    >>> binary_reward(["```python\\ndef predict_position(t):\\n    return [[750 + 100 * t, 750]]\\n```"], [gt])
    [0.0]
    """
    return _binary(completions, ground_truth, **kwargs)


REWARD_FUNCS: dict[str, Callable[..., list[float]]] = {"dense": dense_reward, "binary": binary_reward}
