"""Reading and drawing a DELTA-mini results directory (`delta_core.experiments.delta_mini`).

`load_runs(out)` reads every run's metrics into two tidy frames, `read_run(path)` one run's; the plots
are seaborn, one function per figure. (What a model writes: `delta_mini_inspect`.) `plot_all(out)` writes `grokking_curve.png` (the landing-page figure), `rewards.png` and
`zero_std_entropy.png` into `out` and returns their paths.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from ..artifacts import read_jsonl

ARM_LABELS = {"binary": "binary only", "dense": "dense only", "dense_then_binary": "dense → binary"}
ARM_COLOURS = {"binary": "#d62728", "dense": "#1f77b4", "dense_then_binary": "#2ca02c"}


def load_runs(out: str | os.PathLike) -> "Any":
    """All runs' metrics as two tidy pandas frames: (train lines, eval lines), with `arm` and `seed`."""
    import pandas as pd

    trains, evals = [], []
    for metrics in sorted(Path(out, "runs").glob("*_s*/metrics.jsonl")):
        arm, seed = metrics.parent.name.rsplit("_s", 1)
        for record in read_jsonl(metrics, missing_ok=True):
            record.pop("trl", None)
            record.update(arm=arm, seed=int(seed))
            (evals if record.get("kind") == "eval" else trains).append(record)
    return pd.DataFrame(trains), pd.DataFrame(evals)


def _frames(out):
    trains, evals = load_runs(out)
    for frame in (trains, evals):
        if len(frame):
            frame["arm_label"] = frame["arm"].map(ARM_LABELS)
    return trains, evals


def _palette():
    return {ARM_LABELS[a]: c for a, c in ARM_COLOURS.items()}


def _switch_step(trains):
    if not len(trains):
        return None
    steps = trains.loc[trains["arm"] == "dense_then_binary", "switch_step"].dropna()
    return None if steps.empty else int(steps.iloc[0])


def plot_grokking_curve(out, ax=None, threshold: float | None = 0.9):
    """Held-out full-pass rate (pass@1) vs RL step, one line per arm, band = min..max over seeds."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    trains, evals = _frames(out)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    if len(evals):
        sns.lineplot(data=evals, x="step", y="pass@1", hue="arm_label", palette=_palette(),
                     errorbar=("pi", 100), marker="o", ax=ax)
    switch = _switch_step(trains)
    if switch is not None:
        ax.axvline(switch, color="grey", ls="--", lw=1)
        ax.annotate("dense → binary switch", (switch, 1.0), xytext=(4, -12), textcoords="offset points",
                    fontsize=8, color="grey")
    if threshold is not None:
        ax.axhline(threshold, color="black", ls=":", lw=0.8)
    n_seeds = evals.groupby("arm")["seed"].nunique().max() if len(evals) else 0
    ax.set(ylim=(-0.03, 1.03), xlabel="RL step", ylabel="held-out full-pass rate (pass@1)",
           title=f"DELTA-mini: held-out full-pass by reward schedule ({n_seeds} seeds, band = min–max)")
    ax.legend(title=None, loc="upper left")
    return ax


def plot_rewards(out):
    """Training dense and binary reward means per arm (mean over seeds)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    trains, _ = _frames(out)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharex=True)
    for ax, column, title in zip(axes, ("dense_mean", "binary_mean"),
                                 ("dense reward (fraction of tests passed)", "binary reward (all tests pass)")):
        if len(trains):
            sns.lineplot(data=trains, x="step", y=column, hue="arm_label", palette=_palette(),
                         errorbar=("pi", 100), ax=ax)
        ax.set(title=title, xlabel="RL step", ylabel="mean over the step's completions", ylim=(-0.03, 1.03))
        ax.legend(title=None, fontsize=8)
    fig.tight_layout()
    return fig


def plot_zero_std_entropy(out):
    """The fraction of groups with all-equal rewards (no gradient) and the policy entropy."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    trains, _ = _frames(out)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharex=True)
    for ax, column, title in zip(axes, ("frac_zero_std", "entropy"),
                                 ("groups with zero reward std (no learning signal)", "token entropy")):
        if len(trains) and column in trains:
            sns.lineplot(data=trains, x="step", y=column, hue="arm_label", palette=_palette(),
                         errorbar=("pi", 100), ax=ax)
        ax.set(title=title, xlabel="RL step")
        ax.legend(title=None, fontsize=8)
    axes[0].set_ylim(-0.03, 1.03)
    fig.tight_layout()
    return fig


def plot_all(out: str | os.PathLike) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out)
    paths = []
    ax = plot_grokking_curve(out)
    ax.figure.tight_layout()
    for fig, name in ((ax.figure, "grokking_curve.png"), (plot_rewards(out), "rewards.png"),
                      (plot_zero_std_entropy(out), "zero_std_entropy.png")):
        path = out / name
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------------------------------
# One run's metrics


def read_run(path: str | os.PathLike, missing_ok: bool = False) -> Any:
    """One run's metrics as two pandas frames, (train lines, eval lines): `kind="train"` and
    `kind="eval"` records of `path`, a metrics JSONL file or a run directory holding `metrics.jsonl`.

    Read with `artifacts.read_jsonl` (a last line torn by a kill is dropped); TRL's raw `trl` dict is
    left out, as in `load_runs`. A missing file is FileNotFoundError, or two empty frames with
    `missing_ok`."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    trains, evals = [], []
    for record in read_jsonl(path, missing_ok=missing_ok):
        record.pop("trl", None)
        if record.get("kind") == "train":
            trains.append(record)
        elif record.get("kind") == "eval":
            evals.append(record)
    return pd.DataFrame(trains), pd.DataFrame(evals)


def read_held_out(out: str | os.PathLike) -> list[dict[str, Any]]:
    """The held-out target problems of a DELTA-mini results folder as its runs saw them: rows with `id`,
    `criteria`, `prompt` and `ground_truth` (the test tapes), from `held_out_target.jsonl`. Saved beside
    the results because the task generator changes (a result made with generator version 1 cannot be
    re-judged on problems generated today)."""
    return read_jsonl(Path(out) / "held_out_target.jsonl")



# ----------------------------------------------------------------------------------------------------
# DELTA-mini v2 (issue 18): the precondition, the pilots, the arms against their baselines


def plot_precondition(report: dict[str, Any], ax=None):
    """The base's dense score on the held-out target problems beside the fixed programs' (bars), and
    its parse rate and pass@K in the title."""
    import matplotlib.pyplot as plt

    b = report["baselines"]
    bars = {"base model (sampled)": report["dense_mean"], "reject every tape": b["reject_all"],
            "accept every tape": b["accept_all"], "best single program": b["best_constant"],
            "nearest seen-family program": b["nearest_seen"]}
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    colours = ["#2ca02c"] + ["#7f7f7f"] * (len(bars) - 1)
    ax.barh(list(bars)[::-1], list(bars.values())[::-1], color=colours[::-1])
    for y, value in enumerate(list(bars.values())[::-1]):
        ax.annotate(f"{value:.2f}", (value, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    k = report["k"]
    ax.set(xlim=(0, 1.08), xlabel="mean dense reward on the held-out target problems",
           title=f"base: parse rate {report['parse_rate']:.2f}, pass@{k} = {report[f'pass@{k}']:.3f} "
                 f"({report['n_problems']} problems x {k} samples)")
    return ax


def plot_pilot(out: str | os.PathLike):
    """The lr pilot: token entropy and dense reward per step, one line per learning rate."""
    import matplotlib.pyplot as plt

    out = Path(out)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharex=True)
    for metrics in sorted((out / "pilots").glob("lr_*/metrics.jsonl")):
        trains, _ = read_run(metrics)
        if not len(trains):
            continue
        label = "lr " + metrics.parent.name[3:]
        axes[0].plot(trains["step"], trains["entropy"], label=label)
        axes[1].plot(trains["step"], trains["dense_mean"], label=label)
    axes[0].set(title="token entropy of the rollouts", xlabel="GRPO step (dense reward)")
    axes[1].set(title="dense reward (training batch mean)", xlabel="GRPO step (dense reward)", ylim=(-0.03, 1.03))
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_control(out: str | os.PathLike, axes=None):
    """The positive control, one line per control run: held-out pass@1 per evaluation (left) and the
    training full-pass rate, a 10-step rolling mean (right)."""
    import matplotlib.pyplot as plt

    out = Path(out)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    runs = sorted((out / "pilots").glob("control_*/metrics.jsonl"))
    rates = sorted({m.parent.name.split("_lr")[1].rsplit("_s", 1)[0] for m in runs if "_lr" in m.parent.name}, key=float)
    styles = dict(zip(rates, ["-", "--", ":", "-."]))
    for metrics in runs:
        trains, evals = read_run(metrics)
        if not len(evals):
            continue
        name = metrics.parent.name[len("control_"):]  # <arm>_lr<lr>_s<seed>
        arm, rest = name.split("_lr") if "_lr" in name else (name.rsplit("_s", 1)[0], "?_s" + name.rsplit("_s", 1)[1])
        lr, seed = rest.rsplit("_s", 1)
        style = dict(color=ARM_COLOURS.get(arm), ls=styles.get(lr, "-"), label=f"{ARM_LABELS.get(arm, arm)}, lr {lr} (seed {seed})")
        axes[0].plot(evals["step"], evals["pass@1"], marker="o", ms=3, **style)
        if len(trains):
            axes[1].plot(trains["step"], trains["binary_mean"].rolling(10, min_periods=1).mean(), **style)
    axes[0].set(xlabel="GRPO step", ylabel="held-out pass@1", ylim=(-0.01, None),
                title="held-out problems (not in SFT)")
    axes[1].set(xlabel="GRPO step", ylabel="full-pass rate (10-step mean)", ylim=(-0.01, None),
                title="training problems")
    axes[0].legend(fontsize=7)
    axes[0].figure.suptitle("positive control: a family the base solves now and then", fontsize=10)
    axes[0].figure.tight_layout()
    return axes


def precondition_measurements(out: str | os.PathLike) -> list[tuple[str, Path, dict[str, Any], dict[str, Any]]]:
    """(name, folder, precondition report, experiment settings) of every precondition measured for the
    experiment in `out`: each earlier one under `<out>/precondition_history/<name>/`, then "current"."""
    from ..artifacts import read_json

    out = Path(out)
    folders = [(d.name, d) for d in sorted((out / "precondition_history").glob("*/"))] + [("current", out)]
    return [(name, folder, read_json(folder / "precondition.json"), read_json(folder / "experiment.json"))
            for name, folder in folders if (folder / "precondition.json").exists()]


def precondition_history(out: str | os.PathLike) -> Any:
    """Every precondition measured for this experiment, one row each: the folder's current one and each
    earlier one kept under `<out>/precondition_history/<name>/` (its experiment.json and precondition.json),
    with the base (SFT steps) and the target selection it was measured on, and the three checks."""
    import pandas as pd

    rows = []
    for name, _, pre, exp in precondition_measurements(out):
        partial = pre.get("partial")
        rows.append({"measurement": name, "SFT steps": exp["sft_steps"],
                     "target patterns": f"length >= {exp.get('target_min_length') or 1}, "
                                        f">= {exp.get('target_min_fallbacks', 0) or 1} fallbacks",
                     "problems": f"{pre['n_problems']}" + (f" of {partial['of']} (stopped)" if partial else ""),
                     "parse rate": pre["parse_rate"], "distinct share": pre["distinct_share"],
                     f"pass@{pre['k']}": pre[f"pass@{pre['k']}"], "problems solved": pre["problems_with_a_full_pass"],
                     "dense": pre["dense_mean"], "precondition": "passes" if pre["passes"] else "fails"})
    return pd.DataFrame(rows).set_index("measurement") if rows else pd.DataFrame()


def plot_arms(out: str | os.PathLike, baselines: dict[str, float] | None = None):
    """Three panels per arm family: held-out pass@1 (band: min-max over seeds, each seed's switch
    marked), training dense reward with the fixed-program baselines as lines, and training full-pass rate."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    trains, evals = _frames(out)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), sharex=True)
    if len(evals):
        sns.lineplot(data=evals, x="step", y="pass@1", hue="arm_label", palette=_palette(), errorbar=("pi", 100),
                     marker="o", ax=axes[0])
    if len(trains):
        sns.lineplot(data=trains, x="step", y="dense_mean", hue="arm_label", palette=_palette(),
                     errorbar=("pi", 100), ax=axes[1])
        sns.lineplot(data=trains, x="step", y="binary_mean", hue="arm_label", palette=_palette(),
                     errorbar=("pi", 100), ax=axes[2])
        switches = trains.loc[trains["arm"] == "dense_then_binary"].groupby("seed")["switch_step"].max().dropna()
        for step in switches:
            for ax in axes:
                ax.axvline(step, color=ARM_COLOURS["dense_then_binary"], ls="--", lw=0.8, alpha=0.6)
    # the fixed programs go in the legend, not beside their lines: two a few points apart, or a curve running
    # along one, would print over a label
    styles = itertools.cycle((":", "-.", (0, (1, 3)), (0, (5, 3))))
    for (name, value), style in zip(sorted((baselines or {}).items(), key=lambda item: -item[1]), styles):
        axes[1].axhline(value, color="dimgrey", ls=style, lw=1, label=f"{name} ({value:.2f})")
    axes[0].set(title="held-out full-pass rate (pass@1)", ylabel="pass@1", ylim=(-0.03, 1.03))
    axes[1].set(title="training dense reward (grey: fixed programs)", ylabel="mean", ylim=(-0.03, 1.03))
    axes[2].set(title="training full-pass rate", ylabel="mean", ylim=(-0.01, None))
    for ax in axes:
        ax.set_xlabel("GRPO step (dashed: each seed's switch)")
        if ax.get_legend() is not None:
            ax.legend(title=None, fontsize=7)
    fig.tight_layout()
    return fig


def throughput(out: str | os.PathLike, samples_per_step: int) -> Any:
    """Per arm: GRPO samples per second (`samples_per_step` / the step's wall time) and the share of a
    step spent judging, from the runs' metric lines (the steps that logged both)."""
    import pandas as pd

    trains, _ = load_runs(out)
    if not len(trains) or "judge_seconds" not in trains:
        return pd.DataFrame()
    rows = []
    for arm, frame in trains.groupby("arm"):
        frame = frame.dropna(subset=["step_time", "judge_seconds"])
        if len(frame):
            rows.append({"arm": arm, "steps": len(frame), "seconds per step": frame["step_time"].mean(),
                         "samples per second": samples_per_step / frame["step_time"].mean(),
                         "judging share of a step": (frame["judge_seconds"] / frame["step_time"]).mean()})
    return pd.DataFrame(rows)
