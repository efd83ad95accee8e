"""What a DELTA-mini model writes: completions sampled as the RL rollouts are, and a per-problem look.

    python -m delta_core.experiments.delta_mini_inspect peek MODEL_DIR N [--experiment JSON]

`sample_completions(model, problem, n, exp)` draws n completions for one problem with the experiment's
rollout settings; `peek(model, problems, exp)` prints, per held-out target problem, how many distinct
programs the model writes, their dense scores and full passes, and the most common one.
"""

from __future__ import annotations

import os
from typing import Any

from ..artifacts import read_json
from .delta_mini import MiniExperiment, rl_config, target_split

__all__ = ["sample_completions", "peek", "main"]


def _experiment(exp: Any = None) -> Any:
    """A `MiniExperiment` from one, from a dict of its fields, from an `experiment.json` path, or the
    defaults (None)."""

    if exp is None:
        return MiniExperiment()
    if isinstance(exp, MiniExperiment):
        return exp
    if isinstance(exp, dict):
        return MiniExperiment.from_dict(exp)
    return MiniExperiment.from_dict(read_json(exp))


def sample_completions(model: Any, problem: Any, n: int, exp: Any = None, seed: int = 0,
                       temperature: float | None = None) -> list[str]:
    """n completions of a DELTA-mini model for one problem, sampled as the RL rollouts are.

    `model`: a model directory (or anything `models.load_model` takes) or an already `LoadedModel`.
    `exp`: the `MiniExperiment` (or its dict, or its `experiment.json`; default: the defaults) whose
    rollout settings are used (`TrainConfig.sampling(n)` of the target's RL config: temperature,
    top_p, top_k, max_completion_length); `temperature` overrides its temperature. The prompt is the
    problem's compact prompt (`train.problem_rows(..., "compact")`); `seed` seeds the draw
    (`sampling.generate_completions`), so the same call gives the same completions."""
    from ..models import load_model
    from ..sampling import generate_completions
    from ..train import problem_rows

    exp = _experiment(exp)
    loaded = load_model(str(model)) if isinstance(model, (str, os.PathLike)) else model
    overrides = {} if temperature is None else {"temperature": temperature}
    config = rl_config(exp, model="-", eval_k=n, **overrides)
    row = problem if isinstance(problem, dict) else problem_rows([problem], "compact")[0]
    (generations,) = generate_completions(loaded.model, loaded.tokenizer, [row["prompt"]], n,
                                          config.sampling(n), seed=seed)
    return [g.text for g in generations]


def peek(model: Any, problems: int | list[int] = 4, exp: Any = None, n: int = 32, seed: int = 0,
         temperature: float | None = None, file: Any = None) -> list[dict[str, Any]]:
    """What a DELTA-mini model writes for held-out target problems, printed and returned.

    `problems`: the first N held-out target problems (`delta_mini.target_split(exp)`), or a list of
    their indices. For each, `n` completions (`sample_completions`, seed `seed`) are judged against
    the problem's tests; printed: the criteria, how many distinct programs, the dense mean and max,
    the number of full passes, and the most common program with its count and score; at the end the
    total number of full passes. Returns one dict per problem with the same numbers."""
    import sys
    from collections import Counter

    import torch

    from ..models import load_model
    from ..rewards import extract_program, score_completion
    from ..train import problem_rows

    out = file or sys.stdout
    exp = _experiment(exp)
    torch.set_num_threads(exp.cpu_threads)
    _, held = target_split(exp)
    indices = list(range(min(problems, len(held)))) if isinstance(problems, int) else list(problems)
    loaded = load_model(str(model)) if isinstance(model, (str, os.PathLike)) else model
    report = []
    for index in indices:
        problem = held[index]
        ground_truth = problem_rows([problem], "compact")[0]["ground_truth"]
        texts = sample_completions(loaded, problem, n, exp, seed=seed, temperature=temperature)
        scores = [score_completion(t, ground_truth) for t in texts]
        program, count = Counter(extract_program(t) for t in texts).most_common(1)[0]
        dense, full = score_completion(program, ground_truth)
        entry = {"index": index, "criteria": problem.criteria, "n": n,
                 "distinct": len({extract_program(t) for t in texts}),
                 "dense_mean": sum(d for d, _ in scores) / n, "dense_max": max(d for d, _ in scores),
                 "full": int(sum(f for _, f in scores)), "program": program, "program_count": count,
                 "program_dense": dense, "program_full": bool(full)}
        report.append(entry)
        print(f"## [{index}] {problem.criteria}\n"
              f"{entry['distinct']} distinct programs in {n} samples; dense mean {entry['dense_mean']:.2f}, "
              f"max {entry['dense_max']:.2f}; full passes {entry['full']}/{n}\n"
              f"most common ({count}/{n} samples), passes {dense:.0%} of the tests "
              f"(full pass: {bool(full)}):\n"
              f"{program}\n", file=out)
    print(f"total full passes: {sum(e['full'] for e in report)}", file=out)
    return report


def main(argv: list[str] | None = None) -> int:
    """`python -m delta_core.experiments.delta_mini_inspect peek MODEL_DIR N [--experiment JSON]`
    (see `peek`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m delta_core.experiments.delta_mini_inspect",
                                     description="A look at a DELTA-mini model (the figures: "
                                                 "`python -m delta_core.experiments.delta_mini plots`).")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("peek", help="what a model writes for held-out target problems (see `peek`)")
    p.add_argument("model", help="a model directory (a checkpoint, a run's `final`, or the results' `base`)")
    p.add_argument("problems", nargs="?", default="4",
                   help="N (the first N held-out target problems, default 4) "
                        "or comma-separated indices, e.g. 0,4,10,12")
    p.add_argument("--experiment", default=None,
                   help="the experiment.json the model belongs to (default: MiniExperiment's defaults)")
    p.add_argument("--samples", type=int, default=32, help="completions per problem (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=None,
                   help="default: the experiment's rollout temperature")
    args = parser.parse_args(argv)
    problems = [int(i) for i in args.problems.split(",") if i] if "," in args.problems else int(args.problems)
    peek(args.model, problems, exp=args.experiment, n=args.samples, seed=args.seed,
         temperature=args.temperature)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
