"""SmolLM2-135M-Instruct taught the DSL on a CPU (issue 21), so that a short GPU run can start from a
model that writes programs: LoRA SFT on DELTA-mini v2's seen families, then the measurements the GPU
run's plan needs.

    python -m delta_core.experiments.smollm_sft sft OUT                  # LoRA SFT -> OUT/adapter, OUT/sft.json
    python -m delta_core.experiments.smollm_sft measure OUT [--shard I/N]       # raw vs +adapter -> OUT/measure.json
    python -m delta_core.experiments.smollm_sft precondition OUT [--shard I/N]  # -> OUT/precondition.json
    python -m delta_core.experiments.smollm_sft dry-run-steps OUT [--steps 3]   # GRPO s/step -> OUT/dry_run_steps.json
    python -m delta_core.experiments.smollm_sft merge DIR --adapter OUT/adapter # base + adapter -> one checkpoint

Everything reads one `SmolSFTExperiment` (saved as `OUT/experiment.json`) and one DELTA-mini experiment
(`mini_experiment`, default `book/results/delta_mini_v2/experiment.json`), whose data it reuses as is:

- **sft**: the SFT problems of `delta_mini.build_base` (`seen_split`: the seen families, less their
  held-out problems, plus the target's bridge problems), as the same compact-prompt -> verified-solution
  chat rows (`mini.sft_rows`), through the model's own chat template; TRL's `SFTTrainer` with a PEFT
  `LoraConfig` (loss on the completion only). Checkpoints every `save_steps` under `--work`; a killed
  run re-run continues from the last one. One JSON line per step in `OUT/sft_metrics.jsonl`. Only the
  adapter is kept (`OUT/adapter/`, stored in `adapter_dtype`); `OUT/sft.json` gives its size in bytes.
- **measure**: valid-DSL (parse) rate, dense mean, pass@1 and pass@k on the first `measure_problems`
  held-out problems of each seen family (held out of SFT), for the raw model and for the model with the
  adapter, sampled exactly as the GRPO rollouts are (`TrainConfig.sampling` of `grpo_config`). One record
  file per (model, family) under `--work/measure/`, a line per problem, so a killed run resumes and
  `--shard I/N` splits the (model, family) pairs between N processes. Prints the sampler's tokens/s.
- **precondition**: DELTA-mini v2's precondition report (`experiments.precondition`: parse rate on the
  target prompts, distinct programs across prompts, pass@K on the held-out target problems with the
  training sampler, dense score beside the fixed-program baselines) for the model with the adapter, one
  record per problem under `--work/precondition/` (sharded and resumable as `delta_mini`'s).
- **dry-run-steps**: a few GRPO steps (`delta_core.train.train`, backend cpu, a fresh LoRA on the merged
  model) on the target or the control family, for the seconds a step costs here.
- **merge**: the base model with the adapter merged in, saved as one checkpoint (what the GPU run and
  `dry-run-steps` train from; Unsloth loads a plain checkpoint).

Nothing here imports unsloth or vllm.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

from ..artifacts import (append_jsonl, command_line, folder_lock, provenance, read_json, read_jsonl, repo_root,
                         write_json)
from ..train.config import ConfigError

__all__ = [
    "DEFAULT_MINI",
    "MODELS",
    "SPLITS",
    "ADAPTER_DTYPES",
    "SmolSFTExperiment",
    "read_mini",
    "load_mini",
    "sft_problems",
    "measure_problems",
    "grpo_config",
    "grpo_datasets",
    "split_family",
    "sampling_config",
    "sft_lengths",
    "run_sft",
    "save_adapter",
    "adapter_sha256",
    "adapter_bytes",
    "merge_adapter",
    "summarize_unit",
    "measure",
    "precondition",
    "dry_run_steps",
    "main",
]

DEFAULT_MINI = "book/results/delta_mini_v2/experiment.json"
MODELS = ("raw", "sft")  # the model as it comes, and with the SFT adapter
SPLITS = ("target", "control")  # GRPO data: the mini experiment's target, or its positive control
ADAPTER_DTYPES = ("float32", "float16", "bfloat16")
PROG = "python -m delta_core.experiments.smollm_sft"


@dataclass
class SmolSFTExperiment:
    """What defines the SFT'd SmolLM2 and its measurements (saved as `OUT/experiment.json`)."""

    model: str = "smollm2"  # delta_core.models spec: "smollm2" (the embedded GGUF), a .gguf, a checkpoint dir, an HF id
    mini_experiment: str = DEFAULT_MINI  # the DELTA-mini experiment whose seen families, target and control are used
    # --- LoRA SFT
    lora_rank: int = 8  # rank 8 on every linear layer: 2.4M parameters, ~4.9 MB stored in float16
    lora_alpha: int | None = None  # None = 2 * lora_rank
    lora_dropout: float = 0.0
    sft_steps: int = 250  # 250 x 8 = 2,000 examples, 3 passes over the 670 SFT rows of DELTA-mini v2
    sft_batch_size: int = 8
    sft_learning_rate: float = 5e-4
    sft_warmup_steps: int = 10
    max_length: int = 256  # prompt + solution tokens (DELTA-mini v2's longest SFT row: 237 with SmolLM2's template)
    save_steps: int = 25  # checkpoint every this many SFT steps (a kill loses at most this many)
    adapter_dtype: str = "float16"  # the saved adapter's weights (float16 halves what the GPU machine is sent)
    seed: int = 0
    # --- sampling (measure, precondition) and GRPO (dry-run-steps, the GPU run)
    max_completion_length: int = 192  # SmolLM2 tokens; the longest SFT solution is 173 (+ end of turn)
    sample_batch_size: int = 64  # sequences decoded together
    measure_problems: int = 8  # held-out problems per seen family
    measure_k: int = 16  # samples per problem
    measure_families: list[str] | None = None  # None = every seen family of the mini experiment
    precondition_k: int = 64  # K of the precondition's pass@K
    precondition_problems: int | None = None  # None = every held-out target problem of the mini experiment
    grpo_lora_rank: int = 32  # the fresh LoRA GRPO trains on top of the merged SFT model
    cpu_threads: int = 1  # torch threads (1 per process; share a busy machine with --shard)

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> None:
            raise ConfigError(f"{name}={getattr(self, name)!r}: {rule}")

        if not isinstance(self.model, str) or not self.model.strip():
            bad("model", "missing; set 'smollm2', a .gguf file, a checkpoint folder or an HF id (--model ...)")
        if not isinstance(self.mini_experiment, str) or not self.mini_experiment.endswith(".json"):
            bad("mini_experiment", f"expected the path of a DELTA-mini experiment.json, e.g. {DEFAULT_MINI}")
        for name in ("lora_rank", "sft_steps", "sft_batch_size", "max_length", "save_steps", "max_completion_length",
                     "sample_batch_size", "measure_problems", "measure_k", "precondition_k", "grpo_lora_rank",
                     "cpu_threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                bad(name, f"must be an integer >= 1; e.g. --set {name}={_default(name)}")
        for name in ("sft_warmup_steps", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                bad(name, f"must be an integer >= 0; e.g. --set {name}={_default(name)}")
        if self.lora_alpha is not None and (not isinstance(self.lora_alpha, int) or self.lora_alpha < 1):
            bad("lora_alpha", "must be an integer >= 1, or null for 2 * lora_rank")
        if not isinstance(self.lora_dropout, (int, float)) or not 0 <= self.lora_dropout < 1:
            bad("lora_dropout", "must be a number in [0, 1)")
        if not isinstance(self.sft_learning_rate, (int, float)) or not self.sft_learning_rate > 0:
            bad("sft_learning_rate", "must be a number > 0, e.g. 5e-4 (LoRA wants ~10x a full fine-tune's)")
        if self.sft_warmup_steps >= self.sft_steps:
            bad("sft_warmup_steps", f"must be below sft_steps={self.sft_steps} (the warm-up would never end)")
        if self.adapter_dtype not in ADAPTER_DTYPES:
            bad("adapter_dtype", f"choose one of {list(ADAPTER_DTYPES)}")
        if self.measure_k < 2:
            bad("measure_k", "must be >= 2: pass@k needs k > 1 samples to say more than pass@1")
        if self.measure_families is not None and (
                not isinstance(self.measure_families, list) or not self.measure_families
                or not all(isinstance(s, str) and s.count("/") == 1 for s in self.measure_families)):
            bad("measure_families", "expected a non-empty list of 'family/level', e.g. [\"ends_with/medium\"], "
                                    "or null for every seen family")
        if self.precondition_problems is not None and (
                not isinstance(self.precondition_problems, int) or self.precondition_problems < 1):
            bad("precondition_problems", "must be an integer >= 1, or null for every held-out target problem")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SmolSFTExperiment":
        from ..cli import settings_from_dict

        return settings_from_dict(cls, data, ConfigError)


def _default(name: str) -> Any:
    f = next(f for f in fields(SmolSFTExperiment) if f.name == name)
    return f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]


# The fields that define the adapter: once it (or an SFT checkpoint) exists, they may not change in that OUT.
SFT_FIELDS = ("model", "mini_experiment", "lora_rank", "lora_alpha", "lora_dropout", "sft_steps", "sft_batch_size",
              "sft_learning_rate", "sft_warmup_steps", "max_length", "adapter_dtype", "seed")


# ----------------------------------------------------------------------------------------------------
# Data: DELTA-mini's own


def _repo_path(path: str | os.PathLike) -> Path:
    """`path`, or the repository's file of that relative path when run from outside the repository."""
    given = Path(path)
    if not given.is_file() and not given.is_absolute() and (repo_root() / given).is_file():
        return repo_root() / given
    return given


def read_mini(path: str | os.PathLike, name: str = "mini_experiment"):
    """The `MiniExperiment` saved in `path` (relative paths also from the repository root); a missing or
    bad file is a ConfigError naming `name`, the field or flag that gave it."""
    from .delta_mini import MiniExperiment

    given = _repo_path(path)
    if not given.is_file():
        raise ConfigError(f"{name}={str(path)!r}: no such file; give a DELTA-mini experiment.json, e.g. {DEFAULT_MINI}")
    try:
        return MiniExperiment.from_dict(read_json(given))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name}={str(path)!r}: not a DELTA-mini experiment ({err})") from None


def load_mini(exp: SmolSFTExperiment):
    """The `MiniExperiment` of `exp.mini_experiment`, checked against `exp` (ConfigError naming the field)."""
    mini = read_mini(exp.mini_experiment)
    unknown = sorted(set(exp.measure_families or ()) - set(mini.seen))
    if unknown:
        raise ConfigError(f"measure_families={exp.measure_families!r}: {unknown} not among the seen families "
                          f"{mini.seen} of {exp.mini_experiment} (the held-out problems are theirs)")
    return mini


def sft_problems(mini) -> list[Any]:
    """The SFT problems of `delta_mini.build_base` (`seen_split`, bridge problems included)."""
    from .delta_mini import seen_split

    return seen_split(mini)[0]


def measure_problems(exp: SmolSFTExperiment, mini) -> dict[str, list[Any]]:
    """{family/level: its first `measure_problems` problems held out of SFT} for the measured families."""
    from .delta_mini import seen_split

    held = seen_split(mini)[1]
    return {spec: held[spec][: exp.measure_problems] for spec in (exp.measure_families or mini.seen)}


def grpo_config(exp: SmolSFTExperiment, mini, **overrides: Any):
    """The `TrainConfig` of a GRPO run on the mini experiment's target (`delta_mini.rl_config`) at SmolLM2's
    sizes: its completion budget, sample batch and threads. Its `sampling()` is every sampler's here."""
    from .delta_mini import rl_config

    # transformers' default KV cache: the preallocated one DELTA-mini's tiny model decodes faster with was 3x
    # slower for SmolLM2 on this CPU (benchmarks/generation_cache.py --model smollm2)
    values = dict(model=exp.model, max_completion_length=exp.max_completion_length,
                  eval_batch_size=exp.sample_batch_size, cpu_threads=exp.cpu_threads, lora_rank=exp.grpo_lora_rank,
                  generation_cache=None)
    values.update(overrides)
    return rl_config(mini, **values)


def sampling_config(exp: SmolSFTExperiment, mini, k: int):
    """The rollouts' sampler (`TrainConfig.sampling`) for k samples a problem, seeded with `exp.seed`."""
    return grpo_config(exp, mini).sampling(k, seed=exp.seed)


def grpo_datasets(mini, split: str):
    """(train, held-out) `datasets.Dataset`s of a GRPO run: `target`, the mini experiment's target split
    (`delta_mini.target_datasets`); `control`, its positive control (trained on the control family's SFT
    problems, evaluated on those held out of SFT: `delta_mini_pilots.control_split`)."""
    from .delta_mini import compact_datasets, target_datasets
    from .delta_mini_pilots import control_split

    if split == "target":
        return target_datasets(mini)
    if split == "control":
        if mini.control is None:
            raise ConfigError("split='control': the mini experiment names no `control` family; set one there")
        return compact_datasets(*control_split(mini), mini.control.split("/")[1])
    raise ConfigError(f"split={split!r}: choose one of {list(SPLITS)}")


def split_family(mini, split: str) -> tuple[str, str]:
    """(family, level) of a split."""
    spec = mini.target if split == "target" else mini.control
    family, level = spec.split("/")
    return family, level


# ----------------------------------------------------------------------------------------------------
# SFT


def sft_lengths(tokenizer, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Tokens of each prompt-completion chat row as the model reads it (its chat template applied)."""
    texts = [tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False) for row in rows]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False).input_ids]


def adapter_sha256(folder: str | os.PathLike) -> str:
    """SHA-256 of the adapter's weights file (what the measurement records are tagged with)."""
    from .delta_mini import _file_sha256

    return _file_sha256(Path(folder) / "adapter_model.safetensors")


def adapter_bytes(folder: str | os.PathLike) -> int:
    """Bytes of every file of a saved adapter (what travels to the GPU machine)."""
    return sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())


def _publish(tmp: Path, folder: Path) -> None:
    """Move the finished temp folder `tmp` to `folder` (replacing it), readable by all as a results folder
    is (mkdtemp makes it private)."""
    os.chmod(tmp, 0o755)
    for path in tmp.iterdir():
        if path.is_file():
            os.chmod(path, 0o644)
    if folder.exists():
        shutil.rmtree(folder)
    os.rename(tmp, folder)


def save_adapter(model, folder: str | os.PathLike, dtype: str = "float16") -> int:
    """The PEFT model's adapter (only) into `folder`, its floating-point weights stored as `dtype`,
    replacing the folder atomically; returns its size in bytes. PEFT casts the weights back to the model's
    dtype when it loads them (`PeftModel.from_pretrained`)."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        model.save_pretrained(tmp)
        (tmp / "README.md").unlink(missing_ok=True)  # PEFT's model-card template: nothing of ours
        weights = tmp / "adapter_model.safetensors"
        target = getattr(torch, dtype)
        tensors = {k: (v.to(target) if v.is_floating_point() else v) for k, v in load_file(str(weights)).items()}
        save_file(tensors, str(weights), metadata={"format": "pt"})
        _publish(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return adapter_bytes(folder)


def _sft_metrics_callback(path: Path):
    """A TrainerCallback appending one `kind="sft"` JSON line per logged step to `path` (fsync'ed)."""
    from transformers import TrainerCallback

    class SFTMetrics(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs or "train_runtime" in logs:
                return
            # TRL's num_tokens restarts from 0 on resume: left out rather than logged wrong
            append_jsonl(path, {"kind": "sft", "step": state.global_step, "time": time.time(),
                                **{k: v for k, v in logs.items() if isinstance(v, (int, float)) and k != "num_tokens"}})

    return SFTMetrics()


def run_sft(exp: SmolSFTExperiment, out: str | os.PathLike, work: str | os.PathLike, progress: bool = True,
            callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """LoRA SFT of `exp.model` on the mini experiment's SFT rows; the adapter lands in `OUT/adapter`, the
    summary in `OUT/sft.json` (returned; skipped when it is there). Checkpoints go to `work/sft`; a run
    killed and started again continues from the last one, and the metric lines written after it are cut."""
    from collections import Counter

    import torch

    from ..mini import sft_rows
    from ..models import load_model
    from ..train import last_checkpoint, truncate_metrics

    out, work = Path(out), Path(work)
    summary_path = out / "sft.json"
    if summary_path.exists():
        return read_json(summary_path)
    mini = load_mini(exp)
    problems = sft_problems(mini)
    torch.set_num_threads(exp.cpu_threads)
    loaded = load_model(exp.model, dtype="float32")
    rows = sft_rows(problems)
    lengths = sft_lengths(loaded.tokenizer, rows)
    if max(lengths) > exp.max_length:
        raise ConfigError(f"max_length={exp.max_length}: the longest SFT row is {max(lengths)} tokens with "
                          f"{exp.model}'s tokenizer and would be cut before its end of turn; "
                          f"set --set max_length={max(lengths)}")
    import datasets
    from peft import LoraConfig
    from transformers import set_seed
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    run_dir = work / "sft"
    metrics = out / "sft_metrics.jsonl"
    checkpoint = last_checkpoint(run_dir)
    if checkpoint is not None:
        truncate_metrics(metrics, read_json(Path(checkpoint) / "trainer_state.json")["global_step"])
    else:
        metrics.unlink(missing_ok=True)
    args = SFTConfig(
        output_dir=str(run_dir), max_steps=exp.sft_steps, learning_rate=exp.sft_learning_rate,
        per_device_train_batch_size=exp.sft_batch_size, lr_scheduler_type="cosine",
        warmup_steps=exp.sft_warmup_steps, seed=exp.seed, data_seed=exp.seed, use_cpu=True,
        bf16=False,  # SFTConfig's bf16 autocast is ~10x slower than float32 on a CPU
        report_to="none", save_strategy="steps", save_steps=exp.save_steps, save_total_limit=1, logging_steps=1,
        disable_tqdm=not progress, completion_only_loss=True, max_length=exp.max_length,
        gradient_checkpointing=False, dataloader_num_workers=0,
    )
    set_seed(exp.seed)  # the LoRA weights are initialised before the Trainer seeds anything
    lora = LoraConfig(r=exp.lora_rank, lora_alpha=exp.lora_alpha or 2 * exp.lora_rank,
                      lora_dropout=exp.lora_dropout, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=loaded.model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                         processing_class=loaded.tokenizer, peft_config=lora,
                         callbacks=[_sft_metrics_callback(metrics), *callbacks])
    trainer.remove_callback(PrinterCallback)  # every step is in sft_metrics.jsonl
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    size = save_adapter(trainer.model, out / "adapter", exp.adapter_dtype)
    records = [r for r in read_jsonl(metrics, missing_ok=True) if r.get("kind") == "sft"]
    times = [r["time"] for r in records]
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    summary = {
        "model": loaded.describe(),
        "adapter": "adapter",
        "adapter_bytes": size,
        "adapter_files": {p.name: p.stat().st_size for p in sorted((out / "adapter").iterdir())},
        "adapter_sha256": adapter_sha256(out / "adapter"),
        "adapter_dtype": exp.adapter_dtype,
        "trainable_parameters": trainable,
        "sft_rows": len(rows),
        "sft_rows_by_family": dict(Counter(f"{p.family}/{p.difficulty_level}" for p in problems)),
        "tokens_per_row": {"max": max(lengths), "mean": round(sum(lengths) / len(lengths), 1)},
        "steps": trainer.state.global_step,
        "epochs": round(trainer.state.global_step * exp.sft_batch_size / len(rows), 2),
        "loss_first10": _mean([r.get("loss") for r in records[:10]]),
        "loss_last10": _mean([r.get("loss") for r in records[-10:]]),
        "token_accuracy_last10": _mean([r.get("mean_token_accuracy") for r in records[-10:]]),
        "seconds_per_step": round(statistics.median(b - a for a, b in zip(times, times[1:])), 2)
        if len(times) > 2 else None,
        "wall_seconds_last_piece": round(time.perf_counter() - started, 1),
        "resumed_from": None if checkpoint is None else Path(checkpoint).name,
    }
    write_json(summary_path, summary)
    return summary


def _mean(values: Sequence[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


# ----------------------------------------------------------------------------------------------------
# merge


def merge_adapter(model: str, adapter: str | os.PathLike, out: str | os.PathLike) -> Path:
    """`model` with the LoRA `adapter` merged into its weights, saved with its tokenizer as one checkpoint
    in `out` (float32; written atomically; skipped when `out` already holds this very merge)."""
    out = Path(out)
    record = {"model": str(model), "adapter": str(Path(adapter).resolve()), "adapter_sha256": adapter_sha256(adapter)}
    if (out / "MERGED.json").is_file() and read_json(out / "MERGED.json") == record:
        return out
    from ..models import load_model

    loaded = load_model(model, adapter=adapter, dtype="float32")
    merged = loaded.model.merge_and_unload()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        merged.save_pretrained(tmp)
        loaded.tokenizer.save_pretrained(tmp)
        write_json(tmp / "MERGED.json", record)
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# ----------------------------------------------------------------------------------------------------
# measure: raw vs +adapter on the seen families' held-out problems


def _model_tag(exp: SmolSFTExperiment, which: str, out: Path) -> dict[str, Any]:
    return {"model": exp.model, "adapter_sha256": adapter_sha256(out / "adapter") if which == "sft" else None}


def _load(exp: SmolSFTExperiment, which: str, out: Path):
    from ..models import load_model

    return load_model(exp.model, adapter=out / "adapter" if which == "sft" else None, dtype="float32")


def _saved_lines(file: Path, tag: dict[str, Any]) -> list[dict[str, Any]]:
    """The problem records of one (model, family) file; one made with another tag is an error."""
    lines = read_jsonl(file, missing_ok=True)
    for line in lines:
        if line.get("tag") != tag:
            changed = sorted(k for k in set(tag) | set(line.get("tag") or {})
                             if tag.get(k) != (line.get("tag") or {}).get(k))
            raise ConfigError(f"{file}: measured with other settings ({', '.join(changed)}); delete it (or use "
                             "another --work) to measure with these")
    return lines


def summarize_unit(records: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    """One (model, family): parse rate, dense mean, pass@1 / pass@k, full passes and the sampler's speed."""
    from ..passk import pass_at_k

    n = len(records)
    tokens = sum(r.get("generated_tokens", 0) for r in records)
    seconds = sum(r["sample_seconds"] for r in records)
    keep = ("id", "criteria", "n", "c", "parse_rate", "dense_mean", "dense_max", "distinct_programs",
            "modal_program_share", "modal_program")
    return {
        "n_problems": n,
        "k": k,
        "parse_rate": sum(r["parse_rate"] for r in records) / n,
        "dense_mean": sum(r["dense_mean"] for r in records) / n,
        "pass@1": sum(pass_at_k(r["n"], r["c"], 1) for r in records) / n,
        f"pass@{k}": sum(pass_at_k(r["n"], r["c"], k) for r in records) / n,
        "problems_with_a_full_pass": sum(r["c"] > 0 for r in records),
        "distinct_modal_programs": len({r["modal_program"] for r in records}),
        "generated_tokens": tokens,
        "sample_seconds": round(seconds, 1),
        "tokens_per_second": round(tokens / seconds, 1) if seconds else None,
        "per_problem": [{key: r[key] for key in keep if key in r} for r in records],
    }


def measure(exp: SmolSFTExperiment, out: str | os.PathLike, work: str | os.PathLike, shard: tuple[int, int] = (0, 1),
            models: Sequence[str] = MODELS, progress: bool = True) -> dict[str, Any] | None:
    """`OUT/measure.json`: every (model, family) of `models` x the measured families, `measure_k` samples on
    each of its held-out problems. Records land in `work/measure/<model>/<family>__<level>.jsonl` at once,
    a line per problem; `shard=(i, n)` takes pairs i, i+n, ...; whichever process finds every pair complete
    writes the report (the others return None)."""
    import torch
    from tqdm.auto import tqdm

    from ..train import problem_rows
    from . import precondition as pc

    out, work = Path(out), Path(work)
    index, count = shard
    if not 0 <= index < count:
        raise ConfigError(f"shard {index}/{count}: need 0 <= i < n")
    bad = [m for m in models if m not in MODELS]
    if bad:
        raise ConfigError(f"models={list(models)}: {bad} unknown; choose from {list(MODELS)}")
    mini = load_mini(exp)
    held = measure_problems(exp, mini)
    sampling = sampling_config(exp, mini, exp.measure_k)
    tags = {m: {**_model_tag(exp, m, out), "k": exp.measure_k, "sampling": dict(vars(sampling))} for m in models}
    units = [(m, spec) for m in models for spec in held]

    def file(m: str, spec: str) -> Path:
        return work / "measure" / m / f"{spec.replace('/', '__')}.jsonl"

    torch.set_num_threads(exp.cpu_threads)
    loaded: dict[str, Any] = {}
    for m, spec in tqdm(units[index::count], desc=f"measure {index}/{count}", disable=not progress):
        done = {line["id"] for line in _saved_lines(file(m, spec), tags[m])}
        problems = held[spec]
        rows = problem_rows(problems, "compact")
        for i, (problem, row) in enumerate(zip(problems, rows)):
            if problem.id in done:
                continue
            if m not in loaded:
                loaded = {m: _load(exp, m, out)}  # one model in memory at a time
            record = pc.measure_problem(loaded[m].model, loaded[m].tokenizer, problem, row, i, exp.measure_k,
                                        sampling, seed=exp.seed)
            record.pop("parsed_programs")
            append_jsonl(file(m, spec), {**record, "tag": tags[m], "finished": time.time()})
    results: dict[str, Any] = {}
    for m in models:
        results[m] = {"model": tags[m]["model"], "adapter_sha256": tags[m]["adapter_sha256"], "families": {}}
        for spec, problems in held.items():
            lines = {line["id"]: line for line in _saved_lines(file(m, spec), tags[m])}
            if any(p.id not in lines for p in problems):
                return None  # another shard is still measuring; it writes the report
            results[m]["families"][spec] = summarize_unit([lines[p.id] for p in problems], exp.measure_k)
        fams = results[m]["families"].values()
        results[m]["mean_over_families"] = {key: _mean([f[key] for f in fams]) for key in
                                            ("parse_rate", "dense_mean", "pass@1", f"pass@{exp.measure_k}")}
        tokens, seconds = sum(f["generated_tokens"] for f in fams), sum(f["sample_seconds"] for f in fams)
        results[m]["tokens_per_second"] = round(tokens / seconds, 1) if seconds else None
    with folder_lock(out):
        path = out / "measure.json"
        report = read_json(path) if path.exists() else {}
        same = report.get("k") == exp.measure_k and report.get("sampling") == dict(vars(sampling))
        report = {
            "k": exp.measure_k,
            "problems_per_family": exp.measure_problems,
            "sampling": dict(vars(sampling)),
            "models": {**(report.get("models", {}) if same else {}), **results},
        }
        write_json(path, report)
    return report


def describe_measure(report: dict[str, Any]) -> str:
    """measure.json as a table: per family and model, parse rate, dense, pass@1, pass@k; tokens/s."""
    k = report["k"]
    lines = [f"{'family':28} {'model':4} {'parse':>6} {'dense':>6} {'pass@1':>7} {f'pass@{k}':>8}"]
    for m, result in report["models"].items():
        for spec, f in result["families"].items():
            lines.append(f"{spec:28} {m:4} {f['parse_rate']:6.3f} {f['dense_mean']:6.3f} {f['pass@1']:7.3f} "
                         f"{f[f'pass@{k}']:8.3f}")
        lines.append(f"{'(sampler)':28} {m:4} {result['tokens_per_second']} tokens/s")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# precondition: DELTA-mini v2's report for the model with the adapter


def precondition(exp: SmolSFTExperiment, out: str | os.PathLike, work: str | os.PathLike,
                 shard: tuple[int, int] = (0, 1), progress: bool = True) -> dict[str, Any] | None:
    """`OUT/precondition.json` (`experiments.precondition`) of the model with the adapter on the mini
    experiment's held-out target problems, K = `precondition_k`, the rollouts' sampler. One record per
    problem in `work/precondition/` (sharded, resumable); the process that finds them all writes the report."""
    import torch
    from tqdm.auto import tqdm

    from ..train import problem_rows
    from . import precondition as pc
    from .delta_mini import target_split

    out, work = Path(out), Path(work)
    path = out / "precondition.json"
    if path.exists():
        return read_json(path)
    index, count = shard
    if not 0 <= index < count:
        raise ConfigError(f"shard {index}/{count}: need 0 <= i < n")
    mini = load_mini(exp)
    held = target_split(mini)[1][: exp.precondition_problems]
    rows = problem_rows(held, "compact")
    k = exp.precondition_k
    sampling = sampling_config(exp, mini, k)
    tag = {**_model_tag(exp, "sft", out), "k": k, "sampling": dict(vars(sampling))}
    records_dir = work / "precondition"

    def saved(i: int) -> dict[str, Any] | None:
        file = records_dir / f"problem_{i:03d}.json"
        if not file.exists():
            return None
        record = read_json(file)
        if record.get("tag") != tag or record.get("id") != held[i].id:
            raise ConfigError(f"{file}: measured with another model, adapter, K, sampler or target problem; "
                             f"delete {records_dir} (or use another --work) to measure this one")
        return record

    torch.set_num_threads(exp.cpu_threads)
    started = time.perf_counter()
    mine = [i for i in range(index, len(held), count) if saved(i) is None]
    if mine:
        loaded = _load(exp, "sft", out)
        for i in tqdm(mine, desc=f"precondition {index}/{count}", disable=not progress):
            record = pc.measure_problem(loaded.model, loaded.tokenizer, held[i], rows[i], i, k, sampling,
                                        seed=exp.seed)
            write_json(records_dir / f"problem_{i:03d}.json", {**record, "tag": tag, "finished": time.time()})
    records = [saved(i) for i in range(len(held))]
    if any(r is None for r in records):
        return None
    with folder_lock(out):
        if path.exists():
            return read_json(path)
        tokens = sum(r.get("generated_tokens", 0) for r in records)
        seconds = sum(r["sample_seconds"] for r in records)
        report = pc.summarize_precondition(held, [{k_: v for k_, v in r.items() if k_ != "tag"} for r in records], k)
        report.update(model=exp.model, adapter_sha256=tag["adapter_sha256"], target=mini.target,
                      sampling=dict(vars(sampling)), tokens_per_second=round(tokens / seconds, 1) if seconds else None,
                      wall_seconds=round(time.perf_counter() - started, 1))
        report["describe"] = pc.describe(report).splitlines()
        write_json(path, report)
    return report


# ----------------------------------------------------------------------------------------------------
# dry-run-steps: what a GRPO step costs here


def dry_run_steps(exp: SmolSFTExperiment, out: str | os.PathLike, work: str | os.PathLike, split: str = "target",
                  steps: int = 3, prompts: int = 2, generations: int = 2, schedule: str = "dense_then_binary",
                  progress: bool = True) -> dict[str, Any]:
    """A few GRPO steps (`delta_core.train.train`, backend cpu) from the merged SFT model with a fresh LoRA
    of rank `grpo_lora_rank`, `prompts` x `generations` completions a step, on `split`; the seconds a step
    takes land in `OUT/dry_run_steps.json` (one entry per (split, prompts, generations))."""
    from ..train import train

    out, work = Path(out), Path(work)
    mini = load_mini(exp)
    datasets = grpo_datasets(mini, split)
    family, level = split_family(mini, split)
    merged = merge_adapter(exp.model, out / "adapter", work / "merged")
    run_dir = work / "dry_run_steps" / f"{split}_p{prompts}_g{generations}"
    config = grpo_config(exp, mini, model=str(merged), family=family, level=level, schedule=schedule,
                         num_generations=generations, generation_batch_size=prompts * generations,
                         per_device_train_batch_size=prompts * generations, max_steps=steps, eval_steps=0,
                         save_steps=10**6, save_final=False, output_dir=str(run_dir), overwrite=True,
                         progress_bar=progress)
    started = time.perf_counter()
    summary = train(config, datasets=datasets)
    wall = time.perf_counter() - started
    trains = [r for r in read_jsonl(summary["metrics_path"]) if r.get("kind") == "train"]
    times = [r["step_time"] for r in trains if r.get("step_time") is not None]
    later = times[1:] or times  # the first step also warms up
    per_step = statistics.median(later) if later else None
    lengths = [r["completion_length"] for r in trains if r.get("completion_length") is not None]
    samples = prompts * generations
    result = {
        "split": split, "family": f"{family}/{level}", "schedule": schedule, "prompts": prompts,
        "generations": generations, "samples_per_step": samples, "steps": len(trains),
        "step_time_s": [round(t, 2) for t in times],
        "seconds_per_step": round(per_step, 2) if per_step else None,
        "seconds_per_sample": round(per_step / samples, 2) if per_step else None,
        "mean_completion_tokens": round(_mean(lengths), 1) if lengths else None,
        "tokens_per_second": round(_mean(lengths) * samples / per_step, 1) if per_step and lengths else None,
        "max_completion_length": exp.max_completion_length, "grpo_lora_rank": exp.grpo_lora_rank,
        "cpu_threads": exp.cpu_threads, "wall_seconds_with_loading": round(wall, 1),
        "dense_mean": [r.get("dense_mean") for r in trains], "binary_mean": [r.get("binary_mean") for r in trains],
    }
    with folder_lock(out):
        path = out / "dry_run_steps.json"
        runs = read_json(path) if path.exists() else {}
        runs[f"{split}_p{prompts}_g{generations}"] = result
        write_json(path, runs)
    return result


# ----------------------------------------------------------------------------------------------------
# Command line


def _parse_set(values: Sequence[str]) -> dict[str, Any]:
    from ..cli import parse_set

    return parse_set(PROG, values, "--set sft_steps=300")


def _read_settings(path: Path, what: str) -> dict[str, Any]:
    from ..cli import read_settings

    return read_settings(PROG, path, what, "SmolSFTExperiment")


def _sft_started(out: Path, work: Path) -> bool:
    from ..train import last_checkpoint

    return (out / "adapter" / "adapter_config.json").is_file() or last_checkpoint(work / "sft") is not None


def _check_record(exp: SmolSFTExperiment, out: Path, work: Path) -> None:
    """An OUT whose adapter (or SFT checkpoints) were made with other SFT settings refuses these."""
    from ..cli import fail

    saved = out / "experiment.json"
    if not saved.is_file() or not _sft_started(out, work):
        return
    old = _read_settings(saved, "OUT")
    changed = [k for k in SFT_FIELDS if old.get(k, _default(k)) != getattr(exp, k)]
    if changed:
        fail(PROG, f"OUT {out}: its adapter was made with other settings ({', '.join(changed)}); use another OUT "
                   "(and --work), drop those --set/--model values, or delete the adapter and the checkpoints")


def _need_adapter(step: str, out: Path) -> None:
    from ..cli import fail

    if not (out / "adapter" / "adapter_config.json").is_file():
        fail(PROG, f"OUT {out}: holds no adapter ({out / 'adapter' / 'adapter_config.json'}); the {step} step needs "
                   f"it: run `{PROG} sft {out}` first")


def _write_provenance(out: Path, step: str, argv: Sequence[str], exp: SmolSFTExperiment, started: float,
                      skipped: bool = False) -> None:
    from ..artifacts import package_versions

    path = out / "provenance.json"
    with folder_lock(out):
        history = read_json(path).get("invocations", []) if path.exists() else []
        mini_file = _repo_path(exp.mini_experiment)
        from .delta_mini import _file_sha256

        record = provenance(command_line("delta_core.experiments.smollm_sft", argv), experiment=asdict(exp),
                            mini_experiment_sha256=_file_sha256(mini_file) if mini_file.is_file() else None,
                            wall_seconds=time.perf_counter() - started,
                            versions_extra=package_versions(("accelerate", "datasets", "safetensors")))
        call = {"step": step, "command": record["command"], "git_commit": record["git_commit"],
                "wall_seconds": record["wall_seconds"], "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if skipped:
            call["skipped"] = True
            if path.exists():  # the top stays the call that made the result
                record = read_json(path)
        record["invocations"] = history + [call]
        write_json(path, record)


def _measured_already(path: Path, exp: SmolSFTExperiment, models: Sequence[str]) -> bool:
    """Whether measure.json already reports every one of `models` at this experiment's k (a call then only
    rewrites the same report from the saved records: it is logged as skipped)."""
    if not path.is_file():
        return False
    report = read_json(path)
    return report.get("k") == exp.measure_k and all(m in report.get("models", {}) for m in models)


def _shard(parser, text: str) -> tuple[int, int]:
    try:
        shard = tuple(int(x) for x in text.split("/"))
        if len(shard) != 2 or not 0 <= shard[0] < shard[1]:
            raise ValueError
    except ValueError:
        parser.error(f"--shard {text!r}: give I/N with 0 <= I < N, e.g. 0/2 and 1/2 for two processes")
    return shard  # type: ignore[return-value]


def main(argv: Sequence[str] | None = None) -> int:
    from ..cli import ArgumentParser, ensure_output_dir, fail, positive_int, user_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["sft", "measure", "precondition", "dry-run-steps", "merge"])
    parser.add_argument("out", metavar="OUT", help="results folder (merge: the merged checkpoint's folder)")
    parser.add_argument("--work", default="runs/smollm_sft", help="checkpoints and measurement records (not committed)")
    parser.add_argument("--config", help="a JSON file of SmolSFTExperiment fields")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field (JSON value)")
    parser.add_argument("--model", help="shorthand for --set model=SPEC (smollm2, a .gguf, a checkpoint, an HF id)")
    parser.add_argument("--shard", default="0/1", metavar="I/N", help="measure, precondition: this process's share")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS), help="measure: which")
    parser.add_argument("--split", choices=list(SPLITS), default="target", help="dry-run-steps: the GRPO data")
    parser.add_argument("--steps", type=positive_int, default=3, help="dry-run-steps: GRPO steps")
    parser.add_argument("--prompts", type=positive_int, default=2, help="dry-run-steps: prompts a step")
    parser.add_argument("--generations", type=int, default=2, help="dry-run-steps: samples a prompt (>= 2)")
    parser.add_argument("--adapter", help="merge: the adapter folder (e.g. OUT/adapter)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    args = parser.parse_args(argv)
    shard = _shard(parser, args.shard)
    if args.generations < 2:
        parser.error(f"argument --generations: {args.generations} is out of range: GRPO needs >= 2 samples a prompt")
    out, work = Path(args.out), Path(args.work)
    progress = not args.no_progress
    started = time.perf_counter()

    if args.step == "merge":
        if args.adapter is None or not (Path(args.adapter) / "adapter_config.json").is_file():
            fail(PROG, f"--adapter {args.adapter}: not a PEFT adapter folder (no adapter_config.json); give e.g. "
                       "book/results/smollm_sft/adapter")
        ensure_output_dir(PROG, out.parent if str(out.parent) else ".", "OUT's parent")
        with user_errors(PROG, ConfigError, paths={"OUT": args.out, "--adapter": args.adapter}):
            from ..models import ModelUnavailableError

            try:
                merged = merge_adapter(args.model or "smollm2", args.adapter, out)
            except ModelUnavailableError as err:
                fail(PROG, f"--model {args.model or 'smollm2'}: {err}")
        print(f"merged {args.model or 'smollm2'} + {args.adapter} -> {merged}")
        return 0

    data = _read_settings(Path(args.config), "--config") if args.config else {}
    if not data and (out / "experiment.json").is_file():
        data = _read_settings(out / "experiment.json", "OUT")
    data.update(_parse_set(args.set))
    if args.model:
        data["model"] = args.model
    try:
        exp = SmolSFTExperiment.from_dict(data)
        load_mini(exp)
    except (TypeError, ConfigError) as err:
        fail(PROG, f"experiment settings: {err}")
    from ..models import ModelUnavailableError, resolve_spec

    try:  # a model that is not on disk fails now, before any import of torch
        resolve_spec(exp.model)
    except ModelUnavailableError as err:
        fail(PROG, f"model={exp.model!r} (--model): {err}")
    if args.step == "sft":
        ensure_output_dir(PROG, out, "OUT")
        ensure_output_dir(PROG, work, "--work")
    elif not out.is_dir():
        fail(PROG, f"OUT {out}: no such folder; make the adapter first: {PROG} sft {out}")
    if args.step in ("precondition", "dry-run-steps") or (args.step == "measure" and "sft" in args.models):
        _need_adapter(args.step, out)
    _check_record(exp, out, work)
    if args.step != "sft":
        ensure_output_dir(PROG, work, "--work")
    with folder_lock(out):
        write_json(out / "experiment.json", asdict(exp))

    # a step whose result is already there does nothing: it is logged as skipped and leaves the provenance of
    # the call that made the result at the top of provenance.json
    result_file = {"sft": out / "sft.json", "precondition": out / "precondition.json"}.get(args.step)
    skipped = result_file is not None and result_file.is_file()
    if args.step == "measure":
        skipped = _measured_already(out / "measure.json", exp, args.models)
    with user_errors(PROG, ConfigError, ModelUnavailableError, paths={"OUT": args.out, "--work": args.work}):
        if args.step == "sft":
            result = run_sft(exp, out, work, progress=progress)
            print(json.dumps({k: v for k, v in result.items() if k not in ("model", "adapter_files")}, indent=1))
        elif args.step == "measure":
            report = measure(exp, out, work, shard, args.models, progress=progress)
            print(describe_measure(report) if report
                  else f"measure {args.shard}: done; another shard writes the report")
        elif args.step == "precondition":
            report = precondition(exp, out, work, shard, progress=progress)
            if report:
                print("\n".join(report["describe"]) + f"\nsampler: {report['tokens_per_second']} tokens/s")
            else:
                print(f"precondition {args.shard}: done; another shard writes the report")
        else:
            result = dry_run_steps(exp, out, work, args.split, args.steps, args.prompts, args.generations,
                                   progress=progress)
            print(json.dumps(result, indent=1))
    _write_provenance(out, args.step, argv, exp, started, skipped=skipped)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
