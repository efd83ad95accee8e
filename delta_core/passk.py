"""pass@k, the hard subset and dense-score statistics from judged samples.

The unbiased estimator (Chen et al. 2021): with n samples of which c are correct,

    pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n - c + 1}^{n} (1 - k / i)

computed in the product form, which never forms a binomial coefficient and stays exact to float
precision for any n (k = 1 ... 128 and beyond, up to k = n).

Aggregates average the per-problem estimates over a group (family, level, ...), with a percentile
bootstrap over problems for the confidence interval. The *hard subset* is the set of problems with
pass@K = 0 at the largest K measured, i.e. no correct sample among the n drawn. Dense statistics
(the fraction of tests passed) show whether a graded signal exists where the binary one is all zero.

Every function takes `ProblemResult`s (`delta_core.sampling`) or their dicts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "pass_at_k",
    "pass_at_k_curve",
    "default_k_list",
    "problem_table",
    "aggregate_pass_at_k",
    "bootstrap_ci",
    "hard_subset",
    "hard_subset_summary",
    "dense_summary",
]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with `n` samples, `c` of them correct (needs 1 <= k <= n).

    >>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 2), pass_at_k(4, 0, 4), pass_at_k(4, 3, 2)
    (0.25, 0.5, 0.0, 1.0)
    """
    if not (0 <= c <= n) or n < 1:
        raise ValueError(f"need 0 <= c <= n and n >= 1; got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n; got k={k}, n={n}")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def pass_at_k_curve(n: int, c: int, ks: Iterable[int]) -> np.ndarray:
    """pass@k for each k in `ks` (NaN where k > n)."""
    return np.array([pass_at_k(n, c, k) if k <= n else math.nan for k in ks])


def default_k_list(n: int) -> list[int]:
    """Powers of two up to n, plus n itself: 1, 2, 4, ..., n."""
    ks = [1 << i for i in range(int(math.log2(n)) + 1)] if n >= 1 else []
    return ks + ([n] if n not in ks else [])


def _get(result: Any, name: str) -> Any:
    return result[name] if isinstance(result, Mapping) else getattr(result, name)


def _samples(result: Any) -> list[Any]:
    return list(_get(result, "samples"))


def _score(sample: Any, name: str) -> float:
    return float(sample[name] if isinstance(sample, Mapping) else getattr(sample, name))


def problem_table(results: Sequence[Any], ks: Sequence[int]) -> list[dict[str, Any]]:
    """One row per problem: identity, n, c, dense statistics and pass@k for each k in `ks`."""
    rows = []
    for r in results:
        samples = _samples(r)
        dense = [_score(s, "pass_rate") for s in samples]
        c = sum(_score(s, "all_pass") == 1.0 for s in samples)
        row = {name: _get(r, name) for name in ("id", "family", "level", "colour_mode")}
        row.update(
            n=len(samples),
            c=c,
            dense_mean=float(np.mean(dense)) if dense else math.nan,
            dense_max=max(dense, default=math.nan),
            dense_nonzero=float(np.mean([d > 0 for d in dense])) if dense else math.nan,
        )
        for k in ks:
            row[f"pass@{k}"] = pass_at_k(len(samples), c, k) if 1 <= k <= len(samples) else math.nan
        rows.append(row)
    return rows


def bootstrap_ci(
    values: Sequence[float], n_boot: int = 2000, ci: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (resampling the values)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1 or np.all(x == x[0]):
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def aggregate_pass_at_k(
    results: Sequence[Any],
    ks: Sequence[int],
    by: Sequence[str] = ("family",),
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Mean pass@k per group and k, with a bootstrap CI over the group's problems.

    `by`: identity fields to group on (`()` for one overall group). Problems with fewer than k samples
    are left out of that k's mean. Rows: the group fields, k, pass_at_k, ci_low, ci_high, n_problems.
    """
    table = problem_table(results, ks)
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in table:
        groups[tuple(row[b] for b in by)].append(row)
    out = []
    for key in sorted(groups):
        rows = groups[key]
        for k in ks:
            values = [r[f"pass@{k}"] for r in rows if not math.isnan(r[f"pass@{k}"])]
            if not values:
                continue
            lo, hi = bootstrap_ci(values, n_boot, ci, seed)
            out.append(
                {
                    **dict(zip(by, key)),
                    "k": k,
                    "pass_at_k": float(np.mean(values)),
                    "ci_low": lo,
                    "ci_high": hi,
                    "n_problems": len(values),
                }
            )
    return out


def hard_subset(results: Sequence[Any]) -> list[dict[str, Any]]:
    """Problems with pass@K = 0 at the largest K measured (K = n: no sample of the n is correct),
    with their sample count and dense statistics."""
    rows = problem_table(results, [])
    return [
        {k: r[k] for k in ("id", "family", "level", "colour_mode", "n", "dense_mean", "dense_max")}
        for r in rows
        if r["c"] == 0 and r["n"] > 0
    ]


def hard_subset_summary(results: Sequence[Any], by: Sequence[str] = ("family",)) -> list[dict[str, Any]]:
    """Per group: problems, hard problems (pass@K = 0), their fraction, and K (the fewest samples
    any problem of the group got, so pass@K is measured for all of them)."""
    table = problem_table(results, [])
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in table:
        groups[tuple(row[b] for b in by)].append(row)
    out = []
    for key in sorted(groups):
        rows = groups[key]
        hard = sum(r["c"] == 0 for r in rows)
        out.append(
            {
                **dict(zip(by, key)),
                "problems": len(rows),
                "hard": hard,
                "hard_fraction": hard / len(rows),
                "K": min(r["n"] for r in rows),
            }
        )
    return out


def dense_summary(results: Sequence[Any], by: Sequence[str] = ("family",)) -> list[dict[str, Any]]:
    """Per group: the binary and the dense signal side by side.

    `binary_mean`: fraction of samples passing every test; `dense_mean`: mean fraction of tests passed
    (with a bootstrap CI over problems); `dense_nonzero`: fraction of samples passing at least one
    test; `hard_with_dense_signal`: among the hard problems, the fraction where some sample passes at
    least one test (a dense reward can tell samples apart there, a binary one cannot).
    """
    table = problem_table(results, [])
    samples_by: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for r in results:
        key = tuple(_get(r, b) for b in by)
        samples_by[key].extend((_score(s, "pass_rate"), _score(s, "all_pass")) for s in _samples(r))
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in table:
        groups[tuple(row[b] for b in by)].append(row)
    out = []
    for key in sorted(groups):
        rows, pairs = groups[key], samples_by[key]
        dense = np.array([p[0] for p in pairs])
        binary = np.array([p[1] for p in pairs])
        hard = [r for r in rows if r["c"] == 0]
        lo, hi = bootstrap_ci([r["dense_mean"] for r in rows])
        out.append(
            {
                **dict(zip(by, key)),
                "samples": int(dense.size),
                "binary_mean": float(binary.mean()) if dense.size else math.nan,
                "dense_mean": float(dense.mean()) if dense.size else math.nan,
                "dense_ci_low": lo,
                "dense_ci_high": hi,
                "dense_nonzero": float((dense > 0).mean()) if dense.size else math.nan,
                "hard_problems": len(hard),
                "hard_dense_mean": float(np.mean([r["dense_mean"] for r in hard])) if hard else math.nan,
                "hard_with_dense_signal": (
                    float(np.mean([r["dense_max"] > 0 for r in hard])) if hard else math.nan
                ),
            }
        )
    return out
