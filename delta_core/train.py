"""GRPO training for DELTA on Manufactoria, built on TRL's `GRPOTrainer` (explained in 04_grokking.ipynb).

    python -m delta_core.train configs/cpu_tiny.yaml --set max_steps=20 --learning_rate 1e-4
    python -m delta_core.train configs/cpu_tiny.yaml --resume          # continue from the last checkpoint
    python -m delta_core.train --preset gpu_lora --model Qwen/Qwen3-4B-Instruct-2507 --dataset has

Everything is one `TrainConfig` (below): defaults are the paper's values (spec A.3), `PRESETS` hold
the small-scale settings that work on one GPU (LoRA) or on a CPU (tiny model), a YAML file overrides
the preset, and the command line overrides the file. `train(config)` is the same thing from Python.

What it adds to TRL, and where:
- rewards: `delta_core.rewards.make_reward("scheduled", schedule=ScheduleState(config))`, the same
  reward function the library exports, whose phase is `dense`, `binary`, or dense then binary (at a
  fixed `switch_step`, or once the dense mean reaches `switch_threshold`; the step at which the
  threshold fired is saved in every checkpoint and restored on `--resume`).
- logs: `MetricsLogger` appends one JSON line per step to `<output_dir>/metrics.jsonl` (fsync'ed; on
  resume the lines after the checkpoint are dropped, so no step is lost or doubled), and `PassKEval`
  adds `kind="eval"` lines with pass@1 / pass@k on held-out problems every `eval_steps`.
- variants: `replay` (re-use rare successful groups in place of all-equal groups:
  `DeltaGRPOTrainer._generate_and_score_completions`), `curriculum_levels` (the training data ordered
  level by level, advancing at `curriculum_steps`), and the `dense` / `binary` baselines.
- back-ends: `cpu` (transformers generation, PEFT LoRA or full fine-tune) and `unsloth` (Unsloth
  `FastLanguageModel` + LoRA + vLLM on one GPU, in `delta_core.train_gpu`). trl is imported inside
  functions only, so that the `unsloth` path can import unsloth first; the `cpu` path never imports
  unsloth or vllm.

Logged keys (`kind="train"` lines): `step`, `phase` ("dense"/"binary"), `reward_phase` (0/1),
`dense_mean`, `binary_mean` (full-pass rate), `reward` (the mean of the reward actually trained on),
`frac_zero_std` (groups whose rewards are all equal: no gradient), `entropy`, `kl` (null when beta=0),
`clip_ratio` (`clip_low`, `clip_high`), `completion_length`, `truncated_frac`, `step_time` (s),
`loss`, `learning_rate`, `switch_step`, `replayed_groups`, and `trl`: every key TRL logged that step.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import random
import sys
import time
import typing
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .passk import pass_at_k
from .rewards import completion_text, extract_program, make_reward, score_completion

__all__ = [
    "PAPER",
    "PRESETS",
    "TrainConfig",
    "ConfigError",
    "BackendUnavailableError",
    "load_config",
    "parse_cli",
    "build_datasets",
    "ScheduleState",
    "ReplayBuffer",
    "MetricsLogger",
    "PassKEval",
    "read_metrics",
    "truncate_metrics",
    "train",
    "main",
]

# The paper's GRPO settings (spec A.3; paper-facts §1): the named defaults of `TrainConfig`.
PAPER = {
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "learning_rate": 5e-7,  # constant schedule, full fine-tune
    "lr_scheduler_type": "constant",
    "beta": 0.0,  # no KL term (kl3 is configured but unused)
    "epsilon": 0.2,  # open-instruct's default lower clip
    "epsilon_high": 0.3,  # clip_higher 0.3 (DAPO-style)
    "num_generations": 16,  # num_samples_per_prompt_rollout
    "generation_batch_size": 48 * 16,  # 48 unique prompts x 16 samples = 768 responses per step
    "temperature": 1.0,
    "max_completion_length": 8192,  # response_length in train/phase{1,2}.sh
    "seed": 1,
    "save_steps": 40,  # save_freq
}


class ConfigError(ValueError):
    """A bad `TrainConfig`: raised before anything is loaded or trained; the message names the field."""


class BackendUnavailableError(RuntimeError):
    """The chosen back-end cannot run here (no CUDA, package missing)."""


@dataclass
class TrainConfig:
    """One GRPO run. Defaults are the paper's (spec A.3); see `PRESETS` for small-scale ones."""

    # --- model
    model: str | None = None  # HF id / local dir / .gguf / "smollm2" (delta_core.models.load_model), required
    backend: str = "cpu"  # "cpu": transformers + PEFT; "unsloth": Unsloth + LoRA + vLLM on one GPU
    lora_rank: int = 0  # 0 = full fine-tune (the paper); > 0 = LoRA of this rank
    lora_alpha: int | None = None  # None = 2 * lora_rank
    dtype: str = "float32"  # cpu back-end weights; the unsloth back-end uses bf16
    cpu_threads: int | None = None  # cpu back-end: torch threads (1 avoids oversubscription on a busy machine)
    load_in_4bit: bool = False  # unsloth only: QLoRA
    use_vllm: bool = True  # unsloth only: vLLM generates the rollouts (False: Unsloth's model.generate)
    gpu_memory_utilization: float = 0.6  # unsloth only: the share of the GPU vLLM may take
    max_seq_length: int = 4096  # unsloth only: prompt + completion budget given to Unsloth / vLLM

    # --- data (exactly one of `dataset` and `family`)
    dataset: str | None = None  # an ensemble name (delta_core.tasks.ENSEMBLES) or a JSONL path (HF records)
    eval_dataset: str | None = None  # JSONL path of held-out problems; None = the ensemble's test split / a held-out slice
    family: str | None = None  # a task family (delta_core.tasks.LEVELS) ...
    level: str | None = None  # ... at this level (or use curriculum_levels)
    colour_mode: str = "two_color"  # family mode: "two_color" or "four_color"
    num_problems: int | None = None  # family mode: problems per level (None = the whole parameter space)
    eval_problems: int = 16  # family mode: problems held out per level for evaluation
    prompt_style: str = "full"  # "full": the A.2.4 prompt; "compact": one line + the criteria (tiny models)
    data_seed: int = 0  # problem generation (test tapes, ids) and the train/eval split

    # --- reward schedule
    schedule: str = "dense_then_binary"  # "dense", "binary" or "dense_then_binary"
    switch_step: int | None = None  # dense_then_binary: binary once this many steps are done ...
    switch_threshold: float | None = None  # ... or once the dense mean over `switch_window` steps reaches this
    switch_window: int = 5  # steps averaged for the threshold switch
    non_stop_penalty: bool = True  # a completion cut at max_completion_length scores 0 (spec A.3)

    # --- GRPO (TRL names; paper values)
    learning_rate: float = PAPER["learning_rate"]
    lr_scheduler_type: str = PAPER["lr_scheduler_type"]
    beta: float = PAPER["beta"]
    epsilon: float = PAPER["epsilon"]
    epsilon_high: float = PAPER["epsilon_high"]
    num_generations: int = PAPER["num_generations"]
    generation_batch_size: int = PAPER["generation_batch_size"]  # completions per optimizer step
    per_device_train_batch_size: int = 16  # completions per forward/backward; the rest is accumulated
    temperature: float = PAPER["temperature"]
    top_p: float = 1.0
    max_completion_length: int = PAPER["max_completion_length"]
    loss_type: str = "dapo"  # TRL's default: token-level normalisation, as open-instruct
    scale_rewards: str = "group"  # "standard" advantage normalisation: (r - group mean) / group std
    max_steps: int = 1000
    seed: int = PAPER["seed"]
    gradient_checkpointing: bool = False
    max_grad_norm: float = 1.0

    # --- logging, evaluation, checkpoints
    output_dir: str = "runs/delta"
    metrics_file: str = "metrics.jsonl"  # under output_dir
    eval_steps: int = 10  # pass@k evaluation every this many steps (0 = never); also at step 0
    eval_k: int = 8  # samples per held-out problem (pass@1 and pass@k are estimated from them)
    eval_temperature: float = 1.0  # paper: evaluation samples like training
    eval_batch_size: int = 64  # sequences generated together during evaluation
    eval_max_problems: int | None = None  # cap on held-out problems evaluated (None = all)
    save_steps: int = PAPER["save_steps"]  # checkpoint every this many steps
    save_total_limit: int | None = 2
    save_final: bool = True  # write the final model (or adapter) to <output_dir>/final
    overwrite: bool = False  # allow a fresh run in an output_dir that already holds checkpoints
    progress_bar: bool = False

    # --- variants
    replay: bool = False  # re-use successful groups in place of zero-std groups (ReplayBuffer)
    replay_buffer_size: int = 64  # groups kept (most recent)
    replay_max_fraction: float = 0.25  # at most this share of a step's groups is replaced
    curriculum_levels: list[str] | None = None  # family mode: levels in order, e.g. [easy, medium]
    curriculum_steps: list[int] | None = None  # the step at which each level starts; first must be 0

    preset: str | None = None  # informational: the preset this config started from

    def __post_init__(self) -> None:
        _check_types(self)
        self._validate()

    # Every message: the field, its value, the rule, and how to fix it.
    def _validate(self) -> None:
        def bad(name: str, rule: str) -> None:
            raise ConfigError(f"{name}={getattr(self, name)!r}: {rule}")

        if self.model is None or not str(self.model).strip():
            bad("model", "missing; set a HF id, a local checkpoint dir, a .gguf file or 'smollm2' (--model ...)")
        if self.backend not in ("cpu", "unsloth"):
            bad("backend", "choose 'cpu' (transformers + PEFT) or 'unsloth' (one CUDA GPU)")
        if self.lora_rank < 0:
            bad("lora_rank", "must be >= 0 (0 = full fine-tune)")
        if self.backend == "unsloth" and self.lora_rank == 0:
            bad("lora_rank", "the unsloth back-end trains LoRA adapters: set lora_rank > 0 (e.g. 32)")
        if (self.dataset is None) == (self.family is None):
            bad("dataset", f"give exactly one of `dataset` (ensemble or JSONL) and `family` (got family={self.family!r})")
        if self.family is not None and self.level is None and not self.curriculum_levels:
            bad("level", f"family={self.family!r} needs a `level` (or `curriculum_levels`)")
        if self.colour_mode not in ("two_color", "four_color"):
            bad("colour_mode", "choose 'two_color' or 'four_color'")
        if self.prompt_style not in ("full", "compact"):
            bad("prompt_style", "choose 'full' (the A.2.4 prompt) or 'compact' (criteria only)")
        if self.num_problems is not None and self.num_problems < 1:
            bad("num_problems", "must be >= 1, or null for the whole parameter space")
        if self.eval_problems < 0:
            bad("eval_problems", "must be >= 0")

        if self.schedule not in ("dense", "binary", "dense_then_binary"):
            bad("schedule", "choose 'dense', 'binary' or 'dense_then_binary'")
        if self.schedule == "dense_then_binary":
            if (self.switch_step is None) == (self.switch_threshold is None):
                bad("switch_step", "dense_then_binary needs exactly one of `switch_step` and `switch_threshold`")
        elif self.switch_step is not None or self.switch_threshold is not None:
            bad("schedule", "`switch_step` / `switch_threshold` only apply to schedule='dense_then_binary'")
        if self.switch_step is not None and self.switch_step < 0:
            bad("switch_step", "must be >= 0 (0 = binary from the first step)")
        if self.switch_threshold is not None and not 0.0 < self.switch_threshold <= 1.0:
            bad("switch_threshold", "must be in (0, 1]: it is compared to the dense (pass-rate) mean")
        if self.switch_window < 1:
            bad("switch_window", "must be >= 1")

        if self.num_generations < 2:
            bad("num_generations", "GRPO needs >= 2 samples per prompt to compute group advantages")
        if self.generation_batch_size % self.num_generations:
            bad(
                "generation_batch_size",
                f"must be divisible by num_generations={self.num_generations} (whole groups per step); "
                f"e.g. {max(1, self.generation_batch_size // self.num_generations) * self.num_generations}",
            )
        if self.per_device_train_batch_size < 1 or self.generation_batch_size % self.per_device_train_batch_size:
            bad(
                "per_device_train_batch_size",
                f"must divide generation_batch_size={self.generation_batch_size} "
                "(one generation batch = per_device_train_batch_size x gradient-accumulation steps)",
            )
        if self.learning_rate < 0:
            bad("learning_rate", "must be >= 0")
        if self.beta < 0:
            bad("beta", "must be >= 0 (0 = no KL term, as in the paper)")
        if self.epsilon_high is not None and self.epsilon_high < self.epsilon:
            bad("epsilon_high", f"must be >= epsilon={self.epsilon} (the upper clip is the higher one)")
        if self.temperature <= 0 or self.eval_temperature <= 0:
            bad("temperature", "temperature and eval_temperature must be > 0 (GRPO samples)")
        for name in ("max_completion_length", "max_steps", "save_steps", "eval_k", "eval_batch_size"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        if self.cpu_threads is not None and self.cpu_threads < 1:
            bad("cpu_threads", "must be >= 1, or null for torch's default")
        if self.eval_steps < 0:
            bad("eval_steps", "must be >= 0 (0 = no evaluation)")
        if self.loss_type not in ("grpo", "bnpo", "dr_grpo", "dapo"):
            bad("loss_type", "choose one of grpo, bnpo, dr_grpo, dapo")
        if self.scale_rewards not in ("group", "batch", "none"):
            bad("scale_rewards", "choose 'group', 'batch' or 'none'")

        if self.replay_buffer_size < 1:
            bad("replay_buffer_size", "must be >= 1")
        if not 0.0 < self.replay_max_fraction <= 1.0:
            bad("replay_max_fraction", "must be in (0, 1]")
        if (self.curriculum_levels is None) != (self.curriculum_steps is None):
            bad("curriculum_steps", "give both `curriculum_levels` and `curriculum_steps`, or neither")
        if self.curriculum_levels is not None:
            if self.family is None:
                bad("curriculum_levels", "a curriculum needs `family` (levels are per family)")
            steps = self.curriculum_steps
            if len(steps) != len(self.curriculum_levels):
                bad("curriculum_steps", f"needs one start step per level in curriculum_levels={self.curriculum_levels}")
            if steps[0] != 0 or any(b <= a for a, b in zip(steps, steps[1:])):
                bad("curriculum_steps", "must start at 0 and increase strictly, e.g. [0, 50, 100]")
            if steps[-1] >= self.max_steps:
                bad("curriculum_steps", f"the last level starts at or after max_steps={self.max_steps}")

    @property
    def prompts_per_step(self) -> int:
        return self.generation_batch_size // self.num_generations

    @property
    def gradient_accumulation_steps(self) -> int:
        return self.generation_batch_size // self.per_device_train_batch_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_types(config: TrainConfig) -> None:
    """Check each field against its annotation (ints are accepted where floats are expected)."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        value = getattr(config, f.name)
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        if value is None:
            if optional:
                continue
            raise ConfigError(f"{f.name}=None: this field needs a value of type {_type_name(hint)}")
        base = next((a for a in args if a is not type(None)), hint) if args and optional else hint
        origin = typing.get_origin(base)
        if origin is list:
            (item,) = typing.get_args(base)
            if not isinstance(value, list) or not all(_is(v, item) for v in value):
                raise ConfigError(f"{f.name}={value!r}: expected a list of {item.__name__}")
        elif base is float and _is(value, int):
            setattr(config, f.name, float(value))
        elif not _is(value, base):
            raise ConfigError(f"{f.name}={value!r}: expected {_type_name(base)}, got {type(value).__name__}")


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, float)
    return isinstance(value, kind)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


# Small-scale settings that work (named presets; a YAML file or the CLI override any field).
PRESETS: dict[str, dict[str, Any]] = {
    # The paper's values (the dataclass defaults), for a multi-GPU machine; full fine-tune.
    "paper": {"model": PAPER["model"], "dataset": "has"},
    # One GPU: Unsloth + LoRA + vLLM. LoRA wants a ~10x larger lr than full fine-tuning; 8 prompts x 16.
    "gpu_lora": {
        "backend": "unsloth",
        "model": PAPER["model"],
        "dataset": "has",
        "lora_rank": 32,
        "learning_rate": 5e-6,
        "generation_batch_size": 8 * 16,
        "per_device_train_batch_size": 16,
        "max_completion_length": 2048,
        "max_seq_length": 4096,
        "gradient_checkpointing": True,
        "eval_steps": 25,
        "save_steps": 25,
    },
    # CPU, the tiny model of delta_core.mini (full fine-tune): a few s/step on 2 cores.
    "cpu_tiny": {
        "backend": "cpu",
        "family": "starts_with",
        "level": "basic",
        "prompt_style": "compact",
        "learning_rate": 2e-4,
        "num_generations": 8,
        "generation_batch_size": 8 * 8,
        "per_device_train_batch_size": 64,
        "max_completion_length": 96,
        "max_steps": 20,
        "eval_steps": 5,
        "eval_k": 4,
        "eval_problems": 8,
        "save_steps": 5,
        "switch_step": 10,
        "seed": 0,
        "cpu_threads": 1,  # a 2M model gains little from 2 threads, and loses 10x+ when cores are shared
    },
    # CPU, LoRA on the embedded SmolLM2-135M (slow: ~1k-token prompts; for smoke runs).
    "cpu_lora": {
        "backend": "cpu",
        "model": "smollm2",
        "family": "starts_with",
        "level": "basic",
        "lora_rank": 8,
        "learning_rate": 1e-4,
        "num_generations": 4,
        "generation_batch_size": 2 * 4,
        "per_device_train_batch_size": 8,
        "max_completion_length": 128,
        "max_steps": 10,
        "eval_steps": 5,
        "eval_k": 2,
        "eval_problems": 2,
        "save_steps": 5,
        "switch_step": 5,
    },
}


def load_config(path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Dataclass defaults <- preset (from `overrides`, else the file) <- YAML file <- `overrides`."""
    import yaml

    values: dict[str, Any] = {}
    if path is not None:
        text = Path(path).read_text()
        loaded = yaml.safe_load(text) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of field: value, got {type(loaded).__name__}")
        values.update(loaded)
    values.update(overrides or {})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config key(s) {unknown}; valid keys: {sorted(known)}")
    preset = values.get("preset")
    merged: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"preset={preset!r}: choose one of {sorted(PRESETS)}")
        merged.update(PRESETS[preset])
    merged.update(values)
    return TrainConfig(**merged)


def parse_cli(argv: Sequence[str]) -> tuple[TrainConfig, bool]:
    """`[config.yaml] [--resume] [--preset NAME] [--set key=value ...] [--key value | --key=value ...]`.

    Values are read as YAML (`--eval_k 4`, `--switch_step null`, `--curriculum_levels [easy,medium]`)."""
    import yaml

    argv = list(argv)
    if any(a in ("-h", "--help") for a in argv):
        print(parse_cli.__doc__ + "\n\nFields: " + ", ".join(f.name for f in dataclasses.fields(TrainConfig)))
        raise SystemExit(0)
    path, resume, pairs = None, False, []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--resume":
            resume = True
        elif token == "--set":
            if i + 1 == len(argv):
                raise ConfigError("--set needs key=value")
            pairs.append(argv[i + 1])
            i += 1
        elif token.startswith("--"):
            key = token[2:]
            if "=" in key:
                pairs.append(key)
            elif i + 1 < len(argv):
                pairs.append(f"{key}={argv[i + 1]}")
                i += 1
            else:
                raise ConfigError(f"--{key} needs a value")
        elif path is None and i == 0:
            path = token
        else:
            raise ConfigError(f"unexpected argument {token!r}; the config file comes first, then --key value")
        i += 1
    overrides: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key=value")
        key, raw = pair.split("=", 1)
        key = key.replace("-", "_")
        value = yaml.safe_load(raw) if raw != "" else None
        # A YAML scalar such as `1e-4` loads as a string; numbers written that way are meant as numbers.
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else value
            except ValueError:
                pass
        overrides[key] = value
    return load_config(path, overrides), resume


# ----------------------------------------------------------------------------------------------------
# Data


def _criteria_from_prompt(text: str) -> str:
    # The A.2.4 prompt ends with the task sentence after "# Task" and one line of instruction.
    return text.rsplit("\n\n", 1)[-1].strip()


def _rows(problems: Sequence[Any], style: str) -> list[dict[str, Any]]:
    from .mini import compact_prompt
    from .tasks.export import _row

    rows = [_row(p, as_json=False) for p in problems]
    if style == "compact":
        for row, problem in zip(rows, problems):
            criteria = getattr(problem, "criteria", None) or _criteria_from_prompt(row["prompt"][-1]["content"])
            row["prompt"] = [{"role": "user", "content": compact_prompt(criteria)}]
    return rows


def _family_split(config: TrainConfig, level: str) -> tuple[list[Any], list[Any]]:
    from .tasks import generate

    problems = generate(config.family, level, config.colour_mode, n=None, seed=config.data_seed)
    random.Random(config.data_seed).shuffle(problems)
    held = min(config.eval_problems, max(0, len(problems) - 1))
    train, test = problems[held:], problems[:held]
    if config.num_problems is not None:
        train = train[: config.num_problems]
    return train, test


def build_datasets(config: TrainConfig):
    """(train, eval) `datasets.Dataset`s with `prompt` (chat) and `ground_truth` columns, plus `level`.

    - `dataset` = an ensemble name: its train / test splits (`build_ensemble`, seed `data_seed`);
    - `dataset` = a JSONL path of HF records: all of it for training; `eval_dataset` (JSONL) for eval;
    - `family` + `level`: the level's parameter space, shuffled, `eval_problems` held out;
    - `family` + `curriculum_levels`: one pool per level; row t*P..(t+1)*P-1 (P = prompts per step)
      is drawn from the level active at step t, and the rows are not shuffled (`shuffle_dataset=False`),
      so TRL's sampler visits them in curriculum order. Eval holds out problems of every level.
    """
    import datasets

    from .tasks import ENSEMBLES, build_ensemble
    from .tasks.export import read_jsonl

    style = config.prompt_style
    if config.dataset is not None:
        if config.dataset in ENSEMBLES:
            build = build_ensemble(config.dataset, seed=config.data_seed)
            train_rows = _rows([p for p, _ in build.train], style)
            eval_rows = _rows([p for p, _ in build.test][: config.eval_max_problems], style)
        elif Path(config.dataset).is_file():
            train_rows = _rows(read_jsonl(config.dataset), style)
            eval_rows = []
        else:
            raise ConfigError(
                f"dataset={config.dataset!r}: neither an ensemble ({sorted(ENSEMBLES)}) nor a JSONL file"
            )
        if config.eval_dataset is not None:
            eval_rows = _rows(read_jsonl(config.eval_dataset), style)
        for row in train_rows + eval_rows:
            row["level"] = row["difficulty"]
    elif config.curriculum_levels is None:
        train, test = _family_split(config, config.level)
        train_rows, eval_rows = _rows(train, style), _rows(test, style)
        for row in train_rows + eval_rows:
            row["level"] = config.level
    else:
        per_step = config.prompts_per_step
        starts = list(config.curriculum_steps) + [config.max_steps]
        train_rows, eval_rows = [], []
        for level, begin, end in zip(config.curriculum_levels, starts, starts[1:]):
            train, test = _family_split(config, level)
            pool = _rows(train, style)
            for row in pool + (test_rows := _rows(test, style)):
                row["level"] = level
            eval_rows += test_rows
            need = (end - begin) * per_step
            order = random.Random(f"{config.data_seed}-{level}")
            while need > 0:  # cycle through the pool, reshuffled each pass
                chunk = pool[:]
                order.shuffle(chunk)
                train_rows += chunk[:need]
                need -= len(chunk[:need])
    if not train_rows:
        raise ConfigError(f"dataset={config.dataset!r} family={config.family!r}: no training problems")
    if config.eval_max_problems is not None:
        eval_rows = eval_rows[: config.eval_max_problems]
    train_ds = datasets.Dataset.from_list(train_rows)
    eval_ds = datasets.Dataset.from_list(eval_rows) if eval_rows else None
    return train_ds, eval_ds


# ----------------------------------------------------------------------------------------------------
# Rewards: one function, three schedules


class ScheduleState:
    """Where the dense -> binary switch stands. `switch_step` None = not switched yet (threshold mode).

    Saved in every checkpoint (trainer_state.json, `stateful_callbacks["RewardScheduleCallback"]`) and
    restored from it on resume by `train`, so a threshold switch is not re-decided after a restart."""

    def __init__(self, config: TrainConfig):
        self.schedule = config.schedule
        self.threshold = config.switch_threshold
        self.window = config.switch_window
        self.switch_step: int | None = {"dense": None, "binary": 0}.get(config.schedule, config.switch_step)
        self.history: deque[float] = deque(maxlen=config.switch_window)  # recent dense means

    def phase_at(self, global_step: int) -> str:
        """'binary' from `switch_step` completed steps on (the rule of `rewards.SwitchAtStep`)."""
        return "binary" if self.switch_step is not None and global_step >= self.switch_step else "dense"

    def observe(self, global_step: int, dense_mean: float) -> None:
        """Threshold mode: after a dense step, switch from the next one if the windowed mean is high enough."""
        if self.threshold is None or self.switch_step is not None:
            return
        self.history.append(dense_mean)
        if len(self.history) == self.window and sum(self.history) / self.window >= self.threshold:
            self.switch_step = global_step + 1

    def export(self) -> dict[str, Any]:
        return {"switch_step": self.switch_step, "history": list(self.history)}

    def restore(self, saved: dict[str, Any]) -> None:
        if self.schedule == "dense_then_binary" and self.threshold is not None:
            self.switch_step = saved.get("switch_step")
            self.history = deque(saved.get("history", []), maxlen=self.window)


# ----------------------------------------------------------------------------------------------------
# Experience replay (TRL 1.14.2 has none: its old `GRPOWithReplayBuffer` is gone from trl.experimental)


class ReplayBuffer:
    """Keep groups that held a full pass and a learning signal; swap them in for all-equal groups.

    After TRL has scored a generation batch (`_generate_and_score_completions`), each group of
    `num_generations` rows is inspected: a group with some non-zero advantage and at least one full
    pass is copied into the buffer (most recent `size` kept); a group whose advantages are all zero
    (every sample got the same reward: no gradient) is replaced by a random buffered group, for at most
    `max_fraction` of the groups. Replayed rows keep their stored advantages; TRL's logged reward
    statistics are those of the fresh samples. Not saved in checkpoints (a resumed run refills it).
    """

    def __init__(self, size: int, max_fraction: float, seed: int = 0):
        self.groups: deque[dict[str, Any]] = deque(maxlen=size)
        self.max_fraction = max_fraction
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.groups)

    def apply(self, batch: dict[str, Any], num_generations: int, binary: Sequence[float], pad_id: int) -> tuple[dict[str, Any], int]:
        """Return (batch with zero-signal groups replaced, number of groups replaced)."""
        import torch

        adv = batch["advantages"]
        n_rows = adv.shape[0]
        if n_rows % num_generations or len(binary) != n_rows:
            return batch, 0
        n_groups = n_rows // num_generations
        rows = [_take_row(batch, i) for i in range(n_rows)]
        dead = []
        for g in range(n_groups):
            sl = slice(g * num_generations, (g + 1) * num_generations)
            signal = bool(adv[sl].abs().max() > 1e-6)
            if signal and max(binary[sl]) >= 1.0:
                self.groups.append({"rows": rows[sl]})
            elif not signal:
                dead.append(g)
        budget = min(len(dead), int(self.max_fraction * n_groups))
        if not self.groups or budget == 0:
            return batch, 0
        for g in self.rng.sample(dead, budget):
            stored = self.rng.choice(list(self.groups))["rows"]
            rows[g * num_generations : (g + 1) * num_generations] = stored
        merged = _stack_rows(rows, batch, pad_id)
        merged["num_items_in_batch"] = merged["completion_mask"].sum().to(torch.as_tensor(batch["num_items_in_batch"]).dtype)
        return merged, budget


def _take_row(batch: dict[str, Any], i: int) -> dict[str, Any]:
    """One row without its padding: prompt tensors lose their left padding, completion tensors their right."""
    import torch

    p_keep = batch["prompt_mask"][i].bool()
    c_len = int(batch["completion_mask"][i].sum().item())
    row = {}
    for key, value in batch.items():
        if not isinstance(value, torch.Tensor) or value.dim() == 0 or key == "num_items_in_batch":
            continue
        if key in ("prompt_ids", "prompt_mask"):
            row[key] = value[i][p_keep].clone()
        elif value.dim() >= 2 and value.shape[1] == batch["completion_ids"].shape[1]:
            row[key] = value[i, :c_len].clone()
        else:
            row[key] = value[i].clone()
    return row


def _stack_rows(rows: list[dict[str, Any]], like: dict[str, Any], pad_id: int) -> dict[str, Any]:
    import torch

    out = dict(like)
    for key in rows[0]:
        values = [r[key] for r in rows]
        if key in ("prompt_ids", "prompt_mask"):  # left padding
            width = max(v.shape[0] for v in values)
            fill = pad_id if key == "prompt_ids" else 0
            out[key] = torch.stack([torch.cat([v.new_full((width - v.shape[0],), fill), v]) for v in values])
        elif values[0].dim() >= 1 and key in _completion_keys(like):  # right padding
            width = max(v.shape[0] for v in values)
            fill = pad_id if key == "completion_ids" else 0
            out[key] = torch.stack(
                [torch.cat([v, v.new_full((width - v.shape[0], *v.shape[1:]), fill)]) for v in values]
            )
        else:
            out[key] = torch.stack(values)
    return out


def _completion_keys(batch: dict[str, Any]) -> set[str]:
    import torch

    width = batch["completion_ids"].shape[1]
    return {
        k
        for k, v in batch.items()
        if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[1] == width and k not in ("prompt_ids", "prompt_mask")
    }


# ----------------------------------------------------------------------------------------------------
# Metrics: one JSON line per step, fsync'ed


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a metrics JSONL (a torn last line, from a kill mid-write, is skipped)."""
    records = []
    path = Path(path)
    if not path.is_file():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_metrics(path: str | os.PathLike, step: int) -> int:
    """Keep the records with `step <= step` (first copy of each (kind, step)); return how many were dropped."""
    from .tasks.export import atomic_write_text

    path = Path(path)
    if not path.is_file():
        return 0
    records = read_metrics(path)
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


def _callback_classes():
    from transformers import TrainerCallback
    from transformers.trainer_callback import ExportableState

    class MetricsLogger(TrainerCallback):
        """Append one `kind="train"` JSON line per logged step (and `kind="eval"` lines via `write`)."""

        def __init__(self, path: str | os.PathLike, schedule: ScheduleState | None = None, replay_counts=None):
            self.path = Path(path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.schedule = schedule
            self.replay_counts = replay_counts if replay_counts is not None else {}

        def write(self, record: dict[str, Any]) -> None:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
                handle.flush()
                os.fsync(handle.fileno())

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = dict(logs or {})
            if not any(k in logs for k in ("reward", "dense_reward", "loss")) or "train_runtime" in logs:
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
                    "step_time": _mean_of(logs, "step_time"),
                    "loss": _mean_of(logs, "loss"),
                    "learning_rate": _mean_of(logs, "learning_rate"),
                    "switch_step": None if self.schedule is None else self.schedule.switch_step,
                    "replayed_groups": self.replay_counts.pop(state.global_step, 0) if self.replay_counts else 0,
                    "trl": {k: v for k, v in logs.items() if isinstance(v, (int, float, str)) or v is None},
                }
            )

    class RewardScheduleCallback(TrainerCallback, ExportableState):
        """Puts `ScheduleState` into every checkpoint's trainer_state.json (restored by `train`)."""

        def __init__(self, schedule: ScheduleState | None = None):
            self.schedule = schedule

        def state(self) -> dict:
            return {"args": {}, "attributes": self.schedule.export() if self.schedule else {}}

    class PassKEval(TrainerCallback):
        """pass@1 / pass@k on held-out problems every `eval_steps` steps (and at step 0), k samples each."""

        def __init__(self, config: TrainConfig, eval_dataset, tokenizer, logger: MetricsLogger, generate=None):
            self.config = config
            self.dataset = eval_dataset
            self.tokenizer = tokenizer
            self.logger = logger
            self.generate = generate or _hf_generate
            self.last: dict[str, Any] | None = None

        def _run(self, model, step: int) -> None:
            result = evaluate_pass_at_k(model, self.tokenizer, self.dataset, self.config, seed=step, generate=self.generate)
            self.last = {"kind": "eval", "step": step, "time": time.time(), **result}
            self.logger.write(self.last)

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 0 and self.config.eval_steps:
                self._run(model, 0)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if self.config.eval_steps and state.global_step % self.config.eval_steps == 0:
                self._run(model, state.global_step)

    return MetricsLogger, RewardScheduleCallback, PassKEval


def __getattr__(name: str):
    # MetricsLogger / PassKEval subclass transformers' TrainerCallback, imported on first use only.
    if name in ("MetricsLogger", "RewardScheduleCallback", "PassKEval"):
        classes = dict(zip(("MetricsLogger", "RewardScheduleCallback", "PassKEval"), _callback_classes()))
        return classes[name]
    raise AttributeError(name)


# ----------------------------------------------------------------------------------------------------
# Evaluation: pass@k


def _hf_generate(model, tokenizer, texts: list[str], n: int, config: TrainConfig) -> list[list[str]]:
    """n sampled completions per prompt text with `model.generate` (batches of `eval_batch_size` sequences)."""
    import torch

    per_batch = max(1, config.eval_batch_size // n)
    was_training = model.training
    model.eval()
    out: list[list[str]] = []
    try:
        for start in range(0, len(texts), per_batch):
            chunk = texts[start : start + per_batch]
            enc = tokenizer(chunk, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
            enc = {k: v.to(model.device) for k, v in enc.items()}
            with torch.no_grad():
                gen = model.generate(
                    **enc,
                    do_sample=True,
                    temperature=config.eval_temperature,
                    top_p=config.top_p,
                    max_new_tokens=config.max_completion_length,
                    num_return_sequences=n,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            texts_out = tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
            out += [texts_out[i * n : (i + 1) * n] for i in range(len(chunk))]
    finally:
        model.train(was_training)
    return out


def score_samples(rows: Sequence[dict[str, Any]], samples: Sequence[Sequence[Any]], k: int,
                  criteria: Sequence[str] | None = None, keep_examples: int = 0) -> dict[str, Any]:
    """Judge `samples` (the completions drawn for each of `rows`, dataset rows with `ground_truth`):
    pass@1 and pass@k (unbiased, over each problem's n samples), the dense mean, the number of problems
    with a full pass, one record per problem (`id`, `criteria`, `n`, `c`, `dense_mean`, `dense_max`),
    and, with `keep_examples`, the first full-pass program of up to that many problems."""
    per_problem, examples = [], []
    for i, (row, completions) in enumerate(zip(rows, samples)):
        scores = [score_completion(c, row["ground_truth"]) for c in completions]
        correct = sum(int(b >= 1.0) for _, b in scores)
        record = {"id": row.get("id"), "n": len(scores), "c": correct,
                  "dense_mean": sum(d for d, _ in scores) / len(scores), "dense_max": max(d for d, _ in scores)}
        if criteria is not None:
            record = {"id": record.pop("id"), "criteria": criteria[i], **record}
        per_problem.append(record)
        if len(examples) < keep_examples:
            for completion, (_, full) in zip(completions, scores):
                if full >= 1.0:
                    examples.append({"criteria": criteria[i] if criteria is not None else row.get("id"),
                                     "program": extract_program(completion_text(completion))})
                    break
    result: dict[str, Any] = {"n_problems": len(per_problem), "k": k}
    for kk in sorted({1, k}):
        result[f"pass@{kk}"] = sum(pass_at_k(p["n"], p["c"], kk) for p in per_problem) / len(per_problem)
    result["dense_mean"] = sum(p["dense_mean"] for p in per_problem) / len(per_problem)
    result["problems_with_a_full_pass"] = sum(p["c"] > 0 for p in per_problem)
    result["per_problem"] = per_problem
    if keep_examples:
        result["examples"] = examples
    return result


def evaluate_pass_at_k(model, tokenizer, dataset, config: TrainConfig, seed: int = 0, generate=None) -> dict[str, Any]:
    """Sample `eval_k` completions per problem of `dataset`; mean pass rate, pass@1 and pass@k (unbiased).
    The metric line's keys; `score_samples` has the per-problem detail."""
    import torch

    generate = generate or _hf_generate
    if dataset is None or len(dataset) == 0:
        return {"n_problems": 0}
    rows = list(dataset)[: config.eval_max_problems]
    texts = [tokenizer.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True) for r in rows]
    k = config.eval_k
    with torch.random.fork_rng(devices=[]):  # do not disturb the training RNG stream
        torch.manual_seed(config.seed * 100_003 + seed)
        samples = generate(model, tokenizer, texts, k, config)
    scored = score_samples(rows, samples, k)
    result = {"n_problems": scored["n_problems"], "k": k, "eval_dense_mean": scored["dense_mean"]}
    result.update({key: value for key, value in scored.items() if key.startswith("pass@")})
    return result


# ----------------------------------------------------------------------------------------------------
# The trainer


def _trainer_class():
    from trl import GRPOTrainer

    class DeltaGRPOTrainer(GRPOTrainer):
        """TRL's GRPOTrainer plus the optional replay of successful groups (see `ReplayBuffer`)."""

        def __init__(self, *args, replay: ReplayBuffer | None = None, delta_reward: Any = None,
                     replay_counts: dict | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.replay = replay
            self.delta_reward = delta_reward
            self.replay_counts = replay_counts if replay_counts is not None else {}

        def _generate_and_score_completions(self, inputs):
            batch = super()._generate_and_score_completions(inputs)
            if self.replay is not None and self.model.training:
                pad_id = self.processing_class.pad_token_id
                batch, replaced = self.replay.apply(batch, self.num_generations, self.delta_reward.last_binary, pad_id)
                # Logged with the step this batch trains (global_step counts completed steps).
                self.replay_counts[self.state.global_step + 1] = replaced
                self._metrics["train"]["replay/groups_replaced"].append(float(replaced))
                self._metrics["train"]["replay/buffer_size"].append(float(len(self.replay)))
            return batch

    return DeltaGRPOTrainer


def _require_unsloth(config: TrainConfig) -> None:
    """Fail clearly, before importing anything heavy, when the unsloth back-end cannot run here."""
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            "backend='unsloth' needs a CUDA GPU and none is visible (torch.cuda.is_available() is False); "
            "use backend='cpu' (e.g. --preset cpu_tiny) on this machine"
        )
    packages = ("unsloth", "vllm") if config.use_vllm else ("unsloth",)
    for package in packages:
        if importlib.util.find_spec(package) is None:
            hint = " or set use_vllm=false (rollouts from Unsloth's model.generate)" if package == "vllm" else ""
            raise BackendUnavailableError(
                f"backend='unsloth' needs the `{package}` package: pip install {' '.join(packages)} "
                f"(on a CUDA machine){hint}"
            )
    # Unsloth patches trl when it is imported first; trl imported without unsloth would stay unpatched.
    if "trl" in sys.modules and "unsloth" not in sys.modules:
        raise BackendUnavailableError(
            "backend='unsloth': trl is already imported in this process, but unsloth must be imported before trl "
            "to patch it; start a fresh process (python -m delta_core.train ...)"
        )


def _load_cpu_model(config: TrainConfig):
    from .models import load_model

    loaded = load_model(config.model, dtype=config.dtype)
    return loaded.model, loaded.tokenizer


def _grpo_args(config: TrainConfig, has_eval: bool):
    from trl import GRPOConfig

    gpu = config.backend == "unsloth"
    extra: dict[str, Any] = {}
    if gpu:
        extra.update(use_vllm=config.use_vllm, vllm_mode="colocate", vllm_gpu_memory_utilization=config.gpu_memory_utilization,
                     bf16=True)
    else:
        extra.update(use_cpu=True, bf16=False)
    return GRPOConfig(
        output_dir=config.output_dir,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        beta=config.beta,
        epsilon=config.epsilon,
        epsilon_high=config.epsilon_high,
        num_generations=config.num_generations,
        generation_batch_size=config.generation_batch_size,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        temperature=config.temperature,
        top_p=config.top_p,
        max_completion_length=config.max_completion_length,
        loss_type=config.loss_type,
        scale_rewards=config.scale_rewards,
        max_steps=config.max_steps,
        seed=config.seed,
        data_seed=config.seed,
        gradient_checkpointing=config.gradient_checkpointing,
        max_grad_norm=config.max_grad_norm,
        shuffle_dataset=config.curriculum_levels is None,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="no",  # pass@k evaluation is PassKEval's job
        report_to="none",
        disable_tqdm=not config.progress_bar,
        log_completions=False,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        **extra,
    )


def _last_checkpoint(output_dir: str) -> str | None:
    """The highest `checkpoint-N` holding trainer_state.json (written last, so a save cut by a kill is skipped)."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    done = [
        (int(p.name.split("-")[1]), p)
        for p in root.glob("checkpoint-*")
        if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return str(max(done)[1]) if done else None


def train(config: TrainConfig, resume: bool = False, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Run GRPO as configured; return a summary (last train/eval records, paths, seconds).

    `resume=True` continues from the last `checkpoint-*` in `output_dir` (error if there is none),
    drops the metric lines written after it, and restores the reward schedule."""
    start = time.perf_counter()
    out = Path(config.output_dir)
    checkpoint = _last_checkpoint(config.output_dir)
    if resume and checkpoint is None:
        raise ConfigError(f"output_dir={config.output_dir!r}: --resume given but it holds no checkpoint-* directory")
    if not resume and checkpoint is not None and not config.overwrite:
        raise ConfigError(
            f"output_dir={config.output_dir!r} already holds {Path(checkpoint).name}: pass --resume to continue, "
            "choose a new output_dir, or set overwrite=true"
        )

    # 1. The model: unsloth (GPU) must be imported before trl; the cpu path never imports it.
    if config.backend == "unsloth":
        _require_unsloth(config)
        from . import train_gpu  # imports unsloth, then nothing from trl

        model, tokenizer = train_gpu.load_model_and_tokenizer(config)
        peft_config = None  # Unsloth already attached the LoRA adapters
    else:
        from .models import ModelUnavailableError, resolve_spec

        if config.cpu_threads is not None:
            import torch

            torch.set_num_threads(config.cpu_threads)
        try:  # a missing model fails here, before any data is built or trl imported
            resolve_spec(config.model)
            model, tokenizer = _load_cpu_model(config)
        except ModelUnavailableError as err:
            raise ConfigError(f"model={config.model!r}: {err}") from err
        peft_config = None
        if config.lora_rank > 0:
            from peft import LoraConfig

            peft_config = LoraConfig(
                r=config.lora_rank,
                lora_alpha=config.lora_alpha or 2 * config.lora_rank,
                target_modules="all-linear",
                task_type="CAUSAL_LM",
            )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"

    # 2. Data, rewards, logs.
    train_ds, eval_ds = build_datasets(config)
    schedule = ScheduleState(config)
    metrics_path = out / config.metrics_file
    if resume:
        step = json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"]
        truncate_metrics(metrics_path, step)
        saved = json.loads((Path(checkpoint) / "trainer_state.json").read_text()).get("stateful_callbacks", {})
        schedule.restore(saved.get("RewardScheduleCallback", {}).get("attributes", {}))
    elif metrics_path.exists():
        metrics_path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    # One reward function whatever the arm: the schedule decides the phase ("dense" never switches,
    # "binary" is switched from step 0), so every run logs the same columns.
    reward = make_reward(
        "scheduled",
        schedule=schedule,
        max_completion_length=config.max_completion_length,
        eos_id=tokenizer.eos_token_id,
        non_stop_penalty=config.non_stop_penalty,
    )
    MetricsLoggerCls, ScheduleCallbackCls, PassKEvalCls = _callback_classes()
    replay_counts: dict[int, int] = {}
    logger = MetricsLoggerCls(metrics_path, schedule, replay_counts)
    all_callbacks = [logger, ScheduleCallbackCls(schedule)]
    evaluator = None
    if config.eval_steps and eval_ds is not None:
        generate = None
        if config.backend == "unsloth":
            from . import train_gpu

            generate = train_gpu.generate_for_eval
        evaluator = PassKEvalCls(config, eval_ds, tokenizer, logger, generate)
        all_callbacks.append(evaluator)
    all_callbacks += list(callbacks)

    # 3. TRL.
    trainer_cls = _trainer_class()
    replay = ReplayBuffer(config.replay_buffer_size, config.replay_max_fraction, config.seed) if config.replay else None
    trainer = trainer_cls(
        model=model,
        reward_funcs=[reward],
        args=_grpo_args(config, eval_ds is not None),
        train_dataset=train_ds,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=all_callbacks,
        replay=replay,
        delta_reward=reward,
        replay_counts=replay_counts,
    )
    trainer.train(resume_from_checkpoint=checkpoint if resume else None)
    if config.save_final:
        trainer.save_model(str(out / "final"))
        tokenizer.save_pretrained(str(out / "final"))
    records = read_metrics(metrics_path)
    trains = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    return {
        "metrics_path": str(metrics_path),
        "output_dir": str(out),
        "steps": trains[-1]["step"] if trains else 0,
        "last_train": trains[-1] if trains else None,
        "last_eval": evals[-1] if evals else None,
        "switch_step": schedule.switch_step,
        "seconds": time.perf_counter() - start,
        "trainer": trainer,
    }


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config, resume = parse_cli(sys.argv[1:] if argv is None else argv)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 2
    try:
        summary = train(config, resume=resume)
    except (ConfigError, BackendUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary.pop("trainer")
    print(json.dumps({k: v for k, v in summary.items() if k != "last_train"}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
