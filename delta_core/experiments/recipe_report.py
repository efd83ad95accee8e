"""Reading and drawing the recipe's runs (`delta_core.experiments.recipe`, chapter 4c).

`load(recipe, out)` reads every arm's metric lines into two tidy frames (train lines, evaluations) with
`arm` and `seed`; the plots are seaborn, one function per figure, bands spanning the seeds (min..max).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .recipe import ARMS, RecipeExperiment, arm_metrics

LABELS = {"binary": "switch at 0 (binary only)", "rule": "switch by the full-pass rule", "switch_30": "switch at 30",
          "switch_60": "switch at 60", "switch_100": "switch at 100", "switch_dense": "switch at dense mean 0.83",
          "replay": "rule + replay", "feedback": "rule + feedback", "curriculum_aligned": "via contains_ordered (aligned)",
          "curriculum_misaligned": "via append_sequence (misaligned)", "long": "rule, continued",
          "long_ordered": "rule on contains_ordered/medium"}
SWITCH_ARMS = ["binary", "rule", "switch_30", "switch_60", "switch_100", "switch_dense"]


def load(recipe: RecipeExperiment, out: str | Path) -> tuple[Any, Any]:
    """(train lines, evaluation lines) of every arm and seed that has metric lines, as pandas frames."""
    import pandas as pd

    trains, evals = [], []
    for arm in recipe.arms:
        if arm not in ARMS:
            continue
        for seed in recipe.seeds:
            for record in arm_metrics(recipe, out, arm, seed) or []:
                row = {k: v for k, v in record.items() if k != "trl"}
                row.update(arm=arm, seed=seed, label=LABELS.get(arm, arm))
                (evals if row.get("kind") == "eval" else trains).append(row)
    return pd.DataFrame(trains), pd.DataFrame(evals)


def _arms_within(frame: Any, arms: list[str], steps: int | None) -> Any:
    """The lines of `frame` (from `load`) of these arms, up to `steps` when given."""
    data = frame[frame["arm"].isin(arms)] if len(frame) else frame
    return data[data["step"] <= steps] if steps is not None and len(data) else data


def _hue_order(arms: list[str], data: Any) -> list[str]:
    """The labels of `arms` present in `data`, in the order of `arms` (the legend's order)."""
    present = set(data["label"])
    return [LABELS[a] for a in arms if LABELS[a] in present]


def plot_curves(evals: Any, arms: list[str], ax=None, title: str = "", steps: int | None = None, grok: float | None = None):
    """Held-out pass@1 per evaluation: one line per arm (the seeds' mean), band = the seeds' min..max."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    data = _arms_within(evals, arms, steps)
    if len(data):
        sns.lineplot(data=data, x="step", y="pass@1", hue="label", hue_order=_hue_order(arms, data),
                     estimator="mean", errorbar=("pi", 100), marker="o", markersize=3, ax=ax)
        ax.legend(fontsize=7, title=None)
    if grok is not None:
        ax.axhline(grok, color="grey", ls=":", lw=1)
    ax.set(xlabel="GRPO step", ylabel="held-out pass@1", title=title, ylim=(-0.005, None))
    return ax


def plot_train_full_pass(trains: Any, arms: list[str], ax=None, title: str = "", steps: int | None = None):
    """Training full-pass rate (each run's 10-step rolling mean; one line per arm, the seeds' mean, band = their
    min..max): what each run optimizes, on problems the base saw in SFT. Beside `plot_curves` it shows how much
    of the training gain reaches the held-out problems."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    data = _arms_within(trains, arms, steps)
    if len(data):
        runs = [run.sort_values("step").assign(smooth=lambda r: r["binary_mean"].rolling(10, min_periods=1).mean())
                for _, run in data.groupby(["arm", "seed"])]
        data = pd.concat(runs)
        sns.lineplot(data=data, x="step", y="smooth", hue="label", hue_order=_hue_order(arms, data),
                     estimator="mean", errorbar=("pi", 100), ax=ax)
        ax.legend(fontsize=7, title=None)
    ax.set(xlabel="GRPO step", ylabel="training full-pass (10-step mean)", title=title, ylim=(-0.01, None))
    return ax


def plot_switch_timing(summary: dict[str, Any], axes=None):
    """The centrepiece: the step each seed reaches the grok level (left) and its final level (right)
    against the step it switched to binary, one point per seed, a line through the arms' means."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    steps = summary["recipe"]["steps"]
    late = steps + summary["criteria"]["earlier_by"]
    rows = []
    for arm in SWITCH_ARMS:
        for seed, stats in summary["runs"].get(arm, {}).items():
            switched = stats["switch_step"] if stats["switch_step"] is not None else steps
            rows.append({"arm": LABELS[arm], "seed": seed, "switch step": switched,
                         "step to the grok level": stats["grok_step"] if stats["grok_step"] is not None else late,
                         "final held-out pass@1": stats["final"]})
    frame = pd.DataFrame(rows)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    if not len(frame):
        for ax in axes:
            ax.text(0.5, 0.5, "no switch-timing run has finished yet", ha="center", transform=ax.transAxes)
        return axes
    for ax, y in zip(axes, ("step to the grok level", "final held-out pass@1"), strict=True):
        sns.scatterplot(data=frame, x="switch step", y=y, hue="arm", style="arm", s=60, ax=ax)
        means = frame.groupby("arm")[["switch step", y]].mean().sort_values("switch step")
        ax.plot(means["switch step"], means[y], color="grey", lw=1, zorder=0)
        ax.legend(fontsize=7, title=None)
    axes[0].axhline(late, color="grey", ls=":", lw=1)
    axes[0].text(0, late, " never (within the budget)", fontsize=7, va="bottom")
    axes[0].set(title=f"when held-out pass@1 first reaches {summary['criteria']['grok_level']:.0%}")
    axes[1].set(title=f"held-out pass@1 at the end (mean of the last {summary['criteria']['final_evals']} evaluations)")
    axes[0].figure.tight_layout()
    return axes


def plot_long(trains: Any, evals: Any, steps: int, axes=None, arm: str = "long"):
    """C15: one long arm's runs (`long`: the rule's runs continued past the budget, the dashed line;
    `long_ordered`: the rule on contains_ordered/medium): training full-pass rate (10-step mean), held-out
    pass@1, token entropy and completion length, one line per seed."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    t = trains[trains["arm"] == arm] if len(trains) else trains
    e = evals[evals["arm"] == arm] if len(evals) else evals
    for seed, run in (t.groupby("seed") if len(t) else []):
        run = run.sort_values("step")
        axes[0].plot(run["step"], run["binary_mean"].rolling(10, min_periods=1).mean(), label=f"seed {seed}")
        axes[2].plot(run["step"], run["entropy"].rolling(10, min_periods=1).mean())
        axes[3].plot(run["step"], run["completion_length"].rolling(10, min_periods=1).mean())
    for seed, run in (e.groupby("seed") if len(e) else []):
        axes[1].plot(run["step"], run["pass@1"], marker="o", ms=2)
    for ax, (label, bottom) in zip(axes, (("training full-pass (10-step mean)", -0.01), ("held-out pass@1", -0.005),
                                          ("token entropy", None), ("completion length (tokens)", None)), strict=True):
        ax.axvline(steps, color="grey", ls="--", lw=1)
        ax.set(xlabel="GRPO step", ylabel=label)
        if bottom is not None:
            ax.set_ylim(bottom=bottom)
    if len(t):
        axes[0].legend(fontsize=7)
    axes[0].figure.suptitle(LABELS.get(arm, arm), fontsize=10)
    axes[0].figure.tight_layout()
    return axes
