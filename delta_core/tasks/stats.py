"""What the generated tests are like: their distribution, against the reference's measured targets
(spec A.2.2b), and how many near-miss programs they still accept.

The share of accepting tests sets what "reject every tape" earns under the dense reward, so the test
distribution is part of the task, not a detail. `case_stats(problems)` measures a set of problems the
way spec A.2.2b does: tests per problem (mean, min, max), the share of tests that expect acceptance,
input lengths (mean, max, share >= 10 colours, pooled over all tests), problems left with fewer than 3
accepted tests, and the two ignore-the-tape baselines of the dense reward (the mean fraction of tests
passed by `START -> end` and by `START -> NONE`, judged).

`spec_problems(family, colour_mode)` generates problems at the reference generators' *default*
settings (`SPEC_SETTINGS`), sampled like the spec's measurement: 200 problems per row, a seeded uniform
sample of the parameter space, spaces under 200 cycled. `SPEC_TARGETS` is the spec's table.

`near_miss_report(family, level, colour_mode, n)` judges the wrong-parameter programs of
`near_miss.near_misses` on each problem's tests and counts those that pass them all (goal: 0).

    python -m delta_core.tasks.stats distributions [--write FILE]   # spec rows and every level
    python -m delta_core.tasks.stats near-miss [--write FILE]       # the near-miss measure, every level
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..judge import judge
from .base import COLOUR_MODES, FAMILIES, Problem
from .cases import DEFAULT_CASES, CaseConfig
from .generate import GENERATOR_VERSION, _digest, build_problem, generate, parameter_space
from .levels import LEVELS, OPERAND_VALUES
from .near_miss import NearMiss, near_misses, separated, witness

__all__ = [
    "ACCEPT_ALL",
    "REJECT_ALL",
    "SPEC_SETTINGS",
    "SPEC_TARGETS",
    "SPEC_N",
    "case_stats",
    "spec_problems",
    "spec_stats",
    "level_stats",
    "all_stats",
    "compare",
    "near_miss_report",
    "all_near_miss_reports",
]

ACCEPT_ALL = "START start:\n    NEXT end\nEND end\n"
REJECT_ALL = "START start:\n    NEXT NONE\nEND end\n"
SPEC_N = 200  # problems per row in the spec's measurement

_SEQ = {"sequence_lengths": (1, 6)}
# The reference generators' built-in defaults (spec A.2.1), as our level settings.
SPEC_SETTINGS: dict[str, dict[str, Any]] = {
    "starts_with": _SEQ,
    "ends_with": _SEQ,
    "exact_sequence": _SEQ,
    "append_sequence": _SEQ,
    "prepend_sequence": {**_SEQ, "enable_mutations": True, "pattern_mutations": False},
    "contains_count": {"count_thresholds": (1, 11)},
    "contains_ordered": _SEQ,
    "contains_substring": _SEQ,
    "not_contains": {},
    "regex_pattern": {"max_pattern_length": (1, 3), "concatenation_count": 2},
    "regex_same_num": {},
    "numerical_comparison": {"numerical_thresholds": (1, 256)},
    "numerical_max_min": {"operations": ("max", "min"), "operand_range": (1, 256)},
    "numerical_operations": {
        "arithmetic_operations": ("add", "subtract"),
        "bitwise_operations": ("and", "or", "xor", "not"),
        "shift_operations": ("floor_div",),
        "operand_values": OPERAND_VALUES,
        "max_shift_power": 7,
    },
}

_KEYS = (
    "tests_mean",
    "tests_min",
    "tests_max",
    "accepted",
    "mean_len",
    "max_len",
    "long_share",
    "few_accepted",
)


def _row(*values) -> dict[str, float | int | None]:
    return dict(zip(_KEYS, values, strict=True))


# Spec A.2.2b's measured table: (family, colour mode) -> statistics. Percentages are 0-100;
# few_accepted = problems (of 200) left with < 3 accepted tests (None for transducers).
SPEC_TARGETS: dict[tuple[str, str], dict[str, float | int | None]] = {
    ("contains_substring", "two_color"): _row(26.1, 15, 29, 43, 7.3, 17, 39, 0),
    ("contains_substring", "four_color"): _row(30.0, 25, 32, 26, 7.6, 17, 44, 0),
    ("contains_ordered", "two_color"): _row(24.4, 13, 29, 52, 7.9, 41, 28, 0),
    ("contains_ordered", "four_color"): _row(29.7, 26, 32, 44, 8.0, 41, 28, 0),
    ("contains_count", "two_color"): _row(17.5, 12, 20, 33, 6.1, 18, 26, 0),
    ("contains_count", "four_color"): _row(21.6, 20, 23, 29, 6.9, 18, 39, 0),
    ("not_contains", "two_color"): _row(17.6, 17, 18, 28, 5.3, 12, 28, 0),
    ("not_contains", "four_color"): _row(21.3, 19, 23, 51, 5.3, 15, 28, 0),
    ("regex_same_num", "two_color"): _row(20.3, 17, 23, 20, 5.1, 24, 13, 0),
    ("regex_same_num", "four_color"): _row(25.0, 20, 28, 16, 4.4, 24, 11, 0),
    ("regex_pattern", "two_color"): _row(17.3, 11, 21, 25, 4.2, 24, 5, 6),
    ("regex_pattern", "four_color"): _row(20.7, 15, 24, 20, 4.2, 24, 5, 3),
    ("numerical_comparison", "two_color"): _row(26.5, 13, 29, 48, 5.3, 10, 0.7, 40),
    ("numerical_comparison", "four_color"): _row(29.1, 14, 32, 47, 5.0, 10, 0.8, 38),
    ("numerical_max_min", "two_color"): _row(34.9, 32, 35, 100, 5.1, 9, 0, None),
    ("numerical_max_min", "four_color"): _row(35.0, 34, 35, 100, 4.7, 9, 0, None),
    ("numerical_operations", "two_color"): _row(28.6, 26, 32, 100, 5.1, 10, 0.1, None),
    ("numerical_operations", "four_color"): _row(31.2, 27, 34, 100, 4.9, 10, 0.1, None),
}


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _pass_rate(program: str, tests: list[dict]) -> float:
    results = judge(program, tests)["results"]
    return sum(r["passed"] for r in results) / len(results) if results else 0.0


def case_stats(problems: Iterable[Problem], baselines: bool = True) -> dict[str, Any]:
    """The spec A.2.2b statistics of a set of problems (lengths pooled over all their tests), plus
    the mean dense score of accept-all and reject-all (`baselines=False` skips judging them)."""
    problems = list(problems)
    counts = [len(p.test_cases) for p in problems]
    lengths = [len(c.input) for p in problems for c in p.test_cases]
    accepted = [c.expected_accepted for p in problems for c in p.test_cases]
    acceptor = bool(problems) and FAMILIES[problems[0].family].kind == "acceptor"
    out: dict[str, Any] = {
        "problems": len(problems),
        "tests_mean": round(_mean(counts), 2),
        "tests_min": min(counts, default=0),
        "tests_max": max(counts, default=0),
        "accepted": round(100 * _mean(accepted), 2),
        "mean_len": round(_mean(lengths), 2),
        "max_len": max(lengths, default=0),
        "long_share": round(100 * _mean([n >= 10 for n in lengths]), 2),
        "few_accepted": (
            sum(sum(c.expected_accepted for c in p.test_cases) < 3 for p in problems) if acceptor else None
        ),
    }
    if baselines:
        out["accept_all"] = round(_mean([_pass_rate(ACCEPT_ALL, p.tests()) for p in problems]), 4)
        out["reject_all"] = round(_mean([_pass_rate(REJECT_ALL, p.tests()) for p in problems]), 4)
    return out


def spec_problems(family: str, colour_mode: str, n: int = SPEC_N, seed: int = 0) -> list[Problem]:
    """`n` problems at the reference's default settings: a seeded uniform sample of the parameter
    space (a space smaller than `n` is cycled, each repeat with its own test tapes)."""
    fam = FAMILIES[family]
    colours = COLOUR_MODES[colour_mode]
    space = fam.space(SPEC_SETTINGS[family], colours)
    if len(space) >= n:
        order = random.Random(int.from_bytes(_digest(seed, family, "spec", colour_mode, "order")[:16], "big"))
        chosen = order.sample(space, n)
    else:
        chosen = [space[i % len(space)] for i in range(n)]
    return [
        build_problem(
            fam, params, "spec", colour_mode, i, _digest(seed, family, "spec", colour_mode, "spec", i)
        )
        for i, params in enumerate(chosen)
    ]


def spec_stats(family: str, colour_mode: str, n: int = SPEC_N, seed: int = 0, baselines: bool = True) -> dict:
    return case_stats(spec_problems(family, colour_mode, n, seed), baselines)


def level_stats(
    family: str, level: str, colour_mode: str, n: int = SPEC_N, seed: int = 0, baselines: bool = True
) -> dict:
    """The statistics of one of our levels: the whole level when it has at most `n` problems, else a
    seeded random sample of `n`."""
    size = len(parameter_space(family, level, colour_mode))
    if size <= n:
        problems = generate(family, level, colour_mode, n=None, seed=seed)
    else:
        problems = generate(family, level, colour_mode, n=n, seed=seed, mode="random")
    return case_stats(problems, baselines)


def spec_rows() -> list[tuple[str, str]]:
    """(family, colour mode) rows compared with the spec: every row of its table whose colour mode we
    offer for the family (the numerical families are two-colour only, as in every reference config)."""
    offered = {f: {m for lev in LEVELS[f].values() for m in lev.colour_modes} for f in LEVELS}
    return [(f, m) for f, m in SPEC_TARGETS if f in FAMILIES and m in offered[f]]


def all_stats(n: int = SPEC_N, seed: int = 0, baselines: bool = True) -> dict[str, Any]:
    """Spec-settings rows for every family (both colour modes where offered) and every level."""
    spec = {}
    for family in LEVELS:
        if family not in FAMILIES:
            continue
        modes = sorted({m for lev in LEVELS[family].values() for m in lev.colour_modes}, reverse=True)
        for mode in modes:
            spec[f"{family}/{mode}"] = spec_stats(family, mode, n, seed, baselines)
    levels = {
        f"{family}/{level}/{mode}": level_stats(family, level, mode, n, seed, baselines)
        for family, lv in LEVELS.items()
        if family in FAMILIES
        for level, spec_ in lv.items()
        for mode in spec_.colour_modes
    }
    return {"n": n, "seed": seed, "spec_settings": spec, "levels": levels}


# Tolerances of the spec comparison (the "within ~10% / 5 points").
REL_TOL = 0.10
POINTS_TOL = 5.0


def compare(ours: Mapping[str, Any], target: Mapping[str, Any]) -> list[str]:
    """Differences beyond tolerance between our statistics and a spec row: tests_mean and mean_len
    within 10 % (relative), accepted and long_share within 5 points. Empty list: agreement."""
    problems = []
    for key in ("tests_mean", "mean_len"):
        if abs(ours[key] - target[key]) > REL_TOL * target[key]:
            problems.append(f"{key} {ours[key]} vs {target[key]}")
    for key in ("accepted", "long_share"):
        if abs(ours[key] - target[key]) > POINTS_TOL:
            problems.append(f"{key} {ours[key]} vs {target[key]}")
    return problems


# --- near misses ------------------------------------------------------------------------------


def _level_sample(
    family: str, level: str, colour_mode: str, n: int | None, seed: int, cases: CaseConfig = DEFAULT_CASES
) -> list[Problem]:
    size = len(parameter_space(family, level, colour_mode))
    if n is None or size <= n:
        return generate(family, level, colour_mode, n=None, seed=seed, cases=cases)
    return generate(family, level, colour_mode, n=n, seed=seed, mode="random", cases=cases)


def near_miss_report(
    family: str,
    level: str,
    colour_mode: str,
    n: int | None = SPEC_N,
    seed: int = 0,
    judge_programs: bool = True,
    problems: Sequence[Problem] | None = None,
    near_miss_tapes: bool = True,
) -> dict[str, Any]:
    """How many wrong-parameter solutions a level's tests still accept.

    For each problem (the whole level if it has at most `n`, else a seeded sample of `n`, generated
    without the near-miss tapes if `near_miss_tapes=False`; or the given `problems`) and each near
    miss whose language differs from the problem's, build the wrong program with the family's builder
    and judge it on the problem's tests (`judge_programs=False` compares the labels instead: the same
    answer when every solution is right, and faster).
    Returns counts: `problems`, `near_misses` judged, `equivalent` (skipped: same language),
    `accepted` (wrong solutions passing every test), `problems_with_accepted` (problems with at
    least one), `by_kind`, and a few `examples`.
    """
    colours = COLOUR_MODES[colour_mode]
    if problems is None:
        cases = DEFAULT_CASES if near_miss_tapes else CaseConfig(near_miss_tapes=False)
        problems = _level_sample(family, level, colour_mode, n, seed, cases)
    judged = equivalent = 0
    accepted: list[tuple[str, str, str]] = []
    holes: set[str] = set()
    for problem in problems:
        true = NearMiss("true", family, problem.params)
        tapes = [c.input for c in problem.test_cases]
        for miss in near_misses(family, problem.params, colours):
            if not separated(true, miss, tapes) and witness(true, miss, colours) is None:
                equivalent += 1
                continue
            judged += 1
            if judge_programs:
                passes = judge(miss.program(colours), problem.tests())["all_passed"]
            else:
                passes = not separated(true, miss, tapes)
            if passes:
                accepted.append((problem.name, miss.kind, FAMILIES[miss.family].title(miss.params)))
                holes.add(problem.id)
    return {
        "family": family,
        "level": level,
        "colour_mode": colour_mode,
        "problems": len(problems),
        "near_misses": judged,
        "equivalent": equivalent,
        "accepted": len(accepted),
        "problems_with_accepted": len(holes),
        "by_kind": dict(sorted(Counter(kind for _, kind, _ in accepted).items())),
        "examples": [f"{name}: passed by {title} ({kind})" for name, kind, title in accepted[:5]],
    }


def all_near_miss_reports(
    n: int | None = SPEC_N,
    seed: int = 0,
    judge_programs: bool = True,
    progress=None,
    near_miss_tapes: bool = True,
) -> list[dict[str, Any]]:
    """`near_miss_report` for every family, level and colour mode of the level table."""
    out = []
    for family, levels in LEVELS.items():
        if family not in FAMILIES:
            continue
        for level, spec in levels.items():
            for mode in spec.colour_modes:
                out.append(
                    near_miss_report(
                        family, level, mode, n, seed, judge_programs, near_miss_tapes=near_miss_tapes
                    )
                )
                if progress is not None:
                    progress(out[-1])
    return out


# --- command line ------------------------------------------------------------------------------


def _provenance(argv: Sequence[str]) -> dict[str, str]:
    import subprocess

    def git(*args: str) -> str:
        try:
            run = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30, check=False)
            return run.stdout.strip()
        except OSError:
            return ""

    dirty = git("status", "--porcelain", "--", "delta_core/tasks")
    return {
        "command": "python -m delta_core.tasks.stats " + " ".join(argv),
        "git_commit": git("rev-parse", "HEAD") + ("+dirty" if dirty else ""),
        "generator_version": GENERATOR_VERSION,
    }


def _write(path: str, data: Mapping[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m delta_core.tasks.stats", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dist = sub.add_parser("distributions", help="test-case statistics: spec rows and every level")
    near = sub.add_parser("near-miss", help="wrong-parameter solutions the tests still accept, every level")
    for p in (dist, near):
        p.add_argument("--write", metavar="FILE", help="also write the numbers as JSON to FILE")
        p.add_argument("--n", type=int, default=SPEC_N, help="problems per row or level (default 200)")
        p.add_argument("--seed", type=int, default=0)
    near.add_argument("--labels", action="store_true", help="compare labels instead of judging programs")
    near.add_argument(
        "--no-near-miss-tapes",
        action="store_true",
        help="measure the reference's construction alone (ours less the added tapes)",
    )
    args = parser.parse_args(argv)
    if args.command == "near-miss":

        def show(r: Mapping[str, Any]) -> None:
            print(
                f"{r['family']:22s} {r['level']:7s} {r['colour_mode']:10s} problems {r['problems']:4d} "
                f"near misses {r['near_misses']:5d} accepted {r['accepted']:4d} "
                f"in {r['problems_with_accepted']:4d} problems {r['by_kind'] or ''}",
                flush=True,
            )

        reports = all_near_miss_reports(args.n, args.seed, not args.labels, show, not args.no_near_miss_tapes)
        if args.write:
            _write(
                args.write,
                {
                    **_provenance(argv),
                    "n": args.n,
                    "seed": args.seed,
                    "judged_programs": not args.labels,
                    "near_miss_tapes": not args.no_near_miss_tapes,
                    "reports": reports,
                },
            )
        return 0
    data = all_stats(args.n, args.seed)
    if args.write:
        _write(args.write, {**_provenance(argv), **data})
    for key, row in data["spec_settings"].items():
        family, mode = key.split("/")
        target = SPEC_TARGETS.get((family, mode))
        verdict = "" if target is None else ("; ".join(compare(row, target)) or "ok")
        print(f"spec  {key:40s} {_fmt(row)}  {verdict}")
    for key, row in data["levels"].items():
        print(f"level {key:40s} {_fmt(row)}")
    return 0


def _fmt(row: Mapping[str, Any]) -> str:
    return (
        f"tests {row['tests_mean']:5.1f} ({row['tests_min']}-{row['tests_max']}) acc {row['accepted']:5.1f}% "
        f"len {row['mean_len']:4.1f} max {row['max_len']:2d} >=10 {row['long_share']:5.1f}% "
        f"<3acc {row['few_accepted']} reject-all {row.get('reject_all', float('nan')):.2f} "
        f"accept-all {row.get('accept_all', float('nan')):.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
