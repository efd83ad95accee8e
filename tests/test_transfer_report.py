"""delta_core.experiments.transfer_report: the paired gain per cell that chapter 6 draws as intervals."""

import warnings

import pandas as pd
import pytest

from delta_core.experiments.transfer_report import gain_table, plot_gains


def row(stage, seed, family, level, values, split="s"):
    return {"axis": "x", "train_split": split, "test_family": family, "test_level": level, "seed": seed,
            "stage": stage, "pass@1": sum(values) / len(values), "problem_pass1": values, "cell": f"{family}/{level}"}


def test_gains_pair_problem_by_problem_seed_by_seed_and_cell_by_cell():
    """Two families share a tier (as in chapter 6's tier table): each after row pairs with the before
    row of its own family and seed, never another family's (the gain would then mix two cells)."""
    df = pd.DataFrame([
        row("before", 0, "A", 1, [0.0, 0.0]), row("after", 0, "A", 1, [1.0, 1.0]),
        row("before", 0, "B", 1, [1.0, 1.0]), row("after", 0, "B", 1, [1.0, 1.0]),
        row("before", 1, "A", 1, [0.5, 0.5]), row("after", 1, "A", 1, [0.5, 0.5]),
    ])
    t = gain_table(df.assign(group="g"), index="group", columns="test_level")
    assert len(t) == 1 and t.pairs[0] == 6
    assert t.gain[0] == pytest.approx((2 * 1.0 + 2 * 0.0 + 2 * 0.0) / 6)
    assert t.ci_low[0] <= t.gain[0] <= t.ci_high[0]


def test_a_before_row_without_a_seed_pairs_with_every_seed():
    """Manufactoria: one base model (seed None) before, one RL'd model per seed after."""
    df = pd.DataFrame([row("before", None, "A", 1, [0.0]), row("after", 0, "A", 1, [1.0]), row("after", 1, "A", 1, [0.0])])
    t = gain_table(df, index="axis", columns="cell")
    assert t.pairs[0] == 2 and t.gain[0] == pytest.approx(0.5)


def test_plot_gains_warns_nothing():
    import matplotlib

    matplotlib.use("Agg")
    df = pd.DataFrame([row("before", 0, f"F{i}", 0, [0.2, 0.4]) for i in range(12)]
                      + [row("after", 0, f"F{i}", 0, [0.3, 0.1]) for i in range(12)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a layout warning means labels may overlap
        fig = plot_gains(gain_table(df, index="axis", columns="cell"), "gains", margin=0.05)
        fig.canvas.draw()
