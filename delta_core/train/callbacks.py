"""The trainer's callbacks: the schedule's switch, the metric log, the held-out pass@k.

- `ScheduleCallback` decides a threshold switch (it hears each dense step's mean from the logs) and
  puts the `Schedule` into every checkpoint (trainer_state.json, restored by `train` on resume). It
  runs before `MetricsLogger`, so a step's line already shows the switch it caused.
- `MetricsLogger` appends one `kind="train"` JSON line per step to `metrics.jsonl`
  (`artifacts.append_jsonl`: fsync'ed); `truncate_metrics` drops the lines written after the
  checkpoint a run resumes from, so no step is lost or doubled.
- `PassKEval` adds `kind="eval"` lines: pass@1 / pass@k on held-out problems every `eval_steps` (and at
  step 0), sampled with the rollouts' own settings (`TrainConfig.sampling`, `sampling.sample_and_score`).

This module imports transformers: `delta_core.train` imports it only when a run starts (after unsloth,
on the GPU path).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from ..artifacts import append_jsonl, atomic_write_text, read_jsonl
from ..rewards.schedule import Schedule
from ..sampling import sample_and_score
from .config import TrainConfig

__all__ = ["ScheduleCallback", "ReplayCallback", "MetricsLogger", "PassKEval", "evaluate_pass_at_k", "truncate_metrics"]


def truncate_metrics(path: str | os.PathLike, step: int) -> int:
    """Keep the records with `step <= step` (first copy of each (kind, step)); return how many were dropped."""
    path = Path(path)
    if not path.is_file():
        return 0
    records = read_jsonl(path)
    seen, kept = set(), []
    for r in records:
        key = (r.get("kind"), r.get("step"))
        if r.get("step", 0) <= step and key not in seen:
            seen.add(key)
            kept.append(r)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    return len(records) - len(kept)


def _mean_of(logs: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        if key in logs and logs[key] is not None:
            return float(logs[key])
    return None


def _is_step_log(logs: dict[str, Any]) -> bool:
    """A per-step training log (not the end-of-training summary TRL logs last)."""
    return any(k in logs for k in ("reward", "dense_reward", "loss")) and "train_runtime" not in logs


class ScheduleCallback(TrainerCallback, ExportableState):
    """Owns the switch of a threshold schedule and checkpoints the `Schedule` (stateful callback)."""

    def __init__(self, schedule: Schedule | None = None, reward: Any = None):
        self.schedule = schedule
        self.reward = reward  # make_reward's function: its `solved` set says which problems had a full pass

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if self.schedule is None or not _is_step_log(logs):
            return
        solved = set(getattr(self.reward, "solved", ()))
        if self.reward is not None and hasattr(self.reward, "solved"):
            self.reward.solved.clear()
        dense, phase = _mean_of(logs, "dense_reward"), _mean_of(logs, "reward_phase")
        if dense is not None and phase is not None and phase < 0.5:  # the step that just ended was dense
            self.schedule.observe(state.global_step, dense, _mean_of(logs, "binary_reward"), solved)

    def state(self) -> dict:
        return {"args": {}, "attributes": self.schedule.export() if self.schedule else {}}


class ReplayCallback(TrainerCallback, ExportableState):
    """Puts the replay buffer (token ids and rewards of stored successes) into every checkpoint."""

    def __init__(self, replay: Any = None):
        self.replay = replay

    def state(self) -> dict:
        return {"args": {}, "attributes": self.replay.export() if self.replay is not None else {}}


class MetricsLogger(TrainerCallback):
    """Append one `kind="train"` JSON line per logged step (and `kind="eval"` lines via `write`)."""

    def __init__(self, path: str | os.PathLike, schedule: Schedule | None = None, replay_counts=None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.schedule = schedule
        self.replay_counts = replay_counts if replay_counts is not None else {}

    def write(self, record: dict[str, Any]) -> None:
        append_jsonl(self.path, record)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        if not _is_step_log(logs):
            return
        phase = _mean_of(logs, "reward_phase")
        self.write(
            {
                "kind": "train",
                "step": state.global_step,
                "time": time.time(),
                "phase": None if phase is None else ("binary" if phase >= 0.5 else "dense"),
                "reward_phase": phase,
                "dense_mean": _mean_of(logs, "dense_reward"),
                "binary_mean": _mean_of(logs, "binary_reward"),
                "reward": _mean_of(logs, "reward"),
                "frac_zero_std": _mean_of(logs, "frac_reward_zero_std"),
                "entropy": _mean_of(logs, "entropy"),
                "kl": _mean_of(logs, "kl"),
                "clip_ratio": _mean_of(logs, "clip_ratio/region_mean"),
                "clip_low": _mean_of(logs, "clip_ratio/low_mean"),
                "clip_high": _mean_of(logs, "clip_ratio/high_mean"),
                "completion_length": _mean_of(logs, "completions/mean_length"),
                "truncated_frac": _mean_of(logs, "truncated_frac"),
                "distinct_programs": _mean_of(logs, "distinct_programs"),
                "judge_seconds": _mean_of(logs, "judge_seconds"),
                "step_time": _mean_of(logs, "step_time"),
                "loss": _mean_of(logs, "loss"),
                "learning_rate": _mean_of(logs, "learning_rate"),
                "step_skipped": _mean_of(logs, "step_skipped"),
                "switch_step": None if self.schedule is None else self.schedule.switch_step,
                "switch_reason": None if self.schedule is None else self.schedule.switch_reason,
                "replayed_samples": self.replay_counts.pop(state.global_step, 0) if self.replay_counts else 0,
                "feedback_samples": _mean_of(logs, "feedback_samples"),
                "feedback_fixed": _mean_of(logs, "feedback_fixed"),
                "feedback_ignored": _mean_of(logs, "feedback_ignored"),
                "feedback_valid": _mean_of(logs, "feedback_valid"),
                "trl": {k: v for k, v in logs.items() if isinstance(v, (int, float, str)) or v is None},
            }
        )


def evaluate_pass_at_k(model, tokenizer, dataset, config: TrainConfig, seed: int = 0) -> dict[str, Any]:
    """Sample `eval_k` completions per problem of `dataset` with the rollouts' settings; the dense mean,
    pass@1 and pass@k (unbiased). The metric line's keys; `sampling.score_samples` has the per-problem detail."""
    if dataset is None or len(dataset) == 0:
        return {"n_problems": 0}
    rows = list(dataset)[: config.eval_max_problems]
    k = config.eval_k
    scored = sample_and_score(model, tokenizer, rows, k, config.sampling(k), seed=config.seed * 100_003 + seed,
                              cache=config.generation_cache)
    result = {"n_problems": scored["n_problems"], "k": k, "eval_dense_mean": scored["dense_mean"]}
    result.update({key: value for key, value in scored.items() if key.startswith("pass@")})
    return result


class PassKEval(TrainerCallback):
    """pass@1 / pass@k on held-out problems every `eval_steps` steps (and at step 0), k samples each.
    `inference` wraps each evaluation (the Unsloth back-end switches the model to inference mode)."""

    def __init__(self, config: TrainConfig, eval_dataset, tokenizer, logger: MetricsLogger,
                 inference: Callable[[Any], contextlib.AbstractContextManager] | None = None):
        self.config = config
        self.dataset = eval_dataset
        self.tokenizer = tokenizer
        self.logger = logger
        self.inference = inference or (lambda model: contextlib.nullcontext())
        self.last: dict[str, Any] | None = None

    def _run(self, model, step: int) -> None:
        with self.inference(model):
            result = evaluate_pass_at_k(model, self.tokenizer, self.dataset, self.config, seed=step)
        self.last = {"kind": "eval", "step": step, "time": time.time(), **result}
        self.logger.write(self.last)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step == 0 and self.config.eval_steps:
            self._run(model, 0)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.config.eval_steps and state.global_step % self.config.eval_steps == 0:
            self._run(model, state.global_step)
