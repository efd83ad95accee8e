"""The baseline pass@k run: sample a model on a slice of every family and level, resumably.

    python -m delta_core.experiments.baseline --out book/results/baseline --problems-per-level 1 \\
        --n-samples 32 --batch-size 8 --max-new-tokens 256 --time-budget 2700

Work is done in rounds: round r draws samples r*B ... (r+1)*B-1 (B = `--batch-size`) for every
problem, so a run stopped by its time budget leaves every problem with about the same number of
samples. Each finished (problem, batch) is appended as one JSON line to `samples.jsonl` and fsynced;
a restart skips what is there (a line cut by SIGKILL is ignored) and, since every batch's seed derives
from (seed, prompt, first sample index), draws exactly what an uninterrupted run would have.

`analyse(out_dir)` then writes `summary.json` (pass@k per family and level with bootstrap CIs, the
hard subset per family, dense statistics) and `hard_subset.jsonl`; `provenance.json` records the
command, parameters, git commit, machine, wall time and versions.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..artifacts import append_jsonl, atomic_write_text, command_line, provenance, read_json, read_jsonl, write_json
from ..passk import aggregate_pass_at_k, default_k_list, dense_summary, hard_subset, hard_subset_summary
from ..tasks.generate import GENERATOR_VERSION
from ..sampling import ProblemResult, Sample, SamplingConfig, judge_generations, problem_meta, problem_prompt

__all__ = [
    "select_problems",
    "run_baseline",
    "load_samples",
    "analyse",
    "main",
]

SAMPLES_FILE = "samples.jsonl"
PROGRAM_CHARS = 600  # extracted programs are truncated to this many characters in the artifact


def select_problems(
    families: Sequence[str] | None = None,
    per_level: int = 1,
    colour_mode: str = "two_color",
    seed: int = 0,
) -> list[Any]:
    """`per_level` problems of every level of every family (all registered families by default),
    drawn at random from each level's parameter space (`generate(..., mode="random")`)."""
    from ..tasks import FAMILIES, LEVELS, generate

    chosen = []
    for family in families or list(FAMILIES):
        if family not in LEVELS:
            raise ValueError(f"unknown family {family!r}; choose from {list(LEVELS)}")
        for level, spec in LEVELS[family].items():
            mode = colour_mode if colour_mode in spec.colour_modes else spec.colour_modes[0]
            chosen += generate(family, level, mode, per_level, seed, mode="random")
    return chosen


def load_samples(out_dir: str | os.PathLike, n_max: int | None = None) -> list[ProblemResult]:
    """Merge `samples.jsonl` into one `ProblemResult` per problem, samples in index order
    (contiguous batches from index 0 only); `n_max` keeps at most that many samples per problem."""
    merged: dict[str, ProblemResult] = {}
    batches: dict[str, dict[int, list[dict]]] = {}
    for rec in read_jsonl(Path(out_dir) / SAMPLES_FILE, missing_ok=True):
        pid = rec["id"]
        if pid not in merged:
            merged[pid] = ProblemResult(rec["id"], rec["family"], rec["level"], rec["colour_mode"])
            batches[pid] = {}
        batches[pid][rec["first_index"]] = rec["samples"]
    for pid, result in merged.items():
        index = 0
        while index in batches[pid]:  # contiguous batches only
            result.samples += [Sample(**s) for s in batches[pid][index]]
            index += len(batches[pid][index])
        if n_max is not None:
            result.samples = result.samples[:n_max]
    return list(merged.values())


def run_baseline(
    out_dir: str | os.PathLike,
    problems: Sequence[Any],
    sampler,
    config: SamplingConfig,
    time_budget: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Sample `config.n_samples` per problem in rounds of `config.batch_size`, appending each
    (problem, batch) to `out_dir/samples.jsonl`, skipping batches already there, stopping before a
    new batch once `time_budget` seconds have passed. Returns run statistics."""
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / SAMPLES_FILE
    done = {(r["id"], r["first_index"]) for r in read_jsonl(path, missing_ok=True)}
    starts = list(range(0, config.n_samples, config.batch_size))
    todo = [(s, p) for s in starts for p in problems if (p.id, s) not in done]
    start = time.perf_counter()
    stopped = False
    finished = 0
    bar = tqdm(todo, desc=f"baseline ({sampler.backend})", unit="batch", disable=not progress)
    for first, problem in bar:
        if time_budget is not None and time.perf_counter() - start > time_budget:
            stopped = True
            break
        m = min(config.batch_size, config.n_samples - first)
        meta, tests = problem_meta(problem)
        (gens,) = sampler.generate([problem_prompt(problem)], m, config, first_index=first)
        samples = judge_generations(gens, tests, keep_text=0)
        for s in samples:
            s.program = s.program[:PROGRAM_CHARS]
        append_jsonl(path, {**meta, "first_index": first, "samples": [s.__dict__ for s in samples]})
        finished += 1
    return {
        "batches_done_now": finished,
        "batches_left": len(todo) - finished,
        "stopped_by_time_budget": stopped,
        "wall_seconds": round(time.perf_counter() - start, 1),
    }


def common_n(results: Sequence[ProblemResult]) -> int:
    """The largest n every problem has (the rounds completed by all)."""
    return min((r.n for r in results), default=0)


def analyse(out_dir: str | os.PathLike, k_list: Sequence[int] | None = None) -> dict[str, Any]:
    """Summaries of `out_dir/samples.jsonl`, truncated to the common sample count so every problem
    is measured at the same K; writes `summary.json` and `hard_subset.jsonl`."""
    out = Path(out_dir)
    results = load_samples(out)
    n = common_n(results)
    results = [r for r in load_samples(out, n_max=n) if r.n > 0]
    ks = [k for k in (k_list or default_k_list(n)) if k <= n]
    hard = hard_subset(results)
    summary = {
        "n_problems": len(results),
        "n_samples_per_problem": n,
        "K": n,
        "k_list": ks,
        "pass_at_k_by_family": aggregate_pass_at_k(results, ks, by=("family",)),
        "pass_at_k_by_level": aggregate_pass_at_k(results, ks, by=("level",)),
        "pass_at_k_overall": aggregate_pass_at_k(results, ks, by=()),
        "hard_by_family": hard_subset_summary(results, by=("family",)),
        "hard_total": len(hard),
        "dense_by_family": dense_summary(results, by=("family",)),
        "dense_overall": dense_summary(results, by=()),
    }
    write_json(out / "summary.json", summary, indent=1)
    atomic_write_text(out / "hard_subset.jsonl", "".join(json.dumps({**row, "K": n}) + "\n" for row in hard))
    return summary


PROG = "python -m delta_core.experiments.baseline"


def main(argv: Sequence[str] | None = None) -> int:
    from ..cli import (ArgumentParser, ensure_output_dir, fail, float_range, nonnegative_float, positive_float,
                       positive_int, user_errors)

    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="book/results/baseline")
    parser.add_argument("--model", default="smollm2", help="HF id, local dir, .gguf file, or smollm2")
    parser.add_argument("--adapter", default=None, help="PEFT adapter directory")
    parser.add_argument("--backend", default="transformers", choices=["transformers", "vllm"])
    parser.add_argument("--families", nargs="*", default=None)
    parser.add_argument("--problems-per-level", type=positive_int, default=1)
    parser.add_argument("--colour-mode", default="two_color", choices=["two_color", "four_color"])
    parser.add_argument("--n-samples", type=positive_int, default=32)
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--max-new-tokens", type=positive_int, default=256)
    parser.add_argument("--temperature", type=nonnegative_float, default=0.6, help="0 = greedy")
    parser.add_argument("--top-p", type=float_range(0, 1, low_open=True), default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--time-budget", type=positive_float, default=None, help="seconds; stop before a new batch after it"
    )
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (transformers)")
    parser.add_argument("--analyse-only", action="store_true")
    args = parser.parse_args(argv)

    out = Path(args.out)
    if args.analyse_only:
        if not out.is_dir():
            fail(PROG, f"--out {args.out}: no such folder; run without --analyse-only first to draw samples")
        if not (out / SAMPLES_FILE).is_file():
            fail(PROG, f"--out {args.out}: holds no {SAMPLES_FILE}; run without --analyse-only first to draw samples")
    else:
        from ..sampling import BackendUnavailableError, make_sampler
        from ..tasks import FAMILIES

        unknown = [f for f in args.families or [] if f not in FAMILIES]
        if unknown:
            fail(PROG, f"--families: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(sorted(FAMILIES))}")
        if args.adapter is not None and not Path(args.adapter).is_dir():
            fail(PROG, f"--adapter {args.adapter}: no such folder (a PEFT adapter directory)")
        from ..models import ModelUnavailableError, resolve_spec

        try:  # a model that is not on disk fails here, before torch is imported
            resolve_spec(args.model)
        except ModelUnavailableError as err:
            fail(PROG, f"--model {args.model}: {err}")
        try:
            config = SamplingConfig(
                n_samples=args.n_samples,
                temperature=args.temperature,
                top_p=args.top_p,
                max_new_tokens=args.max_new_tokens,
                seed=args.seed,
                batch_size=args.batch_size,
            )
        except ValueError as err:
            fail(PROG, str(err))
        ensure_output_dir(PROG, out, "--out")
        problems = select_problems(args.families, args.problems_per_level, args.colour_mode, args.seed)
        kwargs = {"adapter": args.adapter} if args.adapter else {}
        if args.backend == "transformers" and args.threads:
            kwargs["num_threads"] = args.threads
        try:
            sampler = make_sampler(args.backend, args.model, **kwargs)
        except ModelUnavailableError as err:
            fail(PROG, f"--model {args.model}: {err}")
        except BackendUnavailableError as err:
            fail(PROG, f"--backend {args.backend}: {err}")
        prov_path = out / "provenance.json"
        previous = read_json(prov_path) if prov_path.is_file() else {}
        if previous and previous.get("task_generator_version", 1) != GENERATOR_VERSION:
            fail(PROG, f"--out {out}: its samples were judged on problems of task generator version "
                       f"{previous.get('task_generator_version', 1)}, this code generates version {GENERATOR_VERSION} "
                       "(other test tapes); sample into another --out (--analyse-only still works here)")
        model_info = sampler.loaded.describe() if hasattr(sampler, "loaded") else {"spec": args.model}
        began = time.strftime("%Y-%m-%dT%H:%M:%S%z")

        def write_provenance(session: dict[str, Any]) -> None:
            sessions = previous.get("sessions", []) + [{"started_at": began, **session}]
            prov = provenance(
                command_line("delta_core.experiments.baseline", argv),
                params=vars(args),
                sampling=config.__dict__,
                problem_ids=[p.id for p in problems],
                model=model_info,
                sessions=sessions,
                wall_seconds_total=round(sum(s.get("wall_seconds", 0) for s in sessions), 1),
                task_generator_version=GENERATOR_VERSION,
            )
            write_json(prov_path, prov, indent=1)

        with user_errors(PROG, paths={"--out": out}):  # e.g. the disk filling up under --out
            write_provenance({"status": "running (killed if it stays so)"})
            stats = run_baseline(out, problems, sampler, config, args.time_budget)
            write_provenance({"status": "finished", **stats, "sampler": sampler.describe()})
    with user_errors(PROG, paths={"--out": out}):
        summary = analyse(out)
    print(
        f"{summary['n_problems']} problems x {summary['n_samples_per_problem']} samples; "
        f"hard subset {summary['hard_total']}; dense mean {summary['dense_overall'][0]['dense_mean']:.3f}"
        if summary["n_problems"]
        else "no samples yet"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
