"""The book's verdict at a glance (the landing page), computed from the committed artifacts.

`grokking_headline(root)` answers "did RL grokking show up at CPU scale?":

- when the fair re-test has landed, `book/results/delta_mini_v2/verdict.json` (`{"verdict": "jump" |
  "refuted" | "inconclusive" | "not run", "reason": str, "numbers": {...}}`, written by DELTA-mini v2,
  chapter 4b) is the answer, shown as written;
- until then the answer is computed from the first attempt, `book/results/delta_mini/summary.json`,
  with the fixed-program baselines of its committed target tests (`held_out_target.jsonl`): how many
  held-out full passes the 9 runs found, and whether the base could read the target prompt (its dense
  score at least what the worse of accept-all and reject-all earns, `fidelity.base_reads_prompt`). A
  base that could not makes "no jump" inconclusive, and the fair re-test is reported as in progress.

`transfer_headline(root)` gives chapter 5's verdict per axis, and `fidelity_counts(root)` the claims
table's statuses. `plot_first_attempt(root)` draws the figure of the landing page.

    from delta_core.experiments.headline import grokking_headline
    grokking_headline(".").verdict   # 'inconclusive' until DELTA-mini v2 writes its verdict
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .baselines import fixed_program_baselines, load_target_problems
from .fidelity import base_reads_prompt, evaluate_claims, status_counts

__all__ = [
    "V2_VERDICT",
    "V1_DIR",
    "VERDICTS",
    "Headline",
    "fidelity_counts",
    "first_attempt_numbers",
    "grokking_headline",
    "first_attempt_caption",
    "plot_first_attempt",
    "transfer_headline",
]

V2_VERDICT = "book/results/delta_mini_v2/verdict.json"
V1_DIR = "book/results/delta_mini"
VERDICTS = ("jump", "refuted", "inconclusive", "not run")


@dataclass(frozen=True)
class Headline:
    """A verdict (one of VERDICTS), the reason in one or two sentences, the numbers behind it, and where
    it comes from ("v2": the fair re-test's verdict.json; "v1": computed from the first attempt)."""

    verdict: str
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)
    source: str = "v1"


def _read_v2(path: Path) -> Headline:
    data = json.loads(path.read_text())
    verdict = data.get("verdict")
    if verdict not in VERDICTS:
        raise ValueError(f"{path}: verdict {verdict!r} is not one of {VERDICTS}")
    if not isinstance(data.get("reason"), str) or not data["reason"].strip():
        raise ValueError(f"{path}: `reason` must be a non-empty string")
    return Headline(verdict, data["reason"].strip(), dict(data.get("numbers") or {}), "v2")


def first_attempt_numbers(root: str | Path) -> dict[str, Any] | None:
    """The first attempt's numbers (None when its summary is not there): runs, held-out full passes
    (best over runs, at the end and at any evaluation), the base's dense score on the target and the
    fixed-program baselines of the target's committed tests, and each arm's held-out dense after RL."""
    v1 = Path(root) / V1_DIR
    if not (v1 / "summary.json").is_file():
        return None
    summary = json.loads((v1 / "summary.json").read_text())
    runs = [r for a in summary["arms"].values() for r in a["runs"]]
    numbers: dict[str, Any] = {
        "target": summary["experiment"]["target"],
        "arms": list(summary["arms"]),
        "seeds": len(summary["experiment"]["seeds"]),
        "runs": len(runs),
        "final_full_pass_max": max(r["final_full_pass"] for r in runs),
        "best_full_pass_max": max(r["best_full_pass"] for r in runs),
        "base_pass_at_128": summary["base"]["target_pass@128"],
        "base_dense": summary["base"]["target_dense_mean"],
        "after_dense": {
            arm: sum(r["after_target"]["dense_mean"] for r in a["runs"]) / len(a["runs"])
            for arm, a in summary["arms"].items()
        },
    }
    tests = v1 / "held_out_target.jsonl"
    if tests.is_file():
        numbers["baselines"] = fixed_program_baselines(load_target_problems(tests), numbers["target"])
    return numbers


def grokking_headline(root: str | Path) -> Headline:
    """The grokking verdict: DELTA-mini v2's verdict.json when present, else computed from v1."""
    root = Path(root)
    if (root / V2_VERDICT).is_file():
        return _read_v2(root / V2_VERDICT)
    n = first_attempt_numbers(root)
    if n is None:
        return Headline("not run", "No grokking experiment has been saved yet (DELTA-mini, chapter 4b).", {}, "none")
    found = "no held-out full pass" if n["best_full_pass_max"] == 0 else (
        f"held-out full passes of at most {n['best_full_pass_max']:.0%}"
    )
    first = (
        f"The first attempt (DELTA-mini v1: {n['runs']} runs, {len(n['arms'])} reward schedules × {n['seeds']} seeds"
        f" on {n['target']}) found {found}"
    )
    base = n.get("baselines")
    if base is not None and not base_reads_prompt(n["base_dense"], base):
        worse, value = min(("reject-all", base["reject_all"]), ("accept-all", base["accept_all"]), key=lambda x: x[1])
        reason = (
            f"{first}, but its precondition was not met: the base model could not read the target prompt."
            f" Its mean score on the target's tests was {n['base_dense']:.2f}, less than even the program that"
            f" ignores the tape, {worse} ({value:.2f}), earns. A model that cannot read the question cannot show"
            " whether RL teaches it the algorithm. The fair re-test (DELTA-mini v2) is in progress."
        )
        return Headline("inconclusive", reason, n, "v1")
    if n["best_full_pass_max"] == 0:
        reason = f"{first}. The fair re-test (DELTA-mini v2) is in progress."
        return Headline("inconclusive", reason, n, "v1")
    return Headline("inconclusive", f"{first}, without the paper's plateau and jump.", n, "v1")


def transfer_headline(root: str | Path) -> list[dict[str, Any]]:
    """Chapter 5's verdict per BouncingSim axis (the book's vocabulary), with its numbers."""
    path = Path(root) / "book/results/transfer/bouncingsim/summary.json"
    if not path.is_file():
        return []
    summary = json.loads(path.read_text())
    names = {"id": "in-distribution (RL's own tier)", "exploratory": "exploratory (harder tiers)",
             "compositional": "compositional (unseen pairs)", "transformative": "transformative (periodic scenes)"}
    return [
        {"axis": names.get(axis, axis), "claim": s.get("claim", ""), "verdict": s["verdict"],
         "before": s["before_pass1"], "after": s["after_pass1"], "ci": (s["ci_low"], s["ci_high"])}
        for axis, s in summary.items() if axis in names
    ]


def fidelity_counts(root: str | Path) -> tuple[dict[str, int], list[Any]]:
    """The claims table's status counts and its rows (book/claims.yaml against the artifacts)."""
    rows = evaluate_claims(Path(root) / "book/claims.yaml", root)
    return status_counts(rows), rows


def first_attempt_caption(n: dict[str, Any]) -> str:
    """The caption of `plot_first_attempt`, each statement computed from `first_attempt_numbers`."""
    b = n["baselines"]
    parts = [
        "The first attempt at a glance. Bars: the mean fraction of the target family's held-out tests passed, by the "
        f"base model before RL and by each reward schedule after it ({n['seeds']} seeds each). Lines: what programs "
        "that ignore the prompt earn on the same tests."
    ]
    dense_arms = {a: v for a, v in n["after_dense"].items() if a != "binary"}
    if dense_arms and all(v <= b["best"] for v in dense_arms.values()):
        top = max(dense_arms.values())
        parts.append(f"The dense-reward runs ended at {top:.2f} or below, no higher than the best program that ignores "
                     f"the prompt ({b['best_name']}, {b['best']:.2f}).")
    if n["best_full_pass_max"] == 0:
        parts.append("No run passed every test of a single held-out problem at any evaluation.")
    if n["base_dense"] < min(b["reject_all"], b["accept_all"]):
        parts.append("The base scored below even the constant answers: it could not read the target prompt.")
    return " ".join(parts)


def plot_first_attempt(root: str | Path, ax=None):
    """The first attempt at a glance: the base's and each arm's held-out dense score after RL, against
    what programs that ignore the prompt earn on the same tests (reject-all, accept-all, the best
    constant program). Full passes are 0 everywhere, so the dense score is what moved."""
    import matplotlib.pyplot as plt

    n = first_attempt_numbers(root)
    if n is None or "baselines" not in n:
        raise FileNotFoundError(f"{V1_DIR}/summary.json and held_out_target.jsonl are needed")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.2), layout="constrained")
    labels = {"binary": "binary only", "dense": "dense only", "dense_then_binary": "dense → binary"}
    bars = [("base (before RL)", n["base_dense"])] + [(labels.get(a, a), v) for a, v in n["after_dense"].items()]
    y = list(range(len(bars)))[::-1]
    ax.barh(y, [v for _, v in bars], color=["0.55"] + ["#4c72b0"] * (len(bars) - 1), height=0.6)
    ax.set_yticks(y, [name for name, _ in bars])
    for yi, (_, v) in zip(y, bars):  # the value inside a long bar, beside a short one (clear of the lines)
        inside = v > 0.2
        ax.text(v - 0.01 if inside else v + 0.01, yi, f"{v:.2f}", va="center", ha="right" if inside else "left",
                fontsize=8, color="white" if inside else "black")
    b = n["baselines"]
    lines = [("accept-all", b["accept_all"], ":"), ("reject-all", b["reject_all"], "--"),
             (f"best constant program ({b['best_constant_program']})", b["best_constant"], "-")]
    for name, v, style in lines:
        ax.axvline(v, color="#c44e52", ls=style, lw=1, label=f"{name}: {v:.2f}")
    ax.set(xlim=(0, 1), xlabel="mean fraction of the target's held-out tests passed (dense score)")
    ax.set_title(f"DELTA-mini v1 on {n['target']}: held-out full-pass {n['best_full_pass_max']:.0%} in all {n['runs']} runs",
                 fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3, fontsize=7, frameon=False)
    return ax
