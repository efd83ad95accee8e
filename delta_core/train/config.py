"""What a GRPO run is: `TrainConfig` (validated before anything loads), the paper's values, presets.

Defaults are the paper's values (spec A.3); `PRESETS` hold small-scale settings that work on one GPU
(LoRA) or on a CPU (tiny model); `load_config` merges defaults <- preset <- YAML file <- overrides.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..rewards.schedule import Schedule
from ..sampling import SamplingConfig

__all__ = ["PAPER", "PRESETS", "TrainConfig", "ConfigError", "BackendUnavailableError", "load_config"]

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
    # "cpu": transformers + PEFT; "cuda": the same on one CUDA GPU (bf16 autocast, no Unsloth: what a machine
    # without Unsloth's wheels runs); "unsloth": Unsloth + LoRA + vLLM on one GPU
    backend: str = "cpu"
    lora_rank: int = 0  # 0 = full fine-tune (the paper); > 0 = LoRA of this rank
    lora_alpha: int | None = None  # None = 2 * lora_rank
    dtype: str = "float32"  # cpu and cuda back-ends' master weights (cuda trains under bf16 autocast); unsloth: bf16
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
    switch_on: str = "dense_mean"  # what switch_threshold is compared to: "dense_mean", or "full_pass" (the
    # training full-pass rate, with switch_step as an optional cap and switch_min_solved distinct problems)
    switch_min_solved: int = 1  # switch_on="full_pass": distinct problems solved within the window
    non_stop_penalty: bool = True  # a completion cut at max_completion_length scores 0 (spec A.3)
    skip_steps_without_signal: bool = True  # every group's rewards tie: take no optimizer step (Adam's moments
    # would still move the weights with a zero gradient); logged as `step_skipped`

    # --- GRPO (TRL names; paper values)
    learning_rate: float = PAPER["learning_rate"]
    lr_scheduler_type: str = PAPER["lr_scheduler_type"]
    beta: float = PAPER["beta"]
    epsilon: float = PAPER["epsilon"]
    epsilon_high: float = PAPER["epsilon_high"]
    num_generations: int = PAPER["num_generations"]
    generation_batch_size: int = PAPER["generation_batch_size"]  # completions per optimizer step
    per_device_train_batch_size: int = 16  # completions per forward/backward; the rest is accumulated
    temperature: float = PAPER["temperature"]  # rollouts and every evaluation sample alike (`sampling()`)
    top_p: float = 1.0
    top_k: int = 0  # 0 = no top-k cut (TRL's default; transformers' generate would otherwise use 50)
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
    eval_batch_size: int = 64  # sequences generated together during evaluation
    eval_max_problems: int | None = None  # cap on held-out problems evaluated (None = all)
    # KV cache of the CPU rollouts, feedback continuations and evaluation: None = transformers' default,
    # "static" = preallocated (same samples; faster for tiny models, slower for SmolLM2: sampling.KV_CACHES)
    generation_cache: str | None = None
    save_steps: int = PAPER["save_steps"]  # checkpoint every this many steps
    save_total_limit: int | None = 2
    save_final: bool = True  # write the final model (or adapter) to <output_dir>/final
    overwrite: bool = False  # allow a fresh run in an output_dir that already holds checkpoints
    progress_bar: bool = False

    # --- variants
    replay: bool = False  # successful traces return with their prompt in place of failed samples (ReplayBuffer)
    replay_per_prompt: int = 3  # the most recent successes kept, and replayed, per prompt (the paper: 3)
    replay_buffer_size: int = 4096  # prompts kept (the longest unused are dropped first)
    feedback_max_iterations: int = 0  # a failed program hears the judge's feedback and retries this many
    # times at most (train/feedback.py; the paper: 1); 0 = off
    curriculum_levels: list[str] | None = None  # family mode: levels in order, e.g. [easy, medium]
    curriculum_steps: list[int] | None = None  # the step at which each level starts; first must be 0
    ordered_data: bool = False  # visit the training rows in their order (a curriculum the caller built:
    # rows t*P..(t+1)*P-1 are step t's prompts, P = prompts per step) instead of TRL's shuffle

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
        if self.backend not in ("cpu", "cuda", "unsloth"):
            bad("backend", "choose 'cpu' (transformers + PEFT), 'cuda' (the same on one CUDA GPU) or 'unsloth' "
                "(Unsloth on one CUDA GPU)")
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

        try:  # the schedule's rules live in one place: Schedule
            self.make_schedule()
        except ValueError as err:
            raise ConfigError(str(err)) from None

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
        if self.temperature <= 0:
            bad("temperature", "must be > 0 (GRPO samples its rollouts)")
        if not 0.0 < self.top_p <= 1.0:
            bad("top_p", "must be in (0, 1] (1 = no nucleus cut)")
        if self.top_k < 0:
            bad("top_k", "must be >= 0 (0 = no top-k cut)")
        for name in ("max_completion_length", "max_steps", "save_steps", "eval_k", "eval_batch_size"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        if self.generation_cache not in (None, "static"):
            bad("generation_cache", "choose null (transformers' default KV cache) or 'static' (preallocated)")
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
        if self.replay_per_prompt < 1:
            bad("replay_per_prompt", "must be >= 1")
        if self.replay and self.scale_rewards not in ("group", "none"):
            bad("scale_rewards", "replay recomputes group advantages: use 'group' or 'none' with replay=true")
        if self.feedback_max_iterations < 0:
            bad("feedback_max_iterations", "must be >= 0 (0 = no feedback; the paper uses 1)")
        if self.feedback_max_iterations and self.backend == "unsloth":
            bad("feedback_max_iterations", "feedback rollouts run on the cpu and cuda back-ends only (backend='unsloth' "
                "generates with vLLM or Unsloth, which the feedback rollout does not drive): set "
                "feedback_max_iterations=0 or backend='cpu'")
        if self.feedback_max_iterations and self.replay:
            bad("feedback_max_iterations", "cannot be combined with replay=true yet: a replayed trace would need its "
                "feedback mask (TRL's tool_mask) stored with it, which ReplayBuffer does not keep; turn one of them off")
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

    def make_schedule(self) -> Schedule:
        """A fresh `Schedule` of this run (the reward reads it; the trainer's callback switches it)."""
        return Schedule(self.schedule, self.switch_step, self.switch_threshold, self.switch_window,
                        self.switch_on, self.switch_min_solved)

    def sampling(self, n: int | None = None, seed: int | None = None) -> SamplingConfig:
        """The rollouts' generation settings as a `SamplingConfig`: held-out pass@k samples exactly as
        the GRPO rollouts do (temperature, top_p, top_k, max_completion_length)."""
        return SamplingConfig(n_samples=n or self.eval_k, temperature=self.temperature, top_p=self.top_p,
                              top_k=self.top_k, max_new_tokens=self.max_completion_length,
                              seed=self.seed if seed is None else seed, batch_size=self.eval_batch_size)


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
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise ConfigError(f"config file {str(path)!r}: cannot be read ({err.strerror or err}); "
                              "give an existing YAML file, e.g. configs/cpu_tiny.yaml") from None
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"config file {str(path)!r}{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of field: value, got {type(loaded).__name__}")
        values.update(loaded)
    values.update(overrides or {})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if "replay_max_fraction" in unknown:
        raise ConfigError("replay_max_fraction: removed; replay now follows the paper (successes return with their "
                          "prompt, up to `replay_per_prompt` of them), so drop the key")
    if "eval_temperature" in unknown:
        raise ConfigError("eval_temperature: removed; evaluation samples with the rollouts' `temperature`, "
                          "`top_p` and `top_k` (TrainConfig.sampling), so drop the key")
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
