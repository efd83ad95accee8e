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

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..judge import judge
from .schedule import Schedule

__all__ = [
    "extract_fenced",
    "extract_program",
    "completion_text",
    "ground_truth_tests",
    "scores_from_response",
    "score_completion",
    "score_batch",
    "judge_in_process",
    "make_reward",
    "dense_reward",
    "binary_reward",
    "scheduled_reward",
    "REWARD_FUNCS",
]

def extract_fenced(response_text: str, language: str) -> str:
    """The reward client's rule (spec A.3): the LAST non-greedy ```<language> ... ``` or bare
    ``` ... ``` block, stripped; the whole text when there is none. A fence tagged with another
    language keeps its tag as the first line."""
    blocks = re.findall(rf"```(?:{re.escape(language)})?(.*?)```", response_text, re.DOTALL)
    return blocks[-1].strip() if blocks else response_text


def extract_program(response_text: str) -> str:
    """Pull the DSL program out of a model response (a ```python fence keeps "python" as line 1, a
    parse error, as in the reference).

    >>> extract_program("Here:\\n```manufactoria\\nSTART start:\\n    NEXT end\\nEND end\\n```")
    'START start:\\n    NEXT end\\nEND end'
    """
    return extract_fenced(response_text, "manufactoria")


def completion_text(completion: Any) -> str:
    """The model's text: a string (standard format) or the last message's content (conversational)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        content = completion[-1].get("content", "")
        return content if isinstance(content, str) else str(content)
    raise TypeError(f"completion: expected a string or a list of messages, got {type(completion).__name__}")


def ground_truth_tests(ground_truth: Any) -> list[Mapping[str, Any]]:
    """A `ground_truth` entry as a list of test-case dicts (it may be stored as a JSON string)."""
    if isinstance(ground_truth, str):
        ground_truth = json.loads(ground_truth)
    return list(ground_truth)


def scores_from_response(response: Mapping[str, Any]) -> tuple[float, float]:
    """(pass_rate, all_pass) from one judge response: the reward client's rule (spec A.3).

    Empty `results` score 0: a parse error leaves them empty, and so does an empty test list, where
    the reference's pass-rate division fails and its "any error -> 0.0" rule applies."""
    results = response["results"]
    if not results:
        return 0.0, 0.0
    pass_rate = sum(r["passed"] for r in results) / len(results)
    return pass_rate, 1.0 if response["all_passed"] else 0.0


def score_completion(completion: Any, ground_truth: Any) -> tuple[float, float]:
    """(pass_rate, all_pass) of one completion against its tests; a parse error gives (0.0, 0.0)."""
    return scores_from_response(judge(extract_program(completion_text(completion)), ground_truth_tests(ground_truth)))


# A judging back-end: `(dsl, test_cases)` pairs in, `judge` responses out, in order. In-process by
# default; `delta_core.rewards.backends` has HTTP and Ray ones.
JudgeBatch = Callable[[Sequence[tuple[str, list[Mapping[str, Any]]]]], list[dict[str, Any]]]


def judge_in_process(pairs: Sequence[tuple[str, list[Mapping[str, Any]]]]) -> list[dict[str, Any]]:
    return [judge(dsl, tests) for dsl, tests in pairs]


def score_batch(
    completions: Sequence[Any], ground_truth: Sequence[Any], judge_batch: JudgeBatch = judge_in_process
) -> tuple[list[float], list[float]]:
    """Dense and binary scores of a batch of completions, judged by `judge_batch`."""
    if len(completions) != len(ground_truth):
        raise ValueError(
            f"got {len(completions)} completions but {len(ground_truth)} ground_truth entries; "
            "the dataset needs a `ground_truth` column with one list of test cases per prompt"
        )
    pairs = [(extract_program(completion_text(c)), ground_truth_tests(gt)) for c, gt in zip(completions, ground_truth)]
    responses = judge_batch(pairs)
    if len(responses) != len(pairs):
        raise RuntimeError(f"the judge answered {len(responses)} responses for {len(pairs)} programs")
    scores = [scores_from_response(r) for r in responses]
    return [s[0] for s in scores], [s[1] for s in scores]


def _returned(kind: str, schedule: Schedule | None, state: Any, dense: list[float], binary: list[float]) -> list[float]:
    """The scores a reward of this kind returns for the batch (replay needs them to recompute advantages)."""
    if kind == "scheduled":
        return list(binary if schedule.phase_at(state.global_step) == "binary" else dense)
    return list(binary if kind == "binary" else dense)


def _prompt_key(prompt: Any) -> str:
    """A short stable key of a prompt (chat messages or text): which problem a sample was for."""
    return hashlib.sha1(json.dumps(prompt, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _log(log_metric: Callable[[str, float], None] | None, name: str, values: list[float]) -> None:
    if log_metric is not None and values:
        log_metric(name, sum(values) / len(values))


Scorer = Callable[[Sequence[Any], Sequence[Any]], tuple[list[float], list[float]]]


def make_reward(
    kind: str = "dense",
    *,
    switch_step: int | None = None,
    schedule: Schedule | None = None,
    judge_batch: JudgeBatch = judge_in_process,
    scorer: Scorer | None = None,
    max_completion_length: int | None = None,
    eos_id: int | None = None,
    non_stop_penalty: bool = False,
) -> Callable[..., list[float]]:
    """A TRL reward function: `kind` "dense" (fraction of tests passed), "binary" (1.0 only if all
    pass) or "scheduled" (dense or binary by step, reading `trainer_state.global_step`), judged by
    `judge_batch`. Another domain passes its own `scorer`
    (`(completions, ground_truth) -> (dense scores, binary scores)`; BouncingSim does).

    A scheduled reward takes `switch_step` (dense before it, binary from it on) or a `Schedule`, whose
    phase it reads; a threshold schedule is switched by whoever calls its `observe` (in training,
    `delta_core.train.ScheduleCallback`, which also checkpoints it), never by the reward.

    With `max_completion_length`, a completion whose `completion_ids` (TRL passes them) used every
    token without ending in `eos_id` counts as truncated: the share is logged as `truncated_frac`,
    and with `non_stop_penalty` such a completion scores 0 in both modes (spec A.3).

    The function is named `dense_reward` / `binary_reward` / `scheduled_reward` (TRL logs rewards
    under the function's name) and logs the batch means it does not return through `log_metric`:
    dense logs `binary_reward`, binary logs `dense_reward`, scheduled logs both and `reward_phase`
    (0 dense, 1 binary), and `judge_seconds` (time spent scoring) and `distinct_programs` (distinct
    programs / samples in the batch: does the policy condition on the prompt?). After each call its
    `last_binary` attribute holds the batch's full-pass flags (the trainer's replay buffer reads them)
    and its `solved` set gains a key per prompt that had a full pass (`ScheduleCallback` drains it).
    """
    if kind not in ("dense", "binary", "scheduled"):
        raise ValueError(f"kind={kind!r}: choose 'dense', 'binary' or 'scheduled'")
    if kind == "scheduled":
        if (switch_step is None) == (schedule is None):
            raise ValueError("kind='scheduled' needs exactly one of switch_step= (an int) or schedule= (a Schedule)")
        if schedule is None:
            schedule = Schedule.at_step(switch_step)  # validates the step
    elif switch_step is not None or schedule is not None:
        raise ValueError(f"switch_step and schedule are only for kind='scheduled' (got kind={kind!r})")
    if non_stop_penalty and max_completion_length is None:
        raise ValueError("non_stop_penalty=True needs max_completion_length (and eos_id) to tell truncation")

    def truncated(ids: Any) -> bool:
        return ids is not None and len(ids) >= max_completion_length and (not len(ids) or ids[-1] != eos_id)

    def reward(completions: Sequence[Any], ground_truth: Sequence[Any], **kwargs: Any) -> list[float]:
        state = kwargs.get("trainer_state")
        if kind == "scheduled" and state is None:
            raise ValueError(
                "scheduled_reward needs the `trainer_state` keyword (TRL's GRPOTrainer passes it); "
                "call dense_reward or binary_reward directly outside a trainer"
            )
        started = time.perf_counter()
        if scorer is not None:
            dense, binary = scorer(completions, ground_truth)
        else:
            dense, binary = score_batch(completions, ground_truth, judge_batch)
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            log_metric("judge_seconds", time.perf_counter() - started)
            texts = [completion_text(c) for c in completions]
            programs = texts if scorer is not None else [extract_program(t) for t in texts]
            # does the policy write one program for every prompt, or condition on the prompt?
            _log(log_metric, "distinct_programs", [len(set(programs)) / max(len(programs), 1)])
        if max_completion_length is not None:
            ids = kwargs.get("completion_ids") or [None] * len(completions)
            cut = [truncated(i) for i in ids]
            if non_stop_penalty:
                dense = [0.0 if c else d for d, c in zip(dense, cut)]
                binary = [0.0 if c else b for b, c in zip(binary, cut)]
            _log(log_metric, "truncated_frac", [1.0 if c else 0.0 for c in cut])
        reward.last_binary = list(binary)  # type: ignore[attr-defined]
        prompts = kwargs.get("prompts") or [None] * len(completions)
        reward.solved.update(_prompt_key(p) for p, b in zip(prompts, binary) if b >= 1.0)  # type: ignore[attr-defined]
        reward.last_rewards = _returned(kind, schedule, state, dense, binary)  # type: ignore[attr-defined]
        if kind == "dense":
            _log(log_metric, "binary_reward", binary)
            return dense
        if kind == "binary":
            _log(log_metric, "dense_reward", dense)
            return binary
        _log(log_metric, "dense_reward", dense)
        _log(log_metric, "binary_reward", binary)
        phase = schedule.phase_at(state.global_step)
        if log_metric is not None:
            log_metric("reward_phase", 1.0 if phase == "binary" else 0.0)
        return binary if phase == "binary" else dense

    reward.__name__ = reward.__qualname__ = f"{kind}_reward"
    reward.judge_batch = judge_batch  # type: ignore[attr-defined]
    reward.last_binary = []  # type: ignore[attr-defined]
    reward.last_rewards = []  # type: ignore[attr-defined]
    reward.solved = set()  # type: ignore[attr-defined]  # prompts with a full pass since the last drain
    if kind == "scheduled":
        reward.schedule = schedule  # type: ignore[attr-defined]
        reward.switch_step = switch_step  # type: ignore[attr-defined]
    return reward


_dense = make_reward("dense")
_binary = make_reward("binary")


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
    return _dense(completions, ground_truth, **kwargs)


def binary_reward(completions: Sequence[Any], ground_truth: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 if a completion passes every test case, else 0.0 (phase 2 of the DELTA recipe).

    Takes the same arguments as `dense_reward`; logs the dense mean as `dense_reward`.

    >>> tests = [{"input": "R", "expected_accepted": True, "check_output": False},
    ...          {"input": "B", "expected_accepted": False, "check_output": False}]
    >>> binary_reward(["```\\nSTART start:\\n    NEXT end\\nEND end\\n```"], [tests])
    [0.0]
    """
    return _binary(completions, ground_truth, **kwargs)


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
    return make_reward("scheduled", switch_step=switch_step)


# Names a config file can use.
REWARD_FUNCS: dict[str, Callable[..., list[float]]] = {
    "dense": dense_reward,
    "binary": binary_reward,
}
