"""Is a pass@K = 0 target a fair test of RL? The precondition report, measured before any RL run.

    python -m delta_core.experiments.delta_mini precondition --out DIR     # DIR/precondition.json of DIR/base

A target family is a fair test of "RL discovers a skill the base lacks" only if the base model

1. **reads the question**: most of its samples on target prompts are programs that parse
   (`parse_rate` >= `RULES["min_parse_rate"]`), not noise from a prompt it never learnt to read;
2. **conditions on it**: it writes different programs for different patterns (the number of distinct
   most-frequent programs across the held-out problems, as a share of the problems, is at least
   `RULES["min_distinct_share"]`), rather than one program whatever the prompt says;
3. **lacks the skill**: pass@K = 0 on the held-out target problems, sampled exactly as the RL rollouts
   are (`TrainConfig.sampling`: temperature, top_p, top_k = 0, max tokens);

and the dense reward's easy optima are known, so that a dense "plateau" can be read against them: the
mean dense score of fixed programs on the same problems (`fixed_program_baselines`): reject every
tape, accept every tape, the best single program for every prompt (over a pool of candidates), and the
*nearest seen-family program* of each problem: the program of a neighbouring language with the same
pattern (`tasks.near_miss`: the subsequence, starts-with, ends-with, exact-sequence), the automaton
without fallbacks, or the prefix matcher that restarts on every mismatch (`reset_free_matcher`), the
paper's own description of its base model's attempts (App. A.1.1).

The report's `checks` say which conditions hold; the chapter prints them before any RL result.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any


__all__ = [
    "RULES",
    "reset_free_matcher",
    "neighbour_programs",
    "fixed_program_baselines",
    "judge_program",
    "precondition_report",
    "measure_problem",
    "summarize_precondition",
    "describe",
    "first_difference",
]

# Fixed before any run (issue 18), printed with the report.
RULES = {
    "min_parse_rate": 0.8,  # share of base samples on target prompts that parse as DSL programs
    "min_distinct_share": 0.5,  # distinct most-frequent programs / held-out problems
    "max_pass_at_K": 0.0,  # pass@K on the held-out target problems (K = the experiment's base_k)
}


def reset_free_matcher(sequence: str, colours: Sequence[str]) -> str:
    """"Contains `sequence`" written as a prefix matcher without resets: after reading the first k
    colours of the pattern, a mismatch goes back to the start (q0) instead of to the longest prefix
    just read. Right for one-colour patterns ('RRR'), wrong for 'RRB' (misses 'RRRB'). The program of
    the task generator's near miss of that name (`contains_substring_restart`)."""
    from ..tasks.near_miss import NearMiss

    return NearMiss("restart", "contains_substring_restart", {"sequence": sequence}).program(tuple(colours))


def neighbour_programs(problem: Any) -> dict[str, str]:
    """The nearest seen-family programs of a problem, keyed by a short label: its near misses outside
    its own family (`tasks.near_miss`: the same pattern as a subsequence, prefix, suffix or exact tape,
    and, for a pattern, the automaton without fallbacks and the prefix matcher that restarts on every
    mismatch), leaving out any whose language is the problem's own."""
    from ..tasks.base import COLOUR_MODES
    from ..tasks.near_miss import NearMiss, near_misses, witness

    colours = COLOUR_MODES[problem.color_mode]
    true = NearMiss("true", problem.family, problem.params)
    out = {}
    for miss in near_misses(problem.family, problem.params, colours):
        # the family's own programs need the very skill under test; an equal language is no miss
        if miss.family != problem.family and witness(true, miss, colours) is not None:
            out[f"{miss.kind}: {miss.family}"] = miss.program(colours)
    return out


def judge_program(program: str, problem: Any) -> tuple[float, float]:
    """(dense, binary) of one program on a problem's tests."""
    from ..judge import judge

    results = judge(program, problem.tests())["results"]
    if not results:
        return 0.0, 0.0
    passed = sum(r["passed"] for r in results)
    return passed / len(results), float(passed == len(results))


def fixed_program_baselines(problems: Sequence[Any], candidates: Sequence[str] = ()) -> dict[str, Any]:
    """Mean dense score over `problems` of programs that ignore what RL should learn.

    - `reject_all`, `accept_all`;
    - `best_constant`: the best single program used for every problem, among reject-all, accept-all,
      every problem's neighbour programs and `candidates` (e.g. the base model's frequent programs);
    - `nearest_seen`: per problem, the best of its own neighbour programs (`neighbour_programs`), then
      averaged; `by_neighbour` gives each kind's mean;
    - `best_fixed`: the largest of these, the bar a dense plateau must clear to mean anything.
    """
    from ..tasks.stats import ACCEPT_ALL, REJECT_ALL

    problems = list(problems)
    if not problems:
        raise ValueError("fixed_program_baselines: no problems")
    per_problem_neighbours = [neighbour_programs(p) for p in problems]
    pool = {"reject all": REJECT_ALL, "accept all": ACCEPT_ALL}
    for neighbours in per_problem_neighbours:
        for label, program in neighbours.items():
            pool.setdefault(program, program)
    for program in candidates:
        pool.setdefault(program, program)
    constant_scores = {}
    for key, program in pool.items():
        constant_scores[key] = sum(judge_program(program, p)[0] for p in problems) / len(problems)
    best_key = max(constant_scores, key=constant_scores.get)
    by_kind: dict[str, list[float]] = {}
    nearest = []
    for problem, neighbours in zip(problems, per_problem_neighbours):
        scores = {label: judge_program(program, problem)[0] for label, program in neighbours.items()}
        for label, score in scores.items():
            by_kind.setdefault(label, []).append(score)
        nearest.append(max(scores.values()) if scores else 0.0)
    out = {
        "n_problems": len(problems),
        "reject_all": constant_scores["reject all"],
        "accept_all": constant_scores["accept all"],
        "best_constant": constant_scores[best_key],
        "best_constant_program": pool[best_key],
        "nearest_seen": sum(nearest) / len(nearest),
        "by_neighbour": {label: sum(v) / len(v) for label, v in sorted(by_kind.items())},
        "candidates_tried": len(pool),
    }
    out["best_fixed"] = max(out["reject_all"], out["accept_all"], out["best_constant"], out["nearest_seen"])
    return out


def _parses(program: str) -> bool:
    from ..dsl import DSLSyntaxError, parse_program

    try:
        parse_program(program)
        return True
    except DSLSyntaxError:
        return False
    except Exception:  # any other rejection of the text is "does not parse" too
        return False


def measure_problem(model, tokenizer, problem: Any, row: dict[str, Any], index: int, k: int, sampling: Any,
                    seed: int = 0) -> dict[str, Any]:
    """One held-out problem's part of the report: `k` samples (seed `seed + index`, so a problem's samples
    do not depend on which process measures it or in what order), judged. Besides the per-problem numbers
    of the report it carries `modal_program` and `parsed_programs` (its distinct programs that parse),
    which `summarize_precondition` needs across problems."""
    from ..rewards import extract_program
    from ..sampling import generate_completions

    t0 = time.perf_counter()
    # one call per problem, so each problem's samples are reproducible on their own
    samples = generate_completions(model, tokenizer, [row["prompt"]], k, sampling, seed=seed + index)[0]
    t1 = time.perf_counter()
    programs = [extract_program(s.text) for s in samples]
    parsed = [p for p in programs if _parses(p)]
    counts = Counter(programs)
    scores = {program: judge_program(program, problem) for program in counts}
    judged = time.perf_counter()
    # the problem's most frequent *program* (among those that parse, when any do)
    top = (Counter(parsed) if parsed else counts).most_common(1)[0][0]
    return {
        "index": index, "id": problem.id, "criteria": problem.criteria, "n": len(programs),
        "c": sum(int(scores[p][1] >= 1.0) * c for p, c in counts.items()),
        "parse_rate": len(parsed) / len(programs),
        "dense_mean": sum(scores[p][0] * c for p, c in counts.items()) / len(programs),
        "dense_max": max(s[0] for s in scores.values()), "distinct_programs": len(counts),
        "modal_program_share": counts[top] / len(programs),
        # the distinct programs that passed every test: few, and the first thing to check (`first_difference`)
        "full_pass_programs": sorted(p for p in counts if scores[p][1] >= 1.0),
        "modal_program": top, "parsed_programs": sorted(set(parsed)),
        "sample_seconds": t1 - t0, "judge_seconds": judged - t1,
        "generated_tokens": sum(s.n_tokens for s in samples),  # with sample_seconds: the sampler's tokens/s
    }


# kept in the records of `measure_problem` (and the tags a caller adds when it saves them), not in the
# report's per-problem table
_RECORD_ONLY = ("index", "modal_program", "parsed_programs", "sample_seconds", "judge_seconds",
                "generated_tokens", "base_sha256", "base_k", "finished")


def _with_full_passes(record: dict[str, Any], problem: Any) -> dict[str, Any]:
    """`record`, with its `full_pass_programs` judged again from its parsed programs when it was made
    before records kept them (a full pass always parses)."""
    if "full_pass_programs" in record:
        return record
    return {**record, "full_pass_programs": sorted(q for q in record["parsed_programs"]
                                                   if judge_program(q, problem)[1] >= 1.0)}


def summarize_precondition(problems: Sequence[Any], records: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    """The report from one `measure_problem` record per problem (any order; they are put in the problems'
    order): the three checks against `RULES`, pass@k, and the fixed-program baselines."""
    from ..passk import pass_at_k

    problems = list(problems)
    by_id = {r["id"]: r for r in records}
    missing = [p.id for p in problems if p.id not in by_id]
    if missing:
        raise ValueError(f"precondition: no record for {len(missing)} of {len(problems)} problems "
                         f"(first: {missing[0]}); measure them first")
    ordered = [_with_full_passes(by_id[p.id], p) for p in problems]
    per_problem = [{key: v for key, v in r.items() if key not in _RECORD_ONLY} for r in ordered]
    modal = [r["modal_program"] for r in ordered]
    frequent: Counter = Counter()
    for r in ordered:  # in how many problems' samples each program appears
        frequent.update(r["parsed_programs"])
    sample_seconds = sum(r["sample_seconds"] for r in ordered)
    n = len(per_problem)
    ks = sorted({kk for kk in (1, 8, 32, 128, 1024, k) if kk <= k})
    report: dict[str, Any] = {
        "n_problems": n,
        "k": k,
        "parse_rate": sum(p["parse_rate"] for p in per_problem) / n,
        "dense_mean": sum(p["dense_mean"] for p in per_problem) / n,
        **{f"pass@{kk}": sum(pass_at_k(p["n"], p["c"], kk) for p in per_problem) / n for kk in ks},
        "problems_with_a_full_pass": sum(p["c"] > 0 for p in per_problem),
        "distinct_modal_programs": len(set(modal)),
        "distinct_share": len(set(modal)) / n,
        # a program the base writes for many different prompts is a constant answer, not a reading
        "shared_programs": sum(1 for prog in set(modal) if modal.count(prog) > 1),
    }
    # the base's ten most frequent programs join the pool of constant programs
    candidates = [p for p, _ in frequent.most_common(10)]
    report["baselines"] = fixed_program_baselines(problems, candidates)
    report["dense_vs_best_fixed"] = report["dense_mean"] - report["baselines"]["best_fixed"]
    report["checks"] = {
        "reads_the_prompt": report["parse_rate"] >= RULES["min_parse_rate"],
        "conditions_on_the_pattern": report["distinct_share"] >= RULES["min_distinct_share"],
        "pass_at_K_is_zero": report[f"pass@{k}"] <= RULES["max_pass_at_K"],
    }
    report["passes"] = all(report["checks"].values())
    report["rules"] = dict(RULES)
    report["samples_per_second"] = n * k / sample_seconds if sample_seconds else None
    report["judge_seconds"] = round(sum(r["judge_seconds"] for r in ordered), 1)
    report["seconds"] = round(sample_seconds + report["judge_seconds"], 1)
    report["per_problem"] = per_problem
    return report


def precondition_report(model, tokenizer, problems: Sequence[Any], k: int, sampling: Any, seed: int = 0,
                        rows: Sequence[dict[str, Any]] | None = None, progress: bool = True) -> dict[str, Any]:
    """Sample `k` completions per held-out problem with `sampling` (a `SamplingConfig`: the rollouts'
    settings), and measure the three conditions and the baselines (module docstring): `measure_problem`
    for each problem, then `summarize_precondition`.

    `rows`: the problems' dataset rows (`prompt`, `ground_truth`); default `problem_rows(problems, "compact")`."""
    from ..train import problem_rows
    from tqdm.auto import tqdm

    problems = list(problems)
    rows = list(rows) if rows is not None else problem_rows(problems, "compact")
    records = [measure_problem(model, tokenizer, problem, row, i, k, sampling, seed)
               for i, (problem, row) in enumerate(tqdm(list(zip(problems, rows)), desc="precondition",
                                                       disable=not progress))]
    return summarize_precondition(problems, records, k)


def describe(report: dict[str, Any]) -> str:
    """The report as a few lines of text: each check with its number and rule."""
    k, b = report["k"], report["baselines"]
    mark = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    c, r = report["checks"], report["rules"]
    return "\n".join([
        f"{mark(c['reads_the_prompt'])}  parse rate {report['parse_rate']:.3f} (rule: >= {r['min_parse_rate']})",
        f"{mark(c['conditions_on_the_pattern'])}  distinct most-frequent programs {report['distinct_modal_programs']}"
        f"/{report['n_problems']} = {report['distinct_share']:.2f} (rule: >= {r['min_distinct_share']})",
        f"{mark(c['pass_at_K_is_zero'])}  pass@{k} {report[f'pass@{k}']:.4f} on {report['n_problems']} held-out "
        f"problems (rule: <= {r['max_pass_at_K']})",
        f"      base dense {report['dense_mean']:.3f} vs fixed programs: reject-all {b['reject_all']:.3f}, "
        f"accept-all {b['accept_all']:.3f}, best constant {b['best_constant']:.3f}, nearest seen-family "
        f"{b['nearest_seen']:.3f} (best fixed {b['best_fixed']:.3f})",
    ])


def first_difference(program: str, problem: Any, max_len: int = 12) -> str | None:
    """The shortest tape (up to `max_len` colours) on which `program` and the problem's language
    disagree, or None: tells a program that is right from one that only passes the tests."""
    import itertools

    from ..dsl import parse_program, run_program
    from ..tasks.base import COLOUR_MODES, FAMILIES

    parsed, family = parse_program(program), FAMILIES[problem.family]
    for n in range(max_len + 1):
        for tape in map("".join, itertools.product(COLOUR_MODES[problem.color_mode], repeat=n)):
            if run_program(parsed, tape).finished != family.accepts(problem.params, tape):
                return tape
    return None
