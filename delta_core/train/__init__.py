"""GRPO training for DELTA on Manufactoria, built on TRL's `GRPOTrainer` (explained in 04_grokking.ipynb).

    python -m delta_core.train configs/cpu_tiny.yaml --set max_steps=20 --learning_rate 1e-4
    python -m delta_core.train configs/cpu_tiny.yaml --resume          # continue from the last checkpoint
    python -m delta_core.train --preset gpu_lora --model Qwen/Qwen3-4B-Instruct-2507 --dataset has

Everything is one `TrainConfig`: defaults are the paper's values (spec A.3), `PRESETS` hold the
small-scale settings that work on one GPU (LoRA) or on a CPU (tiny model), a YAML file overrides the
preset, and the command line overrides the file. `train(config)` is the same thing from Python.

One idea a file:

- `config.py`: `TrainConfig` (validated before anything loads), `PAPER`, `PRESETS`, `load_config`;
- `cli.py`: `parse_cli`, `main` (`python -m delta_core.train`);
- `data.py`: the training and held-out datasets (`build_datasets`, `problem_rows`, `family_split`);
- `replay.py`: `ReplayBuffer`, successful traces returning with their prompt (paper §3.3), checkpointed;
- `feedback.py`: feedback in the loop (paper §3.3): a failed program's end-of-turn token is replaced by the
  judge's feedback and the model continues (`feedback_max_iterations`), the feedback masked out of the loss;
- `callbacks.py`: `ScheduleCallback` (decides a threshold switch of the `rewards.Schedule` and
  checkpoints it; the reward only reads the phase), `MetricsLogger` (one fsync'ed JSON line per step in
  `<output_dir>/metrics.jsonl`; on resume the lines after the checkpoint are dropped), `ReplayCallback`
  (the replay buffer in every checkpoint), `PassKEval`
  (`kind="eval"` lines with held-out pass@1 / pass@k every `eval_steps`, sampled like the rollouts);
- `run.py`: `train`, TRL's `GRPOTrainer` (subclassed for replay and for the feedback rollout's rows) with
  all of the above;
- `gpu.py`: the `unsloth` back-end (Unsloth `FastLanguageModel` + LoRA + vLLM on one GPU). trl is
  imported inside functions only, so that this path can import unsloth first; the `cpu` path never
  imports unsloth or vllm.

Logged keys (`kind="train"` lines): `step`, `phase` ("dense"/"binary"), `reward_phase` (0/1),
`dense_mean`, `binary_mean` (full-pass rate), `reward` (the mean of the reward actually trained on),
`frac_zero_std` (groups whose rewards are all equal: no gradient), `entropy`, `kl` (null when beta=0),
`clip_ratio` (`clip_low`, `clip_high`), `completion_length`, `truncated_frac`, `step_time` (s),
`loss`, `learning_rate`, `step_skipped` (1 when no group had reward spread and no optimizer step was taken),
`switch_step`, `switch_reason`, `distinct_programs`, `judge_seconds`, `replayed_samples`, `feedback_samples`
(completions that got the judge's feedback; null when feedback is off), `feedback_fixed`, `feedback_ignored`
and `feedback_valid` (of those, the share whose final program passes every test, the share that wrote the
same program again, and the share whose program after the feedback parses; null when none got feedback),
and `trl`: every key TRL logged that step.
"""

from __future__ import annotations

from ..rewards.schedule import Schedule
from .config import PAPER, PRESETS, BackendUnavailableError, ConfigError, TrainConfig, load_config
from .data import build_datasets, family_split, problem_rows
from .replay import ReplayBuffer
from .run import check_one_step, last_checkpoint, train

__all__ = [
    "PAPER",
    "PRESETS",
    "TrainConfig",
    "ConfigError",
    "BackendUnavailableError",
    "load_config",
    "parse_cli",
    "build_datasets",
    "family_split",
    "problem_rows",
    "Schedule",
    "ReplayBuffer",
    "ScheduleCallback",
    "MetricsLogger",
    "PassKEval",
    "evaluate_pass_at_k",
    "truncate_metrics",
    "check_one_step",
    "last_checkpoint",
    "train",
    "main",
]

# The callbacks subclass transformers' TrainerCallback: imported on first use, so that importing this
# package does not import transformers (the GPU path must import unsloth before it).
_LAZY = {"ScheduleCallback": "callbacks", "MetricsLogger": "callbacks", "PassKEval": "callbacks",
         "evaluate_pass_at_k": "callbacks", "truncate_metrics": "callbacks", "parse_cli": "cli", "main": "cli"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
