"""Reading and drawing the transfer experiments' results (chapter 6, `notebooks/05_transfer.ipynb`).

Both transfer experiments (`transfer_manufactoria`, `transfer_bouncingsim`) write `results.jsonl`: one
row per (train split, test cell, stage, seed) with `pass@1` (and, where kept, the per-problem values
`problem_pass1`), `stage` "before" or "after" RL. This module turns those rows into the chapter's
matrices:

- `load_rows(path)`: the rows as a pandas frame, with a `cell` column (`family/level`);
- `cell_stats(rows)`: mean pass@1 of one cell and its 95% bootstrap interval;
- `transfer_matrix(df)`: one tidy line per (row, column, stage) of a matrix;
- `plot_transfer(df, title)`: the before / after heatmaps of a matrix, each cell annotated with its
  mean and interval;
- `gain_table(df)` and `plot_gains(table)`: per cell, the paired gain of pass@1 (after minus before,
  problem by problem and seed by seed) with its 95% bootstrap interval, drawn as one interval a cell;
- `load_train_logs(out)`: the BouncingSim pieces' GRPO training logs (`pieces/*.json`) as one frame.

pandas, matplotlib and seaborn are imported inside the functions, as in `delta_mini_report`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..artifacts import read_json, read_jsonl
from ..passk import bootstrap_ci

__all__ = ["cell_label", "cell_stats", "gain_table", "plot_gains", "transfer_matrix", "plot_transfer", "load_rows",
           "load_train_logs"]


def cell_label(row: Mapping[str, Any]) -> str:
    """A row's test cell as text: `family/level`, or the family alone when the row has no level."""
    import pandas as pd

    level = row.get("test_level")
    if level is not None and not pd.isna(level):
        return f"{row['test_family']}/{level}"
    return str(row["test_family"])


def cell_stats(rows: Sequence[Mapping[str, Any]]) -> tuple[float, float, float, int]:
    """Mean pass@1 of one (train split, test cell, stage) and its 95% bootstrap interval: over the
    per-problem values of every seed when the rows carry them, else over the seeds' pass@1.

    Returns (mean, ci_low, ci_high, number of seeds)."""
    import numpy as np

    values = [v for r in rows for v in (r.get("problem_pass1") or [])] or [r["pass@1"] for r in rows]
    lo, hi = bootstrap_ci(values)
    return float(np.mean(values)), lo, hi, len({r["seed"] for r in rows})


def transfer_matrix(df, index: str = "train_split", columns: str = "cell"):
    """Tidy table of a transfer matrix: one line per (`index`, `columns`, stage) group of `df` with
    `pass1`, `ci_low`, `ci_high` (`cell_stats`) and `seeds`, in the order the groups first appear."""
    import pandas as pd

    out = []
    for (row, col, stage), group in df.groupby([index, columns, "stage"], sort=False):
        mean, lo, hi, n = cell_stats(group.to_dict("records"))
        out.append({index: row, columns: col, "stage": stage, "pass1": mean, "ci_low": lo, "ci_high": hi,
                    "seeds": n})
    return pd.DataFrame(out)


def plot_transfer(df, title: str, index: str = "train_split", columns: str = "cell"):
    """Heatmaps of pass@1, before and after RL, each cell annotated with its mean and [95% interval].

    Default: rows are train splits, columns test cells, before above after. With another `index`
    (e.g. test family × test level for one train split) the two panels sit side by side. Returns the
    figure (show it with `plt.show()`); the numbers are `transfer_matrix(df, index, columns)`."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = transfer_matrix(df, index, columns)
    rows, cols = list(dict.fromkeys(df[index])), list(dict.fromkeys(df[columns]))
    if index == "train_split":
        fig, axes = plt.subplots(2, 1, figsize=(max(6, 1.05 * len(cols) + 2), 2.4 * len(rows) + 2.2),
                                 sharex=True, layout="constrained")
    else:
        fig, axes = plt.subplots(1, 2, figsize=(2 * (1.3 * len(cols) + 2), 0.6 * len(rows) + 1.8),
                                 sharey=True, layout="constrained")
    for ax, stage in zip(axes, ("before", "after")):
        part = table[table.stage == stage]
        values = part.pivot(index=index, columns=columns, values="pass1").reindex(index=rows, columns=cols)
        notes = part.assign(note=[f"{m:.2f}\n[{lo:.2f},{hi:.2f}]"
                                  for m, lo, hi in zip(part.pass1, part.ci_low, part.ci_high)])
        notes = notes.pivot(index=index, columns=columns, values="note").reindex(index=rows, columns=cols)
        sns.heatmap(values, vmin=0, vmax=1, cmap="viridis", annot=notes.fillna(""), fmt="",
                    annot_kws={"fontsize": 8}, cbar_kws={"label": "pass@1"}, ax=ax)
        ax.set_title(f"{title}: {stage} RL", fontsize=10)
        ax.set_xlabel(columns.replace("_", " ").replace("cell", "test cell (family/level)"))
        ax.set_ylabel(index.replace("_", " "))
        ax.tick_params(axis="x", rotation=90 if len(cols) > 8 else 0)
    return fig


def gain_table(df, index: str = "train_split", columns: str = "cell", n_boot: int = 2000):
    """One line per (`index`, `columns`) cell: before and after pass@1, the paired gain (after minus
    before, per problem and seed; a before row without a seed pairs with every after seed) and its 95%
    percentile bootstrap interval over those pairs, in the order the cells first appear."""
    import numpy as np
    import pandas as pd

    def where(r, seed):  # the rows of one test cell of one train split, in one seed
        return (r.get("train_split"), r.get("test_family"), None if pd.isna(r.get("test_level")) else r.get("test_level"),
                seed)

    out = []
    for (row, col), group in df.groupby([index, columns], sort=False):
        before = {where(r, None if pd.isna(r["seed"]) else r["seed"]): r
                  for r in group[group.stage == "before"].to_dict("records")}
        pairs = []
        for r in group[group.stage == "after"].to_dict("records"):
            b = before.get(where(r, r["seed"]), before.get(where(r, None)))
            if b is None:
                continue
            pb, pa = b.get("problem_pass1") or [b["pass@1"]], r.get("problem_pass1") or [r["pass@1"]]
            pairs += [(x, y) for x, y in zip(pb, pa)]
        if not pairs:
            continue
        gains = [y - x for x, y in pairs]
        lo, hi = bootstrap_ci(gains, n_boot=n_boot)
        out.append({index: row, columns: col, "before": float(np.mean([x for x, _ in pairs])),
                    "after": float(np.mean([y for _, y in pairs])), "gain": float(np.mean(gains)),
                    "ci_low": lo, "ci_high": hi, "pairs": len(pairs)})
    return pd.DataFrame(out)


def plot_gains(table, title: str, label: str = "cell", group: str | None = None, margin: float | None = None, ax=None):
    """The gains of `gain_table` as intervals, one line a cell (grouped by `group` when given): a dot at
    the mean gain, a bar over its 95% interval, a line at 0 (and at +-`margin`). Returns the figure."""
    import matplotlib.pyplot as plt

    labels = [f"{g}: {c}" if group else str(c) for g, c in zip(table[group] if group else table[label], table[label])]
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.28 * len(table) + 1.4), layout="constrained")
    y = list(range(len(table)))[::-1]
    colours = ["#c44e52" if hi < 0 else "#55a868" if lo > 0 else "0.35" for lo, hi in zip(table.ci_low, table.ci_high)]
    ax.hlines(y, table.ci_low, table.ci_high, colors=colours, lw=2)
    ax.scatter(table.gain, y, c=colours, s=18, zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    if margin:
        for m in (-margin, margin):
            ax.axvline(m, color="grey", ls=":", lw=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set(xlabel="pass@1 after RL minus before (95% interval)", title=title)
    return ax.figure


def load_rows(path: str | os.PathLike):
    """A transfer experiment's `results.jsonl` as a pandas frame, plus a `cell` column (`cell_label`)."""
    import pandas as pd

    rows = read_jsonl(path)
    df = pd.DataFrame(rows)
    df["cell"] = [cell_label(r) for r in rows]
    return df


def load_train_logs(out: str | os.PathLike):
    """The GRPO training logs of a BouncingSim transfer run (`<out>/pieces/*.json`, key `train_log`):
    one line per (piece, step), with the piece's `split` and `seed` added."""
    import pandas as pd

    logs = []
    for path in sorted(Path(out, "pieces").glob("*.json")):
        piece = read_json(path)
        logs += [{**entry, "split": piece["split"], "seed": piece["seed"]} for entry in piece["train_log"]]
    return pd.DataFrame(logs)
