"""DELTA-mini: RL grokking end to end on a CPU, with a tiny model and the project's own parts.

    python -m delta_core.experiments.delta_mini all --out book/results/delta_mini   # base, measure, arms, summary
    python -m delta_core.experiments.delta_mini base --out DIR                      # just the base model
    python -m delta_core.experiments.delta_mini arms --out DIR --set seeds=[0] --set max_steps=40

The story in four steps, one function each:

1. `build_base`: a tiny Llama (`delta_core.mini`) supervised on prompt -> verified solution pairs of the
   *seen* families only (TRL `SFTTrainer`). Deterministic for a given `MiniExperiment`.
2. `measure_base`: pass@1 on held-out problems of the seen families (can it write programs at all?),
   and pass@K (K = `base_k`) plus the dense score on held-out problems of the unseen *target* family:
   the experiment is only meaningful when pass@K is 0 and the dense score is above 0.
3. `run_arm`: GRPO (`delta_core.train`, TRL) on the target family's training problems with one reward
   schedule: `binary`, `dense`, or `dense_then_binary`. Held-out full-pass (pass@1) every `eval_steps`.
   Each run resumes from its last checkpoint and is skipped when finished, so `all` can be re-run
   after a kill and only does what is missing.
4. `summarize`: per arm and seed, the held-out full-pass curve, time-to-grok (first evaluation with
   held-out full-pass >= `grok_threshold`), the dense mean and zero-std fraction, and pass@k after
   training on the target and the seen families (sharpening vs discovery, forgetting).

Everything lands in `--out` as small files: `experiment.json` (the config), `base/` (the model, ~8 MB),
`base_eval.json`, `runs/<arm>_s<seed>/metrics.jsonl` + `after.json` + `examples.json`, `summary.json`,
`provenance.json`, and the plots of `delta_mini_report.plot_all`. Checkpoints go to `--work` (default `runs/delta_mini`),
which is not committed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

from ..artifacts import command_line, folder_lock, provenance, read_json, read_jsonl, write_json
from ..rewards.schedule import Schedule
from . import delta_mini_report
from .delta_mini_report import load_runs

__all__ = [
    "ARMS",
    "MiniExperiment",
    "rl_config",
    "check_generator_version",
    "BRIDGES",
    "target_split",
    "seen_split",
    "bridge_problems",
    "target_datasets",
    "compact_datasets",
    "build_base",
    "measure_base",
    "measure_precondition",
    "fallback_count",
    "run_arm",
    "snapshot_runs",
    "chance_solves",
    "evaluate_model",
    "time_to_grok",
    "summarize",
    "run_all",
    "main",
]

ARMS = ("binary", "dense", "dense_then_binary")


def _one_colour(problem: Any) -> bool:
    """A problem whose pattern (its `sequence` parameter) is one colour repeated, e.g. 'RRR'."""
    sequence = problem.params.get("sequence") if hasattr(problem, "params") else None
    return bool(sequence) and len(set(sequence)) == 1


def fallback_count(sequence: str, colours: Sequence[str] = ("R", "B")) -> int:
    """How many transitions of the pattern's KMP automaton fall back to a *partial* match: neither advance,
    stay, nor restart at q0. 'RRBRB' has one (after 'RRBR', an 'R' leads to 'RR' read); 'RBRBRB' two
    (after 'RBR' and after 'RBRBR', an 'R' leads to 'R' read)."""
    from ..tasks.sequence import kmp_step

    colours = sorted(set(sequence) | set(colours))
    return sum(kmp_step(sequence, k, c) not in (0, k, k + 1) for k in range(len(sequence)) for c in colours)


def _restart_or_stay(problem: Any) -> bool:
    """A pattern problem whose automaton (contains: KMP) needs no *fallback*: every transition advances,
    stays, or restarts at q0. Such automata are within the seen families' styles (a prefix matcher
    restarts, a subsequence matcher stays); a fallback to a partial match (after 'RBR', an 'R' leads
    to q1, not q0) is the skill the others need."""
    sequence = problem.params.get("sequence") if hasattr(problem, "params") else None
    return bool(sequence) and fallback_count(sequence) == 0


# bridge name -> which target problems move into SFT
BRIDGES = {"one_colour": _one_colour, "restart_or_stay": _restart_or_stay}


@dataclass
class MiniExperiment:
    """Everything that defines a DELTA-mini experiment (saved as `experiment.json` beside the results)."""

    # --- the base model: SFT on the seen families
    # basic_mix (the paper's seen families) plus ends_with: contains_substring (the target) is ends_with's
    # automaton whose last transition accepts at once instead of waiting for the empty tape.
    seen: list[str] = field(default_factory=lambda: [
        "starts_with/basic", "exact_sequence/basic", "append_sequence/basic", "ends_with/easy", "ends_with/medium"])
    seen_held_out: int = 16  # problems per seen family kept out of SFT (for pass@1 of the base)
    sft_steps: int = 400
    sft_learning_rate: float = 2e-3
    sft_batch_size: int = 16
    model_seed: int = 0  # weight initialisation of the tiny Llama
    model_size: dict[str, int] = field(default_factory=dict)  # MiniConfig sizes ({}: its defaults, ~1.9M parameters)
    # --- the target: an unseen family
    target: str = "contains_substring/medium"  # contains-type problems: the paper's main target (HAS)
    held_out: int = 16  # target problems held out of RL (the full-pass curve is measured on them)
    base_k: int = 128  # pass@K of the base model on the held-out target problems
    data_seed: int = 0
    # --- RL (GRPO, delta_core.train)
    arms: list[str] = field(default_factory=lambda: list(ARMS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    max_steps: int = 100
    switch_step: int | None = 30  # dense_then_binary: binary from this step on ...
    switch_threshold: float | None = None  # ... or once the dense mean reaches this
    learning_rate: float = 2e-4  # 5e-4 collapsed the policy to unparsable output within 6 steps
    num_generations: int = 8
    prompts_per_step: int = 8
    max_completion_length: int = 176  # the longest seen solution (ends_with, 6 colours) is 158 tokens
    temperature: float = 1.0
    beta: float = 0.0
    replay: bool = False
    eval_steps: int = 10
    eval_k: int = 8  # samples per held-out problem at each evaluation
    after_k: int = 32  # samples per problem for pass@k after training (target and seen)
    grok_threshold: float = 0.9
    cpu_threads: int = 1
    # --- v2 (issue 18); the defaults are v1's behaviour, so v1's results folder still reads
    # The target's problems that move into SFT, teaching the prompt's words and sentence template but
    # not the algorithm: "one_colour", the patterns 'RRR', 'BB', ... (a prefix matcher without resets
    # solves them); "restart_or_stay", every pattern whose automaton only advances, stays or restarts
    # at q0 ('RRB', 'RBR'). The target keeps the problems that need a fallback to a partial match.
    bridge: str | None = None
    bridge_repeat: int = 1  # copies of each bridge problem in the SFT data (the template must be seen often)
    target_min_length: int | None = None  # keep only target patterns at least this long (None: all)
    switch_on: str = "dense_mean"  # "full_pass": switch once the training full-pass rate over switch_window
    switch_window: int = 5  # steps reaches switch_threshold with >= switch_min_solved distinct problems
    switch_min_solved: int = 1  # solved; switch_step is then a step cap
    control: str | None = None  # the positive control's family/level (delta_mini_pilots): one of `seen`
    # keep only target patterns whose automaton has at least this many fallback transitions (to a partial
    # match, `fallback_count`). Every chance solve the precondition found needed exactly one: one
    # transition among a handful is guessed now and then; two at once, far more rarely.
    target_min_fallbacks: int = 0

    def __post_init__(self) -> None:
        for name in ("target", *[f"seen[{i}]" for i in range(len(self.seen))]):
            value = self.target if name == "target" else self.seen[int(name[5:-1])]
            if not isinstance(value, str) or value.count("/") != 1:
                raise ValueError(f"{name}={value!r}: expected 'family/level', e.g. 'ends_with/easy'")
        if self.target.split("/")[0] in {s.split("/")[0] for s in self.seen}:
            raise ValueError(f"target={self.target!r} is one of the seen families {self.seen}: the target must be unseen")
        bad = [a for a in self.arms if a not in ARMS]
        if bad:
            raise ValueError(f"arms={self.arms}: {bad} unknown; choose from {list(ARMS)}")
        if "dense_then_binary" in self.arms:  # the schedule's own rules (exactly one of step and threshold)
            Schedule("dense_then_binary", self.switch_step, self.switch_threshold, self.switch_window,
                     self.switch_on, self.switch_min_solved)
        if self.bridge not in (None, *BRIDGES):
            raise ValueError(f"bridge={self.bridge!r}: choose null or one of {list(BRIDGES)}")
        if self.control is not None and self.control not in self.seen:
            raise ValueError(f"control={self.control!r}: the positive control must be one of the seen families "
                             f"{self.seen} (it trains on their SFT problems and evaluates on those held out)")
        if self.target_min_length is not None and self.bridge is None:
            raise ValueError(f"target_min_length={self.target_min_length}: only with a bridge (v2); set bridge too")
        if self.target_min_fallbacks and self.bridge != "restart_or_stay":
            raise ValueError(f"target_min_fallbacks={self.target_min_fallbacks}: only with bridge='restart_or_stay' "
                             "(the bridge then holds the patterns with none)")
        if self.bridge_repeat < 1:
            raise ValueError(f"bridge_repeat={self.bridge_repeat}: must be >= 1")
        if self.held_out < 1 or self.base_k < 1 or self.max_steps < 1:
            raise ValueError("held_out, base_k and max_steps must be >= 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MiniExperiment":
        from ..cli import settings_from_dict

        return settings_from_dict(cls, data)


# ----------------------------------------------------------------------------------------------------
# Data


def _family_level(spec: str) -> tuple[str, str]:
    family, level = spec.split("/")
    return family, level


def rl_config(exp: MiniExperiment, **overrides: Any):
    """The `TrainConfig` of an RL run on the target family (also used for its data split and evaluation)."""
    from ..train import TrainConfig

    family, level = _family_level(exp.target)
    values = dict(
        preset="delta_mini",
        backend="cpu",
        model="(set per run)",
        family=family,
        level=level,
        prompt_style="compact",
        eval_problems=exp.held_out,
        data_seed=exp.data_seed,
        learning_rate=exp.learning_rate,
        lr_scheduler_type="constant",
        beta=exp.beta,
        num_generations=exp.num_generations,
        generation_batch_size=exp.num_generations * exp.prompts_per_step,
        per_device_train_batch_size=exp.num_generations * exp.prompts_per_step,
        temperature=exp.temperature,
        max_completion_length=exp.max_completion_length,
        max_steps=exp.max_steps,
        eval_steps=exp.eval_steps,
        eval_k=exp.eval_k,
        eval_batch_size=256,
        # decoding this 2M-parameter model is mostly copying transformers' default KV cache: preallocate it
        # (same samples; benchmarks/generation_cache.py)
        generation_cache="static",
        save_steps=max(exp.eval_steps, 10),
        save_total_limit=1,
        replay=exp.replay,
        cpu_threads=exp.cpu_threads,
        switch_step=exp.switch_step,
        switch_threshold=exp.switch_threshold,
        switch_window=exp.switch_window,
        switch_on=exp.switch_on,
        switch_min_solved=exp.switch_min_solved,
    )
    values.update(overrides)
    return TrainConfig(**values)


def target_split(exp: MiniExperiment) -> tuple[list[Any], list[Any]]:
    """(train, held-out) problems of the target family: exactly the split the RL runs use."""
    from ..train import family_split

    config = rl_config(exp)
    if exp.bridge is None:
        return family_split(config, config.level)
    from ..tasks import generate

    moved = BRIDGES[exp.bridge]
    shortest = exp.target_min_length or 0
    problems = [p for p in generate(config.family, config.level, "two_color", n=None, seed=exp.data_seed)
                if not moved(p) and len(p.params.get("sequence", "")) >= shortest
                and fallback_count(p.params.get("sequence", "")) >= exp.target_min_fallbacks]
    random.Random(exp.data_seed).shuffle(problems)  # as family_split does, on the problems that stay
    return problems[exp.held_out:], problems[: exp.held_out]


def compact_datasets(train: Sequence[Any], held: Sequence[Any], level: str):
    """(train, held-out) `datasets.Dataset`s of problems with the compact prompt and a `level` column,
    as `delta_core.train.train` takes them."""
    import datasets

    from ..train import problem_rows

    rows = problem_rows(train, "compact"), problem_rows(held, "compact")
    for row in rows[0] + rows[1]:
        row["level"] = level
    return datasets.Dataset.from_list(rows[0]), datasets.Dataset.from_list(rows[1])


def target_datasets(exp: MiniExperiment):
    """`compact_datasets` of `target_split`."""
    return compact_datasets(*target_split(exp), _family_level(exp.target)[1])


def bridge_problems(exp: MiniExperiment) -> list[Any]:
    """The target family's problems that go into SFT (`exp.bridge`), once each."""
    from ..tasks import generate

    if exp.bridge is None:
        return []
    family, level = _family_level(exp.target)
    return [p for p in generate(family, level, "two_color", n=None, seed=exp.data_seed) if BRIDGES[exp.bridge](p)]


def seen_split(exp: MiniExperiment) -> tuple[list[Any], dict[str, list[Any]]]:
    """(SFT problems, {family/level: held-out problems}) of the seen families."""
    from ..tasks import generate

    train, held = [], {}
    for spec in exp.seen:
        family, level = _family_level(spec)
        problems = generate(family, level, "two_color", n=None, seed=exp.data_seed)
        random.Random(f"{exp.data_seed}-{spec}").shuffle(problems)
        held[spec] = problems[: exp.seen_held_out]
        train += problems[exp.seen_held_out :]
    train += bridge_problems(exp) * exp.bridge_repeat
    return train, held


# ----------------------------------------------------------------------------------------------------
# 1-2. The base model and what it can do


def build_base(exp: MiniExperiment, out: str | os.PathLike, progress: bool = True) -> Path:
    """SFT a fresh tiny Llama on the seen families; the model lands in `<out>/base` (skipped if there)."""
    from ..mini import MiniConfig, save_mini, warm_start

    out = Path(out)
    base = out / "base"
    if (base / "model.safetensors").exists():
        return base
    train, _ = seen_split(exp)
    init = out / "_init"
    save_mini(init, MiniConfig(seed=exp.model_seed, **exp.model_size))
    started = time.perf_counter()
    warm_start(
        init,
        base,
        train,
        max_steps=exp.sft_steps,
        learning_rate=exp.sft_learning_rate,
        batch_size=exp.sft_batch_size,
        seed=exp.model_seed,
        cpu_threads=exp.cpu_threads,
        progress=progress,
    )
    shutil.rmtree(init, ignore_errors=True)
    for extra in ("training_args.bin", "chat_template.jinja.bak"):
        (base / extra).unlink(missing_ok=True)
    write_json(base / "SFT.json", {"sft_problems": len(train), "seconds": round(time.perf_counter() - started, 1)})
    return base


def evaluate_model(model_dir: str | os.PathLike, problems: Sequence[Any], k: int, exp: MiniExperiment,
                   seed: int = 0, keep_examples: int = 0) -> dict[str, Any]:
    """pass@1, pass@k (unbiased, k samples per problem, sampled exactly as the RL rollouts are:
    `TrainConfig.sampling`) and the dense mean of the model in `model_dir` on `problems`; optionally the
    first `keep_examples` full-pass programs."""
    import torch

    from ..models import load_model
    from ..sampling import sample_and_score
    from ..train import problem_rows

    torch.set_num_threads(exp.cpu_threads)
    loaded = load_model(str(model_dir))
    config = rl_config(exp, model=str(model_dir), eval_k=k, eval_batch_size=256)
    problems = list(problems)
    # task Problems, or rows that already carry `prompt` and `ground_truth` (e.g. saved held-out tests)
    rows = problems if problems and isinstance(problems[0], dict) else problem_rows(problems, "compact")
    criteria = [p["criteria"] if isinstance(p, dict) else p.criteria for p in problems]
    return sample_and_score(loaded.model, loaded.tokenizer, rows, k, config.sampling(k), seed=seed,
                            criteria=criteria, keep_examples=keep_examples, cache=config.generation_cache)


def measure_base(exp: MiniExperiment, out: str | os.PathLike) -> dict[str, Any]:
    """`<out>/base_eval.json`: the base model on held-out seen problems (pass@1 over `after_k` samples)
    and on the held-out target problems (pass@`base_k`, dense). Skipped when the file exists."""
    out = Path(out)
    path = out / "base_eval.json"
    if path.exists():
        return read_json(path)
    started = time.perf_counter()
    _, held_seen = seen_split(exp)
    _, held_target = target_split(exp)
    result = {
        "seen": {spec: evaluate_model(out / "base", problems, exp.after_k, exp, keep_examples=2)
                 for spec, problems in held_seen.items()},
        # v2: the target's pass@base_k is the precondition report's (`precondition` step); here after_k
        "target": evaluate_model(out / "base", held_target, exp.after_k if exp.bridge else exp.base_k, exp,
                                 keep_examples=3),
    }
    target = result["target"]
    result["target_pass_at_K_is_zero"] = target[f"pass@{exp.after_k if exp.bridge else exp.base_k}"] == 0.0
    result["target_dense_above_zero"] = target["dense_mean"] > 0.0
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_json(path, result)
    return result


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measure_precondition(exp: MiniExperiment, out: str | os.PathLike, progress: bool = True,
                         work: str | os.PathLike | None = None, shard: tuple[int, int] = (0, 1)) -> dict[str, Any]:
    """`<out>/precondition.json` (`experiments.precondition`): does the base read the target prompt,
    condition on it, and lack the skill (pass@base_k = 0 with the rollouts' sampler)? Skipped when there.

    Each held-out problem is measured on its own and its record saved at once under
    `<work>/precondition/` (tagged with the base model's SHA-256), so a killed measurement resumes where
    it stopped, and `shard=(i, n)` measures problems i, i+n, ... so n processes share the work (a
    problem's samples do not depend on the process). Whichever process finds every record there writes
    the report; the others return None."""
    import torch

    from ..models import load_model
    from ..train import problem_rows
    from .precondition import measure_problem, summarize_precondition

    out = Path(out)
    path = out / "precondition.json"
    if path.exists():
        return read_json(path)
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= i < n")
    records_dir = Path(work if work is not None else out / "_work") / "precondition"
    records_dir.mkdir(parents=True, exist_ok=True)
    base_sha = _file_sha256(out / "base" / "model.safetensors")
    torch.set_num_threads(exp.cpu_threads)
    started = time.perf_counter()
    _, held = target_split(exp)
    rows = problem_rows(held, "compact")
    config = rl_config(exp, model=str(out / "base"), eval_batch_size=256)
    sampling = config.sampling(exp.base_k)

    def saved(i: int) -> dict[str, Any] | None:
        file = records_dir / f"problem_{i:03d}.json"
        if not file.exists():
            return None
        record = read_json(file)
        if record.get("base_sha256") != base_sha or record.get("base_k") != exp.base_k or record.get("id") != held[i].id:
            raise ValueError(f"{file}: measured on another base model, K or target problem; delete {records_dir} "
                             "(or use another --work) to measure this one")
        return record

    mine = [i for i in range(index, len(held), count) if saved(i) is None]
    if mine:
        loaded = load_model(str(out / "base"))
        from tqdm.auto import tqdm

        for i in tqdm(mine, desc=f"precondition {index}/{count}", disable=not progress):
            record = measure_problem(loaded.model, loaded.tokenizer, held[i], rows[i], i, exp.base_k, sampling)
            record.update(base_sha256=base_sha, base_k=exp.base_k, finished=time.time())
            write_json(records_dir / f"problem_{i:03d}.json", record)
    records = [saved(i) for i in range(len(held))]
    if any(r is None for r in records):
        return None  # another shard is still measuring; it writes the report
    with folder_lock(out):
        if path.exists():
            return read_json(path)
        report = summarize_precondition(held, records, exp.base_k)
        report["sampling"] = dict(vars(sampling))
        report["base_sha256"] = base_sha
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        write_json(path, report)
    return report


# ----------------------------------------------------------------------------------------------------
# 3. The arms


def _run_name(arm: str, seed: int) -> str:
    return f"{arm}_s{seed}"


def run_arm(exp: MiniExperiment, out: str | os.PathLike, arm: str, seed: int,
            work: str | os.PathLike = "runs/delta_mini", progress: bool = False) -> dict[str, Any]:
    """One GRPO run from `<out>/base`; metrics and post-training evaluation into `<out>/runs/<arm>_s<seed>/`.

    Resumes from `<work>/<arm>_s<seed>/checkpoint-*` after a kill; returns the saved `after.json` at once
    when the run is complete."""
    from ..train import last_checkpoint, train

    out = Path(out)
    name = _run_name(arm, seed)
    run_dir = out / "runs" / name
    after_path = run_dir / "after.json"
    if after_path.exists():
        return read_json(after_path)
    work_dir = Path(work) / name
    final = work_dir / "final"
    started = time.perf_counter()
    if not (final / "model.safetensors").exists():
        config = rl_config(
            exp,
            model=str(out / "base"),
            output_dir=str(work_dir),
            schedule=arm,
            seed=seed,
            switch_step=exp.switch_step if arm == "dense_then_binary" else None,
            switch_threshold=exp.switch_threshold if arm == "dense_then_binary" else None,
            progress_bar=progress,
            overwrite=True,
        )
        resume = last_checkpoint(work_dir) is not None
        # v2 (a bridge) hands the split in; v1 lets the trainer make the same family split itself
        train(config, resume=resume, datasets=target_datasets(exp) if exp.bridge else None)
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(work_dir / "metrics.jsonl", run_dir / "metrics.jsonl")
    _, held_target = target_split(exp)
    _, held_seen = seen_split(exp)
    after = {
        "arm": arm,
        "seed": seed,
        "model_dir": str(final.resolve()),  # not committed; delta_core.experiments.transfer_manufactoria evaluates it while it exists
        "target": evaluate_model(final, held_target, exp.after_k, exp, seed=seed, keep_examples=5),
        "seen": {spec: evaluate_model(final, problems, exp.after_k, exp, seed=seed)
                 for spec, problems in held_seen.items()},
        "seconds_after_training": round(time.perf_counter() - started, 1),
        "train_seconds": _train_seconds(run_dir / "metrics.jsonl"),
    }
    write_json(after_path, after)
    return after


def snapshot_runs(exp: MiniExperiment, out: str | os.PathLike, work: str | os.PathLike) -> list[str]:
    """Copy the metric lines of every unfinished run (no `after.json` yet) from `<work>` into
    `<out>/runs/<arm>_s<seed>/metrics.jsonl`, up to its last checkpoint (the lines after it are redone on
    resume, so they are not results yet), so runs that span sessions can be committed, plotted and judged
    (`delta_mini_verdict` counts them as in progress) before they end. Returns the runs copied."""
    from ..train import last_checkpoint, truncate_metrics

    copied = []
    for arm in ARMS:
        for seed in exp.seeds:
            name = _run_name(arm, seed)
            source, run_dir = Path(work) / name / "metrics.jsonl", Path(out) / "runs" / name
            checkpoint = last_checkpoint(Path(work) / name)
            if not source.exists() or checkpoint is None or (run_dir / "after.json").exists():
                continue
            run_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, run_dir / "metrics.jsonl")
            # cut as a resume from that checkpoint cuts the run's own file (a torn last line goes too)
            truncate_metrics(run_dir / "metrics.jsonl", int(Path(checkpoint).name.rsplit("-", 1)[1]))
            copied.append(name)
    return copied


def chance_solves(out: str | os.PathLike) -> Any:
    """Every held-out problem a precondition measurement (current or under `precondition_history/`) found
    solved, one row per distinct passing program: the pattern, how many fallback transitions it needs, the
    full passes in the samples, and whether the program is right on every tape up to 12 colours
    (`precondition.first_difference`) or only passed the tests."""
    import pandas as pd

    from .precondition import first_difference

    rows = []
    for name, folder, pre, settings in delta_mini_report.precondition_measurements(out):
        solved = [p for p in pre["per_problem"] if p["c"] > 0]
        if not solved:
            continue
        _, held = target_split(MiniExperiment.from_dict(settings))
        by_id = {p.id: p for p in held}
        found = folder / "precondition_full_passes.json"  # reports older than `full_pass_programs`
        resampled = read_json(found)["programs"] if found.exists() else {}
        for row in solved:
            problem = by_id[row["id"]]
            pattern = problem.params["sequence"]
            programs = row.get("full_pass_programs") or ([resampled[pattern]] if pattern in resampled else [None])
            for program in programs:
                diff = first_difference(program, problem) if program else "?"
                rows.append({"measurement": name, "pattern": pattern, "fallbacks": fallback_count(pattern),
                             "full passes": row["c"], "samples": row["n"],
                             "program": "right on every tape up to 12 colours" if diff is None
                             else ("not kept" if program is None else f"wrong on {diff!r}"),
                             "text": program})
    return pd.DataFrame(rows)


def _train_seconds(metrics: Path) -> float | None:
    times = [r["time"] for r in read_jsonl(metrics, missing_ok=True) if "time" in r]
    return round(max(times) - min(times), 1) if len(times) > 1 else None


# ----------------------------------------------------------------------------------------------------
# 4. Results


def time_to_grok(evals: Sequence[dict[str, Any]], threshold: float) -> int | None:
    """The first evaluation step whose held-out full-pass rate (pass@1) is >= threshold, else None."""
    for record in sorted(evals, key=lambda r: r["step"]):
        if record.get("pass@1", 0.0) >= threshold:
            return int(record["step"])
    return None


def summarize(exp: MiniExperiment, out: str | os.PathLike) -> dict[str, Any]:
    """`<out>/summary.json`: per arm, across seeds: final / best held-out full-pass, time-to-grok, the
    dense mean and zero-std fraction of the last steps, pass@k after training on target and seen."""
    out = Path(out)
    base = read_json((out / "base_eval.json")) if (out / "base_eval.json").exists() else None
    target_k = exp.after_k if exp.bridge else exp.base_k
    trains, evals = load_runs(out)
    arms: dict[str, Any] = {}
    for arm in exp.arms:
        runs = []
        for seed in exp.seeds:
            after_path = out / "runs" / _run_name(arm, seed) / "after.json"
            if not after_path.exists():
                continue
            after = read_json(after_path)
            ev = evals[(evals.arm == arm) & (evals.seed == seed)] if len(evals) else evals
            tr = trains[(trains.arm == arm) & (trains.seed == seed)] if len(trains) else trains
            ev_records = ev.to_dict("records")
            last = tr.sort_values("step").tail(10) if len(tr) else tr
            runs.append(
                {
                    "seed": seed,
                    "final_full_pass": float(ev.sort_values("step")["pass@1"].iloc[-1]) if len(ev) else None,
                    "best_full_pass": float(ev["pass@1"].max()) if len(ev) else None,
                    "time_to_grok": time_to_grok(ev_records, exp.grok_threshold),
                    "first_step_full_pass_ge_0.1": time_to_grok(ev_records, 0.1),
                    "first_step_full_pass_ge_0.5": time_to_grok(ev_records, 0.5),
                    "dense_mean_last10": float(last["dense_mean"].mean()) if len(last) else None,
                    "binary_mean_last10": float(last["binary_mean"].mean()) if len(last) else None,
                    "frac_zero_std_last10": float(last["frac_zero_std"].mean()) if len(last) else None,
                    "switch_step": None if not len(tr) else _first(tr["switch_step"].dropna()),
                    "after_target": _strip(after["target"]),
                    "after_seen": {k: _strip(v) for k, v in after["seen"].items()},
                    "train_seconds": after.get("train_seconds"),
                }
            )
        if runs:
            finals = [r["final_full_pass"] for r in runs if r["final_full_pass"] is not None]
            groks = [r["time_to_grok"] for r in runs]
            arms[arm] = {
                "seeds": [r["seed"] for r in runs],
                "final_full_pass_mean": sum(finals) / len(finals) if finals else None,
                "final_full_pass_min": min(finals) if finals else None,
                "final_full_pass_max": max(finals) if finals else None,
                "seeds_grokked": sum(g is not None for g in groks),
                "time_to_grok": groks,
                "dense_mean_last10": _mean([r["dense_mean_last10"] for r in runs]),
                "frac_zero_std_last10": _mean([r["frac_zero_std_last10"] for r in runs]),
                "after_target_pass@1": _mean([r["after_target"]["pass@1"] for r in runs]),
                f"after_target_pass@{exp.after_k}": _mean([r["after_target"][f"pass@{exp.after_k}"] for r in runs]),
                "after_seen_pass@1": _mean([_mean([v["pass@1"] for v in r["after_seen"].values()]) for r in runs]),
                "train_seconds_mean": _mean([r["train_seconds"] for r in runs]),
                "runs": runs,
            }
    summary = {
        "experiment": _record(exp, out),
        "base": None if base is None else {
            # v2 measures the target's pass@base_k in the precondition report; base_eval holds pass@after_k
            f"target_pass@{target_k}": base["target"][f"pass@{target_k}"],
            "target_dense_mean": base["target"]["dense_mean"],
            "seen_pass@1": {k: v["pass@1"] for k, v in base["seen"].items()},
            f"seen_pass@{exp.after_k}": {k: v[f"pass@{exp.after_k}"] for k, v in base["seen"].items()},
        },
        "arms": arms,
    }
    write_json(out / "summary.json", summary)
    return summary


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("per_problem", "examples")}


def _first(series: Any) -> Any:
    return None if len(series) == 0 else int(series.iloc[0])


def _mean(values: Sequence[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


# ----------------------------------------------------------------------------------------------------
# Driver


def _defaults() -> dict[str, Any]:
    return {f.name: f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            for f in fields(MiniExperiment) if f.default is not MISSING or f.default_factory is not MISSING}


def _with_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """An experiment.json with the fields added since it was written at their defaults (v1 behaviour)."""
    return {**{k: v for k, v in _defaults().items() if k not in saved}, **saved}


def _record(exp: MiniExperiment, out: Path) -> dict[str, Any]:
    """`exp` as its folder records it: a field added since the folder's experiment.json was written is
    left out while it has its default, so rewriting an older folder's files changes nothing in them."""
    data, saved = asdict(exp), Path(out) / "experiment.json"
    if not saved.exists():
        return data
    keys, defaults = set(read_json(saved)), _defaults()
    return {k: v for k, v in data.items() if k in keys or v != defaults.get(k)}


def check_generator_version(out: str | os.PathLike) -> None:
    """Refuse to add runs to a results folder made with another version of the task generator: its
    problems (test tapes) would differ from those its earlier runs were trained and judged on. A folder
    whose provenance.json predates the version record was made with version 1."""
    from ..tasks.generate import GENERATOR_VERSION
    from ..train import ConfigError

    path = Path(out) / "provenance.json"
    if path.is_file():
        made_with = read_json(path).get("task_generator_version", 1)
        if made_with != GENERATOR_VERSION:
            raise ConfigError(f"--out {out}: its runs were made with task generator version {made_with}, this code "
                              f"generates version {GENERATOR_VERSION} (other test tapes); write new runs to another "
                              "--out (the summary and plots steps still work here)")


def _update_record(exp: MiniExperiment, out: Path) -> None:
    """Check `exp` against the folder's experiment.json and write the record (arms and seeds united)."""
    saved = out / "experiment.json"
    if saved.exists() and _with_defaults(read_json(saved)) != asdict(exp):
        old = _with_defaults(read_json(saved))
        changed = sorted(k for k in set(old) | set(asdict(exp)) if old.get(k) != asdict(exp).get(k))
        if any(k not in _changeable(out) for k in changed):
            raise ValueError(
                f"{saved} was made with different settings ({changed}); use another --out or delete it"
            )
    record = _record(exp, out)
    if saved.exists():  # a run of some arms / seeds adds to the record instead of narrowing it
        old = read_json(saved)
        record["arms"] = [a for a in ARMS if a in set(old.get("arms", [])) | set(exp.arms)]
        record["seeds"] = sorted(set(old.get("seeds", [])) | set(exp.seeds))
    write_json(saved, record)


def run_all(exp: MiniExperiment, out: str | os.PathLike, work: str | os.PathLike = "runs/delta_mini",
            steps: Sequence[str] = ("base", "measure", "precondition", "arms", "summary", "plots"),
            progress: bool = True, shard: tuple[int, int] = (0, 1)) -> dict[str, Any]:
    """Do the `steps` in order, each skipping what is already in `out`; returns the summary."""
    from tqdm.auto import tqdm

    from ..train import ConfigError

    out = Path(out)
    if set(steps) & {"base", "measure", "precondition", "arms"}:
        check_generator_version(out)
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):  # runs side by side add their arms and seeds to the same record
        _update_record(exp, out)
    if "base" in steps:
        build_base(exp, out, progress=progress)
    if "measure" in steps:
        measure_base(exp, out)
    if "precondition" in steps and exp.bridge:
        measure_precondition(exp, out, progress=progress, work=work, shard=shard)
    if "arms" in steps and exp.bridge and not (out / "precondition.json").exists():
        raise ConfigError(f"--out {out}: no precondition.json; the precondition is measured before any RL run "
                          "(the 'precondition' step)")
    if "snapshot" in steps:
        snapshot_runs(exp, out, work)
    if "arms" in steps:
        todo = [(arm, seed) for seed in exp.seeds for arm in exp.arms]
        for arm, seed in tqdm(todo, desc="DELTA-mini runs", disable=not progress):
            run_arm(exp, out, arm, seed, work=work, progress=False)
    summary = summarize(exp, out) if "summary" in steps or "plots" in steps else {}
    if "plots" in steps:
        delta_mini_report.plot_all(out)
    return summary


PROG = "python -m delta_core.experiments.delta_mini"
_SETTLED = ("arms", "seeds", "cpu_threads")  # fields a later invocation may change in the same --out
# ... and these until the first arm has run (the pilots choose them after the base is made)
_BEFORE_ARMS = ("learning_rate", "control")
# ... and the target's selection while nothing has been measured on it (no base_eval.json, precondition.json):
# the base's SFT data does not depend on it, so a base can be kept for a new target
_BEFORE_MEASURE = ("target_min_fallbacks",)


def _changeable(out: Path) -> tuple[str, ...]:
    out = Path(out)
    if any(out.glob("runs/*/metrics.jsonl")):
        return _SETTLED
    measured = (out / "base_eval.json").exists() or (out / "precondition.json").exists()
    return _SETTLED + _BEFORE_ARMS + (() if measured else _BEFORE_MEASURE)


def _parse_set(values: Sequence[str]) -> dict[str, Any]:
    from ..cli import parse_set

    return parse_set(PROG, values, "--set max_steps=40 or --set seeds=[0]")


def _read_settings(path: Path, what: str) -> dict[str, Any]:
    from ..cli import read_settings

    return read_settings(PROG, path, what, "MiniExperiment")


def _check_step(step: str, exp: MiniExperiment, out: Path) -> None:
    """What each step needs from --out is there (else one line saying which step makes it), and an
    existing experiment.json agrees with these settings."""
    from ..cli import ensure_output_dir, fail

    if step in ("all", "base"):
        ensure_output_dir(PROG, out, "--out")
    elif not out.is_dir():
        fail(PROG, f"--out {out}: no such folder; make the results first: {PROG} all --out {out}")
    elif step in ("measure", "precondition", "arms") and not (out / "base" / "model.safetensors").is_file():
        fail(PROG, f"--out {out}: holds no base model ({out / 'base' / 'model.safetensors'}); run the 'base' step first")
    elif step == "summary" and not ((out / "base_eval.json").is_file() or any(out.glob("runs/*/after.json"))):
        fail(PROG, f"--out {out}: holds no DELTA-mini results (no base_eval.json, no runs/*/after.json); "
                   "run the 'measure' and 'arms' steps first")
    elif step == "plots" and not any(out.glob("runs/*_s*/metrics.jsonl")):
        fail(PROG, f"--out {out}: holds no runs to plot (no runs/*/metrics.jsonl); run the 'arms' step first")
    saved = out / "experiment.json"
    if saved.is_file():
        old, new = _with_defaults(_read_settings(saved, "--out")), asdict(exp)
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in _changeable(out))
        if changed:
            fail(PROG, f"--out {out}: its experiment.json was made with other settings ({', '.join(changed)}); "
                       "use another --out, drop those --set/--config values, or delete it")


def _check_families(exp: MiniExperiment) -> None:
    from ..cli import fail
    from ..tasks import LEVELS

    for name, spec in [("target", exp.target)] + [(f"seen[{i}]", s) for i, s in enumerate(exp.seen)]:
        family, level = _family_level(spec)
        if family not in LEVELS:
            fail(PROG, f"{name}={spec!r}: unknown family {family!r}; choose from {', '.join(sorted(LEVELS))}")
        if level not in LEVELS[family]:
            fail(PROG, f"{name}={spec!r}: {family} has the levels {', '.join(LEVELS[family])}")


def main(argv: Sequence[str] | None = None) -> int:
    from ..cli import ArgumentParser, ensure_output_dir, fail, user_errors
    from ..train.config import ConfigError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["all", "base", "measure", "precondition", "arms", "snapshot", "summary", "plots"])
    parser.add_argument("--out", default="book/results/delta_mini")
    parser.add_argument("--work", default="runs/delta_mini", help="checkpoints (not committed)")
    parser.add_argument("--config", help="a JSON file of MiniExperiment fields")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field (JSON value)")
    parser.add_argument("--shard", default="0/1", metavar="I/N",
                        help="precondition: measure problems I, I+N, ... (N processes share the work)")
    args = parser.parse_args(argv)
    try:
        shard = tuple(int(x) for x in args.shard.split("/"))
        if len(shard) != 2 or not 0 <= shard[0] < shard[1]:
            raise ValueError
    except ValueError:
        parser.error(f"--shard {args.shard!r}: give I/N with 0 <= I < N, e.g. 0/2 and 1/2 for two processes")
    out = Path(args.out)
    data = _read_settings(Path(args.config), "--config") if args.config else {}
    saved = out / "experiment.json"
    if not data and saved.is_file():
        data = _read_settings(saved, "--out")
    data.update(_parse_set(args.set))
    try:
        exp = MiniExperiment.from_dict(data)
    except (TypeError, ValueError) as err:
        fail(PROG, f"experiment settings: {err}")
    _check_families(exp)
    _check_step(args.step, exp, out)
    if args.step in ("all", "arms"):
        ensure_output_dir(PROG, args.work, "--work")
    steps = ["base", "measure", "precondition", "arms", "summary", "plots"] if args.step == "all" else [args.step]
    started = time.perf_counter()
    # ConfigError: a GRPO run these settings cannot make (e.g. more prompts a step than the target has)
    with user_errors(PROG, ConfigError, paths={"--out": args.out, "--work": args.work}):
        run_all(exp, args.out, args.work, steps, shard=shard)
    from ..tasks.generate import GENERATOR_VERSION

    prov_path = Path(args.out, "provenance.json")
    with folder_lock(args.out):  # runs side by side append to the same history
        history = read_json(prov_path).get("invocations", []) if prov_path.exists() else []
        made_with = read_json(prov_path).get("task_generator_version", 1) if prov_path.exists() else GENERATOR_VERSION
        record = provenance(command_line("delta_core.experiments.delta_mini", argv),
                            experiment=asdict(exp), wall_seconds=time.perf_counter() - started,
                            task_generator_version=made_with)
        record["invocations"] = history + [
            {"command": record["command"], "git_commit": record["git_commit"], "wall_seconds": record["wall_seconds"],
             "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        ]
        write_json(prov_path, record)
    summary_path = Path(args.out, "summary.json")
    if summary_path.exists():
        print(json.dumps({k: v for k, v in read_json(summary_path).items() if k != "experiment"}, indent=1)[:4000])
    else:
        print(f"{args.step}: done; results in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
