"""DELTA-mini v2's verdict, from criteria fixed before the runs (issue 18).

    python -m delta_core.experiments.delta_mini_verdict DIR     # prints the criteria and the verdict, writes DIR/verdict.json

- **jump** (grokking reproduced): in at least `min_seeds` seeds of the dense→binary arm, the held-out
  pass@1 stays <= `plateau_max` for >= `plateau_steps` binary steps, then climbs from >= `jump_from`
  to >= `jump_to` within <= `jump_within` steps; and the dense-only arm stays below `dense_only_max`
  and the binary-only arm below `binary_only_max` (its "about 0").
- **refuted** (an honest negative): the precondition report passes; the dense phase produced
  prompt-dependent full passes (the full-pass switch rule fired, not the step cap, in >= `min_seeds`
  seeds: >= 1% of training samples, >= 3 distinct problems); >= `min_spread_share` of binary steps had
  groups with reward spread; the positive control learned; and still no dense→binary seed reached
  `jump_from` after >= `min_binary_steps` binary steps.
- anything else is **inconclusive**, with every reason listed (runs missing or short, a failed
  precondition, a control that did not learn, ...).

The result is `{"verdict", "reason", "numbers", "criteria", "checks"}`; the book's landing page and
chapter 4b read it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..artifacts import read_json, read_jsonl, write_json

__all__ = ["CRITERIA", "seed_jump", "decide", "verdict", "describe_criteria", "main"]

# What each unmet condition of a fair test is called in a verdict's reason.
UNMET = {
    "precondition_passes": "a passing precondition report",
    "control_learns": "a positive control that learns",
    "switch_rule_fired": "dense-phase full passes (the switch rule firing)",
    "binary_steps_have_spread": "binary steps with reward spread",
    "enough_binary_steps": "enough binary steps in 3 seeds",
}

CRITERIA = {
    "plateau_max": 0.05,
    "plateau_steps": 50,
    "jump_from": 0.10,
    "jump_to": 0.50,
    "jump_within": 50,
    "min_seeds": 2,
    "dense_only_max": 0.10,
    "binary_only_max": 0.02,
    "min_spread_share": 0.20,
    "min_binary_steps": 300,
}


def describe_criteria(c: dict[str, Any] = CRITERIA) -> str:
    """The criteria in words, printed before any result."""
    return "\n".join([
        f"jump: in >= {c['min_seeds']} dense->binary seeds, held-out pass@1 <= {c['plateau_max']:.0%} for >= "
        f"{c['plateau_steps']} binary steps, then from >= {c['jump_from']:.0%} to >= {c['jump_to']:.0%} within "
        f"<= {c['jump_within']} steps; dense-only final < {c['dense_only_max']:.0%}; binary-only final <= "
        f"{c['binary_only_max']:.0%}",
        f"refuted: precondition passes; the full-pass switch rule fired in >= {c['min_seeds']} seeds; >= "
        f"{c['min_spread_share']:.0%} of binary steps had groups with reward spread; the positive control learned; "
        f"no dense->binary seed reached {c['jump_from']:.0%} after >= {c['min_binary_steps']} binary steps",
        "inconclusive: anything else (every unmet condition is listed)",
    ])


def _evals(records: list[dict[str, Any]]) -> list[tuple[int, float]]:
    return sorted((int(r["step"]), float(r["pass@1"])) for r in records if r.get("kind") == "eval")


def _switch(records: list[dict[str, Any]]) -> tuple[int | None, str | None]:
    for r in sorted((r for r in records if r.get("kind") == "train"), key=lambda r: r["step"]):
        if r.get("switch_step") is not None:
            return int(r["switch_step"]), r.get("switch_reason")
    return None, None


def seed_jump(records: list[dict[str, Any]], c: dict[str, Any] = CRITERIA) -> dict[str, Any]:
    """One dense->binary run: its switch, binary steps, best pass@1, and whether it shows the jump."""
    evals = _evals(records)
    switch, reason = _switch(records)
    trains = [r for r in records if r.get("kind") == "train"]
    last_step = max((int(r["step"]) for r in trains), default=0)
    out: dict[str, Any] = {"switch_step": switch, "switch_reason": reason, "last_step": last_step,
                           "binary_steps": 0 if switch is None else max(0, last_step - switch),
                           "best": max((v for _, v in evals), default=None), "jump": False}
    if switch is None:
        return out
    after = [(s, v) for s, v in evals if s >= switch]
    t_from = next((s for s, v in after if v >= c["jump_from"]), None)
    out["first_step_at_jump_from"] = t_from
    if t_from is None:
        return out
    # a plateau: a stretch of evaluations at or below plateau_max, >= plateau_steps long, before t_from
    plateau_start, longest = None, 0
    for s, v in after:
        if s >= t_from:
            break
        if v <= c["plateau_max"]:
            plateau_start = s if plateau_start is None else plateau_start
            longest = max(longest, s - plateau_start)
        else:
            plateau_start = None
    out["plateau_steps"] = longest
    t_to = next((s for s, v in after if s >= t_from and v >= c["jump_to"]), None)
    out["first_step_at_jump_to"] = t_to
    out["jump"] = longest >= c["plateau_steps"] and t_to is not None and t_to - t_from <= c["jump_within"]
    return out


ARMS = ("binary", "dense", "dense_then_binary")
SEEDS_PER_ARM = 3


def decide(runs: dict[str, dict[int, list[dict[str, Any]]]], precondition: dict[str, Any] | None,
           control_learns: bool | None, c: dict[str, Any] = CRITERIA,
           finished: dict[str, int] | None = None) -> dict[str, Any]:
    """The verdict from runs ({arm: {seed: metric lines}}), the precondition report and the control.

    `finished`: how many seeds of each arm have finished their budget (`verdict` counts `after.json`
    files). Given, neither "jump" nor "refuted" is said before each of `ARMS` has `SEEDS_PER_ARM`
    finished seeds: a dense-only or binary-only arm cut short could still cross its bound."""
    dtb = runs.get("dense_then_binary", {})
    seeds = {seed: seed_jump(records, c) for seed, records in sorted(dtb.items())}
    finals = {arm: {seed: (_evals(records)[-1][1] if _evals(records) else None) for seed, records in by_seed.items()}
              for arm, by_seed in runs.items()}
    binary_lines = [r for records in dtb.values() for r in records
                    if r.get("kind") == "train" and r.get("phase") == "binary" and r.get("frac_zero_std") is not None]
    spread_share = (sum(r["frac_zero_std"] < 1.0 for r in binary_lines) / len(binary_lines)) if binary_lines else None
    numbers = {
        "seeds": seeds,
        "final_pass@1": finals,
        "binary_steps_with_spread_share": spread_share,
        "precondition_passes": None if precondition is None else precondition.get("passes"),
        "control_learns": control_learns,
    }
    jumps = sum(s["jump"] for s in seeds.values())
    dense_ok = all(v is not None and v < c["dense_only_max"] for v in finals.get("dense", {}).values()) and bool(finals.get("dense"))
    binary_ok = all(v is not None and v <= c["binary_only_max"] for v in finals.get("binary", {}).values()) and bool(finals.get("binary"))
    checks = {
        "jump_seeds": jumps >= c["min_seeds"],
        "dense_only_low": dense_ok,
        "binary_only_about_zero": binary_ok,
        "precondition_passes": bool(precondition and precondition.get("passes")),
        "switch_rule_fired": sum(s["switch_reason"] == "rule" for s in seeds.values()) >= c["min_seeds"],
        "binary_steps_have_spread": spread_share is not None and spread_share >= c["min_spread_share"],
        "control_learns": control_learns is True,
        "enough_binary_steps": len(seeds) >= 3 and all(s["binary_steps"] >= c["min_binary_steps"] for s in seeds.values()),
        "no_seed_reaches_jump_from": all((s["best"] or 0.0) < c["jump_from"] for s in seeds.values()),
        "arms_finished": finished is None or all(finished.get(a, 0) >= SEEDS_PER_ARM for a in ARMS),
    }
    if finished is not None:
        numbers["finished_seeds"] = {a: finished.get(a, 0) for a in ARMS}
    if checks["jump_seeds"] and dense_ok and binary_ok and checks["arms_finished"]:
        verdict, reason = "jump", (f"{jumps} of {len(seeds)} dense→binary seeds plateau then jump; dense-only and "
                                   "binary-only stay low")
    elif all(checks[k] for k in ("precondition_passes", "switch_rule_fired", "binary_steps_have_spread",
                                 "control_learns", "enough_binary_steps", "no_seed_reaches_jump_from",
                                 "arms_finished")):
        verdict, reason = "refuted", (f"a fair test (precondition, control, dense-phase full passes, binary signal) and "
                                      f"no seed reached {c['jump_from']:.0%} after >= {c['min_binary_steps']} binary steps")
    else:
        unmet = [k for k in ("precondition_passes", "control_learns", "switch_rule_fired", "binary_steps_have_spread",
                             "enough_binary_steps", "arms_finished") if not checks[k]]
        if not dtb:
            unmet.insert(0, "no dense→binary runs yet")
        elif not checks["enough_binary_steps"]:
            steps = ", ".join(str(s["binary_steps"]) for s in seeds.values())
            unmet.insert(0, f"runs in progress ({sum(len(v) for v in runs.values())} runs started; dense→binary "
                            f"seeds at {steps} binary steps of the {c['min_binary_steps']} needed)")
        verdict = "inconclusive"
        named = {**UNMET, "precondition_passes": _precondition_words(precondition),
                 "arms_finished": f"every arm finished in {SEEDS_PER_ARM} seeds (" + ", ".join(
                     f"{a.replace('_then_', '→')} {(finished or {}).get(a, 0)}" for a in ARMS) + ")"}
        # the setting is fair once the base and the trainer are shown to be; then only the runs are missing
        setting = ("A fair setting, runs not finished" if checks["precondition_passes"] and checks["control_learns"]
                   else "Not yet a fair test")
        reason = f"{setting}. Missing: " + "; ".join(named.get(u, u) for u in unmet) if unmet else (
            "some seeds reached the jump threshold without the full jump pattern")
    return {"verdict": verdict, "reason": reason, "numbers": numbers, "checks": checks, "criteria": dict(c)}


def _precondition_words(report: dict[str, Any] | None) -> str:
    """What is missing of the precondition, with its numbers."""
    if report is None:
        return "a precondition report (not measured yet)"
    checks, k = report.get("checks", {}), report.get("k")
    failed = []
    if not checks.get("reads_the_prompt", True):
        failed.append(f"parse rate {report['parse_rate']:.2f}")
    if not checks.get("conditions_on_the_pattern", True):
        failed.append(f"distinct programs {report['distinct_modal_programs']}/{report['n_problems']}")
    if not checks.get("pass_at_K_is_zero", True):
        failed.append(f"pass@{k} {report[f'pass@{k}']:.4f} ({report['problems_with_a_full_pass']} of "
                      f"{report['n_problems']} held-out problems solved)")
    return "a passing precondition report (" + ", ".join(failed) + ")" if failed else "a passing precondition report"


def verdict(out: str | Path, write: bool = True) -> dict[str, Any]:
    """Read DIR's runs, precondition.json and pilots/report.json; decide; write DIR/verdict.json."""
    out = Path(out)
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for metrics in sorted(out.glob("runs/*_s*/metrics.jsonl")):
        arm, seed = metrics.parent.name.rsplit("_s", 1)
        runs.setdefault(arm, {})[int(seed)] = read_jsonl(metrics, missing_ok=True)
    precondition = read_json(out / "precondition.json") if (out / "precondition.json").exists() else None
    control = None
    report = out / "pilots" / "report.json"
    if report.exists():  # the binary-only control at the learning rate the arms use
        lr = read_json(out / "experiment.json")["learning_rate"]
        verdicts = [v.get("learns") for name, v in read_json(report).get("control", {}).items()
                    if name.startswith(f"control_binary_lr{lr:g}_")]
        control = None if not verdicts else all(v is True for v in verdicts)
    finished = {arm: sum((out / "runs" / f"{arm}_s{seed}" / "after.json").exists() for seed in by_seed)
                for arm, by_seed in runs.items()}
    result = decide(runs, precondition, control, finished=finished)
    if write:
        write_json(out / "verdict.json", result)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    from ..cli import ArgumentParser, fail

    prog = "python -m delta_core.experiments.delta_mini_verdict"
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("out", metavar="DIR")
    args = parser.parse_args(argv)
    if not Path(args.out).is_dir():
        fail(prog, f"DIR {args.out}: no such folder")
    print("Criteria (fixed before the runs):\n" + describe_criteria())
    result = verdict(args.out)
    print(f"\nverdict: {result['verdict']} ({result['reason']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
