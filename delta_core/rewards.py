"""Reward functions for GRPO on Manufactoria, with TRL's reward-function contract.

TRL's `GRPOTrainer` calls each reward function as

    reward_func(prompts=..., completions=..., completion_ids=..., <every dataset column>=...,
                trainer_state=..., log_extra=..., log_metric=...) -> list[float | None]

so ours take `completions` and the dataset column `ground_truth` (a list of test-case dicts per
sample, or that list as a JSON string), and accept `**kwargs` for the rest.

- `dense_reward`: fraction of tests passed (the paper's phase 1, `pass_rate`).
- `binary_reward`: 1.0 only if every test passes (phase 2, `all_pass`).
- `scheduled_reward(switch_step)`: dense before `switch_step`, binary from it on, reading
  `trainer_state.global_step`.

Each logs the other's batch mean through `log_metric`, so a run always shows both signals. A
completion whose program does not parse scores 0.0, as in the reference (its `results` are empty).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .judge import judge

__all__ = [
    "extract_program",
    "score_completion",
    "dense_reward",
    "binary_reward",
    "scheduled_reward",
    "REWARD_FUNCS",
]

# The reward client's rule (spec A.3): the LAST non-greedy ```manufactoria ... ``` or bare ``` ... ```
# block; the whole text when there is none. A ```python fence keeps "python" as line 1 (parse error).
_FENCE = re.compile(r"```(?:manufactoria)?(.*?)```", re.DOTALL)


def extract_program(response_text: str) -> str:
    """Pull the DSL program out of a model response.

    >>> extract_program("Here:\\n```manufactoria\\nSTART start:\\n    NEXT end\\nEND end\\n```")
    'START start:\\n    NEXT end\\nEND end'
    """
    blocks = _FENCE.findall(response_text)
    return blocks[-1].strip() if blocks else response_text


def _completion_text(completion: Any) -> str:
    # Standard format: a string. Conversational format: a list of messages; the last one is the model's.
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        content = completion[-1].get("content", "")
        return content if isinstance(content, str) else str(content)
    raise TypeError(f"completion: expected a string or a list of messages, got {type(completion).__name__}")


def _test_cases(ground_truth: Any) -> list[Mapping[str, Any]]:
    if isinstance(ground_truth, str):
        ground_truth = json.loads(ground_truth)
    return list(ground_truth)


def score_completion(completion: Any, ground_truth: Any) -> tuple[float, float]:
    """(pass_rate, all_pass) of one completion against its tests: the two numbers the reference
    reward client computes. A parse error gives (0.0, 0.0)."""
    response = judge(extract_program(_completion_text(completion)), _test_cases(ground_truth))
    results = response["results"]
    if not results:
        # A parse error leaves `results` empty. So does an empty test list, where the reference's
        # pass-rate division fails and its "any error -> 0.0" rule applies: both score 0.
        return 0.0, 0.0
    pass_rate = sum(r["passed"] for r in results) / len(results)
    return pass_rate, 1.0 if response["all_passed"] else 0.0


def _scores(completions: Sequence[Any], ground_truth: Sequence[Any]) -> tuple[list[float], list[float]]:
    if len(completions) != len(ground_truth):
        raise ValueError(
            f"got {len(completions)} completions but {len(ground_truth)} ground_truth entries; "
            "the dataset needs a `ground_truth` column with one list of test cases per prompt"
        )
    pairs = [score_completion(c, gt) for c, gt in zip(completions, ground_truth)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _log(log_metric: Callable[[str, float], None] | None, name: str, values: list[float]) -> None:
    if log_metric is not None and values:
        log_metric(name, sum(values) / len(values))


def dense_reward(completions: Sequence[Any], ground_truth: Sequence[Any], **kwargs: Any) -> list[float]:
    """Fraction of test cases passed, per completion (phase 1 of the DELTA recipe).

    Args:
        completions: model outputs (strings, or lists of chat messages).
        ground_truth: per completion, the problem's test cases (list of dicts or its JSON string).
        **kwargs: whatever else TRL passes (`prompts`, `trainer_state`, `log_metric`, ...).

    Returns:
        One float in [0, 1] per completion. The binary score's mean is logged as `binary_reward`.

    >>> tests = [{"input": "R", "expected_accepted": True, "check_output": False},
    ...          {"input": "B", "expected_accepted": False, "check_output": False}]
    >>> dense_reward(["```\\nSTART start:\\n    NEXT end\\nEND end\\n```"], [tests])
    [0.5]
    """
    dense, binary = _scores(completions, ground_truth)
    _log(kwargs.get("log_metric"), "binary_reward", binary)
    return dense


def binary_reward(completions: Sequence[Any], ground_truth: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 if a completion passes every test case, else 0.0 (phase 2 of the DELTA recipe).

    Takes the same arguments as `dense_reward`; logs the dense mean as `dense_reward`.

    >>> tests = [{"input": "R", "expected_accepted": True, "check_output": False},
    ...          {"input": "B", "expected_accepted": False, "check_output": False}]
    >>> binary_reward(["```\\nSTART start:\\n    NEXT end\\nEND end\\n```"], [tests])
    [0.0]
    """
    dense, binary = _scores(completions, ground_truth)
    _log(kwargs.get("log_metric"), "dense_reward", dense)
    return binary


def scheduled_reward(switch_step: int) -> Callable[..., list[float]]:
    """Dense reward before `switch_step`, binary from `switch_step` on (the DELTA two-phase recipe).

    The step is `trainer_state.global_step`, which TRL passes to every reward function. Both means
    are logged (`dense_reward`, `binary_reward`) plus `reward_phase` (0 dense, 1 binary).

    >>> from types import SimpleNamespace
    >>> tests = [{"input": "R", "check_output": False}, {"input": "B", "expected_accepted": False, "check_output": False}]
    >>> reward = scheduled_reward(switch_step=10)
    >>> good_enough = "START start:\\n    NEXT end\\nEND end"
    >>> reward([good_enough], [tests], trainer_state=SimpleNamespace(global_step=9))
    [0.5]
    >>> reward([good_enough], [tests], trainer_state=SimpleNamespace(global_step=10))
    [0.0]
    """
    if isinstance(switch_step, bool) or not isinstance(switch_step, int) or switch_step < 0:
        raise ValueError(f"switch_step={switch_step!r}: must be an integer >= 0 (0 means binary from the start)")

    def scheduled_reward(completions: Sequence[Any], ground_truth: Sequence[Any], **kwargs: Any) -> list[float]:
        state = kwargs.get("trainer_state")
        if state is None:
            raise ValueError(
                "scheduled_reward needs the `trainer_state` keyword (TRL's GRPOTrainer passes it); "
                "call dense_reward or binary_reward directly outside a trainer"
            )
        dense, binary = _scores(completions, ground_truth)
        log_metric = kwargs.get("log_metric")
        _log(log_metric, "dense_reward", dense)
        _log(log_metric, "binary_reward", binary)
        phase_binary = state.global_step >= switch_step
        if log_metric is not None:
            log_metric("reward_phase", 1.0 if phase_binary else 0.0)
        return binary if phase_binary else dense

    scheduled_reward.switch_step = switch_step  # type: ignore[attr-defined]
    return scheduled_reward


# Names a config file can use.
REWARD_FUNCS: dict[str, Callable[..., list[float]]] = {
    "dense": dense_reward,
    "binary": binary_reward,
}
