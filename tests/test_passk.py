"""pass@k estimator against brute-force enumeration, and the aggregates built on it."""

import itertools
import math
from fractions import Fraction

import pytest

from delta_core.passk import (
    aggregate_pass_at_k,
    bootstrap_ci,
    default_k_list,
    dense_summary,
    hard_subset,
    hard_subset_summary,
    pass_at_k,
    pass_at_k_curve,
    problem_table,
)
from delta_core.sampling import ProblemResult, Sample


def brute_force(n: int, c: int, k: int) -> Fraction:
    """Fraction of the k-subsets of n samples (the first c correct) holding a correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(i < c for i in s) for s in subsets), len(subsets))


@pytest.mark.parametrize("n", range(1, 9))
def test_matches_enumeration_of_all_k_subsets(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(float(brute_force(n, c, k)), abs=1e-12)


@pytest.mark.parametrize(
    "n, c, k", [(200, 3, 128), (1000, 1, 128), (1000, 17, 500), (4096, 2, 1024), (300, 299, 7)]
)
def test_stable_for_large_n_against_exact_combinatorics(n, c, k):
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-9, abs=1e-15)


def test_single_correct_sample_gives_k_over_n():
    for k in (1, 2, 64, 128, 256):
        assert pass_at_k(256, 1, k) == pytest.approx(k / 256)


def test_edge_cases_and_errors():
    assert pass_at_k(10, 0, 10) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 5, 6) == 1.0  # n - c < k
    for bad in [(4, 5, 1), (4, 1, 0), (4, 1, 5), (0, 0, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_curve_is_monotone_and_nan_beyond_n():
    curve = pass_at_k_curve(16, 2, [1, 2, 4, 8, 16, 32])
    assert all(a <= b for a, b in zip(curve[:5], curve[1:5]))
    assert math.isnan(curve[5])
    assert default_k_list(128)[-1] == 128 and default_k_list(12) == [1, 2, 4, 8, 12]


def _result(pid, family, level, scores):
    """scores: list of (pass_rate, all_pass)."""
    samples = [Sample(program="", pass_rate=d, all_pass=b, n_tokens=1, finished=True) for d, b in scores]
    return ProblemResult(pid, family, level, "two_color", samples)


RESULTS = [
    _result("a", "f1", "easy", [(1.0, 1.0), (0.5, 0.0), (0.0, 0.0), (0.0, 0.0)]),
    _result("b", "f1", "hard", [(0.0, 0.0)] * 4),
    _result("c", "f2", "easy", [(0.25, 0.0), (0.0, 0.0), (0.5, 0.0), (0.0, 0.0)]),
    _result("d", "f2", "easy", [(1.0, 1.0)] * 4),
]


def test_problem_table_and_aggregates():
    table = {r["id"]: r for r in problem_table(RESULTS, [1, 2, 4])}
    assert table["a"]["c"] == 1 and table["a"]["pass@1"] == 0.25 and table["a"]["pass@2"] == 0.5
    assert table["b"]["pass@4"] == 0.0 and table["d"]["pass@1"] == 1.0
    assert table["c"]["dense_mean"] == pytest.approx(0.1875) and table["c"]["dense_nonzero"] == 0.5
    rows = {(r["family"], r["k"]): r for r in aggregate_pass_at_k(RESULTS, [1, 4], by=("family",))}
    assert rows[("f1", 1)]["pass_at_k"] == pytest.approx(0.125)
    assert rows[("f1", 4)]["pass_at_k"] == pytest.approx(0.5)
    assert rows[("f2", 4)]["n_problems"] == 2
    for r in rows.values():
        assert r["ci_low"] <= r["pass_at_k"] <= r["ci_high"]
    overall = aggregate_pass_at_k(RESULTS, [1], by=())
    assert overall[0]["pass_at_k"] == pytest.approx((0.25 + 0 + 0 + 1) / 4)


def test_aggregate_skips_k_beyond_a_problems_samples():
    short = RESULTS + [_result("e", "f1", "easy", [(0.0, 0.0)])]
    rows = {(r["family"], r["k"]): r for r in aggregate_pass_at_k(short, [1, 4], by=("family",))}
    assert rows[("f1", 1)]["n_problems"] == 3 and rows[("f1", 4)]["n_problems"] == 2


def test_bootstrap_ci():
    assert bootstrap_ci([0.3]) == (0.3, 0.3)
    lo, hi = bootstrap_ci([0.0, 1.0] * 50, seed=1)
    assert 0.35 < lo < 0.5 < hi < 0.65
    assert bootstrap_ci([0.0, 1.0] * 50, seed=1) == (lo, hi)  # seeded
    assert all(math.isnan(x) for x in bootstrap_ci([]))


def test_hard_subset_and_dense_signal():
    hard = hard_subset(
        RESULTS + [_result("x", "f2", "easy", [(0.25, 0.0), (0.0, 0.0), (0.5, 0.0), (0.0, 0.0)])]
    )
    assert [h["id"] for h in hard] == ["b", "c", "x"]
    summary = {r["family"]: r for r in hard_subset_summary(RESULTS)}
    assert summary["f1"]["hard"] == 1 and summary["f1"]["problems"] == 2 and summary["f1"]["K"] == 4
    dense = {r["family"]: r for r in dense_summary(RESULTS)}
    # f2's hard problem "c" has no passing sample yet passes some tests: a dense signal exists there.
    assert dense["f2"]["hard_problems"] == 1 and dense["f2"]["hard_with_dense_signal"] == 1.0
    assert dense["f1"]["hard_with_dense_signal"] == 0.0
    assert dense["f1"]["binary_mean"] == pytest.approx(1 / 8)
    assert dense["f1"]["dense_mean"] == pytest.approx(1.5 / 8)
    # dicts (as loaded from JSONL) work as well as dataclasses
    as_dicts = [r.to_dict() for r in RESULTS]
    assert hard_subset(as_dicts) == hard_subset(RESULTS)


# --- survivors of the hand mutation run (issue 22) ---------------------------------------------------


def test_bootstrap_ci_width_matches_the_normal_interval_of_the_requested_level():
    # values 0..99: mean 49.5, population sd sqrt((100**2 - 1) / 12) = 28.866, so the mean of a resample
    # of all 100 values has sd 2.8866 and (CLT) the percentile interval is about 49.5 -+ z * 2.8866:
    # 95% (z = 1.960): 49.5 -+ 5.66; 90% (z = 1.645): 49.5 -+ 4.75. A 90% interval reported as 95%, or
    # resampling only half the values (sd x 1.41: -+ 8.0), lands far outside 0.6 of these.
    values = list(range(100))
    lo, hi = bootstrap_ci(values)  # the default level is 95%
    assert lo == pytest.approx(49.5 - 5.66, abs=0.6) and hi == pytest.approx(49.5 + 5.66, abs=0.6)
    lo, hi = bootstrap_ci(values, n_boot=20000, ci=0.95, seed=1)
    assert lo == pytest.approx(49.5 - 5.66, abs=0.3) and hi == pytest.approx(49.5 + 5.66, abs=0.3)
    lo, hi = bootstrap_ci(values, n_boot=20000, ci=0.90, seed=1)
    assert lo == pytest.approx(49.5 - 4.75, abs=0.3) and hi == pytest.approx(49.5 + 4.75, abs=0.3)


# --- survivors of benchmarks/mutation.py: hard subset, group summaries, k list (values by hand) ---------


def test_default_k_list_stops_at_n():
    assert default_k_list(1) == [1]
    assert default_k_list(4) == [1, 2, 4]
    assert default_k_list(5) == [1, 2, 4, 5]
    assert default_k_list(8) == [1, 2, 4, 8]


def test_constant_values_give_a_zero_width_interval_at_exactly_their_value():
    # no resampling noise and no float rounding of a mean: ten 0.1s are exactly (0.1, 0.1)
    assert bootstrap_ci([0.1] * 10) == (0.1, 0.1)
    assert bootstrap_ci([0.7] * 3, ci=0.5) == (0.7, 0.7)


def test_hard_subset_counts_problems_with_samples_and_no_full_pass():
    one_wrong = _result("one", "g", "easy", [(0.5, 0.0)])  # 1 sample, not correct: hard (K = 1)
    one_right = _result("ok1", "g", "easy", [(1.0, 1.0), (0.0, 0.0)])  # c = 1: not hard
    two_right = _result("ok2", "g", "easy", [(1.0, 1.0), (1.0, 1.0), (0.0, 0.0)])  # c = 2: not hard
    unsampled = _result("none", "g", "easy", [])  # nothing measured: not hard
    results = [one_wrong, one_right, two_right, unsampled]
    assert [h["id"] for h in hard_subset(results)] == ["one"]
    [summary] = hard_subset_summary(results[:3])
    assert summary == {"family": "g", "problems": 3, "hard": 1, "hard_fraction": 1 / 3, "K": 1}
    also_wrong = _result("two", "g", "easy", [(0.0, 0.0), (0.25, 0.0)])  # c = 0: hard
    [summary] = hard_subset_summary([one_wrong, two_right, also_wrong])  # no problem with c = 1
    assert summary == {"family": "g", "problems": 3, "hard": 2, "hard_fraction": 2 / 3, "K": 1}


def test_dense_summary_counts_samples_passing_at_least_one_test():
    # samples' pass rates 0, 0.5, 1, 0 (problem p) and 0, 0 (problem q): 2 of 6 pass some test
    results = [_result("p", "h", "easy", [(0.0, 0.0), (0.5, 0.0), (1.0, 1.0), (0.0, 0.0)]),
               _result("q", "h", "easy", [(0.0, 0.0), (0.0, 0.0)])]
    [row] = dense_summary(results)
    assert row["samples"] == 6 and row["dense_nonzero"] == pytest.approx(2 / 6)
    assert row["binary_mean"] == pytest.approx(1 / 6) and row["dense_mean"] == pytest.approx(1.5 / 6)
    assert row["hard_problems"] == 1 and row["hard_with_dense_signal"] == 0.0 and row["hard_dense_mean"] == 0.0
